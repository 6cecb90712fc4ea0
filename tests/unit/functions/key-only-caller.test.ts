import { ACCOUNTS_TABLE } from './env.ts';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CachedKeyOwners, dataApiAuthFrom, dataApiCaller, keyOnlyCaller, type KeyOwner, type KeyOwners } from '#shared/caller';
import { DynamoKeyOwners } from '#shared/tables/accounts';
import { linksRoutes } from '../../../functions/links/handler.ts';
import { createApiHandler } from '#shared/http';
import { API_KEY_ID, OTHER_SUB, SUB, bodyOf, context, loadEvent, withApiKeyId, withoutAuthorizer } from './helpers.ts';

/**
 * Key-only data API (DataApiAuth=ApiKey): the caller is the owner of the key API Gateway verified, and not looked up at
 * all for a repeat key within the freshness or, for a rotated-away key, its overlap's end. Deployed, the owner comes
 * from the key's KeyOwners record (tests/unit/functions/key-owners.test.ts); DynamoKeyOwners, tested here, is its
 * fallback for a key with no record: the Accounts table's ApiKeyIndex (a current key: one Query) or
 * PreviousApiKeyIndex (a key in its rotation overlap: a second Query).
 */

const INDEX = 'ApiKeyIndex';
const PREVIOUS_INDEX = 'PreviousApiKeyIndex';
const ddb = mockClient(DynamoDBDocumentClient);
beforeEach(() => ddb.reset());

const T0 = Date.parse('2026-11-30T12:00:00Z');
const at = (ms: number) => new Date(T0 + ms);

/** A KeyOwners that counts its lookups; an owner is a userId (a current key) or a KeyOwner (e.g. with `until`). */
function countingOwners(owners: Record<string, string | KeyOwner>): KeyOwners & { lookups: string[] } {
  const lookups: string[] = [];
  return {
    lookups,
    ownerOf: async (apiKeyId, now) => {
      lookups.push(apiKeyId);
      const owner = owners[apiKeyId];
      if (typeof owner === 'string') return { userId: owner };
      return owner && (owner.until === undefined || owner.until > now.getTime()) ? owner : undefined;
    },
  };
}

const keyOnlyEvent = (apiKeyId: string | null) => withApiKeyId(withoutAuthorizer(loadEvent('links-list')), apiKeyId);

describe('DynamoKeyOwners (apiKeyId → owner)', () => {
  const owners = () => new DynamoKeyOwners(ACCOUNTS_TABLE, INDEX, PREVIOUS_INDEX);
  const query = (index: string, attribute: string, key: string) => ({
    TableName: ACCOUNTS_TABLE,
    IndexName: index,
    KeyConditionExpression: '#k = :k',
    ExpressionAttributeNames: { '#k': attribute },
    ExpressionAttributeValues: { ':k': key },
    Limit: 1,
  });
  /** The account item as PreviousApiKeyIndex projects it, keeping `old` until `expiresAt`. */
  const inOverlapItem = (old: string, expiresAt: string, extra: Record<string, unknown> = {}) => ({
    userId: SUB,
    previousApiKeyId: old,
    status: 'ACTIVE',
    previousKey: { id: old, rotationId: API_KEY_ID, usagePlanId: 'up1', plan: 'free', quotaCarriedOver: 0, expiresAt },
    ...extra,
  });
  const onIndex = (index: string, items: Record<string, unknown>[]) => ddb.on(QueryCommand, { IndexName: index }).resolves({ Items: items });

  it('is one Query of ApiKeyIndex for a current key (Limit 1), answering the userId with no end', async () => {
    onIndex(INDEX, [{ userId: SUB, apiKeyId: API_KEY_ID }]);
    await expect(owners().ownerOf(API_KEY_ID, at(0))).resolves.toEqual({ userId: SUB });
    expect(ddb.calls()).toHaveLength(1);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, query(INDEX, 'apiKeyId', API_KEY_ID));
  });

  it('finds a rotated-away key through PreviousApiKeyIndex during its overlap, owned until the overlap ends (2 Queries)', async () => {
    onIndex(INDEX, []);
    onIndex(PREVIOUS_INDEX, [inOverlapItem('old', '2026-11-30T12:05:00Z')]);
    await expect(owners().ownerOf('old', at(0))).resolves.toEqual({ userId: SUB, until: Date.parse('2026-11-30T12:05:00Z') });
    expect(ddb.calls()).toHaveLength(2);
    expect(ddb).toHaveReceivedNthCommandWith(2, QueryCommand, query(PREVIOUS_INDEX, 'previousApiKeyId', 'old'));
  });

  it('refuses a rotated-away key from the instant its overlap ends, even before the retirement workflow removed it', async () => {
    onIndex(INDEX, []);
    onIndex(PREVIOUS_INDEX, [inOverlapItem('old', '2026-11-30T12:05:00Z')]);
    await expect(owners().ownerOf('old', at(5 * 60_000 - 1))).resolves.toMatchObject({ userId: SUB });
    await expect(owners().ownerOf('old', at(5 * 60_000))).resolves.toBeUndefined();
  });

  it.each([
    ['the account is closing', { status: 'CLOSING' }],
    ['the account is suspended (user disabled)', { keySuspendedAt: '2026-11-30T11:00:00Z' }],
  ])('refuses a key in its overlap when %s', async (_, extra) => {
    onIndex(INDEX, []);
    onIndex(PREVIOUS_INDEX, [inOverlapItem('old', '2026-11-30T12:05:00Z', extra)]);
    await expect(owners().ownerOf('old', at(0))).resolves.toBeUndefined();
  });

  it('answers undefined for a key no account holds, current or previous (overlap cancelled, retired, closed)', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await expect(owners().ownerOf('gone', at(0))).resolves.toBeUndefined();
    expect(ddb.calls()).toHaveLength(2);
  });
});

