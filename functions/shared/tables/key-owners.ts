import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { conditionHeld } from '../aws-errors.ts';
import type { KeyOwner, KeyOwners } from '../caller.ts';
import { documentClient } from '../clients.ts';
import { batchGetItems } from './batch-get.ts';

/**
 * The KeyOwners table (KeyMode ApiGateway): one item per API Gateway key Tollgate issued, partition key `apiKeyId`,
 * so that the key-only data API (DataApiAuth ApiKey) learns who a key belongs to, and whether it still admits, with
 * ONE GetItem whatever the key's state — an account's current key and its rotated-away key alike (an item has one
 * entry per GSI, so the Accounts table's indexes needed two Queries for the second). Items (ISO 8601 times):
 *
 *   { apiKeyId, userId, createdAt,
 *     notAfter?     the key stops being the owner's: a rotation's overlap end (`previousKey.expiresAt`), or the
 *                   rotation's instant when there is no overlap; only ever moved earlier
 *     suspendedAt?  the user is disabled (the reconciler; removed when the user is enabled again)
 *     retiredAt?    disabled and deleted in API Gateway (the key-retirement workflow, a cancelled overlap, the
 *                   offboarding); a tombstone, so a late backfill cannot bring the record back
 *     rotatingTo?   a rotation to the key id it names is under way, on its old key and on that new key itself:
 *                   written before the rotation commits (the account's swap), removed when it finishes (endAt on the
 *                   old key, endRotation on the new one) or, on the old key, when it is undone (endRotation; the new
 *                   key is retired then). Whether it committed only the Accounts table knows, so while this is set
 *                   the lookup asks it (the fallback) whenever the record alone would admit the key: a rotation cut
 *                   short never leaves its old key, or a new key the account never took, admitted as current
 *     expiresAt? }  epoch seconds: the table's TTL attribute, RETIRED_RECORD_DAYS after `retiredAt`. DynamoDB deletes
 *                   expired items "within a few days" (DynamoDB Developer Guide, "Using time to live (TTL)",
 *                   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html); the lookup never
 *                   relies on that, a retired record refuses by itself. The offline DynamoDB (dynalite) has no TTL.
 *
 * A key id names one key of one user for its whole life (keys are created per user, never reassigned): every write
 * is conditional on the record being absent or already the same user's, so no write can hand a key to someone else.
 * Writers, each before the state it describes is visible elsewhere: ApiKeyFunction's find-or-create and a rotation
 * record a key before it is attached to a usage plan (API Gateway admits a key only in a plan); a rotation marks the
 * old key `rotatingTo` before the account takes the new key and moves its `notAfter` (clearing the mark) once it
 * has; retirement and offboarding retire it after API Gateway has disabled it, a rotation that did not commit retires
 * its new key before deleting it (a delete that fails leaves the key enabled in its plan); the reconciler records
 * keys that have no record (accounts from before this table) and the user's suspension. The Accounts table stays the authority for the account; these records only answer the lookup.
 * No transactions: dynalite has none, so every write is one conditional single-item write, safe to repeat.
 */

/** A retired key's record stays this long (days) before its TTL lets DynamoDB delete it. */
export const RETIRED_RECORD_DAYS = 30;

const DAY_SECONDS = 86_400;

export interface KeyOwnerRecord {
  apiKeyId: string;
  userId: string;
  createdAt: string;
  notAfter?: string;
  suspendedAt?: string;
  retiredAt?: string;
  rotatingTo?: string;
  expiresAt?: number;
}

/**
 * Who `record` says owns its key at `now`: no one when there is no record, the key is retired, its user suspended, or
 * `now` has reached `notAfter`; else the user, with `until` = `notAfter` (epoch ms) when the key has one.
 */
export function ownerOfRecord(record: KeyOwnerRecord | undefined, now: Date): KeyOwner | undefined {
  if (record === undefined || record.retiredAt !== undefined || record.suspendedAt !== undefined) return undefined;
  if (record.notAfter === undefined) return { userId: record.userId };
  const until = Date.parse(record.notAfter);
  return until > now.getTime() ? { userId: record.userId, until } : undefined;
}

/**
 * Whether `record` cannot answer alone: it would admit the key, but a rotation of the key is under way (`rotatingTo`)
 * and may have committed. A refusal (retired, suspended, past `notAfter`) is final and needs no one else.
 */
export function undecided(record: KeyOwnerRecord, now: Date): boolean {
  return record.rotatingTo !== undefined && ownerOfRecord(record, now) !== undefined;
}

