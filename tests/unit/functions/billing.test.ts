import { PLAN_CATALOG } from './env.ts';
import {
  InvalidPeriodError,
  assertPeriodEnded,
  computeStatement,
  currentPeriod,
  periodBounds,
  previousPeriod,
  prorate,
  statementEntryId,
  type LedgerEntry,
} from '#shared/billing';
import { parsePlanCatalog } from '#shared/plans';

const catalog = parsePlanCatalog(JSON.stringify(PLAN_CATALOG));
const PRICES: Record<string, number> = { free: 0, basic: 19, pro: 99 };

let seq = 0;
function started(at: string, plan: string, monthlyPrice: number | undefined = PRICES[plan]): LedgerEntry {
  seq += 1;
  return {
    entryId: `${at}#PLAN_STARTED#onboard-${seq}`,
    type: 'PLAN_STARTED',
    plan,
    ...(monthlyPrice !== undefined ? { monthlyPrice } : {}),
    currency: 'USD',
    effectiveAt: at,
    executionId: `arn:aws:states:us-east-1:123456789012:execution:tollgate-onboarding:onboard-${seq}`,
  };
}

function changed(at: string, fromPlan: string, toPlan: string): LedgerEntry {
  seq += 1;
  return {
    entryId: `${at}#PLAN_CHANGED#plan-${seq}`,
    type: 'PLAN_CHANGED',
    fromPlan,
    toPlan,
    plan: toPlan,
    fromPrice: PRICES[fromPlan],
    toPrice: PRICES[toPlan],
    monthlyPrice: PRICES[toPlan],
    currency: 'USD',
    effectiveAt: at,
    prorationBasis: 'DAILY',
    executionId: `arn:aws:states:us-east-1:123456789012:execution:tollgate-plan-change:plan-${seq}`,
  };
}

describe('periodBounds', () => {
  it('gives the UTC month, end exclusive, and its number of days', () => {
    expect(periodBounds('2025-11')).toEqual({
      period: '2025-11',
      periodStart: '2025-11-01T00:00:00.000Z',
      periodEnd: '2025-12-01T00:00:00.000Z',
      days: 30,
    });
    expect(periodBounds('2025-12').periodEnd).toBe('2026-01-01T00:00:00.000Z');
    expect(periodBounds('2024-02').days).toBe(29);
    expect(periodBounds('2025-02').days).toBe(28);
    expect(periodBounds('2000-02').days).toBe(29);
    expect(periodBounds('2100-02').days).toBe(28);
  });

  it.each(['2025-13', '2025-00', '2025-1', '25-01', '2025/11', '2025-11-01', '', ' 2025-11', '1969-12'])(
    'rejects %p with an error named InvalidPeriod',
    (period) => {
      expect(() => periodBounds(period)).toThrow(InvalidPeriodError);
      try {
        periodBounds(period);
      } catch (error: unknown) {
        expect((error as Error).name).toBe('InvalidPeriod');
      }
    },
  );

  it('names the statement entry after the period end, so it sorts after every entry of the period', () => {
    const bounds = periodBounds('2025-11');

    expect(statementEntryId(bounds)).toBe('2025-12-01T00:00:00.000Z#STATEMENT#2025-11');
    expect(statementEntryId(bounds) > '2025-11-30T23:59:59.999Z#PLAN_CHANGED#plan-x').toBe(true);
  });
});

describe('currentPeriod / previousPeriod', () => {
  it('take the UTC month of the instant', () => {
    expect(currentPeriod(new Date('2025-11-23T13:45:10Z'))).toBe('2025-11');
    expect(previousPeriod(new Date('2025-11-23T13:45:10Z'))).toBe('2025-10');
    // 23:30 on Nov 30 in New York is already December in UTC.
    expect(currentPeriod(new Date('2025-11-30T23:30:00-05:00'))).toBe('2025-12');
  });

  it('cross the year boundary', () => {
    expect(previousPeriod(new Date('2026-01-01T00:15:00Z'))).toBe('2025-12');
    expect(currentPeriod(new Date('2025-12-31T23:59:59.999Z'))).toBe('2025-12');
  });

  it('reject an invalid date', () => {
    expect(() => currentPeriod(new Date('nope'))).toThrow(InvalidPeriodError);
    expect(() => previousPeriod(new Date(Number.NaN))).toThrow(InvalidPeriodError);
  });
});

