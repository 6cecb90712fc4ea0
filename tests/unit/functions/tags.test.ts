// Over 400 lines: one function's tag and taglink routes with their validation, ownership and pagination cases.
import { ACCOUNTS_TABLE, RESOURCES_TABLE } from './env.ts';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
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
import { encodeNextToken } from '#shared/pagination';
import { handler as rawHandler, tagsRoutes } from '../../../functions/tags/handler.ts';
import { serveJwks, viaIdToken } from './id-tokens.ts';
import { tagIdFor } from '../../../functions/tags/domain.ts';
import {
  OTHER_SUB,
  SUB,
  ACTIVE_ACCOUNT,
  bodyOf,
  context,
  describeCallerChecks,
  expectGenericServerError,
  loadEvent,
  requestsTo,
  withBody,
  withPathId,
  withQuery,
} from './helpers.ts';

const ddb = mockClient(DynamoDBDocumentClient);
// The data API verifies the ID token itself: the fixtures' claims arrive as a token signed by the pool's (local) key
// (served again before each test: the file restores every mock after each).
const handler = viaIdToken(rawHandler);

const TAG_ID = tagIdFor('reading');
const LINK_ID = '3b5d8f6e-2c1a-4e7b-9f0d-8a6c4e2b1d9f';
const LINK_2 = '5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f';
const LINK_3 = '6d7e8f9a-0b1c-4d2e-9f3a-4b5c6d7e8f9a';
const CREATED = '2025-11-23T13:00:00.000Z';
const storedTag = { userId: SUB, sk: `TAG#${TAG_ID}`, id: TAG_ID, name: 'reading', createdAt: CREATED };
const publicTag = { id: TAG_ID, name: 'reading', createdAt: CREATED };
const storedLink = (id: string) => ({
  userId: SUB,
  sk: `LINK#${id}`,
  id,
  url: `https://example.com/${id}`,
  createdAt: CREATED,
});
const publicLink = (id: string) => ({ id, url: `https://example.com/${id}`, createdAt: CREATED });
const tagLinkItem = (linkId: string) => ({
  userId: SUB,
  sk: `TAGLINK#${TAG_ID}#${linkId}`,
  tagId: TAG_ID,
  linkId,
  createdAt: CREATED,
});
const conditionFailed = (): ConditionalCheckFailedException =>
  new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });

/** The caller's tag and link exist (reads of the resources table by key). */
function givenTagAndLink(tag = true, link = true): void {
  ddb.on(GetCommand, { TableName: RESOURCES_TABLE }).resolves({});
  if (tag) ddb.on(GetCommand, { Key: { userId: SUB, sk: `TAG#${TAG_ID}` } }).resolves({ Item: storedTag });
  if (link) ddb.on(GetCommand, { Key: { userId: SUB, sk: `LINK#${LINK_ID}` } }).resolves({ Item: storedLink(LINK_ID) });
}

beforeEach(() => {
  serveJwks();
  ddb.reset();
  clearAccountCaches(); // each test a fresh Lambda environment's account cache (CachedAccounts)
  // the caller's account, which assertOwnKey reads: the fixtures' key is its current key
  ddb.on(GetCommand, { TableName: ACCOUNTS_TABLE, Key: { userId: SUB } }).resolves({ Item: ACTIVE_ACCOUNT });
});

afterEach(() => {
  jest.restoreAllMocks();
});

describeCallerChecks(handler, ddb, { accounts: ACCOUNTS_TABLE, resources: RESOURCES_TABLE }, [
  'tags-create',
  'tags-list',
  'tags-get',
  'tags-delete',
  'taglinks-create',
  'tags-links-list',
]);

