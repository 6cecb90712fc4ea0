import { BatchGetCommand, PutCommand, QueryCommand, type BatchGetCommandOutput, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { conditionHeld } from '../aws-errors.ts';
import type { LedgerEntry } from '../billing.ts';
import { documentClient } from '../clients.ts';
import type { Cursor, Page, PageRequest } from '../pagination.ts';

/**
 * The Billing table (the ledger): `userId` + `entryId` (`<ISO time>#<TYPE>#…`, so the sort key is time order). Every
 * read and write of it, for the account routes (a page of entries, the plan entries a statement is computed from) and
 * for the billing close (conditional puts of statements and closings, which users have a statement).
 */

/** A ledger item without its partition key: what the billing domain and the API see. */
export function ledgerEntry(item: Record<string, unknown>): LedgerEntry {
  const { userId: _userId, ...entry } = item;
  return entry as LedgerEntry;
}

/** An item written to the ledger: its key and the entry's fields. */
export type LedgerItem = { userId: string; entryId: string } & object;

/** DynamoDB allows 100 keys per BatchGetItem. */
const BATCH_GET_KEYS = 100;

export class DynamoLedger {
  constructor(
    private readonly tableName: string,
    private readonly client: DynamoDBDocumentClient = documentClient,
  ) {}

  /** Entries newest first, one page. */
  async page(userId: string, page: PageRequest): Promise<Page<LedgerEntry>> {
    const { Items, LastEvaluatedKey } = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'userId = :userId',
        ExpressionAttributeValues: { ':userId': userId },
        ScanIndexForward: false,
        Limit: page.limit,
        ...(page.cursor ? { ExclusiveStartKey: { userId: page.cursor.userId, entryId: page.cursor.sk } } : {}),
      }),
    );
    const cursor: Cursor | undefined = LastEvaluatedKey
      ? { userId: String(LastEvaluatedKey.userId), sk: String(LastEvaluatedKey.entryId) }
      : undefined;
    return { items: (Items ?? []).map(ledgerEntry), ...(cursor ? { cursor } : {}) };
  }

  /**
   * Every PLAN_STARTED / PLAN_CHANGED / ACCOUNT_CLOSED entry of one user, all pages, in entry (time) order, read
   * consistently: a statement computed right after a plan change (or the closing) must include it.
   */
  async planEntries(userId: string): Promise<LedgerEntry[]> {
    const entries: LedgerEntry[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const { Items, LastEvaluatedKey } = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'userId = :userId',
          FilterExpression: '#type IN (:started, :changed, :closed)',
          ExpressionAttributeNames: { '#type': 'type' },
          ExpressionAttributeValues: { ':userId': userId, ':started': 'PLAN_STARTED', ':changed': 'PLAN_CHANGED', ':closed': 'ACCOUNT_CLOSED' },
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      entries.push(...(Items ?? []).map(ledgerEntry));
      startKey = LastEvaluatedKey;
    } while (startKey);
    return entries;
  }

  /** Writes the entry unless one with its id exists: false then. */
  putIfAbsent(entry: LedgerItem): Promise<boolean> {
    return conditionHeld(
      this.client.send(new PutCommand({ TableName: this.tableName, Item: entry, ConditionExpression: 'attribute_not_exists(entryId)' })),
    );
  }

  /** The users among `userIds` who have the entry `entryId` (batch reads). */
  async existing(userIds: string[], entryId: string): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < userIds.length; i += BATCH_GET_KEYS) {
      let keys: Record<string, unknown>[] = userIds.slice(i, i + BATCH_GET_KEYS).map((userId) => ({ userId, entryId }));
      // UnprocessedKeys (a throttled part of the batch) are asked for again; the SDK backs off between attempts.
      for (let round = 0; keys.length > 0; round += 1) {
        if (round >= 10) throw new Error(`BatchGetItem left ${keys.length} keys unprocessed after ${round} rounds`);
        const result: BatchGetCommandOutput = await this.client.send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true, ProjectionExpression: 'userId' } } }),
        );
        for (const item of result.Responses?.[this.tableName] ?? []) found.add(item.userId as string);
        keys = result.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return found;
  }
}
