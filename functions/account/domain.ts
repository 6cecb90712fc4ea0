// Over 400 lines: the key's life (read, rotate, overlap, retire) and the usage and billing views share AccountDeps and the account's invariants; splitting them is the next step.
import { requireActive, type AccountStore, type ActiveAccount, type PlanAccount, type PreviousKey } from '#shared/accounts';
import { computeStatement, currentPeriod, type LedgerEntry, type Statement } from '#shared/billing';
import { DEFAULT_RETRY_AFTER_SECONDS, errorName, isNotFound, isTransient, isUserNotFound, retryAfterOf, unless } from '#shared/aws-errors';
import { ConflictError, ForbiddenError, HttpError, NotFoundError, ServiceUnavailableError } from '#shared/errors';
import { logger } from '#shared/logger';
import type { Page, PageRequest } from '#shared/pagination';
import { dayKey, daysBetween, quotaPeriodStart, quotaResetsAt } from '#shared/dates';
import { findPlan, type Plan, type QuotaPeriod } from '#shared/plans';
import type { KeyOwnerWriter } from '#shared/tables/key-owners';
import {
  USAGE_READ_DAYS,
  mergeDays,
  segmentOf,
  segmentsOf,
  type UsageHistory,
  type UsageHistoryWriter,
  type UsageSegment,
} from '#shared/usage-history';

/**
 * The caller's own API key (read, rotate), usage and billing. Typed input in, a view or a typed error out; the SDK
 * sits behind the small interfaces below. Key values pass through here but are never logged.
 */

export interface ApiKeyDetails {
  id: string;
  value?: string;
  name?: string;
  enabled: boolean;
  createdDate?: string;
}

/** One day of a key's usage in a usage plan: requests admitted, and quota left at the end of the day. */
export interface DailyUsage {
  used: number;
  remaining?: number;
}

export interface KeyService {
  /** The key with its value; undefined if there is none. */
  getKey(id: string): Promise<ApiKeyDetails | undefined>;
  /** A new enabled key; answers its id only. */
  createKey(name: string, tags: Record<string, string>): Promise<string>;
  attachKey(usagePlanId: string, keyId: string): Promise<void>;
  /** One entry per day from `from` to `to` (`YYYY-MM-DD`, inclusive); days without data are zeros. Uncached. */
  usage(usagePlanId: string, keyId: string, from: string, to: string): Promise<DailyUsage[]>;
  /** Every key of the plan, one entry per day from `from` to `to`: GetUsage without a key id, every page. */
  planUsage(usagePlanId: string, from: string, to: string): Promise<Map<string, DailyUsage[]>>;
  /** Sets the quota left in the current period (UpdateUsage, `replace /remaining`). */
  setRemaining(usagePlanId: string, keyId: string, remaining: number): Promise<void>;
  /** The next three are safe to repeat: a key or membership that is gone already counts as done. */
  disableKey(id: string): Promise<void>;
  detachKey(usagePlanId: string, keyId: string): Promise<void>;
  deleteKey(id: string): Promise<void>;
}

export interface UserDirectory {
  /** Writes `custom:apiid`, the key id the user's next tokens carry. */
  setApiKeyId(userId: string, keyId: string): Promise<void>;
}

export interface AccountKeyWriter {
  /**
   * Takes the account's rotation lock for `lockId` if the account is ACTIVE, not suspended, still holds `fromKeyId`, has no plan
   * change pending, and no other rotation holds an unexpired lock (the same `lockId` may take it again: a retry).
   * False if any of that does not hold. The lock expires at `until`, so a crashed rotation cannot block the account.
   */
  lockRotation(userId: string, fromKeyId: string, lockId: string, now: Date, until: Date): Promise<boolean>;
  /**
   * Points the account at `newKeyId` and releases the rotation lock, if the account is still ACTIVE (not CLOSING: an
   * offboarding that came first read the old key) and not suspended, on `plan` with `oldKeyId`, no plan change
   * pending, and the lock is still `lockId`; false if any of that no longer holds.
   */
  swapKey(userId: string, oldKeyId: string, newKeyId: string, plan: string, lockId: string, now: Date, previous?: PreviousKey): Promise<boolean>;
  /** Forgets the rotated-away key `keyId` once it is retired (no-op if the account holds another or none). */
  clearPreviousKey(userId: string, keyId: string): Promise<void>;
  /** Releases the rotation lock if `lockId` still holds it (a rotation that did not commit). */
  releaseRotation(userId: string, lockId: string): Promise<void>;
}

