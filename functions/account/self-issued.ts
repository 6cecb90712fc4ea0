import { requireActive, type PlanAccount } from '#shared/accounts';
import { accountCaller } from '#shared/caller';
import { BadRequestError, ConflictError, type HttpError } from '#shared/errors';
import { json, parseBody, parseParams, type Routes } from '#shared/http';
import { logger } from '#shared/logger';
import { issueKey, newKeyId } from '#shared/self-issued-keys';
import type { CustomerKey, SelfIssuedKeysStore } from '#shared/tables/self-issued-keys';
import { KEY_CHANGED, ROTATION_LOCK_MS, keySuspended, rotationFailure, type AccountDeps } from './domain.ts';
import { idempotencyKeyOf } from './request.ts';
import { revealQuery, rotateBody } from './schemas.ts';

/**
 * `GET /me/api-key` and `POST /me/api-key/rotate` in KeyMode SelfIssued (./handler.ts picks these by `KEY_MODE`).
 * The key's value exists only in the answer to the rotation that issued it: the SelfIssuedKeys table holds its
 * SHA-256 hash (functions/shared/self-issued-keys.ts). So, unlike the API Gateway key mode, a value cannot be read
 * again (`?reveal=true` answers 409 saying so); a customer who lost it rotates. The first value is issued by the
 * first rotation: onboarding creates the key slot (id, plan) but shows nothing to anyone (functions/api-key/self-issued.ts).
 *
 * Rotation: the account's rotation lock (as in the per-key mode), a new key stored by hash, the customer's slot
 * swapped conditionally from the old key id while the slot is active (a racing rotation loses with 409 and its key is
 * revoked; so does one racing an offboarding, 409, or a suspension, 403), the old key revoked at once (no overlap in
 * this mode: `overlapSeconds` above 0 is a 400 naming it), `custom:apiid` and the account pointed at the new id. A
 * retry of a rotation that committed finds the account on the new id: 409 KEY_CHANGED with `fromKeyId`, never a
 * second key. A suspended account (the user is disabled: `keySuspendedAt`, or the slot `suspended`) cannot rotate:
 * 403 KeySuspended.
 */
export type SelfIssuedDeps = Pick<AccountDeps, 'accounts' | 'users' | 'accountKeys' | 'now'> & { store: SelfIssuedKeysStore };

export interface SelfIssuedKeyView {
  id: string;
  plan: string;
  /** Whether a value was issued (false until the first rotation). */
  issued: boolean;
  /** `tg_live_` + 4 characters of the value: recognises the key without revealing it. */
  hint?: string;
  /** When the current value was issued (ISO 8601, its KEY# record's `createdAt`): the key card's created date. */
  createdAt?: string;
}

export async function selfIssuedKeyView(deps: SelfIssuedDeps, userId: string, reveal: boolean): Promise<SelfIssuedKeyView> {
  const account = requireActive((await deps.accounts.get(userId)) as PlanAccount | undefined);
  if (reveal) throw new ConflictError('Self-issued API keys are shown once, when issued; rotate (POST /me/api-key/rotate) to get a new one');
  const slot = await deps.store.getCustomer(userId);
  const record = slot?.hash ? await deps.store.getKey(slot.hash) : undefined;
  return { id: account.apiKeyId, plan: account.plan, issued: record !== undefined, ...(record ? { hint: record.hint, createdAt: record.createdAt } : {}) };
}

export interface SelfIssuedRotation {
  id: string;
  /** The new key's value: in this answer only. */
  value: string;
  previousKeyId: string;
  plan: string;
}

/**
 * Why the slot refuses a rotation, if it does: suspended (the user is disabled) 403, closed (offboarding) 409, another
 * key (a rotation that won) 409 KEY_CHANGED.
 */
