/**
 * No API key value anywhere a workflow leaves data: after an onboarding, a plan change, and a FAILED onboarding
 * re-driven by the next sign-in (PostAuthentication), every execution's full history (GetExecutionHistory with
 * execution data, i.e. every TaskScheduled parameter, TaskSucceeded raw result and state input/output), each
 * execution's input and output, every item of every table and every captured log line are searched for the value of
 * every key API Gateway holds (GetApiKeys includeValues=true).
 *
 * Step Functions Standard keeps each task's raw result in `TaskSucceeded.output` for 90 days whatever ResultSelector
 * or ResultPath say (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-input-output-filtering.html);
 * the first test checks that the offline history does the same, so a task that returned a value would be caught.
 */
import { GetApiKeysCommand } from '@aws-sdk/client-api-gateway';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, ListExecutionsCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { FaultInjector } from '../../local/apigateway/index.ts';
import { executionHistory, onboardingArn, signIn, signUpAndConfirm, signUpAndOnboard, startTestStack, uniqueEmail, waitForExecution, type TestStack } from '../../local/harness/stack.ts';

const apigatewayFaults = new FaultInjector();
const logLines: string[] = [];
let t: TestStack;

beforeAll(async () => {
  t = await startTestStack({ createApiKeyRateLimit: Infinity, faults: { apigateway: apigatewayFaults }, log: (line) => logLines.push(line) });
}, 60_000);

afterAll(async () => {
  await t?.close();
});

const machineArn = (logicalId: string) => t.stack.model.stateMachines.find((m) => m.logicalId === logicalId)!.arn;

/** Every key's id and value, as API Gateway holds them now. */
async function allKeys(): Promise<{ id: string; value: string }[]> {
  const keys: { id: string; value: string }[] = [];
  let position: string | undefined;
  do {
    const page = await t.clients.apigateway.send(new GetApiKeysCommand({ includeValues: true, limit: 500, position }));
    for (const k of page.items ?? []) keys.push({ id: k.id as string, value: k.value as string });
    position = page.position;
  } while (position);
  return keys;
}

/** Each execution of the template's workflows: its description and full history, as one JSON text per execution. */
async function executionTexts(): Promise<{ name: string; text: string }[]> {
  const out: { name: string; text: string }[] = [];
  for (const machine of t.stack.model.stateMachines) {
    const list = await t.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: machine.arn, maxResults: 1000 }));
    for (const e of list.executions ?? []) {
      const described = await t.clients.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
      const history = await executionHistory(t, e.executionArn as string);
      out.push({ name: `${machine.name}/${e.name}`, text: JSON.stringify({ described, history }) });
    }
  }
  return out;
}

async function tableTexts(): Promise<{ name: string; text: string }[]> {
  const out: { name: string; text: string }[] = [];
  for (const table of t.stack.model.tables) {
    const scan = await t.clients.dynamodb.send(new ScanCommand({ TableName: table.name, ConsistentRead: true }));
    out.push({ name: table.name, text: JSON.stringify(scan.Items ?? []) });
  }
  return out;
}

describe('API key values stay out of execution history, state data, tables and logs', () => {
  let onboarded: { userId: string; email: string };
  let redriven: { userId: string; email: string };

  beforeAll(async () => {
    // 1. A plain onboarding, then a plan change of that account.
    const email = uniqueEmail('secret');
    const { userId, execution } = await signUpAndOnboard(t, email);
    expect(execution.status).toBe('SUCCEEDED');
    onboarded = { userId, email };
    const change = await t.clients.sfn.send(
      new StartExecutionCommand({
        stateMachineArn: machineArn('PlanChangeStateMachine'),
        name: `secret-plan-${userId}`,
        input: JSON.stringify({ userId, plan: 'basic', requestId: 'secrecy-1' }),
      }),
    );
    expect((await waitForExecution(t, change.executionArn as string)).status).toBe('SUCCEEDED');

    // 2. An onboarding that fails after its key was made and whose clean-up cannot delete it (the key survives,
    //    FAILED), then the next sign-in re-drives it, finding and reusing that very key.
    apigatewayFaults.inject('CreateUsagePlanKey', 'BadRequestException', 1).inject('DeleteApiKey', 'BadRequestException', 1);
    const email2 = uniqueEmail('secret-redrive');
    const userId2 = await signUpAndConfirm(t, email2);
    expect((await waitForExecution(t, onboardingArn(t, userId2), { expect: ['FAILED'] })).status).toBe('FAILED');
    apigatewayFaults.clear();
    await signIn(t, email2);
    redriven = { userId: userId2, email: email2 };
    const deadline = Date.now() + 15_000;
    for (;;) {
      const list = await t.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: machineArn('OnboardingStateMachine'), maxResults: 1000 }));
      const redrive = list.executions?.find((e) => e.name?.startsWith(`onboard-${userId2}-`));
      if (redrive) {
        expect((await waitForExecution(t, redrive.executionArn as string)).status).toBe('SUCCEEDED');
        break;
      }
      if (Date.now() > deadline) throw new Error('the sign-in started no re-drive');
      await new Promise((r) => setTimeout(r, 20));
    }
  }, 60_000);

  it('the offline history keeps each task raw result, as AWS does (ResultPath null does not drop it)', async () => {
    const history = await executionHistory(t, onboardingArn(t, onboarded.userId));
    const markOnboarding = history.findIndex((e) => e.type === 'TaskStateEntered' && e.stateEnteredEventDetails?.name === 'MarkOnboarding');
    const succeeded = history.slice(markOnboarding).find((e) => e.type === 'TaskSucceeded');
    // MarkOnboarding has ResultPath null, yet its raw DynamoDB result (with the HTTP metadata) is in the history.
    expect(JSON.parse(succeeded?.taskSucceededEventDetails?.output ?? 'null')).toHaveProperty('SdkHttpMetadata');
  });

  it('no execution history, execution input/output, table item or log line holds a key value', async () => {
    const keys = await allKeys();
    const ids = await Promise.all([onboarded, redriven].map(async (u) => (await t.clients.apigateway.send(new GetApiKeysCommand({ nameQuery: u.userId }))).items?.map((k) => k.id)));
    expect(ids.map((x) => x?.length)).toEqual([1, 1]);
    const executions = await executionTexts();
    const tables = await tableTexts();
    // The search looks at the right data: the key ids are there (state data, tables), only the values must not be.
    for (const id of ids.flat()) {
      expect(executions.some((e) => e.text.includes(id as string))).toBe(true);
      expect(tables.some((x) => x.text.includes(id as string))).toBe(true);
    }
    expect(executions.length).toBeGreaterThanOrEqual(4); // two onboardings, the failed one's re-drive, a plan change
    expect(logLines.length).toBeGreaterThan(0);

    const leaks: string[] = [];
    for (const { id, value } of keys) {
      expect(value.length).toBeGreaterThanOrEqual(20);
      for (const e of executions) if (e.text.includes(value)) leaks.push(`execution ${e.name} holds the value of key ${id}`);
      for (const x of tables) if (x.text.includes(value)) leaks.push(`table ${x.name} holds the value of key ${id}`);
      for (const line of logLines) if (line.includes(value)) leaks.push(`a log line holds the value of key ${id}: ${line.slice(0, 80)}`);
    }
    expect(leaks).toEqual([]);
  });
});
