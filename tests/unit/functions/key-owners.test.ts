import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { KeyOwners } from '../../../functions/shared/caller.ts';
import {
  DynamoKeyOwnerRecords,
  RecordedKeyOwners,
  RETIRED_RECORD_DAYS,
  ownerOfRecord,
  type KeyOwnerRecord,
} from '../../../functions/shared/tables/key-owners.ts';

const NOW = new Date('2026-12-01T10:00:00.000Z');
const TABLE = 'tg-KeyOwnersTable';
const ddb = mockClient(DynamoDBDocumentClient);
const failed = () => new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
const record = (extra: Partial<KeyOwnerRecord> = {}): KeyOwnerRecord => ({ apiKeyId: 'k1', userId: 'u1', createdAt: '2026-11-01T00:00:00.000Z', ...extra });

beforeEach(() => ddb.reset());

describe('ownerOfRecord', () => {
  it("admits a current key (no notAfter) as its user's, with no end", () => {
    expect(ownerOfRecord(record(), NOW)).toEqual({ userId: 'u1' });
  });

  it("admits a rotated-away key until its notAfter (exclusive), with `until` in epoch ms, and no one's from then on", () => {
    const notAfter = '2026-12-01T10:00:05.000Z';
    expect(ownerOfRecord(record({ notAfter }), NOW)).toEqual({ userId: 'u1', until: Date.parse(notAfter) });
    expect(ownerOfRecord(record({ notAfter }), new Date(notAfter))).toBeUndefined();
  });

  it('refuses a retired key, a suspended user\'s key and a key without a record', () => {
    expect(ownerOfRecord(record({ retiredAt: NOW.toISOString() }), NOW)).toBeUndefined();
    expect(ownerOfRecord(record({ suspendedAt: NOW.toISOString(), notAfter: '2027-01-01T00:00:00.000Z' }), NOW)).toBeUndefined();
    expect(ownerOfRecord(undefined, NOW)).toBeUndefined();
  });
});

describe('DynamoKeyOwnerRecords', () => {
  const records = new DynamoKeyOwnerRecords(TABLE);

  it('reads a record with one strongly consistent GetItem', async () => {
    ddb.on(GetCommand).resolves({ Item: record() });
    await expect(records.get('k1')).resolves.toEqual(record());
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { TableName: TABLE, Key: { apiKeyId: 'k1' }, ConsistentRead: true });
  });

  it('records a key for its user only, keeping the first createdAt and nothing else a later write set', async () => {
    ddb.on(UpdateCommand).resolvesOnce({}).rejects(failed());
    await expect(records.record('k1', 'u1', NOW)).resolves.toBe(true);
    await expect(records.record('k1', 'someone-else', NOW)).resolves.toBe(false);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: TABLE,
      Key: { apiKeyId: 'k1' },
      UpdateExpression: 'SET userId = :user, createdAt = if_not_exists(createdAt, :now)',
      ConditionExpression: 'attribute_not_exists(apiKeyId) OR userId = :user',
      ExpressionAttributeValues: { ':user': 'u1', ':now': NOW.toISOString() },
    });
  });

  it('moves notAfter earlier only, creating the record of a key that has none', async () => {
    ddb.on(UpdateCommand).resolves({});
    const end = new Date('2026-12-01T11:00:00.000Z');
    await records.endAt('k1', 'u1', end, NOW);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      // A rotation that committed: its mark (rotatingTo) is cleared with the end.
      UpdateExpression: 'SET userId = :user, createdAt = if_not_exists(createdAt, :now), notAfter = :notAfter REMOVE rotatingTo',
      ConditionExpression: 'attribute_not_exists(apiKeyId) OR (userId = :user AND (attribute_not_exists(notAfter) OR notAfter > :notAfter))',
      ExpressionAttributeValues: { ':user': 'u1', ':now': NOW.toISOString(), ':notAfter': end.toISOString() },
    });
  });

  it("marks a rotation of the user's key before it commits, and clears only that rotation's mark when it is undone", async () => {
    ddb.on(UpdateCommand).resolvesOnce({}).resolvesOnce({}).rejects(failed());
    await expect(records.beginRotation('k1', 'u1', 'k2', NOW)).resolves.toBe(true);
    await records.endRotation('k1', 'k2');
    await expect(records.endRotation('k1', 'k3')).resolves.toBeUndefined(); // another rotation's mark: left alone
    const [begin, end] = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(begin).toMatchObject({
      Key: { apiKeyId: 'k1' },
      UpdateExpression: 'SET userId = :user, createdAt = if_not_exists(createdAt, :now), rotatingTo = :to',
      ConditionExpression: 'attribute_not_exists(apiKeyId) OR userId = :user',
      ExpressionAttributeValues: { ':user': 'u1', ':now': NOW.toISOString(), ':to': 'k2' },
    });
    expect(end).toMatchObject({ UpdateExpression: 'REMOVE rotatingTo', ConditionExpression: 'rotatingTo = :to', ExpressionAttributeValues: { ':to': 'k2' } });
  });

  it(`retires a key with a tombstone that DynamoDB's TTL removes ${RETIRED_RECORD_DAYS} days later (epoch seconds)`, async () => {
    ddb.on(UpdateCommand).resolves({});
    await records.retire('k1', 'u1', NOW);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression:
        // A repeat (a retried retirement, the workflow after a cancel) keeps the first retirement's TTL too.
        'SET userId = :user, createdAt = if_not_exists(createdAt, :now), retiredAt = if_not_exists(retiredAt, :now), expiresAt = if_not_exists(expiresAt, :expiresAt)',
      ConditionExpression: 'attribute_not_exists(apiKeyId) OR userId = :user',
      ExpressionAttributeValues: { ':user': 'u1', ':now': NOW.toISOString(), ':expiresAt': NOW.getTime() / 1000 + RETIRED_RECORD_DAYS * 86_400 },
    });
  });

  it('marks and clears a suspension on an existing record of the user only', async () => {
    ddb.on(UpdateCommand).resolves({});
    await records.setSuspended('k1', 'u1', true, NOW);
    await records.setSuspended('k1', 'u1', false, NOW);
    const [mark, clear] = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(mark).toMatchObject({ UpdateExpression: 'SET suspendedAt = if_not_exists(suspendedAt, :now)', ConditionExpression: 'userId = :user' });
    expect(clear).toMatchObject({ UpdateExpression: 'REMOVE suspendedAt', ConditionExpression: 'userId = :user', ExpressionAttributeValues: { ':user': 'u1' } });
  });

  it('backfills only a key that has no record', async () => {
    ddb.on(PutCommand).resolvesOnce({}).rejects(failed());
    await expect(records.backfill(record())).resolves.toBe(true);
    await expect(records.backfill(record())).resolves.toBe(false);
    expect(ddb).toHaveReceivedCommandWith(PutCommand, { TableName: TABLE, Item: record(), ConditionExpression: 'attribute_not_exists(apiKeyId)' });
  });

  it('lets any other DynamoDB error through', async () => {
    ddb.on(UpdateCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    await expect(records.record('k1', 'u1', NOW)).rejects.toMatchObject({ name: 'ThrottlingException' });
  });
});

