/**
 * Helpers for the abuse suites: a raw HTTP client (node:http, so paths, methods and bodies go out exactly as written,
 * which fetch would normalise), the checks every answer must pass, onboarded users with their tokens and keys, and
 * JWTs signed with cognito-local's fixed private key (for expired-but-otherwise-valid tokens).
 */
import { GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { createPrivateKey, sign, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { signIn, signUpAndOnboard, uniqueEmail, type TestStack } from '../../local/harness/stack.ts';

export interface RawRequest {
  method: string;
  /** Request target as sent: `/v1/links?limit=3`, not normalised, not re-encoded. */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

const agent = new Agent({ keepAlive: true, maxSockets: 8 });

/**
 * One request over node:http; rejects when no complete answer arrives within `timeoutMs`. A request sent on a reused
 * keep-alive socket that the server closed meanwhile (ECONNRESET; a race that widens under load) is sent once more on a
 * fresh one, as Node's documentation advises (https://nodejs.org/api/http.html#requestreusedsocket): the server never
 * saw it.
 */
export async function rawRequest(baseUrl: string, req: RawRequest, timeoutMs = 15_000): Promise<RawResponse> {
  try {
    return await rawRequestOnce(baseUrl, req, timeoutMs);
  } catch (error: unknown) {
    if ((error as { reusedSocket?: boolean }).reusedSocket !== true) throw error;
    return rawRequestOnce(baseUrl, req, timeoutMs);
  }
}

function rawRequestOnce(baseUrl: string, req: RawRequest, timeoutMs: number): Promise<RawResponse> {
  const base = new URL(baseUrl);
  // node:http sends no Content-Length for a GET/DELETE/HEAD/OPTIONS body (it would arrive as the next request): set it.
  const headers = req.body !== undefined && req.body.length > 0 ? { ...req.headers, 'Content-Length': String(req.body.length) } : req.headers;
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: base.hostname, port: base.port, method: req.method, path: req.path, headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    outgoing.setTimeout(timeoutMs, () => outgoing.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    outgoing.on('error', (error: NodeJS.ErrnoException) =>
      reject(outgoing.reusedSocket && error.code === 'ECONNRESET' ? Object.assign(error, { reusedSocket: true }) : error),
    );
    outgoing.end(req.body);
  });
}

export function closeAgent(): void {
  agent.destroy();
}

/** Statuses a client may cause: successes and the 4xx answers the gateway and the handlers give. Never a 5xx. */
export const CLIENT_STATUSES = new Set([200, 201, 202, 204, 400, 401, 403, 404, 409, 413, 429]);

/** What a stack trace or an internal detail looks like in a response. */
const LEAKS: [string, RegExp][] = [
  ['stack frame', /\bat (?:async )?[\w$.<>[\] ]*\(?(?:file:\/\/|node:|\/)[^\s)]*:\d+:\d+\)?/],
  ['stack frame', /\n\s+at /],
  ['file path', /(?:\/work\/|\/tmp\/|\/home\/|node_modules|\/var\/task|\/opt\/nodejs)/],
  ['source file', /\b[\w-]+\.(?:[cm]?[jt]s|cjs):\d+/],
  ['error trace', /\b(?:[A-Z]\w*)?Error: /],
  ['exception name', /\b(?:TypeError|RangeError|ReferenceError|SyntaxError|ERR_[A-Z_]+|ECONN\w+)\b/],
];

/** Every string inside a parsed JSON value (keys too), depth-first. */
function strings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const item of value) strings(item, out);
  else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      out.push(key);
      strings(item, out);
    }
  }
  return out;
}

/**
 * Problems with one answer, or an empty list: a 5xx or an unexpected status, a 4xx that is not a JSON object with a
 * `message`, a success that is not JSON, or anything resembling a stack trace or a server path in the body. A marker
 * the request itself carried (an echoed field name, say) is not held against the answer.
 */
