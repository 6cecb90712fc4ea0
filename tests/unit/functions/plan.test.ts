// Over 400 lines: POST /me/plan and its status route, with their idempotency and race cases.
import { ACCOUNTS_TABLE, PLAN_CHANGE_STATE_MACHINE_ARN as STATE_MACHINE_ARN } from './env.ts';
import { createHash } from 'node:crypto';
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  SFNClient,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
} from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { PlanAccount } from '#shared/accounts';
import { logger } from '#shared/logger';
import {
  API_KEY_VALUE,
  OTHER_SUB,
  SUB,
  bodyOf,
  captureOutput,
  context,
  describeTokenOnlyChecks,
  expectGenericServerError,
  loadEvent,
  withBody,
  ACTIVE_ACCOUNT,
} from './helpers.ts';

import * as domain from '../../../functions/account/plan-change.ts';
import * as mod from '../../../functions/account/handler.ts';
import { SfnPlanChangeWorkflow } from '../../../functions/account/adapters.ts';

const { handler } = mod;

const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);

const IDEMPOTENCY_KEY = 'upgrade-2025-11-23-001';
const nameFor = (userId: string, requestId: string): string =>
  `plan-${createHash('sha256').update(`${userId}/${requestId}`).digest('hex').slice(0, 40)}`;
const EXECUTION = nameFor(SUB, IDEMPOTENCY_KEY);
const EXECUTION_ARN = `arn:aws:states:us-east-1:123456789012:execution:tollgate-plan-change:${EXECUTION}`;
const INPUT = `{"userId":"${SUB}","plan":"pro","requestId":"${IDEMPOTENCY_KEY}"}`;

const account: PlanAccount = ACTIVE_ACCOUNT;

function givenAccount(item: PlanAccount | undefined): void {
  ddb.on(GetCommand, { TableName: ACCOUNTS_TABLE, Key: { userId: SUB } }).resolves(item ? { Item: item } : {});
}

function execution(overrides: Partial<DescribeExecutionCommandOutput> = {}): Partial<DescribeExecutionCommandOutput> {
  return {
    executionArn: EXECUTION_ARN,
    stateMachineArn: STATE_MACHINE_ARN,
    name: EXECUTION,
    status: 'RUNNING',
    startDate: new Date('2025-11-23T13:45:11.000Z'),
    input: INPUT,
    ...overrides,
  };
}

const alreadyExists = (): ExecutionAlreadyExists =>
  new ExecutionAlreadyExists({ message: `Execution Already Exists: '${EXECUTION_ARN}'`, $metadata: {} });
const doesNotExist = (): ExecutionDoesNotExist =>
  new ExecutionDoesNotExist({ message: `Execution Does Not Exist: '${EXECUTION_ARN}'`, $metadata: {} });

function withHeaders(event: APIGatewayProxyEvent, changes: Record<string, string | undefined>): APIGatewayProxyEvent {
  const headers = { ...event.headers };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return { ...event, headers };
}

beforeEach(() => {
  ddb.reset();
  sfn.reset();
});

describeTokenOnlyChecks(handler, ddb, { accounts: ACCOUNTS_TABLE }, ['plan-change-request', 'plan-change-status']);

