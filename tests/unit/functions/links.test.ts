// Over 400 lines: one function's routes with their validation, ownership and pagination cases.
import { ACCOUNTS_TABLE, RESOURCES_TABLE } from './env.ts';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { clearAccountCaches } from '#shared/data-api';
import { logger } from '#shared/logger';
import { MAX_BODY_BYTES } from '#shared/http';
import { uuidV7Timestamp } from '#shared/ids';
import { encodeNextToken } from '#shared/pagination';
import { handler as rawHandler, linksRoutes } from '../../../functions/links/handler.ts';
import { serveJwks, viaIdToken } from './id-tokens.ts';
import { createLink, deleteLink } from '../../../functions/links/domain.ts';
import type { Link, LinkStore, TagLinkStore } from '#shared/tables/resources';
import {
  API_KEY_ID,
  API_KEY_VALUE,
  OTHER_SUB,
  SUB,
  ACTIVE_ACCOUNT,
  bodyOf,
  captureOutput,
  context,
  describeCallerChecks,
  expectGenericServerError,
  loadEvent,
  requestsTo,
  withBody,
  withClaims,
  withPathId,
  withQuery,
} from './helpers.ts';

const ddb = mockClient(DynamoDBDocumentClient);
// The data API verifies the ID token itself: the fixtures' claims arrive as a token signed by the pool's (local) key.
serveJwks();
const handler = viaIdToken(rawHandler);

const LINK_ID = '3b5d8f6e-2c1a-4e7b-9f0d-8a6c4e2b1d9f';
/** New link ids are UUIDv7 (time-ordered). */
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const storedLink = {
  userId: SUB,
  sk: `LINK#${LINK_ID}`,
  id: LINK_ID,
  url: 'https://example.com/articles/serverless-patterns',
  title: 'Serverless patterns',
  createdAt: '2025-11-23T13:00:00.000Z',
};
const publicLink = { id: storedLink.id, url: storedLink.url, title: storedLink.title, createdAt: storedLink.createdAt };
const conditionFailed = (): ConditionalCheckFailedException =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });

beforeEach(() => {
  ddb.reset();
  clearAccountCaches(); // each test a fresh Lambda environment's account cache (CachedAccounts)
  // the caller's account, which assertOwnKey reads: the fixtures' key is its current key
  ddb.on(GetCommand, { TableName: ACCOUNTS_TABLE, Key: { userId: SUB } }).resolves({ Item: ACTIVE_ACCOUNT });
});

describeCallerChecks(handler, ddb, { accounts: ACCOUNTS_TABLE, resources: RESOURCES_TABLE }, [
  'links-create',
  'links-list',
  'links-get',
  'links-delete',
]);

