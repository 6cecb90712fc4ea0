/**
 * The offline API Gateway data plane for one REST API deployment: http://127.0.0.1:<port>/<stage>/<resource>, for its
 * stage and any additional stages of the same deployment (SAM's implicit `Stage`).
 *
 * Per request, in API Gateway's order: stage and resource routing (403 Missing Authentication Token), CORS
 * preflight (SAM's MOCK OPTIONS method, no auth), request size (413), the stage's method throttle (429, one bucket
 * per route shared by all callers), Cognito authorizer (401), API key and usage plan (403), the plan's throttle and
 * quota (429), Lambda proxy integration (502 on a function error or malformed answer,
 * 504 after the integration timeout). Gateway-generated errors carry x-amzn-ErrorType and the DEFAULT_4XX /
 * DEFAULT_5XX response headers. Sources for each behaviour: local/execute-api/README.md.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { BodyTooLargeError, readBody } from '../request-body.ts';
import { LOCAL_ACCOUNT_ID } from '../types.ts';
import type { CorsSpec, KeyGate, LambdaInvoker, Listener, RouteSpec, TokenVerifier } from '../types.ts';
import {
  eventBody,
  eventHeaders,
  eventQuery,
  extendedRequestId,
  mapLambdaResponse,
  requestTime,
  stringClaims,
  traceId,
} from './event.ts';
import { Router } from './router.ts';
import { StageThrottle, type MethodThrottleSpec } from './throttle.ts';

export interface GatewayOptions {
  apiId: string;
  stage: string;
  routes: RouteSpec[];
  /** The Api's Cors, values already unquoted (SAM writes them as '...' literals). */
  cors?: CorsSpec;
  gatewayResponseHeaders?: { DEFAULT_4XX?: Record<string, string>; DEFAULT_5XX?: Record<string, string> };
  invoker: LambdaInvoker;
  gate: KeyGate;
  verifier: TokenVerifier;
  /** One line per request: method, path, status, duration (and why, for gateway errors). Never the API key or the token. Default console.log. */
  log?: (line: string) => void;
  /** Largest request body (API Gateway: 10 MB). */
  maxBodyBytes?: number;
  /** How long to wait for the function (API Gateway REST: 29 s). */
  integrationTimeoutMs?: number;
  /** The stage's MethodSettings throttles (path as in the template or "*", method or "*"), shared by all callers. */
  methodThrottles?: readonly MethodThrottleSpec[];
  /**
   * More stages serving the same deployment, e.g. the `Stage` SAM adds without OpenApiVersion: the same routes,
   * authorizer and API key requirement, but only their own method throttles (none by default), and API keys resolve
   * per stage, so a key whose usage plan covers `stage` alone is refused there (403), as in AWS.
   */
  additionalStages?: readonly { name: string; methodThrottles?: readonly MethodThrottleSpec[] }[];
  /** Milliseconds clock for the method throttle (tests). Default Date.now. */
  clock?: () => number;
}

/** Gateway response types this data plane produces, with AWS's default status, x-amzn-ErrorType and message. */
const RESPONSES = {
  MISSING_AUTHENTICATION_TOKEN: [403, 'MissingAuthenticationTokenException', 'Missing Authentication Token'],
  UNAUTHORIZED: [401, 'UnauthorizedException', 'Unauthorized'],
  EXPIRED: [401, 'UnauthorizedException', 'The incoming token has expired'],
  AUTHORIZER_CONFIGURATION_ERROR: [500, 'AuthorizerConfigurationException', null],
  INVALID_API_KEY: [403, 'ForbiddenException', 'Forbidden'],
  THROTTLED: [429, 'TooManyRequestsException', 'Too Many Requests'],
  QUOTA_EXCEEDED: [429, 'LimitExceededException', 'Limit Exceeded'],
  LAMBDA_PAYLOAD_TOO_LARGE: [413, 'BadRequestException', 'Request Too Long'],
  INTEGRATION_ERROR: [502, 'InternalServerErrorException', 'Internal server error'],
  INTEGRATION_TIMEOUT: [504, 'InternalServerErrorException', 'Endpoint request timed out'],
  INTERNAL: [500, 'InternalServerErrorException', 'Internal server error'],
} as const satisfies Record<string, readonly [number, string, string | null]>;
type ResponseType = keyof typeof RESPONSES;

