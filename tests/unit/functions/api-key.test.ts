import {
  APIGatewayClient,
  ConflictException,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  GetApiKeysCommand,
  TooManyRequestsException,
} from '@aws-sdk/client-api-gateway';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { API_KEY_FUNCTION_ERRORS, apiGatewayTaskError } from '../../../functions/api-key/errors.ts';
import { handler } from '../../../functions/api-key/handler.ts';
import { API_KEY_ID, SUB, context } from './helpers.ts';
import { KEY_OWNERS_TABLE } from './env.ts';

const apigw = mockClient(APIGatewayClient);
const dynamo = mockClient(DynamoDBDocumentClient);
const VALUE = 'a-secret-key-value-0123456789';

beforeEach(() => {
  apigw.reset();
  dynamo.reset();
  dynamo.on(UpdateCommand).resolves({});
});

const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode, requestId: 'req-1' } });

describe('find-or-create', () => {
  it('creates the key named by the sub, enabled and tagged, and answers with its id only', async () => {
    apigw.on(GetApiKeysCommand).resolves({ items: [] });
    apigw.on(CreateApiKeyCommand).resolves({ id: API_KEY_ID, value: VALUE, name: SUB, enabled: true });

    const result = await handler({ action: 'find-or-create', userId: SUB }, context);

    expect(result).toEqual({ Id: API_KEY_ID });
    expect(JSON.stringify(result)).not.toContain(VALUE);
    expect(apigw).toHaveReceivedCommandWith(GetApiKeysCommand, { nameQuery: SUB, includeValues: false });
    expect(apigw).toHaveReceivedCommandWith(CreateApiKeyCommand, { name: SUB, enabled: true, tags: { 'tollgate:userId': SUB } });
  });

  it('reuses the oldest key with exactly that name (nameQuery is a prefix match) and creates none', async () => {
    apigw.on(GetApiKeysCommand).resolves({
      items: [
        { id: 'longername', name: `${SUB}-x`, createdDate: new Date('2025-01-01') },
        { id: 'newer00001', name: SUB, createdDate: new Date('2025-02-02') },
        { id: 'older00001', name: SUB, createdDate: new Date('2025-02-01') },
      ],
    });

    await expect(handler({ action: 'find-or-create', userId: SUB }, context)).resolves.toEqual({ Id: 'older00001' });
    expect(apigw).toHaveReceivedCommandTimes(CreateApiKeyCommand, 0);
  });

  it("records the key's owner in the KeyOwners table before answering, for a found key and a created one alike", async () => {
    apigw.on(GetApiKeysCommand).resolves({ items: [{ id: 'older00001', name: SUB, createdDate: new Date('2025-02-01') }] });
    await handler({ action: 'find-or-create', userId: SUB }, context);
    apigw.on(GetApiKeysCommand).resolves({ items: [] });
    apigw.on(CreateApiKeyCommand).resolves({ id: API_KEY_ID, value: VALUE, name: SUB, enabled: true });
    await handler({ action: 'find-or-create', userId: SUB }, context);

    const writes = dynamo.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(writes.map((w) => [w.TableName, w.Key, w.ExpressionAttributeValues?.[':user']])).toEqual([
      [KEY_OWNERS_TABLE, { apiKeyId: 'older00001' }, SUB],
      [KEY_OWNERS_TABLE, { apiKeyId: API_KEY_ID }, SUB],
    ]);
    // Never another user's record, never undoing a rotation or retirement: only userId and the first createdAt.
    expect(writes[0]!.ConditionExpression).toBe('attribute_not_exists(apiKeyId) OR userId = :user');
    expect(writes[0]!.UpdateExpression).toBe('SET userId = :user, createdAt = if_not_exists(createdAt, :now)');
    expect(JSON.stringify(writes)).not.toContain(VALUE);
  });

  it('fails ApiKey.KeyOwnerNotRecorded (retried by the workflow) when the record cannot be written or names another user', async () => {
    apigw.on(GetApiKeysCommand).resolves({ items: [] });
    apigw.on(CreateApiKeyCommand).resolves({ id: API_KEY_ID, value: VALUE, name: SUB, enabled: true });
    dynamo.on(UpdateCommand).rejects(Object.assign(new Error('Throughput exceeds the current capacity'), { name: 'ProvisionedThroughputExceededException' }));
    await expect(handler({ action: 'find-or-create', userId: SUB }, context)).rejects.toMatchObject({
      name: 'ApiKey.KeyOwnerNotRecorded',
      message: 'KeyOwners: ProvisionedThroughputExceededException',
    });
    dynamo.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));
    await expect(handler({ action: 'find-or-create', userId: SUB }, context)).rejects.toMatchObject({ name: 'ApiKey.KeyOwnerNotRecorded' });
  });

  it('names a throttled CreateApiKey ApiGateway.TooManyRequestsException, as the aws-sdk integration does', async () => {
    apigw.on(GetApiKeysCommand).resolves({ items: [] });
    apigw.on(CreateApiKeyCommand).rejects(new TooManyRequestsException({ message: 'Too Many Requests', ...meta(429) }));

    const error = (await handler({ action: 'find-or-create', userId: SUB }, context).catch((e: unknown) => e)) as Error;
    expect(error.name).toBe('ApiGateway.TooManyRequestsException');
    expect(error.message).toBe('Too Many Requests (Service: ApiGateway, Status Code: 429, Request ID: req-1)');
  });
});

