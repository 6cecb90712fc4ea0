import type { Admission, ApiKeyRecord, KeyGate, QuotaPeriod, UsagePlanSpec } from '../types.ts';
import { periodOf } from './periods.ts';
import type { ApiGatewayStore } from './store.ts';
import { Buckets } from '../token-bucket.ts';


interface QuotaWindow {
  kind: QuotaPeriod;
  /** Period id (periodOf): UpdateUsage offsets are kept per key, plan and period id. */
  id: string;
  start: number;
  end: number;
  used: number;
}

/**
 * The data plane's view of keys and plans. Per key: a token bucket (refills at throttle.rateLimit per second, holds at
 * most throttle.burstLimit; a bucket starts full), then the plan's quota for the current period (DAY = UTC day,
 * WEEK = ISO week from Monday 00:00 UTC, MONTH = UTC calendar month). A request is counted (daily, per key) only
 * when admitted. Usage is per key, not per plan: after a plan change the requests already made in the period count
 * against the new plan's quota. An UpdateUsage grant (the store's quotaOffset, per key, plan and period) counts as
 * requests already made, so after `replace /remaining = n` exactly n more requests pass in the period.
 */
export class ApiKeyGate implements KeyGate {
  private readonly buckets = new Buckets();
  private readonly windows = new Map<string, QuotaWindow>();
  private readonly now: () => Date;

  constructor(
    private readonly store: ApiGatewayStore,
    opts: { now?: () => Date } = {},
  ) {
    this.now = opts.now ?? (() => new Date());
    store.onApiKeyDeleted((keyId) => {
      this.buckets.delete(keyId);
      this.windows.delete(keyId);
    });
  }

  resolve(value: string, apiId: string, stage: string): { key: ApiKeyRecord; plan: UsagePlanSpec } | undefined {
    return this.store.resolve(value, apiId, stage);
  }

  admit(keyId: string, plan: UsagePlanSpec, now: Date = this.now()): Admission {
    const ms = now.getTime();
    if (plan.throttle && !this.buckets.take(keyId, { rate: plan.throttle.rateLimit, burst: plan.throttle.burstLimit }, ms)) {
      return { ok: false, reason: 'throttled' };
    }
    if (plan.quota) {
      const window = this.quotaWindow(keyId, plan.quota.period, ms);
      if (window.used + this.store.quotaOffset(keyId, plan.id, window.id, ms) >= plan.quota.limit) {
        return { ok: false, reason: 'quota' };
      }
    }
    this.store.recordRequest(keyId, ms);
    const window = this.windows.get(keyId);
    if (window) {
      if (ms >= window.start && ms < window.end) window.used += 1;
      else this.windows.delete(keyId);
    }
    return { ok: true };
  }

  /** Tokens left in the key's bucket at `now` (for tests and diagnostics); undefined before its first request. */
  tokens(keyId: string, plan: UsagePlanSpec, now: Date = this.now()): number | undefined {
    if (!plan.throttle) return undefined;
    return this.buckets.tokens(keyId, { rate: plan.throttle.rateLimit, burst: plan.throttle.burstLimit }, now.getTime());
  }

  /** The quota period holding `ms` and the requests counted in it; cached per key, recomputed (≤ 31 lookups) on a new period. */
  private quotaWindow(keyId: string, kind: QuotaPeriod, ms: number): QuotaWindow {
    const cached = this.windows.get(keyId);
    if (cached && cached.kind === kind && ms >= cached.start && ms < cached.end) return cached;
    const period = periodOf(kind, ms);
    const window = { kind, id: period.id, start: period.start, end: period.end, used: this.store.usedInPeriod(keyId, period) };
    this.windows.set(keyId, window);
    return window;
  }
}
