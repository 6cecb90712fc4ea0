/**
 * The reconciler's KeyOwners decisions (KeyMode ApiGateway): the backfill of keys without a record (current key, and a
 * rotated-away key in its overlap with its `notAfter`), the suspension carried to both records before the account's
 * mark, convergence of a record out of step, and the batch read (DynamoKeyOwnerRecords.getMany) with mocked DynamoDB.
 */
import type { Account } from '#shared/accounts';
import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { batchGetItems } from '#shared/tables/batch-get';
import { DynamoKeyOwnerRecords, type KeyOwnerRecord } from '#shared/tables/key-owners';
import { reconcile, type KeyOwnerRecordsDeps, type ReconcileDeps } from '../../../functions/reconcile/domain.ts';
import 'aws-sdk-client-mock-jest';

const NOW = Date.parse('2026-11-30T12:00:00.000Z');
const NOW_ISO = new Date(NOW).toISOString();
const SUSPENDED_AT = '2026-11-30T10:00:00.000Z';
const OVERLAP_END = '2026-11-30T13:00:00.000Z';

const account = (userId: string, extra: Partial<Account> = {}): Account => ({ userId, status: 'ACTIVE', apiKeyId: `key${userId}`, plan: 'free', ...extra });
const rotated = (userId: string, expiresAt: string, extra: Partial<Account> = {}): Account =>
  account(userId, {
    previousKey: { id: `old${userId}`, rotationId: `key${userId}`, usagePlanId: 'free', plan: 'free', quotaCarriedOver: 0, expiresAt },
    ...extra,
  });

/** A KeyOwners table in memory with the store's conditions; `actions` lists every call and write, in order. */
function fakes(pages: Account[][], users: Record<string, boolean>, stored: KeyOwnerRecord[] = [], failRead = false) {
  const table = new Map(stored.map((r) => [r.apiKeyId, { ...r }]));
  const actions: string[] = [];
  const reads: string[][] = [];
  const keyOwners: KeyOwnerRecordsDeps = {
    async getMany(ids) {
      reads.push(ids);
      if (failRead) throw Object.assign(new Error('Throughput exceeds the current capacity'), { name: 'ProvisionedThroughputExceededException' });
      return new Map(ids.filter((id) => table.has(id)).map((id) => [id, { ...table.get(id)! }]));
    },
    async backfill(record) {
      if (table.has(record.apiKeyId)) return false;
      table.set(record.apiKeyId, { ...record });
      actions.push(`backfill ${record.apiKeyId}${record.notAfter ? ` until ${record.notAfter}` : ''}${record.suspendedAt ? ' suspended' : ''}`);
      return true;
    },
    async setSuspended(apiKeyId, userId, suspended, now) {
      const record = table.get(apiKeyId);
      if (record?.userId !== userId) return false;
      if (suspended) record.suspendedAt ??= now.toISOString();
      else delete record.suspendedAt;
      actions.push(`record ${apiKeyId} ${suspended ? 'suspended' : 'unsuspended'}`);
      return true;
    },
  };
  const deps: ReconcileDeps = {
    async *accounts() {
      for (const page of pages) yield page;
    },
    async user(userId) {
      const enabled = users[userId];
      return enabled === undefined ? undefined : { enabled };
    },
    offboard: async () => true,
    now: () => NOW,
    async setKeyEnabled(apiKeyId, enabled) {
      actions.push(`key ${apiKeyId} ${enabled ? 'on' : 'off'}`);
    },
    async markSuspended(userId, _apiKeyId, suspended) {
      actions.push(`mark ${userId} ${suspended ? 'on' : 'off'}`);
    },
    recordEmail: async () => false,
    keyOwners,
  };
  return { deps, table, actions, reads };
}