/** What the key's writers do with its record (rotation, retirement, ApiKeyFunction, the reconciler, tests). */
export interface KeyOwnerWriter {
  /**
   * Records `apiKeyId` as `userId`'s (created now; a repeat keeps the first `createdAt` and leaves every other
   * attribute alone, so it never undoes a rotation or a retirement). With `rotatingTo` (a rotation's new key, named by
   * itself) the key is marked as part of that rotation until its finish clears the mark (endRotation): should the
   * rotation die before its commit and its undoing fail, the key left in its plan is not admitted as current. False
   * when the record names another user.
   */
  record(apiKeyId: string, userId: string, now: Date, rotatingTo?: string): Promise<boolean>;
  /**
   * A rotation of `userId`'s key `apiKeyId` to `newKeyId` is under way (`rotatingTo`), written before the rotation
   * commits: until endAt or endRotation clears it, the lookup asks the Accounts table whether the key is still
   * current. Creates the record if there is none (a key from before this table). False when it names another user.
   */
  beginRotation(apiKeyId: string, userId: string, newKeyId: string, now: Date): Promise<boolean>;
  /**
   * The rotation to `newKeyId` did not commit: its mark is removed (a later rotation's mark is left alone). Never
   * fails on a record without that mark.
   */
  endRotation(apiKeyId: string, newKeyId: string): Promise<void>;
  /**
   * The key stops being the owner's at `notAfter` (a rotation that committed: its `rotatingTo` mark is removed). Moves
   * `notAfter` earlier only: a later or equal one is left as it is. Creates the record if there is none (a key from
   * before this table). False when the record names another user or already ends earlier.
   */
  endAt(apiKeyId: string, userId: string, notAfter: Date, now: Date): Promise<boolean>;
  /** The key is retired (disabled and deleted in API Gateway): a tombstone with its TTL; creates one if absent. */
  retire(apiKeyId: string, userId: string, now: Date): Promise<boolean>;
}

/** The condition of a write that may create the record: there is none yet, or it is already this user's. */
const SAME_OWNER = 'attribute_not_exists(apiKeyId) OR userId = :user';

/**
 * KeyOwnerWriter and the one-read lookup on the KeyOwners table. `ownerOf` is one strongly consistent GetItem: a key
 * recorded the moment before it was attached to its plan is found (an eventually consistent read might miss it), at
 * 1 read request unit for an item under 4 KB (DynamoDB Developer Guide, "DynamoDB read consistency" and "Read request
 * units", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html).
 */