describe('tag ids', () => {
  it('are UUID-shaped and the same for names that differ only in case', () => {
    expect(tagIdFor('Reading')).toBe(tagIdFor('reading'));
    expect(tagIdFor('READING')).toBe(TAG_ID);
    expect(TAG_ID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('differ for different names', () => {
    expect(tagIdFor('reading')).not.toBe(tagIdFor('writing'));
  });
});

describe('POST /tags', () => {
  it('creates the tag with its name-derived id, conditionally, and answers 201', async () => {
    ddb.on(PutCommand).resolves({});

    const result = await handler(loadEvent('tags-create'), context);

    expect(result.statusCode).toBe(201);
    const body = bodyOf(result);
    expect(body).toEqual({ id: TAG_ID, name: 'reading', createdAt: expect.any(String) });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: RESOURCES_TABLE,
      Item: { userId: SUB, sk: `TAG#${TAG_ID}`, id: TAG_ID, name: 'reading', createdAt: body.createdAt },
      ConditionExpression: 'attribute_not_exists(sk)',
    });
  });

  it('trims the name and keeps its case', async () => {
    ddb.on(PutCommand).resolves({});
    const event = withBody(loadEvent('tags-create'), { name: '  Reading List \u00e9  ' });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(201);
    expect(bodyOf(result)).toMatchObject({ name: 'Reading List \u00e9', id: tagIdFor('reading list \u00e9') });
  });

  it('answers 409 with the existing id when the name is taken (in any case)', async () => {
    ddb.on(PutCommand).rejects(conditionFailed());
    const event = withBody(loadEvent('tags-create'), { name: 'READING' });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result)).toEqual({
      message: 'A tag named "READING" already exists (names are case-insensitive)',
      code: 'Conflict',
      details: { field: 'name', id: TAG_ID },
      requestId: event.requestContext.requestId,
    });
  });

  it.each([
    ['empty', ''],
    ['only spaces', '   '],
    ['longer than 50 characters', 'n'.repeat(51)],
    ['with a control character', 'bad\u0007name'],
    ['with a newline', 'two\nlines'],
    ['not a string', 7],
    ['missing', undefined],
  ])('answers 400 naming name when it is %s', async (_label, name) => {
    const event = withBody(loadEvent('tags-create'), name === undefined ? {} : { name });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ code: 'BadRequest', details: { issues: [{ field: 'name' }] } });
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('accepts a name of 50 characters (after trimming)', async () => {
    ddb.on(PutCommand).resolves({});

    const result = await handler(withBody(loadEvent('tags-create'), { name: ` ${'n'.repeat(50)} ` }), context);

    expect(result.statusCode).toBe(201);
  });

  it('answers 400 naming an unknown field', async () => {
    const result = await handler(withBody(loadEvent('tags-create'), { name: 'ok', color: 'red' }), context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({
      message: 'Invalid body: color: Unrecognized key: "color"',
      details: { issues: [{ field: 'color', message: 'Unrecognized key: "color"' }] },
    });
  });

  it('answers 400 for a body that is not JSON', async () => {
    const result = await handler(withBody(loadEvent('tags-create'), 'name=reading'), context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).message).toBe('Request body is not valid JSON');
  });

  it('decodes a base64-encoded body', async () => {
    ddb.on(PutCommand).resolves({});
    const event = { ...loadEvent('tags-create'), body: Buffer.from('{"name":"reading"}').toString('base64'), isBase64Encoded: true };

    const result = await handler(event, context);

    expect(result.statusCode).toBe(201);
    expect(bodyOf(result)).toMatchObject({ id: TAG_ID });
  });

  it('answers 400 for an oversized body', async () => {
    const event = withBody(loadEvent('tags-create'), JSON.stringify({ name: 'x'.repeat(20_000) }));

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).message).toMatch(/larger than \d+ bytes/);
  });

  it('answers a generic 500 when the write fails for another reason', async () => {
    ddb.on(PutCommand).rejects(new Error('ValidationException: item size detail'));
    const event = loadEvent('tags-create');

    const result = await handler(event, context);

    expectGenericServerError(result, event.requestContext.requestId, 'item size detail');
  });
});