export interface KeyRetirement {
  /**
   * Starts the retirement of `rotation.previousKeyId` at `rotation.retireAt`, once per rotation (execution name from
   * the rotation id): a repeat finds the execution started and starts nothing.
   */
  schedule(userId: string, rotation: Rotation & { retireAt: string }): Promise<void>;
}

export interface Ledger {
  /** Entries newest first, one page. */
  page(userId: string, page: PageRequest): Promise<Page<LedgerEntry>>;
  /** Every PLAN_STARTED / PLAN_CHANGED entry of the user. */
  planEntries(userId: string): Promise<LedgerEntry[]>;
}

export interface AccountDeps {
  accounts: AccountStore;
  keys: KeyService;
  users: UserDirectory;
  accountKeys: AccountKeyWriter;
  /** Each API Gateway key's owner record, the key-only data API's lookup (#shared/tables/key-owners). */
  keyOwners: KeyOwnerWriter;
  ledger: Ledger;
  /** Where a key's usage in a plan is kept once the key leaves it (rotation): the account item's `usageHistory`. */
  usageHistory: UsageHistoryWriter;
  usagePlanIdFor: (plan: string) => Promise<string>;
  /**
   * Usage as customer reads see it: from a cache with a stated freshness (caches.ts: PlanUsageCache, 60 s), so a
   * dashboard load does not spend the management API's 10 requests/s. Rotation reads `keys.usage` instead (exact).
   */
  readUsage: (usagePlanId: string, keyId: string, from: string, to: string) => Promise<DailyUsage[]>;
  catalog: readonly Plan[];
  now: () => Date;
  /** Retires a rotated-away key when its overlap ends: the key-retirement workflow (one execution per rotation). */
  retirement?: KeyRetirement;
}

export async function activeAccount(deps: Pick<AccountDeps, 'accounts'>, userId: string): Promise<ActiveAccount> {
  return requireActive((await deps.accounts.get(userId)) as PlanAccount | undefined);
}

export function planOf(deps: Pick<AccountDeps, 'catalog'>, account: ActiveAccount): Plan {
  const plan = findPlan(deps.catalog, account.plan);
  if (!plan) throw new Error(`Plan ${account.plan} of the account is not in PLAN_CATALOG`);
  return plan;
}

// ---------------------------------------------------------------------------------------------------- GET /me/api-key

/** The caller's key: its id (from the account record) and, only when revealed, its value. */
export interface ApiKeyView {
  id: string;
  plan: string;
  value?: string;
  /** When a rotation made the key (ISO 8601); absent for the key onboarding made. */
  createdAt?: string;
  /** The rotated-away key while its overlap lasts: no id (it is no longer the caller's to use), when it stops working. */
  previous?: { expiresAt: string; createdAt?: string };
}

/**
 * The caller's current key. By default metadata only, from the account record (DynamoDB): no management API call, no
 * secret on the wire. With `reveal`, the value too: from the environment's key value cache (caches.ts, 15 min), else
 * one GetApiKey (includeValue). A dashboard reveals only when the key id differs from the one it holds.
 */
export async function getApiKey(deps: AccountDeps, userId: string, reveal = false): Promise<ApiKeyView> {
  const account = await activeAccount(deps, userId);
  const previous = account.previousKey;
  const view: ApiKeyView = {
    id: account.apiKeyId,
    plan: account.plan,
    ...(account.apiKeyCreatedAt ? { createdAt: account.apiKeyCreatedAt } : {}),
    ...(previous && Date.parse(previous.expiresAt) > deps.now().getTime()
      ? { previous: { expiresAt: previous.expiresAt, ...(previous.createdAt ? { createdAt: previous.createdAt } : {}) } }
      : {}),
  };
  if (!reveal) return view;
  const key = await deps.keys.getKey(account.apiKeyId);
  if (!key?.value) throw new ConflictError('The API key of the account no longer exists');
  return { ...view, value: key.value };
}

