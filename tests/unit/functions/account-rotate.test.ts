// Over 400 lines: one route whose cases (commit, compensation, races, idempotent replays, cleanup) belong together.
/** AccountFunction, POST /me/api-key/rotate (split by route from account.test.ts; shared setup in ./account-setup.ts). */
import { ACCOUNTS_TABLE, KEY_OWNERS_TABLE } from './env.ts';
import {
  BILLING_TABLE, USER_POOL_ID, mod, ddb, apigw, cognito, NOW, NEW_KEY_ID, NEW_KEY_VALUE, USAGE_PLANS, account,
  givenAccount, awsError, withHeaders, givenRotationSucceeds, handler, records
} from './account-setup.ts';
import {
  APIGatewayClient, CreateApiKeyCommand, CreateUsagePlanKeyCommand, DeleteApiKeyCommand, DeleteUsagePlanKeyCommand,
  GetApiKeyCommand, GetUsageCommand, UpdateApiKeyCommand, UpdateUsageCommand
} from '@aws-sdk/client-api-gateway';
import {
  AdminUpdateUserAttributesCommand, CognitoIdentityProviderClient
} from '@aws-sdk/client-cognito-identity-provider';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { PlanAccount } from '#shared/accounts';
import { DynamoAccountKeyWriter, DynamoAccountStore, DynamoUsageHistory } from '#shared/tables/accounts';
import { DynamoKeyOwnerRecords } from '#shared/tables/key-owners';
import { DynamoLedger } from '#shared/tables/billing';
import { createApiHandler } from '#shared/http';
import { logger } from '#shared/logger';
import { UsagePlanNotFoundError } from '#shared/errors';
import { planCatalog } from '#shared/plans';
import { ApiGatewayKeyService, CognitoUserDirectory } from '../../../functions/account/adapters.ts';
import { rotateApiKey, type AccountDeps } from '../../../functions/account/domain.ts';
import {
  API_KEY_ID, API_KEY_VALUE, SUB, bodyOf, captureOutput, context, describeTokenOnlyChecks,
  expectGenericServerError, loadEvent
} from './helpers.ts';
import 'aws-sdk-client-mock-jest';