describe('GET /tags', () => {
  it("lists the caller's tags", async () => {
    ddb.on(QueryCommand).resolves({ Items: [storedTag] });

    const result = await handler(loadEvent('tags-list'), context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ items: [publicTag] });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: RESOURCES_TABLE,
      ExpressionAttributeValues: { ':userId': SUB, ':prefix': 'TAG#' },
      Limit: 25,
    });
  });

  it('round-trips the pagination token', async () => {
    const lastKey = { userId: SUB, sk: `TAG#${TAG_ID}` };
    ddb.on(QueryCommand).resolvesOnce({ Items: [storedTag], LastEvaluatedKey: lastKey }).resolves({ Items: [] });

    const first = await handler(withQuery(loadEvent('tags-list'), { limit: '1' }), context);
    const second = await handler(withQuery(loadEvent('tags-list'), { nextToken: bodyOf(first).nextToken }), context);

    expect(bodyOf(first)).toEqual({ items: [publicTag], nextToken: expect.any(String) });
    expect(second.statusCode).toBe(200);
    expect(ddb).toHaveReceivedNthSpecificCommandWith(2, QueryCommand, { ExclusiveStartKey: lastKey, Limit: 25 });
  });

  it.each([
    ['garbage', 'garbage'],
    ['a links token', encodeNextToken({ userId: SUB, sk: `LINK#${LINK_ID}` })],
    ["another user's token", encodeNextToken({ userId: OTHER_SUB, sk: `TAG#${TAG_ID}` })],
  ])('answers 400 naming nextToken for %s', async (_label, nextToken) => {
    const result = await handler(withQuery(loadEvent('tags-list'), { nextToken: String(nextToken) }), context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ details: { issues: [{ field: 'nextToken' }] } });
  });

  it('answers 400 naming limit when it is out of range', async () => {
    const result = await handler(withQuery(loadEvent('tags-list'), { limit: '500' }), context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ details: { issues: [{ field: 'limit' }] } });
  });
});

describe('GET /tags/{id}', () => {
  it("answers 200 with the caller's tag", async () => {
    ddb.on(GetCommand, { TableName: RESOURCES_TABLE, Key: { userId: SUB, sk: `TAG#${TAG_ID}` } }).resolves({
      Item: storedTag,
    });

    const result = await handler(loadEvent('tags-get'), context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual(publicTag);
  });

  it("answers 404 for a missing tag and for another user's tag alike", async () => {
    ddb.on(GetCommand, { TableName: RESOURCES_TABLE }).resolves({});
    ddb
      .on(GetCommand, { TableName: RESOURCES_TABLE, Key: { userId: OTHER_SUB, sk: `TAG#${TAG_ID}` } })
      .resolves({ Item: { ...storedTag, userId: OTHER_SUB } });

    const result = await handler(loadEvent('tags-get'), context);

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toMatchObject({ code: 'NotFound', message: `Tag ${TAG_ID} not found` });
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { Key: { userId: SUB, sk: `TAG#${TAG_ID}` } });
  });

  it('answers 400 naming id for a malformed id', async () => {
    const result = await handler(withPathId(loadEvent('tags-get'), 'reading'), context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ details: { issues: [{ field: 'id' }] } });
  });
});

