/**
 * The KeyOwners records' other writers on the offline stack in key-only mode (DataApiAuth=ApiKey, KeyMode ApiGateway):
 * the reconciler backfills the records of an account from before the table (the upgrade path: its records are
 * deleted here), after which the one-GetItem lookup (RecordedKeyOwners without the index fallback) finds its current and
 * rotated-away keys; a disabled user's current and in-overlap keys are refused and both records carry the suspension,
 * and after re-enabling and one reconciler run both work again; an offboarded account's keys are retired (tombstone +
 * TTL in epoch seconds, RETIRED_RECORD_DAYS after `retiredAt`), and so is the key a failed onboarding deleted.
 */
import { AdminDisableUserCommand, AdminEnableUserCommand } from '@aws-sdk/client-cognito-identity-provider';
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import type { ReconcileReport } from '../../functions/reconcile/domain.ts';
import { DynamoKeyOwnerRecords, RecordedKeyOwners, RETIRED_RECORD_DAYS } from '../../functions/shared/tables/key-owners.ts';
import { executionHistory } from '../../local/harness/clients.ts';
import { invokeFunction, onboardCustomer, onboardingArn, signUpAndConfirm, startTestStack, uniqueEmail, waitForExecution, type Customer, type TestStack } from '../../local/harness/stack.ts';
import { TaskFaultInjector } from '../../local/stepfunctions/index.ts';
import { tableName } from '../support/billing-close.ts';

let t: TestStack;
let keyOwnersTable: string;
let records: DynamoKeyOwnerRecords;
/** The lookup the key-only data functions make, without the index fallback: what the record alone answers. */
let fromRecord: RecordedKeyOwners;
const taskFaults = new TaskFaultInjector();

beforeAll(async () => {
  t = await startTestStack({ parameterOverrides: { DataApiAuth: 'ApiKey' }, faults: { stepFunctions: taskFaults } });
  keyOwnersTable = tableName(t, 'KeyOwnersTable');
  records = new DynamoKeyOwnerRecords(keyOwnersTable, DynamoDBDocumentClient.from(t.clients.dynamodb));
  fromRecord = new RecordedKeyOwners(records);
}, 90_000);
afterEach(() => {
  taskFaults.clear();
});
afterAll(async () => {
  await t?.close();
});

const url = (path: string): string => `${t.stack.apiUrl}${path}`;
const links = (keyValue: string): Promise<Response> => fetch(url('/links'), { headers: { 'X-Api-Key': keyValue } });
const reconcile = (): Promise<ReconcileReport> => invokeFunction<ReconcileReport>(t, 'ReconcileAccountsFunction');

/** A customer who rotated with a 10-minute overlap: `old` is the rotated-away key (still admitted), `current` the new one. */
async function rotatedCustomer(prefix: string): Promise<{ c: Customer; old: { id: string; value: string }; current: { id: string; value: string }; overlapEnd: string }> {
  const c = await onboardCustomer(t, prefix);
  const res = await fetch(url('/me/api-key/rotate'), {
    method: 'POST',
    headers: { Authorization: c.idToken, 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID() },
    body: JSON.stringify({ keyId: c.keyId, overlapSeconds: 600 }),
  });
  expect(res.status).toBe(200);
  const rotated = (await res.json()) as { id: string; value: string; previousKeyId: string; previousKeyExpiresAt: string };
  expect(rotated.previousKeyId).toBe(c.keyId);
  return { c, old: { id: c.keyId, value: c.keyValue }, current: { id: rotated.id, value: rotated.value }, overlapEnd: rotated.previousKeyExpiresAt };
}

it('backfills, in one reconciler run, the records of an account from before the table; the record alone then answers for both keys', async () => {
  const { c, old, current, overlapEnd } = await rotatedCustomer('owners-legacy');
  // A stack deployed before the KeyOwners table: neither key has a record.
  for (const apiKeyId of [old.id, current.id]) {
    await t.clients.dynamodb.send(new DeleteItemCommand({ TableName: keyOwnersTable, Key: { apiKeyId: { S: apiKeyId } } }));
  }
  await expect(fromRecord.ownerOf(current.id, new Date())).resolves.toBeUndefined();

  const report = await reconcile();

  expect(report.keysRecorded).toBeGreaterThanOrEqual(2);
  expect(report.failed).toBe(0);
  expect(await records.get(current.id)).toMatchObject({ apiKeyId: current.id, userId: c.userId });
  expect((await records.get(current.id))?.notAfter).toBeUndefined();
  // The overlap's end as endAt writes it (with milliseconds), whatever form previousKey.expiresAt has (whole seconds).
  expect(await records.get(old.id)).toMatchObject({ apiKeyId: old.id, userId: c.userId, notAfter: new Date(overlapEnd).toISOString() });
  await expect(fromRecord.ownerOf(current.id, new Date())).resolves.toEqual({ userId: c.userId });
  await expect(fromRecord.ownerOf(old.id, new Date())).resolves.toEqual({ userId: c.userId, until: Date.parse(overlapEnd) });
  expect((await links(current.value)).status).toBe(200);
  expect((await links(old.value)).status).toBe(200);

  // A second run finds nothing left to record, and leaves the records as they are.
  const before = await records.get(old.id);
  expect(await reconcile()).toMatchObject({ keysRecorded: 0, keyRecordsUpdated: 0 });
  expect(await records.get(old.id)).toEqual(before);
}, 60_000);

