import { counterOf } from '../../../functions/shared/tables/self-issued-keys.ts';
import { counterPeriods, countersAsUsage, dayAttribute, dayOfAttribute, SELF_ISSUED_USAGE_ID, type UsageCounter } from '../../../functions/shared/self-issued-usage.ts';
import { mergeDays } from '../../../functions/shared/usage-history.ts';
import type { PlanAccount } from '../../../functions/shared/accounts.ts';
import type { Plan } from '../../../functions/shared/plans.ts';
import { selfIssuedUsage } from '../../../functions/account/self-issued-usage.ts';
import { closePeriod, type StatementDeps } from '../../../functions/statement/domain.ts';

describe('self-issued usage counters', () => {
  it('names a day attribute and reads it back; other attributes are not days', () => {
    expect(dayAttribute('2026-11-30')).toBe('d2026-11-30');
    expect(dayOfAttribute('d2026-11-30')).toBe('2026-11-30');
    for (const other of ['used', 'win', 'n', 'expiresAt', 'pk', 'd2026-11', 'dx026-11-30']) expect(dayOfAttribute(other)).toBeUndefined();
  });

  it('reads a counter item: used and its days, nothing else', () => {
    expect(counterOf('2026-11', { pk: 'USE#c#2026-11', used: 7, win: 1_795_000_000, n: 2, expiresAt: 1, 'd2026-11-02': 3, 'd2026-11-30': 4 })).toEqual({
      period: '2026-11',
      used: 7,
      days: { '2026-11-02': 3, '2026-11-30': 4 },
    });
    expect(counterOf('2026-11', {})).toEqual({ period: '2026-11', used: 0, days: {} });
  });

  it('finds the counters a range of days is in, for every quota period the catalogue uses, each once', () => {
    const monthly = [{ quotaPeriod: 'MONTH' as const }, { quotaPeriod: 'MONTH' as const }];
    expect(counterPeriods(monthly, '2026-09-01', '2026-11-30')).toEqual(['2026-09', '2026-10', '2026-11']);
    expect(counterPeriods(monthly, '2026-11-30', '2026-11-30')).toEqual(['2026-11']);
    // 2026-11-29 is a Sunday: its week began Monday 2026-11-23.
    expect(counterPeriods([{ quotaPeriod: 'WEEK' }, { quotaPeriod: 'DAY' }], '2026-11-29', '2026-11-30')).toEqual([
      'W2026-11-23',
      '2026-11-29',
      'W2026-11-30',
      '2026-11-30',
    ]);
  });

  it('adds the counters up per day, as a live read mergeDays sums with usage segments of the other key mode', () => {
    const counters: UsageCounter[] = [
      { period: '2026-10', used: 5, days: { '2026-10-31': 5 } },
      { period: '2026-11', used: 9, days: { '2026-11-01': 2, '2026-11-03': 7 } },
    ];
    const live = countersAsUsage(counters, '2026-10-31', '2026-11-03');
    expect(live).toEqual({ keyId: SELF_ISSUED_USAGE_ID, usagePlanId: SELF_ISSUED_USAGE_ID, from: '2026-10-31', used: [5, 2, 0, 7] });
    const segment = { keyId: 'abc123', usagePlanId: 'free1', recordedAt: '2026-11-02T00:00:00Z', days: { '2026-11-01': 4 } };
    expect(mergeDays([segment], [live], '2026-10-31', '2026-11-03')).toEqual([5, 6, 0, 7]);
  });
});

describe('GET /me/usage and the statement in SelfIssued mode (over fake counters)', () => {
  const catalog: Plan[] = [
    { name: 'free', monthlyPrice: 0, currency: 'USD', rateLimit: 5, burstLimit: 10, quotaLimit: 10, quotaPeriod: 'MONTH' },
    { name: 'basic', monthlyPrice: 19, currency: 'USD', rateLimit: 25, burstLimit: 50, quotaLimit: 100, quotaPeriod: 'MONTH' },
  ];
  const counters: Record<string, UsageCounter> = {
    '2026-10': { period: '2026-10', used: 7, days: { '2026-10-30': 7 } },
    '2026-11': { period: '2026-11', used: 12, days: { '2026-11-01': 2, '2026-11-29': 10 } },
  };
  const read: string[][] = [];
  const store = {
    readCounters: async (customerId: string, periods: readonly string[]) => {
      expect(customerId).toBe('sub-1');
      read.push([...periods]);
      return periods.flatMap((p) => (counters[p] ? [counters[p]] : []));
    },
  };
  const account = { userId: 'sub-1', apiKeyId: 'si0123456789abcdef01', plan: 'free', status: 'ACTIVE', version: 1 } as PlanAccount;
  beforeEach(() => (read.length = 0));

  it('answers the per-key mode\'s shape: days from the counters, quota.used the current counter (over the limit: 0 left)', async () => {
    const deps = { accounts: { get: async () => account }, catalog, now: () => new Date('2026-11-30T08:00:00Z'), store };
    expect(await selfIssuedUsage(deps, 'sub-1', '2026-10-30', '2026-11-01')).toEqual({
      keyId: 'si0123456789abcdef01',
      plan: 'free',
      from: '2026-10-30',
      to: '2026-11-01',
      days: [
        { date: '2026-10-30', used: 7 },
        { date: '2026-10-31', used: 0 },
        { date: '2026-11-01', used: 2 },
      ],
      quota: { limit: 10, period: 'MONTH', periodStart: '2026-11-01', resetsAt: '2026-12-01T00:00:00.000Z', used: 12, remaining: 0 },
    });
    expect(read).toEqual([['2026-10', '2026-11']]);
    // A range before the current period still reads the current counter, for the quota.
    expect((await selfIssuedUsage(deps, 'sub-1', '2026-10-01', '2026-10-31')).quota.used).toBe(12);
    expect(read[1]).toEqual(['2026-10', '2026-11']);
  });

  it("the month's statement counts that month's counters, never API Gateway usage", async () => {
    const puts: Record<string, unknown>[] = [];
    const deps: StatementDeps = {
      accounts: { get: async () => account },
      scanner: { scan: async () => ({ accounts: [] }) },
      billing: {
        planEntries: async () => [{ userId: 'sub-1', entryId: 'e1', type: 'PLAN_STARTED', plan: 'free', monthlyPrice: 0, currency: 'USD', effectiveAt: '2026-10-01T00:00:00.000Z', executionId: 'x' }],
        putIfAbsent: async (entry) => (puts.push(entry as unknown as Record<string, unknown>), true),
        existing: async () => new Set(),
      },
      usage: { daily: () => Promise.reject(new Error('no usage plan read in SelfIssued mode')) },
      usagePlanIdFor: () => Promise.reject(new Error('no usage plan lookup in SelfIssued mode')),
      selfIssued: store,
      catalog,
      now: () => new Date('2026-12-01T00:15:00Z'),
      pageConcurrency: 1,
    };
    expect(await closePeriod(deps, 'sub-1', '2026-11')).toMatchObject({ written: true });
    expect(puts).toEqual([expect.objectContaining({ period: '2026-11', requests: 12 })]);
    expect(read).toEqual([['2026-11']]);
  });
});
