import type { QuotaPeriod } from './plans.ts';

/** Calendar days and quota periods in UTC, as API Gateway counts usage. Pure. */

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD` of the UTC day holding `at`. */
export function dayKey(at: Date | number): string {
  return new Date(typeof at === 'number' ? at : at.getTime()).toISOString().slice(0, 10);
}

/**
 * First day (`YYYY-MM-DD`, UTC) of the quota period holding `now`, as API Gateway counts it: DAY = the UTC day,
 * WEEK = from Monday, MONTH = from the 1st.
 */
export function quotaPeriodStart(period: QuotaPeriod, now: Date): string {
  const day = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  switch (period) {
    case 'DAY':
      return dayKey(day);
    case 'WEEK':
      return dayKey(day - ((new Date(day).getUTCDay() + 6) % 7) * DAY_MS);
    case 'MONTH':
      return dayKey(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  }
}

/** Every day from `from` to `to` (`YYYY-MM-DD`, inclusive), in order. */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = [];
  for (let at = Date.parse(`${from}T00:00:00Z`), end = Date.parse(`${to}T00:00:00Z`); at <= end; at += DAY_MS) days.push(dayKey(at));
  return days;
}

/**
 * The instant (ISO 8601, UTC) the quota period holding `now` ends and the quota resets: the next UTC midnight (DAY),
 * the next Monday 00:00 UTC (WEEK, the week quotaPeriodStart counts), or the 1st of the next month 00:00 UTC (MONTH).
 * API Gateway's periods are UTC calendar periods; the usage plan's quota `offset` does not move them: it is "the number
 * of requests subtracted from the given limit in the initial time period" (API reference, QuotaSettings,
 * https://docs.aws.amazon.com/apigateway/latest/api/API_QuotaSettings.html), and the template sets none.
 */
export function quotaResetsAt(period: QuotaPeriod, now: Date): string {
  const day = Math.floor(now.getTime() / DAY_MS) * DAY_MS;
  switch (period) {
    case 'DAY':
      return new Date(day + DAY_MS).toISOString();
    case 'WEEK':
      return new Date(day + (7 - ((new Date(day).getUTCDay() + 6) % 7)) * DAY_MS).toISOString();
    case 'MONTH':
      return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString();
  }
}
