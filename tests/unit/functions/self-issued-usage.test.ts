import { counterOf } from '../../../functions/shared/tables/self-issued-keys.ts';
import { counterPeriods, countersAsUsage, dayAttribute, dayOfAttribute, SELF_ISSUED_USAGE_ID, type UsageCounter } from '../../../functions/shared/self-issued-usage.ts';
import { mergeDays } from '../../../functions/shared/usage-history.ts';

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
