/**
 * ApiKeyFunction's `retire-owner` action (the offboarding's and the onboarding compensation's last word on a deleted
 * key): the key's KeyOwners record becomes a tombstone with its TTL, ids only in and out, DynamoDB failures named for
 * the workflows' Retry. Mocked DynamoDB.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../../functions/api-key/handler.ts';
import { RETIRED_RECORD_DAYS } from '#shared/tables/key-owners';
import { API_KEY_ID, SUB, context } from './helpers.ts';

const KEY_OWNERS_TABLE = 'tollgate-test-key-owners';
const ddb = mockClient(DynamoDBDocumentClient);

beforeAll(() => {
  process.env.KEY_OWNERS_TABLE = KEY_OWNERS_TABLE;
});
beforeEach(() => {
  ddb.reset();
  jest.useRealTimers();
});

describe('retire-owner', () => {
  it("retires the key's record: retiredAt kept from the first try, expiresAt RETIRED_RECORD_DAYS later in epoch seconds", async () => {
    jest.useFakeTimers({ now: Date.parse('2026-12-01T04:00:00.500Z'), doNotFake: ['nextTick', 'setImmediate'] });
    ddb.on(UpdateCommand).resolves({});

    await expect(handler({ action: 'retire-owner', userId: SUB, keyId: API_KEY_ID }, context)).resolves.toEqual({ Retired: true });

    const input = ddb.commandCalls(UpdateCommand)[0]!.args[0].input;
    expect(input).toMatchObject({
      TableName: KEY_OWNERS_TABLE,
      Key: { apiKeyId: API_KEY_ID },
      ConditionExpression: 'attribute_not_exists(apiKeyId) OR userId = :user',
      ExpressionAttributeValues: { ':user': SUB, ':now': '2026-12-01T04:00:00.500Z', ':expiresAt': Date.parse('2026-12-01T04:00:00Z') / 1000 + RETIRED_RECORD_DAYS * 86_400 },
    });
    expect(input.UpdateExpression).toContain('retiredAt = if_not_exists(retiredAt, :now)');
  });

  it("leaves another user's record alone and says so", async () => {
    ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));

    await expect(handler({ action: 'retire-owner', userId: SUB, keyId: API_KEY_ID }, context)).resolves.toEqual({ Retired: false });
  });

  it('names a DynamoDB failure ApiKey.KeyOwnerNotRecorded (retried by the workflows)', async () => {
    ddb.on(UpdateCommand).rejects(Object.assign(new Error('Throughput exceeds the current capacity'), { name: 'ProvisionedThroughputExceededException' }));

    await expect(handler({ action: 'retire-owner', userId: SUB, keyId: API_KEY_ID }, context)).rejects.toMatchObject({ name: 'ApiKey.KeyOwnerNotRecorded' });
  });

  it('has nothing to retire in KeyMode SelfIssued (keyId is a key slot id, with no record)', async () => {
    process.env.KEY_MODE = 'SelfIssued';
    try {
      await expect(handler({ action: 'retire-owner', userId: SUB, keyId: 'si0123456789abcdef01' }, context)).resolves.toEqual({ Retired: false });
    } finally {
      delete process.env.KEY_MODE;
    }
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });

  it('refuses a malformed event without writing', async () => {
    await expect(handler({ action: 'retire-owner', userId: SUB }, context)).rejects.toMatchObject({ name: 'ApiKey.InvalidEvent' });
    expect(ddb.commandCalls(UpdateCommand)).toHaveLength(0);
  });
});
