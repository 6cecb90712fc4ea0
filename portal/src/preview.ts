/**
 * What a plan change costs this month, before it is made. The figures come from the server's own statement (GET
 * /me/billing: each plan held so far this month, prorated by the second) and the billing rules the server bills with
 * (functions/shared/billing.ts `computeStatement`, imported, not re-implemented): the held lines replayed as plan
 * entries, plus the change at `at`, give this month's statement as it will read with the change.
 */
import { computeStatement, currentPeriod, type LedgerEntry } from '#shared/billing';
import type { Billing, Plan } from './api.ts';

export interface PlanChangePreview {
  /** The instant the preview assumes the change takes effect (ISO, whole second). */
  at: string;
  /** This month's total as things stand (the current plan to the month's end), in cents. */
  totalNowCents: number;
  /** This month's total with the change at `at`, in cents. */
  totalAfterCents: number;
  /** The new plan from `at` to the month's end, in cents. */
  newPlanCents: number;
  /** The first instant of next month (ISO): the new plan's line ends there, then its full price applies. */
  periodEnd: string;
  currency: string;
}

/**
 * The preview of changing to `plan` at `now` (truncated to the second), from the current statement. Throws when the
 * statement cannot be replayed (no period): the caller then shows the price without the proration.
 */
export function previewPlanChange(billing: Billing, plan: Plan, now: Date): PlanChangePreview {
  const at = new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString();
  const period = billing.statement.period ?? currentPeriod(now);
  const held: LedgerEntry[] = billing.statement.lines.flatMap((line, i) =>
    line.plan && line.from && typeof line.monthlyPrice === 'number'
      ? [{ entryId: `${line.from}#${i}`, type: 'PLAN_CHANGED', toPlan: line.plan, toPrice: line.monthlyPrice, effectiveAt: line.from }]
      : [],
  );
  // Every entry carries its price, so no catalogue is needed.
  const before = computeStatement(held, period, []);
  const change: LedgerEntry = { entryId: `${at}#preview`, type: 'PLAN_CHANGED', toPlan: plan.name, toPrice: plan.monthlyPrice, effectiveAt: at };
  const after = computeStatement([...held, change], period, []);
  const last = after.lines.at(-1);
  return {
    at,
    totalNowCents: before.totalCents,
    totalAfterCents: after.totalCents,
    newPlanCents: last && last.plan === plan.name ? last.amountCents : 0,
    periodEnd: after.periodEnd,
    currency: after.currency,
  };
}
