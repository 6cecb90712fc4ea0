/** AccountFunction: rotation with an overlap (POST /me/api-key/rotate overlapSeconds, GET /me/api-key, DELETE /me/api-key/previous). */
import { ACCOUNTS_TABLE, KEY_RETIREMENT_STATE_MACHINE_ARN } from './env.ts';
import { ddb, apigw, NOW, NEW_KEY_ID, USAGE_PLANS, account, givenAccount, givenRotationSucceeds, handler, withHeaders } from './account-setup.ts';
import { DeleteApiKeyCommand, DeleteUsagePlanKeyCommand, GetUsageCommand, UpdateApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { PlanAccount, PreviousKey } from '#shared/accounts';
import { assertOwnKey, CachedAccounts } from '#shared/caller';
import { KEY_OWNER_FRESHNESS_SECONDS } from '#shared/data-api';
import { API_KEY_ID, SUB, bodyOf, context, loadEvent } from './helpers.ts';
import 'aws-sdk-client-mock-jest';

const sfn = mockClient(SFNClient);
beforeEach(() => sfn.reset());

const OLD_KEY_ID = 'o1dk3y0001';
const previousKey = (expiresAt: string): PreviousKey => ({
  id: OLD_KEY_ID,
  rotationId: API_KEY_ID,
  usagePlanId: USAGE_PLANS.free,
  plan: 'free',
  quotaCarriedOver: 0,
  expiresAt,
});
const inAnHour = new Date(NOW.getTime() + 3_600_000).toISOString().replace('.000Z', 'Z');

function route(method: string, resource: string, body?: unknown): APIGatewayProxyEvent {
  const event = loadEvent('api-key-get');
  return { ...event, httpMethod: method, resource, path: resource, body: body === undefined ? null : JSON.stringify(body) };
}

describe('POST /me/api-key/rotate with overlapSeconds', () => {
  it('keeps the old key as previousKey, schedules its retirement once (retire-<new key id>) and retires nothing now', async () => {
    givenRotationSucceeds();
    const event = withHeaders(loadEvent('api-key-rotate'), { 'Idempotency-Key': 'overlap-1' });
    event.body = JSON.stringify({ overlapSeconds: 3600 });

    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:aws:states:us-east-1:123456789012:execution:tollgate-key-retirement:x', startDate: NOW });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toMatchObject({ id: NEW_KEY_ID, previousKeyId: API_KEY_ID, previousKeyExpiresAt: '2025-11-23T14:45:10Z' });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      // previousApiKeyId: the old key's PreviousApiKeyIndex entry (key-only mode finds its owner there during the overlap).
      UpdateExpression: expect.stringContaining('previousKey = :previous, previousApiKeyId = :old'),
      ExpressionAttributeValues: expect.objectContaining({
        ':old': API_KEY_ID,
        ':previous': { id: API_KEY_ID, rotationId: NEW_KEY_ID, usagePlanId: USAGE_PLANS.free, plan: 'free', quotaCarriedOver: 15, expiresAt: '2025-11-23T14:45:10Z' },
      }),
    });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: KEY_RETIREMENT_STATE_MACHINE_ARN, name: `retire-${NEW_KEY_ID}` });
    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input ?? '{}') as Record<string, unknown>;
    expect(input).toEqual({
      userId: SUB,
      rotation: { id: NEW_KEY_ID, previousKeyId: API_KEY_ID, plan: 'free', usagePlanId: USAGE_PLANS.free, quotaCarriedOver: 15, retireAt: '2025-11-23T14:45:10Z' },
    });
    expect(apigw).not.toHaveReceivedCommand(UpdateApiKeyCommand);
    expect(apigw).not.toHaveReceivedCommand(DeleteApiKeyCommand);
  });

  it.each([[86_401], [-1], [0.5], ['3600']])('answers 400 naming overlapSeconds for %p', async (overlapSeconds) => {
    givenRotationSucceeds();
    const event = loadEvent('api-key-rotate');
    event.body = JSON.stringify({ overlapSeconds });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(result.body).toContain('overlapSeconds');
  });

  it('answers 409 while a previous key is still in its overlap, creating nothing', async () => {
    givenRotationSucceeds();
    givenAccount({ ...account, previousKey: previousKey(inAnHour) } as PlanAccount);

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result).message).toMatch(/previous API key is still in its overlap/);
  });
});

