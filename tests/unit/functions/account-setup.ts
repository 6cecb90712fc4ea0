/**
 * The AccountFunction's key, usage and billing route tests share this setup (account.test.ts, split by route): the
 * environment, mocked clients (reset before each case), the fake idempotency table, fixtures and a frozen clock.
 */
import { ACCOUNTS_TABLE, BILLING_TABLE, IDEMPOTENCY_TABLE, KEY_OWNERS_TABLE, USER_POOL_ID } from './env.ts';
import {
  APIGatewayClient, CreateApiKeyCommand, CreateUsagePlanKeyCommand, DeleteApiKeyCommand, DeleteUsagePlanKeyCommand,
  GetApiKeyCommand, GetUsageCommand, GetUsagePlansCommand, UpdateApiKeyCommand, UpdateUsageCommand
} from '@aws-sdk/client-api-gateway';
import {
  AdminUpdateUserAttributesCommand, CognitoIdentityProviderClient
} from '@aws-sdk/client-cognito-identity-provider';
import {
  ConditionalCheckFailedException, DeleteItemCommand, DynamoDBClient, GetItemCommand, PutItemCommand,
  UpdateItemCommand, type AttributeValue
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { PlanAccount } from '#shared/accounts';
import { API_KEY_ID, SUB, ACTIVE_ACCOUNT } from './helpers.ts';
import * as accountHandler from '../../../functions/account/handler.ts';
import 'aws-sdk-client-mock-jest';

export { BILLING_TABLE, IDEMPOTENCY_TABLE, USER_POOL_ID };
export const mod = accountHandler;
export const { handler } = mod;

export const ddb = mockClient(DynamoDBDocumentClient);
/** The idempotency layer's client (low-level DynamoDB). */
export const idempotencyDdb = mockClient(DynamoDBClient);
export const apigw = mockClient(APIGatewayClient);
export const cognito = mockClient(CognitoIdentityProviderClient);

/** Sunday 23 November 2025, 13:45:10 UTC: the fixtures' request time. */
export const NOW = new Date('2025-11-23T13:45:10.000Z');
export const NEW_KEY_ID = 'n3wk3y0001';
export const NEW_KEY_VALUE = 'NEW-KEY-VALUE-0123456789abcdefghijklmn';
export const USAGE_PLANS = { free: 'up-free', basic: 'up-basic', pro: 'up-pro' };

export const account: PlanAccount = ACTIVE_ACCOUNT;

export function givenAccount(item: PlanAccount | undefined): void {
  ddb.on(GetCommand, { TableName: ACCOUNTS_TABLE, Key: { userId: SUB } }).resolves(item ? { Item: item } : {});
}

export const awsError = (name: string, message = name): Error => Object.assign(new Error(message), { name });

export function withHeaders(event: APIGatewayProxyEvent, changes: Record<string, string | undefined>): APIGatewayProxyEvent {
  const headers = { ...event.headers };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return { ...event, headers };
}

/** An in-memory idempotency table: enough of DynamoDB for Powertools' conditional put, update, get and delete. */
export const records = new Map<string, Record<string, AttributeValue>>();
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

export function givenUsagePlans(): void {
  apigw.on(GetUsagePlansCommand).resolves({
    items: Object.entries(USAGE_PLANS).map(([plan, id]) => ({ id, name: `tollgate-${plan}` })),
  });
}

/** A rotation where every call succeeds; tests override the step they break. */
export function givenRotationSucceeds(usage: [number, number][] = [[10, 990], [5, 985]]): void {
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
  // The KeyOwners records (the new key's, the old key's end and retirement): tests break the account's writes alone.
  ddb.on(UpdateCommand, { TableName: KEY_OWNERS_TABLE }).resolves({});
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
