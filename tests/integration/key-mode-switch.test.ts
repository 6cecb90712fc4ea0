/**
 * Switching a running deployment between key modes (README "Switching modes"), on the offline stack over one data
 * directory: customers onboarded and calling in KeyMode ApiGateway, `npm run switch-key-mode -- import`
 * (importApiGatewayKeys), the same data restarted in KeyMode SelfIssued (as `sam deploy --parameter-overrides
 * KeyMode=SelfIssued` updates the stack): old keys keep working for their owner only, the quota carries over,
 * rotation and offboarding work, a re-run changes nothing. Then the way back (`restore`) and the stack in ApiGateway
 * mode again: the imported key works as before, a rotated-away one does not come back, a tg_live_ customer rotates.
 */
import { GetApiKeyCommand, GetUsageCommand, GetUsagePlansCommand } from '@aws-sdk/client-api-gateway';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashKey } from '../../functions/shared/self-issued-keys.ts';
import { onboardCustomer, signIn, startTestStack, waitForExecution, type Customer, type TestStack } from '../../local/harness/stack.ts';
import { importApiGatewayKeys, restoreApiGatewayKeys, targetFromOutputs, type SwitchTarget } from '../../scripts/switch-key-mode.ts';

// Three stack starts over one directory and customers signing up for real: tens of seconds on a loaded machine.
jest.setTimeout(240_000);

const QUOTA = 10;
const BASIC_QUOTA = 20;
const overrides = (mode: 'ApiGateway' | 'SelfIssued') => ({
  DataApiAuth: 'ApiKey',
  KeyMode: mode,
  FreeQuotaLimit: String(QUOTA),
  FreeRateLimit: '100',
  FreeBurstLimit: '100',
  BasicQuotaLimit: String(BASIC_QUOTA),
  BasicRateLimit: '100',
  BasicBurstLimit: '100',
});

