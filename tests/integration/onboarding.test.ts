/**
 * End to end on the offline stack: sign-up → confirm → onboarding → custom:apiid → account + billing → protected API,
 * with the gateway's 401 / 403 / 429 answers, a duplicate trigger delivery and a forgot-password confirmation.
 */
import { GetApiKeyCommand, GetApiKeysCommand, GetUsagePlanKeysCommand } from '@aws-sdk/client-api-gateway';
import {
  AdminGetUserCommand,
  ConfirmForgotPasswordCommand,
  ForgotPasswordCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  PASSWORD,
  claimsOf,
  signIn,
  signUpAndOnboard,
  startTestStack,
  uniqueEmail,
  type TestStack,
} from '../../local/harness/stack.ts';

let t: TestStack;

beforeAll(async () => {
  // A tiny daily quota so "over quota" is a handful of requests; a generous throttle so it is the quota that bites.
  t = await startTestStack({ parameterOverrides: { FreeQuotaLimit: '6', FreeQuotaPeriod: 'DAY', FreeRateLimit: '1000', FreeBurstLimit: '1000' } });
}, 60_000);

afterAll(async () => {
  await t?.close();
});

const table = (logicalId: string) => t.stack.model.tables.find((x) => x.logicalId === logicalId)!.name;
const freePlanId = () => t.stack.model.usagePlans.find((p) => p.logicalId === 'FreeUsagePlan')!.id;

async function keyValue(keyId: string): Promise<string> {
  const key = await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: keyId, includeValue: true }));
  return key.value as string;
}

function get(path: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${t.stack.apiUrl}${path}`, { headers });
}

async function onboardedUser(prefix: string) {
  const email = uniqueEmail(prefix);
  const { userId, execution } = await signUpAndOnboard(t, email);
  return { email, userId, execution };
}

describe('onboarding', () => {
  it('turns a confirmed sign-up into an ACTIVE account with a key in the free plan, custom:apiid and one billing entry', async () => {
    const { email, userId, execution } = await onboardedUser('ada');

    expect({ status: execution.status, error: execution.error, cause: execution.cause }).toEqual({ status: 'SUCCEEDED', error: undefined, cause: undefined });
    const output = JSON.parse(execution.output ?? '{}') as { apiKeyId: string };
    expect(output).toMatchObject({ userId, plan: 'free', status: 'ACTIVE' });

    const user = await t.clients.cognito.send(new AdminGetUserCommand({ UserPoolId: t.stack.userPoolId, Username: email }));
    const apiid = user.UserAttributes?.find((a) => a.Name === 'custom:apiid')?.Value;
    expect(apiid).toBe(output.apiKeyId);

    const keys = await t.clients.apigateway.send(new GetApiKeysCommand({ nameQuery: userId }));
    expect(keys.items?.map((k) => k.id)).toEqual([apiid]);
    expect(keys.items?.[0]?.tags).toMatchObject({ 'tollgate:userId': userId });
    const planKeys = await t.clients.apigateway.send(new GetUsagePlanKeysCommand({ usagePlanId: freePlanId() }));
    expect(planKeys.items?.map((k) => k.id)).toContain(apiid);

    const account = await t.clients.dynamodb.send(new GetItemCommand({ TableName: table('AccountsTable'), Key: { userId: { S: userId } } }));
    expect(account.Item).toMatchObject({ status: { S: 'ACTIVE' }, plan: { S: 'free' }, apiKeyId: { S: apiid }, email: { S: email } });

    const ledger = await t.clients.dynamodb.send(
      new QueryCommand({ TableName: table('BillingTable'), KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': { S: userId } } }),
    );
    expect(ledger.Items).toHaveLength(1);
    expect(ledger.Items?.[0]).toMatchObject({ type: { S: 'PLAN_STARTED' }, plan: { S: 'free' } });

    const { idToken } = await signIn(t, email);
    expect(claimsOf(idToken)['custom:apiid']).toBe(apiid);
  }, 30_000);

  it('makes no second key, execution or billing entry when Cognito delivers the trigger again', async () => {
    const { userId, email } = await onboardedUser('dup');
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
    const keys = await t.clients.apigateway.send(new GetApiKeysCommand({ nameQuery: userId }));
    expect(keys.items).toHaveLength(1);
    const machineArn = t.stack.model.stateMachines[0]!.arn;
    const executions = await t.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: machineArn }));
    expect(executions.executions?.filter((e) => e.name === `onboard-${userId}`)).toHaveLength(1);
    const ledger = await t.clients.dynamodb.send(
      new QueryCommand({ TableName: table('BillingTable'), KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': { S: userId } } }),
    );
    expect(ledger.Items).toHaveLength(1);
  }, 30_000);

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
});

describe('protected API through the gateway', () => {
  it('answers 200 with token and key, 401 without token or key, 403 with a wrong key, 429 over quota', async () => {
    const { email, execution } = await onboardedUser('api');
    const other = await onboardedUser('other');
    const { idToken } = await signIn(t, email);
    const key = await keyValue((JSON.parse(execution.output ?? '{}') as { apiKeyId: string }).apiKeyId);
    const otherKey = await keyValue((JSON.parse(other.execution.output ?? '{}') as { apiKeyId: string }).apiKeyId);

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
    expect(wrongKey.status).toBe(403);

    // Another customer's (valid) key cannot ride this user's token.
    const stolen = await get('/links', { Authorization: idToken, 'x-api-key': otherKey });
    expect(stolen.status).toBe(403);
    expect(((await stolen.json()) as { message: string }).message).toMatch(/does not belong/);

    // Quota is 6 per day: 4 used above on this key (two 200s, and the two refused by the function: API Gateway counted
    // them before the function ran) + the stolen-key request counted on the other key. Use up the rest.
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await get('/links', { Authorization: idToken, 'x-api-key': key })).status);
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses.slice(2)).toEqual([429, 429, 429]);
  }, 30_000);

  it('serves the public routes without token or key', async () => {
    const health = await fetch(`${t.stack.apiUrl}/health`);
    expect(health.status).toBe(200);
    const plans = (await (await fetch(`${t.stack.apiUrl}/plans`)).json()) as { plans: { name: string; quotaLimit: number }[] };
    expect(plans.plans.map((p) => p.name)).toEqual(['free', 'basic', 'pro']);
    expect(plans.plans[0]?.quotaLimit).toBe(6);
  });
});
