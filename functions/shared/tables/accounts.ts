import { GetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { inOverlap, type Account, type AccountStore, type PreviousKey } from '../accounts.ts';
import type { KeyOwner, KeyOwners } from '../caller.ts';
import { USAGE_HISTORY_RETENTION_DAYS, type UsageHistory, type UsageHistoryWriter, type UsageSegment } from '../usage-history.ts';
import { conditionHeld } from '../aws-errors.ts';
import { documentClient } from '../clients.ts';

/**
 * The Accounts table (`userId` = Cognito `sub`): every read and write the functions make of it. The workflows write
 * the rest (onboarding, plan change, offboarding) through Step Functions' DynamoDB integration. Every write here is a
 * conditional single-item update (the offline DynamoDB has no transactions), false when its condition does not hold.
 */

type Update = Pick<UpdateCommandInput, 'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'>;

/** One conditional UpdateItem on an account; false when the condition does not hold. */
function conditionalUpdate(client: DynamoDBDocumentClient, tableName: string, userId: string, update: Update): Promise<boolean> {
  return conditionHeld(client.send(new UpdateCommand({ TableName: tableName, Key: { userId }, ...update })));
}

/** The account by id, read consistently. */
export class DynamoAccountStore implements AccountStore {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  async get(userId: string): Promise<Account | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: { userId }, ConsistentRead: true }));
    return Item as Account | undefined;
  }
}

/** What `PreviousApiKeyIndex` projects of an account: enough to decide whether its rotated-away key still admits. */
type PreviousKeyEntry = Pick<Account, 'userId' | 'status' | 'previousKey' | 'keySuspendedAt'>;

/**
 * The key-only lookup's FALLBACK for a key with no KeyOwners record (./key-owners.ts RecordedKeyOwners: a stack
 * deployed before that table, until the reconciler records its keys). apiKeyId → owner through two GSIs of the table
 * (eventually consistent, so a key just written may be unknown for a moment; Query on a GSI takes no ConsistentRead):
 * - `ApiKeyIndex` (partition key `apiKeyId`, keys only): each account's current key. One Query, Limit 1.
 * - only if that finds no one, `PreviousApiKeyIndex` (partition key `previousApiKeyId`, projecting `previousKey`,
 *   `status`, `keySuspendedAt`): the key a rotation replaced, written and removed with `previousKey` (swapKey,
 *   clearPreviousKey, offboarding's MarkClosed). It is the owner's while the account is ACTIVE, not suspended and the
 *   overlap has not ended at `now` (inOverlap), with `until` = the overlap's end; else no one's.
 * Reads per call: 1 Query for a current key (the rule), 2 for a rotated-away or unknown key. Each Query reads one
 * small item: 0.5 RCU (DynamoDB Developer Guide, "Read consistency" / "Query": eventually consistent reads of up to
 * 4 KB cost half a read unit).
 */
export class DynamoKeyOwners implements KeyOwners {
  constructor(
    private readonly tableName: string,
    private readonly indexName: string,
    private readonly previousIndexName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  async ownerOf(apiKeyId: string, now: Date): Promise<KeyOwner | undefined> {
    const current = await this.first(this.indexName, 'apiKeyId', apiKeyId);
    if (typeof current?.userId === 'string') return { userId: current.userId };
    const previous = (await this.first(this.previousIndexName, 'previousApiKeyId', apiKeyId)) as PreviousKeyEntry | undefined;
    if (previous?.status !== 'ACTIVE' || previous.keySuspendedAt !== undefined || !inOverlap(previous, apiKeyId, now)) return undefined;
    return { userId: previous.userId, until: Date.parse(previous.previousKey!.expiresAt) };
  }

  private async first(indexName: string, attribute: string, apiKeyId: string): Promise<Record<string, unknown> | undefined> {
    const { Items } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: indexName,
        KeyConditionExpression: '#k = :k',
        ExpressionAttributeNames: { '#k': attribute },
        ExpressionAttributeValues: { ':k': apiKeyId },
        Limit: 1,
      }),
    );
    return Items?.[0];
  }
}

// ---------------------------------------------------------------------------------------------------- key rotation

