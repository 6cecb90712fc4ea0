// Over 400 lines: the proration and statement arithmetic's table of cases, to the cent.
import { PLAN_CATALOG } from './env.ts';
import {
  assertPeriodEnded,
  computeStatement,
  currentPeriod,
  periodBounds,
  previousPeriod,
  prorate,
  statementEntryId,
  type LedgerEntry,
} from '#shared/billing';
import { InvalidPeriodError } from '#shared/errors';
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
    prorationBasis: 'SECOND',
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

/** Seconds in a 30-day month (November 2025) and in February 2024 (29 days). */
const NOV = 30 * 86_400;
const FEB_2024 = 29 * 86_400;
const H = 3_600;
const D = 86_400;

describe('prorate', () => {
  it('computes exact rational cents and rounds once, half up', () => {
    expect(prorate(99, H, NOV)).toBe(14); // 9,900 × 3,600 / 2,592,000 = 13.75
    expect(prorate(99, 2 * H, NOV)).toBe(28); // 27.5: a half rounds up
    expect(prorate(99, 14 * D + 6 * H - 1, NOV)).toBe(4702); // 4,702.496…: below a half rounds down
    expect(prorate(19, 15 * D, NOV)).toBe(950);
    expect(prorate(19.99, NOV, NOV)).toBe(1999);
    expect(prorate(19, 14 * D + 9 * H, FEB_2024)).toBe(942); // 941.81
    expect(prorate(99, 1, NOV)).toBe(0); // 0.0038
    expect(prorate(0, NOV, NOV)).toBe(0);
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
        seconds: NOV,
        monthlyPrice: 19,
        amountCents: 1900,
      },
    ]);
    expect(statement.totalCents).toBe(1900);
  });

  it('charges from the instant an account started mid-month, and nothing before', () => {
    const statement = computeStatement([started('2025-11-10T15:00:00.000Z', 'basic')], '2025-11', catalog);

    expect(statement.lines).toEqual([
      expect.objectContaining({ plan: 'basic', from: '2025-11-10T15:00:00.000Z', to: '2025-12-01T00:00:00.000Z', seconds: 20 * D + 9 * H }),
    ]);
    expect(statement.totalCents).toBe(1290); // 1,900 × 1,760,400 / 2,592,000 = 1,290.42
  });

  it('stops charging at the ACCOUNT_CLOSED instant, to the second, and nothing in later months', () => {
    const closed: LedgerEntry = { entryId: '2025-11-20T15:30:00.000Z#ACCOUNT_CLOSED', type: 'ACCOUNT_CLOSED', effectiveAt: '2025-11-20T15:30:00.000Z' };
    const entries = [started('2025-10-02T09:00:00.000Z', 'pro'), changed('2025-11-10T12:00:00.000Z', 'pro', 'basic'), closed];

    const statement = computeStatement(entries, '2025-11', catalog);

    expect(statement.lines).toEqual([
      // 9,900 × 820,800 / 2,592,000 = 3,135 exactly
      { plan: 'pro', from: '2025-11-01T00:00:00.000Z', to: '2025-11-10T12:00:00.000Z', seconds: 9 * D + 12 * H, monthlyPrice: 99, amountCents: 3135 },
      // 1,900 × 876,600 / 2,592,000 = 642.57
      { plan: 'basic', from: '2025-11-10T12:00:00.000Z', to: '2025-11-20T15:30:00.000Z', seconds: 10 * D + 3.5 * H, monthlyPrice: 19, amountCents: 643 },
    ]);
    expect(statement.totalCents).toBe(3778);
    expect(computeStatement(entries, '2025-12', catalog)).toMatchObject({ lines: [], totalCents: 0 });
  });

  it('splits a mid-month upgrade at the instant of the change', () => {
    const entries = [started('2025-10-02T09:00:00.000Z', 'basic'), changed('2025-11-16T12:00:00.000Z', 'basic', 'pro')];

    const statement = computeStatement(entries, '2025-11', catalog);

    expect(statement.lines).toEqual([
      // 1,900 × 15.5 / 30 = 981.67
      { plan: 'basic', from: '2025-11-01T00:00:00.000Z', to: '2025-11-16T12:00:00.000Z', seconds: 15 * D + 12 * H, monthlyPrice: 19, amountCents: 982 },
      // 9,900 × 14.5 / 30 = 4,785 exactly
      { plan: 'pro', from: '2025-11-16T12:00:00.000Z', to: '2025-12-01T00:00:00.000Z', seconds: 14 * D + 12 * H, monthlyPrice: 99, amountCents: 4785 },
    ]);
    expect(statement.totalCents).toBe(5767);
  });

  it('splits a downgrade the same way', () => {
    const entries = [started('2025-10-02T09:00:00.000Z', 'pro'), changed('2025-11-21T00:30:00.000Z', 'pro', 'free')];

    const statement = computeStatement(entries, '2025-11', catalog);

    expect(statement.lines.map(({ plan, seconds, amountCents }) => ({ plan, seconds, amountCents }))).toEqual([
      { plan: 'pro', seconds: 20 * D + 1_800, amountCents: 6607 }, // 9,900 × 1,729,800 / 2,592,000 = 6,606.875
      { plan: 'free', seconds: 9 * D + 23.5 * H, amountCents: 0 },
    ]);
    expect(statement.totalCents).toBe(6607);
  });

  it('charges every plan of a day with several changes for its own time, a line each, in order', () => {
    const entries = [
      started('2025-10-02T09:00:00.000Z', 'basic'),
      changed('2025-11-16T10:00:00.000Z', 'basic', 'pro'),
      changed('2025-11-16T12:00:00.000Z', 'pro', 'free'),
      changed('2025-11-16T18:00:00.000Z', 'free', 'pro'),
    ];

    const statement = computeStatement(entries, '2025-11', catalog);

    expect(statement.lines.map(({ plan, from, to, seconds, amountCents }) => [plan, from, to, seconds, amountCents])).toEqual([
      ['basic', '2025-11-01T00:00:00.000Z', '2025-11-16T10:00:00.000Z', 15 * D + 10 * H, 976], // 976.39
      ['pro', '2025-11-16T10:00:00.000Z', '2025-11-16T12:00:00.000Z', 2 * H, 28], // 27.5
      ['free', '2025-11-16T12:00:00.000Z', '2025-11-16T18:00:00.000Z', 6 * H, 0],
      ['pro', '2025-11-16T18:00:00.000Z', '2025-12-01T00:00:00.000Z', 14 * D + 6 * H, 4703], // 4,702.5
    ]);
    expect(statement.totalCents).toBe(976 + 28 + 4703);
  });

  it('charges free → pro → free within one hour pro’s price for exactly that hour: 13.75 → 14 cents', () => {
    const entries = [
      started('2025-10-02T09:00:00.000Z', 'free'),
      changed('2025-11-12T14:00:00.000Z', 'free', 'pro'),
      changed('2025-11-12T15:00:00.000Z', 'pro', 'free'),
    ];

    const statement = computeStatement(entries, '2025-11', catalog);

    expect(statement.lines).toEqual([
      expect.objectContaining({ plan: 'free', to: '2025-11-12T14:00:00.000Z', amountCents: 0 }),
      { plan: 'pro', from: '2025-11-12T14:00:00.000Z', to: '2025-11-12T15:00:00.000Z', seconds: H, monthlyPrice: 99, amountCents: 14 },
      expect.objectContaining({ plan: 'free', from: '2025-11-12T15:00:00.000Z', to: '2025-12-01T00:00:00.000Z', amountCents: 0 }),
    ]);
    expect(statement.totalCents).toBe(14);
  });

  it('keeps a line for a plan held less than a second, at 0 seconds and 0 cents, so the order shows', () => {
    const entries = [
      started('2025-10-02T09:00:00.000Z', 'basic'),
      changed('2025-11-16T10:00:00.100Z', 'basic', 'pro'),
      changed('2025-11-16T10:00:00.900Z', 'pro', 'basic'),
    ];

    const statement = computeStatement(entries, '2025-11', catalog);

    expect(statement.lines.map(({ plan, from, to, seconds, amountCents }) => [plan, from, to, seconds, amountCents])).toEqual([
      ['basic', '2025-11-01T00:00:00.000Z', '2025-11-16T10:00:00.100Z', 15 * D + 10 * H, 976],
      ['pro', '2025-11-16T10:00:00.100Z', '2025-11-16T10:00:00.900Z', 0, 0],
      ['basic', '2025-11-16T10:00:00.900Z', '2025-12-01T00:00:00.000Z', 14 * D + 14 * H, 924], // 923.61
    ]);
  });

  it('counts whole Unix seconds, so the lines of a month add up to its seconds exactly', () => {
    const entries = [
      started('2025-10-02T09:00:00.000Z', 'basic'),
      changed('2025-11-16T10:00:00.000Z', 'basic', 'pro'),
      changed('2025-11-16T23:59:59.999Z', 'pro', 'basic'),
    ];

    const statement = computeStatement(entries, '2025-11', catalog);

    expect(statement.lines.map(({ plan, seconds, amountCents }) => [plan, seconds, amountCents])).toEqual([
      ['basic', 15 * D + 10 * H, 976],
      ['pro', 13 * H + 59 * 60 + 59, 192], // 9,900 × 50,399 / 2,592,000 = 192.496
      ['basic', 14 * D + 1, 887], // 1,900 × 1,209,601 / 2,592,000 = 886.67
    ]);
    expect(statement.lines.reduce((sum, line) => sum + line.seconds, 0)).toBe(NOV);
    expect(statement.totalCents).toBe(976 + 192 + 887);
  });

  it('gives a line per contiguous interval, so a plan taken twice appears twice', () => {
    const entries = [
      started('2025-11-01T00:00:00.000Z', 'free'),
      changed('2025-11-05T08:00:00.000Z', 'free', 'basic'),
      changed('2025-11-11T08:00:00.000Z', 'basic', 'free'),
      changed('2025-11-21T08:00:00.000Z', 'free', 'basic'),
    ];

    const statement = computeStatement(entries, '2025-11', catalog);

    expect(statement.lines.map(({ plan, seconds, amountCents }) => [plan, seconds, amountCents])).toEqual([
      ['free', 4 * D + 8 * H, 0],
      ['basic', 6 * D, 380],
      ['free', 10 * D, 0],
      ['basic', 9 * D + 16 * H, 612], // 1,900 × 835,200 / 2,592,000 = 612.22
    ]);
    expect(statement.totalCents).toBe(992);
  });

  it('prorates a leap-year February over its 29 days of seconds', () => {
    const entries = [started('2024-01-20T10:00:00.000Z', 'basic'), changed('2024-02-15T09:00:00.000Z', 'basic', 'pro')];

    const statement = computeStatement(entries, '2024-02', catalog);

    expect(statement.periodEnd).toBe('2024-03-01T00:00:00.000Z');
    expect(statement.lines.map(({ plan, seconds, amountCents }) => [plan, seconds, amountCents])).toEqual([
      ['basic', 14 * D + 9 * H, 942], // 1,900 × 1,242,000 / 2,505,600 = 941.81
      ['pro', 14 * D + 15 * H, 4993], // 9,900 × 1,263,600 / 2,505,600 = 4,992.67
    ]);
    expect(statement.lines.at(-1)?.to).toBe('2024-03-01T00:00:00.000Z');
    expect(statement.totalCents).toBe(5935);
    expect(FEB_2024).toBe(2_505_600);
  });

  it('ignores entries after the period, and counts a change in the last millisecond of it', () => {
    const base = [started('2025-10-02T09:00:00.000Z', 'basic')];

    const after = computeStatement(
      [...base, changed('2025-12-01T00:00:00.000Z', 'basic', 'pro'), changed('2026-01-05T00:00:00.000Z', 'pro', 'free')],
      '2025-11',
      catalog,
    );
    const lastMoment = computeStatement([...base, changed('2025-11-30T23:59:59.999Z', 'basic', 'pro')], '2025-11', catalog);

    expect(after.lines).toEqual([expect.objectContaining({ plan: 'basic', seconds: NOV })]);
    expect(after.totalCents).toBe(1900);
    expect(lastMoment.lines.map(({ plan, seconds, amountCents }) => [plan, seconds, amountCents])).toEqual([
      ['basic', NOV - 1, 1900], // 1,899.9993
      ['pro', 1, 0], // 0.0038
    ]);
  });

  it('charges nothing for an account that started after the period', () => {
    const statement = computeStatement([started('2025-12-03T10:00:00.000Z', 'pro')], '2025-11', catalog);

    expect(statement.lines).toEqual([]);
    expect(statement.totalCents).toBe(0);
  });

  it('applies a change at midnight from that instant, and a change at the period start leaves no line for the old plan', () => {
    const entries = [started('2025-10-02T09:00:00.000Z', 'basic'), changed('2025-11-16T00:00:00.000Z', 'basic', 'pro')];
    const atStart = [started('2025-10-02T09:00:00.000Z', 'basic'), changed('2025-11-01T00:00:00.000Z', 'basic', 'pro')];

    const statement = computeStatement(entries, '2025-11', catalog);

    expect(statement.lines.map(({ plan, seconds, amountCents }) => [plan, seconds, amountCents])).toEqual([
      ['basic', 15 * D, 950],
      ['pro', 15 * D, 4950],
    ]);
    expect(computeStatement(atStart, '2025-11', catalog).lines).toEqual([
      expect.objectContaining({ plan: 'pro', from: '2025-11-01T00:00:00.000Z', seconds: NOV, amountCents: 9900 }),
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

    expect(statement.lines).toEqual([expect.objectContaining({ plan: 'basic', seconds: NOV, amountCents: 1900 })]);
  });

  it('rejects an invalid period', () => {
    expect(() => computeStatement([], '2025-13', catalog)).toThrow(InvalidPeriodError);
  });
});
