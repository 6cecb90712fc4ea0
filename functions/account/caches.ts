import { dayKey } from '#shared/dates';
import { USAGE_READ_DAYS } from '#shared/usage-history';
import type { DailyUsage } from './domain.ts';

/**
 * What keeps customer-facing reads off API Gateway's management API, which allows 10 requests/s (burst 40) per
 * account and Region for every caller together ("Amazon API Gateway quotas",
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html). Both caches live in memory, one per Lambda
 * execution environment; nothing here is ever written to DynamoDB or logged.
 */

/** How long a revealed key value stays in an environment's memory. */
export const KEY_VALUE_TTL_MS = 15 * 60_000;
/** How stale GET /me/usage may be: one GetUsage per usage plan per environment per minute at most. */
export const USAGE_TTL_MS = 60_000;

/**
 * The usage snapshot's freshness in milliseconds from the template's UsageFreshnessSeconds (the function's
 * USAGE_FRESHNESS_SECONDS): USAGE_TTL_MS when unset; throws on a value that is not a number of seconds from 0 to 3600.
 */
export function usageFreshnessMs(seconds: string | undefined): number {
  if (seconds === undefined || seconds === '') return USAGE_TTL_MS;
  const value = Number(seconds);
  if (!Number.isFinite(value) || value < 0 || value > 3600) throw new Error(`USAGE_FRESHNESS_SECONDS must be 0–3600, not '${seconds}'`);
  return value * 1000;
}
/** Days of usage one plan-wide read covers, ending today (UTC): the longest range GET /me/usage accepts. */
export const USAGE_WINDOW_DAYS = USAGE_READ_DAYS;

const DAY_MS = 86_400_000;

/**
 * Key values by key id, each kept `ttlMs` after it was stored, at most `maxEntries` (the oldest goes first). A key's
 * value never changes in API Gateway, so an entry cannot be wrong, only gone: callers look the key id up in the
 * account record (DynamoDB, consistent read) on every request, so a rotated-away key is never served, and the TTL only
 * bounds how long a secret sits in memory.
 */
export class KeyValueCache {
  private readonly entries = new Map<string, { value: string; expiresAt: number }>();

  constructor(
    private readonly ttlMs = KEY_VALUE_TTL_MS,
    private readonly maxEntries = 10_000,
    private readonly clock: () => number = () => Date.now(),
  ) {}

  get(keyId: string): string | undefined {
    const entry = this.entries.get(keyId);
    if (!entry) return undefined;
    if (entry.expiresAt <= this.clock()) {
      this.entries.delete(keyId);
      return undefined;
    }
    return entry.value;
  }

  set(keyId: string, value: string): void {
    this.entries.delete(keyId);
    this.entries.set(keyId, { value, expiresAt: this.clock() + this.ttlMs });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  delete(keyId: string): void {
    this.entries.delete(keyId);
  }

  clear(): void {
    this.entries.clear();
  }
}

/** Every key's daily usage in one usage plan, `from`..`to` (YYYY-MM-DD, inclusive): GetUsage without a key id. */
export type PlanUsageReader = (usagePlanId: string, from: string, to: string) => Promise<Map<string, DailyUsage[]>>;
/** One key's daily usage in one usage plan: GetUsage with a key id. */
export type KeyUsageReader = (usagePlanId: string, keyId: string, from: string, to: string) => Promise<DailyUsage[]>;

interface Snapshot {
  from: string;
  to: string;
  fetchedAt: number;
  byKey: Map<string, DailyUsage[]>;
}

/**
 * Daily usage served from a per-plan snapshot: one plan-wide GetUsage (all keys, every page) covering the last
 * USAGE_WINDOW_DAYS days, refreshed when older than `ttlMs`; concurrent readers share one refresh. A range outside
 * the window (older than 92 days) is read per key, uncached. A key missing from the snapshot (no requests yet, or
 * attached after it was taken) reads as zeros until the next refresh. Freshness: at most `ttlMs` (60 s) behind
 * API Gateway, which itself counts usage with a delay.
 */
export class PlanUsageCache {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly refreshing = new Map<string, Promise<Snapshot>>();

  constructor(
    private readonly readPlan: PlanUsageReader,
    private readonly readKey: KeyUsageReader,
    private readonly ttlMs = USAGE_TTL_MS,
    private readonly clock: () => number = () => Date.now(),
  ) {}

  async usage(usagePlanId: string, keyId: string, from: string, to: string): Promise<DailyUsage[]> {
    const now = this.clock();
    const today = dayKey(now);
    const windowStart = dayKey(now - (USAGE_WINDOW_DAYS - 1) * DAY_MS);
    if (from < windowStart || to > today) return this.readKey(usagePlanId, keyId, from, to);
    let snapshot = this.snapshots.get(usagePlanId);
    if (!snapshot || now - snapshot.fetchedAt >= this.ttlMs || snapshot.to !== today) {
      snapshot = await this.refresh(usagePlanId, windowStart, today, now);
    }
    const series = snapshot.byKey.get(keyId) ?? [];
    const offset = Math.round((Date.parse(`${from}T00:00:00Z`) - Date.parse(`${snapshot.from}T00:00:00Z`)) / DAY_MS);
    const days = Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS) + 1;
    return Array.from({ length: days }, (_, i) => series[offset + i] ?? { used: 0 });
  }

  clear(): void {
    this.snapshots.clear();
    this.refreshing.clear();
  }

  private refresh(usagePlanId: string, from: string, to: string, now: number): Promise<Snapshot> {
    let pending = this.refreshing.get(usagePlanId);
    if (!pending) {
      pending = this.readPlan(usagePlanId, from, to)
        .then((byKey) => {
          const snapshot = { from, to, fetchedAt: now, byKey };
          this.snapshots.set(usagePlanId, snapshot);
          return snapshot;
        })
        .finally(() => this.refreshing.delete(usagePlanId));
      this.refreshing.set(usagePlanId, pending);
    }
    return pending;
  }
}
