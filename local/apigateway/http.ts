import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyTooLargeError, readBody, RequestAbortedError } from '../request-body.ts';
import type { Listener } from '../types.ts';
import { ApiGatewayError, ERROR_STATUS, badRequest } from './errors.ts';
import type { FaultHook } from './faults.ts';
import { newRequestId } from '../ids.ts';
import { ManagementApiLimiter, type ManagementApiLimits } from './limits.ts';
import { buildRoutes, match, type Result, type Route } from './routes.ts';
import type { ApiGatewayStore } from './store.ts';

export interface ListenerOptions {
  store: ApiGatewayStore;
  log?: (line: string) => void;
  /** The management API's limits (AWS_MANAGEMENT_API_LIMITS by default: 10/s burst 40 for all, CreateApiKey and DeleteApiKey 5/s). */
  limits?: ManagementApiLimits;
  /** Clock of the limits' token buckets, in ms (default: performance.now). */
  clock?: () => number;
  faults?: FaultHook;
  /** Largest request body accepted, in bytes (default 1 MiB). */
  maxBodyBytes?: number;
}

/**
 * API Gateway's control plane (API keys, usage plans, usage plan keys, usage, tags) over its REST-JSON protocol, as
 * `@aws-sdk/client-api-gateway` and `aws apigateway` send it. Signatures are not checked.
 */
export function createControlPlaneListener(opts: ListenerOptions): Listener {
  const { store } = opts;
  const log = opts.log ?? (() => undefined);
  const limiter = new ManagementApiLimiter(opts.limits, opts.clock);
  const maxBodyBytes = opts.maxBodyBytes ?? 1024 * 1024;
  const routes = buildRoutes(store);

  return (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    const requestId = newRequestId();
    const method = req.method ?? 'GET';
    let path = '/';
    let operation = '-';
    const finish = (result: Result | ApiGatewayError): void => {
      try {
        if (result instanceof ApiGatewayError) sendError(res, requestId, result);
        else sendResult(res, requestId, result);
      } catch (err) {
        log(`failed to answer ${method} ${path}: ${(err as Error).message}`);
        if (!res.headersSent) res.statusCode = 500;
        res.end();
      }
      log(`${method} ${path} ${result.status} ${operation} ${Math.round(performance.now() - started)}ms`);
    };

    res.on('error', () => undefined);
    req.on('error', () => undefined);

    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
      path = url.pathname;
    } catch {
      drain(req);
      finish(badRequest('Invalid request URL'));
      return;
    }

    let matched: { route: Route; params: string[] } | ApiGatewayError;
    try {
      matched = match(routes, method, url.pathname);
    } catch (err) {
      matched = toApiGatewayError(err);
    }
    if (matched instanceof ApiGatewayError) {
      drain(req);
      finish(matched);
      return;
    }
    const { route, params } = matched;
    operation = route.operation;

    readBody(req, { limit: maxBodyBytes })
      .then(
        (buffer) => buffer.toString('utf8'),
        (error: unknown) => {
          if (error instanceof BodyTooLargeError) throw badRequest(`Request body exceeds ${maxBodyBytes} bytes`);
          throw error instanceof RequestAbortedError ? badRequest('Request aborted') : error;
        },
      )
      .then((raw) => {
        let result: Result | ApiGatewayError;
        try {
          const fault = opts.faults?.next(route.operation);
          if (fault) throw injected(fault);
          const admission = limiter.admit(route.operation);
          if (!admission.ok) {
            throw new ApiGatewayError('TooManyRequestsException', 'Too Many Requests', { retryAfterSeconds: admission.retryAfterSeconds });
          }
          const body = route.hasBody ? parseJsonObject(raw) : {};
          result = route.run({ params, query: url.searchParams, body });
        } catch (err) {
          result = toApiGatewayError(err);
          if (result.status >= 500) log(`${operation} failed: ${(err as Error).stack ?? String(err)}`);
        }
        // Acknowledged means saved: a write is answered 2xx only once it is on disk (a crash right after loses nothing).
        if (method !== 'GET' && !(result instanceof ApiGatewayError)) {
          const answer = result;
          store.commit().then(
            () => finish(answer),
            (err: unknown) => {
              log(`${operation} could not be saved: ${(err as Error).message}`);
              finish(new ApiGatewayError('InternalFailure', 'The change could not be saved; it may or may not have been applied', { status: 500 }));
            },
          );
          return;
        }
        finish(result);
      })
      .catch((err: unknown) => finish(toApiGatewayError(err)));
  };
}

// ------------------------------------------------------------------ HTTP plumbing

function drain(req: IncomingMessage): void {
  req.resume();
}

function parseJsonObject(raw: string): Record<string, unknown> {
  if (raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw badRequest(`Could not parse request body into json: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('Could not parse request body into json: expected a JSON object');
  }
  return parsed as Record<string, unknown>;
}

function injected(errorName: string): ApiGatewayError {
  const retryAfter = ERROR_STATUS[errorName] === 429 || errorName === 'ServiceUnavailableException' ? 1 : undefined;
  return new ApiGatewayError(errorName, `${errorName} (injected fault)`, {
    status: ERROR_STATUS[errorName] ?? 400,
    retryAfterSeconds: retryAfter,
  });
}

function toApiGatewayError(err: unknown): ApiGatewayError {
  if (err instanceof ApiGatewayError) return err;
  return new ApiGatewayError('InternalFailure', 'Internal server error in the offline API Gateway control plane', { status: 500 });
}

function baseHeaders(requestId: string): Record<string, string> {
  return { 'x-amzn-RequestId': requestId };
}

function sendResult(res: ServerResponse, requestId: string, result: Result): void {
  const headers = baseHeaders(requestId);
  if (result.body === undefined) {
    res.writeHead(result.status, { ...headers, 'Content-Length': '0' });
    res.end();
    return;
  }
  const payload = JSON.stringify(result.body);
  res.writeHead(result.status, {
    ...headers,
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(payload)),
  });
  res.end(payload);
}

function sendError(res: ServerResponse, requestId: string, err: ApiGatewayError): void {
  const payload = JSON.stringify({ message: err.message });
  const headers: Record<string, string> = {
    ...baseHeaders(requestId),
    'x-amzn-ErrorType': err.code,
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(payload)),
  };
  if (err.retryAfterSeconds !== undefined) headers['Retry-After'] = String(err.retryAfterSeconds);
  res.writeHead(err.status, headers);
  res.end(payload);
}
