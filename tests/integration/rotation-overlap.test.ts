/**
 * Rotation without downtime on the offline stack, in both DataApiAuth modes: a rotation with `overlapSeconds` keeps the
 * old key working (the data API answers 200 to it with the owner's data; in token mode whichever token rides along)
 * until its overlap ends, after which the old key is refused (403) — by the function itself from the expiry on, even
 * if the retirement workflow runs late — and GET /me/api-key no longer shows it; DELETE /me/api-key/previous retires
 * it at once. Key-only mode finds the old key's owner in its KeyOwners record (functions/shared/tables/key-owners.ts).
 * KeyMode ApiGateway only: self-issued keys rotate without an overlap (a rotation asking for one is 400), which
 * tests/integration/rotation.test.ts states beside this mode's answer.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DataApiAuth } from '../../functions/shared/caller.ts';
import { onboardCustomer, signIn, startTestStack, waitForExecution, type Customer, type TestStack } from '../../local/harness/stack.ts';

interface Rotated {
  id: string;
  value: string;
  previousKeyId: string;
  previousKeyExpiresAt?: string;
}

/** The stack of one mode and the calls the tests make on it. */
function onStack(get: () => TestStack) {
  const url = (path: string) => `${get().stack.apiUrl}${path}`;
  return {
    rotate: (c: Customer, body: Record<string, unknown>): Promise<Response> =>
      fetch(url('/me/api-key/rotate'), {
        method: 'POST',
        headers: { Authorization: c.idToken, 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID() },
        body: JSON.stringify({ keyId: c.keyId, ...body }),
      }),
    async apiKeyView(idToken: string): Promise<{ id: string; createdAt?: string; previous?: { expiresAt: string } }> {
      const res = await fetch(url('/me/api-key'), { headers: { Authorization: idToken } });
      expect(res.status).toBe(200);
      return (await res.json()) as never;
    },
    cancel: (c: Customer) => fetch(url('/me/api-key/previous'), { method: 'DELETE', headers: { Authorization: c.idToken } }),
    executionArn(logicalId: string, name: string): string {
      const machine = get().stack.model.stateMachines.find((m) => m.logicalId === logicalId);
      if (!machine) throw new Error(`no state machine ${logicalId}`);
      return `${machine.arn.replace(':stateMachine:', ':execution:')}:${name}`;
    },
    retirementArn(rotationId: string): string {
      return this.executionArn('KeyRetirementStateMachine', `retire-${rotationId}`);
    },
    /** A data API call as the mode wants it: the key alone (ApiKey), or `idToken` plus the key. */
    data: (mode: DataApiAuth, keyValue: string, idToken: string, path = '/links', init: RequestInit = {}) =>
      fetch(url(path), { ...init, headers: { ...(mode === 'ApiKey' ? {} : { Authorization: idToken }), 'x-api-key': keyValue, ...(init.headers as Record<string, string>) } }),
  };
}

/** Resolves once `iso` has passed on this clock. */
async function until(iso: string): Promise<void> {
  const wait = Date.parse(iso) - Date.now();
  if (wait > 0) await sleep(wait + 50);
}

