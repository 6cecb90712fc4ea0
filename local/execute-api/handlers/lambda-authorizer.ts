/**
 * Step 4b, the Lambda REQUEST authorizer on routes that have one (RouteSpec.lambdaAuthorizer), as API Gateway runs it
 * for a REST API:
 *
 * - Identity sources (`Identity.Headers`, header names case-insensitive, last value; `Identity.QueryStrings`): any
 *   missing or empty → 401 Unauthorized, and the function is not invoked.
 * - The cache: the result is kept per authorizer and stage, keyed by the identity source values, for `ttlSeconds`
 *   (ReauthorizeEvery, default 300; 0 disables). A cached policy is evaluated again against each request's methodArn
 *   (a policy that allows one method only denies the others from the cache).
 * - The input: `{ type: 'REQUEST', methodArn, resource, path, httpMethod, headers, multiValueHeaders,
 *   queryStringParameters, multiValueQueryStringParameters, pathParameters, stageVariables, requestContext }`, with
 *   methodArn `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path without its leading /}`.
 * - The output: `principalId`, `policyDocument` (Statement(s) with Effect Allow/Deny, Action `execute-api:Invoke`,
 *   Resource ARN(s) with `*` / `?` wildcards), optional `context` (string, number or boolean values only) and
 *   `usageIdentifierKey`. An explicit Deny wins; no matching Allow → 403 "User is not authorized to access this
 *   resource" (AccessDeniedException). The function failing with the message `Unauthorized` → 401; any other
 *   failure, or an output without a valid policy or with an object/array in `context` → 500 (message null,
 *   AuthorizerConfigurationException).
 * - Allowed: `principalId` and `context` go to the integration as `requestContext.authorizer` (plus
 *   `integrationLatency`, ms); `usageIdentifierKey` is the API key when the API's ApiKeySourceType is AUTHORIZER
 *   (./api-key.ts).
 *
 * Sources: AWS, "Input to an API Gateway Lambda authorizer"
 * (docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-input.html); "Output from an
 * API Gateway Lambda authorizer" (…/api-gateway-lambda-authorizer-output.html: context values, usageIdentifierKey);
 * "Configure a Lambda authorizer" (…/configure-api-gateway-lambda-authorization.html: identity sources missing,
 * null or empty → 401 without invoking; caching keyed by the identity sources); API reference `Authorizer`
 * (authorizerResultTtlInSeconds: 0 disables, default 300, max 3600); "Choose an API key source"
 * (…/api-gateway-api-key-source.html: AUTHORIZER reads the key from usageIdentifierKey); gateway response types
 * (ACCESS_DENIED 403, AUTHORIZER_CONFIGURATION_ERROR 500, UNAUTHORIZED 401).
 */
import { performance } from 'node:perf_hooks';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import type { LambdaAuthorizerSpec } from '../../types.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../../types.ts';
import { routed, type Invocation, type Step } from '../context.ts';
import { eventQuery, traceId } from '../event.ts';
import { GatewayResponseError } from '../responses.ts';
import { headerValues } from './api-key.ts';
import { requestContextBase, requestFields, sourceIpOf } from './integration-request.ts';

/** What the function said, as the cache keeps it. */
export interface AuthorizerResult {
  principalId: string;
  statements: PolicyStatement[];
  context: Record<string, string | number | boolean>;
  usageIdentifierKey?: string;
}

interface PolicyStatement {
  effect: 'Allow' | 'Deny';
  actions: string[];
  resources: string[];
}

/** One cache per gateway: `${authorizer}\0${stage}\0${identity values}` → result and its expiry (ms). */
export type AuthorizerCache = Map<string, { result: AuthorizerResult; expires: number }>;

class Malformed extends Error {}

/** IAM-style wildcard match: `*` any run of characters, `?` one character. */
function wildcardMatch(pattern: string, value: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 's').test(value);
}

const asList = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

/** Validates the function's output; throws Malformed for what API Gateway answers with a 500. */
export function parseAuthorizerOutput(payload: unknown): AuthorizerResult {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new Malformed('output is not an object');
  const out = payload as Record<string, unknown>;
  const doc = out.policyDocument as Record<string, unknown> | undefined;
  if (doc === null || typeof doc !== 'object' || doc.Statement === undefined) throw new Malformed('no policyDocument.Statement');
  const statements = asList(doc.Statement).map((raw): PolicyStatement => {
    const s = raw as Record<string, unknown> | null;
    if (s === null || typeof s !== 'object' || (s.Effect !== 'Allow' && s.Effect !== 'Deny')) throw new Malformed('a statement without Effect Allow/Deny');
    const actions = asList(s.Action).map(String);
    const resources = asList(s.Resource).map(String);
    return { effect: s.Effect, actions, resources };
  });
  const context: Record<string, string | number | boolean> = {};
  if (out.context !== undefined && out.context !== null) {
    if (typeof out.context !== 'object' || Array.isArray(out.context)) throw new Malformed('context is not an object');
    for (const [name, value] of Object.entries(out.context)) {
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw new Malformed(`context.${name} is not a string, number or boolean`);
      }
      context[name] = value;
    }
  }
  return {
    principalId: out.principalId === undefined || out.principalId === null ? '' : String(out.principalId),
    statements,
    context,
    ...(typeof out.usageIdentifierKey === 'string' ? { usageIdentifierKey: out.usageIdentifierKey } : {}),
  };
}