describe('CachedKeyOwners', () => {
  it('reads a key once within the freshness, again after it', async () => {
    const inner = countingOwners({ k1: SUB });
    const owners = new CachedKeyOwners(inner, 60_000);
    await expect(owners.ownerOf('k1', at(0))).resolves.toEqual({ userId: SUB });
    await expect(owners.ownerOf('k1', at(59_999))).resolves.toEqual({ userId: SUB });
    expect(inner.lookups).toEqual(['k1']);
    await expect(owners.ownerOf('k1', at(60_000))).resolves.toEqual({ userId: SUB });
    expect(inner.lookups).toEqual(['k1', 'k1']);
  });

  it('keeps a rotated-away key only until its overlap ends, when that comes before the freshness', async () => {
    const inner = countingOwners({ old: { userId: SUB, until: T0 + 10_000 } });
    const owners = new CachedKeyOwners(inner, 60_000);
    await expect(owners.ownerOf('old', at(0))).resolves.toEqual({ userId: SUB, until: T0 + 10_000 });
    await expect(owners.ownerOf('old', at(9_999))).resolves.toMatchObject({ userId: SUB });
    expect(inner.lookups).toEqual(['old']);
    // The overlap ended while cached: the cache asks again, and the lookup refuses it.
    await expect(owners.ownerOf('old', at(10_000))).resolves.toBeUndefined();
    expect(inner.lookups).toEqual(['old', 'old']);
  });

  it('sees a cancelled overlap within the freshness, not later', async () => {
    const table: Record<string, KeyOwner> = { old: { userId: SUB, until: T0 + 3_600_000 } };
    const inner = countingOwners(table);
    const owners = new CachedKeyOwners(inner, 60_000);
    await expect(owners.ownerOf('old', at(0))).resolves.toMatchObject({ userId: SUB });
    delete table.old; // DELETE /me/api-key/previous: the mapping is gone
    // Served from the cache for at most the freshness (API Gateway refuses the deleted key meanwhile)…
    await expect(owners.ownerOf('old', at(59_999))).resolves.toMatchObject({ userId: SUB });
    // …then refused.
    await expect(owners.ownerOf('old', at(60_000))).resolves.toBeUndefined();
    await expect(owners.ownerOf('old', at(60_001))).resolves.toBeUndefined();
    expect(inner.lookups).toEqual(['old', 'old', 'old']);
  });

  it('does not cache an unknown key: a key found later is found', async () => {
    const table: Record<string, string> = {};
    const inner = countingOwners(table);
    const owners = new CachedKeyOwners(inner, 60_000);
    await expect(owners.ownerOf('new', at(0))).resolves.toBeUndefined();
    table.new = OTHER_SUB;
    await expect(owners.ownerOf('new', at(0))).resolves.toEqual({ userId: OTHER_SUB });
    expect(inner.lookups).toEqual(['new', 'new']);
  });

  it('keeps at most maxEntries keys, dropping the oldest', async () => {
    const inner = countingOwners({ a: 'ua', b: 'ub', c: 'uc' });
    const owners = new CachedKeyOwners(inner, 60_000, 2);
    for (const key of ['a', 'b', 'c', 'c', 'b', 'a']) await owners.ownerOf(key, at(0));
    expect(inner.lookups).toEqual(['a', 'b', 'c', 'a']);
  });

  it('reads through every time with a freshness of 0', async () => {
    const inner = countingOwners({ k: SUB });
    const owners = new CachedKeyOwners(inner, 0);
    await owners.ownerOf('k', at(0));
    await owners.ownerOf('k', at(0));
    expect(inner.lookups).toEqual(['k', 'k']);
  });
});