describe('assertPeriodEnded', () => {
  const november = periodBounds('2025-11');

  it('accepts a period from the first instant after it ends (UTC)', () => {
    expect(() => assertPeriodEnded(november, new Date('2025-12-01T00:00:00.000Z'))).not.toThrow();
    expect(() => assertPeriodEnded(november, new Date('2026-06-15T12:00:00.000Z'))).not.toThrow();
  });

  it.each([
    ['its last millisecond', '2025-11-30T23:59:59.999Z'],
    ['its first instant', '2025-11-01T00:00:00.000Z'],
    ['a time before it (a future period)', '2025-06-15T00:00:00.000Z'],
    ['23:30 UTC on the last day (already 1 December in UTC+2, not in UTC)', '2025-11-30T23:30:00.000Z'],
  ])('refuses the period at %s with Billing.PeriodNotEnded, saying when it can be closed', (_label, now) => {
    let error: unknown;
    try {
      assertPeriodEnded(november, new Date(now));
    } catch (e: unknown) {
      error = e;
    }
    expect(error).toMatchObject({
      name: 'Billing.PeriodNotEnded',
      message: `Period 2025-11 has not ended: it can be closed from 2025-12-01T00:00:00.000Z (UTC); it is ${now}`,
    });
  });

  it('refuses an invalid date as InvalidPeriod', () => {
    expect(() => assertPeriodEnded(november, new Date('nope'))).toThrow(InvalidPeriodError);
  });
});

describe('prorate', () => {
  it('rounds to whole cents from the price in cents', () => {
    expect(prorate(19, 15, 30)).toBe(950);
    expect(prorate(99, 1, 30)).toBe(330);
    expect(prorate(19.99, 30, 30)).toBe(1999);
    expect(prorate(19, 14, 29)).toBe(917); // 917.24
    expect(prorate(99, 15, 29)).toBe(5121); // 5120.69
    expect(prorate(0, 30, 30)).toBe(0);
  });
});

