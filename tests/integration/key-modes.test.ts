/**
 * Both key modes (template parameter KeyMode) through the same suite: the offline stack started from template.yaml
 * with DataApiAuth=ApiKey and KeyMode ApiGateway or SelfIssued, the data routes behind KeyAuthorizerFunction (API key
 * source AUTHORIZER). Customers sign up for real (Cognito → PostConfirmation → onboarding workflow). Their key is the
 * API Gateway key onboarding made (ApiGateway, read with GetApiKey) or a self-issued `tg_live_` key from their first
 * `POST /me/api-key/rotate`, shown once (SelfIssued: onboarding creates the key slot, no value, no CreateApiKey).
 */
import { GetApiKeyCommand, GetApiKeysCommand } from '@aws-sdk/client-api-gateway';
import { AdminDisableUserCommand, AdminEnableUserCommand } from '@aws-sdk/client-cognito-identity-provider';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ApiGatewayKeyService } from '../../functions/account/adapters.ts';
import { rotateApiKey } from '../../functions/account/domain.ts';
import { rotateSelfIssued } from '../../functions/account/self-issued.ts';
import { hashKey, issueKey } from '../../functions/shared/self-issued-keys.ts';
import { selfIssuedKeysStore } from '../../functions/shared/tables/self-issued-keys.ts';
import { accountDeps } from '../../local/harness/account-deps.ts';
import { KEY_MODES, inKeyMode, type KeyMode } from '../../local/harness/key-modes.ts';
import { claimsOf, invokeFunction, onboardCustomer, startTestStack, waitForExecution, type TestStack } from '../../local/harness/stack.ts';

// Each test signs customers up through Cognito and the onboarding workflow: seconds, more on a loaded machine.
jest.setTimeout(90_000);