// ---------------------------------------------------------------------------------------------------- rotation

/** What a rotation committed. Kept by the idempotency layer, so it carries no key value. */
export interface Rotation {
  id: string;
  previousKeyId: string;
  plan: string;
  usagePlanId: string;
  quotaCarriedOver: number;
  /** With an overlap: when the old key is retired (ISO 8601); until then it keeps working. */
  retireAt?: string;
}

export interface RotationResponse {
  id: string;
  value: string;
  previousKeyId: string;
  quotaCarriedOver: number;
  /** With an overlap: when the old key stops working (ISO 8601). */
  previousKeyExpiresAt?: string;
}

/** The longest overlap a rotation may keep the old key working for: 24 hours. */
export { MAX_OVERLAP_SECONDS } from './schemas.ts';

/**
 * Requests the account made in the current quota period of `plan`, with every key and plan it held: the account's
 * usage history merged with `keyId`'s exact (uncached) usage in `usagePlanId`. What a rotation carries over.
 */
async function periodUsed(deps: AccountDeps, account: ActiveAccount, usagePlanId: string, keyId: string, plan: Plan, now: Date): Promise<number> {
  const from = quotaPeriodStart(plan.quotaPeriod, now);
  // NotFound: a key API Gateway never had (a self-issued `si…` id, after a switch back from KeyMode SelfIssued).
  const live = await unless(isNotFound, [], deps.keys.usage(usagePlanId, keyId, from, dayKey(now)));
  const days = mergeDays(segmentsOf(account), [{ keyId, usagePlanId, from, used: live.map((d) => d.used) }], from, dayKey(now));
  return days.reduce((sum, used) => sum + used, 0);
}

/**
 * A rotation asked for while the account's key is suspended (its Cognito user is disabled: the account reconciler,
 * functions/reconcile): refused, or the disabled user would get a working key.
 */
export function keySuspended(keySuspendedAt?: string): ForbiddenError {
  return new ForbiddenError('The user is disabled: the API key is suspended and cannot be rotated', 'KeySuspended', keySuspendedAt ? { keySuspendedAt } : undefined);
}

/** Why the account refused the rotation: the caller should hear the reason, not a bare conflict. */
async function rotationConflict(deps: AccountDeps, userId: string, oldKeyId: string): Promise<HttpError> {
  const account = (await deps.accounts.get(userId)) as PlanAccount | undefined;
  if (account?.keySuspendedAt !== undefined) return keySuspended(account.keySuspendedAt);
  if (account?.pendingPlanChange !== undefined) {
    return new ConflictError('A plan change is in progress', { executionId: account.pendingPlanChange });
  }
  if (account?.apiKeyId !== oldKeyId) return new ConflictError(KEY_CHANGED);
  if (account.status !== 'ACTIVE') return new ConflictError(`The account is not active (status ${account.status})`, { status: account.status });
  return new ConflictError(ROTATION_IN_PROGRESS);
}

export const KEY_CHANGED = 'The API key was changed by another request';
export const ROTATION_IN_PROGRESS = 'Another rotation of this API key is in progress; try again in a moment';

/** How long a rotation holds the account's lock: longer than the function's timeout (template: 10 s). */
export const ROTATION_LOCK_MS = 30_000;

/** A rotation failure as the client hears it: typed errors as they are, throttling as a 503, the rest as a 500. */
/** A rotation's error as the caller should see it: a deleted user 403, a throttled AWS call 503, else unchanged. */
export function rotationFailure(error: unknown): unknown {
  if (error instanceof HttpError) return error;
  // Deleted in the pool (AdminDeleteUser) while the ID token lives on: the account is being closed (issue 16).
  if (isUserNotFound(error)) return new ForbiddenError('This user has been deleted; the account is being closed');
  if (isTransient(error)) return new ServiceUnavailableError('The key could not be rotated right now; try again', retryAfterOf(error));
  return error;
}

/**
 * Undoes a rotation that did not commit: custom:apiid back to the account's key, the new key's owner record retired
 * and the key deleted, the old key's `rotatingTo` mark removed (left behind, it costs the key-only lookup more reads,
 * never a wrong answer). Each step is attempted whatever became of the others; failures are logged.
 */
