import { ACCOUNTS_TABLE } from './env.ts';
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  DeleteUsagePlanKeyCommand,
  GetApiKeyCommand,
  GetUsageCommand,
  GetUsagePlansCommand,
  UpdateApiKeyCommand,
  UpdateUsageCommand,
} from '@aws-sdk/client-api-gateway';
import { AdminUpdateUserAttributesCommand, CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { DynamoAccountStore } from '#shared/accounts';
import { createApiHandler } from '#shared/http';
import { logger } from '#shared/logger';
import { encodeNextToken } from '#shared/pagination';
import { UsagePlanNotFoundError, planCatalog, type PlanAccount } from '#shared/plans';
import { DynamoUsageHistory } from '#shared/usage-history';
import { rotateApiKey, type AccountDeps } from '../../../functions/account/domain.ts';
import {
  API_KEY_ID,
  API_KEY_VALUE,
  OTHER_SUB,
  SUB,
  bodyOf,
  captureOutput,
  context,
  describeTokenOnlyChecks,
  expectGenericServerError,
  loadEvent,
  requestsTo,
  withQuery,
  ACTIVE_ACCOUNT,
} from './helpers.ts';

const BILLING_TABLE = 'tollgate-test-billing';
const IDEMPOTENCY_TABLE = 'tollgate-test-idempotency';
const USER_POOL_ID = 'us-east-1_EXAMPLE1';
process.env.BILLING_TABLE = BILLING_TABLE;
process.env.IDEMPOTENCY_TABLE = IDEMPOTENCY_TABLE;
process.env.USER_POOL_ID = USER_POOL_ID;
process.env.USAGE_PLAN_NAME_PREFIX = 'tollgate-';

// The handler reads these at module load: required after they are set (imports are hoisted).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const mod = require('../../../functions/account/handler.ts') as typeof import('../../../functions/account/handler.ts');
const { handler } = mod;

const ddb = mockClient(DynamoDBDocumentClient);
/** The idempotency layer's client (low-level DynamoDB). */
const idempotencyDdb = mockClient(DynamoDBClient);
const apigw = mockClient(APIGatewayClient);
const cognito = mockClient(CognitoIdentityProviderClient);

/** Sunday 23 November 2025, 13:45:10 UTC: the fixtures' request time. */
const NOW = new Date('2025-11-23T13:45:10.000Z');
const NEW_KEY_ID = 'n3wk3y0001';
const NEW_KEY_VALUE = 'NEW-KEY-VALUE-0123456789abcdefghijklmn';
const USAGE_PLANS = { free: 'up-free', basic: 'up-basic', pro: 'up-pro' };

const account: PlanAccount = ACTIVE_ACCOUNT;

function givenAccount(item: PlanAccount | undefined): void {
  ddb.on(GetCommand, { TableName: ACCOUNTS_TABLE, Key: { userId: SUB } }).resolves(item ? { Item: item } : {});
}

const awsError = (name: string, message = name): Error => Object.assign(new Error(message), { name });

function withHeaders(event: APIGatewayProxyEvent, changes: Record<string, string | undefined>): APIGatewayProxyEvent {
  const headers = { ...event.headers };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return { ...event, headers };
}

/** An in-memory idempotency table: enough of DynamoDB for Powertools' conditional put, update, get and delete. */
const records = new Map<string, Record<string, AttributeValue>>();
function fakeIdempotencyTable(): void {
  const idOf = (key: Record<string, AttributeValue> | undefined): string => key?.id?.S ?? '';
  idempotencyDdb.on(PutItemCommand).callsFake((input: { Item: Record<string, AttributeValue> }) => {
    const existing = records.get(idOf(input.Item));
    if (existing) {
      throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {}, Item: existing });
    }
    records.set(idOf(input.Item), input.Item);
    return {};
  });
  idempotencyDdb.on(UpdateItemCommand).callsFake(
    (input: {
      Key: Record<string, AttributeValue>;
      UpdateExpression: string;
      ExpressionAttributeNames: Record<string, string>;
      ExpressionAttributeValues: Record<string, AttributeValue>;
    }) => {
      const item = { ...records.get(idOf(input.Key)), ...input.Key };
      for (const assignment of input.UpdateExpression.replace(/^SET /, '').split(', ')) {
        const [name, value] = assignment.split(' = ') as [string, string];
        item[input.ExpressionAttributeNames[name]!] = input.ExpressionAttributeValues[value]!;
      }
      records.set(idOf(input.Key), item);
      return {};
    },
  );
  idempotencyDdb.on(GetItemCommand).callsFake((input: { Key: Record<string, AttributeValue> }) => ({
    Item: records.get(idOf(input.Key)),
  }));
  idempotencyDdb.on(DeleteItemCommand).callsFake((input: { Key: Record<string, AttributeValue> }) => {
    records.delete(idOf(input.Key));
    return {};
  });
}

function givenUsagePlans(): void {
  apigw.on(GetUsagePlansCommand).resolves({
    items: Object.entries(USAGE_PLANS).map(([plan, id]) => ({ id, name: `tollgate-${plan}` })),
  });
}

