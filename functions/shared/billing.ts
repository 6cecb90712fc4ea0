import type { Plan } from './plans.ts';

/**
 * Billing domain: periods and statements. Pure functions over ledger entries (the Billing table's items); no I/O.
 *
 * A period is a UTC calendar month, `YYYY-MM`, from its first instant (inclusive) to the first instant of the next
 * month (exclusive). Proration is by day: each UTC day of the period is charged to the plan in effect at the END of
 * that day, so a plan change counts from its own day, several changes in one day charge only the last, and the days
 * before the account's first plan are not charged. An ACCOUNT_CLOSED entry ends charging: the day of closing and
 * every day after it are not charged (the account is closed at their end).
 */

export const CURRENCY = 'USD';
const DAY_MS = 86_400_000;

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
  /** First instant charged (a UTC midnight, ISO). */
  from: string;
  /** First instant no longer charged (a UTC midnight, ISO; exclusive). */
  to: string;
  days: number;
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

/** Thrown for a malformed period or date; the billing-close workflow fails on this name. */
export class InvalidPeriodError extends Error {
  override readonly name = 'InvalidPeriod';
}

/**
 * Thrown for a period that has not ended yet (the current month, or a later one): its statements would bill days that
 * have not happened, and a plan change later in the month would contradict them. The billing-close workflow fails
 * with this name.
 */
export class PeriodNotEndedError extends Error {
  override readonly name = 'Billing.PeriodNotEnded';
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
      // Nothing is charged from the closing on: the day of closing ends with no plan in effect.
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

/** Cents for `days` of a month of `daysInPeriod` days at `monthlyPrice` USD a month. */
export function prorate(monthlyPrice: number, days: number, daysInPeriod: number): number {
  return Math.round((Math.round(monthlyPrice * 100) * days) / daysInPeriod);
}

/** The statement of one period from a user's ledger (any order; entries after the period change nothing). */
export function computeStatement(entries: readonly LedgerEntry[], period: string, catalog: readonly Plan[]): Statement {
  const bounds = periodBounds(period);
  const start = Date.parse(bounds.periodStart);
  const events = planEvents(entries, catalog);

  const lines: StatementLine[] = [];
  let next = 0;
  let current: PlanEvent | undefined;
  let open: { plan: string; monthlyPrice: number; from: number; days: number } | undefined;
  const close = (): void => {
    if (!open) return;
    lines.push({
      plan: open.plan,
      from: new Date(open.from).toISOString(),
      to: new Date(open.from + open.days * DAY_MS).toISOString(),
      days: open.days,
      monthlyPrice: open.monthlyPrice,
      amountCents: prorate(open.monthlyPrice, open.days, bounds.days),
    });
    open = undefined;
  };

  for (let day = 0; day < bounds.days; day += 1) {
    const dayStart = start + day * DAY_MS;
    const dayEnd = dayStart + DAY_MS;
    // The plan in effect at the end of the day: the last one that took effect before midnight.
    while (next < events.length && events[next]!.at < dayEnd) current = events[next++];
    if (current?.plan === undefined) {
      close();
      continue;
    }
    if (open && open.plan === current.plan && open.monthlyPrice === current.monthlyPrice) {
      open.days += 1;
    } else {
      close();
      open = { plan: current.plan, monthlyPrice: current.monthlyPrice, from: dayStart, days: 1 };
    }
  }
  close();

  return {
    period: bounds.period,
    periodStart: bounds.periodStart,
    periodEnd: bounds.periodEnd,
    lines,
    totalCents: lines.reduce((sum, line) => sum + line.amountCents, 0),
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
