import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import type { PlanAccount } from '#shared/accounts';

/** The example user of every fixture in events/. */
export const SUB = '0f9c6c1e-7c2a-4a39-9d0b-1f6f2f6b0a11';
export const EMAIL = 'ada@example.com';
export const API_KEY_ID = 'a1b2c3d4e5';
/** The placeholder key value the fixtures carry in `x-api-key` and `identity.apiKey`: must never reach a log. */
export const API_KEY_VALUE = 'EXAMPLE-KEY-VALUE';
export const OTHER_SUB = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';

/** The example user's ACTIVE account on the free plan, as the onboarding workflow leaves it. */
export const ACTIVE_ACCOUNT: PlanAccount = {
  userId: SUB,
  email: EMAIL,
  apiKeyId: API_KEY_ID,
  plan: 'free',
  status: 'ACTIVE',
  createdAt: '2025-11-01T10:00:00.000Z',
  updatedAt: '2025-11-01T10:00:05.000Z',
  activatedAt: '2025-11-01T10:00:05.000Z',
  version: 3,
};

export type DocumentClientMock = AwsClientStub<DynamoDBDocumentClient>;
export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

const eventsDir = join(__dirname, '..', '..', '..', 'events');

/** The ID token claims of the example user: what the data fixtures' placeholder token stands for in unit tests. */
export const EXAMPLE_CLAIMS: Record<string, string> = {
  sub: SUB,
  email_verified: 'true',
  'cognito:username': SUB,
  token_use: 'id',
  email: EMAIL,
  'custom:apiid': API_KEY_ID,
};

/**
 * A fresh copy of events/<name>.json (the same files `sam local invoke -e` uses). A data fixture (links, tags,
 * taglinks) carries a placeholder ID token and the KeyAuthorizer's output as AWS sends it; here its authorizer also
 * gets the example user's claims (EXAMPLE_CLAIMS), which `viaIdToken` signs into a real token and then drops.
 */
export function loadEvent<T = APIGatewayProxyEvent>(name: string): T {
  const event = JSON.parse(readFileSync(join(eventsDir, `${name}.json`), 'utf8')) as APIGatewayProxyEvent;
  const authorization = event.headers?.Authorization;
  if (authorization?.startsWith('PLACEHOLDER-ID-TOKEN') && event.requestContext.authorizer) {
    event.requestContext.authorizer = { ...event.requestContext.authorizer, claims: { ...EXAMPLE_CLAIMS } };
  }
  return event as T;
}

export const context: Context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'tollgate-unit',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:tollgate-unit',
  memoryLimitInMB: '256',
  awsRequestId: 'b1c2d3e4-0000-4000-8000-000000000001',
  logGroupName: '/aws/lambda/tollgate-unit',
  logStreamName: '2025/11/23/[$LATEST]0123456789abcdef',
  getRemainingTimeInMillis: () => 10_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test bodies are inspected field by field
export type Body = Record<string, any>;

export function bodyOf(result: APIGatewayProxyResult): Body {
  return JSON.parse(result.body) as Body;
}

/** Claims of the Cognito authorizer on a fixture, replaced or removed (`undefined` removes a claim). */
export function withClaims(event: APIGatewayProxyEvent, changes: Record<string, string | undefined>): APIGatewayProxyEvent {
  const claims = { ...(event.requestContext.authorizer?.claims as Record<string, string>) };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete claims[name];
    else claims[name] = value;
  }
  return { ...event, requestContext: { ...event.requestContext, authorizer: { claims } } };
}

export function withoutAuthorizer(event: APIGatewayProxyEvent): APIGatewayProxyEvent {
  const { authorizer: _authorizer, ...requestContext } = event.requestContext;
  return { ...event, requestContext: requestContext as APIGatewayProxyEvent['requestContext'] };
}

export function withApiKeyId(event: APIGatewayProxyEvent, apiKeyId: string | null): APIGatewayProxyEvent {
  return {
    ...event,
    requestContext: { ...event.requestContext, identity: { ...event.requestContext.identity, apiKeyId } },
  };
}

export function withBody(event: APIGatewayProxyEvent, body: unknown): APIGatewayProxyEvent {
  return { ...event, body: typeof body === 'string' ? body : JSON.stringify(body), isBase64Encoded: false };
}

export function withQuery(event: APIGatewayProxyEvent, query: Record<string, string> | null): APIGatewayProxyEvent {
  return {
    ...event,
    queryStringParameters: query,
    multiValueQueryStringParameters: query
      ? Object.fromEntries(Object.entries(query).map(([name, value]) => [name, [value]]))
      : null,
  };
}

export function withPathId(event: APIGatewayProxyEvent, id: string): APIGatewayProxyEvent {
  return { ...event, pathParameters: { ...event.pathParameters, id } };
}

/** Every DynamoDB request the mock received, as JSON (to assert that a table was or was not touched). */
export function requestsTo(ddb: DocumentClientMock, tableName: string): unknown[] {
  return ddb
    .calls()
    .map((call) => (call.args[0] as { input: unknown }).input)
    .filter((input) => JSON.stringify(input).includes(`"${tableName}"`));
}