const dir = mkdtempSync(join(tmpdir(), 'tollgate-switch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const api = (t: TestStack, path: string, key: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${t.stack.apiUrl}${path}`, { ...init, headers: { 'X-Api-Key': key, 'Content-Type': 'application/json' } });

const targetOf = (t: TestStack): SwitchTarget => targetFromOutputs(t.stack.outputs, t.clients.apigateway, DynamoDBDocumentClient.from(t.clients.dynamodb));

const keysTable = (t: TestStack): string => t.stack.outputs.SelfIssuedKeysTableName!;

/** The SelfIssuedKeys table, item by item, sorted: to show a re-run writes nothing. */
async function snapshot(t: TestStack): Promise<string> {
  const items = (await t.clients.dynamodb.send(new ScanCommand({ TableName: keysTable(t), ConsistentRead: true }))).Items ?? [];
  return JSON.stringify(items.map((i) => JSON.stringify(Object.entries(i).sort(([a], [b]) => a.localeCompare(b)))).sort());
}

async function rotate(t: TestStack, idToken: string, keyId: string): Promise<{ id: string; value?: string }> {
  const res = await fetch(`${t.stack.apiUrl}/me/api-key/rotate`, { method: 'POST', headers: { Authorization: idToken, 'Content-Type': 'application/json' }, body: JSON.stringify({ keyId }) });
  expect(res.status).toBe(200);
  return (await res.json()) as { id: string; value?: string };
}

/** Calls until refused; answers the statuses. */
async function untilRefused(t: TestStack, key: string, max: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < max; i += 1) {
    statuses.push((await api(t, '/tags', key)).status);
    if (statuses.at(-1) !== 200) break;
  }
  return statuses;
}

it('ApiGateway → SelfIssued keeps existing keys (owner only, quota carried, rotation, offboarding); a re-run changes nothing; and back', async () => {
  // ---- KeyMode ApiGateway: three customers onboarded, calling with their API Gateway keys.
  let alice: Customer;
  let bob: Customer;
  let carol: Customer;
  let carolFirstKey = '';
  let bobFirstKey = '';
  let aliceLink: string;
  let bobLink: string;
  const first = await startTestStack({ dir, parameterOverrides: overrides('ApiGateway') });
  try {
    [alice, bob, carol] = await Promise.all([onboardCustomer(first, 'switch-a'), onboardCustomer(first, 'switch-b'), onboardCustomer(first, 'switch-c')]);
    const created = async (c: Customer) => ((await (await api(first, '/links', c.keyValue, { method: 'POST', body: JSON.stringify({ url: `https://example.com/${c.userId}` }) })).json()) as { id: string }).id;
    aliceLink = await created(alice);
    bobLink = await created(bob);
    expect((await api(first, '/links', alice.keyValue)).status).toBe(200);
    expect((await api(first, '/links', alice.keyValue)).status).toBe(200); // Alice: 3 requests counted this period

    // The import, while the stack still runs in ApiGateway mode (its first pass, before the stack update).
    const report = await importApiGatewayKeys(targetOf(first));
    expect(report).toMatchObject({ customers: 3, imported: 3, unchanged: 0, selfIssued: 0, notImported: { keyDisabled: [], keyMissing: [], valueShape: [], planChangePending: [] } });
    expect(report.usageCarried).toBe(2); // Alice's 3 and Bob's 1; Carol made no request
    const table = await snapshot(first);
    for (const c of [alice, bob, carol]) {
      expect(table).not.toContain(c.keyValue);
      expect(table).toContain(`KEY#${hashKey(c.keyValue)}`);
    }
    // Idempotent: a second pass writes nothing.
    expect(await importApiGatewayKeys(targetOf(first))).toMatchObject({ imported: 0, unchanged: 3, usageCarried: 0 });
    expect(await snapshot(first)).toBe(table);

    // Carol rotates while ApiGateway mode still runs (between the import's two passes): the next pass moves her slot
    // to the new key and revokes the hash it imported before.
    const rotated = await rotate(first, carol.idToken, carol.keyId);
    const newValue = (await first.clients.apigateway.send(new GetApiKeyCommand({ apiKey: rotated.id, includeValue: true }))).value!;
    expect(await importApiGatewayKeys(targetOf(first))).toMatchObject({ imported: 1, unchanged: 2, usageCarried: 0 });
    const items = (await first.clients.dynamodb.send(new ScanCommand({ TableName: keysTable(first), ConsistentRead: true }))).Items ?? [];
    expect(items.find((i) => i.pk?.S === `KEY#${hashKey(carol.keyValue)}`)?.status?.S).toBe('revoked');
    expect(items.find((i) => i.pk?.S === `CUSTOMER#${carol.userId}`)).toMatchObject({ keyId: { S: rotated.id }, hash: { S: hashKey(newValue) } });
    carolFirstKey = carol.keyValue;
    carol = { ...carol, keyId: rotated.id, keyValue: newValue };
  } finally {
    await first.close();
  }

  // ---- The same data in KeyMode SelfIssued (the stack update).
  const second = await startTestStack({ dir, parameterOverrides: overrides('SelfIssued') });
  try {
    const before = await snapshot(second);
    // The old key reads its owner's data; another customer's item is 404.
    const list = (await (await api(second, '/links', alice.keyValue)).json()) as { items: { id: string }[] };
    expect(list.items.map((l) => l.id)).toEqual([aliceLink]);
    expect((await api(second, `/links/${bobLink}`, alice.keyValue)).status).toBe(404);
    // The quota carried over: 3 counted by API Gateway + the 2 above; 5 more, then the authorizer's Deny (403).
    const statuses = await untilRefused(second, alice.keyValue, QUOTA);
    expect(statuses.filter((s) => s === 200)).toHaveLength(QUOTA - 5);
    expect(statuses.at(-1)).toBe(403);
    // Carol's key of the last pass works; her key of the first pass, and a value never imported, are refused.
    expect((await api(second, '/tags', carol.keyValue)).status).toBe(200);
    expect((await api(second, '/tags', carolFirstKey)).status).toBe(401);
    expect((await api(second, '/tags', `${carol.keyValue.slice(0, -1)}${carol.keyValue.endsWith('A') ? 'B' : 'A'}`)).status).toBe(401);

    // The second pass, right after the update, changes nothing (the counters are the authorizer's now).
    const counted = await snapshot(second);
    expect(counted).not.toBe(before);
    expect(await importApiGatewayKeys(targetOf(second))).toMatchObject({ customers: 3, imported: 0, unchanged: 3, usageCarried: 0 });
    expect(await snapshot(second)).toBe(counted);

    // Rotation issues a tg_live_ key; the imported one is revoked at once.
    const bobToken = (await signIn(second, bob.email)).idToken;
    const rotated = await rotate(second, bobToken, bob.keyId);
    expect(rotated.value).toMatch(/^tg_live_/);
    const bobLinks = (await (await api(second, '/links', rotated.value!)).json()) as { items: { id: string }[] };
    expect(bobLinks.items.map((l) => l.id)).toEqual([bobLink]);
    expect((await api(second, '/links', bob.keyValue)).status).toBe(401);
    bobFirstKey = bob.keyValue;
    bob = { ...bob, keyId: rotated.id, keyValue: rotated.value! };
    // A re-run now leaves Bob's tg_live_ key alone.
    expect(await importApiGatewayKeys(targetOf(second))).toMatchObject({ imported: 0, unchanged: 2, selfIssued: 1 });

    // Offboarding revokes the imported key's hash.
    const aliceToken = (await signIn(second, alice.email)).idToken;
    const closing = await fetch(`${second.stack.apiUrl}/me`, { method: 'DELETE', headers: { Authorization: aliceToken, 'Content-Type': 'application/json' }, body: JSON.stringify({ confirm: alice.email }) });
    expect(closing.status).toBe(202);
    const machine = second.stack.model.stateMachines.find((m) => m.logicalId === 'OffboardingStateMachine')!;
    await waitForExecution(second, `${machine.arn.replace(':stateMachine:', ':execution:')}:offboard-${alice.userId}`, 30_000);
    expect((await api(second, '/tags', alice.keyValue)).status).toBe(401);
    const revoked = (await second.clients.dynamodb.send(new ScanCommand({ TableName: keysTable(second), ConsistentRead: true }))).Items ?? [];
    expect(revoked.find((i) => i.pk?.S === `KEY#${hashKey(alice.keyValue)}`)?.status?.S).toBe('revoked');

    // A plan change in SelfIssued mode: the slot moves to basic, and DetachFromCurrentPlan takes Carol's imported
    // API Gateway key out of the free usage plan (restore puts it in basic's).
    const planChange = await fetch(`${second.stack.apiUrl}/me/plan`, {
      method: 'POST',
      headers: { Authorization: (await signIn(second, carol.email)).idToken, 'Content-Type': 'application/json', 'Idempotency-Key': 'switch-plan' },
      body: JSON.stringify({ plan: 'basic' }),
    });
    expect(planChange.status).toBe(202);
    const planMachine = second.stack.model.stateMachines.find((m) => m.logicalId === 'PlanChangeStateMachine')!;
    const { executionId } = (await planChange.json()) as { executionId: string };
    await waitForExecution(second, `${planMachine.arn.replace(':stateMachine:', ':execution:')}:${executionId}`, 30_000);
    expect((await api(second, '/tags', carol.keyValue)).status).toBe(200); // Carol: 2 requests counted this period
    expect((await second.clients.apigateway.send(new GetUsagePlansCommand({ keyId: carol.keyId }))).items).toEqual([]);

    // The way back, prepared while SelfIssued still runs: Carol keeps her key, Bob must rotate, Alice's and Bob's
    // old API Gateway keys (closed account, rotated away) are disabled so the switch does not revive them.
    const back = await restoreApiGatewayKeys(targetOf(second));
    expect(back).toMatchObject({ customers: 2, restored: 1, mustRotate: [bob.userId], disabled: 2 });
    expect(await restoreApiGatewayKeys(targetOf(second))).toMatchObject({ restored: 1, mustRotate: [bob.userId], disabled: 0 });
  } finally {
    await second.close();
  }

  // ---- KeyMode ApiGateway again.
  const third = await startTestStack({ dir, parameterOverrides: overrides('ApiGateway') });
  try {
    // Carol's key is in basic's usage plan, with the authorizer's count as its usage (2 of 20).
    const basic = third.stack.outputs.BasicUsagePlanId!;
    expect((await third.clients.apigateway.send(new GetUsagePlansCommand({ keyId: carol.keyId }))).items?.map((p) => p.id)).toEqual([basic]);
    const today = new Date().toISOString().slice(0, 10);
    const usage = await third.clients.apigateway.send(new GetUsageCommand({ usagePlanId: basic, keyId: carol.keyId, startDate: today, endDate: today }));
    expect(usage.items?.[carol.keyId]?.at(-1)?.[1]).toBe(BASIC_QUOTA - 2);
    expect((await api(third, '/tags', carol.keyValue)).status).toBe(200);
    expect((await api(third, '/tags', alice.keyValue)).status).toBe(403);
    expect((await api(third, '/tags', bobFirstKey)).status).toBe(403); // rotated away in SelfIssued mode: disabled by restore
    expect((await api(third, '/tags', bob.keyValue)).status).toBe(403); // his tg_live_ key: no such API Gateway key
    // (A token of the last run names another issuer: cognito-local's port is part of it.)
    const bobToken = (await signIn(third, bob.email)).idToken;
    const me = (path: string) => fetch(`${third.stack.apiUrl}${path}`, { headers: { Authorization: bobToken } });
    // Until he rotates, his account names a key API Gateway does not have: a clear 409 for its value, usage still answers.
    expect((await me('/me/api-key?reveal=true')).status).toBe(409);
    expect((await me(`/me/usage?from=${today}&to=${today}`)).status).toBe(200);
    const rotated = await rotate(third, bobToken, bob.keyId);
    const value = (await third.clients.apigateway.send(new GetApiKeyCommand({ apiKey: rotated.id, includeValue: true }))).value!;
    const links = (await (await api(third, '/links', value)).json()) as { items: { id: string }[] };
    expect(links.items.map((l) => l.id)).toEqual([bobLink]);
  } finally {
    await third.close();
  }
});
