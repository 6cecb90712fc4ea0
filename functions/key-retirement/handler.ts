import { APIGatewayClient } from '@aws-sdk/client-api-gateway';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import { errorName } from '#shared/aws-errors';
import { requireEnv } from '#shared/env';
import { TaskError } from '#shared/errors';
import { withLambda } from '#shared/lambda';
import { logger } from '#shared/logger';
import { planCatalog } from '#shared/plans';
import { DynamoAccountKeyWriter, DynamoAccountStore, DynamoUsageHistory } from '#shared/tables/accounts';
import { DynamoKeyOwnerRecords } from '#shared/tables/key-owners';
import type { KeyRetirementInput } from '#shared/workflows';
import { ApiGatewayKeyService } from '../account/adapters.ts';
import { KeyValueCache } from '../account/caches.ts';
import { retireKey, type RetireDeps } from '../account/domain.ts';
import { INVALID_EVENT, NOT_RETIRED } from './errors.ts';

/**
 * KeyRetirementFunction: the key-retirement workflow's task (statemachines/key-retirement.ts, `lambda:invoke`), run
 * when a rotation's overlap ends. Event = the workflow input, KeyRetirementInput `{userId, rotation}`; answers
 * `{retired: <old key id>}`. It retires the old key as a rotation without overlap does (functions/account/domain.ts
 * retireKey: disable, keep its usage in the account's usage history, true the new key's quota up, detach, delete,
 * retire its KeyOwners record, forget `previousKey`), each step safe to repeat, so a retry or an overlap already cancelled (DELETE
 * /me/api-key/previous) finds nothing left to do. Errors, by name for the workflow's Retry/Catch:
 *   KeyRetirement.InvalidEvent  a malformed event (a bug in the workflow definition): never retried
 *   KeyRetirement.NotRetired    a step failed (throttling, a network error…): retried, every step is idempotent
 */

const id = z.string().check(z.regex(/^[A-Za-z0-9]{1,64}$/));
export const retirementEvent = z.object({
  userId: z.string().check(z.minLength(1), z.maxLength(128)),
  rotation: z.object({
    id,
    previousKeyId: id,
    plan: z.string().check(z.minLength(1)),
    usagePlanId: id,
    quotaCarriedOver: z.number().check(z.minimum(0)),
    retireAt: z.iso.datetime({ offset: true }),
  }),
});

/** Retires the event's old key; a failure is thrown as NOT_RETIRED with the cause's error name (never a key value). */
export async function retire(deps: RetireDeps, event: unknown): Promise<{ retired: string }> {
  const parsed = retirementEvent.safeParse(event);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.map(String).join('.') || '(event)').join(', ');
    throw new TaskError(INVALID_EVENT, `Malformed event: ${fields}`);
  }
  const { userId, rotation } = parsed.data satisfies KeyRetirementInput;
  try {
    await retireKey(deps, userId, rotation, true);
  } catch (error: unknown) {
    throw new TaskError(NOT_RETIRED, `Retiring the key failed: ${errorName(error)}`);
  }
  logger.info('Previous API key retired at the end of its overlap', { keyId: rotation.previousKeyId, rotationId: rotation.id });
  return { retired: rotation.previousKeyId };
}

const accountsTable = requireEnv('ACCOUNTS_TABLE');
const deps: RetireDeps = {
  accounts: new DynamoAccountStore(accountsTable),
  // The SDK does not retry (maxAttempts 1): the workflow's Retry decides.
  keys: new ApiGatewayKeyService(new APIGatewayClient({ maxAttempts: 1 }), new KeyValueCache()),
  usageHistory: new DynamoUsageHistory(accountsTable),
  accountKeys: new DynamoAccountKeyWriter(accountsTable),
  keyOwners: new DynamoKeyOwnerRecords(requireEnv('KEY_OWNERS_TABLE')),
  catalog: planCatalog(),
  now: () => new Date(),
};

export const handler = withLambda(
  (event: unknown, _context: Context) => retire(deps, event),
  (event) => {
    const userId = (event as { userId?: unknown } | null)?.userId;
    return typeof userId === 'string' ? userId : undefined;
  },
);
