/**
 * The scaled key mode's verification (KeyMode SelfIssued, issue 15) on the offline DynamoDB (dynalite): keys stored
 * as hashes only, the REQUEST authorizer's answers, the quota exact under 64 concurrent requests, the per-second rate.
 */
import { ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { makeHandler, passThrough } from '../../functions/key-authorizer/handler.ts';
import { keyModeFrom } from '../../functions/shared/key-mode.ts';
import type { Plan } from '../../functions/shared/plans.ts';
import { hashKey, issueKey, looksLikeKey } from '../../functions/shared/self-issued-keys.ts';
import { quotaPeriod } from '../../functions/shared/self-issued-usage.ts';
import { selfIssuedKeysStore, type SelfIssuedKeysStore } from '../../functions/shared/tables/self-issued-keys.ts';
import { startKeyStore, type KeyStoreHarness } from '../../local/harness/key-store.ts';

const plan = (over: Partial<Plan>): Plan => ({ name: 'basic', monthlyPrice: 10, currency: 'USD', rateLimit: 1000, burstLimit: 1000, quotaLimit: 50, quotaPeriod: 'MONTH', ...over });
const METHOD_ARN = 'arn:aws:execute-api:us-east-1:000000000000:api1/v1/GET/links';
const event = (key?: string): APIGatewayRequestAuthorizerEvent =>
  ({ type: 'REQUEST', methodArn: METHOD_ARN, headers: key === undefined ? {} : { 'X-Api-Key': key } }) as unknown as APIGatewayRequestAuthorizerEvent;

// dynalite serialises writes to one item: 64 racing requests take seconds under load.
jest.setTimeout(30_000);

let harness: KeyStoreHarness;
let store: SelfIssuedKeysStore;
beforeAll(async () => {
  harness = await startKeyStore();
  store = selfIssuedKeysStore(harness.tableName, harness.client);
});
afterAll(() => harness.close());

async function customer(id: string, planName: string): Promise<string> {
  const key = issueKey();
  expect(await store.putKey(key.hash, { customerId: id, plan: planName, status: 'active', hint: key.hint, createdAt: new Date().toISOString() })).toBe(true);
  return key.value;
}

it('issues tg_live_ keys of 256 bits and stores only their hash', async () => {
  const key = issueKey();
  expect(looksLikeKey(key.value)).toBe(true);
  expect(key.value).toMatch(/^tg_live_[A-Za-z0-9_-]{43}$/);
  expect(issueKey().value).not.toBe(key.value);
  const value = await customer('c-hash', 'basic');
  const items = await harness.client.send(new ScanCommand({ TableName: harness.tableName }));
  expect(JSON.stringify(items.Items)).not.toContain(value);
  expect(items.Items?.some((i) => i.pk === `KEY#${hashKey(value)}`)).toBe(true);
  expect(await store.putKey(hashKey(value), { customerId: 'other', plan: 'basic', status: 'active', hint: '', createdAt: '' })).toBe(false);
});

it('the authorizer: Unauthorized for missing, malformed, unknown and revoked keys; Allow with the customer in context', async () => {
  const value = await customer('c-auth', 'basic');
  const authorize = makeHandler({ store, catalog: () => [plan({})], now: () => new Date() });
  for (const bad of [undefined, '', 'abc', `tg_live_${'A'.repeat(43)}`]) await expect(authorize(event(bad))).rejects.toThrow('Unauthorized');
  const allowed = await authorize(event(value));
  expect(allowed).toMatchObject({
    principalId: 'c-auth',
    policyDocument: { Statement: [{ Effect: 'Allow', Action: 'execute-api:Invoke', Resource: 'arn:aws:execute-api:us-east-1:000000000000:api1/v1/*/*' }] },
    context: { customerId: 'c-auth', plan: 'basic', used: 1 },
  });
  await store.revokeKey(hashKey(value));
  await expect(authorize(event(value))).rejects.toThrow('Unauthorized');
});

it('the quota is exact under 64 concurrent requests: 0 over the limit', async () => {
  const value = await customer('c-quota', 'basic');
  const authorize = makeHandler({ store, catalog: () => [plan({ quotaLimit: 20, rateLimit: 1_000_000 })], now: () => new Date('2026-11-30T12:00:00Z') });
  const results = await Promise.all(Array.from({ length: 64 }, () => authorize(event(value))));
  const allowed = results.filter((r) => r.policyDocument.Statement[0]?.Effect === 'Allow');
  expect(allowed).toHaveLength(20);
  expect(results.filter((r) => r.context?.reason === 'quota')).toHaveLength(44);
  expect(new Set(allowed.map((r) => r.context?.used))).toEqual(new Set(Array.from({ length: 20 }, (_, i) => i + 1)));
  // The same conditional writes counted the day: the counter's days add up to its quota count (GET /me/usage, statements).
  expect(await store.readCounters('c-quota', ['2026-11', '2026-10'])).toEqual([{ period: '2026-11', used: 20, days: { '2026-11-30': 20 } }]);
});

it('the rate: at most rateLimit per second, a new second opens a new window; the next period a new quota', async () => {
  const value = await customer('c-rate', 'basic');
  let now = new Date('2026-11-30T12:00:00Z');
  const authorize = makeHandler({ store, catalog: () => [plan({ quotaLimit: 100, rateLimit: 5 })], now: () => now });
  const burst = await Promise.all(Array.from({ length: 12 }, () => authorize(event(value))));
  expect(burst.filter((r) => r.policyDocument.Statement[0]?.Effect === 'Allow')).toHaveLength(5);
  expect(burst.filter((r) => r.context?.reason === 'rate')).toHaveLength(7);
  now = new Date('2026-11-30T12:00:01Z');
  expect((await authorize(event(value))).context).toMatchObject({ used: 6 });
  now = new Date('2026-12-01T00:00:00Z');
  expect((await authorize(event(value))).context).toMatchObject({ used: 1 });
  // Per day and per period, rate refusals not counted; each request in its own period's counter.
  expect(await store.readCounters('c-rate', ['2026-11', '2026-12'])).toEqual([
    { period: '2026-11', used: 6, days: { '2026-11-30': 6 } },
    { period: '2026-12', used: 1, days: { '2026-12-01': 1 } },
  ]);
});

it('SelfIssued: an Allow carries the backstop key as usageIdentifierKey (key source AUTHORIZER); a Deny none', async () => {
  const value = await customer('c-backstop', 'basic');
  const authorize = makeHandler({ store, catalog: () => [plan({ quotaLimit: 1 })], now: () => new Date(), backstopKey: 'backstop-value-of-20-chars' });
  expect(await authorize(event(value))).toMatchObject({ principalId: 'c-backstop', usageIdentifierKey: 'backstop-value-of-20-chars' });
  const denied = await authorize(event(value));
  expect(denied.policyDocument.Statement[0]?.Effect).toBe('Deny');
  expect(denied.usageIdentifierKey).toBeUndefined();
});

it('ApiGateway mode: the header key passes through as usageIdentifierKey, allowed on the whole stage (cached per key)', async () => {
  await expect(passThrough(event(undefined))).rejects.toThrow('Unauthorized');
  expect(await passThrough(event('any-api-gateway-key-value'))).toEqual({
    principalId: 'api-key',
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: 'arn:aws:execute-api:us-east-1:000000000000:api1/v1/*/*' }] },
    context: {},
    usageIdentifierKey: 'any-api-gateway-key-value',
  });
  expect(keyModeFrom('SelfIssued')).toBe('SelfIssued');
  expect(keyModeFrom(undefined)).toBe('ApiGateway');
  expect(() => keyModeFrom('Scaled')).toThrow('KEY_MODE must be ApiGateway or SelfIssued');
});

