/**
 * Contracts between the parts of the offline stack. Each part is built from the resolved template by
 * `local/stack.ts`; none of them reads template.yaml itself.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type Listener = (req: IncomingMessage, res: ServerResponse) => void;

export type QuotaPeriod = 'DAY' | 'WEEK' | 'MONTH';

/** An AWS::ApiGateway::UsagePlan from the template, refs resolved. */
export interface UsagePlanSpec {
  id: string;
  name: string;
  description?: string;
  throttle?: { rateLimit: number; burstLimit: number };
  quota?: { limit: number; period: QuotaPeriod; offset?: number };
  apiStages: { apiId: string; stage: string }[];
  tags: Record<string, string>;
}

/** An `AWS::ApiGateway::ApiKey` the template declares, with the usage plans its `AWS::ApiGateway::UsagePlanKey`s put it in. */
export interface TemplateApiKeySpec {
  /** The key's id (what `!Ref` gives). */
  id: string;
  name: string;
  description?: string;
  enabled: boolean;
  /** The template's `Value`; generated when absent. */
  value?: string;
  usagePlanIds: string[];
}

export interface ApiKeyRecord {
  id: string;
  value: string;
  name: string;
  description?: string;
  enabled: boolean;
  customerId?: string;
  createdDate: string; // ISO
  lastUpdatedDate: string; // ISO
  tags: Record<string, string>;
}

export type Admission = { ok: true } | { ok: false; reason: 'throttled' | 'quota' };

/** What the API Gateway data plane asks of the control plane (which owns keys, plans and usage). */
export interface KeyGate {
  /** The enabled key with this value and the usage plan holding it for apiId/stage; undefined if none. */
  resolve(value: string, apiId: string, stage: string): { key: ApiKeyRecord; plan: UsagePlanSpec } | undefined;
  /** Throttle (token bucket rate/burst per key) then quota (per period); counts the request when admitted. */
  admit(keyId: string, plan: UsagePlanSpec, now?: Date): Admission;
}

export interface InvokeResult {
  /** The handler's return value (JSON-serialisable), when it succeeded. */
  payload?: unknown;
  /** Set when the handler threw or timed out: Lambda's `X-Amz-Function-Error: Unhandled` shape. */
  error?: { errorType: string; errorMessage: string; trace?: string[] };
  /** What the function wrote to stdout/stderr during this invocation. */
  logs: string;
  requestId: string;
  /** The handler's run time (ms), as Lambda's REPORT line's `Duration`; absent when it never ran (init error, crash, timeout). */
  durationMs?: number;
  /** How long the invocation waited for an execution environment (ms): a busy pool queues, a cold start loads the bundle. */
  queueMs?: number;
}

export interface LambdaInvoker {
  /** Invoke by logical id, function name or ARN. Rejects only for an unknown function. */
  invoke(functionName: string, event: unknown): Promise<InvokeResult>;
  has(functionName: string): boolean;
}

/** Verifies a Cognito ID token; resolves to its claims or rejects (functions/shared/id-token.ts). */
export type { TokenVerifier } from '../functions/shared/id-token.ts';

export interface RouteSpec {
  method: string; // GET, POST, ... or ANY
  path: string; // template path, e.g. /links/{id}
  functionName: string; // logical id of the function
  authorizer: 'cognito' | 'lambda' | 'none';
  /** With authorizer 'lambda': the Lambda REQUEST authorizer (local/execute-api/handlers/lambda-authorizer.ts). */
  lambdaAuthorizer?: LambdaAuthorizerSpec;
  apiKeyRequired: boolean;
}

/**
 * A Lambda authorizer of FunctionPayloadType REQUEST, as SAM's `Auth.Authorizers.<name>` declares it:
 * `FunctionArn`, `Identity.Headers` / `Identity.QueryStrings` (the identity sources: any missing or empty → 401
 * without invoking; together they key the result cache) and `Identity.ReauthorizeEvery` (the cache TTL in seconds,
 * default 300, 0 disables; API Gateway's authorizerResultTtlInSeconds, max 3600).
 */
export interface LambdaAuthorizerSpec {
  name: string;
  /** Logical id of the authorizer function. */
  functionName: string;
  identityHeaders: string[];
  identityQueryStrings: string[];
  ttlSeconds: number;
}

export interface CorsSpec {
  allowOrigin: string;
  allowHeaders: string;
  allowMethods: string;
  maxAge?: string;
}

/** One state machine from the template, DefinitionSubstitutions resolved. */
export interface StateMachineSpec {
  logicalId: string;
  name: string;
  arn: string;
  type: 'STANDARD' | 'EXPRESS';
  definition: Record<string, unknown>;
}

/** Local endpoints, as base URLs (http://127.0.0.1:PORT). */
export interface Endpoints {
  apigateway: string;
  cognito: string;
  dynamodb: string;
  lambda: string;
  stepfunctions: string;
  gateway: string;
}

export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT_ID = '000000000000';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
