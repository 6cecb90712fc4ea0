import { InvalidPeriodError, PeriodNotEndedError } from './errors.ts';
import type { Plan } from './plans.ts';

/**
 * Billing domain: periods and statements. Pure functions over ledger entries (the Billing table's items); no I/O.
 *
 * A period is a UTC calendar month, `YYYY-MM`, from its first instant (inclusive) to the first instant of the next
 * month (exclusive). Proration is by the second, as Stripe prorates ("Stripe calculates proration down to the second
 * based on the starting timestamp of the billing period and the timestamp of the proration's triggering event",
 * https://docs.stripe.com/billing/scripts/prorations): each plan is charged for the time it was held, from the instant
 * its PLAN_STARTED / PLAN_CHANGED entry took effect (`effectiveAt`) to the instant the next one did, or an
 * ACCOUNT_CLOSED entry closed the account, or the period ended. Every change is a line of its own, in order, even
 * several on one day; nothing is charged before the account's first plan nor from its closing on.
 *
 * Seconds held: the difference of the two instants in whole Unix seconds (each instant truncated to its second, as
 * Stripe's timestamps are), so a month's lines add up to exactly the month's seconds; a plan held for less than one
 * whole second keeps its line (the history's order shows) at 0 seconds and 0 cents.
 *
 * Rounding: each line is computed in exact rational cents, priceCents × secondsHeld / secondsInMonth, and rounded once,
 * half up, to whole cents (integer arithmetic, no floating point); the total is the sum of the lines. Why per line and
 * not "round the total, then distribute": a line's amount then depends on that line only, so a line the customer
 * saw during the month (GET /me/billing) keeps its amount at the month-end close whatever happens later, and every
 * line shown is the exact price of its time to within half a cent. E.g. $99/month for one hour of a 30-day month:
 * 9,900 × 3,600 / 2,592,000 = 13.75 → 14 cents; a whole month is exactly its price.
 */

export const CURRENCY = 'USD';
const DAY_MS = 86_400_000;
const SECOND_MS = 1000;

export type LedgerEntryType = 'PLAN_STARTED' | 'PLAN_CHANGED' | 'STATEMENT' | 'ACCOUNT_CLOSED';

/** A Billing table item as read back (only the fields the statement needs are typed). */
export interface LedgerEntry {
  entryId: string;
  type: string;
  plan?: string;
  monthlyPrice?: number;
  toPlan?: string;
  toPrice?: number;
  effectiveAt?: string;
  [field: string]: unknown;
}

export interface StatementLine {
  plan: string;
  /** First instant charged, ISO: the period's start, or the `effectiveAt` of the entry that started the plan. */
  from: string;
  /** First instant no longer charged (exclusive), ISO: the next entry's `effectiveAt`, or the period's end. */
  to: string;
  /** Whole seconds held: Unix seconds of `to` minus Unix seconds of `from` (each truncated to its second). */
  seconds: number;
  /** USD per month. */
  monthlyPrice: number;
  amountCents: number;
}

export interface Statement {
  period: string;
  periodStart: string;
  periodEnd: string;
  lines: StatementLine[];
  totalCents: number;
  currency: typeof CURRENCY;
}

export interface PeriodBounds {
  period: string;
  /** First instant of the month, ISO. */
  periodStart: string;
  /** First instant of the next month, ISO (exclusive). */
  periodEnd: string;
  /** Number of days in the month. */
  days: number;
}

const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

function periodOf(year: number, monthIndex: number): string {
  const date = new Date(Date.UTC(year, monthIndex, 1));
  return date.toISOString().slice(0, 7);
}

function validDate(now: Date): Date {
  if (Number.isNaN(now.getTime())) throw new InvalidPeriodError('Invalid date');
  return now;
}

/** The month holding `now`, `YYYY-MM` (UTC). */
export function currentPeriod(now: Date): string {
  const date = validDate(now);
  return periodOf(date.getUTCFullYear(), date.getUTCMonth());
}

/** The month before the one holding `now`, `YYYY-MM` (UTC). */
export function previousPeriod(now: Date): string {
  const date = validDate(now);
  return periodOf(date.getUTCFullYear(), date.getUTCMonth() - 1);
}

/** Bounds of a `YYYY-MM` period; anything else (month 13, `2025-1`, a year before 1970) is an InvalidPeriodError. */
export function periodBounds(period: string): PeriodBounds {
  const match = PERIOD.exec(period);
  const year = Number(match?.[1]);
  if (!match || year < 1970) throw new InvalidPeriodError(`Invalid period '${period}': expected YYYY-MM`);
  const monthIndex = Number(match[2]) - 1;
  const start = Date.UTC(year, monthIndex, 1);
  const end = Date.UTC(year, monthIndex + 1, 1);
  return {
    period,
    periodStart: new Date(start).toISOString(),
    periodEnd: new Date(end).toISOString(),
    days: Math.round((end - start) / DAY_MS),
  };
}

/**
 * Refuses to close a period before it ends: `now` must be at or after the period's end (the first instant of the next
 * month, UTC). Throws PeriodNotEndedError naming the first instant it can be closed, InvalidPeriodError for a bad date.
 */
export function assertPeriodEnded(bounds: Pick<PeriodBounds, 'period' | 'periodEnd'>, now: Date): void {
  if (validDate(now).getTime() < Date.parse(bounds.periodEnd)) {
    throw new PeriodNotEndedError(
      `Period ${bounds.period} has not ended: it can be closed from ${bounds.periodEnd} (UTC); it is ${now.toISOString()}`,
    );
  }
}