/** A rotation where every call succeeds; tests override the step they break. */
function givenRotationSucceeds(usage: [number, number][] = [[10, 990], [5, 985]]): void {
  givenAccount(account);
  givenUsagePlans();
  apigw.on(CreateApiKeyCommand).resolves({ id: NEW_KEY_ID, value: NEW_KEY_VALUE, name: SUB, enabled: true });
  apigw.on(CreateUsagePlanKeyCommand).resolves({ id: NEW_KEY_ID, type: 'API_KEY' });
  apigw.on(GetUsageCommand).resolves({ usagePlanId: USAGE_PLANS.free, items: { [API_KEY_ID]: usage } });
  apigw.on(UpdateUsageCommand).resolves({});
  apigw.on(UpdateApiKeyCommand).resolves({});
  apigw.on(DeleteUsagePlanKeyCommand).resolves({});
  apigw.on(DeleteApiKeyCommand).resolves({});
  apigw.on(GetApiKeyCommand, { apiKey: NEW_KEY_ID }).resolves({
    id: NEW_KEY_ID,
    value: NEW_KEY_VALUE,
    name: SUB,
    enabled: true,
    createdDate: NOW,
  });
  cognito.on(AdminUpdateUserAttributesCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
}

beforeAll(() => {
  // Only Date is faked: the SDK's and Powertools' timers run as usual.
  jest.useFakeTimers({
    now: NOW,
    doNotFake: [
      'hrtime',
      'nextTick',
      'performance',
      'queueMicrotask',
      'requestAnimationFrame',
      'cancelAnimationFrame',
      'requestIdleCallback',
      'cancelIdleCallback',
      'setImmediate',
      'clearImmediate',
      'setInterval',
      'clearInterval',
      'setTimeout',
      'clearTimeout',
    ],
  });
});

afterAll(() => {
  jest.useRealTimers();
});

beforeEach(() => {
  ddb.reset();
  idempotencyDdb.reset();
  apigw.reset();
  cognito.reset();
  records.clear();
  fakeIdempotencyTable();
  // Each case starts with cold caches, as a new execution environment does.
  mod.keyValues.clear();
  mod.usageCache.clear();
});

describeTokenOnlyChecks(handler, ddb, { accounts: ACCOUNTS_TABLE }, ['api-key-get', 'api-key-rotate', 'usage-get', 'billing-get']);

describe('GET /me/api-key', () => {
  it('needs only the ID token (no API key): the way back after a rotation whose answer was lost', async () => {
    givenAccount(account);
    apigw.on(GetApiKeyCommand).resolves({ id: API_KEY_ID, value: API_KEY_VALUE, name: SUB, enabled: true });
    const event = loadEvent('api-key-get');
    event.requestContext.identity.apiKeyId = null as unknown as string;
    event.requestContext.identity.apiKey = null as unknown as string;

    const result = await handler(event, context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toMatchObject({ id: API_KEY_ID });
  });

  it('answers 401 without the authorizer claims', async () => {
    const event = loadEvent('api-key-get');
    event.requestContext.authorizer = null as never;

    const result = await handler(event, context);

    expect(result.statusCode).toBe(401);
    expect(apigw.calls()).toHaveLength(0);
  });

  it("reads only the caller's own account, whatever key the request carries", async () => {
    givenAccount(account);
    apigw.on(GetApiKeyCommand).resolves({ id: API_KEY_ID, value: API_KEY_VALUE, enabled: true });
    const event = withQuery(loadEvent('api-key-get'), { reveal: 'true' });
    event.requestContext.identity.apiKeyId = 'someone-elses-key';

    await handler(event, context);

    expect(apigw).toHaveReceivedCommandWith(GetApiKeyCommand, { apiKey: API_KEY_ID });
  });

  it('answers metadata only by default, from the account record: no management API call, no value', async () => {
    givenAccount(account);

    const result = await handler(loadEvent('api-key-get'), context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ id: API_KEY_ID, plan: 'free' });
    expect(apigw.calls()).toHaveLength(0);
  });

  it('answers 400 naming reveal when it is not true or false', async () => {
    givenAccount(account);

    const result = await handler(withQuery(loadEvent('api-key-get'), { reveal: 'yes' }), context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).details.issues).toEqual([expect.objectContaining({ field: 'reveal' })]);
  });

  it('reveals from the environment cache: one GetApiKey for many reveals', async () => {
    givenAccount(account);
    apigw.on(GetApiKeyCommand).resolves({ id: API_KEY_ID, value: API_KEY_VALUE, enabled: true });

    for (let i = 0; i < 5; i++) {
      const result = await handler(withQuery(loadEvent('api-key-get'), { reveal: 'true' }), context);
      expect(bodyOf(result)).toEqual({ id: API_KEY_ID, plan: 'free', value: API_KEY_VALUE });
    }

    expect(apigw).toHaveReceivedCommandTimes(GetApiKeyCommand, 1);
  });

  it("reveals the caller's own key with its value, not to be cached", async () => {
    givenAccount(account);
    apigw.on(GetApiKeyCommand).resolves({
      id: API_KEY_ID,
      value: API_KEY_VALUE,
      name: SUB,
      enabled: true,
      createdDate: new Date('2025-11-01T10:00:03.000Z'),
      tags: { 'tollgate:userId': SUB },
    });

    const result = await handler(withQuery(loadEvent('api-key-get'), { reveal: 'true' }), context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ id: API_KEY_ID, plan: 'free', value: API_KEY_VALUE });
    expect(result.headers).toMatchObject({ 'Cache-Control': 'no-store' });
    expect(apigw).toHaveReceivedCommandWith(GetApiKeyCommand, { apiKey: API_KEY_ID, includeValue: true });
  });

  it('reads the key the account holds', async () => {
    givenAccount({ ...account, apiKeyId: 'k-from-account' });
    apigw.on(GetApiKeyCommand).resolves({ id: 'k-from-account', value: 'V'.repeat(40), enabled: true });

    await handler(withQuery(loadEvent('api-key-get'), { reveal: 'true' }), context);

    expect(apigw).toHaveReceivedCommandWith(GetApiKeyCommand, { apiKey: 'k-from-account' });
  });

  it('answers 409 when the account is not ACTIVE', async () => {
    givenAccount({ ...account, status: 'ONBOARDING' });

    const result = await handler(loadEvent('api-key-get'), context);

    expect(result.statusCode).toBe(409);
    expect(apigw.calls()).toHaveLength(0);
  });

  it('answers 409 when the key is gone', async () => {
    givenAccount(account);
    apigw.on(GetApiKeyCommand).rejects(awsError('NotFoundException', 'Invalid API Key identifier specified'));

    const result = await handler(withQuery(loadEvent('api-key-get'), { reveal: 'true' }), context);

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result).message).toBe('The API key of the account no longer exists');
  });

  it('never logs the key value', async () => {
    givenAccount(account);
    apigw.on(GetApiKeyCommand).resolves({ id: API_KEY_ID, value: NEW_KEY_VALUE, enabled: true });
    logger.setLogLevel('DEBUG');

    const output = await captureOutput(() => handler(withQuery(loadEvent('api-key-get'), { reveal: 'true' }), context));
    logger.setLogLevel('SILENT');

    expect(output).toContain('Request handled');
    expect(output).not.toContain(NEW_KEY_VALUE);
    expect(output).not.toContain(API_KEY_VALUE);
  });
});

