/**
 * AccountFunction's rotation dependencies (functions/account/domain.ts AccountDeps) wired to a test stack's offline
 * services, as the function's handler wires them to its environment: for tests that run rotateApiKey themselves to
 * force an interleaving (stop at the commit, race an offboarding). `keys`: the API Gateway key service, a subclass
 * that injects the race; the default is the plain one.
 */
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ApiGatewayKeyService, CognitoUserDirectory } from '../../functions/account/adapters.ts';
import type { AccountDeps } from '../../functions/account/domain.ts';
import { parsePlanCatalog } from '../../functions/shared/plans.ts';
import { DynamoAccountKeyWriter, DynamoAccountStore, DynamoUsageHistory } from '../../functions/shared/tables/accounts.ts';
import { DynamoLedger } from '../../functions/shared/tables/billing.ts';
import { DynamoKeyOwnerRecords } from '../../functions/shared/tables/key-owners.ts';
import { usagePlanLookupWith } from '../../functions/shared/usage-plans.ts';
import type { TestStack } from './stack.ts';

export function accountDeps(t: TestStack, keys = new ApiGatewayKeyService(t.clients.apigateway)): AccountDeps {
  const env = t.stack.model.functions.find((f) => f.logicalId === 'AccountFunction')!.environment;
  const doc = DynamoDBDocumentClient.from(t.clients.dynamodb);
  return {
    accounts: new DynamoAccountStore(env.ACCOUNTS_TABLE!, doc),
    users: new CognitoUserDirectory(env.USER_POOL_ID!, t.clients.cognito),
    accountKeys: new DynamoAccountKeyWriter(env.ACCOUNTS_TABLE!, doc),
    keys,
    keyOwners: new DynamoKeyOwnerRecords(env.KEY_OWNERS_TABLE!, doc),
    ledger: new DynamoLedger(env.BILLING_TABLE!, doc),
    usageHistory: new DynamoUsageHistory(env.ACCOUNTS_TABLE!, doc),
    usagePlanIdFor: usagePlanLookupWith(t.clients.apigateway, env.USAGE_PLAN_NAME_PREFIX!),
    readUsage: (usagePlanId, keyId, from, to) => keys.usage(usagePlanId, keyId, from, to),
    catalog: parsePlanCatalog(env.PLAN_CATALOG!),
    now: () => new Date(),
  };
}