describe('computeStatement', () => {
  it('is empty without entries', () => {
    expect(computeStatement([], '2025-11', catalog)).toEqual({
      period: '2025-11',
      periodStart: '2025-11-01T00:00:00.000Z',
      periodEnd: '2025-12-01T00:00:00.000Z',
      lines: [],
      totalCents: 0,
      currency: 'USD',
    });
  });

  it('charges a whole month for a plan started before the period', () => {
    const statement = computeStatement([started('2025-09-14T08:00:00.000Z', 'basic')], '2025-11', catalog);

    expect(statement.lines).toEqual([
      {
        plan: 'basic',
        from: '2025-11-01T00:00:00.000Z',
        to: '2025-12-01T00:00:00.000Z',
        days: 30,
        monthlyPrice: 19,
        amountCents: 1900,
      },
    ]);
    expect(statement.totalCents).toBe(1900);
  });

  it('charges from the day an account started mid-month, that day included, and nothing before', () => {
    const statement = computeStatement([started('2025-11-10T15:00:00.000Z', 'basic')], '2025-11', catalog);

    expect(statement.lines).toEqual([
      expect.objectContaining({ plan: 'basic', from: '2025-11-10T00:00:00.000Z', to: '2025-12-01T00:00:00.000Z', days: 21 }),
    ]);
    expect(statement.totalCents).toBe(1330); // 1900 * 21 / 30
  });

  it('stops charging at ACCOUNT_CLOSED: the days before the closing day only, and nothing in later months', () => {
    const closed: LedgerEntry = { entryId: '2025-11-20T15:30:00.000Z#ACCOUNT_CLOSED', type: 'ACCOUNT_CLOSED', effectiveAt: '2025-11-20T15:30:00.000Z' };
    const entries = [started('2025-10-02T09:00:00.000Z', 'pro'), changed('2025-11-10T12:00:00.000Z', 'pro', 'basic'), closed];

    expect(computeStatement(entries, '2025-11', catalog).lines).toEqual([
      { plan: 'pro', from: '2025-11-01T00:00:00.000Z', to: '2025-11-10T00:00:00.000Z', days: 9, monthlyPrice: 99, amountCents: 2970 },
      { plan: 'basic', from: '2025-11-10T00:00:00.000Z', to: '2025-11-20T00:00:00.000Z', days: 10, monthlyPrice: 19, amountCents: 633 },
    ]);
    expect(computeStatement(entries, '2025-12', catalog)).toMatchObject({ lines: [], totalCents: 0 });
  });

  it('splits a mid-month upgrade: the new plan from the day of the change', () => {
    const entries = [started('2025-10-02T09:00:00.000Z', 'basic'), changed('2025-11-16T12:00:00.000Z', 'basic', 'pro')];

    const statement = computeStatement(entries, '2025-11', catalog);

    expect(statement.lines).toEqual([
      { plan: 'basic', from: '2025-11-01T00:00:00.000Z', to: '2025-11-16T00:00:00.000Z', days: 15, monthlyPrice: 19, amountCents: 950 },
      { plan: 'pro', from: '2025-11-16T00:00:00.000Z', to: '2025-12-01T00:00:00.000Z', days: 15, monthlyPrice: 99, amountCents: 4950 },
    ]);
    expect(statement.totalCents).toBe(5900);
  });

  it('splits a downgrade the same way', () => {
    const entries = [started('2025-10-02T09:00:00.000Z', 'pro'), changed('2025-11-21T00:30:00.000Z', 'pro', 'free')];

    const statement = computeStatement(entries, '2025-11', catalog);

    expect(statement.lines.map(({ plan, days, amountCents }) => ({ plan, days, amountCents }))).toEqual([
      { plan: 'pro', days: 20, amountCents: 6600 },
      { plan: 'free', days: 10, amountCents: 0 },
    ]);
    expect(statement.totalCents).toBe(6600);
  });

  it('charges a day with several changes to the last plan of the day only', () => {
    const entries = [
      started('2025-10-02T09:00:00.000Z', 'basic'),
      changed('2025-11-16T10:00:00.000Z', 'basic', 'pro'),
      changed('2025-11-16T12:00:00.000Z', 'pro', 'free'),
      changed('2025-11-16T18:00:00.000Z', 'free', 'pro'),
    ];

    const statement = computeStatement(entries, '2025-11', catalog);

    expect(statement.lines.map(({ plan, days }) => ({ plan, days }))).toEqual([
      { plan: 'basic', days: 15 },
      { plan: 'pro', days: 15 },
    ]);
    expect(statement.lines.find((line) => line.plan === 'free')).toBeUndefined();
  });

  it('keeps one line when a day goes away from a plan and back to it', () => {
    const entries = [
      started('2025-10-02T09:00:00.000Z', 'basic'),
      changed('2025-11-16T10:00:00.000Z', 'basic', 'pro'),
      changed('2025-11-16T23:59:59.999Z', 'pro', 'basic'),
    ];

    const statement = computeStatement(entries, '2025-11', catalog);

    expect(statement.lines).toEqual([expect.objectContaining({ plan: 'basic', days: 30, amountCents: 1900 })]);
  });

  it('gives a line per contiguous interval, so a plan taken twice appears twice', () => {
    const entries = [
      started('2025-11-01T00:00:00.000Z', 'free'),
      changed('2025-11-05T08:00:00.000Z', 'free', 'basic'),
      changed('2025-11-11T08:00:00.000Z', 'basic', 'free'),
      changed('2025-11-21T08:00:00.000Z', 'free', 'basic'),
    ];

    const statement = computeStatement(entries, '2025-11', catalog);

    expect(statement.lines.map(({ plan, days, amountCents }) => [plan, days, amountCents])).toEqual([
      ['free', 4, 0],
      ['basic', 6, 380],
      ['free', 10, 0],
      ['basic', 10, 633], // 633.33
    ]);
    expect(statement.totalCents).toBe(1013);
  });

  it('prorates a leap-year February over 29 days', () => {
    const entries = [started('2024-01-20T10:00:00.000Z', 'basic'), changed('2024-02-15T09:00:00.000Z', 'basic', 'pro')];

    const statement = computeStatement(entries, '2024-02', catalog);

    expect(statement.periodEnd).toBe('2024-03-01T00:00:00.000Z');
    expect(statement.lines.map(({ plan, days, amountCents }) => [plan, days, amountCents])).toEqual([
      ['basic', 14, 917],
      ['pro', 15, 5121],
    ]);
    expect(statement.lines.at(-1)?.to).toBe('2024-03-01T00:00:00.000Z');
    expect(statement.totalCents).toBe(6038);
  });

  it('ignores entries after the period, and counts a change in the last millisecond of it', () => {
    const base = [started('2025-10-02T09:00:00.000Z', 'basic')];

    const after = computeStatement(
      [...base, changed('2025-12-01T00:00:00.000Z', 'basic', 'pro'), changed('2026-01-05T00:00:00.000Z', 'pro', 'free')],
      '2025-11',
      catalog,
    );
    const lastMoment = computeStatement([...base, changed('2025-11-30T23:59:59.999Z', 'basic', 'pro')], '2025-11', catalog);

    expect(after.lines).toEqual([expect.objectContaining({ plan: 'basic', days: 30 })]);
    expect(after.totalCents).toBe(1900);
    expect(lastMoment.lines.map(({ plan, days }) => [plan, days])).toEqual([
      ['basic', 29],
      ['pro', 1],
    ]);
  });

  it('charges nothing for an account that started after the period', () => {
    const statement = computeStatement([started('2025-12-03T10:00:00.000Z', 'pro')], '2025-11', catalog);

    expect(statement.lines).toEqual([]);
    expect(statement.totalCents).toBe(0);
  });

  it('applies a change at midnight from that day', () => {
    const entries = [started('2025-10-02T09:00:00.000Z', 'basic'), changed('2025-11-16T00:00:00.000Z', 'basic', 'pro')];

    const statement = computeStatement(entries, '2025-11', catalog);

    expect(statement.lines.map(({ plan, days }) => [plan, days])).toEqual([
      ['basic', 15],
      ['pro', 15],
    ]);
  });

  it('does not depend on the order of the entries', () => {
    const entries = [
      started('2025-10-02T09:00:00.000Z', 'basic'),
      changed('2025-11-05T08:00:00.000Z', 'basic', 'pro'),
      changed('2025-11-20T08:00:00.000Z', 'pro', 'free'),
    ];

    expect(computeStatement([...entries].reverse(), '2025-11', catalog)).toEqual(computeStatement(entries, '2025-11', catalog));
  });

  it('bills at the price recorded in the entry, and at the catalogue price when the entry has none', () => {
    const grandfathered = computeStatement([started('2025-10-02T09:00:00.000Z', 'basic', 15)], '2025-11', catalog);
    const unpriced = computeStatement([started('2025-10-02T09:00:00.000Z', 'pro', undefined)], '2025-11', catalog);

    expect(grandfathered.lines[0]).toMatchObject({ monthlyPrice: 15, amountCents: 1500 });
    expect(unpriced.lines[0]).toMatchObject({ monthlyPrice: 99, amountCents: 9900 });
  });

  it('skips statements, unknown types and entries without a plan or a valid time', () => {
    const entries: LedgerEntry[] = [
      started('2025-10-02T09:00:00.000Z', 'basic'),
      { entryId: '2025-11-01T00:00:00.000Z#STATEMENT#2025-10', type: 'STATEMENT', plan: 'pro', effectiveAt: '2025-10-01T00:00:00.000Z' },
      { entryId: '2025-11-03T00:00:00.000Z#REFUND#x', type: 'REFUND', plan: 'pro', effectiveAt: '2025-11-03T00:00:00.000Z' },
      { entryId: 'x', type: 'PLAN_CHANGED', toPlan: 'pro', effectiveAt: 'yesterday' },
      { entryId: 'y', type: 'PLAN_CHANGED', effectiveAt: '2025-11-04T00:00:00.000Z' },
      { entryId: 'z', type: 'PLAN_CHANGED', toPlan: 'enterprise', effectiveAt: '2025-11-04T00:00:00.000Z' },
    ];

    const statement = computeStatement(entries, '2025-11', catalog);

    expect(statement.lines).toEqual([expect.objectContaining({ plan: 'basic', days: 30, amountCents: 1900 })]);
  });

  it('rejects an invalid period', () => {
    expect(() => computeStatement([], '2025-13', catalog)).toThrow(InvalidPeriodError);
  });
});
