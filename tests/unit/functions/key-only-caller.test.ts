import { ACCOUNTS_TABLE } from './env.ts';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { CachedKeyOwners, dataApiAuthFrom, dataApiCaller, keyOnlyCaller, type KeyOwners } from '#shared/caller';
import { DynamoKeyOwners } from '#shared/tables/accounts';
import { linksRoutes } from '../../../functions/links/handler.ts';
import { createApiHandler } from '#shared/http';
import { API_KEY_ID, OTHER_SUB, SUB, bodyOf, context, loadEvent, withApiKeyId, withoutAuthorizer } from './helpers.ts';

/**
 * Key-only data API (DataApiAuth=ApiKey): the caller is the owner of the key API Gateway verified, found through the
 * Accounts table's ApiKeyIndex at most once per request and not at all for a repeat key within the freshness.
 */

const INDEX = 'ApiKeyIndex';
const ddb = mockClient(DynamoDBDocumentClient);
beforeEach(() => ddb.reset());

/** A KeyOwners that counts its lookups. */
function countingOwners(owners: Record<string, string>): KeyOwners & { lookups: string[] } {
  const lookups: string[] = [];
  return {
    lookups,
    ownerOf: async (apiKeyId) => {
      lookups.push(apiKeyId);
      return owners[apiKeyId];
    },
  };
}

const keyOnlyEvent = (apiKeyId: string | null) => withApiKeyId(withoutAuthorizer(loadEvent('links-list')), apiKeyId);

describe('DynamoKeyOwners (apiKeyId → userId)', () => {
  it('is one Query of the index by apiKeyId, Limit 1, answering the userId', async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ userId: SUB, apiKeyId: API_KEY_ID }] });
    await expect(new DynamoKeyOwners(ACCOUNTS_TABLE, INDEX).ownerOf(API_KEY_ID)).resolves.toBe(SUB);
    expect(ddb.calls()).toHaveLength(1);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: ACCOUNTS_TABLE,
      IndexName: INDEX,
      KeyConditionExpression: 'apiKeyId = :k',
      ExpressionAttributeValues: { ':k': API_KEY_ID },
      Limit: 1,
    });
  });

  it('answers undefined for a key no account holds (rotated away, closed)', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    await expect(new DynamoKeyOwners(ACCOUNTS_TABLE, INDEX).ownerOf('gone')).resolves.toBeUndefined();
  });
});

describe('CachedKeyOwners', () => {
  it('reads a key once within the freshness, again after it', async () => {
    let now = 1_000_000;
    const inner = countingOwners({ k1: SUB });
    const owners = new CachedKeyOwners(inner, 60_000, () => now);
    await expect(owners.ownerOf('k1')).resolves.toBe(SUB);
    now += 59_999;
    await expect(owners.ownerOf('k1')).resolves.toBe(SUB);
    expect(inner.lookups).toEqual(['k1']);
    now += 1;
    await expect(owners.ownerOf('k1')).resolves.toBe(SUB);
    expect(inner.lookups).toEqual(['k1', 'k1']);
  });

  it('does not cache an unknown key: a key found later is found', async () => {
    const table: Record<string, string> = {};
    const inner = countingOwners(table);
    const owners = new CachedKeyOwners(inner, 60_000, () => 0);
    await expect(owners.ownerOf('new')).resolves.toBeUndefined();
    table.new = OTHER_SUB;
    await expect(owners.ownerOf('new')).resolves.toBe(OTHER_SUB);
    expect(inner.lookups).toEqual(['new', 'new']);
  });

  it('keeps at most maxEntries keys, dropping the oldest', async () => {
    const inner = countingOwners({ a: 'ua', b: 'ub', c: 'uc' });
    const owners = new CachedKeyOwners(inner, 60_000, () => 0, 2);
    for (const key of ['a', 'b', 'c', 'c', 'b', 'a']) await owners.ownerOf(key);
    expect(inner.lookups).toEqual(['a', 'b', 'c', 'a']);
  });

  it('reads through every time with a freshness of 0', async () => {
    const inner = countingOwners({ k: SUB });
    const owners = new CachedKeyOwners(inner, 0, () => 0);
    await owners.ownerOf('k');
    await owners.ownerOf('k');
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