describe.each<KeyMode>(KEY_MODES)('KeyMode %s', (mode) => {
  let t: TestStack;
  const keys: Record<string, string> = {};

  const rotate = async (idToken: string, body?: object): Promise<Response> =>
    fetch(`${t.stack.apiUrl}/me/api-key/rotate`, { method: 'POST', headers: { Authorization: idToken, 'Content-Type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });

  /** A customer signed up, onboarded and signed in, with the key value this mode gives them (local/harness/key-modes.ts). */
  async function customerKey(prefix: string): Promise<{ email: string; userId: string; idToken: string; keyId: string; key: string }> {
    const c = await onboardCustomer(t, prefix);
    return { email: c.email, userId: c.userId, idToken: c.idToken, keyId: c.keyId, key: c.keyValue };
  }

  beforeAll(async () => {
    // AWS's management API limits off (as in iam-policies): the race test's rotation and offboarding, on top of the
    // suite's sign-ups, make a burst of API Gateway calls that CI's loaded runs saw throttled (TooManyRequests) until
    // the offboarding's retries ran out; throttling is management-api-limits.test.ts's subject, not this suite's.
    t = await startTestStack(inKeyMode(mode, { managementApiLimits: 'off', parameterOverrides: { DataApiAuth: 'ApiKey', FreeQuotaLimit: '6', FreeRateLimit: '100', FreeBurstLimit: '100', BasicQuotaLimit: '9', BasicRateLimit: '100', BasicBurstLimit: '100' } }));
    const [a, b] = await Promise.all([customerKey(`km-${mode}-a`), customerKey(`km-${mode}-b`)]);
    keys.alice = a.key;
    keys.bob = b.key;
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  const api = (path: string, key?: string, init: RequestInit = {}): Promise<Response> =>
    fetch(`${t.stack.apiUrl}${path}`, { ...init, headers: { ...(key === undefined ? {} : { 'X-Api-Key': key }), 'Content-Type': 'application/json' } });

  it("the customer's key reads their own data; another's item is 404", async () => {
    const created = await api('/links', keys.alice, { method: 'POST', body: JSON.stringify({ url: `https://example.com/${mode}` }) });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const list = (await (await api('/links', keys.alice)).json()) as { items: { id: string }[] };
    expect(list.items.map((l) => l.id)).toEqual([id]);
    expect((await api(`/links/${id}`, keys.bob)).status).toBe(404);
  });

  it('no key is 401 (the authorizer identity source is missing); an unknown key is refused', async () => {
    expect((await api('/links')).status).toBe(401);
    const unknown = await api('/links', mode === 'SelfIssued' ? issueKey().value : 'not-a-key-of-this-api-0123456789');
    expect(unknown.status).toBe(mode === 'SelfIssued' ? 401 : 403);
  });

  it('onboarding: SelfIssued creates no API Gateway key (only the stack\'s backstop key exists) and stores no key value', async () => {
    const c = await customerKey(`km-${mode}-onb`);
    const apiKeys = (await t.clients.apigateway.send(new GetApiKeysCommand({ limit: 500 }))).items ?? [];
    if (mode === 'SelfIssued') {
      expect(apiKeys.map((k) => k.name)).toEqual([expect.stringMatching(/-self-issued-backstop$/)]);
      expect(c.keyId).toMatch(/^si[0-9a-f]{18}$/);
      expect(c.key).toMatch(/^tg_live_/);
      const table = t.stack.model.tables.find((x) => x.logicalId === 'SelfIssuedKeysTable')!.name;
      const items = JSON.stringify((await t.clients.dynamodb.send(new ScanCommand({ TableName: table }))).Items);
      expect(items).not.toContain(c.key);
      expect(items).toContain(hashKey(c.key));
    } else {
      expect(apiKeys.some((k) => k.id === c.keyId && k.name === c.userId)).toBe(true);
    }
    // custom:apiid names the key in both modes (the ID token after onboarding, or after the first rotation).
    expect(claimsOf(c.idToken)['custom:apiid']).toBe(c.keyId);
  });

  it('rotation: the new key works at once, the old one is refused, a retry naming the old key is 409 (no second key)', async () => {
    const c = await customerKey(`km-${mode}-rot`);
    expect((await api('/tags', c.key)).status).toBe(200);
    const res = await rotate(c.idToken, { keyId: c.keyId });
    expect(res.status).toBe(200);
    const rotated = (await res.json()) as { id: string; value?: string };
    expect(rotated.id).not.toBe(c.keyId);
    const newKey = mode === 'SelfIssued' ? rotated.value! : (await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: rotated.id, includeValue: true }))).value!;
    expect((await api('/tags', newKey)).status).toBe(200);
    // SelfIssued: the authorizer refuses a revoked key (401); ApiGateway: the old key is gone from its plan (403).
    expect((await api('/tags', c.key)).status).toBe(mode === 'SelfIssued' ? 401 : 403);
    expect((await rotate(c.idToken, { keyId: c.keyId })).status).toBe(409);
  });

  it('a retried rotation (same Idempotency-Key, no keyId) rotates once: the same answer (ApiGateway) or 409 naming the key (SelfIssued: the value was shown once), and the key it gave keeps working', async () => {
    const c = await customerKey(`km-${mode}-retry`);
    const send = () =>
      fetch(`${t.stack.apiUrl}/me/api-key/rotate`, { method: 'POST', headers: { Authorization: c.idToken, 'Idempotency-Key': `retry-${mode}-${c.userId}` } });
    const first = await send();
    expect(first.status).toBe(200);
    const rotated = (await first.json()) as { id: string; value?: string };
    const newKey = mode === 'SelfIssued' ? rotated.value! : (await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: rotated.id, includeValue: true }))).value!;
    const retry = await send();
    const retried = (await retry.json()) as { id?: string; value?: string; details?: { id?: string } };
    if (mode === 'SelfIssued') {
      expect({ status: retry.status, id: retried.details?.id, value: retried.value }).toEqual({ status: 409, id: rotated.id, value: undefined });
    } else {
      expect({ status: retry.status, id: retried.id }).toEqual({ status: 200, id: rotated.id });
    }
    expect((await api('/tags', newKey)).status).toBe(200);
  });

  it("a plan change (POST /me/plan, the plan-change workflow) puts the key on the new plan's quota", async () => {
    const c = await customerKey(`km-${mode}-plan`);
    const res = await fetch(`${t.stack.apiUrl}/me/plan`, {
      method: 'POST',
      headers: { Authorization: c.idToken, 'Content-Type': 'application/json', 'Idempotency-Key': `plan-${mode}` },
      body: JSON.stringify({ plan: 'basic' }),
    });
    expect(res.status).toBe(202);
    const { executionId } = (await res.json()) as { executionId: string };
    const machine = t.stack.model.stateMachines.find((m) => m.logicalId === 'PlanChangeStateMachine')!;
    const execution = await waitForExecution(t, `${machine.arn.replace(':stateMachine:', ':execution:')}:${executionId}`, 30_000);
    expect(execution.status).toBe('SUCCEEDED');
    const statuses: number[] = [];
    for (let i = 0; i < 11; i += 1) statuses.push((await api('/tags', c.key)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(9); // basic's quota, not free's 6
    expect(statuses.slice(9)).toEqual(mode === 'SelfIssued' ? [403, 403] : [429, 429]);
  });

  it('the plan quota holds: requests past it are refused', async () => {
    const c = await customerKey(`km-${mode}-quota`);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i += 1) statuses.push((await api('/tags', c.key)).status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(6);
    // ApiGateway: the usage plan's quota (429); SelfIssued: the authorizer's Deny (403, a Lambda authorizer cannot answer 429).
    expect(statuses.slice(6)).toEqual(mode === 'SelfIssued' ? [403, 403] : [429, 429]);
  });

  it('account deletion (DELETE /me, the offboarding workflow): the customer\'s key is refused at once, the workflow succeeds', async () => {
    const c = await customerKey(`km-${mode}-del`);
    expect((await api('/tags', c.key)).status).toBe(200);
    const res = await fetch(`${t.stack.apiUrl}/me`, { method: 'DELETE', headers: { Authorization: c.idToken, 'Content-Type': 'application/json' }, body: JSON.stringify({ confirm: c.email }) });
    expect(res.status).toBe(202);
    const machine = t.stack.model.stateMachines.find((m) => m.logicalId === 'OffboardingStateMachine')!;
    const execution = await waitForExecution(t, `${machine.arn.replace(':stateMachine:', ':execution:')}:offboard-${c.userId}`, 30_000);
    expect(execution.status).toBe('SUCCEEDED');
    // SelfIssued: the authorizer refuses the revoked key (401); ApiGateway: the deleted key (403).
    expect((await api('/tags', c.key)).status).toBe(mode === 'SelfIssued' ? 401 : 403);
    if (mode === 'SelfIssued') {
      const table = t.stack.model.tables.find((x) => x.logicalId === 'SelfIssuedKeysTable')!.name;
      const items = (await t.clients.dynamodb.send(new ScanCommand({ TableName: table }))).Items ?? [];
      expect(items.find((i) => i.pk?.S === `KEY#${hashKey(c.key)}`)?.status?.S).toBe('revoked');
    }
  });

  it('a disabled user (AdminDisableUser): the reconciler suspends the key (403) and a rotation is refused; re-enabled, the key works again', async () => {
    const c = await customerKey(`km-${mode}-dis`);
    expect((await api('/tags', c.key)).status).toBe(200);
    await t.clients.cognito.send(new AdminDisableUserCommand({ UserPoolId: t.stack.userPoolId, Username: c.email }));
    expect(await invokeFunction(t, 'ReconcileAccountsFunction', {})).toMatchObject({ suspended: 1, restored: 0, failed: 0 });
    // ApiGateway: the disabled API key (API Gateway's key check); SelfIssued: the authorizer's Deny on the suspended key.
    expect((await api('/tags', c.key)).status).toBe(403);
    // The ID token outlives the disabling (Cognito cannot revoke it): a rotation must not hand out a working key.
    const refused = await rotate(c.idToken, { keyId: c.keyId });
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ code: 'KeySuspended' });
    expect((await api('/tags', c.key)).status).toBe(403);
    // A second pass changes nothing.
    expect(await invokeFunction(t, 'ReconcileAccountsFunction', {})).toMatchObject({ suspended: 0, restored: 0, failed: 0 });

    await t.clients.cognito.send(new AdminEnableUserCommand({ UserPoolId: t.stack.userPoolId, Username: c.email }));
    expect(await invokeFunction(t, 'ReconcileAccountsFunction', {})).toMatchObject({ suspended: 0, restored: 1, failed: 0 });
    expect((await api('/tags', c.key)).status).toBe(200);
    expect((await rotate(c.idToken, { keyId: c.keyId })).status).toBe(200);
  });

  it('a rotation that took its lock before offboarding marked the account CLOSING: refused at its commit, and no key of the customer works afterwards', async () => {
    const c = await customerKey(`km-${mode}-race`);
    expect((await api('/tags', c.key)).status).toBe(200);
    const machine = t.stack.model.stateMachines.find((m) => m.logicalId === 'OffboardingStateMachine')!;
    /** DELETE /me, and the offboarding workflow run to its end. */
    const offboard = async (): Promise<void> => {
      const res = await fetch(`${t.stack.apiUrl}/me`, { method: 'DELETE', headers: { Authorization: c.idToken, 'Content-Type': 'application/json' }, body: JSON.stringify({ confirm: c.email }) });
      expect(res.status).toBe(202);
      const execution = await waitForExecution(t, `${machine.arn.replace(':stateMachine:', ':execution:')}:offboard-${c.userId}`, 30_000);
      expect(execution.status).toBe('SUCCEEDED');
    };
    // The rotation runs here, over the stack's own tables and services with AccountFunction's adapters, and the whole
    // offboarding runs inside its critical section: after its lock and its new key, before the conditional write that
    // commits it. Deterministic: the interleaving is forced, not hoped for.
    const env = t.stack.model.functions.find((f) => f.logicalId === 'AccountFunction')!.environment;
    const doc = DynamoDBDocumentClient.from(t.clients.dynamodb);
    const base = accountDeps(t);
    let outcome: unknown;
    if (mode === 'SelfIssued') {
      const store = selfIssuedKeysStore(env.SELF_ISSUED_KEYS_TABLE!, doc);
      // After the new key is stored and custom:apiid names it, the last step before the slot swap (the commit).
      let raced = false;
      const users = {
        async setApiKeyId(userId: string, keyId: string): Promise<void> {
          await base.users.setApiKeyId(userId, keyId);
          if (raced) return;
          raced = true;
          await offboard(); // offboarding closes the slot now: it still names the old key
        },
      } as typeof base.users;
      outcome = await rotateSelfIssued({ ...base, users, store }, c.userId, 'race-rotation', c.keyId).catch((error: unknown) => error);
      expect(outcome).toMatchObject({ statusCode: 409 });
      // Every key record the customer ever had (the onboarding-era none, the first rotation's, this one's) is revoked.
      const items = (await t.clients.dynamodb.send(new ScanCommand({ TableName: env.SELF_ISSUED_KEYS_TABLE! }))).Items ?? [];
      const theirs = items.filter((i) => i.pk?.S?.startsWith('KEY#') && i.customerId?.S === c.userId);
      expect(theirs).toHaveLength(2);
      expect(theirs.map((i) => i.status?.S)).toEqual(['revoked', 'revoked']);
      expect(items.find((i) => i.pk?.S === `CUSTOMER#${c.userId}`)?.status?.S).toBe('closed');
    } else {
      class RacingKeys extends ApiGatewayKeyService {
        override async attachKey(usagePlanId: string, keyId: string): Promise<void> {
          await super.attachKey(usagePlanId, keyId);
          await offboard(); // offboarding reads the account now: it still names the old key
        }

        // The rotation's own clean-up of its new key fails (DeleteApiKey is limited to 5/s per account): offboarding's
        // LeftoverKeys must have removed it already.
        override async deleteKey(): Promise<void> {}
      }
      outcome = await rotateApiKey(accountDeps(t, new RacingKeys(t.clients.apigateway)), {
        userId: c.userId,
        fromKeyId: c.keyId,
        requestKey: 'race-rotation',
      }).catch((error: unknown) => error);
      // Refused before its commit (the account no longer ACTIVE, or the user gone), its new key deleted by offboarding.
      expect(outcome).toMatchObject({ statusCode: expect.any(Number) });
      expect([403, 409]).toContain((outcome as { statusCode: number }).statusCode);
      const left = (await t.clients.apigateway.send(new GetApiKeysCommand({ limit: 500 }))).items ?? [];
      expect(left.filter((k) => k.name === c.userId)).toEqual([]);
    }
    expect((await api('/tags', c.key)).status).toBe(mode === 'SelfIssued' ? 401 : 403);
    // After the deletion started (here: finished), the same customer's rotation through the API is refused.
    expect((await rotate(c.idToken, { keyId: c.keyId })).status).toBe(409);
  });
});