/** Captures what the process writes to stdout and stderr (the Powertools logger's destination) while `fn` runs. */
export async function captureOutput(fn: () => Promise<unknown>): Promise<string> {
  const chunks: string[] = [];
  const record = (chunk: unknown): boolean => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  const out = jest.spyOn(process.stdout, 'write').mockImplementation(record);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(record);
  try {
    await fn();
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return chunks.join('');
}

/** A 500 from the shared HTTP layer: generic message, no error text, no stack. */
export function expectGenericServerError(result: APIGatewayProxyResult, requestId: string, secret: string): void {
  expect(result.statusCode).toBe(500);
  expect(bodyOf(result)).toEqual({ message: 'Internal server error', code: 'InternalError', requestId });
  expect(result.body).not.toContain(secret);
  expect(result.body).not.toMatch(/stack|\bat .+\(.+:\d+:\d+\)/i);
}

/**
 * The caller checks every protected route makes before touching its data: 401 without claims, 403 without an API
 * key id, 403 when the key is not the caller's (per the token's claim, or per the account record).
 */
export function describeCallerChecks(
  handler: ApiHandler,
  ddb: DocumentClientMock,
  tables: { accounts: string; resources?: string },
  fixtures: readonly string[],
): void {
  describe.each(fixtures)('caller checks (%s)', (fixture) => {
    const expectNoDataAccess = (): void => {
      if (tables.resources) expect(requestsTo(ddb, tables.resources)).toEqual([]);
    };

    it('answers 401 when the authorizer passed no claims', async () => {
      const event = withoutAuthorizer(loadEvent(fixture));

      const result = await handler(event, context);

      expect(result.statusCode).toBe(401);
      expect(bodyOf(result)).toMatchObject({ code: 'Unauthorized', requestId: event.requestContext.requestId });
      expect(ddb.calls()).toHaveLength(0);
    });

    it('answers 401 when the claims carry no sub', async () => {
      const event = withClaims(loadEvent(fixture), { sub: undefined });

      const result = await handler(event, context);

      expect(result.statusCode).toBe(401);
      expect(ddb.calls()).toHaveLength(0);
    });

    it('answers 403 when the request has no API key id', async () => {
      const event = withApiKeyId(loadEvent(fixture), null);

      const result = await handler(event, context);

      expect(result.statusCode).toBe(403);
      expect(bodyOf(result)).toMatchObject({ code: 'Forbidden', message: 'An API key is required' });
      expect(ddb.calls()).toHaveLength(0);
    });

    it("answers 403 when the key is not the one in the token's custom:apiid (and not the account's)", async () => {
      ddb.on(GetCommand, { TableName: tables.accounts }).resolves({
        Item: { userId: SUB, apiKeyId: API_KEY_ID, status: 'ACTIVE' },
      });
      const event = withApiKeyId(loadEvent(fixture), 'someone-elses-key');

      const result = await handler(event, context);

      expect(result.statusCode).toBe(403);
      expect(bodyOf(result)).toMatchObject({ message: 'The API key does not belong to the signed-in user' });
      expectNoDataAccess();
    });

    it('answers 403 when the token has no custom:apiid and the account holds another key', async () => {
      ddb.on(GetCommand, { TableName: tables.accounts, Key: { userId: SUB } }).resolves({
        Item: { userId: SUB, apiKeyId: 'another-key', status: 'ACTIVE' },
      });
      const event = withClaims(loadEvent(fixture), { 'custom:apiid': undefined });

      const result = await handler(event, context);

      expect(result.statusCode).toBe(403);
      expect(bodyOf(result)).toMatchObject({ code: 'Forbidden' });
      expect(requestsTo(ddb, tables.accounts)).toHaveLength(1);
      expectNoDataAccess();
    });

    it('answers 403 when the token has no custom:apiid and there is no account yet', async () => {
      ddb.on(GetCommand, { TableName: tables.accounts }).resolves({});
      const event = withClaims(loadEvent(fixture), { 'custom:apiid': undefined });

      const result = await handler(event, context);

      expect(result.statusCode).toBe(403);
      expectNoDataAccess();
    });
  });
}

/**
 * The caller checks of account management (the /me* routes, `ApiKeyRequired: false` in the template): 401 without
 * claims or sub; no API key needed, and the answer is the same whatever key id the request carries (none, the
 * caller's own, someone else's): the routes act on the token's `sub` alone, and read no other user's account.
 */
export function describeTokenOnlyChecks(
  handler: ApiHandler,
  ddb: DocumentClientMock,
  tables: { accounts: string },
  fixtures: readonly string[],
): void {
  describe.each(fixtures)('token-only caller checks (%s)', (fixture) => {
    it('answers 401 when the authorizer passed no claims, or claims without sub', async () => {
      const answers = [
        await handler(withoutAuthorizer(loadEvent(fixture)), context),
        await handler(withClaims(loadEvent(fixture), { sub: undefined }), context),
      ];

      expect(answers.map((r) => r.statusCode)).toEqual([401, 401]);
      expect(ddb.calls()).toHaveLength(0);
    });

    it('needs no API key, and answers the same whatever key id the request carries', async () => {
      ddb.on(GetCommand, { TableName: tables.accounts }).resolves({ Item: { ...ACTIVE_ACCOUNT } });
      const answers: { keyId: string | null; statusCode: number; code: unknown }[] = [];
      for (const keyId of [API_KEY_ID, null, 'someone-elses-key']) {
        const result = await handler(withApiKeyId(loadEvent(fixture), keyId), context);
        answers.push({ keyId, statusCode: result.statusCode, code: (bodyOf(result) as { code?: unknown }).code });
      }

      const own = answers[0]!;
      expect([401, 403]).not.toContain(own.statusCode);
      expect(answers).toEqual([own, { ...own, keyId: null }, { ...own, keyId: 'someone-elses-key' }]);
      const accountKeys = requestsTo(ddb, tables.accounts).map((input) => (input as { Key?: { userId?: string } }).Key?.userId);
      for (const userId of accountKeys) expect(userId).toBe(SUB);
    });
  });
}
