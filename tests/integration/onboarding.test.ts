/**
 * End to end on the offline stack, in both key modes (KeyMode ApiGateway and SelfIssued, one suite): sign-up → confirm
 * → onboarding → custom:apiid → account + billing → protected API, with the gateway's refusals, a duplicate trigger
 * delivery, an onboarding re-driven by the next sign-in after it failed, and a forgot-password confirmation. Where the
 * modes differ (where the customer's key lives, which status a refusal has) the tables below state each mode's answer.
 */
import { GetApiKeysCommand, GetUsagePlanKeysCommand } from '@aws-sdk/client-api-gateway';
import {
  AdminGetUserCommand,
  ConfirmForgotPasswordCommand,
  ForgotPasswordCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_MODES, inKeyMode, selfIssuedKeysTable, type KeyMode } from '../../local/harness/key-modes.ts';
import {
  PASSWORD,
  claimsOf,
  onboardCustomer,
  onboardingArn,
  signIn,
  signUpAndConfirm,
  signUpAndOnboard,
  startTestStack,
  uniqueEmail,
  waitForExecution,
  type TestStack,
} from '../../local/harness/stack.ts';
import { TaskFaultInjector } from '../../local/stepfunctions/index.ts';

/** Where a customer's key lives after onboarding, by mode: an API Gateway key named by the sub in the free usage plan, or a key slot (no value yet) on the free plan. */
const KEY_STORE: Record<KeyMode, (apiid: string) => { apiGatewayKeys: string[]; inFreeUsagePlan: boolean; slot?: { keyId: string; plan: string } }> = {
  ApiGateway: (apiid) => ({ apiGatewayKeys: [apiid], inFreeUsagePlan: true }),
  SelfIssued: (apiid) => ({ apiGatewayKeys: [], inFreeUsagePlan: false, slot: { keyId: apiid, plan: 'free' } }),
};

/**
 * The gateway's refusals, by mode: an unknown key is API Gateway's 403 or the key authorizer's 401 (Unauthorized);
 * over quota is the usage plan's 429 or the authorizer's Deny, 403 (a Lambda authorizer cannot answer 429).
 */
const REFUSED: Record<KeyMode, { unknownKey: number; overQuota: number }> = {
  ApiGateway: { unknownKey: 403, overQuota: 429 },
  SelfIssued: { unknownKey: 401, overQuota: 403 },
};