async function compensate(deps: AccountDeps, userId: string, oldKeyId: string, newKeyId: string, userUpdated: boolean, now: Date) {
  if (userUpdated) {
    try {
      const account = await deps.accounts.get(userId);
      await deps.users.setApiKeyId(userId, account?.apiKeyId ?? oldKeyId);
    } catch (error: unknown) {
      logger.error('Compensation: could not restore custom:apiid', { keyId: newKeyId, errorName: errorName(error) });
    }
  }
  // The record first, on its own: a key that cannot be deleted (DeleteApiKey is limited to 5/s) stays enabled in its
  // plan, and its record must not keep admitting it in key-only mode.
  try {
    await deps.keyOwners.retire(newKeyId, userId, now);
  } catch (error: unknown) {
    logger.error('Compensation: could not retire the new API key\'s owner record', { keyId: newKeyId, errorName: errorName(error) });
  }
  try {
    await deps.keys.deleteKey(newKeyId);
  } catch (error: unknown) {
    logger.error('Compensation: could not delete the new API key', { keyId: newKeyId, errorName: errorName(error) });
  }
  try {
    await deps.keyOwners.endRotation(oldKeyId, newKeyId);
  } catch (error: unknown) {
    logger.warn('Compensation: could not clear the old key\'s rotation mark', { keyId: oldKeyId, errorName: errorName(error) });
  }
}

/** One rotation: who, the key the client means to rotate, and its idempotency key. */
export interface RotationInput {
  userId: string;
  /**
   * The key the client means to rotate, if it named one (the route is token-only, so the request carries no key):
   * only that key is rotated, so a request racing another rotation loses. Without it, the account's current key.
   */
  fromKeyId?: string;
  /** Idempotency-Key (or the API request id): also the rotation lock's owner, so a retry may take the lock again. */
  requestKey: string;
  /** Seconds the old key keeps working after the rotation (0 to MAX_OVERLAP_SECONDS; 0 or absent: retired at once). */
  overlapSeconds?: number;
}

/**
 * Replaces the caller's key with a new one in the same plan, carrying over the quota used this period. Concurrent
 * rotations of one account are serialised by a conditional write on the account (the rotation lock): exactly one
 * wins, the others answer 409 before creating anything. Everything up to the account update is undone on failure
 * (the new key is deleted, the lock released, the account untouched); the old key's cleanup comes after, in
 * `finishRotation`, and is repeated by a retry.
 */
