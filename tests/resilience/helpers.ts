/**
 * Shared checks of the resilience tests: what an onboarding left behind (keys, plan memberships, custom:apiid,
 * account, billing) and what its execution history says about each Task attempt; and `npm start` as a child process
 * to kill.
 */
import { GetApiKeysCommand, GetUsagePlanKeysCommand, GetUsagePlansCommand } from '@aws-sdk/client-api-gateway';
import { AdminGetUserCommand } from '@aws-sdk/client-cognito-identity-provider';
import { GetItemCommand, QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { ListExecutionsCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { DEFAULT_PORTS, type ServiceName } from '../../local/endpoints.ts';
import { freePort } from '../../local/ports.ts';
import { executionHistory, type TestStack } from '../../local/harness/stack.ts';

/**
 * `npm start --dir <dir>` as a child process on free ports (no portal, quiet); resolves once the stack says it is
 * ready, with each service's endpoint. Throws with the child's output if it exits first.
 */
export async function startNpmStart(dir: string): Promise<{ proc: ChildProcess; endpoint: (service: ServiceName) => string }> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const ports: Partial<Record<ServiceName, number>> = {};
  for (const service of Object.keys(DEFAULT_PORTS) as ServiceName[]) {
    ports[service] = await freePort();
    env[`TOLLGATE_PORT_${service.toUpperCase()}`] = String(ports[service]);
  }
  // tsx as a loader in this very process (the tsx CLI would run the stack in a grandchild that SIGKILL misses).
  const proc = spawn(process.execPath, ['--import', 'tsx', 'local/cli/start.ts', '--dir', dir, '--no-portal', '--quiet'], {
    cwd: resolve(__dirname, '../..'),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((ready, fail) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (process.env.TOLLGATE_TEST_LOG) process.stdout.write(chunk);
      if (output.includes('Ready in')) ready();
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.on('exit', (code) => fail(new Error(`npm start exited (${String(code)}) before it was ready:\n${output}`)));
  });
  return { proc, endpoint: (service) => `http://127.0.0.1:${String(ports[service])}` };
}

/** Every history event of an execution, oldest first. */
export const historyOf = executionHistory;

export type Item = Record<string, AttributeValue>;

export const tableName = (t: TestStack, logicalId: string): string => t.stack.model.tables.find((x) => x.logicalId === logicalId)!.name;

export const machineArn = (t: TestStack, logicalId: string): string => t.stack.model.stateMachines.find((m) => m.logicalId === logicalId)!.arn;

export const executionArnOf = (t: TestStack, logicalId: string, name: string): string =>
  `${machineArn(t, logicalId).replace(':stateMachine:', ':execution:')}:${name}`;

export interface Attempt {
  state: string;
  outcome: 'succeeded' | 'failed';
  error?: string;
  cause?: string;
  /** The raw task result (TaskSucceeded.output), parsed. */
  output?: unknown;
}

/** Each Task attempt, attributed to the state last entered (the workflows here have no Parallel or Map states). */
export function attempts(events: HistoryEvent[]): Attempt[] {
  const out: Attempt[] = [];
  let state = '';
  for (const e of events) {
    if (e.type?.endsWith('StateEntered')) state = e.stateEnteredEventDetails?.name ?? '';
    if (e.type === 'TaskSucceeded') out.push({ state, outcome: 'succeeded', output: JSON.parse(e.taskSucceededEventDetails?.output ?? 'null') });
    if (e.type === 'TaskFailed') {
      out.push({ state, outcome: 'failed', error: e.taskFailedEventDetails?.error, cause: e.taskFailedEventDetails?.cause });
    }
  }
  return out;
}

/** Names of the states entered, in order. */
export const statesEntered = (events: HistoryEvent[]): string[] =>
  events.filter((e) => e.type?.endsWith('StateEntered')).map((e) => e.stateEnteredEventDetails?.name ?? '');

/** The input a state was last entered with. */
export function stateInput(events: HistoryEvent[], state: string): Record<string, unknown> | undefined {
  const entered = events.filter((e) => e.type?.endsWith('StateEntered') && e.stateEnteredEventDetails?.name === state).at(-1);
  const input = entered?.stateEnteredEventDetails?.input;
  return input === undefined ? undefined : (JSON.parse(input) as Record<string, unknown>);
}

/** Names of the onboarding executions for a user: `onboard-<sub>` and any re-drive `onboard-<sub>-…`. */
export async function onboardingExecutionsOf(t: TestStack, userId: string): Promise<{ name: string; status: string }[]> {
  const found: { name: string; status: string }[] = [];
  let nextToken: string | undefined;
  do {
    const page = await t.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: machineArn(t, 'OnboardingStateMachine'), maxResults: 1000, nextToken }));
    for (const e of page.executions ?? []) {
      if (e.name === `onboard-${userId}` || e.name?.startsWith(`onboard-${userId}-`)) found.push({ name: e.name, status: e.status as string });
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return found.sort((a, b) => (a.name < b.name ? -1 : 1));
}

export async function keysNamed(t: TestStack, userId: string): Promise<string[]> {
  const keys = await t.clients.apigateway.send(new GetApiKeysCommand({ nameQuery: userId }));
  return (keys.items ?? []).map((k) => k.id as string);
}

/** Names of the usage plans (of the template) whose keys include this key id. */
export async function plansHolding(t: TestStack, keyId: string): Promise<string[]> {
  const names: string[] = [];
  for (const plan of t.stack.model.usagePlans) {
    const keys = await t.clients.apigateway.send(new GetUsagePlanKeysCommand({ usagePlanId: plan.id, limit: 500 }));
    if ((keys.items ?? []).some((k) => k.id === keyId)) names.push(plan.name);
  }
  return names.sort();
}

/** GetUsagePlans keyId=…: the plans API Gateway reports for a key. */
export async function usagePlansOfKey(t: TestStack, keyId: string): Promise<string[]> {
  const plans = await t.clients.apigateway.send(new GetUsagePlansCommand({ keyId }));
  return (plans.items ?? []).map((p) => p.name as string).sort();
}

export async function apiIdOf(t: TestStack, username: string): Promise<string | undefined> {
  const user = await t.clients.cognito.send(new AdminGetUserCommand({ UserPoolId: t.stack.userPoolId, Username: username }));
  return user.UserAttributes?.find((a) => a.Name === 'custom:apiid')?.Value;
}

export async function accountOf(t: TestStack, userId: string): Promise<Item | undefined> {
  const result = await t.clients.dynamodb.send(
    new GetItemCommand({ TableName: tableName(t, 'AccountsTable'), Key: { userId: { S: userId } }, ConsistentRead: true }),
  );
  return result.Item;
}

export async function ledgerOf(t: TestStack, userId: string): Promise<Item[]> {
  const result = await t.clients.dynamodb.send(
    new QueryCommand({
      TableName: tableName(t, 'BillingTable'),
      KeyConditionExpression: 'userId = :u',
      ExpressionAttributeValues: { ':u': { S: userId } },
      ConsistentRead: true,
    }),
  );
  return result.Items ?? [];
}