describe('POST /links', () => {
  it('creates a link in the caller partition and answers 201 with it', async () => {
    ddb.on(PutCommand).resolves({});
    const event = loadEvent('links-create');

    const result = await handler(event, context);

    expect(result.statusCode).toBe(201);
    const body = bodyOf(result);
    expect(body).toEqual({
      id: expect.stringMatching(UUID_V7),
      url: 'https://example.com/articles/serverless-patterns',
      title: 'Serverless patterns',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: RESOURCES_TABLE,
      Item: { userId: SUB, sk: `LINK#${body.id}`, ...body },
      ConditionExpression: 'attribute_not_exists(sk)',
    });
    expect(result.headers).toMatchObject({ 'Content-Type': 'application/json' });
  });

  it('gives links time-ordered ids (UUIDv7) that the id routes accept', async () => {
    ddb.on(PutCommand).resolves({});
    ddb.on(GetCommand, { TableName: RESOURCES_TABLE }).resolves({ Item: storedLink });
    const before = Date.now();

    const first = bodyOf(await handler(loadEvent('links-create'), context));
    const second = bodyOf(await handler(loadEvent('links-create'), context));
    const fetched = await handler(withPathId(loadEvent('links-get'), second.id), context);

    expect(first.id).toMatch(UUID_V7);
    expect(second.id > first.id).toBe(true);
    expect(uuidV7Timestamp(first.id)).toBeGreaterThanOrEqual(before);
    expect(uuidV7Timestamp(second.id)).toBeLessThanOrEqual(Date.now());
    expect(fetched.statusCode).toBe(200);
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { Key: { userId: SUB, sk: `LINK#${second.id}` } });
  });

  it('names every unknown field in a 400', async () => {
    const event = withBody(loadEvent('links-create'), { url: 'https://example.com', colour: 'red', tags: [] });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).details.issues).toEqual([
      { field: 'colour', message: 'Unrecognized key: "colour"' },
      { field: 'tags', message: 'Unrecognized key: "tags"' },
    ]);
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('checks the key against the account, read once per Lambda environment within the freshness (not per request)', async () => {
    ddb.on(PutCommand).resolves({});

    expect((await handler(loadEvent('links-create'), context)).statusCode).toBe(201);
    expect((await handler(loadEvent('links-create'), context)).statusCode).toBe(201);

    expect(requestsTo(ddb, ACCOUNTS_TABLE)).toHaveLength(1);
  });

  it('falls back to the account record when the token predates custom:apiid', async () => {
    ddb.on(GetCommand, { TableName: ACCOUNTS_TABLE, Key: { userId: SUB } }).resolves({
      Item: { userId: SUB, apiKeyId: API_KEY_ID, status: 'ACTIVE' },
    });
    ddb.on(PutCommand).resolves({});
    const event = withClaims(loadEvent('links-create'), { 'custom:apiid': undefined });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(201);
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 1);
  });

  it('accepts a link without a title', async () => {
    ddb.on(PutCommand).resolves({});
    const event = withBody(loadEvent('links-create'), { url: 'http://localhost:8080/x' });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(201);
    expect(bodyOf(result)).not.toHaveProperty('title');
    expect(bodyOf(result)).toMatchObject({ url: 'http://localhost:8080/x' });
  });

  it('decodes a base64-encoded body', async () => {
    ddb.on(PutCommand).resolves({});
    const event = loadEvent('links-create');
    const encoded = { ...event, body: Buffer.from(event.body ?? '', 'utf8').toString('base64'), isBase64Encoded: true };

    const result = await handler(encoded, context);

    expect(result.statusCode).toBe(201);
    expect(bodyOf(result)).toMatchObject({ url: 'https://example.com/articles/serverless-patterns' });
  });

  it.each([
    ['an ftp URL', 'ftp://example.com/file'],
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a relative URL', '/articles/1'],
    ['free text', 'not a url'],
    ['a URL longer than 2048 characters', `https://example.com/${'a'.repeat(2030)}`],
    ['a number', 42],
    ['null', null],
  ])('answers 400 naming url for %s', async (_label, url) => {
    const event = withBody(loadEvent('links-create'), { url });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ code: 'BadRequest', details: { issues: [{ field: 'url' }] } });
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('answers 400 naming url when it is missing', async () => {
    const event = withBody(loadEvent('links-create'), { title: 'no url' });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).details.issues).toContainEqual(expect.objectContaining({ field: 'url' }));
  });

  it('answers 400 naming title when it is longer than 200 characters', async () => {
    const event = withBody(loadEvent('links-create'), { url: 'https://example.com', title: 't'.repeat(201) });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ details: { issues: [{ field: 'title' }] } });
    expect(bodyOf(result).message).toContain('title');
  });

  it('accepts a title of exactly 200 characters', async () => {
    ddb.on(PutCommand).resolves({});
    const event = withBody(loadEvent('links-create'), { url: 'https://example.com', title: 't'.repeat(200) });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(201);
  });

  it('answers 400 naming an unknown field', async () => {
    const event = withBody(loadEvent('links-create'), { url: 'https://example.com', userId: OTHER_SUB });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({
      message: 'Invalid body: userId: Unrecognized key: "userId"',
      details: { issues: [{ field: 'userId', message: 'Unrecognized key: "userId"' }] },
    });
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('answers 400 when the body is missing', async () => {
    const event = { ...loadEvent('links-create'), body: null };

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).message).toBe('Request body is required (JSON)');
  });

  it('answers 400 when the body is not JSON', async () => {
    const event = withBody(loadEvent('links-create'), '{"url": "https://example.com"');

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).message).toBe('Request body is not valid JSON');
  });

  it('answers 400 when the body is a JSON array', async () => {
    const event = withBody(loadEvent('links-create'), [{ url: 'https://example.com' }]);

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).code).toBe('BadRequest');
  });

  it('answers 400 when the body is larger than the limit', async () => {
    const title = 'x'.repeat(MAX_BODY_BYTES);
    const event = withBody(loadEvent('links-create'), { url: 'https://example.com', title });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).message).toContain(`larger than ${MAX_BODY_BYTES} bytes`);
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('answers a generic 500 when DynamoDB fails, with no error text or stack', async () => {
    ddb.on(PutCommand).rejects(new Error('ProvisionedThroughputExceeded: secret table detail'));
    const event = loadEvent('links-create');

    const result = await handler(event, context);

    expectGenericServerError(result, event.requestContext.requestId, 'secret table detail');
  });

  it('never writes the API key value to the logs', async () => {
    ddb.on(PutCommand).resolvesOnce({}).rejects(new Error('boom'));
    logger.setLogLevel('DEBUG');
    const event = loadEvent('links-create');

    const output = await captureOutput(async () => {
      await handler(event, context);
      await handler(event, context);
    });
    logger.setLogLevel('SILENT');

    expect(output).toContain('Request handled');
    expect(output).toContain('Unhandled error');
    expect(output).not.toContain(API_KEY_VALUE);
  });
});