export async function rotateApiKey(deps: AccountDeps, input: RotationInput): Promise<Rotation> {
  const { userId, fromKeyId, requestKey } = input;
  const account = await activeAccount(deps, userId);
  if (account.keySuspendedAt !== undefined) throw keySuspended(account.keySuspendedAt);
  if (account.pendingPlanChange !== undefined) {
    throw new ConflictError('A plan change is in progress; rotate the key once it has finished', {
      executionId: account.pendingPlanChange,
    });
  }
  // The request's key was rotated away already (by a rotation that won the race): never rotate the winner's key.
  if (fromKeyId !== undefined && account.apiKeyId !== fromKeyId) throw new ConflictError(KEY_CHANGED);
  // One overlap at a time: the account keeps one rotated-away key (DELETE /me/api-key/previous retires it at once).
  if (account.previousKey !== undefined) {
    throw new ConflictError('The previous API key is still in its overlap; retire it first (DELETE /me/api-key/previous)', {
      previousKeyExpiresAt: account.previousKey.expiresAt,
    });
  }
  const plan = planOf(deps, account);
  const usagePlanId = await deps.usagePlanIdFor(plan.name);
  const oldKeyId = account.apiKeyId;
  const now = deps.now();

  try {
    if (!(await deps.accountKeys.lockRotation(userId, oldKeyId, requestKey, now, new Date(now.getTime() + ROTATION_LOCK_MS)))) {
      throw await rotationConflict(deps, userId, oldKeyId);
    }
  } catch (error: unknown) {
    throw rotationFailure(error);
  }

  let newKeyId: string;
  try {
    newKeyId = await deps.keys.createKey(userId, { 'tollgate:userId': userId, 'tollgate:rotatedFrom': oldKeyId });
  } catch (error: unknown) {
    await releaseLock(deps, userId, requestKey);
    throw rotationFailure(error);
  }
  let userUpdated = false;
  let quotaCarriedOver = 0;
  let retireAt: string | undefined;
  try {
    // Before the key joins a plan (API Gateway admits it from then on), so the key-only lookup always finds it;
    // marked as this rotation's until its finish, so a key the account never took is no one's (the fallback decides).
    if (!(await deps.keyOwners.record(newKeyId, userId, now, newKeyId))) throw new Error('The new key is recorded as another user\'s');
    // Before the swap (the commit): if this function dies after it and before finishRotation's endAt, the key-only
    // lookup asks the Accounts table instead of admitting the old key as current for ever.
    if (!(await deps.keyOwners.beginRotation(oldKeyId, userId, newKeyId, now))) throw new Error('The old key is recorded as another user\'s');
    await deps.keys.attachKey(usagePlanId, newKeyId);
    quotaCarriedOver = await periodUsed(deps, account, usagePlanId, oldKeyId, plan, now);
    if (quotaCarriedOver > 0) {
      await deps.keys.setRemaining(usagePlanId, newKeyId, Math.max(0, plan.quotaLimit - quotaCarriedOver));
    }
    userUpdated = true;
    await deps.users.setApiKeyId(userId, newKeyId);
    const overlap = input.overlapSeconds ?? 0;
    // Whole seconds, `…:SSZ`: the Wait state's TimestampPath takes an RFC 3339 timestamp.
    retireAt = overlap > 0 ? new Date(Math.ceil(now.getTime() / 1000) * 1000 + overlap * 1000).toISOString().replace('.000Z', 'Z') : undefined;
    const previous: PreviousKey | undefined = retireAt
      ? {
          id: oldKeyId,
          rotationId: newKeyId,
          usagePlanId,
          plan: plan.name,
          quotaCarriedOver,
          expiresAt: retireAt,
          ...(account.apiKeyCreatedAt ? { createdAt: account.apiKeyCreatedAt } : {}),
        }
      : undefined;
    // A false swap may be our own write: the SDK retries a write whose answer was lost (a timeout, or a 5xx, which
    // DynamoDB's "Error handling with DynamoDB" page lists as OK to retry: the write may have been applied), and the
    // retry finds its condition false. Only this rotation ever sets the account's key to `newKeyId`, so a consistent
    // read settles it; undoing a committed swap would delete the account's key and retire its owner record.
    if (
      !(await deps.accountKeys.swapKey(userId, oldKeyId, newKeyId, plan.name, requestKey, now, previous)) &&
      (await deps.accounts.get(userId))?.apiKeyId !== newKeyId
    ) {
      throw await rotationConflict(deps, userId, oldKeyId);
    }
  } catch (error: unknown) {
    logger.warn('Key rotation failed before commit; compensating', { keyId: newKeyId, errorName: errorName(error) });
    await compensate(deps, userId, oldKeyId, newKeyId, userUpdated, now);
    await releaseLock(deps, userId, requestKey);
    // The old key vanished under the rotation (GetUsage NotFound: an offboarding deleted it): say why, not a 500.
    if (isNotFound(error)) throw await rotationConflict(deps, userId, oldKeyId);
    throw rotationFailure(error);
  }
  logger.info('API key rotated', { keyId: newKeyId, previousKeyId: oldKeyId, quotaCarriedOver, retireAt });
  return { id: newKeyId, previousKeyId: oldKeyId, plan: plan.name, usagePlanId, quotaCarriedOver, ...(retireAt ? { retireAt } : {}) };
}

/** Best effort: a lock left behind expires after ROTATION_LOCK_MS. */
async function releaseLock(deps: AccountDeps, userId: string, lockId: string): Promise<void> {
  try {
    await deps.accountKeys.releaseRotation(userId, lockId);
  } catch (error: unknown) {
    logger.warn('Could not release the rotation lock; it expires by itself', { errorName: errorName(error) });
  }
}

/**
 * The old key's usage in its plan, read once it is disabled (so it no longer changes) and kept in the account's usage
 * history under the rotation's id (the new key id): a retry writes the same segment again. Once the key is detached
 * or deleted, API Gateway no longer reports it: a replay after that finds nothing to read and keeps what was recorded.
 */
