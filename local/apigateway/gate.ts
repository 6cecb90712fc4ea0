import type { Admission, ApiKeyRecord, KeyGate, QuotaPeriod, UsagePlanSpec } from '../types.ts';
import { periodOf } from './periods.ts';
import type { ApiGatewayStore } from './store.ts';
import { Buckets } from '../token-bucket.ts';


interface QuotaWindow {
  kind: QuotaPeriod;
  /** The usage plan whose count this is: usage is per usage plan key. */
  planId: string;
  /** Period id (periodOf): UpdateUsage offsets are kept per key, plan and period id. */
  id: string;
  start: number;
  end: number;
  used: number;
}

/**
 * The data plane's view of keys and plans. Per key: a token bucket (refills at throttle.rateLimit per second, holds at
 * most throttle.burstLimit; a bucket starts full), then the plan's quota for the current period (DAY = UTC day,
 * WEEK = ISO week from Monday 00:00 UTC, MONTH = UTC calendar month). A request is counted (daily, per usage plan
 * key) only when admitted. Usage is per usage plan key, as in AWS ("quota limits apply to requests for individual API
 * keys that are aggregated across all API stages within a usage plan"): a key that moves to another plan starts that
 * plan's quota afresh unless UpdateUsage says otherwise (the product carries the quota over that way). An UpdateUsage grant (the store's quotaOffset, per key, plan and period) counts as
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
      const window = this.quotaWindow(keyId, plan.id, plan.quota.period, ms);
      if (window.used + this.store.quotaOffset(keyId, plan.id, window.id, ms) >= plan.quota.limit) {
        return { ok: false, reason: 'quota' };
      }
    }
    this.store.recordRequest(keyId, plan.id, ms);
    const window = this.windows.get(keyId);
    if (window?.planId === plan.id) {
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
  private quotaWindow(keyId: string, planId: string, kind: QuotaPeriod, ms: number): QuotaWindow {
    const cached = this.windows.get(keyId);
    if (cached && cached.planId === planId && cached.kind === kind && ms >= cached.start && ms < cached.end) return cached;
    const period = periodOf(kind, ms);
    const used = this.store.usedInPeriod(keyId, planId, period);
    const window = { kind, planId, id: period.id, start: period.start, end: period.end, used };
    this.windows.set(keyId, window);
    return window;
  }
}
