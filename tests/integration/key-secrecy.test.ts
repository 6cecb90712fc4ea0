/**
 * No API key value anywhere a workflow leaves data: after an onboarding, a plan change, and a FAILED onboarding
 * re-driven by the next sign-in (PostAuthentication), every execution's full history (GetExecutionHistory with
 * execution data, i.e. every TaskScheduled parameter, TaskSucceeded raw result and state input/output), each
 * execution's input and output, every item of every table and every captured log line are searched for the value of
 * every key: in KeyMode ApiGateway every key API Gateway holds (GetApiKeys includeValues=true), in SelfIssued every
 * value the customers' rotations showed them (the tables hold each one's SHA-256 hash instead). One suite, both modes.
 *
 * Step Functions Standard keeps each task's raw result in `TaskSucceeded.output` for 90 days whatever ResultSelector
 * or ResultPath say (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-input-output-filtering.html);
 * the first test checks that the offline history does the same, so a task that returned a value would be caught.
 */
import { GetApiKeysCommand } from '@aws-sdk/client-api-gateway';
import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, ListExecutionsCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { hashKey } from '../../functions/shared/self-issued-keys.ts';
import { FaultInjector } from '../../local/apigateway/index.ts';
import { KEY_MODES, inKeyMode, issueFirstSelfIssuedKey, type KeyMode } from '../../local/harness/key-modes.ts';
import { claimsOf, executionHistory, onboardingArn, signIn, signUpAndConfirm, signUpAndOnboard, startTestStack, uniqueEmail, waitForExecution, type TestStack } from '../../local/harness/stack.ts';
import { TaskFaultInjector } from '../../local/stepfunctions/index.ts';

const apigatewayFaults = new FaultInjector();
const taskFaults = new TaskFaultInjector();
const logLines: string[] = [];
let t: TestStack;

/**
 * How each mode's onboarding is made to fail after its key exists, leaving the key behind for the re-drive to find:
 * ApiGateway - the usage plan attach fails and so does the clean-up's DeleteApiKey (the key survives, FAILED);
 * SelfIssued - the billing entry fails for good (not retried); the key slot has no clean-up, it survives as it is.
 */
const FAIL_AFTER_KEY: Record<KeyMode, () => void> = {
  ApiGateway: () => apigatewayFaults.inject('CreateUsagePlanKey', 'BadRequestException', 1).inject('DeleteApiKey', 'BadRequestException', 1),
  SelfIssued: () => taskFaults.inject('RecordPlanStarted', 'DynamoDB.ResourceNotFoundException', 1),
};

