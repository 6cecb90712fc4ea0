import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { LedgerEntry } from './billing.ts';

/** A ledger item without its partition key: what the billing domain and the API see. */
export function ledgerEntry(item: Record<string, unknown>): LedgerEntry {
  const { userId: _userId, ...entry } = item;
  return entry as LedgerEntry;
}

/**
 * Every PLAN_STARTED / PLAN_CHANGED / ACCOUNT_CLOSED entry of one user, all pages, in entry (time) order, read
 * consistently: a statement computed right after a plan change (or the closing) must include it.
 */
export async function readPlanEntries(client: DynamoDBDocumentClient, tableName: string, userId: string): Promise<LedgerEntry[]> {
  const entries: LedgerEntry[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const { Items, LastEvaluatedKey } = await client.send(
      new QueryCommand({
        TableName: tableName,
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
