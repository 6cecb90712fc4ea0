/**
 * Onboarding under faults, on one in-process offline stack: duplicate trigger deliveries, a throttled and a broken
 * CreateApiKey (API Gateway control plane's FaultInjector), and each later step failing for good (Step Functions
 * Task faults) — always one key at most, never a key left behind or in a plan, and an account that says FAILED and
 * why; then the documented re-drives (a new execution for the same user, or the next sign-in) finish the job.
 */
import { SignUpCommand } from '@aws-sdk/client-cognito-identity-provider';
import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FaultInjector } from '../../local/apigateway/index.ts';
import { TaskFaultInjector } from '../../local/stepfunctions/index.ts';
import { PASSWORD, onboardingArn, signIn, signUpAndConfirm, startTestStack, uniqueEmail, waitForExecution, type TestStack } from '../../local/harness/stack.ts';
import {
  accountOf,
  apiIdOf,
  attempts,
  executionArnOf,
  historyOf,
  keysNamed,
  ledgerOf,
  machineArn,
  onboardingExecutionsOf,
  plansHolding,
  stateInput,
  statesEntered,
  tableName,
  usagePlansOfKey,
} from './helpers.ts';

const apigatewayFaults = new FaultInjector();
const taskFaults = new TaskFaultInjector();
let t: TestStack;

beforeAll(async () => {
  // No CreateApiKey rate limit: every 429 here is an injected one, so retries can be counted exactly.
  t = await startTestStack({ createApiKeyRateLimit: Infinity, managementApiLimits: 'off', faults: { apigateway: apigatewayFaults, stepFunctions: taskFaults } });
}, 60_000);

afterEach(() => {
  apigatewayFaults.clear();
  taskFaults.clear();
});

afterAll(async () => {
  await t?.close();
});

/** The onboarding input PostConfirmation sends, read back from the execution. */
async function inputOf(userId: string): Promise<string> {
  return (await waitForExecution(t, onboardingArn(t, userId), { expect: ['SUCCEEDED', 'FAILED'] })).input as string;
}

async function expectOnboarded(userId: string, email: string, executionName: string): Promise<string> {
  const execution = await waitForExecution(t, executionArnOf(t, 'OnboardingStateMachine', executionName));
  expect({ status: execution.status, error: execution.error, cause: execution.cause }).toEqual({ status: 'SUCCEEDED', error: undefined, cause: undefined });
  const apiKeyId = (JSON.parse(execution.output ?? '{}') as { apiKeyId: string }).apiKeyId;
  expect(await keysNamed(t, userId)).toEqual([apiKeyId]);
  expect(await usagePlansOfKey(t, apiKeyId)).toEqual(['tollgate-free']);
  expect(await apiIdOf(t, email)).toBe(apiKeyId);
  const account = await accountOf(t, userId);
  expect(account).toMatchObject({ status: { S: 'ACTIVE' }, plan: { S: 'free' }, apiKeyId: { S: apiKeyId } });
  expect(account?.failureReason).toBeUndefined();
  const ledger = await ledgerOf(t, userId);
  expect(ledger.map((e) => [e.type?.S, e.executionId?.S])).toEqual([['PLAN_STARTED', execution.executionArn]]);
  return apiKeyId;
}

/**
 * What a compensated onboarding (`onboard-<sub>`) leaves: no key, none in a plan, no custom:apiid, no billing, FAILED
 * with the reason. `madeKeyId`: the key the execution made before it failed, or null when it made none.
 */
