import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { conditionHeld, isConditionalCheckFailed } from '../aws-errors.ts';
import { documentClient } from '../clients.ts';
import { dayAttribute, dayOfAttribute, type UsageCounter } from '../self-issued-usage.ts';

/**
 * The SelfIssuedKeys table (KeyMode SelfIssued, issue 15): one item per key hash and one usage counter per customer
 * and quota period, partition key `pk`:
 *
 *   KEY#<sha256 hex>               { customerId, plan, status: 'active' | 'suspended' | 'revoked', hint, createdAt }
 *   USE#<customerId>#<period>      { used, win, n, expiresAt,    (quota count; requests in the one-second window `win`;
 *                                    d<YYYY-MM-DD>… }            requests per UTC day of the period, ../self-issued-usage.ts)
 *   CUSTOMER#<customerId>          { keyId, plan, hash?, status? } (the customer's key: its public id, the hash of
 *                                                                 its value once one is issued, and whether the
 *                                                                 customer may hold a working key: absent or
 *                                                                 'active', 'suspended' (user disabled), 'closed')
 *
 * The key VALUE is never stored: only its hash (functions/shared/self-issued-keys.ts).
 *
 * Quota exactness: `consume` is one conditional UpdateItem (`used < :limit`); DynamoDB applies conditional writes to
 * one item one at a time, so concurrent requests cannot both pass the last unit: at most 0 requests over the quota
 * ("Condition expressions", DynamoDB developer guide: a conditional write succeeds only if the condition holds at
 * write time, and writes to an item are serialized). The rate limit is a fixed one-second window counted on the same
 * item (`n < :rate` while `win` is the current second): at most `rate` per second within a window, up to 2×rate
 * across a window boundary; burst is not modeled separately. The same UpdateItem adds 1 to the day's `d<YYYY-MM-DD>`
 * (GET /me/usage's days, the statement's requests): no extra write, and the item stays under 1 KB (31 days of ≤ 15
 * bytes each), so each write is still 1 write unit ("Capacity unit consumption for write operations": UpdateItem
 * consumes by the larger of the item's sizes before and after, 1 KB per unit,
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html).
 *
 * Suspension and closing (the reconciler's `setSuspended`, the offboarding workflow's CloseSelfIssuedSlot) first write
 * the slot's `status` and read its hash in that same UpdateItem (ReturnValues ALL_NEW), then act on that key's record;
 * a rotation's `swapCustomerKey` holds only while the slot is active. Writes to one item are serialized, so either the
 * swap comes first (and the suspension or closing reads, and then acts on, the new key's hash) or it fails: a rotation
 * racing them never leaves a working key behind.
 */

export interface KeyRecord {
  customerId: string;
  plan: string;
  /** The authorizer admits `active` only: `suspended` (the user is disabled) is a 403, `revoked` a 401. */
  status: 'active' | 'suspended' | 'revoked';
  hint: string;
  createdAt: string;
  /** Set on a key imported when the deployment switched from KeyMode ApiGateway: its value has no `tg_live_` prefix. */
  importedFrom?: 'ApiGateway';
}

/** The customer's key slot: `keyId` is public (custom:apiid, the account's apiKeyId); `hash` once a value exists. */
export interface CustomerKey {
  keyId: string;
  plan: string;
  hash?: string;
  /** Absent or `active`: a rotation may swap in a new key; `suspended` (user disabled) or `closed` (offboarding): not. */
  status?: SlotStatus;
}

export type SlotStatus = 'active' | 'suspended' | 'closed';

export type Consumption = { ok: true; used: number } | { ok: false; reason: 'quota' | 'rate' };

export interface SelfIssuedKeysStore {
  /** Stores a new key's hash; false if that hash exists (never overwrites). */
  putKey(hash: string, record: KeyRecord): Promise<boolean>;
  getKey(hash: string): Promise<KeyRecord | undefined>;
  /** Marks a key revoked (rotation, offboarding). */
  revokeKey(hash: string): Promise<void>;
  /**
   * Counts one request for `customerId` in `period` (e.g. `2026-11`) at second `nowSeconds`, unless that would pass
   * `quotaLimit` for the period or `rateLimit` for the second. `expiresAt` (epoch seconds) is the counter's TTL.
   */
  consume(customerId: string, period: string, nowSeconds: number, limits: { quotaLimit: number; rateLimit: number }, expiresAt: number): Promise<Consumption>;
  /** The customer's key slot, created with `slot` when there is none (conditional put: a retry finds the first one). */
  findOrCreateCustomer(customerId: string, slot: CustomerKey): Promise<CustomerKey>;
  getCustomer(customerId: string): Promise<CustomerKey | undefined>;
  /**
   * Points the customer's slot at a new key, only if it still holds `expectedKeyId` and is active (a racing rotation,
   * a suspension or an offboarding that came first: false).
   */
  swapCustomerKey(customerId: string, expectedKeyId: string, next: { keyId: string; hash: string }): Promise<boolean>;
  /**
   * Puts the customer on `plan`: their slot, then their current key's record (what the authorizer meters by). Safe to
   * repeat; false when the customer has no slot.
   */
  setPlan(customerId: string, plan: string): Promise<boolean>;
  /** The customer's counters of `periods` that exist (consistent reads: what the authorizer enforces right now). */
  readCounters(customerId: string, periods: readonly string[]): Promise<UsageCounter[]>;
  /**
   * Suspends (`true`) or restores (`false`) the customer's key (the account reconciler, user disabled / enabled): the
   * slot's status, then the current key's record (`active` ⇄ `suspended`; a revoked key stays revoked). Slot first:
   * from then on no rotation can swap in an unsuspended key, and the hash read in the same write is the key to act
   * on. Safe to repeat; a slot that is gone or closed is left alone (false).
   */
  setSuspended(customerId: string, suspended: boolean): Promise<boolean>;
  /**
   * Raises the customer's count for `period` to `used` if it is lower (never lowers it): usage counted elsewhere
   * before the switch to this mode (scripts/switch-key-mode.ts). True when it wrote. Safe to repeat.
   */
  carryUsage(customerId: string, period: string, used: number, expiresAt: number): Promise<boolean>;
}