describeTokenOnlyChecks(handler, ddb, { accounts: ACCOUNTS_TABLE }, ['api-key-rotate']);

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
        'SET apiKeyId = :new, apiKeyCreatedAt = :now, updatedAt = :now, version = if_not_exists(version, :zero) + :one REMOVE rotationLock, rotationLockExpiresAt',
      ConditionExpression:
        'apiKeyId = :old AND #status = :active AND attribute_not_exists(keySuspendedAt) AND #plan = :plan AND attribute_not_exists(pendingPlanChange) AND rotationLock = :lock',
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
      // The new key's owner recorded (KeyOwners) before the key joins a plan: the key-only lookup always finds it.
      'UpdateCommand',
      // The old key marked as rotating before the swap: a function that dies after it leaves no key admitted as current.
      'UpdateCommand',
      'CreateUsagePlanKeyCommand',
      'GetUsageCommand',
      'UpdateUsageCommand',
      'AdminUpdateUserAttributesCommand',
      'UpdateCommand',
      // After the swap: the old key's owner record ends now (no overlap), before the key is retired; the new key's
      // rotation mark is cleared.
      'UpdateCommand',
      'UpdateCommand',
      'UpdateApiKeyCommand',
      // The disabled old key's usage, read and kept in the account's usage history before it leaves the plan.
      'GetUsageCommand',
      'UpdateCommand',
      'UpdateCommand',
      'DeleteUsagePlanKeyCommand',
      'DeleteApiKeyCommand',
      // Once API Gateway has deleted it, its owner record becomes a tombstone.
      'UpdateCommand',
    ]);
    const owners = ddb.commandCalls(UpdateCommand, { TableName: KEY_OWNERS_TABLE }).map((c) => c.args[0].input);
    expect(owners.map((w) => [w.Key, w.UpdateExpression])).toEqual([
      [{ apiKeyId: NEW_KEY_ID }, 'SET userId = :user, createdAt = if_not_exists(createdAt, :now), rotatingTo = :to'],
      [{ apiKeyId: API_KEY_ID }, 'SET userId = :user, createdAt = if_not_exists(createdAt, :now), rotatingTo = :to'],
      [{ apiKeyId: API_KEY_ID }, 'SET userId = :user, createdAt = if_not_exists(createdAt, :now), notAfter = :notAfter REMOVE rotatingTo'],
      [{ apiKeyId: NEW_KEY_ID }, 'REMOVE rotatingTo'],
      [{ apiKeyId: API_KEY_ID }, expect.stringContaining('retiredAt = if_not_exists(retiredAt, :now)')],
    ]);
    expect(owners[0]!.ExpressionAttributeValues).toMatchObject({ ':user': SUB, ':to': NEW_KEY_ID });
    expect(owners[1]!.ExpressionAttributeValues).toMatchObject({ ':user': SUB, ':to': NEW_KEY_ID });
    expect(owners[2]!.ExpressionAttributeValues).toMatchObject({ ':user': SUB, ':notAfter': NOW.toISOString() });
    expect(owners[3]!).toMatchObject({ ConditionExpression: 'rotatingTo = :to', ExpressionAttributeValues: { ':to': NEW_KEY_ID } });
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
      .on(UpdateCommand, { TableName: ACCOUNTS_TABLE })
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
    // The deleted key's owner record: recorded, then a tombstone; the old key's rotation mark set, then cleared.
    const owners = ddb.commandCalls(UpdateCommand, { TableName: KEY_OWNERS_TABLE }).map((c) => c.args[0].input);
    expect(owners.map((w) => [w.Key, w.UpdateExpression])).toEqual([
      [{ apiKeyId: NEW_KEY_ID }, expect.stringMatching(/^SET userId = :user/)],
      [{ apiKeyId: API_KEY_ID }, expect.stringContaining('rotatingTo = :to')],
      [{ apiKeyId: NEW_KEY_ID }, expect.stringContaining('retiredAt = if_not_exists(retiredAt, :now)')],
      [{ apiKeyId: API_KEY_ID }, 'REMOVE rotatingTo'],
    ]);
    expect(owners[3]!).toMatchObject({ ConditionExpression: 'rotatingTo = :to', ExpressionAttributeValues: { ':to': NEW_KEY_ID } });
  });

  it("takes a swap whose answer was lost as committed: the SDK's retry finds its own write, and nothing is undone", async () => {
    givenRotationSucceeds();
    // The first attempt committed, its answer was lost (a timeout, a 500); the SDK's retry finds the condition false.
    ddb
      .on(UpdateCommand, { TableName: ACCOUNTS_TABLE })
      .resolvesOnce({}) // the rotation lock
      .rejectsOnce(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }))
      .resolves({});
    ddb
      .on(GetCommand, { TableName: ACCOUNTS_TABLE, Key: { userId: SUB } })
      .resolvesOnce({ Item: account })
      .resolves({ Item: { ...account, apiKeyId: NEW_KEY_ID } });

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result).id).toBe(NEW_KEY_ID);
    // The account's key now: neither deleted nor its owner record retired.
    expect(apigw).not.toHaveReceivedCommandWith(DeleteApiKeyCommand, { apiKey: NEW_KEY_ID });
    expect(ddb).not.toHaveReceivedCommandWith(UpdateCommand, {
      TableName: KEY_OWNERS_TABLE,
      Key: { apiKeyId: NEW_KEY_ID },
      UpdateExpression: expect.stringContaining('retiredAt'),
    });
  });

  it('answers 409 when another rotation replaced the key meanwhile, pointing custom:apiid at that key', async () => {
    givenRotationSucceeds();
    ddb
      .on(UpdateCommand, { TableName: ACCOUNTS_TABLE })
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

  it("retires the new key's owner record even when the new key cannot be deleted (DeleteApiKey throttled)", async () => {
    givenRotationSucceeds();
    apigw.on(UpdateUsageCommand).rejects(awsError('BadRequestException', 'not supported'));
    apigw.on(DeleteApiKeyCommand).rejects(awsError('TooManyRequestsException'));

    const result = await handler(loadEvent('api-key-rotate'), context);

    expect(result.statusCode).toBe(500);
    // The new key stays enabled in its plan (API Gateway admits it): its record must refuse it in key-only mode.
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: KEY_OWNERS_TABLE,
      Key: { apiKeyId: NEW_KEY_ID },
      UpdateExpression: expect.stringContaining('retiredAt = if_not_exists(retiredAt, :now)'),
    });
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
      keys: new ApiGatewayKeyService(new APIGatewayClient({})),
      users: new CognitoUserDirectory(USER_POOL_ID, new CognitoIdentityProviderClient({})),
      accountKeys: new DynamoAccountKeyWriter(ACCOUNTS_TABLE),
      keyOwners: new DynamoKeyOwnerRecords(KEY_OWNERS_TABLE),
      ledger: new DynamoLedger(BILLING_TABLE),
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