describe('GET /links', () => {
  it("lists the caller's links with the requested limit", async () => {
    ddb.on(QueryCommand).resolves({ Items: [storedLink] });
    const event = loadEvent('links-list');

    const result = await handler(event, context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ items: [publicLink] });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: RESOURCES_TABLE,
      KeyConditionExpression: 'userId = :userId AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':userId': SUB, ':prefix': 'LINK#' },
      Limit: 10,
    });
  });

  it('uses a limit of 25 by default', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    const event = withQuery(loadEvent('links-list'), null);

    const result = await handler(event, context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ items: [] });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, { Limit: 25 });
  });

  it('round-trips the pagination token', async () => {
    const lastKey = { userId: SUB, sk: `LINK#${LINK_ID}` };
    ddb.on(QueryCommand).resolvesOnce({ Items: [storedLink], LastEvaluatedKey: lastKey }).resolves({ Items: [] });

    const first = await handler(withQuery(loadEvent('links-list'), { limit: '1' }), context);
    const { nextToken } = bodyOf(first);
    const second = await handler(withQuery(loadEvent('links-list'), { limit: '1', nextToken }), context);

    expect(first.statusCode).toBe(200);
    expect(nextToken).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(second.statusCode).toBe(200);
    expect(bodyOf(second)).toEqual({ items: [] });
    expect(ddb).toHaveReceivedNthSpecificCommandWith(2, QueryCommand, { ExclusiveStartKey: lastKey, Limit: 1 });
  });

  it.each([
    ['is not base64url', '!!!not-a-token!!!'],
    ['is not JSON', Buffer.from('not json').toString('base64url')],
    ['has extra fields', Buffer.from(JSON.stringify({ userId: SUB, sk: 'LINK#x', extra: 1 })).toString('base64url')],
    ['lacks the sort key', Buffer.from(JSON.stringify({ userId: SUB })).toString('base64url')],
    ['belongs to another user', encodeNextToken({ userId: OTHER_SUB, sk: `LINK#${LINK_ID}` })],
    ['comes from another list', encodeNextToken({ userId: SUB, sk: 'TAG#7445aa8a-8343-8556-915c-292cc7c2d1b4' })],
  ])('answers 400 naming nextToken when the token %s', async (_label, nextToken) => {
    const event = withQuery(loadEvent('links-list'), { nextToken: String(nextToken) });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ details: { issues: [{ field: 'nextToken' }] } });
    expect(ddb).not.toHaveReceivedCommand(QueryCommand);
  });

  it.each(['0', '101', 'abc', '1.5', '-1', ''])('answers 400 naming limit for limit=%p', async (limit) => {
    const event = withQuery(loadEvent('links-list'), { limit });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ details: { issues: [{ field: 'limit' }] } });
  });

  it('accepts limit=100', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });

    const result = await handler(withQuery(loadEvent('links-list'), { limit: '100' }), context);

    expect(result.statusCode).toBe(200);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, { Limit: 100 });
  });

  it('answers 400 naming an unknown query parameter', async () => {
    const event = withQuery(loadEvent('links-list'), { offset: '10' });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({
      message: 'Invalid query: offset: Unrecognized key: "offset"',
      details: { issues: [{ field: 'offset', message: 'Unrecognized key: "offset"' }] },
    });
  });

  it('answers a generic 500 when the query fails', async () => {
    ddb.on(QueryCommand).rejects(new Error('internal detail'));
    const event = loadEvent('links-list');

    const result = await handler(event, context);

    expectGenericServerError(result, event.requestContext.requestId, 'internal detail');
  });
});

