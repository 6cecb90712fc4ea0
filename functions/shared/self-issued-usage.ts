import { daysBetween } from './dates.ts';
import type { Plan, QuotaPeriod } from './plans.ts';
import { USAGE_HISTORY_RETENTION_DAYS, type LiveUsage } from './usage-history.ts';

/**
 * Usage in KeyMode SelfIssued, from KeyAuthorizerFunction's own counters (SelfIssuedKeys table, `USE#<customerId>#<period>`
 * items, functions/shared/tables/self-issued-keys.ts), for GET /me/usage and the month's statement: the same figures
 * the API Gateway key mode reads from usage plans (functions/shared/usage-history.ts). Pure: no AWS calls here.
 *
 * Each counter item holds the quota period's `used` (what the authorizer enforces) and, written by the same conditional
 * UpdateItem, one top-level number per UTC day of the period (`d<YYYY-MM-DD>`, ADD: DynamoDB's ADD works on top-level
 * attributes only — "ADD … can only be used on top-level attributes, not nested attributes", Developer Guide, "Update
 * expressions", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html).
 * So a period's days add up to its `used`, and the per-day counts cost no extra write.
 */

/** One counter item as read: its period key (`2026-11`, `W2026-11-30` or `2026-11-30`), `used` and requests per day. */
export interface UsageCounter {
  period: string;
  used: number;
  /** `YYYY-MM-DD` → requests admitted that UTC day. */
  days: Record<string, number>;
}

/** Where a counter keeps a day's requests: the top-level attribute `d<YYYY-MM-DD>`. */
export const dayAttribute = (day: string): string => `d${day}`;

/** The day an attribute name of a counter item counts (`d2026-11-30` → `2026-11-30`), or undefined for another attribute. */
export function dayOfAttribute(name: string): string | undefined {
  return /^d\d{4}-\d{2}-\d{2}$/.test(name) ? name.slice(1) : undefined;
}

const DAY_S = 86_400;

/**
 * The quota period a request at `now` counts in — `2026-11-30` (DAY), `W2026-11-30` (WEEK: its Monday), `2026-11`
 * (MONTH), UTC calendar periods as API Gateway's (functions/shared/dates.ts) — and when its counter may expire (epoch
 * seconds): USAGE_HISTORY_RETENTION_DAYS (400) after the period ends, so GET /me/usage and a late billing close still
 * read it, as the API Gateway mode keeps usage segments 400 days.
 */
export function quotaPeriod(period: QuotaPeriod, now: Date): { key: string; expiresAt: number } {
  const day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) / 1000;
  const keep = USAGE_HISTORY_RETENTION_DAYS * DAY_S;
  if (period === 'DAY') return { key: new Date(day * 1000).toISOString().slice(0, 10), expiresAt: day + DAY_S + keep };
  if (period === 'WEEK') {
    const monday = day - ((new Date(day * 1000).getUTCDay() + 6) % 7) * DAY_S;
    return { key: `W${new Date(monday * 1000).toISOString().slice(0, 10)}`, expiresAt: monday + 7 * DAY_S + keep };
  }
  return { key: now.toISOString().slice(0, 7), expiresAt: Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1) / 1000 + keep };
}

/**
 * The counter periods holding the days `from`..`to` (inclusive) for every quota period of `catalog`'s plans, each once,
 * in order: a customer's requests are counted in their plan's period, so a range is read from every kind a plan uses.
 */
export function counterPeriods(catalog: readonly Pick<Plan, 'quotaPeriod'>[], from: string, to: string): string[] {
  const kinds = [...new Set(catalog.map((p) => p.quotaPeriod))];
  const keys = new Set<string>();
  for (const day of daysBetween(from, to)) for (const kind of kinds) keys.add(quotaPeriod(kind, new Date(`${day}T00:00:00Z`)).key);
  return [...keys];
}

/** The marker key and plan id the counters' usage carries when merged with usage segments (mergeDays). */
export const SELF_ISSUED_USAGE_ID = 'self-issued';

/**
 * Requests per day `from`..`to` from the counters, as a live read for mergeDays: each request is counted in exactly one
 * counter, so the counters' days add up (a day in two counters only after the catalogue changed a plan's period).
 */
export function countersAsUsage(counters: readonly UsageCounter[], from: string, to: string): LiveUsage {
  const used = daysBetween(from, to).map((day) => counters.reduce((sum, c) => sum + (c.days[day] ?? 0), 0));
  return { keyId: SELF_ISSUED_USAGE_ID, usagePlanId: SELF_ISSUED_USAGE_ID, from, used };
}
