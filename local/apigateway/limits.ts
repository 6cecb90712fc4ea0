import { Buckets, newBucket, refill, secondsUntilToken, type Bucket, type RateLimit } from '../token-bucket.ts';

/**
 * The API Gateway management API's request limits, per account and Region, shared by every caller (the workflows,
 * the functions, the CLI). From "Amazon API Gateway quotas" (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html),
 * "API Gateway quotas for creating, deploying and managing an API", fixed (cannot be increased):
 * - total operations: 10 requests per second with a burst of 40;
 * - CreateApiKey: 5 requests per second per account; DeleteApiKey: 5 requests per second per account (the page gives no
 *   burst for these: offline their burst is 5).
 * A request over a limit is answered `TooManyRequestsException` (HTTP 429) with a `Retry-After` header in seconds
 * (the API's model binds TooManyRequestsException.retryAfterSeconds to that header).
 */
export interface ManagementApiLimits {
  /** Every control-plane operation, together. */
  account: RateLimit;
  /** Operation name → its own limit, on top of the account limit. */
  operations: Readonly<Record<string, RateLimit>>;
}

export const AWS_MANAGEMENT_API_LIMITS: ManagementApiLimits = Object.freeze({
  account: { rate: 10, burst: 40 },
  operations: Object.freeze({ CreateApiKey: { rate: 5, burst: 5 }, DeleteApiKey: { rate: 5, burst: 5 } }),
});

/** No limit at all (tests that make many control-plane calls on purpose, and say so). */
export const NO_MANAGEMENT_API_LIMITS: ManagementApiLimits = Object.freeze({
  account: { rate: Infinity, burst: Infinity },
  operations: Object.freeze({}),
});

export type Admission = { ok: true } | { ok: false; retryAfterSeconds: number; limit: 'account' | 'operation' };

/**
 * Admits a control-plane request if both the account's bucket and the operation's own bucket (if it has a limit) hold
 * a token; takes one from each, or none. `clock` is in milliseconds (monotonic by default; tests inject one).
 */
export class ManagementApiLimiter {
  private readonly account: Bucket;
  private readonly operations = new Buckets();

  constructor(
    readonly limits: ManagementApiLimits = AWS_MANAGEMENT_API_LIMITS,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.account = newBucket(limits.account, clock());
  }

  admit(operation: string): Admission {
    const now = this.clock();
    refill(this.account, this.limits.account, now);
    const opLimit = this.limits.operations[operation];
    let opBucket: Bucket | undefined;
    if (opLimit) {
      opBucket = this.operations.of(operation, opLimit, now);
      refill(opBucket, opLimit, now);
      if (!(opBucket.tokens >= 1)) return { ok: false, limit: 'operation', retryAfterSeconds: secondsUntilToken(opBucket, opLimit, now) };
    }
    if (!(this.account.tokens >= 1)) return { ok: false, limit: 'account', retryAfterSeconds: secondsUntilToken(this.account, this.limits.account, now) };
    this.account.tokens -= 1;
    if (opBucket) opBucket.tokens -= 1;
    return { ok: true };
  }
}

/**
 * The limits a stack runs with: AWS's by default; `'off'` for none; `createApiKeyRateLimit` (the older option) sets
 * CreateApiKey's rate and burst (`Infinity` lifts only that one).
 */
export function managementApiLimits(option: ManagementApiLimits | 'off' | undefined, createApiKeyRateLimit?: number): ManagementApiLimits {
  const base = option === 'off' ? NO_MANAGEMENT_API_LIMITS : (option ?? AWS_MANAGEMENT_API_LIMITS);
  if (createApiKeyRateLimit === undefined) return base;
  return { ...base, operations: { ...base.operations, CreateApiKey: { rate: createApiKeyRateLimit, burst: Math.max(1, createApiKeyRateLimit) } } };
}