export class DynamoKeyOwnerRecords implements KeyOwnerWriter {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  /** The key's record, read consistently; undefined when it has none. */
  async get(apiKeyId: string): Promise<KeyOwnerRecord | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { apiKeyId }, ConsistentRead: true }));
    return Item as KeyOwnerRecord | undefined;
  }

  record(apiKeyId: string, userId: string, now: Date, rotatingTo?: string): Promise<boolean> {
    return this.update(
      apiKeyId,
      `SET userId = :user, createdAt = if_not_exists(createdAt, :now)${rotatingTo === undefined ? '' : ', rotatingTo = :to'}`,
      SAME_OWNER,
      { ':user': userId, ':now': now.toISOString(), ...(rotatingTo === undefined ? {} : { ':to': rotatingTo }) },
    );
  }

  beginRotation(apiKeyId: string, userId: string, newKeyId: string, now: Date): Promise<boolean> {
    return this.update(apiKeyId, 'SET userId = :user, createdAt = if_not_exists(createdAt, :now), rotatingTo = :to', SAME_OWNER, {
      ':user': userId,
      ':now': now.toISOString(),
      ':to': newKeyId,
    });
  }

  async endRotation(apiKeyId: string, newKeyId: string): Promise<void> {
    await this.update(apiKeyId, 'REMOVE rotatingTo', 'rotatingTo = :to', { ':to': newKeyId });
  }

  endAt(apiKeyId: string, userId: string, notAfter: Date, now: Date): Promise<boolean> {
    return this.update(
      apiKeyId,
      'SET userId = :user, createdAt = if_not_exists(createdAt, :now), notAfter = :notAfter REMOVE rotatingTo',
      'attribute_not_exists(apiKeyId) OR (userId = :user AND (attribute_not_exists(notAfter) OR notAfter > :notAfter))',
      { ':user': userId, ':now': now.toISOString(), ':notAfter': notAfter.toISOString() },
    );
  }

  retire(apiKeyId: string, userId: string, now: Date): Promise<boolean> {
    return this.update(
      apiKeyId,
      'SET userId = :user, createdAt = if_not_exists(createdAt, :now), retiredAt = if_not_exists(retiredAt, :now), expiresAt = if_not_exists(expiresAt, :expiresAt)',
      SAME_OWNER,
      { ':user': userId, ':now': now.toISOString(), ':expiresAt': Math.floor(now.getTime() / 1000) + RETIRED_RECORD_DAYS * DAY_SECONDS },
    );
  }

  /**
   * Marks (`suspended`) or clears the user's suspension on an existing record of theirs; a key without a record is
   * left without one (the reconciler's backfill writes the suspension with the record). False when nothing changed.
   */
  setSuspended(apiKeyId: string, userId: string, suspended: boolean, now: Date): Promise<boolean> {
    return this.update(
      apiKeyId,
      suspended ? 'SET suspendedAt = if_not_exists(suspendedAt, :now)' : 'REMOVE suspendedAt',
      'userId = :user',
      { ':user': userId, ...(suspended ? { ':now': now.toISOString() } : {}) },
    );
  }

  /**
   * Writes `record` only if the key has none (a key from before this table, found by the reconciler): never
   * overwrites what a rotation, retirement or suspension wrote meanwhile. False when a record exists.
   */
  backfill(record: KeyOwnerRecord): Promise<boolean> {
    return conditionHeld(
      this.client.send(new PutCommand({ TableName: this.tableName, Item: record, ConditionExpression: 'attribute_not_exists(apiKeyId)' })),
    );
  }

  private update(apiKeyId: string, expression: string, condition: string, values: Record<string, unknown>): Promise<boolean> {
    return conditionHeld(
      this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { apiKeyId },
          UpdateExpression: expression,
          ConditionExpression: condition,
          ExpressionAttributeValues: values,
        }),
      ),
    );
  }

  /**
   * The records of `apiKeyIds` (repeats allowed), by key id; a key without a record is absent. Batch reads (BatchGetItem,
   * 100 keys each, UnprocessedKeys asked for again: ./batch-get.ts), eventually consistent: the reconciler's caller
   * writes only conditionally (backfill never overwrites; setSuspended is idempotent), so a stale answer costs at most
   * a repeated write. 0.5 read request unit per item under 4 KB (DynamoDB Developer Guide, "Read request units",
   * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html).
   */
  async getMany(apiKeyIds: string[]): Promise<Map<string, KeyOwnerRecord>> {
    const keys = [...new Set(apiKeyIds)].map((apiKeyId) => ({ apiKeyId }));
    const items = (await batchGetItems(this.client, this.tableName, keys)) as unknown as KeyOwnerRecord[];
    return new Map(items.map((record) => [record.apiKeyId, record]));
  }
}

/**
 * KeyOwners of the key-only data API: the key's KeyOwners record (one consistent GetItem, ownerOfRecord decides). A
 * key with no record at all — issued before this table existed, until the reconciler's next pass (every 5 minutes)
 * records it — is looked up through `legacy` (the Accounts table's indexes, DynamoKeyOwners: 1 or 2 Queries more),
 * and so is a key whose record would admit it while a rotation of it is under way (`undecided`: the Accounts table
 * alone knows whether the rotation committed; its answer, when it admits, ends no later than the record's
 * `notAfter`).
 * Reads per uncached call: 1 for every key Tollgate issued or the reconciler recorded (current, rotated-away, retired
 * alike); 2–3 only for a key with no record (the fallback), which after the reconciler's first pass is none, since
 * API Gateway admits only keys in one of the stack's usage plans and Tollgate records every key it puts in one, and
 * for a key in the middle of its rotation (the moment between the mark and the finish, or longer for a rotation that
 * died there or whose undoing failed).
 */
export class RecordedKeyOwners implements KeyOwners {
  constructor(
    private readonly records: Pick<DynamoKeyOwnerRecords, 'get'>,
    private readonly legacy?: KeyOwners,
  ) {}

  async ownerOf(apiKeyId: string, now: Date): Promise<KeyOwner | undefined> {
    const record = await this.records.get(apiKeyId);
    if (this.legacy === undefined || (record !== undefined && !undecided(record, now))) return ownerOfRecord(record, now);
    const owner = await this.legacy.ownerOf(apiKeyId, now);
    const notAfter = record?.notAfter === undefined ? undefined : Date.parse(record.notAfter);
    if (owner === undefined || notAfter === undefined) return owner;
    return { userId: owner.userId, until: Math.min(owner.until ?? Infinity, notAfter) };
  }
}