/** One plan taking effect at one instant, from a PLAN_STARTED or PLAN_CHANGED entry; `plan` undefined: closed. */
interface PlanEvent {
  at: number;
  plan?: string;
  monthlyPrice: number;
  order: string;
}

function isPrice(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0;
}

/**
 * The plan each entry starts, priced as recorded in the entry (the price the plan was taken at) or, for an entry
 * without a usable price, at the catalogue's. Entries of other types, or without a plan or a valid time, are skipped.
 */
function planEvents(entries: readonly LedgerEntry[], catalog: readonly Plan[]): PlanEvent[] {
  const events: PlanEvent[] = [];
  for (const entry of entries) {
    if (entry.type === 'ACCOUNT_CLOSED') {
      // Nothing is charged from the closing instant on.
      const at = typeof entry.effectiveAt === 'string' ? Date.parse(entry.effectiveAt) : Number.NaN;
      if (!Number.isNaN(at)) events.push({ at, monthlyPrice: 0, order: `2${entry.entryId}` });
      continue;
    }
    if (entry.type !== 'PLAN_STARTED' && entry.type !== 'PLAN_CHANGED') continue;
    const plan = entry.type === 'PLAN_CHANGED' ? (entry.toPlan ?? entry.plan) : entry.plan;
    const at = typeof entry.effectiveAt === 'string' ? Date.parse(entry.effectiveAt) : Number.NaN;
    if (typeof plan !== 'string' || plan === '' || Number.isNaN(at)) continue;
    const recorded = entry.type === 'PLAN_CHANGED' ? (entry.toPrice ?? entry.monthlyPrice) : entry.monthlyPrice;
    const price = isPrice(recorded) ? recorded : catalog.find((p) => p.name === plan)?.monthlyPrice;
    if (price === undefined) continue;
    events.push({ at, plan, monthlyPrice: price, order: `${entry.type === 'PLAN_STARTED' ? 0 : 1}${entry.entryId}` });
  }
  return events.sort((a, b) => a.at - b.at || (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
}

/**
 * Cents for `seconds` held of a period of `periodSeconds` at `monthlyPrice` USD a month: the exact rational
 * round(monthlyPrice × 100) × seconds / periodSeconds, rounded once, half up (e.g. 9,900 × 3,600 / 2,592,000 = 13.75
 * → 14). Integer arithmetic (BigInt), so no floating-point error decides a half cent. `seconds` and `periodSeconds`
 * are whole numbers, `periodSeconds` > 0.
 */
export function prorate(monthlyPrice: number, seconds: number, periodSeconds: number): number {
  const numerator = BigInt(Math.round(monthlyPrice * 100)) * BigInt(seconds);
  const denominator = BigInt(periodSeconds);
  return Number((2n * numerator + denominator) / (2n * denominator));
}

const unixSeconds = (ms: number): number => Math.floor(ms / SECOND_MS);

/**
 * The statement of one period from a user's ledger (any order; entries after the period change nothing): one line per
 * interval a plan was held within the period, in time order (entries at the same instant: PLAN_STARTED, then
 * PLAN_CHANGED, then ACCOUNT_CLOSED, each by entry id), each prorated by the second and rounded once (see the module
 * docstring); consecutive intervals of the same plan at the same price are one line. Throws InvalidPeriodError for a
 * malformed period.
 */
export function computeStatement(entries: readonly LedgerEntry[], period: string, catalog: readonly Plan[]): Statement {
  const bounds = periodBounds(period);
  const start = Date.parse(bounds.periodStart);
  const end = Date.parse(bounds.periodEnd);
  // Seconds in the month: days × 86,400 (Unix time has no leap seconds).
  const periodSeconds = unixSeconds(end) - unixSeconds(start);
  const events = planEvents(entries, catalog);

  const lines: StatementLine[] = [];
  let open: { plan: string; monthlyPrice: number; from: number } | undefined;
  const closeAt = (to: number): void => {
    if (!open) return;
    const seconds = unixSeconds(to) - unixSeconds(open.from);
    lines.push({
      plan: open.plan,
      from: new Date(open.from).toISOString(),
      to: new Date(to).toISOString(),
      seconds,
      monthlyPrice: open.monthlyPrice,
      amountCents: prorate(open.monthlyPrice, seconds, periodSeconds),
    });
    open = undefined;
  };

  for (const event of events) {
    if (event.at >= end) break;
    const at = Math.max(event.at, start);
    if (open && event.plan === open.plan && event.monthlyPrice === open.monthlyPrice) continue;
    closeAt(at);
    if (event.plan !== undefined) open = { plan: event.plan, monthlyPrice: event.monthlyPrice, from: at };
  }
  closeAt(end);

  // A plan replaced before the period began left a zero-length line at its start: not held in the period.
  const held = lines.filter((line) => line.to !== bounds.periodStart);
  return {
    period: bounds.period,
    periodStart: bounds.periodStart,
    periodEnd: bounds.periodEnd,
    lines: held,
    totalCents: held.reduce((sum, line) => sum + line.amountCents, 0),
    currency: CURRENCY,
  };
}

/**
 * Sort key of the ACCOUNT_CLOSED entry the offboarding workflow writes, once per account (`closedAt` is the account's
 * `closingAt`, fixed by the first attempt).
 */
export function closedEntryId(closedAt: string): string {
  return `${closedAt}#ACCOUNT_CLOSED`;
}

/** Sort key of a period's statement in the Billing table: after every entry of the period. */
export function statementEntryId(bounds: PeriodBounds): string {
  return `${bounds.periodEnd}#STATEMENT#${bounds.period}`;
}