describe('POST /me/api-key/rotate', () => {
  it('replaces the key with a new one in the same plan, carrying the quota over, and retires the old one', async () => {
    givenRotationSucceeds();

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({
      id: NEW_KEY_ID,
      value: NEW_KEY_VALUE,
      previousKeyId: API_KEY_ID,
      quotaCarriedOver: 15,
    });
    expect(result.headers).toMatchObject({ 'Cache-Control': 'no-store' });
    expect(apigw).toHaveReceivedCommandWith(CreateApiKeyCommand, {
      name: SUB,
      enabled: true,
      tags: { 'tollgate:userId': SUB, 'tollgate:rotatedFrom': API_KEY_ID },
    });
    expect(apigw).toHaveReceivedCommandWith(CreateUsagePlanKeyCommand, {
      usagePlanId: USAGE_PLANS.free,
      keyId: NEW_KEY_ID,
      keyType: 'API_KEY',
    });
    // The free plan's quota is monthly: usage of the old key from the 1st to today.
    expect(apigw).toHaveReceivedCommandWith(GetUsageCommand, {
      usagePlanId: USAGE_PLANS.free,
      keyId: API_KEY_ID,
      startDate: '2025-11-01',
      endDate: '2025-11-23',
    });
    expect(apigw).toHaveReceivedCommandWith(UpdateUsageCommand, {
      usagePlanId: USAGE_PLANS.free,
      keyId: NEW_KEY_ID,
      patchOperations: [{ op: 'replace', path: '/remaining', value: '985' }],
    });
    expect(cognito).toHaveReceivedCommandWith(AdminUpdateUserAttributesCommand, {
      UserPoolId: USER_POOL_ID,
      Username: SUB,
      UserAttributes: [{ Name: 'custom:apiid', Value: NEW_KEY_ID }],
    });
    // The rotation lock first, conditional on the key the request came with…
    expect(ddb).toHaveReceivedNthCommandWith(2, UpdateCommand, {
      TableName: ACCOUNTS_TABLE,
      Key: { userId: SUB },
      UpdateExpression: 'SET rotationLock = :lock, rotationLockExpiresAt = :until',
      ExpressionAttributeValues: expect.objectContaining({
        ':lock': 'rotate-2025-11-23-001',
        ':from': API_KEY_ID,
        ':until': new Date(NOW.getTime() + 30_000).toISOString(),
      }),
    });
    // …then the swap, conditional on holding it, which releases it.
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: ACCOUNTS_TABLE,
      Key: { userId: SUB },
      UpdateExpression:
        'SET apiKeyId = :new, updatedAt = :now, version = if_not_exists(version, :zero) + :one REMOVE rotationLock, rotationLockExpiresAt',
      ConditionExpression:
        'apiKeyId = :old AND #status = :active AND #plan = :plan AND attribute_not_exists(pendingPlanChange) AND rotationLock = :lock',
      ExpressionAttributeValues: expect.objectContaining({
        ':new': NEW_KEY_ID,
        ':old': API_KEY_ID,
        ':plan': 'free',
        ':lock': 'rotate-2025-11-23-001',
        ':now': NOW.toISOString(),
      }),
    });
    expect(apigw).toHaveReceivedCommandWith(UpdateApiKeyCommand, {
      apiKey: API_KEY_ID,
      patchOperations: [{ op: 'replace', path: '/enabled', value: 'false' }],
    });
    expect(apigw).toHaveReceivedCommandWith(DeleteUsagePlanKeyCommand, { usagePlanId: USAGE_PLANS.free, keyId: API_KEY_ID });
    expect(apigw).toHaveReceivedCommandWith(DeleteApiKeyCommand, { apiKey: API_KEY_ID });
    expect(apigw).not.toHaveReceivedCommandWith(DeleteApiKeyCommand, { apiKey: NEW_KEY_ID });
  });

  it('runs the steps in order: the account switches only after the new key is ready, the old key goes last', async () => {
    givenRotationSucceeds();

    await handler(loadEvent('api-key-rotate'), context);

    const order = [...apigw.calls(), ...cognito.calls(), ...ddb.calls()]
      // sinon numbers every call across stubs (callId, untyped): the order the commands were sent in.
      .map((call) => ({ name: (call.args[0] as object).constructor.name, at: (call as unknown as { callId: number }).callId }))
      .sort((a, b) => a.at - b.at)
      .map((call) => call.name)
      .filter((name) => name !== 'GetCommand' && name !== 'GetUsagePlansCommand');
    expect(order).toEqual([
      'UpdateCommand',
      'CreateApiKeyCommand',
      'CreateUsagePlanKeyCommand',
      'GetUsageCommand',
      'UpdateUsageCommand',
      'AdminUpdateUserAttributesCommand',
      'UpdateCommand',
      'UpdateApiKeyCommand',
      // The disabled old key's usage, read and kept in the account's usage history before it leaves the plan.
      'GetUsageCommand',
      'UpdateCommand',
      'UpdateCommand',
      'DeleteUsagePlanKeyCommand',
      'DeleteApiKeyCommand',
    ]);
    // The answer's value is the one CreateApiKey returned, kept in memory: no GetApiKey.
    expect(apigw).not.toHaveReceivedCommand(GetApiKeyCommand);
  });

  it('carries nothing over when the old key made no requests this period', async () => {
    givenRotationSucceeds([[0, 1000]]);

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(bodyOf(result).quotaCarriedOver).toBe(0);
    expect(apigw).not.toHaveReceivedCommand(UpdateUsageCommand);
  });

  it('carries over what earlier keys used this period too (from the account usage history)', async () => {
    givenRotationSucceeds([[2, 700], [3, 697]]);
    givenAccount({
      ...account,
      usageHistory: {
        earlier: { keyId: '0ldk3y0001', usagePlanId: USAGE_PLANS.free, recordedAt: '2025-11-06T00:00:00.000Z', days: { '2025-10-31': 40, '2025-11-05': 298 } },
      },
    } as PlanAccount);

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(bodyOf(result).quotaCarriedOver).toBe(303);
    expect(apigw).toHaveReceivedCommandWith(UpdateUsageCommand, {
      patchOperations: [{ op: 'replace', path: '/remaining', value: '697' }],
    });
  });

  it('answers a retry with the same Idempotency-Key with the same result, creating no second key', async () => {
    givenRotationSucceeds();
    const event = loadEvent('api-key-rotate');

    const first = await handler(event, context);
    const second = await handler(event, context);

    expect(second.statusCode).toBe(200);
    expect(bodyOf(second)).toEqual(bodyOf(first));
    expect(apigw).toHaveReceivedCommandTimes(CreateApiKeyCommand, 1);
    const accountWrites = ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input.UpdateExpression ?? '');
    expect(accountWrites.filter((e) => e.includes('rotationLock'))).toHaveLength(2); // lock and swap, once
    // The old key's usage segment is written by each cleanup, under the same id (the rotation's): never twice over.
    expect(new Set(ddb.commandCalls(UpdateCommand).flatMap((call) => Object.values(call.args[0].input.ExpressionAttributeNames ?? {}))))
      .toEqual(new Set(['status', 'plan', NEW_KEY_ID]));
    expect(cognito).toHaveReceivedCommandTimes(AdminUpdateUserAttributesCommand, 1);
    // The old key's cleanup is repeated (it is safe to), so a retry finishes a cleanup that failed.
    expect(apigw).toHaveReceivedCommandTimes(DeleteApiKeyCommand, 2);
  });

  it('keeps no key value in the idempotency record', async () => {
    givenRotationSucceeds();

    await handler(loadEvent('api-key-rotate'), context);

    expect(records.size).toBe(1);
    const stored = JSON.stringify([...records.values()]);
    expect(stored).toContain(NEW_KEY_ID);
    expect(stored).not.toContain(NEW_KEY_VALUE);
  });

  it('rotates again for another Idempotency-Key, and keys requests without one by the API request id', async () => {
    givenRotationSucceeds();
    const event = loadEvent('api-key-rotate');

    await handler(event, context);
    await handler(withHeaders(event, { 'Idempotency-Key': 'rotate-2025-11-23-002' }), context);
    await handler(withHeaders(event, { 'Idempotency-Key': undefined }), context);

    expect(apigw).toHaveReceivedCommandTimes(CreateApiKeyCommand, 3);
    expect(records.size).toBe(3);
  });

  it('answers 409 to a concurrent duplicate while the first is in progress', async () => {
    givenRotationSucceeds();
    const event = loadEvent('api-key-rotate');

    const [first, second] = await Promise.all([handler(event, context), handler(event, context)]);

    expect(first.statusCode).toBe(200);
    expect(second.statusCode).toBe(409);
    expect(bodyOf(second).message).toBe('This rotation is already in progress; retry in a moment');
    expect(apigw).toHaveReceivedCommandTimes(CreateApiKeyCommand, 1);
  });

  it('answers 409 before creating anything when another rotation holds the lock', async () => {
    givenRotationSucceeds();
    ddb.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result).message).toBe('Another rotation of this API key is in progress; try again in a moment');
    expect(apigw).not.toHaveReceivedCommand(CreateApiKeyCommand);
    expect(cognito).not.toHaveReceivedCommand(AdminUpdateUserAttributesCommand);
  });

  it('answers 409 when the key the request came with was rotated already, never rotating the new key', async () => {
    givenRotationSucceeds();
    givenAccount({ ...account, apiKeyId: 'w1nn3rk3y' });
    const event = loadEvent('api-key-rotate');
    // The request names the old key, as a request racing the winning rotation does.
    event.body = JSON.stringify({ keyId: API_KEY_ID });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result).message).toBe('The API key was changed by another request');
    expect(JSON.stringify(bodyOf(result))).not.toContain('w1nn3rk3y');
    expect(apigw).not.toHaveReceivedCommand(CreateApiKeyCommand);
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
  });

  it('answers 400 naming the Idempotency-Key header when it is invalid, creating nothing', async () => {
    givenRotationSucceeds();
    const event = withHeaders(loadEvent('api-key-rotate'), { 'Idempotency-Key': 'two words' });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).details.issues).toEqual([expect.objectContaining({ field: 'Idempotency-Key' })]);
    expect(apigw).not.toHaveReceivedCommand(CreateApiKeyCommand);
  });

  it('answers 409 while a plan change is pending, before creating anything', async () => {
    givenRotationSucceeds();
    givenAccount({ ...account, pendingPlanChange: 'plan-0123456789abcdef0123456789abcdef01234567' });

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result)).toMatchObject({
      code: 'Conflict',
      details: { executionId: 'plan-0123456789abcdef0123456789abcdef01234567' },
    });
    expect(apigw).not.toHaveReceivedCommand(CreateApiKeyCommand);
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
    expect(records.size).toBe(0);
  });

  it('answers 409 when the account is not ACTIVE', async () => {
    givenRotationSucceeds();
    givenAccount({ ...account, status: 'FAILED' });

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(409);
    expect(apigw).not.toHaveReceivedCommand(CreateApiKeyCommand);
  });

  it('deletes the new key and leaves the account untouched when attaching it to the plan fails', async () => {
    givenRotationSucceeds();
    apigw.on(CreateUsagePlanKeyCommand).rejects(awsError('BadRequestException', 'Invalid usage plan up-free secret'));
    const event = loadEvent('api-key-rotate');

    const result = await handler(event, context);

    expectGenericServerError(result, event.requestContext.requestId, 'up-free secret');
    expect(apigw).toHaveReceivedCommandWith(DeleteApiKeyCommand, { apiKey: NEW_KEY_ID });
    expect(apigw).not.toHaveReceivedCommandWith(DeleteApiKeyCommand, { apiKey: API_KEY_ID });
    expect(apigw).not.toHaveReceivedCommand(UpdateApiKeyCommand);
    // The account keeps its key; the rotation lock is taken and released.
    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, { UpdateExpression: expect.stringContaining('apiKeyId') });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { UpdateExpression: 'REMOVE rotationLock, rotationLockExpiresAt' });
    expect(cognito).not.toHaveReceivedCommand(AdminUpdateUserAttributesCommand);
    // The failed attempt leaves no idempotency record: a retry rotates for real.
    expect(records.size).toBe(0);
  });

  it('answers 403 (not 500) when the user was deleted in the pool meanwhile, after deleting the new key', async () => {
    givenRotationSucceeds();
    cognito.on(AdminUpdateUserAttributesCommand).rejects(awsError('UserNotFoundException', 'User does not exist.'));

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(403);
    expect(bodyOf(result)).toMatchObject({ code: 'Forbidden', message: 'This user has been deleted; the account is being closed' });
    expect(apigw).toHaveReceivedCommandWith(DeleteApiKeyCommand, { apiKey: NEW_KEY_ID });
    expect(apigw).not.toHaveReceivedCommandWith(DeleteApiKeyCommand, { apiKey: API_KEY_ID });
  });

  it('answers 503 when API Gateway throttles, after deleting the new key', async () => {
    givenRotationSucceeds();
    apigw.on(CreateUsagePlanKeyCommand).rejects(awsError('TooManyRequestsException', 'Too Many Requests'));

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(503);
    expect(bodyOf(result)).toMatchObject({ code: 'ServiceUnavailable' });
    expect(apigw).toHaveReceivedCommandWith(DeleteApiKeyCommand, { apiKey: NEW_KEY_ID });
  });

  it('deletes the new key and restores custom:apiid when the account update finds a plan change started', async () => {
    givenRotationSucceeds();
    ddb
      .on(UpdateCommand)
      .resolvesOnce({}) // the rotation lock
      .rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));
    ddb
      .on(GetCommand, { TableName: ACCOUNTS_TABLE, Key: { userId: SUB } })
      .resolvesOnce({ Item: account })
      .resolves({ Item: { ...account, pendingPlanChange: 'plan-0123456789abcdef0123456789abcdef01234567' } });

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result)).toMatchObject({ message: 'A plan change is in progress' });
    expect(cognito).toHaveReceivedCommandTimes(AdminUpdateUserAttributesCommand, 2);
    expect(cognito).toHaveReceivedNthCommandWith(2, AdminUpdateUserAttributesCommand, {
      UserAttributes: [{ Name: 'custom:apiid', Value: API_KEY_ID }],
    });
    expect(apigw).toHaveReceivedCommandWith(DeleteApiKeyCommand, { apiKey: NEW_KEY_ID });
    expect(apigw).not.toHaveReceivedCommand(UpdateApiKeyCommand);
  });

  it('answers 409 when another rotation replaced the key meanwhile, pointing custom:apiid at that key', async () => {
    givenRotationSucceeds();
    ddb
      .on(UpdateCommand)
      .resolvesOnce({}) // the rotation lock
      .rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    ddb
      .on(GetCommand, { TableName: ACCOUNTS_TABLE, Key: { userId: SUB } })
      .resolvesOnce({ Item: account })
      .resolves({ Item: { ...account, apiKeyId: 'w1nn3rk3y' } });

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result).message).toBe('The API key was changed by another request');
    expect(cognito).toHaveReceivedNthCommandWith(2, AdminUpdateUserAttributesCommand, {
      UserAttributes: [{ Name: 'custom:apiid', Value: 'w1nn3rk3y' }],
    });
  });

  it('compensates when Cognito fails, even if restoring custom:apiid fails too', async () => {
    givenRotationSucceeds();
    cognito.on(AdminUpdateUserAttributesCommand).rejects(awsError('InternalErrorException', 'boom'));
    const event = loadEvent('api-key-rotate');

    const result = await handler(event, context);

    expect(result.statusCode).toBe(503);
    expect(apigw).toHaveReceivedCommandWith(DeleteApiKeyCommand, { apiKey: NEW_KEY_ID });
    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, { UpdateExpression: expect.stringContaining('apiKeyId') });
  });

  it('compensates when carrying the quota over fails', async () => {
    givenRotationSucceeds();
    apigw.on(UpdateUsageCommand).rejects(awsError('BadRequestException', 'not supported'));

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(500);
    expect(apigw).toHaveReceivedCommandWith(DeleteApiKeyCommand, { apiKey: NEW_KEY_ID });
    expect(cognito).not.toHaveReceivedCommand(AdminUpdateUserAttributesCommand);
  });

  it('has nothing to undo when the key cannot be created', async () => {
    givenRotationSucceeds();
    apigw.on(CreateApiKeyCommand).rejects(awsError('LimitExceededException', 'Too many keys'));

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(503);
    expect(apigw).not.toHaveReceivedCommand(DeleteApiKeyCommand);
  });

  it('answers 500 without creating a key when the usage plan cannot be found', async () => {
    // The function caches the plan ids for its lifetime: a routes table with its own lookup shows a missing plan.
    givenRotationSucceeds();
    const deps: AccountDeps = {
      accounts: new DynamoAccountStore(ACCOUNTS_TABLE),
      keys: new mod.ApiGatewayKeyService(new APIGatewayClient({})),
      users: new mod.CognitoUserDirectory(USER_POOL_ID, new CognitoIdentityProviderClient({})),
      accountKeys: new mod.DynamoAccountKeyWriter(ACCOUNTS_TABLE),
      ledger: new mod.DynamoLedger(BILLING_TABLE),
      usageHistory: new DynamoUsageHistory(ACCOUNTS_TABLE),
      usagePlanIdFor: () => Promise.reject(new UsagePlanNotFoundError('free')),
      readUsage: () => Promise.reject(new Error('not read')),
      catalog: planCatalog(),
      now: () => NOW,
    };
    const routesHandler = createApiHandler(
      mod.accountRoutes({ ...deps, rotate: (request) => rotateApiKey(deps, request) }),
    );

    const result = await routesHandler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(500);
    expect(bodyOf(result)).toMatchObject({ code: 'PlanUnavailable', message: 'The free plan is not available right now' });
    expect(apigw).not.toHaveReceivedCommand(CreateApiKeyCommand);
  });

  it('answers 200 even when the old key cannot be cleaned up, and logs it', async () => {
    givenRotationSucceeds();
    apigw.on(UpdateApiKeyCommand).rejects(awsError('TooManyRequestsException'));
    apigw.on(DeleteApiKeyCommand).rejects(awsError('TooManyRequestsException'));
    logger.setLogLevel('WARN');

    let result: Awaited<ReturnType<typeof handler>> | undefined;
    const output = await captureOutput(async () => {
      result = await handler(loadEvent('api-key-rotate'), context);
    });
    logger.setLogLevel('SILENT');

    expect(result?.statusCode).toBe(200);
    expect(bodyOf(result!).id).toBe(NEW_KEY_ID);
    expect(output).toContain('Old API key cleanup step failed');
    expect(output).toContain('TooManyRequestsException');
  });

  it('treats an old key that is gone already as cleaned up', async () => {
    givenRotationSucceeds();
    apigw.on(UpdateApiKeyCommand).rejects(awsError('NotFoundException'));
    apigw.on(DeleteUsagePlanKeyCommand).rejects(awsError('NotFoundException'));
    apigw.on(DeleteApiKeyCommand).rejects(awsError('NotFoundException'));

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(200);
  });

  it('never logs a key value, even with debug logging', async () => {
    givenRotationSucceeds();
    apigw.on(CreateUsagePlanKeyCommand).rejectsOnce(awsError('TooManyRequestsException'));
    logger.setLogLevel('DEBUG');

    const output = await captureOutput(async () => {
      await handler(loadEvent('api-key-rotate'), context); // fails, compensates
      await handler(loadEvent('api-key-rotate'), context); // succeeds
    });
    logger.setLogLevel('SILENT');

    expect(output).toContain('API key rotated');
    expect(output).not.toContain(NEW_KEY_VALUE);
    expect(output).not.toContain(API_KEY_VALUE);
  });
});