describe.each(['IdTokenAndApiKey', 'ApiKey'] as const)('DataApiAuth=%s', (mode) => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack(mode === 'ApiKey' ? { parameterOverrides: { DataApiAuth: mode } } : {});
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });
  const s = onStack(() => t);
  const links = (c: Customer, keyValue: string, idToken = c.idToken) => s.data(mode, keyValue, idToken);
  async function rotateWithOverlap(c: Customer, overlapSeconds: number): Promise<Rotated> {
    const res = await s.rotate(c, { overlapSeconds });
    expect(res.status).toBe(200);
    return (await res.json()) as Rotated;
  }
  async function createLink(c: Customer, keyValue: string, target: string): Promise<string> {
    const res = await s.data(mode, keyValue, c.idToken, '/links', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ url: target }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  }

  it("keeps the rotated-away key working during the overlap (200, the owner's data), then the workflow retires it (403)", async () => {
    const [c, other] = await Promise.all([onboardCustomer(t, `overlap-${mode}`), onboardCustomer(t, `overlap-other-${mode}`)]);
    const others = await createLink(other, other.keyValue, 'https://example.com/other');

    const rotated = await rotateWithOverlap(c, 5);
    expect(rotated.previousKeyId).toBe(c.keyId);
    expect(Date.parse(rotated.previousKeyExpiresAt ?? '')).toBeGreaterThan(Date.now());

    // During the overlap: the old key reads what the new one wrote (one owner); another customer's item stays 404.
    const mine = await createLink(c, rotated.value, 'https://example.com/mine');
    const during = await links(c, c.keyValue);
    expect(during.status).toBe(200);
    expect(((await during.json()) as { items: { id: string }[] }).items.map((l) => l.id)).toEqual([mine]);
    expect((await s.data(mode, c.keyValue, c.idToken, `/links/${others}`)).status).toBe(404);
    expect((await s.data(mode, c.keyValue, c.idToken, `/links/${mine}`)).status).toBe(200);
    // In token mode: the old key with the old token (custom:apiid = old key) and with a fresh one (= new key).
    const { idToken: fresh } = await signIn(t, c.email);
    expect((await links(c, c.keyValue, fresh)).status).toBe(200);
    expect((await links(c, rotated.value, fresh)).status).toBe(200);
    const view = await s.apiKeyView(fresh);
    expect(view.id).toBe(rotated.id);
    expect(view.createdAt).toEqual(expect.any(String));
    // The old key's summary has no id, only when it stops working.
    expect(view.previous).toEqual({ expiresAt: rotated.previousKeyExpiresAt });

    // Exactly one retirement per rotation: the execution named after the rotation, which waits, then retires.
    const done = await waitForExecution(t, s.retirementArn(rotated.id), 30_000);
    expect(JSON.parse(done.output ?? '{}')).toMatchObject({ retiredKeyId: c.keyId, rotationId: rotated.id });

    expect((await links(c, c.keyValue)).status).toBe(403);
    expect((await links(c, c.keyValue, fresh)).status).toBe(403);
    expect((await links(c, rotated.value, fresh)).status).toBe(200);
    expect((await s.apiKeyView(fresh)).previous).toBeUndefined();
  }, 90_000);

  it('refuses the old key from its expiry on in the function itself, when the retirement has not run (403)', async () => {
    const c = await onboardCustomer(t, `overlap-late-${mode}`);
    const rotated = await rotateWithOverlap(c, 3);
    // A retirement running late: stopped here, so API Gateway keeps admitting the old key after its expiry.
    await t.clients.sfn.send(new StopExecutionCommand({ executionArn: s.retirementArn(rotated.id) }));
    expect((await links(c, c.keyValue)).status).toBe(200); // and its owner (key-only) or account (token mode) is now cached

    // Token mode: the token issued before the rotation, whose custom:apiid still names the old key.
    await until(rotated.previousKeyExpiresAt!);
    const after = await links(c, c.keyValue, c.idToken);
    expect(after.status).toBe(403);
    expect(((await after.json()) as { message: string }).message).toBe(
      mode === 'ApiKey' ? 'The API key belongs to no active account' : 'The API key does not belong to the signed-in user',
    );
    expect((await links(c, rotated.value)).status).toBe(200);
  }, 60_000);

  it('retires the old key at once when the overlap is cancelled (DELETE /me/api-key/previous → 204, then 403)', async () => {
    const c = await onboardCustomer(t, `overlap-cancel-${mode}`);
    const rotated = await rotateWithOverlap(c, 3600);
    expect((await links(c, c.keyValue)).status).toBe(200);

    expect((await s.cancel(c)).status).toBe(204);
    expect((await links(c, c.keyValue)).status).toBe(403);
    expect((await links(c, rotated.value)).status).toBe(200);
    expect((await s.apiKeyView(c.idToken)).previous).toBeUndefined();
    // Nothing left in its overlap: a second cancel names the problem.
    const again = await s.cancel(c);
    expect(again.status).toBe(404);
    expect(((await again.json()) as { message: string }).message).toMatch(/No previous API key/);
    // The scheduled retirement is still waiting: at the overlap's end it finds nothing left to do.
    const execution = await t.clients.sfn.send(new DescribeExecutionCommand({ executionArn: s.retirementArn(rotated.id) }));
    expect(execution.status).toBe('RUNNING');
  }, 60_000);

  it('closing the account during an overlap stops the old key at once (403) and takes it out of the key lookup', async () => {
    const c = await onboardCustomer(t, `overlap-close-${mode}`);
    const rotated = await rotateWithOverlap(c, 3600);
    expect((await links(c, c.keyValue)).status).toBe(200); // in key-only mode its owner is cached now
    const { idToken: fresh } = await signIn(t, c.email);

    expect((await fetch(`${t.stack.apiUrl}/me`, {
          method: 'DELETE',
          headers: { Authorization: fresh, 'Content-Type': 'application/json' },
          body: JSON.stringify({ confirm: c.email }),
        })).status).toBe(202);
    const closed = await waitForExecution(t, s.executionArn('OffboardingStateMachine', `offboard-${c.userId}`), 30_000);
    expect(closed.status).toBe('SUCCEEDED');

    // Offboarding disabled both keys: API Gateway refuses them before any function runs, whatever a cache holds.
    expect((await links(c, c.keyValue, fresh)).status).toBe(403);
    expect((await links(c, rotated.value, fresh)).status).toBe(403);
    const { Item } = await t.clients.dynamodb.send(new GetItemCommand({ TableName: t.stack.outputs.AccountsTableName as string, Key: { userId: { S: c.userId } }, ConsistentRead: true }));
    expect(Item?.status?.S).toBe('CLOSED');
    expect(Item).not.toHaveProperty('previousApiKeyId');
    expect(Item).not.toHaveProperty('apiKeyId');
  }, 60_000);

  it('refuses an overlap outside 0…24 h, or not whole seconds, with 400 naming the field; and a second overlap while one lasts (409)', async () => {
    const c = await onboardCustomer(t, `overlap-bad-${mode}`);
    for (const overlapSeconds of [86_401, -1, 1.5, '60']) {
      const res = await s.rotate(c, { overlapSeconds });
      expect({ overlapSeconds, status: res.status }).toEqual({ overlapSeconds, status: 400 });
      expect(JSON.stringify(await res.json())).toContain('overlapSeconds');
    }
    const first = await s.rotate(c, { overlapSeconds: 3600 });
    expect(first.status).toBe(200);
    const next = { ...c, keyId: ((await first.json()) as Rotated).id };
    const second = await s.rotate(next, { overlapSeconds: 60 });
    expect(second.status).toBe(409);
    expect(((await second.json()) as { message: string }).message).toMatch(/previous API key is still in its overlap/);
  }, 60_000);
});
