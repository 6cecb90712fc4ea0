import { ACCOUNTS_TABLE } from './env.ts';
import { APIGatewayClient, GetUsageCommand, GetUsagePlansCommand } from '@aws-sdk/client-api-gateway';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { PlanAccount } from '#shared/plans';
import { API_KEY_ID, SUB, context, loadEvent } from './helpers.ts';

const BILLING_TABLE = 'tollgate-test-billing';
process.env.BILLING_TABLE = BILLING_TABLE;
process.env.USAGE_PLAN_NAME_PREFIX = 'tollgate-';

// The handler reads these at module load: required after they are set (imports are hoisted).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { handler } = require('../../../functions/statement/handler.ts') as typeof import('../../../functions/statement/handler.ts');

const ddb = mockClient(DynamoDBDocumentClient);
const apigw = mockClient(APIGatewayClient);

const USAGE_PLANS = { free: 'up-free', basic: 'up-basic', pro: 'up-pro' };
const account: PlanAccount = { userId: SUB, apiKeyId: API_KEY_ID, plan: 'pro', status: 'ACTIVE', version: 5 };
const planStarted = {
  userId: SUB,
  entryId: '2025-10-02T09:00:00.000Z#PLAN_STARTED#onboard-x',
  type: 'PLAN_STARTED',
  plan: 'basic',
  monthlyPrice: 19,
  currency: 'USD',
  effectiveAt: '2025-10-02T09:00:00.000Z',
  executionId: 'arn:aws:states:us-east-1:123456789012:execution:tollgate-onboarding:onboard-x',
};
const planChanged = {
  userId: SUB,
  entryId: '2025-11-16T12:00:00.000Z#PLAN_CHANGED#plan-y',
  type: 'PLAN_CHANGED',
  fromPlan: 'basic',
  toPlan: 'pro',
  plan: 'pro',
  fromPrice: 19,
  toPrice: 99,
  monthlyPrice: 99,
  currency: 'USD',
  effectiveAt: '2025-11-16T12:00:00.000Z',
  prorationBasis: 'DAILY',
  executionId: 'arn:aws:states:us-east-1:123456789012:execution:tollgate-plan-change:plan-y',
};

type StatementEvent = Record<string, unknown>;
const invoke = (event: unknown) => handler(event as StatementEvent, context);

async function errorOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error: unknown) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

function givenAccount(item: PlanAccount | undefined): void {
  ddb.on(GetCommand, { TableName: ACCOUNTS_TABLE, Key: { userId: SUB } }).resolves(item ? { Item: item } : {});
}

function givenLedger(items: Record<string, unknown>[]): void {
  ddb.on(QueryCommand, { TableName: BILLING_TABLE }).resolves({ Items: items });
}

beforeEach(() => {
  ddb.reset();
  apigw.reset();
  apigw.on(GetUsagePlansCommand).resolves({
    items: Object.entries(USAGE_PLANS).map(([plan, id]) => ({ id, name: `tollgate-${plan}` })),
  });
});

describe('resolve-period', () => {
  it('closes the month before asOf (the fixture: the schedule on 1 December)', async () => {
    await expect(invoke(loadEvent('statement-resolve-period'))).resolves.toEqual({
      period: '2025-11',
      periodStart: '2025-11-01T00:00:00.000Z',
      periodEnd: '2025-12-01T00:00:00.000Z',
    });
  });

  it('closes the period given, whatever asOf says', async () => {
    await expect(
      invoke({ action: 'resolve-period', period: '2024-02', asOf: '2025-12-01T00:15:00Z' }),
    ).resolves.toEqual({ period: '2024-02', periodStart: '2024-02-01T00:00:00.000Z', periodEnd: '2024-03-01T00:00:00.000Z' });
  });

  it("takes the period from the workflow's own input, passed whole as input", async () => {
    await expect(
      invoke({ action: 'resolve-period', input: { period: '2025-09' }, asOf: '2025-12-01T00:15:00Z' }),
    ).resolves.toMatchObject({ period: '2025-09' });
    await expect(invoke({ action: 'resolve-period', input: {}, asOf: '2025-12-01T00:15:00Z' })).resolves.toMatchObject({
      period: '2025-11',
    });
  });

  it('reads asOf in UTC and crosses the year boundary', async () => {
    await expect(invoke({ action: 'resolve-period', asOf: '2026-01-01T00:30:00+01:00' })).resolves.toMatchObject({
      period: '2025-11',
    });
    await expect(invoke({ action: 'resolve-period', asOf: '2026-01-01T00:15:00.123Z' })).resolves.toMatchObject({
      period: '2025-12',
    });
  });

  it.each([
    ['a month 13', { action: 'resolve-period', period: '2025-13', asOf: '2025-12-01T00:15:00Z' }],
    ['a short period', { action: 'resolve-period', period: '2025-1', asOf: '2025-12-01T00:15:00Z' }],
    ['an asOf that is not a date-time', { action: 'resolve-period', asOf: 'yesterday' }],
    ['a date without a time', { action: 'resolve-period', asOf: '2025-12-01' }],
    ['no asOf', { action: 'resolve-period' }],
    ['a bad period in the workflow input', { action: 'resolve-period', input: { period: 'May' }, asOf: '2025-12-01T00:15:00Z' }],
    ['a close with a bad period', { action: 'close', userId: SUB, period: '2025-11-01' }],
  ])('fails with an error named InvalidPeriod for %s', async (_label, event) => {
    const error = await errorOf(invoke(event));

    expect(error.name).toBe('InvalidPeriod');
    expect(ddb.calls()).toHaveLength(0);
  });

  it.each([
    ['an unknown action', { action: 'reopen', period: '2025-11' }],
    ['no action', { period: '2025-11' }],
    ['a close without userId', { action: 'close', period: '2025-11' }],
    ['null', null],
  ])('fails with an error named InvalidEvent for %s', async (_label, event) => {
    const error = await errorOf(invoke(event));

    expect(error.name).toBe('InvalidEvent');
    expect(ddb.calls()).toHaveLength(0);
  });
});