describe('GET /me/usage', () => {
  /** A 92-day plan-wide series (2025-08-24 … 2025-11-23) with `days` (date → [used, remaining]) set. */
  function planSeries(days: Record<string, [number, number]>): [number, number][] {
    return Array.from({ length: 92 }, (_, i) => {
      const date = new Date(Date.parse('2025-08-24T00:00:00Z') + i * 86_400_000).toISOString().slice(0, 10);
      return days[date] ?? [0, 0];
    });
  }

  it("answers the key's daily usage and the quota of the current period from one plan-wide read", async () => {
    givenAccount({ ...account, plan: 'basic' });
    givenUsagePlans();
    apigw.on(GetUsageCommand, { usagePlanId: USAGE_PLANS.basic, startDate: '2025-08-24', endDate: '2025-11-23' }).resolves({
      items: {
        [API_KEY_ID]: planSeries({ '2025-10-30': [4, 99996], '2025-11-01': [7, 99993], '2025-11-02': [1, 99992], '2025-11-23': [30, 99962] }),
        'someone-else': planSeries({ '2025-11-23': [500, 99500] }),
      },
    });
    const event = withQuery(loadEvent('usage-get'), { from: '2025-10-30', to: '2025-11-02' });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({
      keyId: API_KEY_ID,
      plan: 'basic',
      from: '2025-10-30',
      to: '2025-11-02',
      days: [
        { date: '2025-10-30', used: 4 },
        { date: '2025-10-31', used: 0 },
        { date: '2025-11-01', used: 7 },
        { date: '2025-11-02', used: 1 },
      ],
      quota: { limit: 100000, period: 'MONTH', periodStart: '2025-11-01', resetsAt: '2025-12-01T00:00:00.000Z', used: 38, remaining: 99962 },
    });
    expect(apigw).toHaveReceivedCommandTimes(GetUsageCommand, 1);
    expect(apigw).not.toHaveReceivedCommandWith(GetUsageCommand, { keyId: API_KEY_ID });
  });

  it('reads usage from API Gateway at most once a minute per plan, however many requests', async () => {
    givenAccount(account);
    givenUsagePlans();
    apigw.on(GetUsageCommand).resolves({ items: { [API_KEY_ID]: planSeries({ '2025-11-23': [3, 997] }) } });

    const statuses = await Promise.all(Array.from({ length: 10 }, () => handler(loadEvent('usage-get'), context).then((r) => r.statusCode)));
    expect(statuses).toEqual(Array(10).fill(200));
    expect(apigw).toHaveReceivedCommandTimes(GetUsageCommand, 1);

    jest.setSystemTime(new Date(NOW.getTime() + 59_000));
    await handler(loadEvent('usage-get'), context);
    expect(apigw).toHaveReceivedCommandTimes(GetUsageCommand, 1);
    jest.setSystemTime(new Date(NOW.getTime() + 60_000));
    await handler(loadEvent('usage-get'), context);
    expect(apigw).toHaveReceivedCommandTimes(GetUsageCommand, 2);
    jest.setSystemTime(NOW);
  });

  it('answers 503 with Retry-After, never 500, when the management API throttles a cold read', async () => {
    givenAccount(account);
    givenUsagePlans();
    apigw.on(GetUsageCommand).rejects(Object.assign(awsError('TooManyRequestsException', 'Too Many Requests'), { retryAfterSeconds: '2' }));

    const result = await handler(loadEvent('usage-get'), context);

    expect(result.statusCode).toBe(503);
    expect(result.headers).toMatchObject({ 'Retry-After': '2' });
    expect(bodyOf(result)).toMatchObject({ code: 'ServiceUnavailable', retryAfterSeconds: 2, message: expect.stringMatching(/try again/) });
  });

  it('fills days without data with zeros (a key with no usage has no series)', async () => {
    givenAccount(account);
    givenUsagePlans();
    apigw.on(GetUsageCommand).resolves({ items: {} });

    const result = await handler(loadEvent('usage-get'), context);

    const body = bodyOf(result);
    expect(body.days).toHaveLength(23);
    expect(body.days[0]).toEqual({ date: '2025-11-01', used: 0 });
    expect(body.days[22]).toEqual({ date: '2025-11-23', used: 0 });
    expect(body.quota).toEqual({
      limit: 1000,
      period: 'MONTH',
      periodStart: '2025-11-01',
      resetsAt: '2025-12-01T00:00:00.000Z',
      used: 0,
      remaining: 1000,
    });
  });

  it('accepts a range of exactly 92 days', async () => {
    givenAccount(account);
    givenUsagePlans();
    apigw.on(GetUsageCommand).resolves({ items: {} });
    const event = withQuery(loadEvent('usage-get'), { from: '2025-08-24', to: '2025-11-23' });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result).days).toHaveLength(92);
  });

  it.each([
    ['from is missing', { to: '2025-11-23' }, 'from'],
    ['to is missing', { from: '2025-11-01' }, 'to'],
    ['from is not a date', { from: 'yesterday', to: '2025-11-23' }, 'from'],
    ['to is not a real date', { from: '2025-02-01', to: '2025-02-30' }, 'to'],
    ['from is not zero-padded', { from: '2025-11-1', to: '2025-11-23' }, 'from'],
    ['to is before from', { from: '2025-11-23', to: '2025-11-01' }, 'to'],
    ['the range is longer than 92 days', { from: '2025-08-23', to: '2025-11-23' }, 'to'],
    ['an unknown parameter is given', { from: '2025-11-01', to: '2025-11-23', keyId: 'x' }, 'keyId'],
  ])('answers 400 naming the field when %s', async (_label, query, field) => {
    givenAccount(account);
    const event = withQuery(loadEvent('usage-get'), query);

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ code: 'BadRequest' });
    expect(bodyOf(result).details.issues).toContainEqual(expect.objectContaining({ field }));
    expect(apigw.calls()).toHaveLength(0);
  });

  it('answers 400 naming both dates when there is no query string', async () => {
    const event = withQuery(loadEvent('usage-get'), null);

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).details.issues.map((issue: { field: string }) => issue.field)).toEqual(['from', 'to']);
  });

  it('answers 503 when the key is between usage plans', async () => {
    givenAccount(account);
    givenUsagePlans();
    apigw.on(GetUsageCommand).rejects(awsError('NotFoundException', 'Invalid Key identifier specified'));

    const result = await handler(loadEvent('usage-get'), context);

    expect(result.statusCode).toBe(503);
  });

  it('answers 409 when the account is not ACTIVE', async () => {
    givenAccount({ ...account, status: 'ONBOARDING' });

    const result = await handler(loadEvent('usage-get'), context);

    expect(result.statusCode).toBe(409);
  });
});