const TEN_MB = 10 * 1024 * 1024;
/** Lambda's synchronous invocation payload limit. */
const LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024;


interface Ctx {
  start: number;
  requestId: string;
  apigwId: string;
  method: string;
  logPath: string;
  /** Why a gateway error happened, appended to the request's log line. */
  note?: string;
}

function headerValues(req: IncomingMessage, lowerName: string): string[] {
  const out: string[] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === lowerName) out.push(raw[i + 1] as string);
  }
  return out;
}

function sourceIpOf(req: IncomingMessage): string {
  const ip = req.socket.remoteAddress ?? '127.0.0.1';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

export function createGateway(opts: GatewayOptions): { listener: Listener } {
  const router = new Router(opts.routes);
  // Stage name → its own method throttle buckets (AWS keeps MethodSettings per stage).
  const stages = new Map<string, { name: string; throttle: StageThrottle }>();
  for (const stage of [{ name: opts.stage, methodThrottles: opts.methodThrottles }, ...(opts.additionalStages ?? [])]) {
    if (stages.has(stage.name)) throw new Error(`Duplicate stage ${stage.name}`);
    stages.set(stage.name, { name: stage.name, throttle: new StageThrottle(stage.methodThrottles ?? [], opts.clock ?? Date.now) });
  }
  const maxBodyBytes = opts.maxBodyBytes ?? TEN_MB;
  const integrationTimeoutMs = opts.integrationTimeoutMs ?? 29_000;
  const log = opts.log ?? ((line: string) => console.log(line));
  const deploymentId = randomUUID().replace(/-/g, '').slice(0, 6);
  const errorHeaders4xx = { ...(opts.gatewayResponseHeaders?.DEFAULT_4XX ?? {}) };
  const errorHeaders5xx = { ...(opts.gatewayResponseHeaders?.DEFAULT_5XX ?? {}) };
  const cors = opts.cors;
  const preflightHeaders: Record<string, string> = {};
  if (cors) {
    preflightHeaders['Access-Control-Allow-Origin'] = cors.allowOrigin;
    if (cors.allowHeaders) preflightHeaders['Access-Control-Allow-Headers'] = cors.allowHeaders;
    if (cors.allowMethods) preflightHeaders['Access-Control-Allow-Methods'] = cors.allowMethods;
    if (cors.maxAge !== undefined && cors.maxAge !== '') preflightHeaders['Access-Control-Max-Age'] = cors.maxAge;
  }

  function finish(res: ServerResponse, ctx: Ctx, status: number, headers: Record<string, string | string[]>, body: Buffer): void {
    headers['x-amzn-RequestId'] = ctx.requestId;
    headers['x-amz-apigw-id'] = ctx.apigwId;
    const bodiless = status === 204 || status === 304 || status < 200;
    if (!bodiless) headers['Content-Length'] = String(body.length);
    res.writeHead(status, headers);
    res.end(ctx.method === 'HEAD' || bodiless ? undefined : body);
    try {
      const note = ctx.note === undefined ? '' : ` (${ctx.note})`;
      log(`${ctx.method} ${ctx.logPath} ${status} ${(performance.now() - ctx.start).toFixed(1)}ms${note}`);
    } catch {
      // a failing logger must not break the response
    }
  }

  function fail(res: ServerResponse, ctx: Ctx, type: ResponseType, close = false): void {
    const [status, errorType, message] = RESPONSES[type];
    const headers: Record<string, string | string[]> = {
      ...(status >= 500 ? errorHeaders5xx : errorHeaders4xx),
      'Content-Type': 'application/json',
      'x-amzn-ErrorType': errorType,
    };
    if (close) headers.Connection = 'close';
    finish(res, ctx, status, headers, Buffer.from(JSON.stringify({ message })));
  }

  async function handle(req: IncomingMessage, res: ServerResponse, ctx: Ctx): Promise<void> {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    let rawPath = queryAt === -1 ? url : url.slice(0, queryAt);
    const rawQuery = queryAt === -1 ? '' : url.slice(queryAt + 1);
    if (!rawPath.startsWith('/')) {
      // absolute-form request target (http://host/path)
      try {
        rawPath = new URL(rawPath).pathname;
      } catch {
        rawPath = '';
      }
    }
    ctx.logPath = rawPath;

    // The body first: API Gateway receives the whole request (at most 10 MB) before anything else.
    const declared = Number(req.headers['content-length']);
    let body: Buffer;
    try {
      if (Number.isFinite(declared) && declared > maxBodyBytes) throw new BodyTooLargeError(maxBodyBytes);
      body = await readBody(req, { limit: maxBodyBytes, early: true });
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error;
      req.resume(); // discard the rest; the connection is closed after the answer
      res.once('finish', () => {
        if (!req.complete) setTimeout(() => req.socket.destroy(), 1000).unref();
      });
      // Not a gateway response: AWS answers this one in plain text, without x-amzn-ErrorType.
      const text = `HTTP content length exceeded ${maxBodyBytes} bytes.`;
      finish(res, ctx, 413, { 'Content-Type': 'text; charset=utf-8', Connection: 'close' }, Buffer.from(text));
      return;
    }

    const stageEnd = rawPath.indexOf('/', 1);
    const stage = stages.get(stageEnd === -1 ? rawPath.slice(1) : rawPath.slice(1, stageEnd));
    if (stage === undefined) return fail(res, ctx, 'MISSING_AUTHENTICATION_TOKEN');
    const path = stageEnd === -1 || stageEnd === rawPath.length - 1 ? '/' : rawPath.slice(stageEnd);
    const match = router.match(path);
    if (match === undefined) return fail(res, ctx, 'MISSING_AUTHENTICATION_TOKEN');
    const { resource } = match;
    const explicit = resource.methods.get(ctx.method);
    if (explicit === undefined && ctx.method === 'OPTIONS' && cors && resource.methods.size > 0) {
      // SAM's CORS preflight: a MOCK OPTIONS method (ahead of ANY) without authorizer or API key.
      return finish(res, ctx, 200, { ...preflightHeaders, 'Content-Type': 'application/json' }, Buffer.from('{}'));
    }
    const route = explicit ?? resource.methods.get('ANY');
    if (route === undefined) return fail(res, ctx, 'MISSING_AUTHENTICATION_TOKEN');

    // 0. The stage's method throttle: before the authorizer and the key, one bucket per route for every caller.
    if (!stage.throttle.admit(resource.path, route.method)) {
      ctx.note = `stage throttle on ${route.method} ${resource.path}`;
      return fail(res, ctx, 'THROTTLED');
    }

    // 1. Cognito authorizer.
    let claims: Record<string, string> | undefined;
    if (route.authorizer === 'cognito') {
      let token = (req.headers.authorization ?? '').trim();
      if (/^bearer\s/i.test(token)) token = token.slice(7).trim();
      if (token === '') return fail(res, ctx, 'UNAUTHORIZED');
      try {
        claims = stringClaims(await opts.verifier.verify(token));
      } catch (error) {
        const code = (error as { code?: unknown } | null)?.code;
        if (code === 'TOKEN_EXPIRED' || code === 'ERR_JWT_EXPIRED') return fail(res, ctx, 'EXPIRED');
        if (code === 'JWKS_UNAVAILABLE' || code === 'ERR_JWKS_TIMEOUT') {
          ctx.note = `Cognito authorizer could not load the pool's keys: ${(error as Error).message}`;
          return fail(res, ctx, 'AUTHORIZER_CONFIGURATION_ERROR');
        }
        return fail(res, ctx, 'UNAUTHORIZED');
      }
    }

    // 2. API key, its usage plan on this stage, then throttle and quota.
    let apiKey: string | null = null;
    let apiKeyId: string | null = null;
    if (route.apiKeyRequired) {
      const values = headerValues(req, 'x-api-key');
      const value = values[values.length - 1] ?? '';
      if (value === '') return fail(res, ctx, 'INVALID_API_KEY');
      const resolved = opts.gate.resolve(value, opts.apiId, stage.name);
      if (resolved === undefined || !resolved.key.enabled) return fail(res, ctx, 'INVALID_API_KEY');
      const admission = opts.gate.admit(resolved.key.id, resolved.plan);
      if (!admission.ok) return fail(res, ctx, admission.reason === 'quota' ? 'QUOTA_EXCEEDED' : 'THROTTLED');
      apiKey = resolved.key.value;
      apiKeyId = resolved.key.id;
    }

    // 3. Lambda proxy integration.
    const nowMs = Date.now();
    const sourceIp = sourceIpOf(req);
    const trace = traceId(nowMs);
    const { headers, multiValueHeaders } = eventHeaders(req, sourceIp, trace);
    const host = req.headers.host ?? '';
    const event: APIGatewayProxyEvent = {
      resource: resource.path,
      path,
      httpMethod: ctx.method,
      headers,
      multiValueHeaders,
      ...eventQuery(rawQuery),
      pathParameters: match.params,
      stageVariables: null,
      requestContext: {
        resourceId: resource.id,
        resourcePath: resource.path,
        httpMethod: ctx.method,
        extendedRequestId: ctx.apigwId,
        requestTime: requestTime(nowMs),
        path: rawPath,
        accountId: LOCAL_ACCOUNT_ID,
        protocol: `HTTP/${req.httpVersion}`,
        stage: stage.name,
        domainPrefix: host.split('.')[0] ?? '',
        requestTimeEpoch: nowMs,
        requestId: ctx.requestId,
        identity: {
          cognitoIdentityPoolId: null,
          accountId: null,
          cognitoIdentityId: null,
          caller: null,
          sourceIp,
          principalOrgId: null,
          accessKey: null,
          cognitoAuthenticationType: null,
          cognitoAuthenticationProvider: null,
          userArn: null,
          userAgent: req.headers['user-agent'] ?? null,
          user: null,
          apiKey,
          apiKeyId,
          clientCert: null,
        },
        domainName: host,
        deploymentId,
        apiId: opts.apiId,
        authorizer: claims !== undefined ? { claims } : undefined,
      } as APIGatewayProxyEvent['requestContext'],
      ...eventBody(body, req.headers['content-type']),
    };
    if (claims === undefined) delete (event.requestContext as { authorizer?: unknown }).authorizer;
    if (event.body !== null && event.body.length > LAMBDA_PAYLOAD_LIMIT - 512 * 1024) {
      if (Buffer.byteLength(JSON.stringify(event)) > LAMBDA_PAYLOAD_LIMIT) return fail(res, ctx, 'LAMBDA_PAYLOAD_TOO_LARGE');
    }

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), integrationTimeoutMs);
    });
    let outcome: Awaited<ReturnType<LambdaInvoker['invoke']>> | 'timeout';
    try {
      outcome = await Promise.race([opts.invoker.invoke(route.functionName, event), timeout]);
    } catch (error) {
      ctx.note = `invoking ${route.functionName} failed: ${(error as Error).message}`;
      return fail(res, ctx, 'INTEGRATION_ERROR');
    } finally {
      clearTimeout(timer);
    }
    if (outcome === 'timeout') {
      ctx.note = `${route.functionName} did not answer within ${integrationTimeoutMs} ms`;
      return fail(res, ctx, 'INTEGRATION_TIMEOUT');
    }
    if (outcome.error !== undefined) {
      ctx.note = `${route.functionName}: ${outcome.error.errorType}: ${outcome.error.errorMessage}`;
      return fail(res, ctx, 'INTEGRATION_ERROR');
    }
    const mapped = mapLambdaResponse(outcome.payload);
    if (typeof mapped === 'string') {
      ctx.note = `${route.functionName}: Execution failed due to configuration error: Malformed Lambda proxy response: ${mapped}`;
      return fail(res, ctx, 'INTEGRATION_ERROR');
    }
    mapped.headers['X-Amzn-Trace-Id'] = trace;
    finish(res, ctx, mapped.statusCode, mapped.headers, mapped.body);
  }

  const listener: Listener = (req, res) => {
    const ctx: Ctx = {
      start: performance.now(),
      requestId: randomUUID(),
      apigwId: extendedRequestId(),
      method: (req.method ?? 'GET').toUpperCase(),
      logPath: '',
    };
    handle(req, res, ctx).catch((error: unknown) => {
      ctx.note = error instanceof Error ? error.message : String(error);
      if (!res.headersSent) {
        try {
          fail(res, ctx, 'INTERNAL', true);
          return;
        } catch {
          // fall through to destroying the socket
        }
      }
      try {
        log(`${ctx.method} ${ctx.logPath} aborted (${ctx.note})`);
      } catch {
        // ignore
      }
      res.destroy();
    });
  };
  return { listener };
}