/** The rotation lock and the key swap (POST /me/api-key/rotate): conditional single-item updates of the account. */
export class DynamoAccountKeyWriter {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  /**
   * Takes the account's rotation lock for `lockId` if the account is ACTIVE, its key not suspended (keySuspendedAt:
   * the user is disabled), still holds `fromKeyId`, has no plan change pending, and no other rotation holds an
   * unexpired lock (the same `lockId` may take it again: a retry).
   */
  lockRotation(userId: string, fromKeyId: string, lockId: string, now: Date, until: Date): Promise<boolean> {
    return conditionalUpdate(this.client, this.tableName, userId, {
      UpdateExpression: 'SET rotationLock = :lock, rotationLockExpiresAt = :until',
      ConditionExpression:
        'apiKeyId = :from AND #status = :active AND attribute_not_exists(keySuspendedAt) AND attribute_not_exists(pendingPlanChange) AND ' +
        '(attribute_not_exists(rotationLock) OR rotationLock = :lock OR rotationLockExpiresAt < :now)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':lock': lockId,
        ':until': until.toISOString(),
        ':from': fromKeyId,
        ':active': 'ACTIVE',
        ':now': now.toISOString(),
      },
    });
  }

  /**
   * Points the account at `newKeyId` and releases the lock, if it is still ACTIVE (so not CLOSING: an offboarding that
   * marked it first has read the old key, and the new one is compensated), not suspended, on `plan` with `oldKeyId` and
   * locked by `lockId`. With `previous`, the old key is kept as `previousKey` (the rotation's overlap) and its id as
   * `previousApiKeyId` (PreviousApiKeyIndex, the key-only lookup); without, neither is.
   */
  swapKey(userId: string, oldKeyId: string, newKeyId: string, plan: string, lockId: string, now: Date, previous?: PreviousKey): Promise<boolean> {
    return conditionalUpdate(this.client, this.tableName, userId, {
      UpdateExpression:
        'SET apiKeyId = :new, apiKeyCreatedAt = :now, updatedAt = :now, version = if_not_exists(version, :zero) + :one' +
        // previousApiKeyId: the key of PreviousApiKeyIndex (a GSI key must be a top-level attribute).
        (previous ? ', previousKey = :previous, previousApiKeyId = :old' : '') +
        ' REMOVE rotationLock, rotationLockExpiresAt',
      // The plan too: a plan change that finished meanwhile moved the account, not this new key.
      ConditionExpression:
        'apiKeyId = :old AND #status = :active AND attribute_not_exists(keySuspendedAt) AND #plan = :plan AND attribute_not_exists(pendingPlanChange) AND rotationLock = :lock',
      ExpressionAttributeNames: { '#status': 'status', '#plan': 'plan' },
      ExpressionAttributeValues: {
        ':new': newKeyId,
        ':old': oldKeyId,
        ':active': 'ACTIVE',
        ':plan': plan,
        ':lock': lockId,
        ':now': now.toISOString(),
        ':zero': 0,
        ':one': 1,
        ...(previous ? { ':previous': previous } : {}),
      },
    });
  }

  /**
   * Forgets the rotated-away key `keyId` once it is retired, and with it its PreviousApiKeyIndex entry (no-op if the
   * account holds another or none: safe to repeat).
   */
  async clearPreviousKey(userId: string, keyId: string): Promise<void> {
    await conditionalUpdate(this.client, this.tableName, userId, {
      UpdateExpression: 'REMOVE previousKey, previousApiKeyId',
      ConditionExpression: 'previousKey.id = :id',
      ExpressionAttributeValues: { ':id': keyId },
    });
  }

  /** Releases the rotation lock if `lockId` still holds it (a rotation that did not commit). */
  async releaseRotation(userId: string, lockId: string): Promise<void> {
    await conditionalUpdate(this.client, this.tableName, userId, {
      UpdateExpression: 'REMOVE rotationLock, rotationLockExpiresAt',
      ConditionExpression: 'rotationLock = :lock',
      ExpressionAttributeValues: { ':lock': lockId },
    });
  }
}

// ---------------------------------------------------------------------------------------------------- usage history

const DAY_MS = 86_400_000;

/**
 * UsageHistoryWriter on the account item's `usageHistory` map (functions/shared/usage-history.ts): two conditional
 * UpdateItems, because DynamoDB refuses an update expression whose paths overlap (`usageHistory` and
 * `usageHistory.#id`). A missing account is left missing (the condition fails: nothing to keep usage for).
 */
