import { PLAN_CATALOG } from './env.ts';
import { APIGatewayClient, GetUsagePlansCommand } from '@aws-sdk/client-api-gateway';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { readOnce, requireActive, type Account } from '#shared/accounts';
import { dayKey, quotaPeriodStart } from '#shared/dates';
import { ConflictError, UsagePlanNotFoundError } from '#shared/errors';
import { findPlan, parsePlanCatalog, planCatalog } from '#shared/plans';
import { UsagePlanDirectory, usagePlanLookup } from '#shared/usage-plans';

const apigw = mockClient(APIGatewayClient);
const client = new APIGatewayClient({ region: 'us-east-1' });
let usagePlanIdFor: (plan: string) => Promise<string>;

beforeEach(() => {
  apigw.reset();
  // A fresh lookup (and cache) per test, built as the functions build theirs.
  usagePlanIdFor = usagePlanLookup('tollgate-', (position) =>
    client.send(new GetUsagePlansCommand({ limit: 500, ...(position ? { position } : {}) })),
  );
});

describe('plan catalogue', () => {
  it('parses PLAN_CATALOG once per container', () => {
    const first = planCatalog();

    expect(first.map((plan) => plan.name)).toEqual(['free', 'basic', 'pro']);
    expect(planCatalog()).toBe(first);
    expect(first[1]).toEqual({ ...PLAN_CATALOG[1], currency: 'USD' });
  });

  it('finds a plan by name', () => {
    const catalog = parsePlanCatalog(JSON.stringify(PLAN_CATALOG));

    expect(findPlan(catalog, 'pro')?.monthlyPrice).toBe(99);
    expect(findPlan(catalog, 'enterprise')).toBeUndefined();
    expect(findPlan(catalog, undefined)).toBeUndefined();
  });
});

describe('usagePlanLookup (usagePlanIdFor)', () => {
  it('lists every page of GetUsagePlans once, and answers from the cache afterwards', async () => {
    apigw
      .on(GetUsagePlansCommand)
      .resolvesOnce({
        items: [
          { id: 'up-free', name: 'tollgate-free' },
          { id: 'up-other', name: 'another-stack-pro' },
        ],
        position: 'page-2',
      })
      .resolvesOnce({ items: [{ id: 'up-basic', name: 'tollgate-basic' }, { id: 'up-pro', name: 'tollgate-pro' }] });

    const ids = [await usagePlanIdFor('pro'), await usagePlanIdFor('free'), await usagePlanIdFor('basic')];

    expect(ids).toEqual(['up-pro', 'up-free', 'up-basic']);
    expect(apigw).toHaveReceivedCommandTimes(GetUsagePlansCommand, 2);
    expect(apigw).toHaveReceivedNthCommandWith(1, GetUsagePlansCommand, { limit: 500 });
    expect(apigw).toHaveReceivedNthCommandWith(2, GetUsagePlansCommand, { limit: 500, position: 'page-2' });
  });

  it('lists once for concurrent first calls', async () => {
    apigw.on(GetUsagePlansCommand).resolves({ items: [{ id: 'up-pro', name: 'tollgate-pro' }] });

    await Promise.all([usagePlanIdFor('pro'), usagePlanIdFor('pro'), usagePlanIdFor('pro')]);

    expect(apigw).toHaveReceivedCommandTimes(GetUsagePlansCommand, 1);
  });

  it('throws a 500-type error when the plan is missing (another stack with the same plan names does not count)', async () => {
    apigw.on(GetUsagePlansCommand).resolves({ items: [{ id: 'up-x', name: 'other-pro' }] });

    const error = await usagePlanIdFor('pro').catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UsagePlanNotFoundError);
    expect(error).toMatchObject({ statusCode: 500, code: 'PlanUnavailable', plan: 'pro' });
  });

  it('does not cache a failed listing', async () => {
    apigw
      .on(GetUsagePlansCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }))
      .resolves({ items: [{ id: 'up-pro', name: 'tollgate-pro' }] });

    await expect(usagePlanIdFor('pro')).rejects.toThrow('Rate exceeded');
    await expect(usagePlanIdFor('pro')).resolves.toBe('up-pro');
  });

  it('works with any lister (the directory the default builds)', async () => {
    const lister = jest.fn().mockResolvedValue({ items: [{ id: 'p1', name: 'x-free' }, { name: 'x-basic' }] });
    const directory = new UsagePlanDirectory('x-', lister);

    await expect(directory.idFor('free')).resolves.toBe('p1');
    await expect(directory.idFor('basic')).rejects.toBeInstanceOf(UsagePlanNotFoundError);
    expect(lister).toHaveBeenCalledTimes(1);
  });
});

describe('quotaPeriodStart', () => {
  // Sunday 23 November 2025, 13:45 UTC
  const now = new Date('2025-11-23T13:45:10.000Z');

  it('starts a DAY quota at UTC midnight, a WEEK on Monday, a MONTH on the 1st', () => {
    expect(quotaPeriodStart('DAY', now)).toBe('2025-11-23');
    expect(quotaPeriodStart('WEEK', now)).toBe('2025-11-17');
    expect(quotaPeriodStart('MONTH', now)).toBe('2025-11-01');
  });

  it('counts a Monday as the first day of its own week, and works across a month boundary', () => {
    expect(quotaPeriodStart('WEEK', new Date('2025-11-17T00:00:00.000Z'))).toBe('2025-11-17');
    expect(quotaPeriodStart('WEEK', new Date('2025-10-02T08:00:00.000Z'))).toBe('2025-09-29');
  });

  it('formats days in UTC', () => {
    expect(dayKey(new Date('2025-11-30T23:30:00-05:00'))).toBe('2025-12-01');
  });
});

describe('requireActive', () => {
  const active: Account = { userId: 'u', status: 'ACTIVE', apiKeyId: 'k', plan: 'free' };

  it('passes an ACTIVE account with a key and a plan', () => {
    expect(requireActive(active)).toBe(active);
  });

  it.each([
    ['no account', undefined, 'NONE'],
    ['an ONBOARDING account', { ...active, status: 'ONBOARDING' as const }, 'ONBOARDING'],
    ['a FAILED account', { ...active, status: 'FAILED' as const }, 'FAILED'],
    ['an ACTIVE account without a key', { ...active, apiKeyId: undefined }, 'ACTIVE'],
  ])('answers 409 for %s', (_label, account, status) => {
    expect(() => requireActive(account)).toThrow(ConflictError);
    try {
      requireActive(account);
    } catch (error: unknown) {
      expect(error).toMatchObject({ statusCode: 409, details: { status } });
    }
  });
});

describe('readOnce', () => {
  it('reads each account once per wrapper', async () => {
    const get = jest.fn().mockResolvedValue({ userId: 'u', status: 'ACTIVE' });
    const store = readOnce({ get });

    await Promise.all([store.get('u'), store.get('u')]);
    await store.get('v');

    expect(get).toHaveBeenCalledTimes(2);
  });
});
