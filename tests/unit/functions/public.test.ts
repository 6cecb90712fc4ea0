import { PLAN_CATALOG } from './env.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { parse } from 'yaml';
import { handler, parsePlanCatalog, publicRoutes } from '../../../functions/public/handler.ts';
import { bodyOf, context, loadEvent } from './helpers.ts';

const ddb = mockClient(DynamoDBDocumentClient);

beforeEach(() => {
  ddb.reset();
});

/** Globals.PLAN_CATALOG of template.yaml with the parameters' defaults substituted, as CloudFormation would. */
function templateCatalog(): string {
  const template = parse(readFileSync(join(__dirname, '..', '..', '..', 'template.yaml'), 'utf8'), {
    logLevel: 'silent', // CloudFormation tags (!Sub, !Ref ...) stay unresolved: the !Sub string is what we need
  }) as {
    Parameters: Record<string, { Default?: unknown }>;
    Globals: { Function: { Environment: { Variables: Record<string, string> } } };
  };
  const raw = template.Globals.Function.Environment.Variables.PLAN_CATALOG ?? '';
  return raw.replace(/\$\{(\w+)\}/g, (_all, name: string) => String(template.Parameters[name]?.Default));
}

describe('GET /health', () => {
  it('answers 200 with status ok and the current time, without claims or an API key', async () => {
    const event = loadEvent('health');

    const result = await handler(event, context);

    expect(result.statusCode).toBe(200);
    const body = bodyOf(result);
    expect(body).toEqual({ status: 'ok', time: expect.any(String) });
    expect(Math.abs(Date.parse(body.time) - Date.now())).toBeLessThan(5_000);
    expect(event.requestContext.authorizer).toBeUndefined();
    expect(ddb.calls()).toHaveLength(0);
  });

  it('takes the time from the injected clock', async () => {
    const routes = publicRoutes([], () => new Date('2025-01-01T00:00:00.000Z'));

    const result = await routes['GET /health']!({ event: loadEvent('health'), requestId: 'r' });

    expect(bodyOf(result)).toEqual({ status: 'ok', time: '2025-01-01T00:00:00.000Z' });
  });
});

describe('GET /plans', () => {
  it('answers the catalogue from PLAN_CATALOG, priced in USD', async () => {
    const result = await handler(loadEvent('plans'), context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ plans: PLAN_CATALOG.map((plan) => ({ ...plan, currency: 'USD' })) });
    expect(result.headers).toMatchObject({ 'Content-Type': 'application/json' });
    expect(ddb.calls()).toHaveLength(0);
  });

  it('parses the catalogue the template builds from its parameter defaults', () => {
    const plans = parsePlanCatalog(templateCatalog());

    expect(plans.map((plan) => plan.name)).toEqual(['free', 'basic', 'pro']);
    expect(plans).toEqual(PLAN_CATALOG.map((plan) => ({ ...plan, currency: 'USD' })));
  });

  it('drops fields the catalogue carries that the API does not publish', () => {
    const [plan] = parsePlanCatalog(JSON.stringify([{ ...PLAN_CATALOG[0], usagePlanId: 'abc123' }]));

    expect(plan).not.toHaveProperty('usagePlanId');
  });

  it.each([
    ['not JSON', '[{name:'],
    ['not an array', '{"name":"free"}'],
    ['empty', '[]'],
    ['a plan without a price', JSON.stringify([{ ...PLAN_CATALOG[0], monthlyPrice: undefined }])],
    ['a negative price', JSON.stringify([{ ...PLAN_CATALOG[0], monthlyPrice: -1 }])],
    ['a price given as a string', JSON.stringify([{ ...PLAN_CATALOG[0], monthlyPrice: '19' }])],
    ['an unknown quota period', JSON.stringify([{ ...PLAN_CATALOG[0], quotaPeriod: 'YEAR' }])],
    ['duplicate names', JSON.stringify([PLAN_CATALOG[0], PLAN_CATALOG[0]])],
  ])('rejects a catalogue that is %s', (_label, raw) => {
    expect(() => parsePlanCatalog(raw)).toThrow(/PLAN_CATALOG/);
  });

  it('says where a bad catalogue is wrong, in one line', () => {
    const raw = JSON.stringify([{ ...PLAN_CATALOG[0], monthlyPrice: -1 }, { ...PLAN_CATALOG[1], quotaPeriod: 'YEAR' }]);

    expect(() => parsePlanCatalog(raw)).toThrow(
      new Error(
        'PLAN_CATALOG is invalid: 0.monthlyPrice: Too small: expected number to be >=0; ' +
          '1.quotaPeriod: Invalid option: expected one of "DAY"|"WEEK"|"MONTH"',
      ),
    );
    expect(() => parsePlanCatalog(JSON.stringify([PLAN_CATALOG[0], PLAN_CATALOG[0]]))).toThrow(
      new Error('PLAN_CATALOG is invalid: Plan names must be unique'),
    );
  });

  it('fails at module load (cold start) when PLAN_CATALOG is invalid', () => {
    const saved = process.env.PLAN_CATALOG;
    process.env.PLAN_CATALOG = '[]';
    try {
      jest.isolateModules(() => {
        expect(() => jest.requireActual('../../../functions/public/handler.ts')).toThrow(/PLAN_CATALOG is invalid/);
      });
    } finally {
      process.env.PLAN_CATALOG = saved;
    }
  });
});

describe('routing', () => {
  it('answers 404 JSON for a method the route does not have', async () => {
    const event = { ...loadEvent('plans'), httpMethod: 'POST' };

    const result = await handler(event, context);

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toMatchObject({ code: 'NotFound', requestId: event.requestContext.requestId });
  });
});
