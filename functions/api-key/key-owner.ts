import { errorName } from '#shared/aws-errors';
import { requireEnv } from '#shared/env';
import { TaskError } from '#shared/errors';
import { logger } from '#shared/logger';
import { DynamoKeyOwnerRecords } from '#shared/tables/key-owners';
import { KEY_OWNER_NOT_RECORDED } from './errors.ts';

/**
 * ApiKeyFunction's KeyOwners writes (the key-only data API's lookup, #shared/tables/key-owners).
 *
 * find-or-create: recordOwner records the key as its user's before the id is answered, so before the key joins a
 * plan. `ApiKey.KeyOwnerNotRecorded` when the write fails, or when the record names another user (never: a key is
 * created for, and named by, one user).
 *
 * ApiKeyFunction's `retire-owner` action: `{action: "retire-owner", userId, keyId}` → `{Retired: boolean}`. After a
 * workflow has deleted a key in API Gateway (the offboarding's DeleteKey and leftover keys, the onboarding's
 * compensation), the key's KeyOwners record becomes a tombstone (`retiredAt`) with its TTL `expiresAt` (epoch seconds,
 * RETIRED_RECORD_DAYS later: DynamoKeyOwnerRecords.retire). A function, not a `dynamodb:updateItem` task: the TTL is a
 * number of seconds computed from the time, and neither JSONPath intrinsics (no date arithmetic:
 * https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html) nor the offline engine (no JSONata)
 * can compute it the same way in AWS and offline. Ids only in and out. Safe to repeat (the first `retiredAt` stays);
 * a key with no record gets a tombstone (no late backfill brings it back). `Retired` is false when the record names
 * another user (left alone). KeyMode SelfIssued: `keyId` is a key slot id with no record; nothing to do (false).
 * Errors: a DynamoDB failure is `ApiKey.KeyOwnerNotRecorded` (retried by the workflows).
 */

let records: DynamoKeyOwnerRecords | undefined;
const keyOwners = (): DynamoKeyOwnerRecords => (records ??= new DynamoKeyOwnerRecords(requireEnv('KEY_OWNERS_TABLE')));

export interface RetiredOwner {
  Retired: boolean;
}

/** One KeyOwners write; a DynamoDB failure is KEY_OWNER_NOT_RECORDED (the workflows retry it). */
async function write(send: (records: DynamoKeyOwnerRecords) => Promise<boolean>): Promise<boolean> {
  try {
    return await send(keyOwners());
  } catch (error: unknown) {
    throw new TaskError(KEY_OWNER_NOT_RECORDED, `KeyOwners: ${errorName(error)}`);
  }
}

export async function recordOwner(userId: string, keyId: string, now = new Date()): Promise<void> {
  if (!(await write((records) => records.record(keyId, userId, now)))) {
    logger.error('The key is recorded as another user\'s', { keyId });
    throw new TaskError(KEY_OWNER_NOT_RECORDED, 'The key is recorded as another user\'s');
  }
}

export async function retireOwner(userId: string, keyId: string, now = new Date()): Promise<RetiredOwner> {
  const retired = await write((records) => records.retire(keyId, userId, now));
  if (retired) logger.info('Key owner record retired', { keyId });
  else logger.warn('Key owner record names another user: left alone', { keyId });
  return { Retired: retired };
}