describe('reconcile: KeyOwners records (KeyMode ApiGateway)', () => {
  it('records, with one batch read per page, every ACTIVE account key that has none, and a rotated-away key until its overlap ends', async () => {
    const pages = [
      // previousKey.expiresAt as a rotation writes it (whole seconds, no milliseconds); the record takes endAt's form.
      [account('a'), rotated('b', OVERLAP_END.replace('.000Z', 'Z')), account('c', { status: 'ONBOARDING', apiKeyId: undefined })],
      [rotated('d', '2026-11-30T11:00:00.000Z'), account('e', { status: 'CLOSING' })],
    ];
    const { deps, table, actions, reads } = fakes(pages, { a: true, b: true, c: true, d: true, e: true });

    await expect(reconcile(deps)).resolves.toMatchObject({ checked: 5, keysRecorded: 4, keyRecordsUpdated: 0, failed: 0 });
    expect(reads).toEqual([['keya', 'keyb', 'oldb'], ['keyd']]);
    expect(actions).toEqual(['backfill keya', 'backfill keyb', `backfill oldb until ${OVERLAP_END}`, 'backfill keyd']);
    expect(table.get('oldb')).toEqual({ apiKeyId: 'oldb', userId: 'b', createdAt: NOW_ISO, notAfter: OVERLAP_END });
    expect(table.get('keya')).toEqual({ apiKeyId: 'keya', userId: 'a', createdAt: NOW_ISO });
    // An ended overlap, an account that is not ACTIVE: no record.
    expect([...table.keys()].sort()).toEqual(['keya', 'keyb', 'keyd', 'oldb']);
  });

  it('leaves records that are in step alone: a second run writes nothing', async () => {
    const { deps, actions } = fakes([[account('a'), rotated('b', OVERLAP_END, { keySuspendedAt: SUSPENDED_AT })]], { a: true, b: false });

    await reconcile(deps);
    actions.length = 0;
    await expect(reconcile(deps)).resolves.toMatchObject({ keysRecorded: 0, keyRecordsUpdated: 0, suspended: 0, restored: 0 });
    expect(actions).toEqual([]);
  });

  it('backfills the keys of a suspended account with the suspension', async () => {
    const { deps, table } = fakes([[rotated('b', OVERLAP_END, { keySuspendedAt: SUSPENDED_AT })]], { b: false });

    await expect(reconcile(deps)).resolves.toMatchObject({ keysRecorded: 2, suspended: 0 });
    expect(table.get('keyb')?.suspendedAt).toBe(SUSPENDED_AT);
    expect(table.get('oldb')?.suspendedAt).toBe(SUSPENDED_AT);
  });

  it('suspends a disabled user: key off, then both records (current and in its overlap), then the mark', async () => {
    const stored = [
      { apiKeyId: 'keya', userId: 'a', createdAt: SUSPENDED_AT },
      { apiKeyId: 'olda', userId: 'a', createdAt: SUSPENDED_AT, notAfter: OVERLAP_END },
    ];
    const { deps, actions, table } = fakes([[rotated('a', OVERLAP_END)]], { a: false }, stored);

    await expect(reconcile(deps)).resolves.toMatchObject({ suspended: 1, keysRecorded: 0, keyRecordsUpdated: 2 });
    expect(actions).toEqual(['key keya off', 'record keya suspended', 'record olda suspended', 'mark a on']);
    expect(table.get('olda')).toMatchObject({ suspendedAt: NOW_ISO, notAfter: OVERLAP_END });
  });

  it('restores a re-enabled user: key on, then both records cleared, then the mark removed', async () => {
    const stored = [
      { apiKeyId: 'keya', userId: 'a', createdAt: SUSPENDED_AT, suspendedAt: SUSPENDED_AT },
      { apiKeyId: 'olda', userId: 'a', createdAt: SUSPENDED_AT, notAfter: OVERLAP_END, suspendedAt: SUSPENDED_AT },
    ];
    const { deps, actions, table } = fakes([[rotated('a', OVERLAP_END, { keySuspendedAt: SUSPENDED_AT })]], { a: true }, stored);

    await expect(reconcile(deps)).resolves.toMatchObject({ restored: 1, keyRecordsUpdated: 2 });
    expect(actions).toEqual(['key keya on', 'record keya unsuspended', 'record olda unsuspended', 'mark a off']);
    expect(table.get('olda')?.suspendedAt).toBeUndefined();
  });

  it('sets right a record out of step with the account (a run that failed before the mark, or after it)', async () => {
    const stored = [
      // The account is suspended (mark written) but this record is not: a crash between the records and the mark of an older run.
      { apiKeyId: 'keya', userId: 'a', createdAt: SUSPENDED_AT },
      // The account is not suspended but the record is.
      { apiKeyId: 'keyb', userId: 'b', createdAt: SUSPENDED_AT, suspendedAt: SUSPENDED_AT },
    ];
    const { deps, actions } = fakes([[account('a', { keySuspendedAt: SUSPENDED_AT }), account('b')]], { a: false, b: true }, stored);

    await expect(reconcile(deps)).resolves.toMatchObject({ suspended: 0, restored: 0, keyRecordsUpdated: 2 });
    expect(actions).toEqual(['record keya suspended', 'record keyb unsuspended']);
  });

  it("never writes another user's record or a retired one", async () => {
    const stored = [
      { apiKeyId: 'keya', userId: 'someone-else', createdAt: SUSPENDED_AT },
      { apiKeyId: 'keyb', userId: 'b', createdAt: SUSPENDED_AT, retiredAt: SUSPENDED_AT, expiresAt: 1 },
    ];
    const { deps, actions } = fakes([[account('a', { keySuspendedAt: SUSPENDED_AT }), account('b', { keySuspendedAt: SUSPENDED_AT })]], { a: false, b: false }, stored);

    await expect(reconcile(deps)).resolves.toMatchObject({ keysRecorded: 0, keyRecordsUpdated: 0 });
    expect(actions).toEqual([]);
  });

  it('when the batch read fails, still suspends the records that exist and leaves the backfill to the next run', async () => {
    const stored = [{ apiKeyId: 'keya', userId: 'a', createdAt: SUSPENDED_AT }];
    const { deps, actions } = fakes([[account('a'), account('b')]], { a: false, b: true }, stored, true);

    await expect(reconcile(deps)).resolves.toMatchObject({ suspended: 1, keysRecorded: 0, keyRecordsUpdated: 1, failed: 0 });
    expect(actions).toEqual(['key keya off', 'record keya suspended', 'mark a on']);
  });

  it('has no KeyOwners work in KeyMode SelfIssued (no keyOwners) nor for a key slot id', async () => {
    const { deps, actions, reads } = fakes([[account('a', { apiKeyId: 'si0123456789abcdef01' })]], { a: true });

    await expect(reconcile(deps)).resolves.toMatchObject({ keysRecorded: 0 });
    expect(reads).toEqual([]);
    expect(actions).toEqual([]);
  });
});

