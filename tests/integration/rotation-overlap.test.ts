/**
 * Rotation without downtime on the offline stack: a rotation with `overlapSeconds` keeps the old key working (the data
 * API answers 200 to it, whichever token rides along) until the key-retirement workflow's Wait ends, after which the
 * old key is refused (403) and GET /me/api-key no longer shows it; DELETE /me/api-key/previous retires it at once.
 */
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { randomUUID } from 'node:crypto';
import { onboardCustomer, signIn, startTestStack, waitForExecution, type Customer, type TestStack } from '../../local/harness/stack.ts';

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack();
}, 60_000);
afterAll(async () => {
  await t?.close();
});

interface Rotated {
  id: string;
  previousKeyId: string;
  previousKeyExpiresAt?: string;
}

async function rotate(c: Customer, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${t.stack.apiUrl}/me/api-key/rotate`, {
    method: 'POST',
    headers: { Authorization: c.idToken, 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID() },
    body: JSON.stringify({ keyId: c.keyId, ...body }),
  });
}

const links = (idToken: string, keyValue: string) => fetch(`${t.stack.apiUrl}/links`, { headers: { Authorization: idToken, 'x-api-key': keyValue } });

async function apiKeyView(idToken: string): Promise<{ id: string; createdAt?: string; previous?: { expiresAt: string } }> {
  const res = await fetch(`${t.stack.apiUrl}/me/api-key`, { headers: { Authorization: idToken } });
  expect(res.status).toBe(200);
  return (await res.json()) as never;
}

function retirementArn(rotationId: string): string {
  const machine = t.stack.model.stateMachines.find((m) => m.logicalId === 'KeyRetirementStateMachine');
  if (!machine) throw new Error('no key-retirement state machine');
  return `${machine.arn.replace(':stateMachine:', ':execution:')}:retire-${rotationId}`;
}

it('keeps the rotated-away key working during the overlap (200), then the workflow retires it (403)', async () => {
  const c = await onboardCustomer(t, 'overlap');
  const newKeyValue = async (res: Response) => ((await res.json()) as Rotated & { value: string });

  const res = await rotate(c, { overlapSeconds: 3 });
  expect(res.status).toBe(200);
  const rotated = await newKeyValue(res);
  expect(rotated.previousKeyId).toBe(c.keyId);
  expect(Date.parse(rotated.previousKeyExpiresAt ?? '')).toBeGreaterThan(Date.now());

  // During the overlap: the old key with the old token (custom:apiid = old key) and with a fresh one (= new key).
  const { idToken: fresh } = await signIn(t, c.email);
  expect((await links(c.idToken, c.keyValue)).status).toBe(200);
  expect((await links(fresh, c.keyValue)).status).toBe(200);
  expect((await links(fresh, rotated.value)).status).toBe(200);
  const during = await apiKeyView(fresh);
  expect(during.id).toBe(rotated.id);
  expect(during.createdAt).toEqual(expect.any(String));
  // The old key's summary has no id, only when it stops working.
  expect(during.previous).toEqual({ expiresAt: rotated.previousKeyExpiresAt });

  // Exactly one retirement per rotation: the execution named after the rotation, which waits, then retires.
  const done = await waitForExecution(t, retirementArn(rotated.id), 30_000);
  expect(JSON.parse(done.output ?? '{}')).toMatchObject({ retiredKeyId: c.keyId, rotationId: rotated.id });

  expect((await links(c.idToken, c.keyValue)).status).toBe(403);
  expect((await links(fresh, c.keyValue)).status).toBe(403);
  expect((await links(fresh, rotated.value)).status).toBe(200);
  expect((await apiKeyView(fresh)).previous).toBeUndefined();
}, 60_000);

it('retires the old key at once when the overlap is cancelled (DELETE /me/api-key/previous → 204, then 403)', async () => {
  const c = await onboardCustomer(t, 'overlap-cancel');
  const res = await rotate(c, { overlapSeconds: 3600 });
  expect(res.status).toBe(200);
  const rotated = (await res.json()) as Rotated;
  expect((await links(c.idToken, c.keyValue)).status).toBe(200);

  const cancel = () => fetch(`${t.stack.apiUrl}/me/api-key/previous`, { method: 'DELETE', headers: { Authorization: c.idToken } });
  expect((await cancel()).status).toBe(204);
  expect((await links(c.idToken, c.keyValue)).status).toBe(403);
  expect((await apiKeyView(c.idToken)).previous).toBeUndefined();
  // Nothing left in its overlap: a second cancel names the problem.
  const again = await cancel();
  expect(again.status).toBe(404);
  expect(((await again.json()) as { message: string }).message).toMatch(/No previous API key/);
  // The scheduled retirement is still waiting: at the overlap's end it finds nothing left to do.
  const execution = await t.clients.sfn.send(new DescribeExecutionCommand({ executionArn: retirementArn(rotated.id) }));
  expect(execution.status).toBe('RUNNING');
}, 60_000);

it('refuses an overlap outside 0…24 h, or not whole seconds, with 400 naming the field; and a second overlap while one lasts (409)', async () => {
  const c = await onboardCustomer(t, 'overlap-bad');
  for (const overlapSeconds of [86_401, -1, 1.5, '60']) {
    const res = await rotate(c, { overlapSeconds });
    expect({ overlapSeconds, status: res.status }).toEqual({ overlapSeconds, status: 400 });
    expect(JSON.stringify(await res.json())).toContain('overlapSeconds');
  }
  const first = await rotate(c, { overlapSeconds: 3600 });
  expect(first.status).toBe(200);
  const next = { ...c, keyId: ((await first.json()) as Rotated).id };
  const second = await rotate(next, { overlapSeconds: 60 });
  expect(second.status).toBe(409);
  expect(((await second.json()) as { message: string }).message).toMatch(/previous API key is still in its overlap/);
}, 60_000);
