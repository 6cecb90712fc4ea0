/**
 * A second start on the same state directory keeps users, keys, plan membership, usage, executions and billing.
 */
import { GetApiKeyCommand, GetUsageCommand } from '@aws-sdk/client-api-gateway';
import { AdminGetUserCommand } from '@aws-sdk/client-cognito-identity-provider';
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onboardingArn, signIn, signUpAndConfirm, startTestStack, uniqueEmail, waitForExecution } from '../../local/harness/stack.ts';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-restart-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const today = new Date().toISOString().slice(0, 10);

it('keeps users, keys, usage, executions and billing across a restart', async () => {
  // First run: onboard a user, store a link, use the API twice.
  const first = await startTestStack({ dir });
  const email = uniqueEmail('restart');
  let userId: string;
  let apiKeyId: string;
  let keyValue: string;
  let poolId: string;
  try {
    userId = await signUpAndConfirm(first, email);
    const execution = await waitForExecution(first, onboardingArn(first, userId));
    expect(execution.status).toBe('SUCCEEDED');
    apiKeyId = (JSON.parse(execution.output ?? '{}') as { apiKeyId: string }).apiKeyId;
    keyValue = (await first.clients.apigateway.send(new GetApiKeyCommand({ apiKey: apiKeyId, includeValue: true }))).value as string;
    const { idToken } = await signIn(first, email);
    const created = await fetch(`${first.stack.apiUrl}/links`, {
      method: 'POST',
      headers: { Authorization: idToken, 'x-api-key': keyValue, 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'https://example.com/kept' }),
    });
    expect(created.status).toBe(201);
    poolId = first.stack.userPoolId;
  } finally {
    await first.close();
  }

  // Second run on the same directory (other free ports, as a second `npm start` would reuse the same ones).
  const second = await startTestStack({ dir });
  try {
    expect(second.stack.userPoolId).toBe(poolId);
    const user = await second.clients.cognito.send(new AdminGetUserCommand({ UserPoolId: second.stack.userPoolId, Username: email }));
    expect(user.UserAttributes?.find((a) => a.Name === 'custom:apiid')?.Value).toBe(apiKeyId);

    const described = await waitForExecution(second, onboardingArn(second, userId));
    expect(described.status).toBe('SUCCEEDED');

    const { idToken } = await signIn(second, email);
    const links = await fetch(`${second.stack.apiUrl}/links`, { headers: { Authorization: idToken, 'x-api-key': keyValue } });
    expect(links.status).toBe(200);
    expect(((await links.json()) as { items: { url: string }[] }).items.map((l) => l.url)).toEqual(['https://example.com/kept']);

    const freePlan = second.stack.model.usagePlans.find((p) => p.logicalId === 'FreeUsagePlan')!.id;
    const usage = await second.clients.apigateway.send(new GetUsageCommand({ usagePlanId: freePlan, keyId: apiKeyId, startDate: today, endDate: today }));
    // One POST in the first run, one GET in this one.
    expect(usage.items?.[apiKeyId]?.[0]?.[0]).toBe(2);

    const billing = second.stack.model.tables.find((t) => t.logicalId === 'BillingTable')!.name;
    const ledger = await second.clients.dynamodb.send(
      new QueryCommand({ TableName: billing, KeyConditionExpression: 'userId = :u', ExpressionAttributeValues: { ':u': { S: userId } } }),
    );
    expect(ledger.Items).toHaveLength(1);
  } finally {
    await second.close();
  }
}, 60_000);
