/** AccountFunction, GET /me/billing (split by route from account.test.ts; shared setup in ./account-setup.ts). */
import { ACCOUNTS_TABLE } from './env.ts';
import { BILLING_TABLE, ddb, handler } from './account-setup.ts';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { encodeNextToken } from '#shared/pagination';
import {
  OTHER_SUB, SUB, bodyOf, context, describeTokenOnlyChecks, expectGenericServerError, loadEvent, requestsTo,
  withQuery
} from './helpers.ts';
import 'aws-sdk-client-mock-jest';

describeTokenOnlyChecks(handler, ddb, { accounts: ACCOUNTS_TABLE }, ['billing-get']);

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