describe('close', () => {
  it("writes the user's statement for the period once, with the requests of the billed plans", async () => {
    givenAccount(account);
    givenLedger([planStarted, planChanged]);
    apigw
      .on(GetUsageCommand, { usagePlanId: USAGE_PLANS.pro })
      .resolves({ items: { [API_KEY_ID]: [[10, 999990], [0, 999990], [25, 999965]] } });
    apigw
      .on(GetUsageCommand, { usagePlanId: USAGE_PLANS.basic })
      .rejects(Object.assign(new Error('Invalid Key identifier specified'), { name: 'NotFoundException' }));
    ddb.on(PutCommand).resolves({});

    const result = await invoke(loadEvent('statement-close'));

    expect(result).toEqual({ userId: SUB, period: '2025-11', written: true, totalCents: 5900 });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: BILLING_TABLE,
      ConditionExpression: 'attribute_not_exists(entryId)',
      Item: {
        userId: SUB,
        entryId: '2025-12-01T00:00:00.000Z#STATEMENT#2025-11',
        type: 'STATEMENT',
        period: '2025-11',
        periodStart: '2025-11-01T00:00:00.000Z',
        periodEnd: '2025-12-01T00:00:00.000Z',
        lines: [
          { plan: 'basic', from: '2025-11-01T00:00:00.000Z', to: '2025-11-16T00:00:00.000Z', days: 15, monthlyPrice: 19, amountCents: 950 },
          { plan: 'pro', from: '2025-11-16T00:00:00.000Z', to: '2025-12-01T00:00:00.000Z', days: 15, monthlyPrice: 99, amountCents: 4950 },
        ],
        requests: 35,
        totalCents: 5900,
        currency: 'USD',
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      },
    });
    for (const usagePlanId of [USAGE_PLANS.basic, USAGE_PLANS.pro]) {
      expect(apigw).toHaveReceivedCommandWith(GetUsageCommand, {
        usagePlanId,
        keyId: API_KEY_ID,
        startDate: '2025-11-01',
        endDate: '2025-11-30',
      });
    }
    expect(apigw).not.toHaveReceivedCommandWith(GetUsageCommand, { usagePlanId: USAGE_PLANS.free });
  });

  it('reads only plan entries of the user, every page', async () => {
    givenAccount(account);
    ddb
      .on(QueryCommand, { TableName: BILLING_TABLE })
      .resolvesOnce({ Items: [planStarted], LastEvaluatedKey: { userId: SUB, entryId: planStarted.entryId } })
      .resolvesOnce({ Items: [planChanged] });
    apigw.on(GetUsageCommand).resolves({ items: {} });
    ddb.on(PutCommand).resolves({});

    const result = await invoke(loadEvent('statement-close'));

    expect(result).toEqual({ userId: SUB, period: '2025-11', written: true, totalCents: 5900 });
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 2);
    expect(ddb).toHaveReceivedNthCommandWith(2, QueryCommand, {
      TableName: BILLING_TABLE,
      KeyConditionExpression: 'userId = :userId',
      FilterExpression: '#type IN (:started, :changed, :closed)',
      ExpressionAttributeValues: { ':userId': SUB, ':started': 'PLAN_STARTED', ':changed': 'PLAN_CHANGED', ':closed': 'ACCOUNT_CLOSED' },
    });
  });

  it('writes nothing new on a rerun: the statement exists', async () => {
    givenAccount(account);
    givenLedger([planStarted]);
    apigw.on(GetUsageCommand).resolves({ items: {} });
    ddb.on(PutCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));

    await expect(invoke(loadEvent('statement-close'))).resolves.toEqual({ userId: SUB, period: '2025-11', written: false, reason: 'EXISTS' });
  });

  it('skips a user without an account', async () => {
    givenAccount(undefined);

    await expect(invoke(loadEvent('statement-close'))).resolves.toEqual({ userId: SUB, period: '2025-11', written: false, reason: 'NOT_FOUND' });
    expect(ddb).not.toHaveReceivedCommand(QueryCommand);
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('counts no requests for an account without a key', async () => {
    givenAccount({ ...account, apiKeyId: undefined, status: 'FAILED' });
    givenLedger([planStarted]);
    ddb.on(PutCommand).resolves({});

    await expect(invoke(loadEvent('statement-close'))).resolves.toMatchObject({ written: true, totalCents: 1900 });
    expect(apigw).not.toHaveReceivedCommand(GetUsageCommand);
    expect(ddb).toHaveReceivedCommandWith(PutCommand, { Item: expect.objectContaining({ requests: 0 }) });
  });

  it('writes an empty statement when nothing was billed in the period', async () => {
    givenAccount(account);
    givenLedger([{ ...planStarted, entryId: '2025-12-03T10:00:00.000Z#PLAN_STARTED#x', effectiveAt: '2025-12-03T10:00:00.000Z' }]);
    ddb.on(PutCommand).resolves({});

    await expect(invoke(loadEvent('statement-close'))).resolves.toMatchObject({ written: true, totalCents: 0 });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      Item: expect.objectContaining({ lines: [], totalCents: 0, requests: 0 }),
    });
    expect(apigw).not.toHaveReceivedCommand(GetUsageCommand);
  });

  it('fails (for the workflow to retry) when usage cannot be read', async () => {
    givenAccount(account);
    givenLedger([planStarted]);
    apigw.on(GetUsageCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }));

    const error = await errorOf(invoke(loadEvent('statement-close')));

    expect(error.name).toBe('TooManyRequestsException');
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });

  it('fails when the write fails otherwise', async () => {
    givenAccount(account);
    givenLedger([planStarted]);
    apigw.on(GetUsageCommand).resolves({ items: {} });
    ddb.on(PutCommand).rejects(Object.assign(new Error('Throughput exceeded'), { name: 'ProvisionedThroughputExceededException' }));

    const error = await errorOf(invoke(loadEvent('statement-close')));

    expect(error.name).toBe('ProvisionedThroughputExceededException');
  });
});

