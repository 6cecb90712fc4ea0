import { ACCOUNTS_TABLE } from './env.ts';
import {
  APIGatewayClient,
  ConflictException,
  CreateUsagePlanKeyCommand,
  GetUsageCommand,
  NotFoundException,
  UpdateUsageCommand,
} from '@aws-sdk/client-api-gateway';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { PlanAccount } from '#shared/accounts';
import { quotaResetsAt } from '#shared/dates';
import { planCatalog } from '#shared/plans';
import { DynamoUsageHistory } from '#shared/tables/accounts';
import { mergeDays, segmentOf, segmentsOf, type UsageHistory } from '#shared/usage-history';
import { finishRotation, getUsage, type AccountDeps, type DailyUsage, type Rotation } from '../../../functions/account/domain.ts';
import { handler } from '../../../functions/api-key/handler.ts';
import { ACTIVE_ACCOUNT, API_KEY_ID, SUB, context } from './helpers.ts';

const apigw = mockClient(APIGatewayClient);
const ddb = mockClient(DynamoDBDocumentClient);

beforeEach(() => {
  apigw.reset();
  ddb.reset();
});

const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode, requestId: 'req-1' } });
const seg = (keyId: string, usagePlanId: string, days: Record<string, number>, recordedAt = '2025-11-20T00:00:00.000Z') => ({
  keyId,
  usagePlanId,
  recordedAt,
  days,
});

describe('mergeDays', () => {
  it('sums keys and plans, and counts a key, plan and day once whether it comes from a segment, the live read or both', () => {
    const segments = [
      seg('old1', 'free', { '2025-11-01': 4, '2025-11-02': 1 }),
      seg('old1', 'free', { '2025-11-01': 4 }), // the same rotation recorded twice
      seg('cur', 'free', { '2025-11-02': 3 }), // the key left free for basic
    ];
    const live = [{ keyId: 'cur', usagePlanId: 'basic', from: '2025-11-01', used: [0, 2, 7] }];

    expect(mergeDays(segments, live, '2025-11-01', '2025-11-03')).toEqual([4, 1 + 3 + 2, 7]);
    // The key back in free: a live count that kept the earlier days is not added to the segment's again.
    const back = [{ keyId: 'cur', usagePlanId: 'free', from: '2025-11-02', used: [3, 5] }];
    expect(mergeDays(segments, back, '2025-11-02', '2025-11-03')).toEqual([1 + 3, 5]);
  });

  it('answers zeros for days without usage and ignores days outside the range', () => {
    expect(mergeDays([seg('k', 'p', { '2025-10-31': 9, '2025-11-02': 2 })], [], '2025-11-01', '2025-11-02')).toEqual([0, 2]);
  });
});

describe('segmentOf / segmentsOf', () => {
  it('keeps the days with requests, dated from the read\'s first day', () => {
    const at = new Date('2025-11-23T13:45:10.000Z');
    expect(segmentOf({ keyId: 'k', usagePlanId: 'p', from: '2025-10-30', used: [1, 0, 0, 5] }, at)).toEqual({
      keyId: 'k',
      usagePlanId: 'p',
      recordedAt: '2025-11-23T13:45:10.000Z',
      days: { '2025-10-30': 1, '2025-11-02': 5 },
    });
  });

  it('reads an account without history, or with a malformed one, as no segments', () => {
    expect(segmentsOf(undefined)).toEqual([]);
    expect(segmentsOf({ usageHistory: 'x' })).toEqual([]);
    expect(segmentsOf({ usageHistory: { a: { keyId: 'k' }, b: seg('k', 'p', { '2025-11-01': 1 }) } })).toEqual([seg('k', 'p', { '2025-11-01': 1 })]);
  });
});

describe('quotaResetsAt', () => {
  it('is the start of the next UTC period: day, Monday, 1st of the month (across a year end)', () => {
    expect(quotaResetsAt('DAY', new Date('2026-11-30T23:59:59.999Z'))).toBe('2026-12-01T00:00:00.000Z');
    expect(quotaResetsAt('WEEK', new Date('2026-11-30T10:00:00Z'))).toBe('2026-12-07T00:00:00.000Z'); // a Monday
    expect(quotaResetsAt('WEEK', new Date('2026-12-06T23:00:00Z'))).toBe('2026-12-07T00:00:00.000Z'); // a Sunday
    expect(quotaResetsAt('MONTH', new Date('2026-11-30T19:00:00Z'))).toBe('2026-12-01T00:00:00.000Z');
    expect(quotaResetsAt('MONTH', new Date('2026-12-01T00:00:00Z'))).toBe('2027-01-01T00:00:00.000Z');
    expect(quotaResetsAt('MONTH', new Date('2024-02-29T12:00:00Z'))).toBe('2024-03-01T00:00:00.000Z');
  });
});