describe('GET /me/api-key during an overlap', () => {
  it("shows the previous key's expiry without its id, and nothing once it has passed", async () => {
    givenAccount({ ...account, apiKeyCreatedAt: '2025-11-20T10:00:00.000Z', previousKey: previousKey(inAnHour) } as PlanAccount);
    expect(bodyOf(await handler(loadEvent('api-key-get'), context))).toEqual({
      id: API_KEY_ID,
      plan: 'free',
      createdAt: '2025-11-20T10:00:00.000Z',
      previous: { expiresAt: inAnHour },
    });

    givenAccount({ ...account, previousKey: previousKey('2025-11-23T13:45:09Z') } as PlanAccount);
    expect(bodyOf(await handler(loadEvent('api-key-get'), context))).toEqual({ id: API_KEY_ID, plan: 'free' });
  });
});

describe('DELETE /me/api-key/previous', () => {
  it('retires the previous key at once: disable, keep its usage, detach, delete, forget (204)', async () => {
    givenRotationSucceeds();
    givenAccount({ ...account, previousKey: previousKey(inAnHour) } as PlanAccount);
    apigw.on(GetUsageCommand).resolves({ items: { [OLD_KEY_ID]: [[3, 997]] } });

    const result = await handler(route('DELETE', '/me/api-key/previous'), context);

    expect(result.statusCode).toBe(204);
    expect(apigw).toHaveReceivedCommandWith(UpdateApiKeyCommand, { apiKey: OLD_KEY_ID });
    expect(apigw).toHaveReceivedCommandWith(DeleteUsagePlanKeyCommand, { usagePlanId: USAGE_PLANS.free, keyId: OLD_KEY_ID });
    expect(apigw).toHaveReceivedCommandWith(DeleteApiKeyCommand, { apiKey: OLD_KEY_ID });
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: ACCOUNTS_TABLE,
      UpdateExpression: 'REMOVE previousKey, previousApiKeyId',
      ConditionExpression: 'previousKey.id = :id',
      ExpressionAttributeValues: { ':id': OLD_KEY_ID },
    });
  });

  it('answers 503 (not 204) when the key cannot be disabled: nothing is claimed done', async () => {
    givenRotationSucceeds();
    givenAccount({ ...account, previousKey: previousKey(inAnHour) } as PlanAccount);
    apigw.on(UpdateApiKeyCommand).rejects(Object.assign(new Error('slow down'), { name: 'TooManyRequestsException' }));

    const result = await handler(route('DELETE', '/me/api-key/previous'), context);

    expect(result.statusCode).toBe(503);
    expect(apigw).not.toHaveReceivedCommand(DeleteApiKeyCommand);
  });

  it('answers 404 naming the problem when no key is in its overlap', async () => {
    givenAccount(account);

    const result = await handler(route('DELETE', '/me/api-key/previous'), context);

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result).message).toBe('No previous API key is in its overlap');
    expect(apigw.calls()).toHaveLength(0);
  });
});

