/**
 * POST /me/api-key/rotate against a suspended account (its Cognito user disabled: the account reconciler) and against
 * an offboarding that marks the account CLOSING while the rotation holds its lock (issue 15). The interleavings are
 * forced with mocked clients: the account read before the swap says ACTIVE, the swap's conditional write finds it
 * CLOSING or suspended. KeyMode ApiGateway through the handler; KeyMode SelfIssued through rotateSelfIssued with the
 * real SelfIssuedKeys adapter over the same mocked DynamoDB client.
 */
import { ACCOUNTS_TABLE } from './env.ts';
import { account, apigw, cognito, ddb, givenAccount, givenRotationSucceeds, handler, NEW_KEY_ID, NOW, records } from './account-setup.ts';
import { CreateApiKeyCommand, DeleteApiKeyCommand, UpdateApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { AdminUpdateUserAttributesCommand } from '@aws-sdk/client-cognito-identity-provider';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoAccountKeyWriter, DynamoAccountStore } from '#shared/tables/accounts';
import { selfIssuedKeysStore } from '#shared/tables/self-issued-keys';
import { CognitoUserDirectory } from '../../../functions/account/adapters.ts';
import { rotateSelfIssued, type SelfIssuedDeps } from '../../../functions/account/self-issued.ts';
import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { API_KEY_ID, SUB, bodyOf, context, loadEvent } from './helpers.ts';
import 'aws-sdk-client-mock-jest';

const conditionFailed = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
const SUSPENDED_AT = '2025-11-23T13:40:00.000Z';

describe('KeyMode ApiGateway', () => {
  it('answers 403 KeySuspended to a suspended account, creating nothing', async () => {
    givenRotationSucceeds();
    givenAccount({ ...account, keySuspendedAt: SUSPENDED_AT });

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(403);
    expect(bodyOf(result)).toMatchObject({ code: 'KeySuspended', details: { keySuspendedAt: SUSPENDED_AT } });
    expect(apigw).not.toHaveReceivedCommand(CreateApiKeyCommand);
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
    expect(records.size).toBe(0);
  });

  it('takes the lock only while the key is not suspended, and swaps only while ACTIVE and not suspended', async () => {
    givenRotationSucceeds();

    expect((await handler(loadEvent('api-key-rotate'), context)).statusCode).toBe(200);

    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: 'SET rotationLock = :lock, rotationLockExpiresAt = :until',
      ConditionExpression: expect.stringContaining('#status = :active AND attribute_not_exists(keySuspendedAt)'),
    });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: expect.stringMatching(/^SET apiKeyId = :new/),
      ConditionExpression: expect.stringContaining('#status = :active AND attribute_not_exists(keySuspendedAt)'),
    });
  });

  it('offboarding marks the account CLOSING after the lock, before the swap: the swap is refused, the new key deleted, 409', async () => {
    givenRotationSucceeds();
    ddb.on(UpdateCommand, { TableName: ACCOUNTS_TABLE }).resolvesOnce({}).rejects(conditionFailed()); // the lock; then the swap finds CLOSING
    ddb
      .on(GetCommand, { TableName: ACCOUNTS_TABLE, Key: { userId: SUB } })
      .resolvesOnce({ Item: account })
      .resolves({ Item: { ...account, status: 'CLOSING' } });

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result)).toMatchObject({ details: { status: 'CLOSING' } });
    // The key offboarding read (the old one) is offboarding's to disable and delete; the rotation's new key is deleted
    // here, and custom:apiid points back at the account's key.
    expect(apigw).toHaveReceivedCommandWith(DeleteApiKeyCommand, { apiKey: NEW_KEY_ID });
    expect(apigw).not.toHaveReceivedCommand(UpdateApiKeyCommand);
    expect(cognito).toHaveReceivedNthCommandWith(2, AdminUpdateUserAttributesCommand, { UserAttributes: [{ Name: 'custom:apiid', Value: API_KEY_ID }] });
  });

  it('the reconciler suspends the key after the lock, before the swap: the swap is refused, the new key deleted, 403', async () => {
    givenRotationSucceeds();
    ddb.on(UpdateCommand, { TableName: ACCOUNTS_TABLE }).resolvesOnce({}).rejects(conditionFailed());
    ddb
      .on(GetCommand, { TableName: ACCOUNTS_TABLE, Key: { userId: SUB } })
      .resolvesOnce({ Item: account })
      .resolves({ Item: { ...account, keySuspendedAt: SUSPENDED_AT } });

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(403);
    expect(bodyOf(result)).toMatchObject({ code: 'KeySuspended' });
    expect(apigw).toHaveReceivedCommandWith(DeleteApiKeyCommand, { apiKey: NEW_KEY_ID });
  });
});