describe('POST /me/plan', () => {
  it('starts the plan-change workflow once, named from the user and the Idempotency-Key, and answers 202', async () => {
    givenAccount(account);
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION_ARN, startDate: new Date() });
    const event = loadEvent('plan-change-request');

    const result = await handler(event, context);

    expect(result.statusCode).toBe(202);
    expect(bodyOf(result)).toEqual({
      executionId: EXECUTION,
      status: 'RUNNING',
      plan: 'pro',
      links: { self: `/me/plan-changes/${EXECUTION}` },
    });
    expect(result.headers).toMatchObject({ Location: `/v1/me/plan-changes/${EXECUTION}`, 'Cache-Control': 'no-store' });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: STATE_MACHINE_ARN,
      name: EXECUTION,
      input: INPUT,
    });
  });

  it('names executions deterministically, within Step Functions limits, as the status fixture does', () => {
    const name = domain.planChangeExecutionName(SUB, IDEMPOTENCY_KEY);

    expect(name).toBe(EXECUTION);
    expect(name).toMatch(/^plan-[0-9a-f]{40}$/);
    expect(name.length).toBeLessThanOrEqual(80);
    expect(domain.planChangeExecutionName(SUB, IDEMPOTENCY_KEY)).toBe(name);
    expect(domain.planChangeExecutionName(OTHER_SUB, IDEMPOTENCY_KEY)).not.toBe(name);
    expect(loadEvent('plan-change-status').pathParameters).toEqual({ executionId: name });
  });

  it('keeps the input key order fixed, so a retry sends the same input', () => {
    expect(JSON.stringify(domain.planChangeInput(SUB, 'pro', IDEMPOTENCY_KEY))).toBe(INPUT);
  });

  it('uses the API request id when there is no Idempotency-Key', async () => {
    givenAccount(account);
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });
    const event = withHeaders(loadEvent('plan-change-request'), { 'Idempotency-Key': undefined });

    const result = await handler(event, context);

    const requestId = event.requestContext.requestId;
    expect(result.statusCode).toBe(202);
    expect(bodyOf(result).executionId).toBe(nameFor(SUB, requestId));
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      name: nameFor(SUB, requestId),
      input: JSON.stringify({ userId: SUB, plan: 'pro', requestId }),
    });
  });

  it('reads the Idempotency-Key header whatever its case', async () => {
    givenAccount(account);
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });
    const event = withHeaders(loadEvent('plan-change-request'), {
      'Idempotency-Key': undefined,
      'idempotency-key': IDEMPOTENCY_KEY,
    });

    const result = await handler(event, context);

    expect(bodyOf(result).executionId).toBe(EXECUTION);
  });

  it.each([
    ['empty', ''],
    ['longer than 128 characters', 'k'.repeat(129)],
    ['with a space', 'my key'],
    ['with a slash', 'a/b'],
    ['non-ASCII', 'clé'],
  ])('answers 400 naming the Idempotency-Key header when it is %s', async (_label, value) => {
    givenAccount(account);
    const event = withHeaders(loadEvent('plan-change-request'), { 'Idempotency-Key': value });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ code: 'BadRequest', details: { issues: [{ field: 'Idempotency-Key' }] } });
    expect(sfn.calls()).toHaveLength(0);
  });

  it('accepts an Idempotency-Key of exactly 128 allowed characters', async () => {
    givenAccount(account);
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn', startDate: new Date() });
    const key = `Aa0._:-${'x'.repeat(121)}`;
    const event = withHeaders(loadEvent('plan-change-request'), { 'Idempotency-Key': key });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(202);
    expect(bodyOf(result).executionId).toBe(nameFor(SUB, key));
  });

  it.each([
    ['a plan outside the catalogue', { plan: 'enterprise' }, 'plan'],
    ['no plan', {}, 'plan'],
    ['a plan that is not a string', { plan: 2 }, 'plan'],
    ['an unknown field', { plan: 'pro', coupon: 'FREE' }, 'coupon'],
  ])('answers 400 naming the field for %s', async (_label, body, field) => {
    givenAccount(account);
    const event = withBody(loadEvent('plan-change-request'), body);

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).details.issues).toContainEqual(expect.objectContaining({ field }));
    expect(sfn.calls()).toHaveLength(0);
  });

  it('says which plans exist', async () => {
    const event = withBody(loadEvent('plan-change-request'), { plan: 'enterprise' });

    const result = await handler(event, context);

    expect(bodyOf(result).message).toBe('Invalid body: plan: Must be one of free, basic, pro');
  });

  it('answers 400 for a body that is not JSON', async () => {
    const event = withBody(loadEvent('plan-change-request'), '{plan:');

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(bodyOf(result).message).toBe('Request body is not valid JSON');
  });

  it.each([
    ['ONBOARDING', { ...account, status: 'ONBOARDING' as const }],
    ['FAILED', { ...account, status: 'FAILED' as const }],
  ])('answers 409 when the account is %s', async (status, item) => {
    givenAccount(item);

    const result = await handler(loadEvent('plan-change-request'), context);

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result)).toMatchObject({ code: 'Conflict', message: `The account is not active (status ${status})` });
    expect(sfn.calls()).toHaveLength(0);
  });

  it('answers 409 when there is no account yet', async () => {
    givenAccount(undefined);

    const result = await handler(loadEvent('plan-change-request'), context);

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result).message).toMatch(/not active yet/);
    expect(sfn.calls()).toHaveLength(0);
  });

  it('answers 409 when the account is already on the plan', async () => {
    givenAccount({ ...account, plan: 'pro' });
    sfn.on(DescribeExecutionCommand).rejects(doesNotExist());

    const result = await handler(loadEvent('plan-change-request'), context);

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result)).toMatchObject({ message: 'The account is already on plan pro', details: { plan: 'pro' } });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('answers 409 with the running execution when another plan change is in progress', async () => {
    givenAccount({ ...account, pendingPlanChange: 'plan-0000000000000000000000000000000000000000' });
    sfn.on(DescribeExecutionCommand).rejects(doesNotExist());

    const result = await handler(loadEvent('plan-change-request'), context);

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result)).toMatchObject({
      message: 'A plan change is in progress',
      details: { executionId: 'plan-0000000000000000000000000000000000000000' },
    });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('answers a retry whose own change holds the lock with the same execution, starting nothing', async () => {
    givenAccount({ ...account, pendingPlanChange: EXECUTION });
    sfn.on(DescribeExecutionCommand, { executionArn: EXECUTION_ARN }).resolves(execution());

    const result = await handler(loadEvent('plan-change-request'), context);

    expect(result.statusCode).toBe(202);
    expect(bodyOf(result)).toMatchObject({ executionId: EXECUTION, status: 'RUNNING', plan: 'pro' });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('answers a retry after the change succeeded (the account is on the plan now) with the same execution', async () => {
    givenAccount({ ...account, plan: 'pro' });
    sfn.on(DescribeExecutionCommand).resolves(execution({ status: 'SUCCEEDED', stopDate: new Date() }));

    const result = await handler(loadEvent('plan-change-request'), context);

    expect(result.statusCode).toBe(202);
    expect(bodyOf(result)).toMatchObject({ executionId: EXECUTION, status: 'SUCCEEDED' });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('answers ExecutionAlreadyExists with the existing execution of the same request', async () => {
    givenAccount(account);
    sfn.on(StartExecutionCommand).rejects(alreadyExists());
    sfn.on(DescribeExecutionCommand).resolves(
      execution({ status: 'FAILED', stopDate: new Date(), error: 'PlanChange.KeyMoveFailed', cause: 'x' }),
    );

    const result = await handler(loadEvent('plan-change-request'), context);

    expect(result.statusCode).toBe(202);
    expect(bodyOf(result)).toEqual({
      executionId: EXECUTION,
      status: 'FAILED',
      plan: 'pro',
      links: { self: `/me/plan-changes/${EXECUTION}` },
    });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, { executionArn: EXECUTION_ARN });
  });

  it('answers 409 when the Idempotency-Key was used for another plan', async () => {
    givenAccount(account);
    sfn.on(StartExecutionCommand).rejects(alreadyExists());
    sfn.on(DescribeExecutionCommand).resolves(
      execution({ input: JSON.stringify({ userId: SUB, plan: 'basic', requestId: IDEMPOTENCY_KEY }) }),
    );

    const result = await handler(loadEvent('plan-change-request'), context);

    expect(result.statusCode).toBe(409);
    expect(bodyOf(result)).toMatchObject({
      message: 'This Idempotency-Key was already used to request the basic plan',
      details: { executionId: EXECUTION, requestedPlan: 'basic' },
    });
  });

  it("never answers with an execution whose input names someone else", async () => {
    givenAccount(account);
    sfn.on(StartExecutionCommand).rejects(alreadyExists());
    sfn.on(DescribeExecutionCommand).resolves(execution({ input: JSON.stringify({ userId: OTHER_SUB, plan: 'pro' }) }));

    const result = await handler(loadEvent('plan-change-request'), context);

    expect(result.statusCode).toBe(409);
    expect(result.body).not.toContain(OTHER_SUB);
  });

  it('answers a generic 500 when Step Functions fails otherwise', async () => {
    givenAccount(account);
    sfn.on(StartExecutionCommand).rejects(new Error('AccessDeniedException: arn:aws:states:secret'));
    const event = loadEvent('plan-change-request');

    const result = await handler(event, context);

    expectGenericServerError(result, event.requestContext.requestId, 'arn:aws:states');
  });

  it('never logs the API key value', async () => {
    givenAccount(account);
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION_ARN, startDate: new Date() });
    logger.setLogLevel('DEBUG');

    const output = await captureOutput(() => handler(loadEvent('plan-change-request'), context));
    logger.setLogLevel('SILENT');

    expect(output).toContain('Request handled');
    expect(output).not.toContain(API_KEY_VALUE);
  });
});

