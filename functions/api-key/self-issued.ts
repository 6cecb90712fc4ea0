import { TaskError } from '#shared/errors';
import { logger } from '#shared/logger';
import { newKeyId } from '#shared/self-issued-keys';
import type { SelfIssuedKeysStore } from '#shared/tables/self-issued-keys';
import { INVALID_EVENT } from './errors.ts';

/**
 * The workflows' API key task in KeyMode SelfIssued (./handler.ts picks it by `KEY_MODE`): no API Gateway key per
 * customer, so no CreateApiKey (5/s per account) and no 10,000-key limit.
 *
 * - find-or-create → {Id}: the customer's key slot in the SelfIssuedKeys table (`CUSTOMER#<userId>`), created on the
 *   free plan with a new public key id when absent (conditional put: a retried or re-driven onboarding finds the slot
 *   the first try made, so a key is never duplicated). No value is issued here: a value can be shown only once, and
 *   no customer is there to see it during onboarding, so the first value is issued when the customer asks for it
 *   (`POST /me/api-key/rotate`, shown once) — like key pages that show a key at creation only.
 * - attach → no usage plan key to create; with `userId` and `plan` (a plan change's move to the target plan) the
 *   customer's slot and current key record take the plan, which the authorizer meters by. The plan-change workflow's
 *   DetachFromCurrentPlan finds no usage plan key (NotFoundException, caught) in this mode.
 * - record-usage → {Days: 0}: usage is the authorizer's exact counter, kept per customer, never lost with a key.
 */
export async function findOrCreateSlot(store: SelfIssuedKeysStore, userId: string): Promise<{ Id: string }> {
  const slot = await store.findOrCreateCustomer(userId, { keyId: newKeyId(), plan: 'free' });
  logger.info('Self-issued key slot', { keyId: slot.keyId });
  return { Id: slot.keyId };
}

/** A plan change's attach in SelfIssued mode: the customer's slot and key record on `plan`. */
export async function movePlan(store: SelfIssuedKeysStore, userId: string, plan: string): Promise<void> {
  if (!(await store.setPlan(userId, plan))) throw new TaskError(INVALID_EVENT, 'The customer has no self-issued key slot');
  logger.info('Self-issued key plan set', { plan });
}