describe.each(KEY_MODES)('KeyMode %s', (mode) => {
  let t: TestStack;
  const taskFaults = new TaskFaultInjector();

  beforeAll(async () => {
    // A tiny daily quota so "over quota" is a handful of requests; a generous throttle so it is the quota that bites.
    t = await startTestStack(
      inKeyMode(mode, { parameterOverrides: { FreeQuotaLimit: '6', FreeQuotaPeriod: 'DAY', FreeRateLimit: '1000', FreeBurstLimit: '1000' }, faults: { stepFunctions: taskFaults } }),
    );
  }, 60_000);

  afterEach(() => {
    taskFaults.clear();
  });

  afterAll(async () => {
    await t?.close();
  });

  const table = (logicalId: string) => t.stack.model.tables.find((x) => x.logicalId === logicalId)!.name;
  const freePlanId = () => t.stack.model.usagePlans.find((p) => p.logicalId === 'FreeUsagePlan')!.id;

  function get(path: string, headers: Record<string, string>): Promise<Response> {
    return fetch(`${t.stack.apiUrl}${path}`, { headers });
  }

  async function onboardedUser(prefix: string) {
    const email = uniqueEmail(prefix);
    const { userId, execution } = await signUpAndOnboard(t, email);
    return { email, userId, execution };
  }

  /** The customer's key as this mode keeps it: API Gateway keys named by the sub, whether the key is in the free usage plan, the SelfIssuedKeys slot. */
  async function keyStore(userId: string, apiid: string): Promise<ReturnType<(typeof KEY_STORE)[KeyMode]>> {
    const keys = await t.clients.apigateway.send(new GetApiKeysCommand({ nameQuery: userId }));
    const planKeys = await t.clients.apigateway.send(new GetUsagePlanKeysCommand({ usagePlanId: freePlanId(), limit: 500 }));
    const { Item } = await t.clients.dynamodb.send(new GetItemCommand({ TableName: selfIssuedKeysTable(t), Key: { pk: { S: `CUSTOMER#${userId}` } }, ConsistentRead: true }));
    return {
      apiGatewayKeys: (keys.items ?? []).map((k) => k.id as string),
      inFreeUsagePlan: (planKeys.items ?? []).some((k) => k.id === apiid),
      // The whole slot: a `hash` here would mean onboarding issued a value nobody was shown.
      ...(Item ? { slot: Object.fromEntries(Object.entries(Item).filter(([name]) => name !== 'pk').map(([name, v]) => [name, v.S])) as { keyId: string; plan: string } } : {}),
    };
  }

  async function billingEntries(userId: string) {
    const ledger = await t.clients.dynamodb.send(
      new QueryCommand({ TableName: table('BillingTable'), KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': { S: userId } }, ConsistentRead: true }),
    );
    return ledger.Items ?? [];
  }

  describe('onboarding', () => {
    it('turns a confirmed sign-up into an ACTIVE account with a key on the free plan, custom:apiid and one billing entry', async () => {
      const { email, userId, execution } = await onboardedUser('ada');

      expect({ status: execution.status, error: execution.error, cause: execution.cause }).toEqual({ status: 'SUCCEEDED', error: undefined, cause: undefined });
      const output = JSON.parse(execution.output ?? '{}') as { apiKeyId: string };
      expect(output).toMatchObject({ userId, plan: 'free', status: 'ACTIVE' });

      const user = await t.clients.cognito.send(new AdminGetUserCommand({ UserPoolId: t.stack.userPoolId, Username: email }));
      const apiid = user.UserAttributes?.find((a) => a.Name === 'custom:apiid')?.Value;
      expect(apiid).toBe(output.apiKeyId);

      expect(await keyStore(userId, apiid!)).toEqual(KEY_STORE[mode](apiid!));
      if (mode === 'ApiGateway') {
        const keys = await t.clients.apigateway.send(new GetApiKeysCommand({ nameQuery: userId }));
        expect(keys.items?.[0]?.tags).toMatchObject({ 'tollgate:userId': userId });
      }

      const account = await t.clients.dynamodb.send(new GetItemCommand({ TableName: table('AccountsTable'), Key: { userId: { S: userId } } }));
      expect(account.Item).toMatchObject({ status: { S: 'ACTIVE' }, plan: { S: 'free' }, apiKeyId: { S: apiid }, email: { S: email } });

      const ledger = await billingEntries(userId);
      expect(ledger).toHaveLength(1);
      expect(ledger[0]).toMatchObject({ type: { S: 'PLAN_STARTED' }, plan: { S: 'free' } });

      const { idToken } = await signIn(t, email);
      expect(claimsOf(idToken)['custom:apiid']).toBe(apiid);
    }, 30_000);

    it('makes no second key, key slot, execution or billing entry when Cognito delivers the trigger again', async () => {
      const { userId, email, execution } = await onboardedUser('dup');
      const apiid = (JSON.parse(execution.output ?? '{}') as { apiKeyId: string }).apiKeyId;
      const event = JSON.parse(readFileSync(join(__dirname, '../../events/post-confirmation-sign-up.json'), 'utf8')) as {
        userPoolId: string;
        userName: string;
        request: { userAttributes: Record<string, string> };
      };
      event.userPoolId = t.stack.userPoolId;
      event.userName = userId;
      event.request.userAttributes.sub = userId;
      event.request.userAttributes.email = email;

      const [a, b] = await Promise.all([
        t.stack.lambda.invoke('PostConfirmationFunction', event),
        t.stack.lambda.invoke('PostConfirmationFunction', event),
      ]);

      expect([a.error, b.error]).toEqual([undefined, undefined]);
      expect(await keyStore(userId, apiid)).toEqual(KEY_STORE[mode](apiid));
      const machineArn = t.stack.model.stateMachines[0]!.arn;
      const executions = await t.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: machineArn }));
      expect(executions.executions?.filter((e) => e.name === `onboard-${userId}`)).toHaveLength(1);
      expect(await billingEntries(userId)).toHaveLength(1);
    }, 30_000);

    it('is re-driven by the next sign-in after failing past the key: one key (or key slot), one account, one billing entry, custom:apiid', async () => {
      // Not retried (the table is missing): the workflow compensates and records FAILED.
      taskFaults.inject('RecordPlanStarted', 'DynamoDB.ResourceNotFoundException', 1);
      const email = uniqueEmail('redrive');
      const userId = await signUpAndConfirm(t, email);
      const failed = await waitForExecution(t, onboardingArn(t, userId), { expect: ['FAILED'] });
      expect(failed.status).toBe('FAILED');
      const { Item: account } = await t.clients.dynamodb.send(new GetItemCommand({ TableName: table('AccountsTable'), Key: { userId: { S: userId } }, ConsistentRead: true }));
      expect(account).toMatchObject({ status: { S: 'FAILED' } });

      await signIn(t, email); // PostAuthentication re-drives a FAILED onboarding
      const redrive = `${onboardingArn(t, userId)}-${createHash('sha256').update(account!.updatedAt!.S!).digest('hex').slice(0, 12)}`;
      const done = await waitForExecution(t, redrive, 30_000);
      const apiid = (JSON.parse(done.output ?? '{}') as { apiKeyId: string }).apiKeyId;
      expect(await keyStore(userId, apiid)).toEqual(KEY_STORE[mode](apiid));
      const { Item: active } = await t.clients.dynamodb.send(new GetItemCommand({ TableName: table('AccountsTable'), Key: { userId: { S: userId } }, ConsistentRead: true }));
      expect(active).toMatchObject({ status: { S: 'ACTIVE' }, apiKeyId: { S: apiid } });
      expect((await billingEntries(userId)).map((e) => [e.type?.S, e.executionId?.S])).toEqual([['PLAN_STARTED', redrive]]);
      expect(claimsOf((await signIn(t, email)).idToken)['custom:apiid']).toBe(apiid);
    }, 60_000);
  });

  describe('protected API through the gateway', () => {
    it(`answers 200 with token and key, 401 without token or key, ${REFUSED[mode].unknownKey} with an unknown key, 403 with another's key, ${REFUSED[mode].overQuota} over quota`, async () => {
      const [c, other] = await Promise.all([onboardCustomer(t, 'api'), onboardCustomer(t, 'other')]);
      const { idToken, keyValue: key } = c;

      const ok = await get('/links', { Authorization: idToken, 'x-api-key': key });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ items: [] });

      // No authorizer on the data methods: API Gateway admits the key (and counts the request), the function checks the
      // token and answers with its JSON error body.
      const noToken = await get('/links', { 'x-api-key': key });
      expect(noToken.status).toBe(401);
      expect(await noToken.json()).toEqual({ message: 'Unauthorized', code: 'Unauthorized', requestId: expect.any(String) });
      const badToken = await get('/links', { Authorization: `${idToken.slice(0, -4)}AAAA`, 'x-api-key': key });
      expect({ status: badToken.status, body: await badToken.json() }).toEqual({ status: 401, body: expect.objectContaining({ message: 'Unauthorized' }) });
      expect((await get('/links', { Authorization: `Bearer ${idToken}`, 'x-api-key': key })).status).toBe(200);

      // No key: the data routes' KeyAuthorizer has X-Api-Key as identity source; API Gateway answers 401 without it.
      const noKey = await get('/links', { Authorization: idToken });
      expect(noKey.status).toBe(401);
      expect(await noKey.json()).toEqual({ message: 'Unauthorized' });

      const wrongKey = await get('/links', { Authorization: idToken, 'x-api-key': 'not-a-key-at-all-0000000000000000000000' });
      expect(wrongKey.status).toBe(REFUSED[mode].unknownKey);

      // Another customer's (valid) key cannot ride this user's token.
      const stolen = await get('/links', { Authorization: idToken, 'x-api-key': other.keyValue });
      expect(stolen.status).toBe(403);
      expect(((await stolen.json()) as { message: string }).message).toMatch(/does not belong/);

      // Quota is 6 per day: 4 used above on this key (two 200s, and the two refused by the function: API Gateway, or the
      // authorizer, counted them before the function ran) + the stolen-key request counted on the other key. Use up the rest.
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await get('/links', { Authorization: idToken, 'x-api-key': key })).status);
      expect(statuses.slice(0, 2)).toEqual([200, 200]);
      const over = REFUSED[mode].overQuota;
      expect(statuses.slice(2)).toEqual([over, over, over]);
    }, 30_000);
  });

  // What no key mode changes (Cognito's trigger sources, the public routes) runs in the per-key mode's stack only.
  if (mode === 'ApiGateway') {
    describe('independent of the key mode', () => {
      it('starts no execution when a forgot-password confirmation fires PostConfirmation', async () => {
        const { email } = await onboardedUser('forgot');
        const machineArn = t.stack.model.stateMachines[0]!.arn;
        const before = (await t.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: machineArn }))).executions?.length;

        await t.clients.cognito.send(new ForgotPasswordCommand({ ClientId: t.stack.userPoolClientId, Username: email }));
        const code = t.stack.cognito.latestCode(email) as string;
        await t.clients.cognito.send(
          new ConfirmForgotPasswordCommand({ ClientId: t.stack.userPoolClientId, Username: email, ConfirmationCode: code, Password: `${PASSWORD}-new` }),
        );

        const after = (await t.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: machineArn }))).executions?.length;
        expect(after).toBe(before);
        await expect(signIn(t, email, `${PASSWORD}-new`)).resolves.toHaveProperty('idToken');
      }, 30_000);

      it('serves the public routes without token or key', async () => {
        const health = await fetch(`${t.stack.apiUrl}/health`);
        expect(health.status).toBe(200);
        const plans = (await (await fetch(`${t.stack.apiUrl}/plans`)).json()) as { plans: { name: string; quotaLimit: number }[] };
        expect(plans.plans.map((p) => p.name)).toEqual(['free', 'basic', 'pro']);
        expect(plans.plans[0]?.quotaLimit).toBe(6);
      });
    });
  }
});