describe('GET /links/{id}', () => {
  it("answers 200 with the caller's link, read from the caller's partition", async () => {
    ddb.on(GetCommand, { TableName: RESOURCES_TABLE }).resolves({ Item: storedLink });

    const result = await handler(loadEvent('links-get'), context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual(publicLink);
    expect(ddb).toHaveReceivedCommandWith(GetCommand, {
      TableName: RESOURCES_TABLE,
      Key: { userId: SUB, sk: `LINK#${LINK_ID}` },
    });
  });

  it('answers 404 for a missing link', async () => {
    ddb.on(GetCommand, { TableName: RESOURCES_TABLE }).resolves({});

    const result = await handler(loadEvent('links-get'), context);

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toMatchObject({ code: 'NotFound', message: `Link ${LINK_ID} not found` });
  });

  it("answers 404 for another user's link, exactly like a missing one", async () => {
    ddb.on(GetCommand, { TableName: RESOURCES_TABLE }).resolves({});
    ddb
      .on(GetCommand, { TableName: RESOURCES_TABLE, Key: { userId: OTHER_SUB, sk: `LINK#${LINK_ID}` } })
      .resolves({ Item: { ...storedLink, userId: OTHER_SUB } });
    const event = loadEvent('links-get');

    const result = await handler(event, context);

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toEqual({
      message: `Link ${LINK_ID} not found`,
      code: 'NotFound',
      requestId: event.requestContext.requestId,
    });
  });

  it('looks an upper-case id up in lower case', async () => {
    ddb.on(GetCommand, { TableName: RESOURCES_TABLE }).resolves({ Item: storedLink });

    const result = await handler(withPathId(loadEvent('links-get'), LINK_ID.toUpperCase()), context);

    expect(result.statusCode).toBe(200);
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { Key: { userId: SUB, sk: `LINK#${LINK_ID}` } });
  });

  it.each(['not-a-uuid', '123', `${LINK_ID}x`])('answers 400 naming id for id=%p', async (id) => {
    const result = await handler(withPathId(loadEvent('links-get'), id), context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ details: { issues: [{ field: 'id' }] } });
    expect(ddb).not.toHaveReceivedCommandWith(GetCommand, { TableName: RESOURCES_TABLE });
  });

  it('answers a generic 500 when the read fails', async () => {
    ddb.on(GetCommand).rejects(new Error('socket hang up'));
    const event = loadEvent('links-get');

    const result = await handler(event, context);

    expectGenericServerError(result, event.requestContext.requestId, 'socket hang up');
  });
});

describe('DELETE /links/{id}', () => {
  const TAG_A = '7445aa8a-8343-8556-915c-292cc7c2d1b4';
  const TAG_B = '11111111-2222-8333-8444-555555555555';

  it('removes the tag-links (both directions) and then the link, answering 204', async () => {
    ddb.on(QueryCommand).resolves({
      Items: [
        { tagId: TAG_A, linkId: LINK_ID },
        { tagId: TAG_B, linkId: LINK_ID },
      ],
    });
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(DeleteCommand).resolves({});

    const result = await handler(loadEvent('links-delete'), context);

    expect(result.statusCode).toBe(204);
    expect(result.body).toBe('');
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      ExpressionAttributeValues: { ':userId': SUB, ':prefix': `LINKTAG#${LINK_ID}#` },
    });
    expect(ddb).toHaveReceivedCommandWith(BatchWriteCommand, {
      RequestItems: {
        [RESOURCES_TABLE]: [
          { DeleteRequest: { Key: { userId: SUB, sk: `TAGLINK#${TAG_A}#${LINK_ID}` } } },
          { DeleteRequest: { Key: { userId: SUB, sk: `LINKTAG#${LINK_ID}#${TAG_A}` } } },
          { DeleteRequest: { Key: { userId: SUB, sk: `TAGLINK#${TAG_B}#${LINK_ID}` } } },
          { DeleteRequest: { Key: { userId: SUB, sk: `LINKTAG#${LINK_ID}#${TAG_B}` } } },
        ],
      },
    });
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, {
      TableName: RESOURCES_TABLE,
      Key: { userId: SUB, sk: `LINK#${LINK_ID}` },
      ConditionExpression: 'attribute_exists(sk)',
    });
    const order = ddb.calls().map((call) => (call.args[0] as object).constructor.name);
    expect(order).toEqual(['GetCommand' /* the caller's account */, 'QueryCommand', 'BatchWriteCommand', 'DeleteCommand']);
  });

  it('retries the tag-link deletes DynamoDB left unprocessed', async () => {
    const unprocessed = { DeleteRequest: { Key: { userId: SUB, sk: `LINKTAG#${LINK_ID}#${TAG_A}` } } };
    ddb.on(QueryCommand).resolves({ Items: [{ tagId: TAG_A, linkId: LINK_ID }] });
    ddb
      .on(BatchWriteCommand)
      .resolvesOnce({ UnprocessedItems: { [RESOURCES_TABLE]: [unprocessed] } })
      .resolves({ UnprocessedItems: {} });
    ddb.on(DeleteCommand).resolves({});

    const result = await handler(loadEvent('links-delete'), context);

    expect(result.statusCode).toBe(204);
    expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, 2);
    expect(ddb).toHaveReceivedNthSpecificCommandWith(2, BatchWriteCommand, {
      RequestItems: { [RESOURCES_TABLE]: [unprocessed] },
    });
  });

  it('follows the tag-link query across pages', async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [{ tagId: TAG_A, linkId: LINK_ID }],
        LastEvaluatedKey: { userId: SUB, sk: `LINKTAG#${LINK_ID}#${TAG_A}` },
      })
      .resolves({ Items: [{ tagId: TAG_B, linkId: LINK_ID }] });
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(DeleteCommand).resolves({});

    const result = await handler(loadEvent('links-delete'), context);

    expect(result.statusCode).toBe(204);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 2);
    expect(ddb).toHaveReceivedNthSpecificCommandWith(2, QueryCommand, {
      ExclusiveStartKey: { userId: SUB, sk: `LINKTAG#${LINK_ID}#${TAG_A}` },
    });
    expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, 2);
  });

  it('skips the batch write when the link has no tags', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(DeleteCommand).resolves({});

    const result = await handler(loadEvent('links-delete'), context);

    expect(result.statusCode).toBe(204);
    expect(ddb).not.toHaveReceivedCommand(BatchWriteCommand);
  });

  it('answers 404 when the link does not exist (or is not the caller’s)', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(DeleteCommand).rejects(conditionFailed());

    const result = await handler(loadEvent('links-delete'), context);

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toMatchObject({ code: 'NotFound', message: `Link ${LINK_ID} not found` });
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, { Key: { userId: SUB, sk: `LINK#${LINK_ID}` } });
  });

  it('answers 400 naming id for a malformed id', async () => {
    const result = await handler(withPathId(loadEvent('links-delete'), 'nope'), context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ details: { issues: [{ field: 'id' }] } });
    expect(requestsTo(ddb, RESOURCES_TABLE)).toEqual([]);
  });

  it('answers a generic 500 when the delete fails', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(DeleteCommand).rejects(new Error('throttled here'));
    const event = loadEvent('links-delete');

    const result = await handler(event, context);

    expectGenericServerError(result, event.requestContext.requestId, 'throttled here');
  });
});