describe('DynamoUsageHistory', () => {
  const NOW = new Date('2026-11-30T12:00:00.000Z');
  const segment = seg('old1', 'free', { '2026-11-02': 4 }, NOW.toISOString());

  it('creates the map if needed, then sets the segment by id and drops segments past the retention', async () => {
    ddb.on(UpdateCommand).resolves({});
    const existing: UsageHistory = {
      stale: seg('k0', 'free', { '2025-09-01': 1 }, '2025-09-01T00:00:00.000Z'),
      recent: seg('k1', 'free', { '2026-11-01': 1 }, '2026-11-01T00:00:00.000Z'),
    };

    await new DynamoUsageHistory(ACCOUNTS_TABLE).record(SUB, 'rot-1', segment, existing, NOW);

    expect(ddb).toHaveReceivedNthCommandWith(1, UpdateCommand, {
      TableName: ACCOUNTS_TABLE,
      Key: { userId: SUB },
      UpdateExpression: 'SET usageHistory = if_not_exists(usageHistory, :empty)',
      ConditionExpression: 'attribute_exists(userId)',
    });
    expect(ddb).toHaveReceivedNthCommandWith(2, UpdateCommand, {
      UpdateExpression: 'SET usageHistory.#id = :segment REMOVE usageHistory.#old0',
      ExpressionAttributeNames: { '#id': 'rot-1', '#old0': 'stale' },
      ExpressionAttributeValues: { ':segment': segment },
      ConditionExpression: 'attribute_exists(userId)',
    });
  });

  it('leaves a deleted account alone, and passes other failures on', async () => {
    ddb.on(UpdateCommand).rejects(Object.assign(new Error('gone'), { name: 'ConditionalCheckFailedException' }));
    await expect(new DynamoUsageHistory(ACCOUNTS_TABLE).record(SUB, 'rot-1', segment, undefined, NOW)).resolves.toBeUndefined();
    ddb.on(UpdateCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    await expect(new DynamoUsageHistory(ACCOUNTS_TABLE).record(SUB, 'rot-1', segment, undefined, NOW)).rejects.toThrow('slow down');
  });
});

describe('getUsage across rotations and plan changes', () => {
  const NOW = new Date('2025-11-23T13:45:10.000Z');
  const deps = (account: PlanAccount, live: Record<string, number>): AccountDeps =>
    ({
      accounts: { get: () => Promise.resolve(account) },
      usagePlanIdFor: (plan: string) => Promise.resolve(`up-${plan}`),
      readUsage: (_plan: string, _key: string, from: string, to: string): Promise<DailyUsage[]> => {
        const out: DailyUsage[] = [];
        for (let at = Date.parse(`${from}T00:00:00Z`); at <= Date.parse(`${to}T00:00:00Z`); at += 86_400_000) {
          out.push({ used: live[new Date(at).toISOString().slice(0, 10)] ?? 0 });
        }
        return Promise.resolve(out);
      },
      catalog: planCatalog(),
      now: () => NOW,
    }) as unknown as AccountDeps;

  it('the period\'s days add up to quota.used, and remaining = limit − used', async () => {
    const account = {
      ...ACTIVE_ACCOUNT,
      plan: 'basic',
      usageHistory: {
        'rotation-1': seg('k0', 'up-free', { '2025-10-31': 50, '2025-11-02': 20 }),
        'plan-change-1': seg(API_KEY_ID, 'up-free', { '2025-11-05': 7 }),
      },
    } as PlanAccount;

    const view = await getUsage(deps(account, { '2025-11-05': 1, '2025-11-23': 30 }), SUB, '2025-10-31', '2025-11-23');

    const inPeriod = view.days.filter((d) => d.date >= '2025-11-01');
    expect(inPeriod.reduce((sum, d) => sum + d.used, 0)).toBe(20 + 7 + 1 + 30);
    expect(view.days[0]).toEqual({ date: '2025-10-31', used: 50 });
    expect(view.days.find((d) => d.date === '2025-11-05')).toEqual({ date: '2025-11-05', used: 8 });
    expect(view.quota).toEqual({
      limit: 100000,
      period: 'MONTH',
      periodStart: '2025-11-01',
      resetsAt: '2025-12-01T00:00:00.000Z',
      used: 58,
      remaining: 100000 - 58,
    });
  });

  it('shows nothing left after a downgrade below what was used, never a negative remaining', async () => {
    const account = { ...ACTIVE_ACCOUNT, usageHistory: { 'plan-change-1': seg(API_KEY_ID, 'up-basic', { '2025-11-03': 1500 }) } } as PlanAccount;
    const view = await getUsage(deps(account, {}), SUB, '2025-11-01', '2025-11-23');
    expect(view.quota).toMatchObject({ limit: 1000, used: 1500, remaining: 0 });
  });
});

describe('ApiKeyFunction record-usage', () => {
  const event = { action: 'record-usage', userId: SUB, usagePlanId: 'plan000001', keyId: API_KEY_ID, segmentId: 'plan-change-abc' };

  it('keeps the key\'s days with requests (the last 92) in the account under the segment id, key id only', async () => {
    apigw.on(GetUsageCommand).resolves({ items: { [API_KEY_ID]: [[0, 1000], [3, 997], [0, 997]] } });
    ddb.on(GetCommand).resolves({ Item: ACTIVE_ACCOUNT });
    ddb.on(UpdateCommand).resolves({});

    const result = await handler(event, context);

    expect(result).toEqual({ Days: 1 });
    const read = apigw.commandCalls(GetUsageCommand)[0]!.args[0].input;
    expect(read).toMatchObject({ usagePlanId: 'plan000001', keyId: API_KEY_ID });
    expect((Date.parse(read.endDate!) - Date.parse(read.startDate!)) / 86_400_000).toBe(91);
    const written = ddb.commandCalls(UpdateCommand)[1]!.args[0].input;
    expect(written.ExpressionAttributeNames).toEqual({ '#id': 'plan-change-abc' });
    const stored = written.ExpressionAttributeValues?.[':segment'] as { keyId: string; usagePlanId: string; days: Record<string, number> };
    expect(stored).toMatchObject({ keyId: API_KEY_ID, usagePlanId: 'plan000001' });
    const day = new Date(Date.parse(`${read.startDate!}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
    expect(stored.days).toEqual({ [day]: 3 });
  });

  it('has nothing to keep once the key left the plan (a repeat after the detach)', async () => {
    apigw.on(GetUsageCommand).rejects(new NotFoundException({ message: 'Invalid Key identifier specified', ...meta(404) }));
    await expect(handler(event, context)).resolves.toEqual({ Days: 0 });
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
  });

  it('names a DynamoDB failure ApiKey.UsageNotRecorded, for the workflow to retry', async () => {
    apigw.on(GetUsageCommand).resolves({ items: { [API_KEY_ID]: [[2, 998]] } });
    ddb.on(GetCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    await expect(handler(event, context)).rejects.toMatchObject({ name: 'ApiKey.UsageNotRecorded' });
  });
});

describe('ApiKeyFunction attach with a carry-over', () => {
  const event = { action: 'attach', usagePlanId: 'planbasic1', keyId: API_KEY_ID, userId: SUB, plan: 'basic' };
  const monthStart = (): string => `${new Date().toISOString().slice(0, 7)}-01`;

  it('sets the new plan\'s remaining to its limit minus what the account used this period', async () => {
    apigw.on(CreateUsagePlanKeyCommand).resolves({ id: API_KEY_ID, type: 'API_KEY' });
    apigw.on(GetUsageCommand).resolves({ items: {} });
    apigw.on(UpdateUsageCommand).resolves({});
    ddb.on(GetCommand).resolves({
      Item: { ...ACTIVE_ACCOUNT, usageHistory: { x: seg(API_KEY_ID, 'planfree01', { [monthStart()]: 12, '2000-01-01': 99 }) } },
    });

    await expect(handler(event, context)).resolves.toEqual({ UsagePlanId: 'planbasic1', KeyId: API_KEY_ID, QuotaCarriedOver: 12 });
    expect(apigw).toHaveReceivedCommandWith(UpdateUsageCommand, {
      usagePlanId: 'planbasic1',
      keyId: API_KEY_ID,
      patchOperations: [{ op: 'replace', path: '/remaining', value: String(100000 - 12) }],
    });
  });

  it('carries the quota over on a retry that finds the key in the plan already, and changes nothing when none was used', async () => {
    apigw.on(CreateUsagePlanKeyCommand).rejects(new ConflictException({ message: 'exists', ...meta(409) }));
    apigw.on(GetUsageCommand).resolves({ items: {} });
    ddb.on(GetCommand).resolves({ Item: ACTIVE_ACCOUNT });

    await expect(handler(event, context)).resolves.toEqual({ UsagePlanId: 'planbasic1', KeyId: API_KEY_ID, QuotaCarriedOver: 0 });
    expect(apigw).not.toHaveReceivedCommand(UpdateUsageCommand);
  });
});

describe('finishRotation keeps the old key\'s usage and carries over what it made during the rotation', () => {
  const NOW = new Date('2025-11-23T13:45:10.000Z');
  const rotation: Rotation = { id: 'newk3y0001', previousKeyId: API_KEY_ID, plan: 'free', usagePlanId: 'up-free', quotaCarriedOver: 10 };

  function fakeDeps(oldKeyToday: number, newKeyToday: number) {
    const calls: string[] = [];
    const recorded: { id: string; segment: unknown }[] = [];
    const series = (n: number, from: string, to: string): DailyUsage[] => {
      const days = (Date.parse(to) - Date.parse(from)) / 86_400_000 + 1;
      return Array.from({ length: days }, (_, i) => ({ used: i === days - 1 ? n : 0 }));
    };
    const deps = {
      accounts: { get: () => Promise.resolve(ACTIVE_ACCOUNT) },
      keys: {
        disableKey: (id: string) => (calls.push(`disable ${id}`), Promise.resolve()),
        usage: (_p: string, id: string, from: string, to: string) => (calls.push(`usage ${id}`), Promise.resolve(series(id === API_KEY_ID ? oldKeyToday : newKeyToday, from, to))),
        setRemaining: (_p: string, id: string, remaining: number) => (calls.push(`remaining ${id} ${remaining}`), Promise.resolve()),
        detachKey: (_p: string, id: string) => (calls.push(`detach ${id}`), Promise.resolve()),
        deleteKey: (id: string) => (calls.push(`delete ${id}`), Promise.resolve()),
        getKey: (id: string) => Promise.resolve({ id, value: 'NEW-VALUE-0123456789abcdef', enabled: true }),
      },
      usageHistory: { record: (_u: string, id: string, segment: unknown) => (recorded.push({ id, segment }), Promise.resolve()) },
      keyOwners: {
        endAt: (id: string, _u: string, notAfter: Date) => (calls.push(`owner ${id} ends ${notAfter.toISOString()}`), Promise.resolve(true)),
        retire: (id: string) => (calls.push(`owner ${id} retired`), Promise.resolve(true)),
        endRotation: (id: string, to: string) => (calls.push(`owner ${id} rotation to ${to} cleared`), Promise.resolve()),
      },
      catalog: planCatalog(),
      now: () => NOW,
    } as unknown as AccountDeps;
    return { deps, calls, recorded };
  }

  it('records the disabled key under the rotation id, then detaches and deletes it; nothing more when all was carried over', async () => {
    const { deps, calls, recorded } = fakeDeps(10, 0);
    await finishRotation(deps, rotation, SUB);
    expect(calls).toEqual([
      `owner ${API_KEY_ID} ends ${NOW.toISOString()}`,
      'owner newk3y0001 rotation to newk3y0001 cleared',
      `disable ${API_KEY_ID}`,
      `usage ${API_KEY_ID}`,
      `detach ${API_KEY_ID}`,
      `delete ${API_KEY_ID}`,
      `owner ${API_KEY_ID} retired`,
    ]);
    expect(recorded).toEqual([{ id: 'newk3y0001', segment: expect.objectContaining({ keyId: API_KEY_ID, usagePlanId: 'up-free', days: { '2025-11-23': 10 } }) }]);
  });

  it("clears the rotation's mark on the old key's record by itself on a replay, when the record already ends earlier", async () => {
    const { deps, calls } = fakeDeps(10, 0);
    (deps.keyOwners as { endAt: unknown }).endAt = (id: string) => (calls.push(`owner ${id} ends earlier already`), Promise.resolve(false));
    await finishRotation(deps, rotation, SUB);
    expect(calls.slice(0, 2)).toEqual([`owner ${API_KEY_ID} ends earlier already`, `owner ${API_KEY_ID} rotation to newk3y0001 cleared`]);
  });

  it('sets the new key\'s remaining again when the old key made requests after the carry-over', async () => {
    const { deps, calls } = fakeDeps(13, 2); // 3 more than the 10 carried over; the new key has made 2
    await finishRotation(deps, rotation, SUB);
    expect(calls).toEqual([
      `owner ${API_KEY_ID} ends ${NOW.toISOString()}`,
      'owner newk3y0001 rotation to newk3y0001 cleared',
      `disable ${API_KEY_ID}`,
      `usage ${API_KEY_ID}`,
      'usage newk3y0001',
      `remaining newk3y0001 ${1000 - 13 - 2}`,
      `detach ${API_KEY_ID}`,
      `delete ${API_KEY_ID}`,
      `owner ${API_KEY_ID} retired`,
    ]);
  });

  it('leaves the disabled key in its plan when its usage cannot be kept, for a retry to read it', async () => {
    const { deps, calls } = fakeDeps(10, 0);
    (deps.usageHistory as { record: unknown }).record = () => Promise.reject(Object.assign(new Error('slow'), { name: 'ThrottlingException' }));
    await finishRotation(deps, rotation, SUB);
    // The old key's owner record has ended already (now): the key-only lookup refuses it, retired or not.
    expect(calls).toEqual([
      `owner ${API_KEY_ID} ends ${NOW.toISOString()}`,
      'owner newk3y0001 rotation to newk3y0001 cleared',
      `disable ${API_KEY_ID}`,
      `usage ${API_KEY_ID}`,
    ]);
  });
});
