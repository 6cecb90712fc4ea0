import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import type { Context } from 'aws-lambda';
import { requireEnv } from '#shared/env';
import { withLambda } from '#shared/lambda';
import { keyModeFrom } from '#shared/key-mode';
import { planCatalog } from '#shared/plans';
import { selfIssuedKeysStore } from '#shared/tables/self-issued-keys';
import { DynamoAccountScanner, DynamoAccountStore } from '#shared/tables/accounts';
import { DynamoLedger } from '#shared/tables/billing';
import { ApiGatewayUsageReader, usagePlanLookupWith } from '#shared/usage-plans';
import { handleStatementEvent, type StatementDeps } from './domain.ts';

/**
 * StatementFunction: the billing-close and offboarding workflows' task (lambda:invoke). ./domain.ts decides; this
 * module wires it to the Accounts and Billing tables and to API Gateway's usage plans (KeyMode SelfIssued: to the
 * SelfIssuedKeys table's usage counters instead).
 */

const apiGateway = new APIGatewayClient({ maxAttempts: 3 });

export const deps: StatementDeps = {
  accounts: new DynamoAccountStore(requireEnv('ACCOUNTS_TABLE')),
  scanner: new DynamoAccountScanner(requireEnv('ACCOUNTS_TABLE')),
  billing: new DynamoLedger(requireEnv('BILLING_TABLE')),
  usage: new ApiGatewayUsageReader(apiGateway),
  usagePlanIdFor: usagePlanLookupWith(apiGateway, requireEnv('USAGE_PLAN_NAME_PREFIX')),
  // KeyMode SelfIssued: requests from the authorizer's counters (SelfIssuedKeys table), not usage plans.
  ...(keyModeFrom(process.env.KEY_MODE) === 'SelfIssued' ? { selfIssued: selfIssuedKeysStore(requireEnv('SELF_ISSUED_KEYS_TABLE')) } : {}),
  catalog: planCatalog(),
  now: () => new Date(),
  pageConcurrency: 8,
};

export const handler = withLambda(
  (event: unknown, _context: Context) => handleStatementEvent(deps, event),
  (event) => {
    const userId = (event as { userId?: unknown } | null)?.userId;
    return typeof userId === 'string' ? userId : undefined;
  },
);
