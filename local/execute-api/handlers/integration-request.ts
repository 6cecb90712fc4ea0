/**
 * Step 7, the integration request: the Lambda proxy event (REST API, payload format 1.0; see ./event.ts and
 * README.md "Event"). An event over Lambda's 6 MB synchronous payload limit → 413 Request Too Long.
 */
import type { IncomingMessage } from 'node:http';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { LOCAL_ACCOUNT_ID } from '../../types.ts';
import { routed, type Invocation, type Step } from '../context.ts';
import { eventBody, eventHeaders, eventQuery, requestTime, traceId } from '../event.ts';
import { GatewayResponseError } from '../responses.ts';

/** Lambda's synchronous invocation payload limit. */
const LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024;

export function sourceIpOf(req: IncomingMessage): string {
  const ip = req.socket.remoteAddress ?? '127.0.0.1';
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/** The request's fields the proxy event and the Lambda REQUEST authorizer's input share (resource … stageVariables). */
export function requestFields(inv: Invocation, sourceIp: string, trace: string) {
  const { path, match } = routed(inv);
  return {
    resource: match.resource.path,
    path,
    httpMethod: inv.method,
    ...eventHeaders(inv.req, sourceIp, trace),
    ...eventQuery(inv.rawQuery),
    pathParameters: match.params,
    stageVariables: null,
  };
}

/** The requestContext fields the proxy event and the Lambda REQUEST authorizer's input share. */
export function requestContextBase(inv: Invocation, nowMs: number) {
  const { stage, match } = routed(inv);
  return {
    resourceId: match.resource.id,
    resourcePath: match.resource.path,
    httpMethod: inv.method,
    extendedRequestId: inv.apigwId,
    requestTime: requestTime(nowMs),
    path: inv.rawPath,
    accountId: LOCAL_ACCOUNT_ID,
    protocol: `HTTP/${inv.req.httpVersion}`,
    stage: stage.name,
    domainPrefix: (inv.req.headers.host ?? '').split('.')[0] ?? '',
    requestTimeEpoch: nowMs,
    requestId: inv.requestId,
  };
}

export const buildProxyEvent: Step = (inv, { apiId, deploymentId }) => {
  const { req } = inv;
  const nowMs = Date.now();
  const sourceIp = sourceIpOf(req);
  const trace = traceId(nowMs);
  const host = req.headers.host ?? '';
  const claims = inv.claims;
  const event: APIGatewayProxyEvent = {
    ...requestFields(inv, sourceIp, trace),
    requestContext: {
      ...requestContextBase(inv, nowMs),
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
        apiKey: inv.apiKey,
        apiKeyId: inv.apiKeyId,
        clientCert: null,
      },
      domainName: host,
      deploymentId,
      apiId,
      authorizer: claims !== undefined ? { claims } : inv.authorizer,
    } as APIGatewayProxyEvent['requestContext'],
    ...eventBody(inv.body, req.headers['content-type']),
  };
  if (claims === undefined && inv.authorizer === undefined) delete (event.requestContext as { authorizer?: unknown }).authorizer;
  if (event.body !== null && event.body.length > LAMBDA_PAYLOAD_LIMIT - 512 * 1024) {
    if (Buffer.byteLength(JSON.stringify(event)) > LAMBDA_PAYLOAD_LIMIT) throw new GatewayResponseError('LAMBDA_PAYLOAD_TOO_LARGE');
  }
  inv.event = event;
  inv.traceId = trace;
  return undefined;
};
