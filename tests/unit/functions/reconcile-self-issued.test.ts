/**
 * ReconcileAccountsFunction in KeyMode SelfIssued (issue 15): a disabled user's key is suspended in the SelfIssuedKeys
 * table (the slot, then the key record the authorizer reads), not with UpdateApiKey (the account's apiKeyId is a slot
 * id `si…`, no API Gateway key); a re-enabled user's key is restored. Mocked clients.
 */
import { SELF_ISSUED_KEYS_TABLE } from './env-self-issued.ts';
import { ACCOUNTS_TABLE } from './env.ts';
import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import { AdminGetUserCommand, CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { reconcile } from '../../../functions/reconcile/domain.ts';
import { deps } from '../../../functions/reconcile/handler.ts';
import 'aws-sdk-client-mock-jest';

const ddb = mockClient(DynamoDBDocumentClient);
const apigw = mockClient(APIGatewayClient);
const cognito = mockClient(CognitoIdentityProviderClient);

const SUB = '0f9c6c1e-7c2a-4a39-9d0b-1f6f2f6b0a11';
const SLOT_ID = 'si0123456789abcdef01';
const HASH = 'b'.repeat(64);
const slot = { TableName: SELF_ISSUED_KEYS_TABLE, Key: { pk: `CUSTOMER#${SUB}` } };
const keyRecord = { TableName: SELF_ISSUED_KEYS_TABLE, Key: { pk: `KEY#${HASH}` } };

function given(account: Record<string, unknown>, enabled: boolean, slotStatus: string): void {
  ddb.on(ScanCommand).resolves({ Items: [{ userId: SUB, status: 'ACTIVE', apiKeyId: SLOT_ID, plan: 'free', ...account }] });
  cognito.on(AdminGetUserCommand).resolves({ Username: SUB, Enabled: enabled, UserAttributes: [] });
  ddb.on(UpdateCommand).resolves({});
  ddb.on(UpdateCommand, slot).resolves({ Attributes: { pk: `CUSTOMER#${SUB}`, keyId: SLOT_ID, plan: 'free', hash: HASH, status: slotStatus } });
}

/** The table and key of every UpdateItem, in order. */
const updates = () => ddb.commandCalls(UpdateCommand).map((c) => `${c.args[0].input.TableName} ${String(c.args[0].input.Key?.pk ?? c.args[0].input.Key?.userId)}`);

beforeEach(() => {
  ddb.reset();
  apigw.reset();
  cognito.reset();
});

it('suspends a disabled user\'s key: the slot (reading its hash), then the key record, then the account mark; no API Gateway call', async () => {
  given({}, false, 'suspended');

  await expect(reconcile(deps)).resolves.toMatchObject({ checked: 1, suspended: 1, failed: 0 });

  expect(updates()).toEqual([`${SELF_ISSUED_KEYS_TABLE} CUSTOMER#${SUB}`, `${SELF_ISSUED_KEYS_TABLE} KEY#${HASH}`, `${ACCOUNTS_TABLE} ${SUB}`]);
  expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
    ...slot,
    UpdateExpression: 'SET #s = :status',
    ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#s) OR #s <> :closed)',
    ExpressionAttributeValues: { ':status': 'suspended', ':closed': 'closed' },
    ReturnValues: 'ALL_NEW',
  });
  // Only an active key is suspended: a revoked one stays revoked.
  expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { ...keyRecord, ConditionExpression: '#s = :from', ExpressionAttributeValues: { ':from': 'active', ':to': 'suspended' } });
  expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { TableName: ACCOUNTS_TABLE, UpdateExpression: 'SET keySuspendedAt = :now, updatedAt = :now' });
  expect(apigw.calls()).toHaveLength(0);
});

it('restores a re-enabled user\'s key: slot active, key record suspended → active, then the mark removed', async () => {
  given({ keySuspendedAt: '2026-11-30T10:00:00.000Z' }, true, 'active');

  await expect(reconcile(deps)).resolves.toMatchObject({ restored: 1, failed: 0 });

  expect(updates()).toEqual([`${SELF_ISSUED_KEYS_TABLE} CUSTOMER#${SUB}`, `${SELF_ISSUED_KEYS_TABLE} KEY#${HASH}`, `${ACCOUNTS_TABLE} ${SUB}`]);
  expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { ...slot, ExpressionAttributeValues: { ':status': 'active', ':closed': 'closed' } });
  expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { ...keyRecord, ExpressionAttributeValues: { ':from': 'suspended', ':to': 'active' } });
  expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { TableName: ACCOUNTS_TABLE, UpdateExpression: 'REMOVE keySuspendedAt SET updatedAt = :now' });
});

it('a repeat (key record already suspended) and a slot already closed by offboarding are no errors', async () => {
  given({}, false, 'suspended');
  ddb.on(UpdateCommand, keyRecord).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));
  await expect(reconcile(deps)).resolves.toMatchObject({ suspended: 1, failed: 0 });

  ddb.reset();
  given({}, false, 'closed');
  ddb.on(UpdateCommand, slot).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));
  await expect(reconcile(deps)).resolves.toMatchObject({ failed: 0 });
  expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, keyRecord);
});
