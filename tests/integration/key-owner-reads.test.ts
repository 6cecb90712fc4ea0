/**
 * Key-only mode (DataApiAuth=ApiKey) learns a request's customer with at most one DynamoDB read, on the offline stack:
 * every DynamoDB call LinksFunction makes is counted through the offline IAM's decisions (each call a function's role
 * signs is authorized there, with its action and table or index ARN), and the owner lookup is the calls on the
 * KeyOwners and Accounts tables (the data itself lives in the Resources table). A current key and a key in its
 * rotation overlap cost one GetItem of the KeyOwners record each, a repeat caller none (the environment's cache); a
 * key with no record (a stack from before the KeyOwners table, until the reconciler records it) still finds its owner
 * through the Accounts table's indexes.
 */
import { GetApiKeysCommand } from '@aws-sdk/client-api-gateway';
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { ApiGatewayKeyService } from '../../functions/account/adapters.ts';
import { rotateApiKey } from '../../functions/account/domain.ts';
import { accountDeps } from '../../local/harness/account-deps.ts';
import { onboardCustomer, startTestStack, type Customer, type TestStack } from '../../local/harness/stack.ts';
import { tableName } from '../support/billing-close.ts';

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack({ parameterOverrides: { DataApiAuth: 'ApiKey' } });
}, 90_000);
afterAll(async () => {
  await t?.close();
});

/**
 * `GET /links` with the key alone, and the owner lookups LinksFunction made for it: `<operation> <table>[/index/…]`
 * of each DynamoDB call on the KeyOwners or Accounts table.
 */
