import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { requireEnv } from '../shared/env.ts';
import { findPlan, planCatalog, type Plan, type QuotaPeriod } from '../shared/plans.ts';
import { hashKey, looksLikeKey } from '../shared/self-issued-keys.ts';
import { selfIssuedKeysStore, type SelfIssuedKeysStore } from '../shared/tables/self-issued-keys.ts';

/**
 * KeyAuthorizerFunction (KeyMode SelfIssued, issue 15): a Lambda REQUEST authorizer (identity source the `X-Api-Key`
 * header) that verifies a self-issued key on every request and enforces the customer's plan itself:
 *
 * - no key, not of the `tg_live_` shape, unknown or revoked → fails with "Unauthorized" (API Gateway: 401);
 * - over the plan's quota for the period, or over its rate in the current second → Deny (403), context.reason
 *   `quota` / `rate` (a Lambda authorizer cannot answer 429 itself; see README "Scaled key mode");
 * - otherwise Allow on the stage, `principalId` = customer id, context { customerId, plan, used }.
 *
 * Must run with ReauthorizeEvery 0: a cached Allow would let requests through without counting them. No
 * usageIdentifierKey is returned (the tier backstop key would have to be known to this function, and API key values
 * must be in no variable or item); the plans' usage plans are not involved in this mode.
 *
 * Input/output shapes: AWS, "Input to an API Gateway Lambda authorizer" / "Output from an API Gateway Lambda
 * authorizer" (docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-input.html,
 * …-output.html). Errors thrown: Error('Unauthorized'); a store error propagates (API Gateway: 500).
 */

/** The quota period a request at `now` counts in: `2026-11-30` (DAY), `W2026-11-30` (the week's Monday), `2026-11` (MONTH); and when its counter may expire (epoch s). */
export function quotaPeriod(period: QuotaPeriod, now: Date): { key: string; expiresAt: number } {
  const day = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const DAY = 86_400;
  if (period === 'DAY') return { key: day.toISOString().slice(0, 10), expiresAt: day.getTime() / 1000 + 2 * DAY };
  if (period === 'WEEK') {
    const monday = new Date(day.getTime() - ((day.getUTCDay() + 6) % 7) * DAY * 1000);
    return { key: `W${monday.toISOString().slice(0, 10)}`, expiresAt: monday.getTime() / 1000 + 8 * DAY };
  }
  return { key: now.toISOString().slice(0, 7), expiresAt: Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) / 1000 + DAY };
}

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
}

export function makeHandler(deps: AuthorizerDeps) {
  return async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
    const value = apiKeyHeader(event.headers);
    if (!looksLikeKey(value)) throw new Error('Unauthorized');
    const record = await deps.store.getKey(hashKey(value));
    if (record === undefined || record.status !== 'active') throw new Error('Unauthorized');
    const plan = findPlan(deps.catalog(), record.plan);
    if (plan === undefined) throw new Error(`customer ${record.customerId} has plan ${record.plan}, which is not in PLAN_CATALOG`);
    const now = deps.now();
    const { key, expiresAt } = quotaPeriod(plan.quotaPeriod, now);
    const outcome = await deps.store.consume(record.customerId, key, Math.floor(now.getTime() / 1000), plan, expiresAt);
    if (!outcome.ok) return policy('Deny', event.methodArn, record.customerId, { customerId: record.customerId, plan: plan.name, reason: outcome.reason });
    return policy('Allow', event.methodArn, record.customerId, { customerId: record.customerId, plan: plan.name, used: outcome.used });
  };
}

let store: SelfIssuedKeysStore | undefined;
export const handler = (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
  store ??= selfIssuedKeysStore(requireEnv('SELF_ISSUED_KEYS_TABLE'));
  return makeHandler({ store, catalog: planCatalog, now: () => new Date() })(event);
};