describe('GET /me/billing', () => {
  const planStarted = {
    userId: SUB,
    entryId: '2025-11-01T10:00:01.000Z#PLAN_STARTED#onboard-0f9c6c1e',
    type: 'PLAN_STARTED',
    plan: 'free',
    monthlyPrice: 0,
    currency: 'USD',
    effectiveAt: '2025-11-01T10:00:01.000Z',
    executionId: 'arn:aws:states:us-east-1:123456789012:execution:tollgate-onboarding:onboard-0f9c6c1e',
  };
  const planChanged = {
    userId: SUB,
    entryId: '2025-11-16T12:00:00.000Z#PLAN_CHANGED#plan-0123456789abcdef0123456789abcdef01234567',
    type: 'PLAN_CHANGED',
    fromPlan: 'free',
    toPlan: 'pro',
    plan: 'pro',
    fromPrice: 0,
    toPrice: 99,
    monthlyPrice: 99,
    currency: 'USD',
    effectiveAt: '2025-11-16T12:00:00.000Z',
    prorationBasis: 'SECOND',
    executionId: 'arn:aws:states:us-east-1:123456789012:execution:tollgate-plan-change:plan-0123456789abcdef0123456789abcdef01234567',
  };
  const PLAN_ENTRIES = { FilterExpression: '#type IN (:started, :changed, :closed)' };
  const LEDGER_PAGE = { TableName: BILLING_TABLE, ScanIndexForward: false };

  it("answers the ledger newest first and the current month's statement so far", async () => {
    ddb.on(QueryCommand, LEDGER_PAGE).resolves({ Items: [planChanged, planStarted] });
    ddb.on(QueryCommand, PLAN_ENTRIES).resolves({ Items: [planStarted, planChanged] });

    const result = await handler(loadEvent('billing-get'), context);

    expect(result.statusCode).toBe(200);
    const { userId: _a, ...changedEntry } = planChanged;
    const { userId: _b, ...startedEntry } = planStarted;
    expect(bodyOf(result)).toEqual({
      ledger: [changedEntry, startedEntry],
      statement: {
        period: '2025-11',
        periodStart: '2025-11-01T00:00:00.000Z',
        periodEnd: '2025-12-01T00:00:00.000Z',
        lines: [
          // Each plan from the instant it took effect: free from 10:00:01 on Nov 1, pro from 12:00 on Nov 16.
          { plan: 'free', from: '2025-11-01T10:00:01.000Z', to: '2025-11-16T12:00:00.000Z', seconds: 15 * 86_400 + 2 * 3_600 - 1, monthlyPrice: 0, amountCents: 0 },
          // 14.5 days of a 30-day month at 9,900 cents: 4,785 exactly.
          { plan: 'pro', from: '2025-11-16T12:00:00.000Z', to: '2025-12-01T00:00:00.000Z', seconds: 14.5 * 86_400, monthlyPrice: 99, amountCents: 4785 },
        ],
        totalCents: 4785,
        currency: 'USD',
      },
    });
    expect(result.headers).toMatchObject({ 'Cache-Control': 'no-store' });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      ...LEDGER_PAGE,
      KeyConditionExpression: 'userId = :userId',
      ExpressionAttributeValues: { ':userId': SUB },
      Limit: 10,
    });
  });

  it('pages the ledger with nextToken, within the caller partition only', async () => {
    ddb.on(QueryCommand, LEDGER_PAGE).resolves({
      Items: [planChanged],
      LastEvaluatedKey: { userId: SUB, entryId: planChanged.entryId },
    });
    ddb.on(QueryCommand, PLAN_ENTRIES).resolves({ Items: [] });

    const first = await handler(loadEvent('billing-get'), context);
    const nextToken = bodyOf(first).nextToken as string;
    const second = await handler(withQuery(loadEvent('billing-get'), { limit: '10', nextToken }), context);

    expect(nextToken).toBe(encodeNextToken({ userId: SUB, sk: planChanged.entryId }));
    expect(second.statusCode).toBe(200);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      ...LEDGER_PAGE,
      ExclusiveStartKey: { userId: SUB, entryId: planChanged.entryId },
    });
  });

  it("answers 400 for another user's nextToken, without reading", async () => {
    const nextToken = encodeNextToken({ userId: OTHER_SUB, sk: planChanged.entryId }) ?? '';
    const event = withQuery(loadEvent('billing-get'), { nextToken });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).details.issues).toEqual([expect.objectContaining({ field: 'nextToken' })]);
    expect(requestsTo(ddb, BILLING_TABLE)).toEqual([]);
  });

  it('answers 400 naming limit when it is out of range', async () => {
    const result = await handler(withQuery(loadEvent('billing-get'), { limit: '500' }), context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).details.issues).toEqual([expect.objectContaining({ field: 'limit' })]);
  });

  it('reads every page of plan entries for the statement', async () => {
    ddb.on(QueryCommand, LEDGER_PAGE).resolves({ Items: [] });
    ddb
      .on(QueryCommand, PLAN_ENTRIES)
      .resolvesOnce({ Items: [planStarted], LastEvaluatedKey: { userId: SUB, entryId: planStarted.entryId } })
      .resolvesOnce({ Items: [planChanged] });

    const result = await handler(loadEvent('billing-get'), context);

    expect(bodyOf(result).statement.totalCents).toBe(4785); // 9,900 × 14.5 / 30
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      ...PLAN_ENTRIES,
      ExclusiveStartKey: { userId: SUB, entryId: planStarted.entryId },
    });
  });

  it('answers an empty ledger and statement for a user without entries', async () => {
    ddb.on(QueryCommand).resolves({ Items: [] });

    const result = await handler(loadEvent('billing-get'), context);

    expect(bodyOf(result)).toMatchObject({ ledger: [], statement: { lines: [], totalCents: 0, currency: 'USD' } });
    expect(bodyOf(result)).not.toHaveProperty('nextToken');
  });

  it('answers a generic 500 when DynamoDB fails', async () => {
    ddb.on(QueryCommand).rejects(new Error('AccessDeniedException: arn:aws:dynamodb:secret'));
    const event = loadEvent('billing-get');

    const result = await handler(event, context);

    expectGenericServerError(result, event.requestContext.requestId, 'arn:aws:dynamodb');
  });
});
