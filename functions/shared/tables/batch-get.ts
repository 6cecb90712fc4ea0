import { BatchGetCommand, type BatchGetCommandOutput, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * BatchGetItem over any number of keys of one table: batches of BATCH_GET_KEYS, and each batch's `UnprocessedKeys`
 * asked for again after an exponential backoff. DynamoDB API Reference, BatchGetItem
 * (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html): "A single operation can
 * retrieve up to 16 MB of data, which can contain as many as 100 items"; a partial answer lists the rest in
 * `UnprocessedKeys` ("If DynamoDB returns any unprocessed items, you should retry the batch operation on those
 * items. However, we strongly recommend that you use an exponential backoff algorithm"); a request whose keys
 * repeat is refused (ValidationException), so the keys are passed through as given and must be distinct.
 *
 * Answers the items found, in no particular order (keys without an item are simply absent). Throws the SDK's error,
 * or an Error when keys are still unprocessed after MAX_ROUNDS rounds.
 */

/** DynamoDB allows 100 keys per BatchGetItem. */
export const BATCH_GET_KEYS = 100;
const MAX_ROUNDS = 10;
/** The first backoff before asking for UnprocessedKeys again (ms); doubled each round, at most MAX_BACKOFF_MS. */
const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 2_000;

export interface BatchGetOptions {
  ConsistentRead?: boolean;
  ProjectionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function batchGetItems(
  client: DynamoDBDocumentClient,
  tableName: string,
  keys: Record<string, unknown>[],
  options: BatchGetOptions = {},
  sleep: (ms: number) => Promise<void> = pause,
): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = [];
  for (let i = 0; i < keys.length; i += BATCH_GET_KEYS) {
    let batch = keys.slice(i, i + BATCH_GET_KEYS);
    for (let round = 0; batch.length > 0; round += 1) {
      if (round >= MAX_ROUNDS) throw new Error(`BatchGetItem left ${batch.length} keys unprocessed after ${round} rounds`);
      if (round > 0) await sleep(Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (round - 1)));
      const result: BatchGetCommandOutput = await client.send(new BatchGetCommand({ RequestItems: { [tableName]: { Keys: batch, ...options } } }));
      found.push(...(result.Responses?.[tableName] ?? []));
      batch = result.UnprocessedKeys?.[tableName]?.Keys ?? [];
    }
  }
  return found;
}