describe('keyOnlyCaller', () => {
  it("is the key's owner, with no token at all", async () => {
    await expect(keyOnlyCaller(keyOnlyEvent(API_KEY_ID), countingOwners({ [API_KEY_ID]: SUB }))).resolves.toEqual({ userId: SUB, apiKeyId: API_KEY_ID });
  });

  it('ignores a token’s sub: the key alone names the customer', async () => {
    const event = withApiKeyId(loadEvent('links-list'), API_KEY_ID); // carries claims of SUB
    await expect(keyOnlyCaller(event, countingOwners({ [API_KEY_ID]: OTHER_SUB }))).resolves.toEqual({ userId: OTHER_SUB, apiKeyId: API_KEY_ID });
  });

  it('is 403 without a key id, and 403 for a key no account holds', async () => {
    await expect(keyOnlyCaller(keyOnlyEvent(null), countingOwners({}))).rejects.toMatchObject({ statusCode: 403 });
    await expect(keyOnlyCaller(keyOnlyEvent('rotated-away'), countingOwners({}))).rejects.toMatchObject({ statusCode: 403 });
  });

  it('is the owner of a rotated-away key until its overlap ends, then 403', async () => {
    const owners = countingOwners({ old: { userId: SUB, until: T0 + 1_000 } });
    await expect(keyOnlyCaller(keyOnlyEvent('old'), owners, at(999))).resolves.toEqual({ userId: SUB, apiKeyId: 'old' });
    await expect(keyOnlyCaller(keyOnlyEvent('old'), owners, at(1_000))).rejects.toMatchObject({ statusCode: 403 });
  });
});

describe('dataApiCaller and DATA_API_AUTH', () => {
  it('accepts only the two modes', () => {
    expect(dataApiAuthFrom('ApiKey')).toBe('ApiKey');
    expect(dataApiAuthFrom('IdTokenAndApiKey')).toBe('IdTokenAndApiKey');
    expect(() => dataApiAuthFrom(undefined)).toThrow(/DATA_API_AUTH/);
    expect(() => dataApiAuthFrom('apikey')).toThrow(/DATA_API_AUTH/);
  });

  it('needs keyOwners in ApiKey mode', () => {
    expect(() => dataApiCaller({ accounts: { get: async () => undefined }, dataApiAuth: 'ApiKey' })).toThrow(/keyOwners/);
  });

  it('in token mode still refuses a request without a token (401)', async () => {
    const idTokens = { verify: async () => Promise.reject(new Error('no token, so nothing to verify')) };
    const authorize = dataApiCaller({ accounts: { get: async () => undefined }, dataApiAuth: 'IdTokenAndApiKey', idTokens });
    await expect(authorize(keyOnlyEvent(API_KEY_ID))).rejects.toMatchObject({ statusCode: 401 });
  });
});

describe('GET /links in key-only mode', () => {
  const keyOnlyHandler = (owners: KeyOwners) =>
    createApiHandler(
      linksRoutes({
        accounts: { get: async () => Promise.reject(new Error('the account is not read in key-only mode')) },
        dataApiAuth: 'ApiKey',
        keyOwners: owners,
        links: { listLinks: async (userId: string) => ({ items: [{ id: `of-${userId}` }] }) } as never,
        tagLinks: {} as never,
      }),
    );

  it("lists the key owner's links; a repeat call makes no owner lookup", async () => {
    const inner = countingOwners({ [API_KEY_ID]: SUB });
    const handler = keyOnlyHandler(new CachedKeyOwners(inner, 60_000));
    for (let i = 0; i < 2; i++) {
      const result = await handler(keyOnlyEvent(API_KEY_ID), context);
      expect({ status: result.statusCode, body: bodyOf(result) }).toEqual({ status: 200, body: expect.objectContaining({ items: [{ id: `of-${SUB}` }] }) });
    }
    expect(inner.lookups).toEqual([API_KEY_ID]);
    expect(ddb).not.toHaveReceivedCommand(GetCommand);
  });

  it('is 403 for a key no account holds', async () => {
    const result = await keyOnlyHandler(countingOwners({}))(keyOnlyEvent('rotated-away'), context);
    expect({ status: result.statusCode, message: bodyOf(result).message }).toEqual({ status: 403, message: 'The API key belongs to no active account' });
  });
});