export class DynamoUsageHistory implements UsageHistoryWriter {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  async record(userId: string, segmentId: string, segment: UsageSegment, existing: UsageHistory | undefined, now: Date): Promise<void> {
    const cutoff = new Date(now.getTime() - USAGE_HISTORY_RETENTION_DAYS * DAY_MS).toISOString();
    const stale = Object.entries(existing ?? {})
      .filter(([id, s]) => id !== segmentId && typeof s?.recordedAt === 'string' && s.recordedAt < cutoff)
      .map(([id]) => id);
    const names: Record<string, string> = { '#id': segmentId };
    stale.forEach((id, i) => (names[`#old${i}`] = id));
    const exists = await conditionalUpdate(this.client, this.tableName, userId, {
      UpdateExpression: 'SET usageHistory = if_not_exists(usageHistory, :empty)',
      ConditionExpression: 'attribute_exists(userId)',
      ExpressionAttributeValues: { ':empty': {} },
    });
    if (!exists) return;
    await conditionalUpdate(this.client, this.tableName, userId, {
      UpdateExpression:
        'SET usageHistory.#id = :segment' + (stale.length > 0 ? ` REMOVE ${stale.map((_, i) => `usageHistory.#old${i}`).join(', ')}` : ''),
      ConditionExpression: 'attribute_exists(userId)',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: { ':segment': segment },
    });
  }
}

// ---------------------------------------------------------------------------------------------------- billing close

export type AccountKey = Record<string, string>;

/** An Accounts item as the billing close reads it. */
export interface ScannedAccount {
  userId: string;
  status?: string;
  apiKeyId?: string;
  closedAt?: string;
  /** The keys and plans it left, for the statement's request count (functions/shared/usage-history.ts). */
  usageHistory?: unknown;
}

export interface AccountPage {
  accounts: ScannedAccount[];
  lastEvaluatedKey?: AccountKey;
}

/** Pages of the whole table, read consistently, with only what the billing close needs. */
export class DynamoAccountScanner {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  async scan(limit: number, startKey: AccountKey | undefined): Promise<AccountPage> {
    const { Items, LastEvaluatedKey } = await this.client.send(
      new ScanCommand({
        TableName: this.tableName,
        Limit: limit,
        ConsistentRead: true,
        ProjectionExpression: 'userId, #status, apiKeyId, closedAt, usageHistory',
        ExpressionAttributeNames: { '#status': 'status' },
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    return {
      accounts: (Items ?? []) as ScannedAccount[],
      ...(LastEvaluatedKey ? { lastEvaluatedKey: LastEvaluatedKey as AccountKey } : {}),
    };
  }
}

// ---------------------------------------------------------------------------------------------------- reconciler

/** What the account reconciler reads and writes: accounts not CLOSED, the suspension mark, the email. */
export class DynamoAccountReconciler {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  /** Pages of accounts that are not CLOSED (eventually consistent Scan with a filter). */
  async *openAccounts(): AsyncIterable<Account[]> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const { Items, LastEvaluatedKey } = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: '#status <> :closed',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':closed': 'CLOSED' },
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      yield (Items ?? []) as Account[];
      startKey = LastEvaluatedKey;
    } while (startKey);
  }

  /** Records (`suspended`) or clears the suspension, if the account still is ACTIVE with this key (else: next run). */
  async markSuspended(userId: string, apiKeyId: string, suspended: boolean): Promise<void> {
    await conditionalUpdate(this.client, this.tableName, userId, {
      UpdateExpression: suspended ? 'SET keySuspendedAt = :now, updatedAt = :now' : 'REMOVE keySuspendedAt SET updatedAt = :now',
      ConditionExpression: '#status = :active AND apiKeyId = :key',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':active': 'ACTIVE', ':key': apiKeyId, ':now': new Date().toISOString() },
    });
  }

  /** Writes the pool's (verified) email to the account unless it is closing or closed; false when not written. */
  recordEmail(userId: string, email: string): Promise<boolean> {
    return conditionalUpdate(this.client, this.tableName, userId, {
      // updatedAt is left alone: it names re-drives (redriveSuffix) and marks plan and status changes.
      UpdateExpression: 'SET email = :email, emailUpdatedAt = :now',
      ConditionExpression: 'attribute_exists(userId) AND NOT #status IN (:closing, :closed)',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: { ':email': email, ':closing': 'CLOSING', ':closed': 'CLOSED', ':now': new Date().toISOString() },
    });
  }
}

// ---------------------------------------------------------------------------------------------------- sign-in

/** An account's status and last change, as the PostAuthentication trigger decides on it. */
export interface AccountState {
  status: string;
  updatedAt?: string;
}

/**
 * Status and updatedAt of one account (consistent GetItem, projected), or undefined when there is none. Takes the
 * trigger's own low-level client (short timeouts) and an abort signal for its deadline.
 */
export async function readAccountState(
  client: DynamoDBClient,
  tableName: string,
  userId: string,
  abortSignal: AbortSignal,
): Promise<AccountState | undefined> {
  const { Item } = await client.send(
    new GetItemCommand({
      TableName: tableName,
      Key: { userId: { S: userId } },
      ConsistentRead: true,
      ProjectionExpression: '#status, updatedAt',
      ExpressionAttributeNames: { '#status': 'status' },
    }),
    { abortSignal },
  );
  if (!Item) return undefined;
  const updatedAt = Item.updatedAt?.S;
  return { status: Item.status?.S ?? 'UNKNOWN', ...(updatedAt !== undefined ? { updatedAt } : {}) };
}