async function links(keyValue: string): Promise<{ status: number; lookups: string[] }> {
  const owners = [tableName(t, 'KeyOwnersTable'), tableName(t, 'AccountsTable')];
  const lookups: string[] = [];
  const stop = t.stack.iam.onDecision((r) => {
    if (r.principal !== 'LinksFunction' || r.service !== 'dynamodb') return;
    const target = r.resource.replace(/^.*:table\//, '');
    if (owners.some((name) => target === name || target.startsWith(`${name}/`))) lookups.push(`${r.operation} ${target}`);
  });
  try {
    const res = await fetch(`${t.stack.apiUrl}/links`, { headers: { 'X-Api-Key': keyValue } });
    await res.text();
    return { status: res.status, lookups };
  } finally {
    stop();
  }
}

async function rotate(c: Customer, overlapSeconds: number): Promise<{ value: string }> {
  const res = await fetch(`${t.stack.apiUrl}/me/api-key/rotate`, {
    method: 'POST',
    headers: { Authorization: c.idToken, 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID() },
    body: JSON.stringify({ keyId: c.keyId, overlapSeconds }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { value: string };
}

it("costs one GetItem of the key's record for a current key, and none for a repeat caller", async () => {
  const c = await onboardCustomer(t, 'reads-current');
  const first = await links(c.keyValue);
  expect(first).toEqual({ status: 200, lookups: [`GetItem ${tableName(t, 'KeyOwnersTable')}`] });
  const again = await links(c.keyValue);
  expect(again.status).toBe(200);
  // The offline Lambda reuses a warm environment for a sequential call: its cache answers.
  expect(again.lookups).toEqual([]);
}, 60_000);

it('costs one GetItem for a key in its rotation overlap too (the Accounts table indexes needed two Queries)', async () => {
  const c = await onboardCustomer(t, 'reads-overlap');
  const rotated = await rotate(c, 600);
  const old = await links(c.keyValue); // never called before: nothing cached
  expect(old).toEqual({ status: 200, lookups: [`GetItem ${tableName(t, 'KeyOwnersTable')}`] });
  const current = await links(rotated.value);
  expect(current).toEqual({ status: 200, lookups: [`GetItem ${tableName(t, 'KeyOwnersTable')}`] });
}, 60_000);

it('a key rotated away without an overlap is refused by API Gateway at once (403): no function runs, no read', async () => {
  const c = await onboardCustomer(t, 'reads-no-overlap');
  await rotate(c, 0);
  // Retired at once (disabled in API Gateway): API Gateway's 403, no function runs, so no read at all.
  expect(await links(c.keyValue)).toEqual({ status: 403, lookups: [] });
}, 60_000);

it('finds the owner of a key that has no record (a stack from before the KeyOwners table) through the indexes', async () => {
  const c = await onboardCustomer(t, 'reads-legacy');
  await t.clients.dynamodb.send(new DeleteItemCommand({ TableName: tableName(t, 'KeyOwnersTable'), Key: { apiKeyId: { S: c.keyId } } }));
  const legacy = await links(c.keyValue);
  expect(legacy).toEqual({
    status: 200,
    lookups: [`GetItem ${tableName(t, 'KeyOwnersTable')}`, `Query ${tableName(t, 'AccountsTable')}/index/ApiKeyIndex`],
  });
}, 60_000);

/**
 * The rotation as AccountFunction runs it, up to its commit (the account's swap) and no further: the function that ran
 * it died before finishRotation (a timeout, a crash, a 503 the client never retried). Its old key is still enabled in
 * its plan (nothing disabled it), so API Gateway admits it and the function's lookup alone decides.
 */
async function rotateWithoutFinishing(c: Customer, overlapSeconds: number): Promise<void> {
  await rotateApiKey(accountDeps(t), { userId: c.userId, fromKeyId: c.keyId, requestKey: randomUUID(), overlapSeconds });
}

it('refuses a key rotated away without an overlap even when the rotation died between its commit and its finish', async () => {
  const c = await onboardCustomer(t, 'reads-unfinished');
  await rotateWithoutFinishing(c, 0);
  // The account holds the new key alone: the old one is no one's, though API Gateway still admits it.
  expect((await links(c.keyValue)).status).toBe(403);
}, 60_000);

it('admits a key rotated away with an overlap only until that overlap ends when the rotation died before its finish', async () => {
  const c = await onboardCustomer(t, 'reads-unfinished-overlap');
  await rotateWithoutFinishing(c, 1);
  const during = await links(c.keyValue);
  expect(during.status).toBe(200);
  await new Promise((resolve) => setTimeout(resolve, 2_100));
  // Cached until the overlap's end at most, then read again: no one's.
  expect((await links(c.keyValue)).status).toBe(403);
}, 60_000);

it('refuses the new key of a rotation that died before its commit and whose undoing failed too (the key left in its plan)', async () => {
  const c = await onboardCustomer(t, 'reads-uncommitted');
  class FailingKeys extends ApiGatewayKeyService {
    override async attachKey(usagePlanId: string, keyId: string): Promise<void> {
      await super.attachKey(usagePlanId, keyId);
      throw Object.assign(new Error('the function died here'), { name: 'Crash' });
    }

    override async deleteKey(): Promise<void> {
      throw Object.assign(new Error('slow down'), { name: 'TooManyRequestsException' });
    }
  }
  const deps = accountDeps(t, new FailingKeys(t.clients.apigateway));
  const owners = deps.keyOwners;
  const failingOwners: typeof owners = {
    record: (...args) => owners.record(...args),
    beginRotation: (...args) => owners.beginRotation(...args),
    endRotation: (...args) => owners.endRotation(...args),
    endAt: (...args) => owners.endAt(...args),
    retire: () => Promise.reject(Object.assign(new Error('slow down'), { name: 'ThrottlingException' })),
  };
  await expect(
    rotateApiKey({ ...deps, keyOwners: failingOwners }, { userId: c.userId, fromKeyId: c.keyId, requestKey: randomUUID() }),
  ).rejects.toMatchObject({ name: 'Crash' });
  const keys = (await t.clients.apigateway.send(new GetApiKeysCommand({ nameQuery: c.userId, includeValues: true }))).items ?? [];
  const orphan = keys.find((k) => k.name === c.userId && k.id !== c.keyId && k.enabled);
  expect(orphan?.value).toBeDefined();
  // Enabled and in the customer's plan, so API Gateway admits it; the account never held it: no one's.
  expect((await links(orphan!.value!)).status).toBe(403);
  expect((await links(c.keyValue)).status).toBe(200);
}, 60_000);
