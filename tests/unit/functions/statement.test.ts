// Over 400 lines: the statement function's events (resolve, close, page, final), each with its retry cases.
import { ACCOUNTS_TABLE, BILLING_TABLE } from './env.ts';
import { APIGatewayClient, GetUsageCommand, GetUsagePlansCommand } from '@aws-sdk/client-api-gateway';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { PlanAccount } from '#shared/accounts';
import { handler } from '../../../functions/statement/handler.ts';
import { API_KEY_ID, SUB, context, loadEvent } from './helpers.ts';

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
  prorationBasis: 'SECOND',
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
  /** Basic then pro in November: 35 requests on pro; the key is no longer in basic (GetUsage answers 404). */
  function givenBasicThenPro(): void {
    givenLedger([planStarted, planChanged]);
    apigw
      .on(GetUsageCommand, { usagePlanId: USAGE_PLANS.pro })
      .resolves({ items: { [API_KEY_ID]: [[10, 999990], [0, 999990], [25, 999965]] } });
    apigw
      .on(GetUsageCommand, { usagePlanId: USAGE_PLANS.basic })
      .rejects(Object.assign(new Error('Invalid Key identifier specified'), { name: 'NotFoundException' }));
    ddb.on(PutCommand).resolves({});
  }

  it("writes the user's statement for the period once, with the requests of the billed plans", async () => {
    givenAccount(account);
    givenBasicThenPro();

    const result = await invoke(loadEvent('statement-close'));

    expect(result).toEqual({ userId: SUB, period: '2025-11', written: true, totalCents: 5767 });
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
          // Held to the second: 15.5 days of basic (1,900 × 15.5 / 30 = 981.67) and 14.5 of pro (9,900 × 14.5 / 30 = 4,785).
          { plan: 'basic', from: '2025-11-01T00:00:00.000Z', to: '2025-11-16T12:00:00.000Z', seconds: 15.5 * 86_400, monthlyPrice: 19, amountCents: 982 },
          { plan: 'pro', from: '2025-11-16T12:00:00.000Z', to: '2025-12-01T00:00:00.000Z', seconds: 14.5 * 86_400, monthlyPrice: 99, amountCents: 4785 },
        ],
        requests: 35,
        totalCents: 5767,
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

  it('counts the requests of the keys and plans the account left, as GET /me/usage does (usage history)', async () => {
    givenAccount({
      ...account,
      usageHistory: {
        // A rotated-away key on basic, and the current key's days on basic before it moved to pro.
        'rotation-1': { keyId: 'oldk3y0001', usagePlanId: USAGE_PLANS.basic, recordedAt: '2025-11-05T00:00:00.000Z', days: { '2025-10-31': 99, '2025-11-03': 6 } },
        'plan-change-1': { keyId: API_KEY_ID, usagePlanId: USAGE_PLANS.basic, recordedAt: '2025-11-16T12:00:00.000Z', days: { '2025-11-10': 4 } },
      },
    } as PlanAccount);
    givenBasicThenPro();

    await invoke(loadEvent('statement-close'));

    // 35 on pro (live) + 6 of the old key + 4 of the current key on basic; October's 99 are not November's.
    expect(ddb).toHaveReceivedCommandWith(PutCommand, { Item: expect.objectContaining({ period: '2025-11', requests: 35 + 6 + 4 }) });
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

    expect(result).toEqual({ userId: SUB, period: '2025-11', written: true, totalCents: 5767 });
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

describe('start-close', () => {
  it('starts the scheduled close (the fixture: input {} at 00:15 on 1 December) on November', async () => {
    await expect(invoke(loadEvent('statement-start-close'))).resolves.toEqual({
      period: '2025-11',
      periodStart: '2025-11-01T00:00:00.000Z',
      periodEnd: '2025-12-01T00:00:00.000Z',
      pageSize: 100,
      pagesPerExecution: 500,
      executionPages: 0,
      progress: { pages: 0, accounts: 0, billed: 0, written: 0, existing: 0, executions: 1 },
      next: 'PAGE',
    });
  });

  it('starts from the workflow input, or fails by name on a bad one', async () => {
    await expect(invoke({ action: 'start-close', input: {}, asOf: '2025-12-01T00:15:00Z' })).resolves.toMatchObject({
      period: '2025-11',
      pageSize: 100,
      pagesPerExecution: 500,
      next: 'PAGE',
    });
    expect((await errorOf(invoke({ action: 'start-close', input: { period: '2025-13' }, asOf: '2025-12-01T00:15:00Z' }))).name).toBe('InvalidPeriod');
    expect((await errorOf(invoke({ action: 'start-close', input: { pageSize: 0 }, asOf: '2025-12-01T00:15:00Z' }))).name).toBe('InvalidEvent');
    expect((await errorOf(invoke({ action: 'start-close', input: { pagesPerExecution: 901 }, asOf: '2025-12-01T00:15:00Z' }))).name).toBe('InvalidEvent');
    expect(await errorOf(invoke({ action: 'start-close', input: { perod: '2025-10' }, asOf: '2025-12-01T00:15:00Z' }))).toMatchObject({ name: 'InvalidEvent', message: 'input: Unknown field(s): perod' });
  });
});

describe('close-page', () => {
  const close = {
    period: '2025-11',
    periodStart: '2025-11-01T00:00:00.000Z',
    periodEnd: '2025-12-01T00:00:00.000Z',
    pageSize: 3,
    pagesPerExecution: 500,
    startKey: { userId: 'before' },
    executionPages: 0,
    progress: { pages: 0, accounts: 0, billed: 0, written: 0, existing: 0, executions: 1 },
    next: 'PAGE',
  };

  it('scans one page, batch-reads the statements, writes only the missing ones conditionally', async () => {
    ddb.on(ScanCommand).resolves({
      Items: [
        { userId: SUB, status: 'ACTIVE', apiKeyId: API_KEY_ID },
        { userId: 'other', status: 'ACTIVE' },
        { userId: 'gone', status: 'CLOSED', closedAt: '2025-11-20T00:00:00.000Z' },
      ],
      LastEvaluatedKey: { userId: 'other' },
    });
    ddb.on(BatchGetCommand).resolves({ Responses: { [BILLING_TABLE]: [{ userId: 'other' }] } });
    givenLedger([planStarted]);
    apigw.on(GetUsageCommand).resolves({ items: { [API_KEY_ID]: [[7, 0]] } });
    ddb.on(PutCommand).resolves({});

    const next = await invoke({ action: 'close-page', close });

    expect(next).toEqual({
      ...close,
      startKey: { userId: 'other' },
      executionPages: 1,
      progress: { pages: 1, accounts: 3, billed: 2, written: 1, existing: 1, executions: 1 },
      next: 'PAGE',
    });
    expect(ddb).toHaveReceivedCommandWith(ScanCommand, { TableName: ACCOUNTS_TABLE, Limit: 3, ConsistentRead: true, ExclusiveStartKey: { userId: 'before' } });
    expect(ddb).toHaveReceivedCommandWith(BatchGetCommand, {
      RequestItems: { [BILLING_TABLE]: expect.objectContaining({ Keys: [{ userId: SUB, entryId: '2025-12-01T00:00:00.000Z#STATEMENT#2025-11' }, { userId: 'other', entryId: '2025-12-01T00:00:00.000Z#STATEMENT#2025-11' }], ConsistentRead: true }) },
    });
    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: BILLING_TABLE,
      ConditionExpression: 'attribute_not_exists(entryId)',
      Item: expect.objectContaining({ userId: SUB, type: 'STATEMENT', period: '2025-11', totalCents: 1900, requests: 7 }),
    });
  });

  it('asks again for keys BatchGetItem left unprocessed', async () => {
    ddb.on(ScanCommand).resolves({ Items: [{ userId: SUB, status: 'ACTIVE' }, { userId: 'other', status: 'ACTIVE' }] });
    const key = (userId: string) => ({ userId, entryId: '2025-12-01T00:00:00.000Z#STATEMENT#2025-11' });
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ Responses: { [BILLING_TABLE]: [{ userId: SUB }] }, UnprocessedKeys: { [BILLING_TABLE]: { Keys: [key('other')] } } })
      .resolvesOnce({ Responses: { [BILLING_TABLE]: [{ userId: 'other' }] } });

    await expect(invoke({ action: 'close-page', close })).resolves.toMatchObject({ next: 'DONE', progress: { written: 0, existing: 2 } });
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 2);
    expect(ddb).toHaveReceivedNthCommandWith(3, BatchGetCommand, { RequestItems: { [BILLING_TABLE]: expect.objectContaining({ Keys: [key('other')] }) } });
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });
});