function slotRefusal(slot: CustomerKey | undefined, oldKeyId: string, keySuspendedAt: string | undefined): HttpError | undefined {
  if (slot?.status === 'suspended') return keySuspended(keySuspendedAt);
  if (slot?.status === 'closed') return new ConflictError('The account is being closed', { status: 'CLOSING' });
  if (slot === undefined || slot.keyId !== oldKeyId) return new ConflictError(KEY_CHANGED);
  return undefined;
}

export async function rotateSelfIssued(deps: SelfIssuedDeps, userId: string, requestKey: string, fromKeyId?: string): Promise<SelfIssuedRotation> {
  const account = requireActive((await deps.accounts.get(userId)) as PlanAccount | undefined);
  if (account.keySuspendedAt !== undefined) throw keySuspended(account.keySuspendedAt);
  if (fromKeyId !== undefined && account.apiKeyId !== fromKeyId) throw new ConflictError(KEY_CHANGED);
  const oldKeyId = account.apiKeyId;
  const now = deps.now();
  if (!(await deps.accountKeys.lockRotation(userId, oldKeyId, requestKey, now, new Date(now.getTime() + ROTATION_LOCK_MS)))) {
    throw new ConflictError(KEY_CHANGED);
  }
  const slot = await deps.store.getCustomer(userId);
  const refused = slotRefusal(slot, oldKeyId, account.keySuspendedAt);
  if (slot === undefined || refused !== undefined) {
    await deps.accountKeys.releaseRotation(userId, requestKey);
    throw refused ?? new ConflictError(KEY_CHANGED);
  }
  const issued = issueKey();
  const keyId = newKeyId();
  await deps.store.putKey(issued.hash, { customerId: userId, plan: account.plan, status: 'active', hint: issued.hint, createdAt: now.toISOString() });
  // custom:apiid before the commit, as in the per-key mode: a user deleted in the pool (AdminDeleteUser, before the
  // reconciler offboards them) is refused here (403) with the old key and the slot untouched, not after the swap.
  try {
    await deps.users.setApiKeyId(userId, keyId);
  } catch (error: unknown) {
    await deps.store.revokeKey(issued.hash);
    await deps.accountKeys.releaseRotation(userId, requestKey);
    throw rotationFailure(error);
  }
  // The commit point, one conditional write on the slot: it holds only while the slot still names the old key and is
  // active. An offboarding (CloseSelfIssuedSlot) or a suspension that wrote the slot first read the OLD hash, so this
  // swap must fail; one that writes it after reads, and revokes or suspends, the new hash.
  if (!(await deps.store.swapCustomerKey(userId, oldKeyId, { keyId, hash: issued.hash }))) {
    await deps.store.revokeKey(issued.hash);
    await restoreApiId(deps, userId, oldKeyId, keyId);
    await deps.accountKeys.releaseRotation(userId, requestKey);
    throw slotRefusal(await deps.store.getCustomer(userId), oldKeyId, account.keySuspendedAt) ?? new ConflictError(KEY_CHANGED);
  }
  if (slot.hash !== undefined) await deps.store.revokeKey(slot.hash);
  if (!(await deps.accountKeys.swapKey(userId, oldKeyId, keyId, account.plan, requestKey, now))) {
    // The slot already names the new key (the authorizer honours it); the account catches up on the next rotation.
    logger.warn('The account record did not take the rotated key id', { keyId, previousKeyId: oldKeyId });
  }
  logger.info('Self-issued key rotated', { keyId, previousKeyId: oldKeyId });
  return { id: keyId, value: issued.value, previousKeyId: oldKeyId, plan: account.plan };
}

/** Best effort after a lost swap: custom:apiid back to the key the slot still names (a later rotation sets it anyway). */
async function restoreApiId(deps: SelfIssuedDeps, userId: string, oldKeyId: string, keyId: string): Promise<void> {
  try {
    await deps.users.setApiKeyId(userId, oldKeyId);
  } catch (error: unknown) {
    logger.error('Compensation: could not restore custom:apiid', { keyId, errorName: (error as Error).name });
  }
}