async function expectCompensated(userId: string, email: string, error: string, madeKeyId: string | null): Promise<void> {
  const made = attempts(await historyOf(t, onboardingArn(t, userId)))
    .filter((a) => a.state === 'CreateApiKey' && a.outcome === 'succeeded')
    .map((a) => (a.output as { Payload?: { Id?: string } }).Payload?.Id as string);
  expect(made).toEqual(madeKeyId === null ? [] : [madeKeyId]);
  expect(await keysNamed(t, userId)).toEqual([]);
  expect(await Promise.all(made.map((keyId) => plansHolding(t, keyId)))).toEqual(made.map(() => []));
  // The deleted key's KeyOwners record (find-or-create wrote it) is a tombstone: the key-only lookup refuses it.
  const ownersTable = tableName(t, 'KeyOwnersTable');
  for (const keyId of made) {
    const { Item } = await t.clients.dynamodb.send(new GetItemCommand({ TableName: ownersTable, Key: { apiKeyId: { S: keyId } }, ConsistentRead: true }));
    expect({ userId: Item?.userId?.S, retired: Item?.retiredAt?.S !== undefined }).toEqual({ userId, retired: true });
  }
  expect(await apiIdOf(t, email)).toBeUndefined();
  expect(await ledgerOf(t, userId)).toEqual([]);
  const account = await accountOf(t, userId);
  expect(account?.status?.S).toBe('FAILED');
  expect(account?.failureReason?.S).toMatch(new RegExp(`^${error.replace(/\./g, '\\.')}: .*injected fault`));
  expect(account?.apiKeyId).toBeUndefined();
}

describe('duplicate trigger deliveries', () => {
  it('three concurrent PostConfirmation deliveries start one execution: one key, one account, one billing entry', async () => {
    const email = uniqueEmail('triple');
    // Signed up, not confirmed: the three deliveries below are the only PostConfirmation invocations.
    const signUp = await t.clients.cognito.send(
      new SignUpCommand({ ClientId: t.stack.userPoolClientId, Username: email, Password: PASSWORD, UserAttributes: [{ Name: 'email', Value: email }] }),
    );
    const userId = signUp.UserSub as string;
    const event = JSON.parse(readFileSync(join(__dirname, '../../events/post-confirmation-sign-up.json'), 'utf8')) as {
      userPoolId: string;
      userName: string;
      callerContext: { clientId: string };
      request: { userAttributes: Record<string, string> };
    };
    event.userPoolId = t.stack.userPoolId;
    event.userName = userId;
    event.callerContext.clientId = t.stack.userPoolClientId;
    event.request.userAttributes.sub = userId;
    event.request.userAttributes.email = email;
    event.request.userAttributes['cognito:email_alias'] = email;

    const results = await Promise.all([1, 2, 3].map(() => t.stack.lambda.invoke('PostConfirmationFunction', event)));

    expect(results.map((r) => r.error)).toEqual([undefined, undefined, undefined]);
    await expectOnboarded(userId, email, `onboard-${userId}`);
    expect(await onboardingExecutionsOf(t, userId)).toEqual([{ name: `onboard-${userId}`, status: 'SUCCEEDED' }]);
    const accounts = await t.clients.dynamodb.send(
      new ScanCommand({ TableName: tableName(t, 'AccountsTable'), FilterExpression: 'email = :e', ExpressionAttributeValues: { ':e': { S: email } } }),
    );
    expect(accounts.Items?.map((a) => a.userId?.S)).toEqual([userId]);
    const events = await historyOf(t, onboardingArn(t, userId));
    expect(statesEntered(events).filter((s) => s === 'CreateApiKey')).toHaveLength(1);
  }, 30_000);
});

