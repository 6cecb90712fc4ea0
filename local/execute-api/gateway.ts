/**
 * The offline API Gateway data plane (execute-api) for one REST API deployment:
 * http://127.0.0.1:<port>/<stage>/<resource>, for its stage and any additional stages of the same deployment (SAM's
 * implicit `Stage`).
 *
 * A request runs through a chain of steps, one file each under ./handlers, in API Gateway's order (LocalStack's
 * next_gen execute_api handler chain is the model): the body (413), routing and CORS preflight (403 Missing
 * Authentication Token), the stage's method throttle (429), the Cognito authorizer (401), the API key (403), the
 * usage plan's throttle and quota (429), the integration request (413) and the Lambda proxy integration (502, 504).
 * A step answers by returning a Reply or throwing a GatewayResponseError (./responses.ts), which carries
 * x-amzn-ErrorType and the DEFAULT_4XX / DEFAULT_5XX response headers. Sources for each behaviour: README.md.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { CorsSpec, KeyGate, LambdaInvoker, Listener, RouteSpec, TokenVerifier } from '../types.ts';
import type { Deployment, Invocation, Step } from './context.ts';
import { extendedRequestId } from './event.ts';
import { validateApiKey } from './handlers/api-key.ts';
import { authorizeCognito } from './handlers/authorizer.ts';
import { authorizeLambda } from './handlers/lambda-authorizer.ts';
import { invokeIntegration } from './handlers/integration.ts';
import { buildProxyEvent } from './handlers/integration-request.ts';
import { methodThrottle } from './handlers/method-throttle.ts';
import { readRequestBody } from './handlers/request-body.ts';
import { routeRequest } from './handlers/route.ts';
import { usagePlanLimits } from './handlers/usage-plan.ts';
import { GatewayResponseError, RESPONSES, type Reply, type ResponseType } from './responses.ts';
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
  /** The API's ApiKeySourceType: HEADER (default, `x-api-key`) or AUTHORIZER (the Lambda authorizer's usageIdentifierKey). */
  apiKeySource?: 'HEADER' | 'AUTHORIZER';
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
  /** Milliseconds clock for the method throttle and the Lambda authorizer cache's TTL (tests). Default Date.now. */
  clock?: () => number;
  /** Called once per answered request with its timings (the bench's split of the request path). */
  onAccessLog?: (entry: AccessLogEntry) => void;
}

/**
 * One answered request, named after API Gateway's access log variables ($context.status, $context.responseLatency,
 * $context.integrationLatency: "Variables for access logging for API Gateway",
 * docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-variables-for-access-logging.html), in
 * milliseconds with fractions; plus what the offline Lambda service reports for the proxy integration's function:
 * its handler's run time (Lambda's REPORT `Duration`) and how long it waited for an execution environment.
 */
export interface AccessLogEntry {
  httpMethod: string;
  /** The route's resource path (`/links/{id}`), or the raw path when no route matched. */
  resourcePath: string;
  status: number;
  responseLatency: number;
  integrationLatency?: number;
  functionDuration?: number;
  functionQueue?: number;
}

/** The chain, in API Gateway's order. */
export const STEPS: readonly Step[] = [
  readRequestBody,
  routeRequest,
  methodThrottle,
  authorizeCognito,
  authorizeLambda,
  validateApiKey,
  usagePlanLimits,
  buildProxyEvent,
  invokeIntegration,
];

const TEN_MB = 10 * 1024 * 1024;
/** The body of a request that has none (zero-length: nothing can write into it). */
const NO_BODY = Buffer.alloc(0);

/** The request path as sent (an absolute-form target, http://host/path, gives its path) and the query string. */
function splitTarget(url: string): { rawPath: string; rawQuery: string } {
  const queryAt = url.indexOf('?');
  let rawPath = queryAt === -1 ? url : url.slice(0, queryAt);
  const rawQuery = queryAt === -1 ? '' : url.slice(queryAt + 1);
  if (!rawPath.startsWith('/')) {
    try {
      rawPath = new URL(rawPath).pathname;
    } catch {
      rawPath = '';
    }
  }
  return { rawPath, rawQuery };
}