describe('final (offboarding)', () => {
  const closedAt = '2025-11-20T15:30:00.000Z';
  const closed = { userId: SUB, entryId: `${closedAt}#ACCOUNT_CLOSED`, type: 'ACCOUNT_CLOSED', effectiveAt: closedAt };

  it('records ACCOUNT_CLOSED once, then the missing October statement and November prorated to the closing day', async () => {
    givenAccount(account);
    givenLedger([planStarted, closed]);
    apigw.on(GetUsageCommand).resolves({ items: { [API_KEY_ID]: [[7, 993]] } });
    ddb.on(PutCommand).resolves({});

    const result = await invoke({ action: 'final', userId: SUB, closedAt });

    expect(result).toEqual({
      userId: SUB,
      closedAt,
      statements: [
        { userId: SUB, period: '2025-10', written: true, totalCents: 1839 }, // 1900 * 30 / 31 (from Oct 2)
        { userId: SUB, period: '2025-11', written: true, totalCents: 1203 }, // 1900 * 19 / 30 (Nov 1–19)
      ],
    });
    const puts = ddb.commandCalls(PutCommand).map((call) => call.args[0].input);
    expect(puts[0]).toMatchObject({
      Item: { userId: SUB, entryId: `${closedAt}#ACCOUNT_CLOSED`, type: 'ACCOUNT_CLOSED', effectiveAt: closedAt },
      ConditionExpression: 'attribute_not_exists(entryId)',
    });
    expect(puts[2]).toMatchObject({ Item: { entryId: '2025-12-01T00:00:00.000Z#STATEMENT#2025-11', requests: 7, lines: [expect.objectContaining({ days: 19 })] } });
  });

  it('writes no statement for a previous month with nothing billed in it', async () => {
    givenAccount(account);
    givenLedger([{ ...planStarted, entryId: '2025-11-03T00:00:00.000Z#PLAN_STARTED#x', effectiveAt: '2025-11-03T00:00:00.000Z' }, closed]);
    apigw.on(GetUsageCommand).resolves({ items: {} });
    ddb.on(PutCommand).resolves({});

    const result = (await invoke({ action: 'final', userId: SUB, closedAt })) as { statements: unknown[] };

    expect(result.statements[0]).toEqual({ userId: SUB, period: '2025-10', written: false, reason: 'EMPTY' });
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 2);
  });

  it('refuses a malformed closedAt as InvalidEvent (a workflow bug, not retried)', async () => {
    expect((await errorOf(invoke({ action: 'final', userId: SUB, closedAt: 'yesterday' }))).name).toBe('InvalidEvent');
  });
});
