/**
 * The one token bucket of the offline stack (usage-plan keys, stage method throttles, the API Gateway management
 * API's account and per-operation limits). A bucket holds at most `burst` tokens, starts full, and refills at `rate`
 * tokens per second (fractions allowed); each request takes one token and is refused when there is less than one.
 * Limits are passed per call, so a bucket follows a plan change at once (the new burst caps it). A clock that goes
 * backwards refills nothing. Times are milliseconds from an injectable clock. `Infinity` as rate and burst admits all.
 * Own code, not a library: a dozen lines, and the semantics (limits per call, monotonic refill) are AWS's, not a
 * generic rate limiter's.
 */
export interface Bucket {
  tokens: number;
  /** Clock reading (ms) of the last refill. */
  last: number;
}

export interface RateLimit {
  /** Tokens per second. */
  rate: number;
  /** Bucket capacity (the burst). */
  burst: number;
}

export function newBucket(limit: RateLimit, nowMs: number): Bucket {
  return { tokens: limit.burst, last: nowMs };
}

/** Adds the tokens earned since the last refill, capped at the burst. */
export function refill(bucket: Bucket, limit: RateLimit, nowMs: number): void {
  if (nowMs > bucket.last) {
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((nowMs - bucket.last) / 1000) * Math.max(0, limit.rate));
    bucket.last = nowMs;
  } else {
    bucket.tokens = Math.min(limit.burst, bucket.tokens);
  }
}

/** Takes a token if there is one (after refilling); false when the request must be refused. */
export function takeToken(bucket: Bucket, limit: RateLimit, nowMs: number): boolean {
  refill(bucket, limit, nowMs);
  if (!(bucket.tokens >= 1)) return false;
  bucket.tokens -= 1;
  return true;
}

/** Tokens the bucket would hold at `nowMs` (no side effect). */
export function tokensAt(bucket: Bucket, limit: RateLimit, nowMs: number): number {
  const elapsed = nowMs - bucket.last;
  if (!(elapsed > 0)) return Math.min(limit.burst, bucket.tokens);
  return Math.min(limit.burst, bucket.tokens + (elapsed / 1000) * Math.max(0, limit.rate));
}

/** Whole seconds until the bucket holds a token again (at least 1): what `Retry-After` says. */
export function secondsUntilToken(bucket: Bucket, limit: RateLimit, nowMs: number): number {
  const missing = 1 - tokensAt(bucket, limit, nowMs);
  if (missing <= 0) return 1;
  if (!(limit.rate > 0)) return 60;
  return Math.max(1, Math.ceil(missing / limit.rate));
}

/**
 * Buckets by key (a route, an API key id, an operation), each created full on its key's first request: what every
 * throttle of the offline stack keeps. Limits are passed per call, as for the functions above.
 */
export class Buckets {
  private readonly byKey = new Map<string, Bucket>();

  /** The key's bucket, created full at `nowMs` if it has none yet. */
  of(key: string, limit: RateLimit, nowMs: number): Bucket {
    let bucket = this.byKey.get(key);
    if (bucket === undefined) this.byKey.set(key, (bucket = newBucket(limit, nowMs)));
    return bucket;
  }

  /** takeToken on the key's bucket. */
  take(key: string, limit: RateLimit, nowMs: number): boolean {
    return takeToken(this.of(key, limit, nowMs), limit, nowMs);
  }

  /** Tokens in the key's bucket at `nowMs`; undefined before its first request. */
  tokens(key: string, limit: RateLimit, nowMs: number): number | undefined {
    const bucket = this.byKey.get(key);
    return bucket === undefined ? undefined : tokensAt(bucket, limit, nowMs);
  }

  delete(key: string): void {
    this.byKey.delete(key);
  }
}