describe('assertOwnKey with a previous key', () => {
  const caller = { userId: SUB, apiKeyId: OLD_KEY_ID, claimedKeyId: API_KEY_ID };
  const accounts = (previous: PreviousKey) => ({ get: () => Promise.resolve({ ...account, previousKey: previous } as PlanAccount) });

  it('accepts the rotated-away key until its overlap ends, and refuses it from then on', async () => {
    await expect(assertOwnKey(caller, accounts(previousKey(inAnHour)), NOW)).resolves.toBeUndefined();
    await expect(assertOwnKey(caller, accounts(previousKey(NOW.toISOString())), NOW)).rejects.toMatchObject({ statusCode: 403 });
    await expect(assertOwnKey({ ...caller, apiKeyId: 'someoneelse' }, accounts(previousKey(inAnHour)), NOW)).rejects.toMatchObject({ statusCode: 403 });
  });

  it('refuses the rotated-away key of a suspended account (user disabled: the reconciler disabled only the current key)', async () => {
    const suspended = { get: () => Promise.resolve({ ...account, previousKey: previousKey(inAnHour), keySuspendedAt: NOW.toISOString() } as PlanAccount) };
    await expect(assertOwnKey(caller, suspended, NOW)).rejects.toMatchObject({ statusCode: 403 });
  });

  it('does not take the word of a token issued before the rotation: its old key works during the overlap, then 403', async () => {
    // The token names the old key (custom:apiid at sign-in); API Gateway still admits that key until retirement disables it.
    const oldToken = { userId: SUB, apiKeyId: OLD_KEY_ID, claimedKeyId: OLD_KEY_ID };
    const expiresAt = inAnHour;
    await expect(assertOwnKey(oldToken, accounts(previousKey(expiresAt)), NOW)).resolves.toBeUndefined();
    await expect(assertOwnKey(oldToken, accounts(previousKey(expiresAt)), new Date(Date.parse(expiresAt)))).rejects.toMatchObject({
      statusCode: 403,
      message: 'The API key does not belong to the signed-in user',
    });
    // once retirement has forgotten the previous key, too
    await expect(assertOwnKey(oldToken, { get: () => Promise.resolve(account as PlanAccount) }, NOW)).rejects.toMatchObject({ statusCode: 403 });
  });
});

describe('CachedAccounts (assertOwnKey in IdTokenAndApiKey mode)', () => {
  const TTL_MS = KEY_OWNER_FRESHNESS_SECONDS * 1000;
  function counting(initial: PlanAccount) {
    const state = { account: initial, reads: 0, clock: NOW.getTime() };
    const store = new CachedAccounts({ get: () => ((state.reads += 1), Promise.resolve(state.account)) }, TTL_MS, 10_000, () => state.clock);
    return { state, store };
  }
  const at = (ms: number) => new Date(ms);

  it('reads an account once per freshness (60 s), then again', async () => {
    const { state, store } = counting(account as PlanAccount);
    const caller = { userId: SUB, apiKeyId: (account as PlanAccount).apiKeyId as string };
    await assertOwnKey(caller, store, at(state.clock));
    state.clock += TTL_MS - 1;
    await assertOwnKey(caller, store, at(state.clock));
    expect(state.reads).toBe(1);
    state.clock += 1;
    await assertOwnKey(caller, store, at(state.clock));
    expect(state.reads).toBe(2);
  });

  it("refuses a cached previous key from the instant its overlap ends, without waiting for the cache's freshness", async () => {
    const expiresAt = NOW.getTime() + 10_000;
    const { state, store } = counting({ ...(account as PlanAccount), previousKey: previousKey(new Date(expiresAt).toISOString()) });
    const oldToken = { userId: SUB, apiKeyId: OLD_KEY_ID, claimedKeyId: OLD_KEY_ID };
    await expect(assertOwnKey(oldToken, store, at(state.clock))).resolves.toBeUndefined();
    state.clock = expiresAt;
    await expect(assertOwnKey(oldToken, store, at(state.clock))).rejects.toMatchObject({ statusCode: 403 });
    expect(state.reads).toBe(2); // the refusal rests on a fresh read, not on the cached copy
  });

  it('admits a key rotated in within the freshness at once (a fresh read before any refusal)', async () => {
    const { state, store } = counting({ ...(account as PlanAccount), apiKeyId: OLD_KEY_ID });
    await assertOwnKey({ userId: SUB, apiKeyId: OLD_KEY_ID }, store, at(state.clock));
    state.account = { ...(account as PlanAccount), apiKeyId: 'n3wk3y0002', previousKey: previousKey(inAnHour) };
    state.clock += 1_000;
    await expect(assertOwnKey({ userId: SUB, apiKeyId: 'n3wk3y0002' }, store, at(state.clock))).resolves.toBeUndefined();
    expect(state.reads).toBe(2);
    // within the freshness a cached current key stays admitted (the stated lag): no read
    await expect(assertOwnKey({ userId: SUB, apiKeyId: OLD_KEY_ID }, store, at(state.clock))).resolves.toBeUndefined();
    expect(state.reads).toBe(2);
  });
});