describe.each(KEY_MODES)('KeyMode %s', (mode) => {
  beforeAll(async () => {
    logLines.length = 0;
    t = await startTestStack(
      inKeyMode(mode, { createApiKeyRateLimit: Infinity, faults: { apigateway: apigatewayFaults, stepFunctions: taskFaults }, log: (line) => logLines.push(line) }),
    );
  }, 60_000);

  afterAll(async () => {
    apigatewayFaults.clear();
    taskFaults.clear();
    await t?.close();
  });

  const machineArn = (logicalId: string) => t.stack.model.stateMachines.find((m) => m.logicalId === logicalId)!.arn;
  /** SelfIssued: the values the customers were shown (this mode has no other copy of them). */
  const issued: { id: string; value: string }[] = [];

  /** Every key's id and value: API Gateway's (ApiGateway), or those issued to the customers (SelfIssued). */
  async function allKeys(): Promise<{ id: string; value: string }[]> {
    if (mode === 'SelfIssued') return issued;
    const keys: { id: string; value: string }[] = [];
    let position: string | undefined;
    do {
      const page = await t.clients.apigateway.send(new GetApiKeysCommand({ includeValues: true, limit: 500, position }));
      for (const k of page.items ?? []) keys.push({ id: k.id as string, value: k.value as string });
      position = page.position;
    } while (position);
    return keys;
  }

  /** SelfIssued: the customer's first value (POST /me/api-key/rotate, shown once), kept for the search. */
  async function firstValue(email: string): Promise<void> {
    if (mode !== 'SelfIssued') return;
    const { idToken } = await signIn(t, email);
    issued.push(await issueFirstSelfIssuedKey(t, idToken, claimsOf(idToken)['custom:apiid'] as string));
  }

  /** The key id the account names now: the tables must hold it (the search looks at the right data). */
  async function accountKeyId(userId: string): Promise<string> {
    const { Item } = await t.clients.dynamodb.send(new GetItemCommand({ TableName: t.stack.outputs.AccountsTableName as string, Key: { userId: { S: userId } }, ConsistentRead: true }));
    return Item?.apiKeyId?.S as string;
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
    /** Each customer, with the key id their onboarding made (the executions name it). */
    let onboarded: { userId: string; email: string; onboardedKeyId: string };
    let redriven: { userId: string; email: string; onboardedKeyId: string };

    beforeAll(async () => {
      // 1. A plain onboarding, the customer's key value (SelfIssued: their first rotation), then a plan change.
      const email = uniqueEmail('secret');
      const { userId, execution } = await signUpAndOnboard(t, email);
      expect(execution.status).toBe('SUCCEEDED');
      onboarded = { userId, email, onboardedKeyId: (JSON.parse(execution.output ?? '{}') as { apiKeyId: string }).apiKeyId };
      await firstValue(email);
      const change = await t.clients.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: machineArn('PlanChangeStateMachine'),
          name: `secret-plan-${userId}`,
          input: JSON.stringify({ userId, plan: 'basic', requestId: 'secrecy-1' }),
        }),
      );
      expect((await waitForExecution(t, change.executionArn as string)).status).toBe('SUCCEEDED');

      // 2. An onboarding that fails after its key was made and leaves the key behind (FAILED), then the next sign-in
      //    re-drives it, finding and reusing that very key.
      FAIL_AFTER_KEY[mode]();
      const email2 = uniqueEmail('secret-redrive');
      const userId2 = await signUpAndConfirm(t, email2);
      expect((await waitForExecution(t, onboardingArn(t, userId2), { expect: ['FAILED'] })).status).toBe('FAILED');
      apigatewayFaults.clear();
      taskFaults.clear();
      await signIn(t, email2);
      const deadline = Date.now() + 15_000;
      for (;;) {
        const list = await t.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: machineArn('OnboardingStateMachine'), maxResults: 1000 }));
        const redrive = list.executions?.find((e) => e.name?.startsWith(`onboard-${userId2}-`));
        if (redrive) {
          const done = await waitForExecution(t, redrive.executionArn as string);
          expect(done.status).toBe('SUCCEEDED');
          redriven = { userId: userId2, email: email2, onboardedKeyId: (JSON.parse(done.output ?? '{}') as { apiKeyId: string }).apiKeyId };
          break;
        }
        if (Date.now() > deadline) throw new Error('the sign-in started no re-drive');
        await new Promise((r) => setTimeout(r, 20));
      }
      await firstValue(email2);
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
      if (mode === 'ApiGateway') {
        // One key each: the re-drive reused the key the failed onboarding left behind.
        const ids = await Promise.all([onboarded, redriven].map(async (u) => (await t.clients.apigateway.send(new GetApiKeysCommand({ nameQuery: u.userId }))).items?.map((k) => k.id)));
        expect(ids).toEqual([[onboarded.onboardedKeyId], [redriven.onboardedKeyId]]);
      } else {
        expect(keys).toHaveLength(2);
      }
      const executions = await executionTexts();
      const tables = await tableTexts();
      // The search looks at the right data: the key ids are there (state data, tables), only the values must not be;
      // SelfIssued tables hold each value's hash instead.
      for (const u of [onboarded, redriven]) {
        expect(executions.some((e) => e.text.includes(u.onboardedKeyId))).toBe(true);
        const current = await accountKeyId(u.userId);
        expect(tables.some((x) => x.text.includes(current))).toBe(true);
      }
      if (mode === 'SelfIssued') for (const { value } of keys) expect(tables.some((x) => x.text.includes(hashKey(value)))).toBe(true);
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
});
