import { APIGatewayClient, UpdateApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { AdminGetUserCommand, CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Context } from 'aws-lambda';
import { isNotFound, isUserNotFound, unless } from '#shared/aws-errors';
import { requireEnv } from '#shared/env';
import { keyModeFrom } from '#shared/key-mode';
import { withLambda } from '#shared/lambda';
import { DynamoAccountReconciler } from '#shared/tables/accounts';
import { DynamoKeyOwnerRecords } from '#shared/tables/key-owners';
import { selfIssuedKeysStore, type SelfIssuedKeysStore } from '#shared/tables/self-issued-keys';
import { startOffboarding } from '#shared/workflows';
import { reconcile, type ReconcileDeps } from './domain.ts';

/** ReconcileAccountsFunction (every 5 minutes): ./domain.ts's reconcile, wired to the Accounts table, the pool, the key (API Gateway or SelfIssuedKeys by KEY_MODE), the KeyOwners table (ApiGateway) and the offboarding workflow. */


const accountsTable = requireEnv('ACCOUNTS_TABLE');
const userPoolId = requireEnv('USER_POOL_ID');
const stateMachineArn = requireEnv('OFFBOARDING_STATE_MACHINE_ARN');
const cognito = new CognitoIdentityProviderClient({ maxAttempts: 5, retryMode: 'adaptive' });
const sfn = new SFNClient({ maxAttempts: 3 });
const apiGateway = new APIGatewayClient({ maxAttempts: 5, retryMode: 'adaptive' });

const table = new DynamoAccountReconciler(accountsTable);
const keyMode = keyModeFrom(process.env.KEY_MODE);

/** KeyMode ApiGateway: UpdateApiKey `/enabled` (API Gateway refuses a disabled key with 403). */
async function apiGatewayKeyEnabled(apiKeyId: string, enabled: boolean): Promise<void> {
  const update = new UpdateApiKeyCommand({ apiKey: apiKeyId, patchOperations: [{ op: 'replace', path: '/enabled', value: String(enabled) }] });
  await unless(isNotFound, undefined, apiGateway.send(update)); // a key gone: rotated or offboarded meanwhile
}

/** KeyMode SelfIssued: the customer's slot and current key record `suspended` / `active` (the authorizer refuses the first with 403). */
let keys: SelfIssuedKeysStore | undefined;
async function selfIssuedKeyEnabled(_slotId: string, enabled: boolean, userId: string): Promise<void> {
  keys ??= selfIssuedKeysStore(requireEnv('SELF_ISSUED_KEYS_TABLE'));
  await keys.setSuspended(userId, !enabled);
}

export const deps: ReconcileDeps = {
  accounts: () => table.openAccounts(),
  async user(userId) {
    const user = await unless(isUserNotFound, undefined, cognito.send(new AdminGetUserCommand({ UserPoolId: userPoolId, Username: userId })));
    if (user === undefined) return undefined;
    const email = user.UserAttributes?.find((a) => a.Name === 'email')?.Value;
    return { enabled: user.Enabled !== false, ...(email ? { email } : {}) };
  },
  offboard: (userId, redrive) => startOffboarding(sfn, stateMachineArn, userId, 'USER_DELETED', redrive),
  now: () => Date.now(),
  setKeyEnabled: keyMode === 'SelfIssued' ? selfIssuedKeyEnabled : apiGatewayKeyEnabled,
  markSuspended: (userId, apiKeyId, suspended) => table.markSuspended(userId, apiKeyId, suspended),
  recordEmail: (userId, email) => table.recordEmail(userId, email),
  // SelfIssued: `apiKeyId` is a key slot id, which no KeyOwners record names.
  ...(keyMode === 'ApiGateway' && { keyOwners: new DynamoKeyOwnerRecords(requireEnv('KEY_OWNERS_TABLE')) }),
};

export const handler = withLambda((_event: unknown, _context: Context) => reconcile(deps));