describe('RecordedKeyOwners', () => {
  const legacy = (answer: string | undefined): KeyOwners & { calls: number } => {
    const l = { calls: 0, ownerOf: () => ((l.calls += 1), Promise.resolve(answer === undefined ? undefined : { userId: answer })) };
    return l;
  };

  it("answers from the key's record, never asking the legacy lookup when there is one (even one that refuses)", async () => {
    const fallback = legacy('u-legacy');
    const owners = new RecordedKeyOwners({ get: (id) => Promise.resolve(id === 'k1' ? record() : record({ apiKeyId: id, retiredAt: NOW.toISOString() })) }, fallback);
    await expect(owners.ownerOf('k1', NOW)).resolves.toEqual({ userId: 'u1' });
    await expect(owners.ownerOf('k2', NOW)).resolves.toBeUndefined();
    expect(fallback.calls).toBe(0);
  });

  it('asks the legacy lookup (the Accounts table indexes) only for a key with no record', async () => {
    const fallback = legacy('u-legacy');
    const owners = new RecordedKeyOwners({ get: () => Promise.resolve(undefined) }, fallback);
    await expect(owners.ownerOf('k9', NOW)).resolves.toEqual({ userId: 'u-legacy' });
    expect(fallback.calls).toBe(1);
    await expect(new RecordedKeyOwners({ get: () => Promise.resolve(undefined) }).ownerOf('k9', NOW)).resolves.toBeUndefined();
  });

  it('asks the Accounts table about a key its record would admit while a rotation of it is under way, within its notAfter', async () => {
    const rotating = record({ rotatingTo: 'k2' });
    // Committed (no overlap): the account holds k2 alone, so k1 is no one's though its record still says current.
    const committed = legacy(undefined);
    await expect(new RecordedKeyOwners({ get: () => Promise.resolve(rotating) }, committed).ownerOf('k1', NOW)).resolves.toBeUndefined();
    expect(committed.calls).toBe(1);
    // Not committed: still the account's current key.
    await expect(new RecordedKeyOwners({ get: () => Promise.resolve(rotating) }, legacy('u1')).ownerOf('k1', NOW)).resolves.toEqual({ userId: 'u1' });
    // The record's own end still bounds the answer.
    const notAfter = '2026-12-01T10:00:05.000Z';
    const ending = new RecordedKeyOwners({ get: () => Promise.resolve(record({ rotatingTo: 'k2', notAfter })) }, legacy('u1'));
    await expect(ending.ownerOf('k1', NOW)).resolves.toEqual({ userId: 'u1', until: Date.parse(notAfter) });
    // A refusal by the record is final: retired, suspended or past its end, with or without a mark.
    const final = legacy('u1');
    const retired = new RecordedKeyOwners({ get: () => Promise.resolve(record({ rotatingTo: 'k2', retiredAt: NOW.toISOString() })) }, final);
    await expect(retired.ownerOf('k1', NOW)).resolves.toBeUndefined();
    expect(final.calls).toBe(0);
  });
});