describe('attach', () => {
  it('adds the key to the plan and answers with the ids only (CreateUsagePlanKey answers with the value)', async () => {
    apigw.on(CreateUsagePlanKeyCommand).resolves({ id: API_KEY_ID, type: 'API_KEY', value: VALUE, name: SUB });

    const result = await handler({ action: 'attach', usagePlanId: 'plan000001', keyId: API_KEY_ID }, context);

    expect(result).toEqual({ UsagePlanId: 'plan000001', KeyId: API_KEY_ID });
    expect(apigw).toHaveReceivedCommandWith(CreateUsagePlanKeyCommand, { usagePlanId: 'plan000001', keyId: API_KEY_ID, keyType: 'API_KEY' });
  });

  it('names a key already in the plan ApiGateway.ConflictException', async () => {
    apigw.on(CreateUsagePlanKeyCommand).rejects(new ConflictException({ message: 'exists', ...meta(409) }));
    await expect(handler({ action: 'attach', usagePlanId: 'plan000001', keyId: API_KEY_ID }, context)).rejects.toMatchObject({
      name: 'ApiGateway.ConflictException',
    });
  });
});

describe('errors', () => {
  it('refuses a malformed event with ApiKey.InvalidEvent naming the fields', async () => {
    await expect(handler({ action: 'attach', usagePlanId: 'plan000001' }, context)).rejects.toMatchObject({
      name: 'ApiKey.InvalidEvent',
      message: expect.stringContaining('keyId'),
    });
    await expect(handler({ action: 'drop' }, context)).rejects.toMatchObject({ name: 'ApiKey.InvalidEvent' });
  });

  it('names an unmodeled answer ApiGateway.ApiGatewayException and no answer ApiGateway.SdkClientException', () => {
    const unmodeled = Object.assign(new Error('Access denied'), { name: 'AccessDeniedException', ...meta(403) });
    expect(apiGatewayTaskError(unmodeled).name).toBe('ApiGateway.ApiGatewayException');
    expect(apiGatewayTaskError(new Error('socket hang up')).name).toBe('ApiGateway.SdkClientException');
  });

  it('declares every name it can end with', () => {
    expect(API_KEY_FUNCTION_ERRORS).toEqual(
      expect.arrayContaining(['ApiGateway.TooManyRequestsException', 'ApiGateway.ConflictException', 'ApiGateway.BadRequestException', 'ApiKey.InvalidEvent']),
    );
  });
});