async function recordRetiredKey(deps: RetireDeps, userId: string, rotation: Rotation): Promise<UsageHistory | undefined> {
  const now = deps.now();
  const from = dayKey(now.getTime() - (USAGE_READ_DAYS - 1) * DAY_MS);
  let used: number[];
  try {
    used = (await deps.keys.usage(rotation.usagePlanId, rotation.previousKeyId, from, dayKey(now))).map((d) => d.used);
  } catch (error: unknown) {
    if (isNotFound(error)) return undefined; // detached or deleted by an earlier try: recorded then
    throw error;
  }
  const account = (await deps.accounts.get(userId)) as (PlanAccount & { usageHistory?: UsageHistory }) | undefined;
  const segment: UsageSegment = segmentOf({ keyId: rotation.previousKeyId, usagePlanId: rotation.usagePlanId, from, used }, now);
  await deps.usageHistory.record(userId, rotation.id, segment, account?.usageHistory, now);
  return { ...account?.usageHistory, [rotation.id]: segment };
}

/**
 * Requests the old key made after its usage was carried over (between the carry-over and the disable) are in its
 * final segment: if the segments now add up to more than was carried over, the new key's remaining quota is set again,
 * to the limit minus everything used this period (its own requests included), so API Gateway enforces what GET
 * /me/usage shows. Without such requests (the rule) no call is made.
 */
async function trueUpQuota(deps: RetireDeps, rotation: Rotation, history: UsageHistory): Promise<void> {
  const plan = findPlan(deps.catalog, rotation.plan);
  if (!plan) return;
  const now = deps.now();
  const from = quotaPeriodStart(plan.quotaPeriod, now);
  const segments = segmentsOf({ usageHistory: history });
  const before = mergeDays(segments, [], from, dayKey(now)).reduce((sum, n) => sum + n, 0);
  if (before <= rotation.quotaCarriedOver) return;
  const own = (await deps.keys.usage(rotation.usagePlanId, rotation.id, from, dayKey(now))).map((d) => d.used);
  const used = mergeDays(segments, [{ keyId: rotation.id, usagePlanId: rotation.usagePlanId, from, used: own }], from, dayKey(now)).reduce(
    (sum, n) => sum + n,
    0,
  );
  await deps.keys.setRemaining(rotation.usagePlanId, rotation.id, Math.max(0, plan.quotaLimit - used));
  logger.info('Quota carried over again: the old key was used during the rotation', { keyId: rotation.id, before, carried: rotation.quotaCarriedOver });
}

/** What retiring a key needs: AccountFunction (no overlap, or DELETE /me/api-key/previous) and KeyRetirementFunction. */
export type RetireDeps = Pick<AccountDeps, 'accounts' | 'keys' | 'usageHistory' | 'catalog' | 'now'> & {
  accountKeys: Pick<AccountKeyWriter, 'clearPreviousKey'>;
  keyOwners: Pick<KeyOwnerWriter, 'retire'>;
};

/**
 * Retires a rotated-away key: disables it, keeps its usage in the account's history (see trueUpQuota), detaches and
 * deletes it, makes its KeyOwners record a tombstone, then forgets it as the account's `previousKey`. Every step is
 * safe to repeat (a key or membership already gone counts as done). `strict`: the first failure is thrown (a workflow retry or the client repeats it all);
 * otherwise failures are logged and a retry of the request repeats the cleanup. If the usage cannot be kept, the
 * disabled key is left in its plan (it admits nothing) so that a retry can still read it.
 */
export async function retireKey(deps: RetireDeps, userId: string, rotation: Rotation, strict = false): Promise<void> {
  let history: UsageHistory | undefined;
  const steps: [string, () => Promise<void>][] = [
    ['disable', () => deps.keys.disableKey(rotation.previousKeyId)],
    ['record usage', async () => void (history = await recordRetiredKey(deps, userId, rotation))],
    ['true up quota', () => (history ? trueUpQuota(deps, rotation, history) : Promise.resolve())],
    ['detach', () => deps.keys.detachKey(rotation.usagePlanId, rotation.previousKeyId)],
    ['delete', () => deps.keys.deleteKey(rotation.previousKeyId)],
    ['retire owner record', async () => void (await deps.keyOwners.retire(rotation.previousKeyId, userId, deps.now()))],
  ];
  // Only a rotation with an overlap kept the old key as the account's previousKey.
  if (rotation.retireAt !== undefined) steps.push(['forget', () => deps.accountKeys.clearPreviousKey(userId, rotation.previousKeyId)]);
  for (const [step, run] of steps) {
    try {
      await run();
    } catch (error: unknown) {
      if (strict) throw error;
      logger.warn('Old API key cleanup step failed; a retry of the request repeats it', {
        step,
        keyId: rotation.previousKeyId,
        errorName: errorName(error),
      });
      if (step === 'record usage') break;
    }
  }
}