export function selfIssuedKeysStore(tableName: string, client: DynamoDBDocumentClient = documentClient): SelfIssuedKeysStore {
  return {
    async putKey(hash, record) {
      try {
        await client.send(new PutCommand({ TableName: tableName, Item: { pk: `KEY#${hash}`, ...record }, ConditionExpression: 'attribute_not_exists(pk)' }));
        return true;
      } catch (error) {
        if (isConditionalCheckFailed(error)) return false;
        throw error;
      }
    },
    async getKey(hash) {
      const out = await client.send(new GetCommand({ TableName: tableName, Key: { pk: `KEY#${hash}` } }));
      if (out.Item === undefined) return undefined;
      const { customerId, plan, status, hint, createdAt, importedFrom } = out.Item as KeyRecord;
      return { customerId, plan, status, hint, createdAt, ...(importedFrom ? { importedFrom } : {}) };
    },
    async findOrCreateCustomer(customerId, slot) {
      try {
        await client.send(new PutCommand({ TableName: tableName, Item: { pk: `CUSTOMER#${customerId}`, ...slot }, ConditionExpression: 'attribute_not_exists(pk)' }));
        return slot;
      } catch (error) {
        if (!isConditionalCheckFailed(error)) throw error;
      }
      const found = await this.getCustomer(customerId);
      if (found === undefined) throw new Error(`the key slot of ${customerId} vanished`);
      return found;
    },
    async getCustomer(customerId) {
      const out = await client.send(new GetCommand({ TableName: tableName, Key: { pk: `CUSTOMER#${customerId}` }, ConsistentRead: true }));
      if (out.Item === undefined) return undefined;
      const { keyId, plan, hash, status } = out.Item as CustomerKey;
      return { keyId, plan, ...(hash ? { hash } : {}), ...(status ? { status } : {}) };
    },
    async swapCustomerKey(customerId, expectedKeyId, next) {
      try {
        await client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: `CUSTOMER#${customerId}` },
            UpdateExpression: 'SET keyId = :new, #h = :hash',
            // Active: a suspension or an offboarding that wrote the slot first has already read the old hash.
            ConditionExpression: 'keyId = :old AND (attribute_not_exists(#s) OR #s = :active)',
            ExpressionAttributeNames: { '#h': 'hash', '#s': 'status' },
            ExpressionAttributeValues: { ':new': next.keyId, ':hash': next.hash, ':old': expectedKeyId, ':active': 'active' },
          }),
        );
        return true;
      } catch (error) {
        if (isConditionalCheckFailed(error)) return false;
        throw error;
      }
    },
    async setPlan(customerId, plan) {
      // One conditional SET of `plan` on an existing item; answers the item as it is now.
      const setPlanOf = async (pk: string) =>
        (
          await client.send(
            new UpdateCommand({
              TableName: tableName,
              Key: { pk },
              UpdateExpression: 'SET #p = :plan',
              ConditionExpression: 'attribute_exists(pk)',
              ExpressionAttributeNames: { '#p': 'plan' },
              ExpressionAttributeValues: { ':plan': plan },
              ReturnValues: 'ALL_NEW',
            }),
          )
        ).Attributes as CustomerKey | undefined;
      let slot: CustomerKey | undefined;
      try {
        slot = await setPlanOf(`CUSTOMER#${customerId}`);
      } catch (error) {
        if (isConditionalCheckFailed(error)) return false;
        throw error;
      }
      if (slot?.hash) await setPlanOf(`KEY#${slot.hash}`);
      return true;
    },
    async setSuspended(customerId, suspended) {
      const [slotStatus, from, to] = suspended ? (['suspended', 'active', 'suspended'] as const) : (['active', 'suspended', 'active'] as const);
      let slot: CustomerKey | undefined;
      try {
        slot = (
          await client.send(
            new UpdateCommand({
              TableName: tableName,
              Key: { pk: `CUSTOMER#${customerId}` },
              UpdateExpression: 'SET #s = :status',
              ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#s) OR #s <> :closed)',
              ExpressionAttributeNames: { '#s': 'status' },
              ExpressionAttributeValues: { ':status': slotStatus, ':closed': 'closed' },
              ReturnValues: 'ALL_NEW',
            }),
          )
        ).Attributes as CustomerKey | undefined;
      } catch (error) {
        if (isConditionalCheckFailed(error)) return false;
        throw error;
      }
      if (slot?.hash) {
        await client
          .send(
            new UpdateCommand({
              TableName: tableName,
              Key: { pk: `KEY#${slot.hash}` },
              UpdateExpression: 'SET #s = :to',
              ConditionExpression: '#s = :from',
              ExpressionAttributeNames: { '#s': 'status' },
              ExpressionAttributeValues: { ':from': from, ':to': to },
            }),
          )
          .catch((error: unknown) => {
            if (!isConditionalCheckFailed(error)) throw error; // already so (a repeat), revoked, or gone
          });
      }
      return true;
    },
    async revokeKey(hash) {
      await client.send(
        new UpdateCommand({ TableName: tableName, Key: { pk: `KEY#${hash}` }, UpdateExpression: 'SET #s = :r', ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':r': 'revoked' } }),
      ).catch((error: unknown) => {
        if (!isConditionalCheckFailed(error)) throw error;
      });
    },
    async carryUsage(customerId, period, used, expiresAt) {
      return conditionHeld(
        client.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { pk: `USE#${customerId}#${period}` },
            UpdateExpression: 'SET used = :used, expiresAt = if_not_exists(expiresAt, :exp)',
            ConditionExpression: 'attribute_not_exists(used) OR used < :used',
            ExpressionAttributeValues: { ':used': used, ':exp': expiresAt },
          }),
        ),
      );
    },
    async consume(customerId, period, nowSeconds, { quotaLimit, rateLimit }, expiresAt) {
      const Key = { pk: `USE#${customerId}#${period}` };
      // The request's UTC day, counted in the same write (periods are whole UTC days, so the day is in this period).
      const ExpressionAttributeNames = { '#day': dayAttribute(new Date(nowSeconds * 1000).toISOString().slice(0, 10)) };
      const update = async (UpdateExpression: string, ConditionExpression: string, values: Record<string, number>): Promise<number | undefined> => {
        try {
          const out = await client.send(
            new UpdateCommand({ TableName: tableName, Key, UpdateExpression, ConditionExpression, ExpressionAttributeNames, ExpressionAttributeValues: values, ReturnValues: 'UPDATED_NEW' }),
          );
          return Number(out.Attributes?.used);
        } catch (error) {
          if (isConditionalCheckFailed(error)) return undefined;
          throw error;
        }
      };
      // A few rounds only when other requests race for the same item (a window opening); then it counts as rate.
      for (let round = 0; round < 3; round += 1) {
        // The common case, one write: the same second as the last request, quota and window both allow.
        const same = await update('ADD used :one, n :one, #day :one', 'used < :limit AND win = :sec AND n < :rate', { ':one': 1, ':limit': quotaLimit, ':rate': rateLimit, ':sec': nowSeconds });
        if (same !== undefined) return { ok: true, used: same };
        const got = await client.send(new GetCommand({ TableName: tableName, Key, ConsistentRead: true }));
        const item = got.Item as { used?: number; win?: number; n?: number } | undefined;
        if (item?.used !== undefined && item.used >= quotaLimit) return { ok: false, reason: 'quota' };
        if (item?.win !== undefined && item.win >= nowSeconds) {
          if ((item.n ?? 0) >= rateLimit) return { ok: false, reason: 'rate' };
          continue; // the window was opened meanwhile: count in it
        }
        // A new second, or the period's first request: open the window at 1.
        const opened = await update(
          'SET win = :sec, n = :one, expiresAt = :exp ADD used :one, #day :one',
          '(attribute_not_exists(used) OR used < :limit) AND (attribute_not_exists(win) OR win < :sec)',
          { ':one': 1, ':limit': quotaLimit, ':sec': nowSeconds, ':exp': expiresAt },
        );
        if (opened !== undefined) return { ok: true, used: opened };
      }
      return { ok: false, reason: 'rate' };
    },
    async readCounters(customerId, periods) {
      // One GetItem per period (4 for a 92-day range of monthly quotas, 1 for a month's statement).
      const items = await Promise.all(
        periods.map(async (period) => {
          const out = await client.send(new GetCommand({ TableName: tableName, Key: { pk: `USE#${customerId}#${period}` }, ConsistentRead: true }));
          return out.Item === undefined ? undefined : counterOf(period, out.Item);
        }),
      );
      return items.filter((c): c is UsageCounter => c !== undefined);
    },
  };
}

/** A counter item as a UsageCounter: `used` and its `d<YYYY-MM-DD>` attributes. */
export function counterOf(period: string, item: Record<string, unknown>): UsageCounter {
  const days: Record<string, number> = {};
  for (const [name, value] of Object.entries(item)) {
    const day = dayOfAttribute(name);
    if (day !== undefined && typeof value === 'number' && value > 0) days[day] = value;
  }
  return { period, used: typeof item.used === 'number' ? item.used : 0, days };
}