describe('a period that has not ended', () => {
  const notEnded = { name: 'Billing.PeriodNotEnded', message: expect.stringMatching(/^Period \d{4}-\d\d has not ended: it can be closed from /) };

  it.each([
    ['resolve-period, the current month', { action: 'resolve-period', period: '2025-12', asOf: '2025-12-31T23:59:59Z' }],
    ['resolve-period, a future month', { action: 'resolve-period', input: { period: '2027-03' }, asOf: '2025-12-01T00:15:00Z' }],
    ['start-close, the current month', { action: 'start-close', input: { period: '2025-12' }, asOf: '2025-12-01T00:15:00Z' }],
    ['start-close, a future month', { action: 'start-close', input: { period: '2027-03' }, asOf: '2025-12-01T00:15:00Z' }],
    ['close (by hand), a future month', { action: 'close', userId: SUB, period: '2999-01' }],
  ])('is refused by name with a clear message: %s', async (_label, event) => {
    await expect(errorOf(invoke(event))).resolves.toMatchObject(notEnded);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('is not what the scheduled run closes: {} at 00:15 on the 1st closes the month that just ended', async () => {
    await expect(invoke({ action: 'start-close', input: {}, asOf: '2026-03-01T00:15:00Z' })).resolves.toMatchObject({ period: '2026-02', periodEnd: '2026-03-01T00:00:00.000Z' });
  });
});

describe('final (offboarding)', () => {
  const closedAt = '2025-11-20T15:30:00.000Z';
  const closed = { userId: SUB, entryId: `${closedAt}#ACCOUNT_CLOSED`, type: 'ACCOUNT_CLOSED', effectiveAt: closedAt };

  it('records ACCOUNT_CLOSED once, then the missing October statement and November prorated to the closing instant', async () => {
    givenAccount(account);
    givenLedger([planStarted, closed]);
    apigw.on(GetUsageCommand).resolves({ items: { [API_KEY_ID]: [[7, 993]] } });
    ddb.on(PutCommand).resolves({});

    const result = await invoke({ action: 'final', userId: SUB, closedAt });

    expect(result).toEqual({
      userId: SUB,
      closedAt,
      statements: [
        // From Oct 2 09:00 (29 days 15 h of a 31-day month): 1,900 × 2,559,600 / 2,678,400 = 1,815.73
        { userId: SUB, period: '2025-10', written: true, totalCents: 1816 },
        // To Nov 20 15:30 (19 days 15.5 h of 30): 1,900 × 1,697,400 / 2,592,000 = 1,244.24
        { userId: SUB, period: '2025-11', written: true, totalCents: 1244 },
      ],
    });
    const puts = ddb.commandCalls(PutCommand).map((call) => call.args[0].input);
    expect(puts[0]).toMatchObject({
      Item: { userId: SUB, entryId: `${closedAt}#ACCOUNT_CLOSED`, type: 'ACCOUNT_CLOSED', effectiveAt: closedAt },
      ConditionExpression: 'attribute_not_exists(entryId)',
    });
    expect(puts[2]).toMatchObject({ Item: { entryId: '2025-12-01T00:00:00.000Z#STATEMENT#2025-11', requests: 7, lines: [expect.objectContaining({ to: closedAt, seconds: 19 * 86_400 + 15.5 * 3_600 })] } });
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
