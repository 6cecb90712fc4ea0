/**
 * The account lifecycle on the offline stack: a user deleted by an administrator is offboarded by the reconciler
 * (invoked here as the schedule would, no sleeping) — key refused and deleted, account CLOSED, final statement
 * prorated to the closing, later closes skip it; a user deletes their own account with DELETE /me; a disabled user
 * can neither sign in nor refresh, and the reconciler suspends their key until they are enabled again.
 * In both key modes (KeyMode ApiGateway and SelfIssued, one suite): where they differ (how a closed account's key is
 * refused and what is left of it) the table below states each mode's answer. The disabled user's suspension runs in
 * ApiGateway mode only: the reconciler's suspend of a self-issued key is being built (issue 15) in another change.
 */
import { CreateUsagePlanKeyCommand, DeleteUsagePlanKeyCommand } from '@aws-sdk/client-api-gateway';
import {
  AdminDeleteUserCommand,
  AdminDisableUserCommand,
  AdminEnableUserCommand,
  AdminGetUserCommand,
  InitiateAuthCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { createHash } from 'node:crypto';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { hashKey } from '../../functions/shared/self-issued-keys.ts';
import { KEY_MODES, inKeyMode, selfIssuedKeysTable, storedKeyState, type KeyMode } from '../../local/harness/key-modes.ts';
import { invokeFunction, onboardCustomer, signIn, startTestStack, waitForExecution, type TestStack } from '../../local/harness/stack.ts';

jest.setTimeout(30_000);

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- ledger items are inspected field by field
type Item = Record<string, any>;

const DAY_MS = 86_400_000;

/** `YYYY-MM` of the month `offset` months from the one holding `at` (UTC). */
function monthOf(at: Date, offset = 0): string {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + offset, 1)).toISOString().slice(0, 7);
}

function daysInMonth(at: Date): number {
  return Math.round((Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1) - Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1)) / DAY_MS);
}

/**
 * A closed account's key, by mode: refused by API Gateway's key check (403) and deleted, or refused by the key
 * authorizer (401) and its record revoked (the hash stays, so the value is recognised and refused).
 */
const CLOSED_KEY: Record<KeyMode, { status: number; stored: 'absent' | 'revoked' }> = {
  ApiGateway: { status: 403, stored: 'absent' },
  SelfIssued: { status: 401, stored: 'revoked' },
};