describe('KeyMode SelfIssued', () => {
  const KEYS_TABLE = 'tollgate-test-self-issued-keys';
  const OLD_HASH = 'a'.repeat(64);
  const slotKey = { pk: `CUSTOMER#${SUB}` };
  const siAccount = { ...account, apiKeyId: 'si0123456789abcdef01' };

  function deps(): SelfIssuedDeps {
    // mockClient(DynamoDBDocumentClient) and mockClient(CognitoIdentityProviderClient) mock every instance.
    return {
      accounts: new DynamoAccountStore(ACCOUNTS_TABLE),
      users: new CognitoUserDirectory('us-east-1_EXAMPLE1', new CognitoIdentityProviderClient({})),
      accountKeys: new DynamoAccountKeyWriter(ACCOUNTS_TABLE),
      now: () => NOW,
      store: selfIssuedKeysStore(KEYS_TABLE),
    };
  }

  function given(slots: Record<string, unknown>[]): void {
    givenAccount(siAccount);
    ddb.on(UpdateCommand).resolves({});
    ddb.on(PutCommand).resolves({});
    const slot = ddb.on(GetCommand, { TableName: KEYS_TABLE, Key: slotKey });
    for (const item of slots.slice(0, -1)) slot.resolvesOnce({ Item: item });
    slot.resolves({ Item: slots.at(-1) });
    cognito.on(AdminUpdateUserAttributesCommand).resolves({});
  }

  const swapOf = { TableName: KEYS_TABLE, Key: slotKey, UpdateExpression: 'SET keyId = :new, #h = :hash' };

  it('refuses a suspended account with 403 before writing anything', async () => {
    given([{ keyId: siAccount.apiKeyId, plan: 'free', hash: OLD_HASH }]);
    givenAccount({ ...siAccount, keySuspendedAt: SUSPENDED_AT });

    await expect(rotateSelfIssued(deps(), SUB, 'req-1')).rejects.toMatchObject({ statusCode: 403, code: 'KeySuspended' });
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('swaps the key into the slot only while the slot is active (one conditional write)', async () => {
    given([{ keyId: siAccount.apiKeyId, plan: 'free', hash: OLD_HASH }]);

    const rotation = await rotateSelfIssued(deps(), SUB, 'req-2');

    expect(rotation.value).toMatch(/^tg_live_/);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      ...swapOf,
      ConditionExpression: 'keyId = :old AND (attribute_not_exists(#s) OR #s = :active)',
      ExpressionAttributeValues: expect.objectContaining({ ':old': siAccount.apiKeyId, ':active': 'active' }),
    });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { TableName: KEYS_TABLE, Key: { pk: `KEY#${OLD_HASH}` }, ExpressionAttributeValues: { ':r': 'revoked' } });
  });

  it.each([
    ['offboarding closed the slot', 'closed', 409, 'Conflict'],
    ['the reconciler suspended the slot', 'suspended', 403, 'KeySuspended'],
  ])('%s after the lock, before the swap: the swap is refused, the new key revoked, the lock released', async (_what, status, statusCode, code) => {
    // First read: the slot as the rotation found it; after the refused swap: as offboarding / the reconciler left it.
    given([{ keyId: siAccount.apiKeyId, plan: 'free', hash: OLD_HASH }, { keyId: siAccount.apiKeyId, plan: 'free', hash: OLD_HASH, status }]);
    ddb.on(UpdateCommand, swapOf).rejects(conditionFailed());

    await expect(rotateSelfIssued(deps(), SUB, 'req-3')).rejects.toMatchObject({ statusCode, code });

    const newKey = String(ddb.commandCalls(PutCommand)[0]!.args[0].input.Item?.pk);
    expect(newKey).toMatch(/^KEY#[0-9a-f]{64}$/);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { TableName: KEYS_TABLE, Key: { pk: newKey }, ExpressionAttributeValues: { ':r': 'revoked' } });
    // The old key is offboarding's (or stays suspended): the rotation leaves it alone, and the account keeps it.
    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, { Key: { pk: `KEY#${OLD_HASH}` } });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { TableName: ACCOUNTS_TABLE, UpdateExpression: 'REMOVE rotationLock, rotationLockExpiresAt' });
    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, { TableName: ACCOUNTS_TABLE, UpdateExpression: expect.stringMatching(/^SET apiKeyId/) });
    // custom:apiid is written before the swap (a deleted user is refused there), and put back once the swap is lost.
    const apiids = cognito.commandCalls(AdminUpdateUserAttributesCommand).map((c) => c.args[0].input.UserAttributes?.[0]?.Value);
    expect(apiids).toEqual([expect.stringMatching(/^si[0-9a-f]{18}$/), siAccount.apiKeyId]);
    expect(apiids[0]).not.toBe(siAccount.apiKeyId);
  });

  it('a user deleted in the pool (custom:apiid refused) gets 403 before the swap: old key, slot and account untouched', async () => {
    given([{ keyId: siAccount.apiKeyId, plan: 'free', hash: OLD_HASH }]);
    cognito.on(AdminUpdateUserAttributesCommand).rejects(Object.assign(new Error('User does not exist.'), { name: 'UserNotFoundException' }));

    await expect(rotateSelfIssued(deps(), SUB, 'req-4')).rejects.toMatchObject({ statusCode: 403 });

    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, swapOf);
    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, { Key: { pk: `KEY#${OLD_HASH}` } });
    const newKey = String(ddb.commandCalls(PutCommand)[0]!.args[0].input.Item?.pk);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { TableName: KEYS_TABLE, Key: { pk: newKey }, ExpressionAttributeValues: { ':r': 'revoked' } });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { TableName: ACCOUNTS_TABLE, UpdateExpression: 'REMOVE rotationLock, rotationLockExpiresAt' });
  });
});