describe('DELETE /tags/{id}', () => {
  it('removes the tag-links (both directions) and then the tag, answering 204', async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ tagId: TAG_ID, linkId: LINK_ID }] });
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(DeleteCommand).resolves({});

    const result = await handler(loadEvent('tags-delete'), context);

    expect(result.statusCode).toBe(204);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      ExpressionAttributeValues: { ':userId': SUB, ':prefix': `TAGLINK#${TAG_ID}#` },
      ConsistentRead: true,
    });
    expect(ddb).toHaveReceivedCommandWith(BatchWriteCommand, {
      RequestItems: {
        [RESOURCES_TABLE]: [
          { DeleteRequest: { Key: { userId: SUB, sk: `TAGLINK#${TAG_ID}#${LINK_ID}` } } },
          { DeleteRequest: { Key: { userId: SUB, sk: `LINKTAG#${LINK_ID}#${TAG_ID}` } } },
        ],
      },
    });
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, {
      Key: { userId: SUB, sk: `TAG#${TAG_ID}` },
      ConditionExpression: 'attribute_exists(sk)',
    });
  });

  it('deletes tag-links in batches of 25 requests', async () => {
    const linkIds = Array.from({ length: 20 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    ddb.on(QueryCommand).resolves({ Items: linkIds.map((linkId) => ({ tagId: TAG_ID, linkId })) });
    ddb.on(BatchWriteCommand).resolves({});
    ddb.on(DeleteCommand).resolves({});

    const result = await handler(loadEvent('tags-delete'), context);

    expect(result.statusCode).toBe(204);
    const sizes = ddb
      .commandCalls(BatchWriteCommand)
      .map((call) => call.args[0].input.RequestItems?.[RESOURCES_TABLE]?.length);
    expect(sizes).toEqual([25, 15]);
  });

  it('answers 404 when there is no such tag', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(DeleteCommand).rejects(conditionFailed());

    const result = await handler(loadEvent('tags-delete'), context);

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toMatchObject({ message: `Tag ${TAG_ID} not found` });
  });

  it('answers a generic 500 when unprocessed deletes never drain', async () => {
    const unprocessed = { DeleteRequest: { Key: { userId: SUB, sk: `TAGLINK#${TAG_ID}#${LINK_ID}` } } };
    ddb.on(QueryCommand).resolves({ Items: [{ tagId: TAG_ID, linkId: LINK_ID }] });
    ddb.on(BatchWriteCommand).resolves({ UnprocessedItems: { [RESOURCES_TABLE]: [unprocessed] } });
    const event = loadEvent('tags-delete');
    jest.spyOn(Math, 'random').mockReturnValue(0);

    const result = await handler(event, context);

    expectGenericServerError(result, event.requestContext.requestId, 'unprocessed');
    expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, 6);
    expect(ddb).not.toHaveReceivedCommand(DeleteCommand);
  }, 10_000);

  it('answers 400 naming id for a malformed id', async () => {
    const result = await handler(withPathId(loadEvent('tags-delete'), ''), context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ details: { issues: [{ field: 'id' }] } });
  });
});

describe('POST /taglinks', () => {
  it('links an existing tag and link in both directions and answers 201', async () => {
    givenTagAndLink();
    ddb.on(PutCommand).resolves({});

    const result = await handler(loadEvent('taglinks-create'), context);

    expect(result.statusCode).toBe(201);
    const body = bodyOf(result);
    expect(body).toEqual({ tagId: TAG_ID, linkId: LINK_ID, createdAt: expect.any(String) });
    expect(ddb).toHaveReceivedNthSpecificCommandWith(1, PutCommand, {
      Item: { userId: SUB, sk: `TAGLINK#${TAG_ID}#${LINK_ID}`, tagId: TAG_ID, linkId: LINK_ID, createdAt: body.createdAt },
      ConditionExpression: 'attribute_not_exists(sk)',
    });
    expect(ddb).toHaveReceivedNthSpecificCommandWith(2, PutCommand, {
      Item: { userId: SUB, sk: `LINKTAG#${LINK_ID}#${TAG_ID}`, tagId: TAG_ID, linkId: LINK_ID, createdAt: body.createdAt },
    });
  });

  it('answers 200 with the existing tag-link when it already exists, and repairs the reverse entry', async () => {
    givenTagAndLink();
    ddb.on(GetCommand, { Key: { userId: SUB, sk: `TAGLINK#${TAG_ID}#${LINK_ID}` } }).resolves({
      Item: tagLinkItem(LINK_ID),
    });
    ddb
      .on(PutCommand, { Item: { sk: `TAGLINK#${TAG_ID}#${LINK_ID}` } })
      .rejects(conditionFailed())
      .on(PutCommand, { Item: { sk: `LINKTAG#${LINK_ID}#${TAG_ID}` } })
      .resolves({});

    const result = await handler(loadEvent('taglinks-create'), context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ tagId: TAG_ID, linkId: LINK_ID, createdAt: CREATED });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      Item: expect.objectContaining({ sk: `LINKTAG#${LINK_ID}#${TAG_ID}`, createdAt: CREATED }),
    });
  });

  it('answers 200 when both entries already exist', async () => {
    givenTagAndLink();
    ddb.on(GetCommand, { Key: { userId: SUB, sk: `TAGLINK#${TAG_ID}#${LINK_ID}` } }).resolves({
      Item: tagLinkItem(LINK_ID),
    });
    ddb.on(PutCommand).rejects(conditionFailed());

    const result = await handler(loadEvent('taglinks-create'), context);

    expect(result.statusCode).toBe(200);
  });

  it('answers 404 naming the tag when the tag is missing, and writes nothing', async () => {
    givenTagAndLink(false, true);

    const result = await handler(loadEvent('taglinks-create'), context);

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toMatchObject({ code: 'NotFound', message: `Tag ${TAG_ID} not found` });
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('answers 404 naming the link when the link is missing', async () => {
    givenTagAndLink(true, false);

    const result = await handler(loadEvent('taglinks-create'), context);

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toMatchObject({ message: `Link ${LINK_ID} not found` });
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('answers 404 naming both when both are missing', async () => {
    givenTagAndLink(false, false);

    const result = await handler(loadEvent('taglinks-create'), context);

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result).message).toBe(`Tag ${TAG_ID} and link ${LINK_ID} not found`);
  });

  it("answers 404 for another user's link", async () => {
    givenTagAndLink(true, false);
    ddb.on(GetCommand, { Key: { userId: OTHER_SUB, sk: `LINK#${LINK_ID}` } }).resolves({ Item: storedLink(LINK_ID) });

    const result = await handler(loadEvent('taglinks-create'), context);

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result).message).toBe(`Link ${LINK_ID} not found`);
  });

  it.each([
    ['tagId', { tagId: 'reading', linkId: LINK_ID }],
    ['linkId', { tagId: TAG_ID, linkId: 42 }],
    ['linkId', { tagId: TAG_ID }],
  ])('answers 400 naming %s', async (field, body) => {
    const result = await handler(withBody(loadEvent('taglinks-create'), body), context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ details: { issues: [{ field }] } });
    expect(requestsTo(ddb, RESOURCES_TABLE)).toEqual([]);
  });

  it('answers 400 naming an unknown field', async () => {
    const result = await handler(withBody(loadEvent('taglinks-create'), { tagId: TAG_ID, linkId: LINK_ID, x: 1 }), context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).message).toContain('"x"');
    expect(bodyOf(result).details.issues).toEqual([{ field: 'x', message: 'Unrecognized key: "x"' }]);
  });

  it('answers a generic 500 when a read fails', async () => {
    ddb.on(GetCommand).rejects(new Error('connection reset detail'));
    const event = loadEvent('taglinks-create');

    const result = await handler(event, context);

    expectGenericServerError(result, event.requestContext.requestId, 'connection reset detail');
  });
});