describe.each(KEY_MODES)('account lifecycle: deletion and disabling, KeyMode %s', (mode) => {
  let t: TestStack;
  let ddb: DynamoDBDocumentClient;

  beforeAll(async () => {
    t = await startTestStack(inKeyMode(mode));
    ddb = DynamoDBDocumentClient.from(t.clients.dynamodb);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  const table = (logicalId: string): string => t.stack.outputs[`${logicalId}Name`] as string;
  const machineArn = (logicalId: string): string => {
    const machine = t.stack.model.stateMachines.find((m) => m.logicalId === logicalId);
    if (!machine) throw new Error(`no ${logicalId}`);
    return machine.arn;
  };
  const offboardingExecution = (userId: string): string =>
    `${machineArn('OffboardingStateMachine').replace(':stateMachine:', ':execution:')}:offboard-${userId}`;

  /** A confirmed, onboarded customer with the key value this mode gives them: sub, ID token, key id and value. */
  async function customer(prefix: string): Promise<{ email: string; userId: string; idToken: string; keyId: string; key: string }> {
    const c = await onboardCustomer(t, prefix);
    expect((await getAccount(c.userId)).apiKeyId).toBe(c.keyId);
    return { email: c.email, userId: c.userId, idToken: c.idToken, keyId: c.keyId, key: c.keyValue };
  }

  async function getAccount(userId: string): Promise<Item> {
    const { Item: item } = await ddb.send(new GetCommand({ TableName: table('AccountsTable'), Key: { userId }, ConsistentRead: true }));
    if (!item) throw new Error(`no account ${userId}`);
    return item;
  }

  async function ledger(userId: string): Promise<Item[]> {
    const { Items } = await ddb.send(
      new QueryCommand({ TableName: table('BillingTable'), KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': userId }, ConsistentRead: true }),
    );
    return Items ?? [];
  }

  /**
   * The customer has been on pro ($99) since the first instant of last month: their onboarding entry is replaced, the
   * account says pro and the key is on pro (in the pro usage plan, or the key slot and key record on pro).
   */
  async function proSinceLastMonth(userId: string, keyId: string, key: string, now: Date): Promise<void> {
    if (mode === 'ApiGateway') {
      await t.clients.apigateway.send(new DeleteUsagePlanKeyCommand({ usagePlanId: t.stack.outputs.FreeUsagePlanId, keyId }));
      await t.clients.apigateway.send(new CreateUsagePlanKeyCommand({ usagePlanId: t.stack.outputs.ProUsagePlanId, keyId, keyType: 'API_KEY' }));
    } else {
      for (const pk of [`CUSTOMER#${userId}`, `KEY#${hashKey(key)}`]) {
        await ddb.send(new UpdateCommand({ TableName: selfIssuedKeysTable(t), Key: { pk }, UpdateExpression: 'SET #plan = :pro', ConditionExpression: 'attribute_exists(pk)', ExpressionAttributeNames: { '#plan': 'plan' }, ExpressionAttributeValues: { ':pro': 'pro' } }));
      }
    }
    for (const entry of await ledger(userId)) {
      await ddb.send(new DeleteCommand({ TableName: table('BillingTable'), Key: { userId, entryId: entry.entryId } }));
    }
    const since = `${monthOf(now, -1)}-01T00:00:00.000Z`;
    await ddb.send(
      new PutCommand({
        TableName: table('BillingTable'),
        Item: { userId, entryId: `${since}#PLAN_STARTED#test`, type: 'PLAN_STARTED', plan: 'pro', monthlyPrice: 99, currency: 'USD', effectiveAt: since },
      }),
    );
    await ddb.send(
      new UpdateCommand({
        TableName: table('AccountsTable'),
        Key: { userId },
        UpdateExpression: 'SET #plan = :pro',
        ExpressionAttributeNames: { '#plan': 'plan' },
        ExpressionAttributeValues: { ':pro': 'pro' },
      }),
    );
  }

  async function call(method: string, path: string, idToken: string, key?: string, body?: unknown): Promise<{ status: number; body: Item }> {
    const response = await fetch(`${t.stack.apiUrl}${path}`, {
      method,
      headers: { Authorization: idToken, ...(key ? { 'x-api-key': key } : {}), ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Item) : {} };
  }

  type Reconciled = { checked: number; offboarded: number; redriven: number; suspended: number; restored: number; failed: number };
  const reconcile = (): Promise<Reconciled> => invokeFunction(t, 'ReconcileAccountsFunction');


  async function closePeriod(period: string): Promise<void> {
    const { executionArn } = await t.clients.sfn.send(
      new StartExecutionCommand({ stateMachineArn: machineArn('BillingCloseStateMachine'), name: `close-${period}-${Date.now()}`, input: JSON.stringify({ period }) }),
    );
    expect((await waitForExecution(t, executionArn as string)).status).toBe('SUCCEEDED');
  }

  it(`an administrator deletes a pro customer: the reconciler offboards them — key ${CLOSED_KEY[mode].status} and ${CLOSED_KEY[mode].stored === 'absent' ? 'deleted' : 'revoked'}, CLOSED, final statement to the cent, later closes skip them`, async () => {
    const gone = await customer('deleted');
    const control = await customer('control');
    await proSinceLastMonth(gone.userId, gone.keyId, gone.key, new Date());
    expect((await call('GET', '/links', gone.idToken, gone.key)).status).toBe(200);

    await t.clients.cognito.send(new AdminDeleteUserCommand({ UserPoolId: t.stack.userPoolId, Username: gone.email }));
    // Until the reconciler runs (every 5 minutes in AWS) the key still works: that window is the stated time. A
    // rotation in it is refused with a 4xx (Cognito no longer knows the user), and leaves no new key behind: custom:apiid
    // is written before the rotation commits, in both modes, so the old key and the account stay as they were.
    expect((await call('GET', '/links', gone.idToken, gone.key)).status).toBe(200);
    const rotation = await call('POST', '/me/api-key/rotate', gone.idToken, gone.key);
    expect(rotation).toMatchObject({ status: 403, body: { code: 'Forbidden' } });
    expect(await getAccount(gone.userId)).toMatchObject({ apiKeyId: gone.keyId });
    expect((await call('GET', '/links', gone.idToken, gone.key)).status).toBe(200);

    const report = await reconcile();
    expect(report).toMatchObject({ offboarded: 1, failed: 0 });
    expect(report.checked).toBeGreaterThanOrEqual(2);
    const execution = await waitForExecution(t, offboardingExecution(gone.userId));
    expect(execution.status).toBe('SUCCEEDED');

    // The key: refused by the gateway, deleted in API Gateway (or revoked).
    expect((await call('GET', '/links', gone.idToken, gone.key)).status).toBe(CLOSED_KEY[mode].status);
    expect(await storedKeyState(t, { id: gone.keyId, value: gone.key })).toBe(CLOSED_KEY[mode].stored);
    // Rotation with the old token (account management is token-only): a 409 naming the closed account, never a 500.
    expect(await call('POST', '/me/api-key/rotate', gone.idToken, gone.key)).toMatchObject({ status: 409, body: { details: { status: 'CLOSED' } } });

    // The account: CLOSED at the moment the workflow started, no key.
    const account = await getAccount(gone.userId);
    expect(account).toMatchObject({ status: 'CLOSED', closeReason: 'USER_DELETED' });
    expect(account.apiKeyId).toBeUndefined();
    expect(account.closedAt).toBe((execution.startDate as Date).toISOString());

    // The ledger: ACCOUNT_CLOSED, last month in full, this month prorated by the second up to the closing instant.
    const closedAt = new Date(account.closedAt as string);
    const entries = await ledger(gone.userId);
    expect(entries.filter((e) => e.type === 'ACCOUNT_CLOSED')).toEqual([
      expect.objectContaining({ entryId: `${account.closedAt as string}#ACCOUNT_CLOSED`, effectiveAt: account.closedAt }),
    ]);
    const statements = Object.fromEntries(entries.filter((e) => e.type === 'STATEMENT').map((e) => [e.period as string, e]));
    expect(Object.keys(statements).sort()).toEqual([monthOf(closedAt, -1), monthOf(closedAt)]);
    expect(statements[monthOf(closedAt, -1)]).toMatchObject({ totalCents: 9900 });
    // Whole seconds from the month's first instant to the closing instant, of a month of N × 86,400 seconds, at 9,900
    // cents a month, rounded half up: e.g. closed at 12:00 on the 30th of a 30-day month, 9,900 × 29.5 / 30 = 9,735.
    const monthStart = Date.UTC(closedAt.getUTCFullYear(), closedAt.getUTCMonth(), 1);
    const chargedSeconds = Math.floor(closedAt.getTime() / 1000) - monthStart / 1000;
    const expectedCents = Math.round((9900 * chargedSeconds) / (daysInMonth(closedAt) * 86_400));
    expect(statements[monthOf(closedAt)]).toMatchObject({ totalCents: expectedCents });
    expect(statements[monthOf(closedAt)]!.lines).toEqual([
      {
        plan: 'pro',
        from: new Date(monthStart).toISOString(),
        to: closedAt.toISOString(),
        seconds: chargedSeconds,
        monthlyPrice: 99,
        amountCents: expectedCents,
      },
    ]);

    // The next close (last month's: the current one cannot be closed before it ends) writes the ACTIVE customer's
    // statement and nothing for the closed one, whose final statements cover it. (Closes of later periods skip an
    // account closed before they end: the close-page unit tests.)
    const before = (await ledger(gone.userId)).length;
    const period = monthOf(closedAt, -1);
    await closePeriod(period);
    expect((await ledger(control.userId)).filter((e) => e.type === 'STATEMENT' && e.period === period)).toHaveLength(1);
    expect(await ledger(gone.userId)).toHaveLength(before);

    // The next reconciliation leaves a CLOSED account alone.
    expect(await reconcile()).toMatchObject({ offboarded: 0, failed: 0 });
  });

  it(`a customer deletes their own account (DELETE /me with their email): key ${CLOSED_KEY[mode].status}, user gone, account CLOSED`, async () => {
    const self = await customer('self');

    const refused = await call('DELETE', '/me', self.idToken, undefined, { confirm: 'someone-else@example.com' });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain('confirm');
    expect((await call('GET', '/links', self.idToken, self.key)).status).toBe(200);

    const accepted = await call('DELETE', '/me', self.idToken, undefined, { confirm: self.email });
    expect(accepted).toMatchObject({ status: 202, body: { status: 'CLOSING', executionName: `offboard-${self.userId}` } });
    expect((await waitForExecution(t, offboardingExecution(self.userId))).status).toBe('SUCCEEDED');

    expect((await call('GET', '/links', self.idToken, self.key)).status).toBe(CLOSED_KEY[mode].status);
    expect(await storedKeyState(t, { id: self.keyId, value: self.key })).toBe(CLOSED_KEY[mode].stored);
    await expect(t.clients.cognito.send(new AdminGetUserCommand({ UserPoolId: t.stack.userPoolId, Username: self.email }))).rejects.toMatchObject({
      name: 'UserNotFoundException',
    });
    expect(await getAccount(self.userId)).toMatchObject({ status: 'CLOSED', closeReason: 'SELF_SERVICE' });
    expect((await ledger(self.userId)).filter((e) => e.type === 'STATEMENT')).toEqual([expect.objectContaining({ period: monthOf(new Date()), totalCents: 0 })]);
    // The token-only routes still answer (the ID token lives on until it expires), with 2xx/4xx, never 5xx.
    const me = await call('GET', '/me', self.idToken);
    expect(me).toMatchObject({ status: 200, body: { status: 'CLOSED' } });
    const key = await call('GET', '/me/api-key', self.idToken);
    expect(key.status).toBeGreaterThanOrEqual(400);
    expect(key.status).toBeLessThan(500);
    // Asking again changes nothing and answers the same.
    expect((await call('DELETE', '/me', self.idToken, undefined, { confirm: self.email })).status).toBe(202);

    // A late onboarding (started by hand, under any name) leaves the closed account closed and creates no key.
    const late = await t.clients.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: machineArn('OnboardingStateMachine'),
        name: `onboard-${self.userId}-late`,
        input: JSON.stringify({ userId: self.userId, email: self.email, username: self.userId }),
      }),
    );
    expect(await waitForExecution(t, late.executionArn as string)).toMatchObject({ status: 'SUCCEEDED' });
    const afterLate = await getAccount(self.userId);
    expect(afterLate).toMatchObject({ status: 'CLOSED' });
    expect(afterLate.apiKeyId).toBeUndefined();
    expect(afterLate.onboardingExecution).toBeUndefined();
  });

  it('a disabled user cannot sign in or refresh; the reconciler suspends their key (403) and restores it when enabled (200)', async () => {
    const user = await customer('disabled');
    const session = await signIn(t, user.email);
    expect((await call('GET', '/links', user.idToken, user.key)).status).toBe(200);

    await t.clients.cognito.send(new AdminDisableUserCommand({ UserPoolId: t.stack.userPoolId, Username: user.email }));

    const disabled = { name: 'NotAuthorizedException', message: 'User is disabled.' };
    await expect(signIn(t, user.email)).rejects.toMatchObject(disabled);
    await expect(
      t.clients.cognito.send(
        new InitiateAuthCommand({ ClientId: t.stack.userPoolClientId, AuthFlow: 'REFRESH_TOKEN_AUTH', AuthParameters: { REFRESH_TOKEN: session.refreshToken } }),
      ),
    ).rejects.toMatchObject(disabled);
    // The authorizer does not look at the user's state (in AWS neither): until the reconciler runs, the key works.
    expect((await call('GET', '/links', user.idToken, user.key)).status).toBe(200);

    expect(await reconcile()).toMatchObject({ suspended: 1, failed: 0 });
    expect((await call('GET', '/links', user.idToken, user.key)).status).toBe(403);
    expect(await storedKeyState(t, { id: user.keyId, value: user.key })).toBe('disabled');
    expect(await getAccount(user.userId)).toMatchObject({ status: 'ACTIVE', apiKeyId: user.keyId, keySuspendedAt: expect.any(String) });
    expect(await call('GET', '/me', user.idToken)).toMatchObject({ status: 200, body: { keySuspendedAt: expect.any(String) } });
    expect(await reconcile()).toMatchObject({ suspended: 0, restored: 0 });

    await t.clients.cognito.send(new AdminEnableUserCommand({ UserPoolId: t.stack.userPoolId, Username: user.email }));
    expect(await reconcile()).toMatchObject({ restored: 1, failed: 0 });
    expect((await call('GET', '/links', user.idToken, user.key)).status).toBe(200);
    expect((await getAccount(user.userId)).keySuspendedAt).toBeUndefined();
    await expect(signIn(t, user.email)).resolves.toMatchObject({ idToken: expect.any(String) });
  });

  it('re-drives an offboarding that failed: an account still open 15 minutes after its last change is closed by a later pass', async () => {
    const stuck = await customer('stuck');
    await t.clients.cognito.send(new AdminDeleteUserCommand({ UserPoolId: t.stack.userPoolId, Username: stuck.email }));
    // An offboarding that failed for good (started without its reason: it stops before changing anything).
    const { executionArn } = await t.clients.sfn.send(
      new StartExecutionCommand({ stateMachineArn: machineArn('OffboardingStateMachine'), name: `offboard-${stuck.userId}`, input: JSON.stringify({ userId: stuck.userId }) }),
    );
    expect((await waitForExecution(t, executionArn as string, { expect: ['FAILED'] })).status).toBe('FAILED');
    expect(await reconcile()).toMatchObject({ offboarded: 0, redriven: 0, failed: 0 }); // changed just now: not stuck yet

    const updatedAt = new Date(Date.now() - 20 * 60_000).toISOString();
    await ddb.send(new UpdateCommand({ TableName: table('AccountsTable'), Key: { userId: stuck.userId }, UpdateExpression: 'SET updatedAt = :u', ExpressionAttributeValues: { ':u': updatedAt } }));
    expect(await reconcile()).toMatchObject({ offboarded: 0, redriven: 1, failed: 0 });

    const redrive = `${offboardingExecution(stuck.userId)}-${createHash('sha256').update(updatedAt).digest('hex').slice(0, 12)}`;
    expect((await waitForExecution(t, redrive)).status).toBe('SUCCEEDED');
    expect(await getAccount(stuck.userId)).toMatchObject({ status: 'CLOSED' });
    expect((await call('GET', '/links', stuck.idToken, stuck.key)).status).toBe(CLOSED_KEY[mode].status);
    expect(await reconcile()).toMatchObject({ offboarded: 0, redriven: 0, failed: 0 });
  });
});
