/**
 * The authorizing front of each offline service: a request signed by a function's or state machine's access key is
 * read, mapped to the IAM permissions it needs (./operations.ts) and checked against that principal's role
 * (./authorizer.ts); allowed, it is handed to the service unchanged (the body replayed); denied, it gets the service's
 * own AccessDenied answer. Requests from any other caller go straight through, untouched.
 *
 * AccessDenied on the wire (AWS "Common Errors": AccessDeniedException, HTTP 400 for JSON-protocol services; the
 * REST services answer 403 with `x-amzn-ErrorType: AccessDeniedException`):
 *
 * | service | status | body |
 * |---|---|---|
 * | DynamoDB, Step Functions (JSON 1.0) | 400 | `{"__type":"com.amazon.coral.service#AccessDeniedException","Message":…}` |
 * | Cognito user pools (JSON 1.1) | 400 | `{"__type":"AccessDeniedException","message":…}` |
 * | Lambda (REST-JSON) | 403 | `{"Type":"User","Message":…}` |
 * | API Gateway management (REST-JSON) | 403 | `{"Message":…}` |
 */
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Listener } from '../types.ts';
import { accessKeyIdOf, type Denial, type IamAuthorizer } from './authorizer.ts';
import {
  apiGatewayPermissions,
  cognitoPermissions,
  dynamodbPermissions,
  lambdaPermissions,
  stepFunctionsPermissions,
  targetOperation,
  type ArnScope,
  type IamService,
  type RequestAuthz,
} from './operations.ts';

/** Larger bodies are not read by the front; the service refuses them itself (DynamoDB's own limit is 16 MB). */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

function sendDenial(service: IamService, res: ServerResponse, denial: Denial): void {
  const requestId = randomUUID();
  let status = 400;
  let contentType = 'application/x-amz-json-1.0';
  let body: Record<string, unknown>;
  const headers: Record<string, string | number> = { 'x-amzn-RequestId': requestId, 'x-amzn-ErrorType': 'AccessDeniedException' };
  switch (service) {
    case 'dynamodb':
    case 'stepfunctions':
      body = { __type: 'com.amazon.coral.service#AccessDeniedException', Message: denial.message };
      break;
    case 'cognito':
      contentType = 'application/x-amz-json-1.1';
      body = { __type: 'AccessDeniedException', message: denial.message };
      break;
    case 'lambda':
      status = 403;
      contentType = 'application/json';
      body = { Type: 'User', Message: denial.message };
      break;
    case 'apigateway':
      status = 403;
      contentType = 'application/json';
      body = { Message: denial.message };
      break;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * A stand-in for a request whose body the front has read: the same method, URL, headers and socket, streaming the
 * same bytes, so the service behind reads it as it would the original.
 */
function replay(req: IncomingMessage, body: Buffer): IncomingMessage {
  const copy = new Readable({ read() {} }) as unknown as IncomingMessage & Record<string, unknown>;
  if (body.length) copy.push(body);
  copy.push(null);
  for (const key of ['method', 'url', 'headers', 'rawHeaders', 'trailers', 'rawTrailers', 'httpVersion', 'httpVersionMajor', 'httpVersionMinor', 'socket'] as const) {
    Object.defineProperty(copy, key, { value: req[key], writable: true, configurable: true, enumerable: true });
  }
  Object.defineProperty(copy, 'connection', { value: req.socket, writable: true, configurable: true });
  Object.defineProperty(copy, 'complete', { value: true, writable: true, configurable: true });
  return copy;
}

function permissionsFor(service: IamService, req: IncomingMessage, body: Buffer | undefined, scope: ArnScope): RequestAuthz {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  if (service === 'lambda') return lambdaPermissions(method, url, scope);
  if (service === 'apigateway') return apiGatewayPermissions(method, url, scope);
  const operation = targetOperation(req.headers['x-amz-target']);
  let parsed: unknown = {};
  try {
    parsed = body && body.length ? JSON.parse(body.toString('utf8')) : {};
  } catch {
    parsed = {}; // the service answers a malformed body itself (SerializationException)
  }
  if (!operation) return { operation: `${method} ${url.pathname}`, permissions: [] };
  if (service === 'dynamodb') return dynamodbPermissions(operation, parsed, scope);
  if (service === 'cognito') return cognitoPermissions(operation, parsed, scope);
  return stepFunctionsPermissions(operation, parsed);
}

/** Wraps a service's request listener with the authorizing front. */
export function authorizingListener(service: IamService, inner: Listener, authorizer: IamAuthorizer, scope: ArnScope): Listener {
  const needsBody = service !== 'lambda' && service !== 'apigateway';
  return (req, res) => {
    const principal = authorizer.principalForKey(accessKeyIdOf(req.headers, req.url));
    if (!principal) {
      inner(req, res);
      return;
    }
    const run = async () => {
      const body = needsBody ? await readBody(req) : undefined;
      if (needsBody && body === undefined) {
        inner(replay(req, Buffer.alloc(0)), res); // oversized: let the service refuse it
        return;
      }
      const { operation, permissions } = permissionsFor(service, req, body, scope);
      const denial = authorizer.authorize(principal, service, operation, permissions);
      if (denial) {
        if (!needsBody) req.resume();
        sendDenial(service, res, denial);
        return;
      }
      inner(needsBody ? replay(req, body!) : req, res);
    };
    run().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  };
}

/** Puts the authorizing front in front of an http.Server's own request listeners (dynalite, cognito-local). */
export function authorizeServer(service: IamService, server: Server, authorizer: IamAuthorizer, scope: ArnScope): void {
  const inner = server.listeners('request') as Listener[];
  server.removeAllListeners('request');
  const dispatch: Listener = (req, res) => {
    for (const listener of inner) listener(req, res);
  };
  server.on('request', authorizingListener(service, dispatch, authorizer, scope));
}
