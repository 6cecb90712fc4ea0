import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { requireEnv } from '../shared/env.ts';
import { keyModeFrom } from '../shared/key-mode.ts';
import { findPlan, planCatalog, type Plan } from '../shared/plans.ts';
import { hashKey, looksLikeImportedKey, looksLikeKey } from '../shared/self-issued-keys.ts';
import { quotaPeriod } from '../shared/self-issued-usage.ts';
import { selfIssuedKeysStore, type SelfIssuedKeysStore } from '../shared/tables/self-issued-keys.ts';

/**
 * KeyAuthorizerFunction: the data API's Lambda REQUEST authorizer (template.yaml `Auth.Authorizers.KeyAuthorizer`,
 * identity source the `X-Api-Key` header; the API's ApiKeySourceType is AUTHORIZER), in the deploy's `KEY_MODE`
 * (the template's KeyMode parameter):
 *
 * `ApiGateway` (passThrough): Allow on the stage with the header's value as `usageIdentifierKey`. API Gateway then
 * checks that value against the usage plans exactly as with key source HEADER (unknown, disabled or in no plan of the
 * stage → 403 Forbidden; the plan's throttle and quota → 429). The result is cached per key value for
 * ReauthorizeEvery (300 s), so the authorizer runs once per key per 5 minutes and warm container.
 *
 * `SelfIssued` (makeHandler): verifies a self-issued key on every request (ReauthorizeEvery 0: a cached Allow would
 * let requests through without counting them) and enforces the customer's plan itself:
 * - no key, neither of the `tg_live_` shape nor an API Gateway key value imported at a switch of modes
 *   (README "Switching modes": its record has `importedFrom: 'ApiGateway'`), unknown or revoked → fails with
 *   "Unauthorized" (API Gateway: 401);
 * - suspended (the customer's Cognito user is disabled; the account reconciler) → Deny (403), context.reason
 *   `suspended`, nothing counted;
 * - over the plan's quota for the period, or over its rate in the current second → Deny (403), context.reason
 *   `quota` / `rate` (a Lambda authorizer cannot answer 429 itself; see README "Key modes");
 * - otherwise Allow on the stage, `principalId` = customer id, context { customerId, plan, used }, and
 *   `usageIdentifierKey` = the stack's backstop key (`BACKSTOP_API_KEY`, SelfIssuedBackstopKey in its usage plan
 *   without limits): with key source AUTHORIZER a method that requires a key needs one from the authorizer.
 *
 * Input/output shapes: AWS, "Input to an API Gateway Lambda authorizer" / "Output from an API Gateway Lambda
 * authorizer" (docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-input.html,
 * …-output.html: "If the API uses a usage plan (the apiKeySource is set to AUTHORIZER), the Lambda authorizer
 * function must return one of the usage plan's API keys as the usageIdentifierKey property value"); "Choose an API
 * key source" (…/api-gateway-api-key-source.html). Errors thrown: Error('Unauthorized'); a store error propagates
 * (API Gateway: 500).
 */

function apiKeyHeader(headers: APIGatewayRequestAuthorizerEvent['headers']): string {
  for (const [name, value] of Object.entries(headers ?? {})) if (name.toLowerCase() === 'x-api-key' && value) return value;
  return '';
}

function policy(effect: 'Allow' | 'Deny', methodArn: string, principalId: string, context: Record<string, string | number | boolean>): APIGatewayAuthorizerResult {
  // arn:…:apiId/stage/METHOD/path → the whole stage
  const [apiArn, stage] = methodArn.split('/');
  return {
    principalId,
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: `${apiArn}/${stage}/*/*` }] },
    context,
  };
}

export interface AuthorizerDeps {
  store: SelfIssuedKeysStore;
  catalog: () => readonly Plan[];
  now: () => Date;
  /** The backstop key's value returned as usageIdentifierKey on Allow (omitted when undefined: unit tests). */
  backstopKey?: string;
}

/** KeyMode ApiGateway: the header's key, for API Gateway to check against its usage plans. */
export async function passThrough(event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  const value = apiKeyHeader(event.headers);
  // API Gateway invokes the authorizer only with the identity source present; an empty one is refused the same way.
  if (value === '') throw new Error('Unauthorized');
  return { ...policy('Allow', event.methodArn, 'api-key', {}), usageIdentifierKey: value };
}


export function makeHandler(deps: AuthorizerDeps) {
  return async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
    const value = apiKeyHeader(event.headers);
    const issued = looksLikeKey(value);
    if (!issued && !looksLikeImportedKey(value)) throw new Error('Unauthorized');
    const record = await deps.store.getKey(hashKey(value));
    if (record === undefined || record.status === 'revoked') throw new Error('Unauthorized');
    // A value without the prefix is honoured only as the key it was imported as (never a tg_live_ key's record).
    if (!issued && record.importedFrom !== 'ApiGateway') throw new Error('Unauthorized');
    // The customer's Cognito user is disabled (the account reconciler): refused, as API Gateway refuses a disabled key.
    if (record.status !== 'active') return policy('Deny', event.methodArn, record.customerId, { customerId: record.customerId, reason: 'suspended' });
    const plan = findPlan(deps.catalog(), record.plan);
    if (plan === undefined) throw new Error(`customer ${record.customerId} has plan ${record.plan}, which is not in PLAN_CATALOG`);
    const now = deps.now();
    const { key, expiresAt } = quotaPeriod(plan.quotaPeriod, now);
    const outcome = await deps.store.consume(record.customerId, key, Math.floor(now.getTime() / 1000), plan, expiresAt);
    if (!outcome.ok) return policy('Deny', event.methodArn, record.customerId, { customerId: record.customerId, plan: plan.name, reason: outcome.reason });
    const allow = policy('Allow', event.methodArn, record.customerId, { customerId: record.customerId, plan: plan.name, used: outcome.used });
    return deps.backstopKey === undefined ? allow : { ...allow, usageIdentifierKey: deps.backstopKey };
  };
}

const selfIssued = (): ((event: APIGatewayRequestAuthorizerEvent) => Promise<APIGatewayAuthorizerResult>) =>
  makeHandler({ store: selfIssuedKeysStore(requireEnv('SELF_ISSUED_KEYS_TABLE')), catalog: planCatalog, now: () => new Date(), backstopKey: requireEnv('BACKSTOP_API_KEY') });

// Chosen at the first invocation, not at import, so tests can import makeHandler without the environment.
let authorize: ((event: APIGatewayRequestAuthorizerEvent) => Promise<APIGatewayAuthorizerResult>) | undefined;
export const handler = (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> =>
  (authorize ??= keyModeFrom(process.env.KEY_MODE) === 'ApiGateway' ? passThrough : selfIssued())(event);