/** True when an Allow statement covers methodArn and no Deny does (an explicit Deny wins, as in IAM). */
export function policyAllows(statements: readonly PolicyStatement[], methodArn: string): boolean {
  const covers = (s: PolicyStatement): boolean =>
    s.actions.some((a) => wildcardMatch(a, 'execute-api:Invoke')) && s.resources.some((r) => wildcardMatch(r, methodArn));
  if (statements.some((s) => s.effect === 'Deny' && covers(s))) return false;
  return statements.some((s) => s.effect === 'Allow' && covers(s));
}

/** The identity source values in declaration order (headers, then query strings), or undefined if one is missing or empty. */
function identityValues(inv: Invocation, spec: LambdaAuthorizerSpec): string[] | undefined {
  const values: string[] = [];
  for (const name of spec.identityHeaders) {
    const found = headerValues(inv.req, name.toLowerCase());
    const value = found[found.length - 1];
    if (value === undefined || value === '') return undefined;
    values.push(value);
  }
  if (spec.identityQueryStrings.length > 0) {
    const query = eventQuery(inv.rawQuery).queryStringParameters ?? {};
    for (const name of spec.identityQueryStrings) {
      const value = Object.prototype.hasOwnProperty.call(query, name) ? query[name] : undefined;
      if (value === undefined || value === '') return undefined;
      values.push(value);
    }
  }
  return values;
}

function authorizerEvent(inv: Invocation, methodArn: string, apiId: string): APIGatewayRequestAuthorizerEvent {
  const nowMs = Date.now();
  const sourceIp = sourceIpOf(inv.req);
  return {
    type: 'REQUEST',
    methodArn,
    ...requestFields(inv, sourceIp, traceId(nowMs)),
    requestContext: {
      ...requestContextBase(inv, nowMs),
      identity: { sourceIp, userAgent: inv.req.headers['user-agent'] ?? null, apiKey: null, apiKeyId: null },
      domainName: inv.req.headers.host ?? '',
      apiId,
    },
  } as unknown as APIGatewayRequestAuthorizerEvent;
}

export const authorizeLambda: Step = async (inv, { apiId, invoker, authorizerCache, clock }) => {
  const { route, stage, path } = routed(inv);
  const spec = route.lambdaAuthorizer;
  if (route.authorizer !== 'lambda' || spec === undefined) return undefined;
  const identity = identityValues(inv, spec);
  if (identity === undefined) throw new GatewayResponseError('UNAUTHORIZED', `authorizer ${spec.name}: an identity source is missing`);
  const methodArn = `arn:aws:execute-api:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${apiId}/${stage.name}/${inv.method}/${path.replace(/^\//, '')}`;
  // Without identity sources there is no cache key: API Gateway requires caching off then.
  const cacheable = spec.ttlSeconds > 0 && identity.length > 0;
  const cacheKey = `${spec.name}\0${stage.name}\0${JSON.stringify(identity)}`;
  const started = clock();
  const startedMs = performance.now();
  let result: AuthorizerResult | undefined;
  const cached = cacheable ? authorizerCache.get(cacheKey) : undefined;
  if (cached !== undefined && cached.expires > started) result = cached.result;
  else {
    if (cached !== undefined) authorizerCache.delete(cacheKey);
    let outcome;
    try {
      outcome = await invoker.invoke(spec.functionName, authorizerEvent(inv, methodArn, apiId));
    } catch (error) {
      throw new GatewayResponseError('AUTHORIZER_CONFIGURATION_ERROR', `authorizer ${spec.name}: ${(error as Error).message}`);
    }
    if (outcome.error !== undefined) {
      if (outcome.error.errorMessage === 'Unauthorized') throw new GatewayResponseError('UNAUTHORIZED', `authorizer ${spec.name} answered Unauthorized`);
      throw new GatewayResponseError('AUTHORIZER_CONFIGURATION_ERROR', `authorizer ${spec.name}: ${outcome.error.errorType}: ${outcome.error.errorMessage}`);
    }
    try {
      result = parseAuthorizerOutput(outcome.payload);
    } catch (error) {
      throw new GatewayResponseError('AUTHORIZER_CONFIGURATION_ERROR', `authorizer ${spec.name}: invalid output: ${(error as Error).message}`);
    }
    if (cacheable) authorizerCache.set(cacheKey, { result, expires: started + spec.ttlSeconds * 1000 });
  }
  if (!policyAllows(result.statements, methodArn)) throw new GatewayResponseError('ACCESS_DENIED', `authorizer ${spec.name}: policy does not allow ${methodArn}`);
  inv.authorizer = { ...result.context, principalId: result.principalId, integrationLatency: Math.round(performance.now() - startedMs) };
  if (result.usageIdentifierKey !== undefined) inv.usageIdentifierKey = result.usageIdentifierKey;
  return undefined;
};