it('quota periods', () => {
  const at = new Date('2026-11-30T23:59:59Z'); // a Monday
  expect(quotaPeriod('DAY', at).key).toBe('2026-11-30');
  expect(quotaPeriod('WEEK', new Date('2026-12-03T10:00:00Z')).key).toBe('W2026-11-30');
  // Counters are kept 400 days after their period ends (usage and statements read them; as usage segments are kept).
  expect(quotaPeriod('MONTH', at)).toEqual({ key: '2026-11', expiresAt: Date.UTC(2026, 11, 1) / 1000 + 400 * 86_400 });
  expect(quotaPeriod('DAY', at).expiresAt).toBe(Date.UTC(2026, 11, 1) / 1000 + 400 * 86_400);
  expect(quotaPeriod('WEEK', at).expiresAt).toBe(Date.UTC(2026, 11, 7) / 1000 + 400 * 86_400);
});

/** A customer onboarded (key slot) and rotated once (a key value in the slot), as the account routes leave them. */
async function slotWithKey(id: string): Promise<{ value: string; hash: string; keyId: string }> {
  const key = issueKey();
  await store.findOrCreateCustomer(id, { keyId: `si-${id}-0`, plan: 'basic' });
  expect(await store.putKey(key.hash, { customerId: id, plan: 'basic', status: 'active', hint: key.hint, createdAt: new Date().toISOString() })).toBe(true);
  expect(await store.swapCustomerKey(id, `si-${id}-0`, { keyId: `si-${id}-1`, hash: key.hash })).toBe(true);
  return { value: key.value, hash: key.hash, keyId: `si-${id}-1` };
}

