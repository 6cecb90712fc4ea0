/**
 * Keys imported from API Gateway at a switch to KeyMode SelfIssued (scripts/switch-key-mode.ts), on the offline
 * DynamoDB: the authorizer takes a value without the `tg_live_` prefix only as an imported key, and the usage carried
 * over only ever raises the customer's counter.
 */
import type { APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { makeHandler } from '../../functions/key-authorizer/handler.ts';
import type { Plan } from '../../functions/shared/plans.ts';
import { hashKey, looksLikeImportedKey } from '../../functions/shared/self-issued-keys.ts';
import { quotaPeriod } from '../../functions/shared/self-issued-usage.ts';
import { selfIssuedKeysStore, type SelfIssuedKeysStore } from '../../functions/shared/tables/self-issued-keys.ts';
import { startKeyStore, type KeyStoreHarness } from '../../local/harness/key-store.ts';

const plan: Plan = { name: 'free', monthlyPrice: 0, currency: 'USD', rateLimit: 1000, burstLimit: 1000, quotaLimit: 5, quotaPeriod: 'MONTH' };
const event = (key: string): APIGatewayRequestAuthorizerEvent =>
  ({ type: 'REQUEST', methodArn: 'arn:aws:execute-api:us-east-1:000000000000:api1/v1/GET/links', headers: { 'X-Api-Key': key } }) as unknown as APIGatewayRequestAuthorizerEvent;

let harness: KeyStoreHarness;
let store: SelfIssuedKeysStore;
beforeAll(async () => {
  harness = await startKeyStore();
  store = selfIssuedKeysStore(harness.tableName, harness.client);
});
afterAll(() => harness.close());

const record = (customerId: string, importedFrom?: 'ApiGateway') => ({ customerId, plan: 'free', status: 'active' as const, hint: 'abcd', createdAt: new Date().toISOString(), ...(importedFrom ? { importedFrom } : {}) });

it('an API Gateway key value is honoured only through a record marked imported', async () => {
  const imported = 'AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd'; // 40 characters, as API Gateway generates them
  const unmarked = 'ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210zyxw';
  expect(looksLikeImportedKey(imported)).toBe(true);
  for (const junk of ['short-value', 'x'.repeat(129), 'has space in the key value!']) expect(looksLikeImportedKey(junk)).toBe(false);
  await store.putKey(hashKey(imported), record('c-imported', 'ApiGateway'));
  await store.putKey(hashKey(unmarked), record('c-unmarked'));
  const authorize = makeHandler({ store, catalog: () => [plan], now: () => new Date() });
  expect(await authorize(event(imported))).toMatchObject({ principalId: 'c-imported', context: { customerId: 'c-imported', used: 1 } });
  await expect(authorize(event(unmarked))).rejects.toThrow('Unauthorized');
  await store.revokeKey(hashKey(imported));
  await expect(authorize(event(imported))).rejects.toThrow('Unauthorized');
});

it('carried usage raises the counter, never lowers it, and the authorizer counts on from it', async () => {
  const now = new Date();
  const { key: period, expiresAt } = quotaPeriod('MONTH', now);
  expect(await store.carryUsage('c-carry', period, 3, expiresAt)).toBe(true);
  expect(await store.carryUsage('c-carry', period, 3, expiresAt)).toBe(false);
  expect(await store.carryUsage('c-carry', period, 2, expiresAt)).toBe(false);
  expect((await store.readCounters('c-carry', [period]))[0]?.used).toBe(3);
  const limits = { quotaLimit: plan.quotaLimit, rateLimit: plan.rateLimit };
  const seconds = Math.floor(now.getTime() / 1000);
  expect(await store.consume('c-carry', period, seconds, limits, expiresAt)).toEqual({ ok: true, used: 4 });
  expect(await store.consume('c-carry', period, seconds, limits, expiresAt)).toEqual({ ok: true, used: 5 });
  expect(await store.consume('c-carry', period, seconds, limits, expiresAt)).toEqual({ ok: false, reason: 'quota' });
  expect(await store.readCounters('c-none', [period])).toEqual([]);
});