export function answerProblems(req: RawRequest, res: RawResponse): string[] {
  const problems: string[] = [];
  if (!CLIENT_STATUSES.has(res.status)) problems.push(`status ${res.status}`);
  const text = res.body.toString('utf8');
  const bodiless = req.method === 'HEAD' || res.status === 204;
  if (bodiless && res.body.length > 0) problems.push('a body on a bodiless answer');
  let parsed: unknown;
  if (!bodiless) {
    try {
      parsed = JSON.parse(text);
    } catch {
      problems.push(`body is not JSON (content-type ${String(res.headers['content-type'])})`);
    }
    if (parsed !== undefined && !String(res.headers['content-type'] ?? '').startsWith('application/json')) {
      problems.push(`content-type ${String(res.headers['content-type'])}`);
    }
    if (res.status >= 400 && parsed !== undefined) {
      const message = (parsed as { message?: unknown } | null)?.message;
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || typeof message !== 'string' || message === '') {
        problems.push('a 4xx without a JSON {"message": "..."}');
      }
    }
  }
  const sent = `${req.path}\n${JSON.stringify(req.headers)}\n${req.body?.toString('utf8') ?? ''}\n${req.body?.toString('latin1') ?? ''}`;
  const candidates = parsed === undefined ? [text] : strings(parsed);
  for (const candidate of candidates) {
    for (const [what, pattern] of LEAKS) {
      const hit = pattern.exec(candidate);
      if (hit && !sent.includes(hit[0])) problems.push(`${what} in the body: ${JSON.stringify(hit[0])}`);
    }
  }
  return problems;
}

/** A gateway answer: status, parsed JSON body, and `x-amzn-ErrorType` (set on the gateway's own errors only). */
export interface Answer {
  status: number;
  body: Record<string, unknown>;
  errorType: string | null;
}

/** One call to the API with fetch: the ID token in Authorization and the key in x-api-key when given. */
export async function call(
  t: TestStack,
  path: string,
  opts: { token?: string; key?: string; method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.Authorization = opts.token;
  if (opts.key !== undefined) headers['x-api-key'] = opts.key;
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${t.stack.apiUrl}${path}`, {
    method: opts.method ?? 'GET',
    headers,
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, errorType: response.headers.get('x-amzn-errortype') };
}

export interface User {
  email: string;
  userId: string;
  keyId: string;
  key: string;
  idToken: string;
  accessToken: string;
}

export async function keyValue(t: TestStack, keyId: string): Promise<string> {
  const key = await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: keyId, includeValue: true }));
  if (!key.value) throw new Error(`key ${keyId} has no value`);
  return key.value;
}

/** Sign up, confirm, wait for onboarding, sign in: a customer with an ACTIVE account, its key and tokens. */
export async function onboardedUser(t: TestStack, prefix: string): Promise<User> {
  const email = uniqueEmail(prefix);
  const { userId, execution } = await signUpAndOnboard(t, email);
  if (execution.status !== 'SUCCEEDED') throw new Error(`onboarding of ${email} ended ${execution.status}: ${execution.cause}`);
  const keyId = (JSON.parse(execution.output ?? '{}') as { apiKeyId?: string }).apiKeyId;
  if (!keyId) throw new Error(`onboarding of ${email} gave no key`);
  const { idToken, accessToken } = await signIn(t, email);
  return { email, userId, keyId, key: await keyValue(t, keyId), idToken, accessToken };
}

/** cognito-local's key pair ships in its package (lib/keys): `jwk` and `pem` of each half. */
export function cognitoLocalKey(half: 'private' | 'public'): { jwk: JsonWebKey; pem: string } {
  return JSON.parse(readFileSync(require.resolve(`cognito-local/lib/keys/cognitoLocal.${half}.json`), 'utf8')) as { jwk: JsonWebKey; pem: string };
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A JWT signed RS256 with cognito-local's own private key (kid CognitoLocal): valid in every way the claims are. */
export function mintToken(claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'RS256', typ: 'JWT', kid: 'CognitoLocal' }): string {
  const input = `${b64url(header)}.${b64url(claims)}`;
  const signature = sign('sha256', Buffer.from(input), createPrivateKey({ key: cognitoLocalKey('private').jwk, format: 'jwk' }));
  return `${input}.${signature.toString('base64url')}`;
}

export function decodeSegment(token: string, index: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[index] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}
