/** AccountFunction, GET /me/usage (split by route from account.test.ts; shared setup in ./account-setup.ts). */
import { ACCOUNTS_TABLE } from './env.ts';
import {
  ddb, apigw, NOW, USAGE_PLANS, account, givenAccount, awsError, givenUsagePlans, handler
} from './account-setup.ts';
import { GetUsageCommand } from '@aws-sdk/client-api-gateway';
import { API_KEY_ID, bodyOf, context, describeTokenOnlyChecks, loadEvent, withQuery } from './helpers.ts';
import 'aws-sdk-client-mock-jest';

describeTokenOnlyChecks(handler, ddb, { accounts: ACCOUNTS_TABLE }, ['usage-get']);

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
