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
