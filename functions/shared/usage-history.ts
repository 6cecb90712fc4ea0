import { dayKey, daysBetween } from './dates.ts';

/**
 * An account's usage across every API key it held and every usage plan those keys were in.
 *
 * API Gateway counts usage per usage plan key ("Throttling and quota limits apply to requests for individual API keys
 * that are aggregated across all API stages within a usage plan", Developer Guide, "Usage plans and API keys for REST
 * APIs in API Gateway", https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-api-usage-plans.html),
 * and GetUsage reports only keys that are in the plan: with a `keyId` no longer in it (rotated away and deleted, or
 * moved to another plan) it answers 404 NotFoundException "Invalid Key identifier specified", and without `keyId` the
 * data is "indexed over the API keys in a usage plan" (API reference, GetUsage / Usage,
 * https://docs.aws.amazon.com/apigateway/latest/api/API_GetUsage.html). So a key's usage in a plan is read just before
 * it leaves the plan (rotation: after the old key is disabled; plan change: before DeleteUsagePlanKey) and kept in the
 * account item as a *segment*, under `usageHistory.<segmentId>` (written by DynamoUsageHistory in tables/accounts.ts).
 * Key ids only: no key value is ever stored. Pure: no AWS calls here.
 *
 * Merging (`mergeDays`): per key, plan and day the largest count among the segments and the live read, then summed
 * over keys and plans. A key that comes back to a plan it left in the same period is then counted once whether or not
 * API Gateway kept its earlier days, and a segment written again (a retried rotation) never adds up twice.
 */

/** One key's daily usage in one usage plan, as read when it left the plan. `days`: `YYYY-MM-DD` → requests (> 0). */
export interface UsageSegment {
  keyId: string;
  usagePlanId: string;
  /** When it was read (ISO 8601): segments older than the retention are dropped on the next write. */
  recordedAt: string;
  days: Record<string, number>;
}

/** The account item's `usageHistory`: segment id (rotation id or plan-change execution name) → segment. */
export type UsageHistory = Record<string, UsageSegment>;

/** One key's daily usage in one usage plan from a live GetUsage: one count per day from `from`, in order. */
export interface LiveUsage {
  keyId: string;
  usagePlanId: string;
  from: string;
  used: number[];
}

/** Days of usage a segment is read for, ending today (UTC): the longest range GET /me/usage reads from a snapshot. */
export const USAGE_READ_DAYS = 92;

/** How long a segment is kept: as long as the offline stack keeps daily usage (400 days). */
export const USAGE_HISTORY_RETENTION_DAYS = 400;

const DAY_MS = 86_400_000;

/** The segment of a live read: days with requests only. */
export function segmentOf(live: LiveUsage, recordedAt: Date): UsageSegment {
  const days: Record<string, number> = {};
  live.used.forEach((used, i) => {
    if (used > 0) days[dayKey(Date.parse(`${live.from}T00:00:00Z`) + i * DAY_MS)] = used;
  });
  return { keyId: live.keyId, usagePlanId: live.usagePlanId, recordedAt: recordedAt.toISOString(), days };
}

/**
 * Requests per day from `from` to `to` (inclusive) across every key and plan: for each key, plan and day the largest
 * count among `segments` and `live`, summed over keys and plans. Answers one number per day, in order.
 */
export function mergeDays(segments: Iterable<UsageSegment>, live: readonly LiveUsage[], from: string, to: string): number[] {
  const byKeyPlanDay = new Map<string, Map<string, number>>();
  const add = (keyId: string, usagePlanId: string, day: string, used: number): void => {
    if (day < from || day > to || !(used > 0)) return;
    const id = `${keyId}\u0000${usagePlanId}`;
    let days = byKeyPlanDay.get(id);
    if (!days) byKeyPlanDay.set(id, (days = new Map()));
    days.set(day, Math.max(days.get(day) ?? 0, used));
  };
  for (const segment of segments) {
    for (const [day, used] of Object.entries(segment.days)) add(segment.keyId, segment.usagePlanId, day, used);
  }
  for (const read of live) {
    const start = Date.parse(`${read.from}T00:00:00Z`);
    read.used.forEach((used, i) => add(read.keyId, read.usagePlanId, dayKey(start + i * DAY_MS), used));
  }
  return daysBetween(from, to).map((day) => {
    let sum = 0;
    for (const days of byKeyPlanDay.values()) sum += days.get(day) ?? 0;
    return sum;
  });
}

/** The account's segments; a missing or malformed `usageHistory` has none. */
export function segmentsOf(account: object | undefined): UsageSegment[] {
  const history = (account as { usageHistory?: unknown } | undefined)?.usageHistory;
  if (typeof history !== 'object' || history === null) return [];
  return Object.values(history as Record<string, unknown>).filter(
    (s): s is UsageSegment =>
      typeof s === 'object' && s !== null &&
      typeof (s as UsageSegment).keyId === 'string' &&
      typeof (s as UsageSegment).usagePlanId === 'string' &&
      typeof (s as UsageSegment).days === 'object' && (s as UsageSegment).days !== null,
  );
}

/** Keeps segments in the account item. */
export interface UsageHistoryWriter {
  /**
   * Stores `segment` under `segmentId` (writing it again replaces it: safe to repeat) and drops segments recorded more
   * than USAGE_HISTORY_RETENTION_DAYS before `now`. `existing` is the account's history as last read (for pruning).
   * A missing account is left missing (ConditionalCheckFailedException is swallowed: nothing to keep usage for).
   */
  record(userId: string, segmentId: string, segment: UsageSegment, existing: UsageHistory | undefined, now: Date): Promise<void>;
}