export function createGateway(opts: GatewayOptions): { listener: Listener } {
  const stages: Deployment['stages'] = new Map();
  for (const stage of [{ name: opts.stage, methodThrottles: opts.methodThrottles }, ...(opts.additionalStages ?? [])]) {
    if (stages.has(stage.name)) throw new Error(`Duplicate stage ${stage.name}`);
    stages.set(stage.name, { name: stage.name, throttle: new StageThrottle(stage.methodThrottles ?? [], opts.clock ?? Date.now) });
  }
  const cors = opts.cors;
  const preflightHeaders: Record<string, string> = {};
  if (cors) {
    preflightHeaders['Access-Control-Allow-Origin'] = cors.allowOrigin;
    if (cors.allowHeaders) preflightHeaders['Access-Control-Allow-Headers'] = cors.allowHeaders;
    if (cors.allowMethods) preflightHeaders['Access-Control-Allow-Methods'] = cors.allowMethods;
    if (cors.maxAge !== undefined && cors.maxAge !== '') preflightHeaders['Access-Control-Max-Age'] = cors.maxAge;
  }
  const deployment: Deployment = {
    apiId: opts.apiId,
    deploymentId: randomUUID().replace(/-/g, '').slice(0, 6),
    router: new Router(opts.routes),
    stages,
    ...(cors ? { cors } : {}),
    preflightHeaders,
    invoker: opts.invoker,
    gate: opts.gate,
    verifier: opts.verifier,
    apiKeySource: opts.apiKeySource ?? 'HEADER',
    authorizerCache: new Map(),
    clock: opts.clock ?? Date.now,
    maxBodyBytes: opts.maxBodyBytes ?? TEN_MB,
    integrationTimeoutMs: opts.integrationTimeoutMs ?? 29_000,
  };
  const log = opts.log ?? ((line: string) => console.log(line));
  const onAccessLog = opts.onAccessLog;
  const errorHeaders4xx = { ...(opts.gatewayResponseHeaders?.DEFAULT_4XX ?? {}) };
  const errorHeaders5xx = { ...(opts.gatewayResponseHeaders?.DEFAULT_5XX ?? {}) };

  function finish(res: ServerResponse, inv: Invocation, start: number, reply: Reply): void {
    const { status, headers, body } = reply;
    headers['x-amzn-RequestId'] = inv.requestId;
    headers['x-amz-apigw-id'] = inv.apigwId;
    const bodiless = status === 204 || status === 304 || status < 200;
    if (!bodiless) headers['Content-Length'] = String(body.length);
    if (reply.drain) {
      res.once('finish', () => {
        if (!inv.req.complete) setTimeout(() => inv.req.socket.destroy(), 1000).unref();
      });
    }
    res.writeHead(status, headers);
    res.end(inv.method === 'HEAD' || bodiless ? undefined : body);
    if (onAccessLog) {
      onAccessLog({
        httpMethod: inv.method,
        resourcePath: inv.match?.resource.path ?? inv.rawPath,
        status,
        responseLatency: performance.now() - start,
        ...(inv.integrationLatency !== undefined ? { integrationLatency: inv.integrationLatency } : {}),
        ...(inv.functionDuration !== undefined ? { functionDuration: inv.functionDuration } : {}),
        ...(inv.functionQueue !== undefined ? { functionQueue: inv.functionQueue } : {}),
      });
    }
    try {
      const note = inv.note === undefined ? '' : ` (${inv.note})`;
      log(`${inv.method} ${inv.rawPath} ${status} ${(performance.now() - start).toFixed(1)}ms${note}`);
    } catch {
      // a failing logger must not break the response
    }
  }

  function gatewayResponse(type: ResponseType, close = false): Reply {
    const [status, errorType, message] = RESPONSES[type];
    const headers: Record<string, string | string[]> = {
      ...(status >= 500 ? errorHeaders5xx : errorHeaders4xx),
      'Content-Type': 'application/json',
      'x-amzn-ErrorType': errorType,
    };
    if (close) headers.Connection = 'close';
    return { status, headers, body: Buffer.from(JSON.stringify({ message })) };
  }

  /** Runs the steps until one answers; a GatewayResponseError becomes its gateway response. */
  async function run(inv: Invocation): Promise<Reply> {
    try {
      for (const step of STEPS) {
        // Most steps answer synchronously: awaiting only a promise saves a microtask turn per step.
        const pending = step(inv, deployment);
        const reply = pending instanceof Promise ? await pending : pending;
        if (reply !== undefined) return reply;
      }
      throw new Error('no step answered the request');
    } catch (error) {
      if (!(error instanceof GatewayResponseError)) throw error;
      if (error.note !== undefined) inv.note = error.note;
      return gatewayResponse(error.type);
    }
  }

  const listener: Listener = (req, res) => {
    const start = performance.now();
    const inv: Invocation = {
      req,
      method: (req.method ?? 'GET').toUpperCase(),
      requestId: randomUUID(),
      apigwId: extendedRequestId(),
      ...splitTarget(req.url ?? '/'),
      body: NO_BODY,
      apiKey: null,
      apiKeyId: null,
    };
    run(inv)
      .then((reply) => finish(res, inv, start, reply))
      .catch((error: unknown) => {
        inv.note = error instanceof Error ? error.message : String(error);
        if (!res.headersSent) {
          try {
            finish(res, inv, start, gatewayResponse('INTERNAL', true));
            return;
          } catch {
            // fall through to destroying the socket
          }
        }
        try {
          log(`${inv.method} ${inv.rawPath} aborted (${inv.note})`);
        } catch {
          // ignore
        }
        res.destroy();
      });
  };
  return { listener };
}