it('a suspended key (user disabled: setSuspended) is denied with 403 and counts nothing; restored, it is allowed again', async () => {
  const { value, hash } = await slotWithKey('c-suspend');
  const authorize = makeHandler({ store, catalog: () => [plan({})], now: () => new Date() });
  expect((await authorize(event(value))).context).toMatchObject({ used: 1 });

  expect(await store.setSuspended('c-suspend', true)).toBe(true);
  expect(await store.setSuspended('c-suspend', true)).toBe(true); // a repeat
  expect((await store.getKey(hash))?.status).toBe('suspended');
  expect((await store.getCustomer('c-suspend'))?.status).toBe('suspended');
  const denied = await authorize(event(value));
  expect(denied.policyDocument.Statement[0]?.Effect).toBe('Deny');
  expect(denied.context).toEqual({ customerId: 'c-suspend', reason: 'suspended' });

  expect(await store.setSuspended('c-suspend', false)).toBe(true);
  expect((await authorize(event(value))).context).toMatchObject({ used: 2 }); // the denied request was not counted
});

it('suspending never revives a revoked key, and a closed slot is neither suspended nor restored', async () => {
  const { hash } = await slotWithKey('c-revoked');
  await store.revokeKey(hash);
  await store.setSuspended('c-revoked', true);
  await store.setSuspended('c-revoked', false);
  expect((await store.getKey(hash))?.status).toBe('revoked');
  expect(await store.setSuspended('c-nobody', true)).toBe(false);
  // Offboarding's CloseSelfIssuedSlot: the slot closed, its key revoked; a late reconciler pass changes neither.
  const closed = await slotWithKey('c-closed');
  await harness.client.send(new UpdateCommand({ TableName: harness.tableName, Key: { pk: 'CUSTOMER#c-closed' }, UpdateExpression: 'SET #s = :c', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':c': 'closed' } }));
  await store.revokeKey(closed.hash);
  expect(await store.setSuspended('c-closed', false)).toBe(false);
  expect((await store.getCustomer('c-closed'))?.status).toBe('closed');
  expect((await store.getKey(closed.hash))?.status).toBe('revoked');
  expect(await store.swapCustomerKey('c-closed', closed.keyId, { keyId: 'si-late', hash: issueKey().hash })).toBe(false);
});

describe('a rotation racing a suspension (the slot serializes them; real conditional writes on dynalite)', () => {
  it('suspension first: the rotation\'s swap is refused, so its new key never becomes the customer\'s', async () => {
    const { keyId } = await slotWithKey('c-race-1');
    await store.setSuspended('c-race-1', true);
    const next = issueKey();
    expect(await store.swapCustomerKey('c-race-1', keyId, { keyId: 'si-new', hash: next.hash })).toBe(false);
    expect((await store.getCustomer('c-race-1'))?.keyId).toBe(keyId);
  });

  it('swap first: the suspension reads the new hash in its own write and suspends the new key', async () => {
    const { keyId, hash: oldHash } = await slotWithKey('c-race-2');
    const next = issueKey();
    await store.putKey(next.hash, { customerId: 'c-race-2', plan: 'basic', status: 'active', hint: next.hint, createdAt: new Date().toISOString() });
    expect(await store.swapCustomerKey('c-race-2', keyId, { keyId: 'si-new', hash: next.hash })).toBe(true);
    await store.revokeKey(oldHash); // the rotation's last step
    await store.setSuspended('c-race-2', true);
    expect((await store.getKey(next.hash))?.status).toBe('suspended');
    const authorize = makeHandler({ store, catalog: () => [plan({})], now: () => new Date() });
    expect((await authorize(event(next.value))).policyDocument.Statement[0]?.Effect).toBe('Deny');
  });
});