describe('onboarding started by hand', () => {
  /** Signed up, not confirmed: no trigger starts anything; `start` starts an onboarding execution by hand. */
  async function signedUpUser(prefix: string) {
    const email = uniqueEmail(prefix);
    const signUp = await t.clients.cognito.send(
      new SignUpCommand({ ClientId: t.stack.userPoolClientId, Username: email, Password: PASSWORD, UserAttributes: [{ Name: 'email', Value: email }] }),
    );
    const userId = signUp.UserSub as string;
    const start = (name: string) =>
      t.clients.sfn.send(
        new StartExecutionCommand({ stateMachineArn: machineArn(t, 'OnboardingStateMachine'), name, input: JSON.stringify({ userId, email, username: userId }) }),
      );
    return { email, userId, start };
  }

  it('three concurrent StartExecution calls under different names: one key, one PLAN_STARTED entry, ACTIVE once', async () => {
    const { userId, start } = await signedUpUser('by-hand');

    const started = await Promise.all(['a', 'b', 'c'].map((n) => start(`onboard-${userId}-hand-${n}`)));
    const done = await Promise.all(started.map((s) => waitForExecution(t, s.executionArn as string)));

    expect(done.map((d) => d.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    const keys = await keysNamed(t, userId);
    expect(keys).toHaveLength(1);
    const ledger = await ledgerOf(t, userId);
    expect(ledger.map((e) => e.type?.S)).toEqual(['PLAN_STARTED']);
    const account = await accountOf(t, userId);
    // version counts the account's commits: MarkActive ran once.
    expect(account).toMatchObject({ status: { S: 'ACTIVE' }, apiKeyId: { S: keys[0] }, plan: { S: 'free' }, version: { N: '1' } });
    expect(await usagePlansOfKey(t, keys[0]!)).toEqual(['tollgate-free']);
    expect(await apiIdOf(t, userId)).toBe(keys[0]);

    // Exactly one execution onboarded (made or found the key, wrote the entry, activated); the entry names it.
    const histories = await Promise.all(started.map((s) => historyOf(t, s.executionArn as string)));
    const activated = histories.map((h) => attempts(h).filter((a) => a.state === 'MarkActive' && a.outcome === 'succeeded').length);
    expect(activated.sort()).toEqual([0, 0, 1]);
    const winner = started[histories.findIndex((h) => attempts(h).some((a) => a.state === 'MarkActive' && a.outcome === 'succeeded'))]!;
    expect(ledger[0]?.executionId?.S).toBe(winner.executionArn);
    for (const h of histories) {
      if (attempts(h).some((a) => a.state === 'MarkActive')) continue;
      // The others stopped before touching the key: no CreateApiKey, no billing.
      expect(statesEntered(h).filter((s) => s === 'CreateApiKey' || s === 'RecordPlanStarted')).toEqual([]);
    }
  }, 30_000);

  it('an execution started while another holds the claim ends at OnboardingInProgress and touches nothing', async () => {
    const hold = taskFaults.hold('CreateApiKey');
    const { userId, start } = await signedUpUser('in-progress');
    const first = await start(`onboard-${userId}`);
    await hold.reached;

    const second = await start(`onboard-${userId}-by-hand`);
    const secondDone = await waitForExecution(t, second.executionArn as string);
    expect(secondDone.status).toBe('SUCCEEDED');
    expect(JSON.parse(secondDone.output ?? '{}')).toEqual({ userId, status: 'ONBOARDING', onboardingExecution: first.executionArn });
    const secondStates = statesEntered(await historyOf(t, second.executionArn as string));
    expect(secondStates).toEqual(['MarkOnboarding', 'LoadAccount', 'ClaimRefused', 'DescribeClaimHolder', 'ClaimHolderRunning', 'OnboardingInProgress']);

    hold.release();
    expect((await waitForExecution(t, first.executionArn as string)).status).toBe('SUCCEEDED');
    expect(await keysNamed(t, userId)).toHaveLength(1);
    expect((await ledgerOf(t, userId)).map((e) => e.executionId?.S)).toEqual([first.executionArn]);
  }, 30_000);

  it('a claim left by a stopped execution is released, and the next execution onboards once', async () => {
    const hold = taskFaults.hold('SetApiIdAttribute');
    const { userId, email, start } = await signedUpUser('stopped');
    const first = await start(`onboard-${userId}`);
    await hold.reached;
    // An operator stops it mid-way (no Catch runs on StopExecution): the account stays ONBOARDING, claimed.
    await t.clients.sfn.send(new StopExecutionCommand({ executionArn: first.executionArn }));
    hold.release();
    expect((await waitForExecution(t, first.executionArn as string, { expect: ['ABORTED'] })).status).toBe('ABORTED');
    expect(await accountOf(t, userId)).toMatchObject({ status: { S: 'ONBOARDING' }, onboardingExecution: { S: first.executionArn } });
    const [orphanKey] = await keysNamed(t, userId);

    const second = await start(`onboard-${userId}-after-stop`);
    const done = await waitForExecution(t, second.executionArn as string);

    expect(done.status).toBe('SUCCEEDED');
    const states = statesEntered(await historyOf(t, second.executionArn as string));
    expect(states.slice(0, 7)).toEqual(['MarkOnboarding', 'LoadAccount', 'ClaimRefused', 'DescribeClaimHolder', 'ClaimHolderRunning', 'ReleaseStaleClaim', 'MarkOnboarding']);
    // The stopped run's key is found and reused, not duplicated.
    expect(await expectOnboarded(userId, email, `onboard-${userId}-after-stop`)).toBe(orphanKey);
  }, 30_000);
});

describe('CreateApiKey throttled', () => {
  it('is retried with backoff and succeeds with one key', async () => {
    apigatewayFaults.inject('CreateApiKey', 'TooManyRequestsException', 3);
    const email = uniqueEmail('throttled');
    const userId = await signUpAndConfirm(t, email);

    await expectOnboarded(userId, email, `onboard-${userId}`);
    const events = await historyOf(t, onboardingArn(t, userId));
    const createAttempts = attempts(events).filter((a) => a.state === 'CreateApiKey');
    expect(createAttempts.map((a) => [a.outcome, a.error])).toEqual([
      ['failed', 'ApiGateway.TooManyRequestsException'],
      ['failed', 'ApiGateway.TooManyRequestsException'],
      ['failed', 'ApiGateway.TooManyRequestsException'],
      ['succeeded', undefined],
    ]);
    expect(createAttempts[0]?.cause).toMatch(/\(Service: ApiGateway, Status Code: 429, Request ID: /);
    // Retries are re-scheduled within the one state: entered once, scheduled four times.
    expect(statesEntered(events).filter((s) => s === 'CreateApiKey')).toHaveLength(1);
    const scheduled = events.filter((e) => e.type === 'TaskScheduled' && e.taskScheduledEventDetails?.resourceType === 'lambda');
    expect(scheduled.map((e) => JSON.parse(e.taskScheduledEventDetails?.parameters ?? '{}').Payload.action)).toEqual([
      'find-or-create',
      'find-or-create',
      'find-or-create',
      'find-or-create',
      'attach',
    ]);
  }, 30_000);
});

describe('CreateApiKey failing for good', () => {
  it.each([
    { why: 'a non-retryable error', errorName: 'BadRequestException', times: 1 },
    { why: 'throttling beyond the MaxAttempts of CreateApiKey (1 + 10 retries)', errorName: 'TooManyRequestsException', times: 11 },
  ])('$why: no key, account FAILED with the reason; a new execution for the same user then onboards', async ({ errorName, times }) => {
    apigatewayFaults.inject('CreateApiKey', errorName, times);
    const email = uniqueEmail('nokey');
    const userId = await signUpAndConfirm(t, email);

    const failed = await waitForExecution(t, onboardingArn(t, userId), { expect: ['FAILED'] });
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toBe(`ApiGateway.${errorName}`);
    const events = await historyOf(t, onboardingArn(t, userId));
    expect(attempts(events).filter((a) => a.state === 'CreateApiKey').map((a) => a.error)).toEqual(Array(times).fill(`ApiGateway.${errorName}`));
    // Nothing was created, so nothing is undone: straight to RecordFailure.
    expect(statesEntered(events).slice(-3)).toEqual(['CreateApiKey', 'RecordFailure', 'OnboardingFailed']);
    await expectCompensated(userId, email, `ApiGateway.${errorName}`, null);

    // The fault has cleared (all `times` were used). Re-drive: a new execution, same input, a new name.
    const redrive = await t.clients.sfn.send(
      new StartExecutionCommand({ stateMachineArn: failed.stateMachineArn, name: `onboard-${userId}-redrive-1`, input: await inputOf(userId) }),
    );
    expect(redrive.executionArn).toBe(executionArnOf(t, 'OnboardingStateMachine', `onboard-${userId}-redrive-1`));
    await expectOnboarded(userId, email, `onboard-${userId}-redrive-1`);
    expect(await onboardingExecutionsOf(t, userId)).toEqual([
      { name: `onboard-${userId}`, status: 'FAILED' },
      { name: `onboard-${userId}-redrive-1`, status: 'SUCCEEDED' },
    ]);
  }, 30_000);

  it('is re-driven by the next sign-in (PostAuthentication) under onboard-<sub>-<hash of the failure time>', async () => {
    apigatewayFaults.inject('CreateApiKey', 'BadRequestException', 1);
    const email = uniqueEmail('signin-redrive');
    const userId = await signUpAndConfirm(t, email);
    expect((await waitForExecution(t, onboardingArn(t, userId), { expect: ['FAILED'] })).status).toBe('FAILED');
    const failedAt = (await accountOf(t, userId))?.updatedAt?.S as string;
    await expectCompensated(userId, email, 'ApiGateway.BadRequestException', null);

    await signIn(t, email);

    const redriveName = `onboard-${userId}-${createHash('sha256').update(failedAt).digest('hex').slice(0, 12)}`;
    const apiKeyId = await expectOnboarded(userId, email, redriveName);
    expect(await onboardingExecutionsOf(t, userId)).toEqual(
      [
        { name: `onboard-${userId}`, status: 'FAILED' },
        { name: redriveName, status: 'SUCCEEDED' },
      ].sort((a, b) => (a.name < b.name ? -1 : 1)),
    );

    // ACTIVE now: a later sign-in starts nothing, and the new token carries the key id.
    const { idToken } = await signIn(t, email);
    expect(JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString('utf8'))['custom:apiid']).toBe(apiKeyId);
    expect(await onboardingExecutionsOf(t, userId)).toHaveLength(2);
  }, 30_000);
});

describe('a later onboarding step failing for good', () => {
  const cases: {
    state: string;
    inject: () => void;
    error: string;
    times: number;
    /** Steps that had succeeded when it failed (what compensation must undo). */
    done: string[];
    undo: string[];
  }[] = [
    {
      state: 'AttachToFreePlan',
      inject: () => apigatewayFaults.inject('CreateUsagePlanKey', 'BadRequestException', 1),
      error: 'ApiGateway.BadRequestException',
      times: 1,
      done: ['CreateApiKey'],
      undo: ['Compensate', 'DetachKey', 'DeleteKey', 'RetireKeyOwner', 'ClearApiIdAttribute', 'BillingRecorded', 'RecordFailure'],
    },
    {
      state: 'SetApiIdAttribute',
      inject: () => taskFaults.inject('cognitoidentityprovider:adminUpdateUserAttributes', 'CognitoIdentityProvider.UserNotFoundException', 1),
      error: 'CognitoIdentityProvider.UserNotFoundException',
      times: 1,
      done: ['CreateApiKey', 'AttachToFreePlan'],
      undo: ['Compensate', 'DetachKey', 'DeleteKey', 'RetireKeyOwner', 'ClearApiIdAttribute', 'BillingRecorded', 'RecordFailure'],
    },
    {
      state: 'RecordPlanStarted',
      inject: () => taskFaults.inject('dynamodb:putItem', 'DynamoDB.ResourceNotFoundException', 1),
      error: 'DynamoDB.ResourceNotFoundException',
      times: 1,
      done: ['CreateApiKey', 'AttachToFreePlan', 'SetApiIdAttribute'],
      undo: ['Compensate', 'DetachKey', 'DeleteKey', 'RetireKeyOwner', 'ClearApiIdAttribute', 'BillingRecorded', 'RecordFailure'],
    },
    {
      // Retryable, but more often than MaxAttempts allows; the billing entry is written by then and must go too.
      state: 'MarkActive',
      inject: () => taskFaults.inject('MarkActive', 'DynamoDB.ProvisionedThroughputExceededException', 7),
      error: 'DynamoDB.ProvisionedThroughputExceededException',
      times: 7,
      done: ['CreateApiKey', 'AttachToFreePlan', 'SetApiIdAttribute', 'RecordPlanStarted'],
      undo: ['Compensate', 'DetachKey', 'DeleteKey', 'RetireKeyOwner', 'ClearApiIdAttribute', 'BillingRecorded', 'RemovePlanStarted', 'RecordFailure'],
    },
  ];

  it.each(cases)('$state ($error ×$times): no key, in no plan, no custom:apiid, no billing, account FAILED with the reason', async (c) => {
    c.inject();
    const email = uniqueEmail(`fail-${c.state.toLowerCase()}`);
    const userId = await signUpAndConfirm(t, email);

    const execution = await waitForExecution(t, onboardingArn(t, userId), { expect: ['FAILED'] });
    expect({ status: execution.status, error: execution.error }).toEqual({ status: 'FAILED', error: c.error });
    const events = await historyOf(t, onboardingArn(t, userId));
    const tries = attempts(events);
    expect(tries.filter((a) => a.state === c.state).map((a) => a.error)).toEqual(Array(c.times).fill(c.error));
    for (const step of c.done) expect(tries.filter((a) => a.state === step).map((a) => a.outcome)).toEqual(['succeeded']);
    const failedAt = statesEntered(events).lastIndexOf(c.state);
    expect(statesEntered(events).slice(failedAt + 1)).toEqual([...c.undo, 'OnboardingFailed']);

    // Every undo step succeeded (a failed one would be recorded under $.compensation).
    const compensated = stateInput(events, 'RecordFailure') as { apiKey?: { Id: string }; compensation?: unknown; error?: { Error: string } };
    expect(compensated.error?.Error).toBe(c.error);
    const keyId = compensated.apiKey?.Id as string;
    expect(keyId).toMatch(/^[a-z0-9]{10}$/);
    if (c.state === 'AttachToFreePlan') {
      // The key never got into the plan, so detaching it finds nothing: tolerated ("already undone").
      expect(compensated.compensation).toEqual({ detachKey: expect.objectContaining({ Error: 'ApiGateway.NotFoundException' }) });
    } else {
      expect(compensated.compensation).toBeUndefined();
    }
    await expectCompensated(userId, email, c.error, keyId);
  }, 30_000);

  it('SetApiIdAttribute with a transient Cognito error (InternalErrorException ×2) is retried and onboards', async () => {
    const injectedBefore = taskFaults.injected.length;
    taskFaults.inject('SetApiIdAttribute', 'CognitoIdentityProvider.InternalErrorException', 2);
    const email = uniqueEmail('cognito-blip');
    const userId = await signUpAndConfirm(t, email);

    await expectOnboarded(userId, email, `onboard-${userId}`);
    const tries = attempts(await historyOf(t, onboardingArn(t, userId))).filter((a) => a.state === 'SetApiIdAttribute');
    expect(tries.map((a) => a.error ?? a.outcome)).toEqual([
      'CognitoIdentityProvider.InternalErrorException',
      'CognitoIdentityProvider.InternalErrorException',
      'succeeded',
    ]);
    expect(taskFaults.injected.slice(injectedBefore).map((i) => [i.call.stateName, i.call.resource, i.fault?.error])).toEqual([
      ['SetApiIdAttribute', 'cognitoidentityprovider:adminUpdateUserAttributes', 'CognitoIdentityProvider.InternalErrorException'],
      ['SetApiIdAttribute', 'cognitoidentityprovider:adminUpdateUserAttributes', 'CognitoIdentityProvider.InternalErrorException'],
    ]);
  }, 30_000);
});
