/**
 * The plan-change preview (portal/src/preview.ts): this month's statement replayed with the change, by the server's
 * own billing rules. The expected figures are worked out here by hand (price × seconds left / seconds in the month,
 * rounded half up to the cent), not with the code under test.
 */
import type { Billing, Plan } from '../../../portal/src/api.ts';
import { previewPlanChange } from '../../../portal/src/preview.ts';

const plan = (name: string, monthlyPrice: number): Plan => ({ name, monthlyPrice, currency: 'USD', rateLimit: 1, burstLimit: 1, quotaLimit: 1, quotaPeriod: 'MONTH' });
const free = plan('free', 0);
const basic = plan('basic', 29);
const pro = plan('pro', 99);
const NOV = 30 * 86_400; // seconds in November

function billing(lines: { plan: string; from: string; monthlyPrice: number; amountCents: number }[]): Billing {
  return {
    ledger: [],
    statement: {
      period: '2026-11',
      periodStart: '2026-11-01T00:00:00.000Z',
      periodEnd: '2026-12-01T00:00:00.000Z',
      lines: lines.map((l, i) => ({ ...l, to: lines[i + 1]?.from ?? '2026-12-01T00:00:00.000Z' })),
      totalCents: lines.reduce((sum, l) => sum + l.amountCents, 0),
      currency: 'USD',
    },
  };
}

describe('plan change preview', () => {
  it('charges the new plan for the seconds left in the month, to the cent', () => {
    // Free since Nov 10; upgrade to pro on Nov 30 at 23:00:00.400 (the preview counts whole seconds): one hour left.
    const preview = previewPlanChange(billing([{ plan: 'free', from: '2026-11-10T00:00:00.000Z', monthlyPrice: 0, amountCents: 0 }]), pro, new Date('2026-11-30T23:00:00.400Z'));
    expect(preview.at).toBe('2026-11-30T23:00:00.000Z');
    expect(preview.newPlanCents).toBe(14); // 9,900 × 3,600 / 2,592,000 = 13.75 → 14
    expect(preview.totalNowCents).toBe(0);
    expect(preview.totalAfterCents).toBe(14);
    expect(preview.periodEnd).toBe('2026-12-01T00:00:00.000Z');
  });

  it('a downgrade ends the dearer plan now: this month’s total drops to what was held', () => {
    // Pro from Nov 16 00:00 (15 days = $49.50), downgrade to basic on Nov 21 00:00: pro 5 days, basic 10 days.
    const before = billing([
      { plan: 'free', from: '2026-11-01T00:00:00.000Z', monthlyPrice: 0, amountCents: 0 },
      { plan: 'pro', from: '2026-11-16T00:00:00.000Z', monthlyPrice: 99, amountCents: 4950 },
    ]);
    const preview = previewPlanChange(before, basic, new Date('2026-11-21T00:00:00.000Z'));
    expect(preview.totalNowCents).toBe(4950);
    expect(preview.newPlanCents).toBe(Math.round((2900 * 10 * 86_400) / NOV)); // 966.67 → 967
    expect(preview.totalAfterCents).toBe(Math.round((9900 * 5 * 86_400) / NOV) + 967); // 1650 + 967
  });

  it('to the free plan: nothing for the new plan, the old one billed up to now', () => {
    const before = billing([{ plan: 'pro', from: '2026-11-01T00:00:00.000Z', monthlyPrice: 99, amountCents: 9900 }]);
    const preview = previewPlanChange(before, free, new Date('2026-11-02T00:00:00.000Z'));
    expect(preview.newPlanCents).toBe(0);
    expect(preview.totalAfterCents).toBe(330); // one day of 30: 9,900 / 30
  });
});