describe('GET /me/plan-changes/{executionId}', () => {
  it('answers a succeeded change with its outcome', async () => {
    sfn.on(DescribeExecutionCommand, { executionArn: EXECUTION_ARN }).resolves(
      execution({
        status: 'SUCCEEDED',
        stopDate: new Date('2025-11-23T13:45:14.000Z'),
        output: JSON.stringify({ fromPlan: 'free', toPlan: 'pro', effectiveAt: '2025-11-23T13:45:11.000Z', extra: 1 }),
      }),
    );

    const result = await handler(loadEvent('plan-change-status'), context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({
      executionId: EXECUTION,
      status: 'SUCCEEDED',
      requestedPlan: 'pro',
      startedAt: '2025-11-23T13:45:11.000Z',
      stoppedAt: '2025-11-23T13:45:14.000Z',
      outcome: { fromPlan: 'free', toPlan: 'pro', effectiveAt: '2025-11-23T13:45:11.000Z' },
    });
    expect(result.headers).toMatchObject({ 'Cache-Control': 'no-store' });
  });

  it('answers a running change without stoppedAt, outcome or error', async () => {
    sfn.on(DescribeExecutionCommand).resolves(execution());

    const result = await handler(loadEvent('plan-change-status'), context);

    expect(bodyOf(result)).toEqual({
      executionId: EXECUTION,
      status: 'RUNNING',
      requestedPlan: 'pro',
      startedAt: '2025-11-23T13:45:11.000Z',
    });
  });

  it("answers a failed change with the execution's error and cause", async () => {
    sfn.on(DescribeExecutionCommand).resolves(
      execution({
        status: 'FAILED',
        stopDate: new Date('2025-11-23T13:45:20.000Z'),
        error: 'PlanChange.KeyMoveFailed',
        cause: 'The key could not be moved to the pro plan; the account stays on free.',
      }),
    );

    const result = await handler(loadEvent('plan-change-status'), context);

    expect(bodyOf(result)).toMatchObject({
      status: 'FAILED',
      stoppedAt: '2025-11-23T13:45:20.000Z',
      error: {
        code: 'PlanChange.KeyMoveFailed',
        message: 'The key could not be moved to the pro plan; the account stays on free.',
      },
    });
    expect(bodyOf(result)).not.toHaveProperty('outcome');
  });

  it("keeps a failed AWS call's raw cause out of the answer, giving its error name only", async () => {
    sfn.on(DescribeExecutionCommand).resolves(
      execution({
        status: 'FAILED',
        stopDate: new Date('2025-11-23T13:45:20.000Z'),
        error: 'ApiGateway.BadRequestException',
        cause: 'Invalid usage plan ID specified (Service: ApiGateway, Status Code: 400, Request ID: 1234-abcd)',
      }),
    );

    const result = await handler(loadEvent('plan-change-status'), context);

    expect(bodyOf(result).error).toEqual({ code: 'ApiGateway.BadRequestException' });
    expect(result.body).not.toContain('Request ID');
  });

  it.each([
    ['TIMED_OUT', 'TIMED_OUT'],
    ['ABORTED', 'ABORTED'],
    ['PENDING_REDRIVE', 'FAILED'],
  ] as const)('reports %s as %s', async (status, reported) => {
    sfn.on(DescribeExecutionCommand).resolves(execution({ status, stopDate: new Date() }));

    const result = await handler(loadEvent('plan-change-status'), context);

    expect(bodyOf(result).status).toBe(reported);
  });

  it('answers 404 for an execution that does not exist', async () => {
    sfn.on(DescribeExecutionCommand).rejects(doesNotExist());

    const result = await handler(loadEvent('plan-change-status'), context);

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toMatchObject({ code: 'NotFound', message: `Plan change ${EXECUTION} not found` });
  });

  it("answers the same 404 for another user's execution, revealing nothing of it", async () => {
    sfn.on(DescribeExecutionCommand).resolves(
      execution({
        status: 'SUCCEEDED',
        input: JSON.stringify({ userId: OTHER_SUB, plan: 'basic', requestId: 'r' }),
        output: JSON.stringify({ fromPlan: 'free', toPlan: 'basic', effectiveAt: '2025-11-23T13:45:11.000Z' }),
      }),
    );

    const result = await handler(loadEvent('plan-change-status'), context);

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toMatchObject({ code: 'NotFound', message: `Plan change ${EXECUTION} not found` });
    expect(result.body).not.toMatch(/basic|OTHER|9a8b7c6d/);
  });

  it('answers 404 for an execution whose input cannot be read', async () => {
    sfn.on(DescribeExecutionCommand).resolves(execution({ input: 'not json' }));

    const result = await handler(loadEvent('plan-change-status'), context);

    expect(result.statusCode).toBe(404);
  });

  it.each(['plan-123', `plan-${'A'.repeat(40)}`, `onboard-${SUB}`, `${EXECUTION}0`])(
    'answers 400 naming executionId for %p, without calling Step Functions',
    async (executionId) => {
      const event = { ...loadEvent('plan-change-status'), pathParameters: { executionId } };

      const result = await handler(event, context);

      expect(result.statusCode).toBe(400);
      expect(bodyOf(result).details.issues).toEqual([expect.objectContaining({ field: 'executionId' })]);
      expect(sfn.calls()).toHaveLength(0);
    },
  );

  it('answers a generic 500 when DescribeExecution fails otherwise', async () => {
    sfn.on(DescribeExecutionCommand).rejects(new Error('ThrottlingException: arn:aws:states:secret'));
    const event = loadEvent('plan-change-status');

    const result = await handler(event, context);

    expectGenericServerError(result, event.requestContext.requestId, 'arn:aws:states');
  });
});

describe('SfnPlanChangeWorkflow', () => {
  it('builds the execution ARN from the state machine ARN', () => {
    const workflow = new SfnPlanChangeWorkflow(
      'arn:aws-cn:states:cn-north-1:123456789012:stateMachine:tollgate-plan-change',
      new SFNClient({}),
    );

    expect(workflow.executionArn('plan-abc')).toBe(
      'arn:aws-cn:states:cn-north-1:123456789012:execution:tollgate-plan-change:plan-abc',
    );
  });
});