describe('GET /tags/{id}/links', () => {
  it('answers 404 when the tag does not exist', async () => {
    ddb.on(GetCommand, { TableName: RESOURCES_TABLE }).resolves({});

    const result = await handler(loadEvent('tags-links-list'), context);

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toMatchObject({ message: `Tag ${TAG_ID} not found` });
    expect(ddb).not.toHaveReceivedCommand(QueryCommand);
  });

  it('answers the linked links in tag-link order, read with one BatchGet', async () => {
    givenTagAndLink(true, false);
    ddb.on(QueryCommand).resolves({ Items: [tagLinkItem(LINK_2), tagLinkItem(LINK_ID)] });
    ddb.on(BatchGetCommand).resolves({ Responses: { [RESOURCES_TABLE]: [storedLink(LINK_ID), storedLink(LINK_2)] } });

    const result = await handler(loadEvent('tags-links-list'), context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ items: [publicLink(LINK_2), publicLink(LINK_ID)] });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      ExpressionAttributeValues: { ':userId': SUB, ':prefix': `TAGLINK#${TAG_ID}#` },
      Limit: 25,
    });
    expect(ddb).toHaveReceivedCommandWith(BatchGetCommand, {
      RequestItems: {
        [RESOURCES_TABLE]: {
          Keys: [
            { userId: SUB, sk: `LINK#${LINK_2}` },
            { userId: SUB, sk: `LINK#${LINK_ID}` },
          ],
          ConsistentRead: true,
        },
      },
    });
  });

  it('asks again for the keys DynamoDB left unprocessed', async () => {
    givenTagAndLink(true, false);
    ddb.on(QueryCommand).resolves({ Items: [tagLinkItem(LINK_ID), tagLinkItem(LINK_2), tagLinkItem(LINK_3)] });
    const unprocessed = { [RESOURCES_TABLE]: { Keys: [{ userId: SUB, sk: `LINK#${LINK_3}` }], ConsistentRead: true } };
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { [RESOURCES_TABLE]: [storedLink(LINK_ID), storedLink(LINK_2)] },
        UnprocessedKeys: unprocessed,
      })
      .resolves({ Responses: { [RESOURCES_TABLE]: [storedLink(LINK_3)] }, UnprocessedKeys: {} });

    const result = await handler(loadEvent('tags-links-list'), context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result).items.map((l: { id: string }) => l.id)).toEqual([LINK_ID, LINK_2, LINK_3]);
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 2);
    expect(ddb).toHaveReceivedNthSpecificCommandWith(2, BatchGetCommand, { RequestItems: unprocessed });
  });

  it('skips a tag-link whose link is gone', async () => {
    givenTagAndLink(true, false);
    ddb.on(QueryCommand).resolves({ Items: [tagLinkItem(LINK_ID), tagLinkItem(LINK_2)] });
    ddb.on(BatchGetCommand).resolves({ Responses: { [RESOURCES_TABLE]: [storedLink(LINK_2)] } });

    const result = await handler(loadEvent('tags-links-list'), context);

    expect(bodyOf(result)).toEqual({ items: [publicLink(LINK_2)] });
  });

  it('does not call BatchGet for an empty page', async () => {
    givenTagAndLink(true, false);
    ddb.on(QueryCommand).resolves({ Items: [] });

    const result = await handler(loadEvent('tags-links-list'), context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ items: [] });
    expect(ddb).not.toHaveReceivedCommand(BatchGetCommand);
  });

  it('round-trips the pagination token', async () => {
    givenTagAndLink(true, false);
    const lastKey = { userId: SUB, sk: `TAGLINK#${TAG_ID}#${LINK_ID}` };
    ddb.on(QueryCommand).resolvesOnce({ Items: [tagLinkItem(LINK_ID)], LastEvaluatedKey: lastKey }).resolves({ Items: [] });
    ddb.on(BatchGetCommand).resolves({ Responses: { [RESOURCES_TABLE]: [storedLink(LINK_ID)] } });

    const first = await handler(withQuery(loadEvent('tags-links-list'), { limit: '1' }), context);
    const { nextToken } = bodyOf(first);
    const second = await handler(withQuery(loadEvent('tags-links-list'), { limit: '1', nextToken }), context);

    expect(bodyOf(first)).toEqual({ items: [publicLink(LINK_ID)], nextToken: expect.any(String) });
    expect(bodyOf(second)).toEqual({ items: [] });
    expect(ddb).toHaveReceivedNthSpecificCommandWith(2, QueryCommand, { ExclusiveStartKey: lastKey });
  });

  it("answers 400 for a token from another tag's list", async () => {
    const otherTag = tagIdFor('writing');
    const nextToken = encodeNextToken({ userId: SUB, sk: `TAGLINK#${otherTag}#${LINK_ID}` }) ?? '';

    const result = await handler(withQuery(loadEvent('tags-links-list'), { nextToken }), context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ details: { issues: [{ field: 'nextToken' }] } });
    expect(requestsTo(ddb, RESOURCES_TABLE)).toEqual([]);
  });

  it('answers 400 naming id for a malformed id', async () => {
    const result = await handler(withPathId(loadEvent('tags-links-list'), 'x'), context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ details: { issues: [{ field: 'id' }] } });
  });

  it('answers a generic 500 when the BatchGet fails', async () => {
    givenTagAndLink(true, false);
    ddb.on(QueryCommand).resolves({ Items: [tagLinkItem(LINK_ID)] });
    ddb.on(BatchGetCommand).rejects(new Error('batch detail'));
    const event = loadEvent('tags-links-list');

    const result = await handler(event, context);

    expectGenericServerError(result, event.requestContext.requestId, 'batch detail');
  });
});

describe('routing', () => {
  it('serves exactly the routes of the template', () => {
    expect(Object.keys(tagsRoutes({ idTokens: {} } as never)).sort()).toEqual([
      'DELETE /tags/{id}',
      'GET /tags',
      'GET /tags/{id}',
      'GET /tags/{id}/links',
      'POST /taglinks',
      'POST /tags',
    ]);
  });
});
