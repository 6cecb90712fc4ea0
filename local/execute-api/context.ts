/**
 * What the steps of the execute-api chain share: the deployment (`Deployment`, built once by createGateway) and the
 * request as it goes through the chain (`Invocation`, filled in step by step, as LocalStack's
 * RestApiInvocationContext).
 */
import type { IncomingMessage } from 'node:http';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { AuthorizerCache } from './handlers/lambda-authorizer.ts';
import type { CorsSpec, KeyGate, LambdaInvoker, RouteSpec, TokenVerifier } from '../types.ts';
import type { Match, Router } from './router.ts';
import type { StageThrottle } from './throttle.ts';
import type { Reply } from './responses.ts';

export interface Stage {
  name: string;
  throttle: StageThrottle;
}

export interface Deployment {
  apiId: string;
  deploymentId: string;
  router: Router;
  /** Stage name → its own method throttle buckets (AWS keeps MethodSettings per stage). */
  stages: Map<string, Stage>;
  cors?: CorsSpec;
  preflightHeaders: Record<string, string>;
  invoker: LambdaInvoker;
  gate: KeyGate;
  verifier: TokenVerifier;
  /** Where keyed routes take the API key: the `x-api-key` header, or the Lambda authorizer's usageIdentifierKey. */
  apiKeySource: 'HEADER' | 'AUTHORIZER';
  /** Lambda authorizer results (./handlers/lambda-authorizer.ts). */
  authorizerCache: AuthorizerCache;
  /** Milliseconds clock (method throttles, the authorizer cache's TTL). */
  clock: () => number;
  maxBodyBytes: number;
  integrationTimeoutMs: number;
}

export interface Invocation {
  req: IncomingMessage;
  /** Upper-case HTTP method. */
  method: string;
  requestId: string;
  /** `extendedRequestId`, also `x-amz-apigw-id`. */
  apigwId: string;
  /** The request path as sent, stage included (read by the route step). */
  rawPath: string;
  rawQuery: string;
  body: Buffer;
  stage?: Stage;
  /** The path after the stage. */
  path?: string;
  match?: Match;
  route?: RouteSpec;
  /** The authorizer's claims, as strings (route step → authorizer). */
  claims?: Record<string, string>;
  /** A Lambda authorizer's principalId, context and integrationLatency (→ requestContext.authorizer). */
  authorizer?: Record<string, string | number | boolean>;
  /** A Lambda authorizer's usageIdentifierKey (the API key when the API's key source is AUTHORIZER). Never logged. */
  usageIdentifierKey?: string;
  apiKey: string | null;
  apiKeyId: string | null;
  /** Resolved by the API key step for the usage-plan step. */
  usage?: Parameters<KeyGate['admit']>;
  /** The Lambda proxy event (integration request step → integration step) and its X-Amzn-Trace-Id. */
  event?: APIGatewayProxyEvent;
  traceId?: string;
  /** Why a gateway error happened, appended to the request's log line. */
  note?: string;
  /** Set by the integration step (ms): see AccessLogEntry in ./gateway.ts. */
  integrationLatency?: number;
  functionDuration?: number;
  functionQueue?: number;
}

/** One step of the chain: answers (a Reply, or throws GatewayResponseError) or returns nothing to go on. */
export type Step = (inv: Invocation, deployment: Deployment) => Reply | undefined | Promise<Reply | undefined>;

/** Accessors for what an earlier step must have set (a step that runs without it is a bug in the chain's order). */
export function routed(inv: Invocation): { stage: Stage; path: string; match: Match; route: RouteSpec } {
  if (!inv.stage || inv.path === undefined || !inv.match || !inv.route) throw new Error('the route step has not run');
  return { stage: inv.stage, path: inv.path, match: inv.match, route: inv.route };
}