/**
 * After the commit (first time or replayed): the old key's KeyOwners record ends at `retireAt`, or now (a failure is
 * a 503, a retry repeats it), and both keys' rotation marks are cleared; without an overlap the old key is retired
 * now (retireKey; failures logged, a retry repeats them); with one, its retirement is scheduled (once per rotation)
 * and it keeps working until `retireAt`. Then the new key's value is read for the answer. A schedule that cannot be
 * started fails the request (503): a retry with the same Idempotency-Key replays the committed rotation and starts it.
 */
export async function finishRotation(deps: AccountDeps, rotation: Rotation, userId: string): Promise<RotationResponse> {
  const { retireAt } = rotation;
  const now = deps.now();
  try {
    // The key-only lookup stops admitting the old key when the overlap ends (or now), even if its retirement is late.
    // endAt clears the rotation's mark; when the record already ends earlier (a replay), the mark is cleared alone.
    if (!(await deps.keyOwners.endAt(rotation.previousKeyId, userId, retireAt === undefined ? now : new Date(retireAt), now))) {
      await deps.keyOwners.endRotation(rotation.previousKeyId, rotation.id);
    }
  } catch (error: unknown) {
    throw rotationFailure(error);
  }
  try {
    // The new key's mark: left behind, the lookup asks the Accounts table (which holds the key), one read more.
    await deps.keyOwners.endRotation(rotation.id, rotation.id);
  } catch (error: unknown) {
    logger.warn('Could not clear the new key\'s rotation mark; a retry of the request clears it', { keyId: rotation.id, errorName: errorName(error) });
  }
  if (retireAt === undefined) {
    await retireKey(deps, userId, rotation);
  } else {
    if (!deps.retirement) throw new Error('No key retirement workflow is configured');
    try {
      await deps.retirement.schedule(userId, { ...rotation, retireAt });
    } catch (error: unknown) {
      throw rotationFailure(error);
    }
  }
  const key = await deps.keys.getKey(rotation.id);
  if (!key?.value) throw new ConflictError('The rotated key no longer exists: it was replaced by a later rotation');
  return {
    id: rotation.id,
    value: key.value,
    previousKeyId: rotation.previousKeyId,
    quotaCarriedOver: rotation.quotaCarriedOver,
    ...(retireAt ? { previousKeyExpiresAt: retireAt } : {}),
  };
}

/** The rotation a `previousKey` came from, as retireKey takes it. */
export const rotationOf = (previous: PreviousKey): Rotation => ({
  id: previous.rotationId,
  previousKeyId: previous.id,
  plan: previous.plan,
  usagePlanId: previous.usagePlanId,
  quotaCarriedOver: previous.quotaCarriedOver,
  retireAt: previous.expiresAt,
});

/**
 * DELETE /me/api-key/previous: ends the overlap early, retiring the rotated-away key at once (retireKey, strict: the
 * answer is 204 only once the key is gone). 404 when the account has no key in its overlap. The scheduled workflow
 * still runs at the overlap's end and finds nothing left to do.
 */
export async function cancelOverlap(deps: AccountDeps, userId: string): Promise<void> {
  const account = await activeAccount(deps, userId);
  if (account.previousKey === undefined) throw new NotFoundError('No previous API key is in its overlap');
  try {
    await retireKey(deps, userId, rotationOf(account.previousKey), true);
  } catch (error: unknown) {
    throw rotationFailure(error);
  }
  logger.info('Overlap ended early: previous API key retired', { keyId: account.previousKey.id });
}

// ---------------------------------------------------------------------------------------------------- usage