it("refuses a disabled user's current and in-overlap keys (both records suspended), and admits them again after re-enabling and one run", async () => {
  const { c, old, current } = await rotatedCustomer('owners-disabled');

  await t.clients.cognito.send(new AdminDisableUserCommand({ UserPoolId: t.stack.userPoolId, Username: c.email }));
  expect(await reconcile()).toMatchObject({ suspended: 1, failed: 0 });

  for (const key of [current, old]) {
    expect((await records.get(key.id))?.suspendedAt).toEqual(expect.any(String));
    await expect(fromRecord.ownerOf(key.id, new Date())).resolves.toBeUndefined();
    expect((await links(key.value)).status).toBe(403);
  }

  await t.clients.cognito.send(new AdminEnableUserCommand({ UserPoolId: t.stack.userPoolId, Username: c.email }));
  const restored = await reconcile();
  expect(restored).toMatchObject({ restored: 1, failed: 0 });
  expect(restored.keyRecordsUpdated).toBeGreaterThanOrEqual(2);

  for (const key of [current, old]) {
    expect((await records.get(key.id))?.suspendedAt).toBeUndefined();
    await expect(fromRecord.ownerOf(key.id, new Date())).resolves.toMatchObject({ userId: c.userId });
    expect((await links(key.value)).status).toBe(200);
  }
}, 60_000);

it("retires an offboarded account's keys: tombstone with its TTL RETIRED_RECORD_DAYS after, in epoch seconds", async () => {
  const { c, old, current } = await rotatedCustomer('owners-closed');

  const res = await fetch(url('/me'), {
    method: 'DELETE',
    headers: { Authorization: c.idToken, 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID() },
    body: JSON.stringify({ confirm: c.email }),
  });
  expect(res.status).toBe(202);
  const machine = t.stack.model.stateMachines.find((m) => m.logicalId === 'OffboardingStateMachine')!;
  const execution = await waitForExecution(t, `${machine.arn.replace(':stateMachine:', ':execution:')}:offboard-${c.userId}`);
  expect(execution.status).toBe('SUCCEEDED');

  // The current key by DeleteKey; the one in its overlap as a leftover key named after the user.
  for (const key of [current, old]) {
    const record = await records.get(key.id);
    expect(record).toMatchObject({ apiKeyId: key.id, userId: c.userId, retiredAt: expect.any(String) });
    expect(record!.expiresAt).toBe(Math.floor(Date.parse(record!.retiredAt!) / 1000) + RETIRED_RECORD_DAYS * 86_400);
    await expect(fromRecord.ownerOf(key.id, new Date())).resolves.toBeUndefined();
    expect((await links(key.value)).status).toBe(403);
  }

  // A later reconciler run does not bring them back (the account is CLOSED; a backfill never overwrites).
  await reconcile();
  expect((await records.get(current.id))?.retiredAt).toEqual(expect.any(String));
}, 60_000);

it('retires the key a failed onboarding deleted in its compensation', async () => {
  // Not retried (the table is missing): the workflow compensates (detach, delete the key, retire its record) and fails.
  taskFaults.inject('RecordPlanStarted', 'DynamoDB.ResourceNotFoundException', 1);
  const userId = await signUpAndConfirm(t, uniqueEmail('owners-compensated'));
  const failed = await waitForExecution(t, onboardingArn(t, userId), { expect: ['FAILED'] });
  const created = (await executionHistory(t, failed.executionArn!)).find((e) => e.type === 'TaskStateExited' && e.stateExitedEventDetails?.name === 'CreateApiKey');
  const keyId = (JSON.parse(created?.stateExitedEventDetails?.output ?? '{}') as { apiKey?: { Id?: string } }).apiKey?.Id;
  expect(keyId).toEqual(expect.any(String));

  const record = await records.get(keyId!);
  expect(record).toMatchObject({ apiKeyId: keyId, userId, retiredAt: expect.any(String) });
  expect(record!.expiresAt).toBe(Math.floor(Date.parse(record!.retiredAt!) / 1000) + RETIRED_RECORD_DAYS * 86_400);
}, 60_000);
