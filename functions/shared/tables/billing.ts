import { PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { conditionHeld } from '../aws-errors.ts';
import { batchGetItems } from './batch-get.ts';
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

  /** The users among `userIds` (distinct) who have the entry `entryId` (batch reads, read consistently). */
  async existing(userIds: string[], entryId: string): Promise<Set<string>> {
    const items = await batchGetItems(
      this.client,
      this.tableName,
      userIds.map((userId) => ({ userId, entryId })),
      { ConsistentRead: true, ProjectionExpression: 'userId' },
    );
    return new Set(items.map((item) => item.userId as string));
  }
}
