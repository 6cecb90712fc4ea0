/**
 * Builds the Lambda proxy integration input (REST API, payload format 1.0) and maps the function's answer back,
 * following what API Gateway does (sources in local/execute-api/README.md).
 */
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { validateHeaderName, validateHeaderValue } from 'node:http';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** `Sun Dec 17 07:28:12 UTC 2017`: how the Cognito authorizer renders `exp` and `iat` (Java's Date#toString). */
export function javaDate(epochSeconds: number): string {
  const d = new Date(epochSeconds * 1000);
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes(),
  )}:${pad(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}

/** `17/Dec/2017:07:28:12 +0000` (requestContext.requestTime). */
export function requestTime(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes(),
  )}:${pad(d.getUTCSeconds())} +0000`;
}

const claimStrings = new WeakMap<object, Record<string, string>>();

/**
 * requestContext.authorizer.claims: the REST API's Cognito authorizer passes every claim as a string — numbers and
 * booleans as text, `exp`/`iat` as dates, arrays (cognito:groups) comma-joined. Memoised per claims object, which
 * the verifier's cache hands out again for the same token.
 */
export function stringClaims(claims: Record<string, unknown>): Record<string, string> {
  const memo = claimStrings.get(claims);
  if (memo !== undefined) return memo;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(claims)) {
    if (value === null || value === undefined) continue;
    if ((name === 'exp' || name === 'iat') && typeof value === 'number') out[name] = javaDate(value);
    else if (typeof value === 'string') out[name] = value;
    else if (Array.isArray(value)) out[name] = value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(',');
    else if (typeof value === 'object') out[name] = JSON.stringify(value);
    else out[name] = String(value);
  }
  claimStrings.set(claims, out);
  return out;
}

/** Request headers API Gateway never forwards to an integration. */
const DROPPED_REQUEST_HEADERS = new Set([
  'connection',
  'content-length',
  'content-md5',
  'expect',
  'max-forwards',
  'proxy-authenticate',
  'server',
  'te',
  'transfer-encoding',
  'trailer',
  'upgrade',
  'www-authenticate',
  'keep-alive',
]);

export interface EventHeaders {
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
}

/**
 * Sets an own, enumerable property, also for `__proto__`: header and query names are the caller's, and a plain
 * assignment of `__proto__` would replace the object's prototype (or, for a string, be dropped) instead of adding a
 * field — the header would vanish from the event. Found by tests/abuse/fuzz.test.ts.
 */
function setOwn<T>(target: Record<string, T>, key: string, value: T): void {
  // Only `__proto__` has a setter on Object.prototype; every other name assigns an own property, faster.
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** Header names keep the caller's casing (Authorization and User-Agent are capitalised, as CloudFront does). */
export function eventHeaders(req: IncomingMessage, sourceIp: string, traceId: string): EventHeaders {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  const names = new Map<string, string>();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    let name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (DROPPED_REQUEST_HEADERS.has(lower)) continue;
    if (lower === 'authorization') name = 'Authorization';
    else if (lower === 'user-agent') name = 'User-Agent';
    const known = names.get(lower);
    if (known === undefined) {
      names.set(lower, name);
      setOwn(headers, name, value);
      setOwn(multiValueHeaders, name, [value]);
    } else {
      setOwn(headers, known, value); // the last value wins in `headers`
      (multiValueHeaders[known] as string[]).push(value);
    }
  }
  const set = (name: string, value: string): void => {
    const known = names.get(name.toLowerCase());
    if (known !== undefined) {
      setOwn(headers, known, value);
      setOwn(multiValueHeaders, known, [value]);
    } else {
      names.set(name.toLowerCase(), name);
      setOwn(headers, name, value);
      setOwn(multiValueHeaders, name, [value]);
    }
  };
  const forwarded = names.get('x-forwarded-for');
  set('X-Forwarded-For', forwarded !== undefined ? `${headers[forwarded]}, ${sourceIp}` : sourceIp);
  set('X-Forwarded-Port', String(req.socket.localPort ?? ''));
  set('X-Forwarded-Proto', 'http');
  if (!names.has('x-amzn-trace-id')) set('X-Amzn-Trace-Id', traceId);
  return { headers, multiValueHeaders };
}

/**
 * Query string → single (last value wins) and multi-value maps, both null when there is none; `+` is a space.
 * Collected in a Map: a parameter named `__proto__`, `constructor` or `hasOwnProperty` is a parameter like any other
 * (reading `multi[name]` on a plain object found Object.prototype's members and failed the request with a 500).
 */
export function eventQuery(rawQuery: string): {
  queryStringParameters: Record<string, string> | null;
  multiValueQueryStringParameters: Record<string, string[]> | null;
} {
  if (rawQuery === '') return { queryStringParameters: null, multiValueQueryStringParameters: null };
  const params = new Map<string, string[]>();
  // URLSearchParams never throws: a malformed %-escape stays as written.
  for (const [name, value] of new URLSearchParams(rawQuery)) {
    if (name === '') continue;
    const list = params.get(name);
    if (list === undefined) params.set(name, [value]);
    else list.push(value);
  }
  if (params.size === 0) return { queryStringParameters: null, multiValueQueryStringParameters: null };
  const single: Record<string, string> = {};
  const multi: Record<string, string[]> = {};
  for (const [name, values] of params) {
    setOwn(single, name, values[values.length - 1] as string);
    setOwn(multi, name, values);
  }
  return { queryStringParameters: single, multiValueQueryStringParameters: multi };
}

const BINARY_TYPES = /^(application\/(octet-stream|zip|gzip|x-gzip|pdf|x-tar|protobuf|x-protobuf)|image\/|audio\/|video\/|font\/)/i;

/** The body as the event carries it: null when empty, UTF-8 text, or base64 when binary / not valid UTF-8. */
export function eventBody(body: Buffer, contentType: string | undefined): { body: string | null; isBase64Encoded: boolean } {
  if (body.length === 0) return { body: null, isBase64Encoded: false };
  if ((contentType !== undefined && BINARY_TYPES.test(contentType)) || !isUtf8(body)) {
    return { body: body.toString('base64'), isBase64Encoded: true };
  }
  return { body: body.toString('utf8'), isBase64Encoded: false };
}

/** Random bytes drawn from one pool refilled 4 KiB at a time: one call into OpenSSL per ~180 requests, not two per request. */
const RANDOM_POOL_BYTES = 4096;
let randomPool = Buffer.alloc(0);
let randomOffset = 0;
function random(bytes: number): Buffer {
  if (randomOffset + bytes > randomPool.length) {
    randomPool = randomBytes(RANDOM_POOL_BYTES);
    randomOffset = 0;
  }
  randomOffset += bytes;
  return randomPool.subarray(randomOffset - bytes, randomOffset);
}

/** X-Amzn-Trace-Id root in X-Ray's format. */
export function traceId(nowMs: number): string {
  return `Root=1-${Math.floor(nowMs / 1000).toString(16)}-${random(12).toString('hex')}`;
}

/** `x-amz-apigw-id` / extendedRequestId: 16 characters, e.g. `FiV9AHvHoAMFtsg=`. */
export function extendedRequestId(): string {
  return `${random(11).toString('base64url')}=`;
}

/** Response headers API Gateway renames for proxy integrations (x-amzn-Remapped-<name>) or drops. */
const REMAPPED_RESPONSE_HEADERS = new Set(['connection', 'content-length', 'date', 'server']);
const DROPPED_RESPONSE_HEADERS = new Set(['transfer-encoding']);
const RESPONSE_KEYS = new Set(['statusCode', 'headers', 'multiValueHeaders', 'body', 'isBase64Encoded']);

export interface MappedResponse {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

function headerValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return undefined;
}

/**
 * Maps the function's return value to the HTTP response, or returns a reason when API Gateway would call it a
 * "Malformed Lambda proxy response" (502): not an object, keys other than the five allowed, a statusCode that is
 * not an integer, header values that are not strings or booleans, a body that is not a string.
 */
export function mapLambdaResponse(payload: unknown): MappedResponse | string {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return 'response is not a JSON object';
  const response = payload as Record<string, unknown>;
  for (const key of Object.keys(response)) {
    if (!RESPONSE_KEYS.has(key)) return `unexpected field "${key}"`;
  }
  let statusCode = 200;
  if (response.statusCode !== undefined && response.statusCode !== null) {
    const parsed = typeof response.statusCode === 'string' ? Number(response.statusCode) : response.statusCode;
    if (typeof parsed !== 'number' || !Number.isInteger(parsed) || parsed < 200 || parsed > 599) {
      return 'statusCode is not a valid HTTP status';
    }
    statusCode = parsed;
  }
  const body = response.body;
  if (body !== undefined && body !== null && typeof body !== 'string') return 'body is not a string';
  const isBase64 = response.isBase64Encoded;
  if (isBase64 !== undefined && isBase64 !== null && typeof isBase64 !== 'boolean') return 'isBase64Encoded is not a boolean';

  const merged = new Map<string, { name: string; values: string[] }>();
  const single = response.headers;
  if (single !== undefined && single !== null) {
    if (typeof single !== 'object' || Array.isArray(single)) return 'headers is not an object';
    for (const [name, value] of Object.entries(single)) {
      const text = headerValue(value);
      if (text === undefined) return `header "${name}" is not a string`;
      merged.set(name.toLowerCase(), { name, values: [text] });
    }
  }
  const multi = response.multiValueHeaders;
  if (multi !== undefined && multi !== null) {
    if (typeof multi !== 'object' || Array.isArray(multi)) return 'multiValueHeaders is not an object';
    // Where both name a header, AWS merges them into one list; a value given in both appears once.
    for (const [name, values] of Object.entries(multi)) {
      if (!Array.isArray(values)) return `multiValueHeaders "${name}" is not a list`;
      const texts: string[] = [];
      for (const value of values) {
        const text = headerValue(value);
        if (text === undefined) return `multiValueHeaders "${name}" holds a non-string`;
        texts.push(text);
      }
      const fromHeaders = merged.get(name.toLowerCase());
      for (const value of fromHeaders?.values ?? []) if (!texts.includes(value)) texts.push(value);
      merged.set(name.toLowerCase(), { name, values: texts });
    }
  }
  const headers: Record<string, string | string[]> = {};
  let hasContentType = false;
  for (const [lower, { name, values }] of merged) {
    if (DROPPED_RESPONSE_HEADERS.has(lower) || values.length === 0) continue;
    const outName = REMAPPED_RESPONSE_HEADERS.has(lower) ? `x-amzn-Remapped-${name}` : name;
    try {
      validateHeaderName(outName);
      for (const value of values) validateHeaderValue(outName, value);
    } catch {
      return `header "${name}" has an invalid name or value`;
    }
    if (lower === 'content-type') hasContentType = true;
    headers[outName] = values.length === 1 ? (values[0] as string) : values;
  }
  if (!hasContentType) headers['Content-Type'] = 'application/json';
  const text = typeof body === 'string' ? body : '';
  return { statusCode, headers, body: isBase64 === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8') };
}