describe('DynamoKeyOwnerRecords.getMany', () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  const TABLE = 'tollgate-test-key-owners';
  beforeEach(() => ddb.reset());

  it('reads distinct keys in batches of 100 and asks again for UnprocessedKeys', async () => {
    const ids = Array.from({ length: 150 }, (_, i) => `k${i}`);
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [TABLE]: [{ apiKeyId: 'k0', userId: 'u0', createdAt: NOW_ISO }] }, UnprocessedKeys: { [TABLE]: { Keys: [{ apiKeyId: 'k1' }] } } })
      .resolvesOnce({ Responses: { [TABLE]: [{ apiKeyId: 'k1', userId: 'u1', createdAt: NOW_ISO }] } })
      .resolvesOnce({ Responses: { [TABLE]: [{ apiKeyId: 'k149', userId: 'u149', createdAt: NOW_ISO }] } });

    const records = await new DynamoKeyOwnerRecords(TABLE, ddb as unknown as DynamoDBDocumentClient).getMany([...ids, 'k0', 'k149']);

    expect([...records.keys()].sort()).toEqual(['k0', 'k1', 'k149']);
    expect(records.get('k1')).toEqual({ apiKeyId: 'k1', userId: 'u1', createdAt: NOW_ISO });
    const keys = ddb.commandCalls(BatchGetCommand).map((c) => c.args[0].input.RequestItems![TABLE]!.Keys!.length);
    expect(keys).toEqual([100, 1, 50]);
    expect(ddb.commandCalls(BatchGetCommand)[1]!.args[0].input.RequestItems![TABLE]!.Keys).toEqual([{ apiKeyId: 'k1' }]);
  });

  it('backs off exponentially between rounds and gives up with an error when keys stay unprocessed', async () => {
    ddb.on(BatchGetCommand).resolves({ UnprocessedKeys: { [TABLE]: { Keys: [{ apiKeyId: 'k0' }] } } });
    const pauses: number[] = [];

    await expect(
      batchGetItems(ddb as unknown as DynamoDBDocumentClient, TABLE, [{ apiKeyId: 'k0' }], {}, async (ms) => {
        pauses.push(ms);
      }),
    ).rejects.toThrow(/unprocessed after 10 rounds/);
    expect(pauses).toEqual([50, 100, 200, 400, 800, 1600, 2000, 2000, 2000]);
  });
});