describe('routing', () => {
  it('answers 404 JSON for a route this function does not serve', async () => {
    const event = { ...loadEvent('links-get'), httpMethod: 'PUT' };

    const result = await handler(event, context);

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toMatchObject({ code: 'NotFound', message: 'No route for PUT /links/{id}' });
  });

  it('serves exactly the routes of the template', () => {
    const routes = linksRoutes({ idTokens: {} } as never);

    expect(Object.keys(routes).sort()).toEqual(['DELETE /links/{id}', 'GET /links', 'GET /links/{id}', 'POST /links']);
  });
});

describe('links domain (with fake stores)', () => {
  const fakeStores = () => {
    const saved: Link[] = [];
    const links: LinkStore = {
      createLink: async (_userId, link) => {
        saved.push(link);
      },
      getLink: async () => undefined,
      getLinks: async () => [],
      listLinks: async () => ({ items: [] }),
      deleteLink: jest.fn(async () => true),
    };
    const tagLinks: TagLinkStore = {
      linkTag: async (_userId, tagLink) => ({ created: true, tagLink }),
      listTagLinks: async () => ({ items: [] }),
      unlinkTag: async () => undefined,
      unlinkLink: jest.fn(async () => undefined),
    };
    return { saved, links, tagLinks };
  };

  it('createLink uses the injected id and clock', async () => {
    const { saved, links, tagLinks } = fakeStores();
    const deps = { links, tagLinks, newId: () => LINK_ID, now: () => new Date('2025-01-02T03:04:05.000Z') };

    const link = await createLink(deps, SUB, { url: 'https://example.com' });

    expect(link).toEqual({ id: LINK_ID, url: 'https://example.com', createdAt: '2025-01-02T03:04:05.000Z' });
    expect(saved).toEqual([link]);
  });

  it('deleteLink unlinks the tags before deleting the link', async () => {
    const { links, tagLinks } = fakeStores();
    const calls: string[] = [];
    (tagLinks.unlinkLink as jest.Mock).mockImplementation(async () => calls.push('unlink'));
    (links.deleteLink as jest.Mock).mockImplementation(async () => calls.push('delete') > 0);

    await deleteLink({ links, tagLinks }, SUB, LINK_ID);

    expect(calls).toEqual(['unlink', 'delete']);
  });
});