export interface UsageView {
  keyId: string;
  plan: string;
  from: string;
  to: string;
  /** Requests per UTC day with every key the account held and every plan they were in. */
  days: { date: string; used: number }[];
  /**
   * The current quota period: `used` = the sum of its days (so the chart and the total agree), `remaining` =
   * max(0, limit − used) (0 after a downgrade below what was used), `resetsAt` = when the next period starts (ISO 8601).
   */
  quota: { limit: number; period: QuotaPeriod; periodStart: string; resetsAt: string; used: number; remaining: number };
}

const DAY_MS = 86_400_000;

/**
 * The GET /me/usage answer (both key modes): `days` one count per day `from`..`to`, `used` the current quota period's
 * requests; remaining = max(0, limit − used).
 */
export function usageView(account: ActiveAccount, plan: Plan, from: string, to: string, days: readonly number[], used: number, now: Date): UsageView {
  return {
    keyId: account.apiKeyId,
    plan: plan.name,
    from,
    to,
    days: daysBetween(from, to).map((date, i) => ({ date, used: days[i] ?? 0 })),
    quota: {
      limit: plan.quotaLimit,
      period: plan.quotaPeriod,
      periodStart: quotaPeriodStart(plan.quotaPeriod, now),
      resetsAt: quotaResetsAt(plan.quotaPeriod, now),
      used,
      remaining: Math.max(0, plan.quotaLimit - used),
    },
  };
}

/**
 * Daily usage `from`..`to` and the current quota period's total, across rotations and plan changes: the account's
 * usage history (keys and plans it left) merged with the current key's usage in its current plan (the cached read).
 * The period total is the sum of the period's days, and what a rotation or plan change carries over to API Gateway.
 */
export async function getUsage(deps: AccountDeps, userId: string, from: string, to: string): Promise<UsageView> {
  const account = await activeAccount(deps, userId);
  const plan = planOf(deps, account);
  const usagePlanId = await deps.usagePlanIdFor(plan.name);
  const now = deps.now();
  const today = dayKey(now);
  const periodStart = quotaPeriodStart(plan.quotaPeriod, now);
  const segments = segmentsOf(account);
  const live = (start: string, used: DailyUsage[]) => [{ keyId: account.apiKeyId, usagePlanId, from: start, used: used.map((d) => d.used) }];
  // A key in its overlap still counts: its usage is read until it is retired (then it is in the usage history).
  const previous = account.previousKey;
  const previousLive = async (start: string, end: string) => {
    if (!previous) return [];
    const used = await deps.readUsage(previous.usagePlanId, previous.id, start, end);
    return [{ keyId: previous.id, usagePlanId: previous.usagePlanId, from: start, used: used.map((d) => d.used) }];
  };
  try {
    const [series, period, previousSeries, previousPeriod] = await Promise.all([
      deps.readUsage(usagePlanId, account.apiKeyId, from, to),
      deps.readUsage(usagePlanId, account.apiKeyId, periodStart, today),
      previousLive(from, to),
      previousLive(periodStart, today),
    ]);
    const days = mergeDays(segments, [...live(from, series), ...previousSeries], from, to);
    const used = mergeDays(segments, [...live(periodStart, period), ...previousPeriod], periodStart, today).reduce((sum, n) => sum + n, 0);
    return usageView(account, plan, from, to, days, used, now);
  } catch (error: unknown) {
    // The key is between usage plans (a plan change is moving it): usage is back in a moment.
    if (isNotFound(error)) throw new ServiceUnavailableError('Usage is not available right now; try again shortly', DEFAULT_RETRY_AFTER_SECONDS);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------------- billing

export interface BillingView {
  ledger: LedgerEntry[];
  cursor?: Page<LedgerEntry>['cursor'];
  statement: Statement;
}

/** One page of the ledger (newest first) and the statement so far of the current month. */
export async function getBilling(deps: AccountDeps, userId: string, page: PageRequest): Promise<BillingView> {
  const [ledger, planEntries] = await Promise.all([deps.ledger.page(userId, page), deps.ledger.planEntries(userId)]);
  const statement = computeStatement(planEntries, currentPeriod(deps.now()), deps.catalog);
  return { ledger: ledger.items, ...(ledger.cursor ? { cursor: ledger.cursor } : {}), statement };
}
