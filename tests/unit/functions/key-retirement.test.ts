/** KeyRetirementFunction: the key-retirement workflow's task (retire the rotated-away key once its overlap ends). */
import './env.ts';
import { APIGatewayClient, DeleteApiKeyCommand, DeleteUsagePlanKeyCommand, GetUsageCommand, UpdateApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { handler } from '../../../functions/key-retirement/handler.ts';
import { ACTIVE_ACCOUNT, SUB, context } from './helpers.ts';

const apigw = mockClient(APIGatewayClient);
const ddb = mockClient(DynamoDBDocumentClient);
beforeEach(() => {
  apigw.reset();
  ddb.reset();
});

const event = {
  userId: SUB,
  rotation: { id: 'n3wk3y0001', previousKeyId: 'o1dk3y0001', plan: 'free', usagePlanId: 'upfree0001', quotaCarriedOver: 0, retireAt: '2025-11-23T14:45:10Z' },
};

it('retires the old key: disable, keep its usage, detach, delete, forget previousKey; answers its id only', async () => {
  apigw.on(UpdateApiKeyCommand).resolves({});
  apigw.on(GetUsageCommand).resolves({ items: { o1dk3y0001: [[2, 998]] } });
  apigw.on(DeleteUsagePlanKeyCommand).resolves({});
  apigw.on(DeleteApiKeyCommand).resolves({});
  ddb.on(GetCommand).resolves({ Item: { ...ACTIVE_ACCOUNT } });
  ddb.on(UpdateCommand).resolves({});

  await expect(handler(event, context)).resolves.toEqual({ retired: 'o1dk3y0001' });

  expect(apigw).toHaveReceivedCommandWith(UpdateApiKeyCommand, { apiKey: 'o1dk3y0001' });
  expect(apigw).toHaveReceivedCommandWith(DeleteUsagePlanKeyCommand, { usagePlanId: 'upfree0001', keyId: 'o1dk3y0001' });
  expect(apigw).toHaveReceivedCommandWith(DeleteApiKeyCommand, { apiKey: 'o1dk3y0001' });
  expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { UpdateExpression: 'REMOVE previousKey, previousApiKeyId', ExpressionAttributeValues: { ':id': 'o1dk3y0001' } });
});

it('fails as KeyRetirement.NotRetired (retried by the workflow) when a step fails, naming the cause, not a value', async () => {
  apigw.on(UpdateApiKeyCommand).rejects(Object.assign(new Error('slow down'), { name: 'TooManyRequestsException' }));

  await expect(handler(event, context)).rejects.toMatchObject({ name: 'KeyRetirement.NotRetired', message: 'Retiring the key failed: TooManyRequestsException' });
  expect(apigw).not.toHaveReceivedCommand(DeleteApiKeyCommand);
});

it('fails as KeyRetirement.InvalidEvent, naming the fields, on a malformed event', async () => {
  await expect(handler({ userId: SUB, rotation: { id: 'x' } }, context)).rejects.toMatchObject({ name: 'KeyRetirement.InvalidEvent' });
  expect(apigw.calls()).toHaveLength(0);
});