const NO_STORE = { 'Cache-Control': 'no-store' };
/**
 * A rotation asking for an overlap is refused rather than answered without one: the old key stops at once in this
 * mode, and a client that planned on the overlap would otherwise find its old key dead with a 200 in hand.
 */
const NO_OVERLAP = 'Self-issued keys rotate without an overlap (the old key stops at once): overlapSeconds must be 0 or absent';

/** What a rotation keeps after its answer: everything but the value (an idempotency record may hold this, never a value). */
export type SelfIssuedRotationRecord = Omit<SelfIssuedRotation, 'value'>;

/** A rotation request: the caller, Idempotency-Key (or the request id) and the key the client names, if any. */
export interface SelfIssuedRotationRequest {
  userId: string;
  requestKey: string;
  fromKeyId?: string;
}

/**
 * Runs rotations once per (user, Idempotency-Key). `run` is the rotation; `once` wraps a function so that a repeat of
 * the same request answers the first one's record without running it again (in AWS: Powertools' makeIdempotent over
 * the IdempotencyTable, as the per-key mode's rotation). The value is not in the record: it goes to the first answer
 * only, beside the record, so a replay finds none and answers 409 — a self-issued value is shown once, and a retry
 * after a lost answer must not revoke the key it was given (the client rotates again, under a new Idempotency-Key).
 */
export function idempotentSelfIssuedRotation(
  run: (request: SelfIssuedRotationRequest) => Promise<SelfIssuedRotation>,
  once: (fn: (request: SelfIssuedRotationRequest) => Promise<SelfIssuedRotationRecord>) => (request: SelfIssuedRotationRequest) => Promise<SelfIssuedRotationRecord>,
): (request: SelfIssuedRotationRequest) => Promise<SelfIssuedRotation | SelfIssuedRotationRecord> {
  // One request at a time per execution environment (Lambda), so one slot per (user, request key) suffices.
  const shown = new Map<string, string>();
  const slot = (r: SelfIssuedRotationRequest) => `${r.userId}\n${r.requestKey}`;
  const recorded = once(async (request) => {
    const { value, ...record } = await run(request);
    shown.set(slot(request), value);
    return record;
  });
  return async (request) => {
    const record = await recorded(request);
    const value = shown.get(slot(request));
    shown.delete(slot(request));
    return value === undefined ? record : { ...record, value };
  };
}

const REPLAYED =
  'This rotation (the same Idempotency-Key) has already been done; its key value was shown once, in its first answer. Rotate again with a new Idempotency-Key for a new key';

/** The two key routes as SelfIssued mode answers them; the other /me routes are the same in both modes. */
export function selfIssuedKeyRoutes(
  deps: SelfIssuedDeps,
  rotate: (request: SelfIssuedRotationRequest) => Promise<SelfIssuedRotation | SelfIssuedRotationRecord> = (r) => rotateSelfIssued(deps, r.userId, r.requestKey, r.fromKeyId),
): Routes {
  return {
    'GET /me/api-key': async ({ event }) => {
      const { userId } = accountCaller(event, deps.accounts);
      const { reveal } = parseParams(event.queryStringParameters, revealQuery, 'query');
      return json(200, await selfIssuedKeyView(deps, userId, reveal === 'true'), NO_STORE);
    },
    'POST /me/api-key/rotate': async ({ event, requestId }) => {
      const { userId } = accountCaller(event, deps.accounts);
      const { keyId, overlapSeconds } = event.body ? parseBody(event, rotateBody) : {};
      if (overlapSeconds) throw new BadRequestError(NO_OVERLAP, { issues: [{ field: 'overlapSeconds', message: NO_OVERLAP }] });
      const rotation = await rotate({ userId, requestKey: idempotencyKeyOf(event) ?? requestId, ...(keyId ? { fromKeyId: keyId } : {}) });
      if (!('value' in rotation)) throw new ConflictError(REPLAYED, { id: rotation.id, previousKeyId: rotation.previousKeyId });
      return json(200, rotation, NO_STORE);
    },
  };
}
