import { ACCOUNTS_TABLE, OFFBOARDING_STATE_MACHINE_ARN } from './env.ts';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { Account } from '#shared/accounts';
import { handler } from '../../../functions/account/handler.ts';
import { accountView } from '../../../functions/account/me.ts';
import {
  API_KEY_ID,
  EMAIL,
  SUB,
  bodyOf,
  context,
  expectGenericServerError,
  loadEvent,
  withClaims,
} from './helpers.ts';

const ddb = mockClient(DynamoDBDocumentClient);

const account: Account = {
  userId: SUB,
  email: EMAIL,
  apiKeyId: API_KEY_ID,
  plan: 'free',
  status: 'ACTIVE',
  createdAt: '2025-11-23T13:00:00.000Z',
  updatedAt: '2025-11-23T13:00:05.000Z',
  version: 3,
};

function givenAccount(item: Account | undefined): void {
  ddb.on(GetCommand, { TableName: ACCOUNTS_TABLE, Key: { userId: SUB } }).resolves(item ? { Item: item } : {});
}

beforeEach(() => {
  ddb.reset();
});

describe('caller checks', () => {
  it('answers 401 without the authorizer claims', async () => {
    const event = loadEvent('me-get');
    event.requestContext.authorizer = null as never;

    const result = await handler(event, context);

    expect(result.statusCode).toBe(401);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('needs no API key: an account that is still onboarding (no key yet) can see its status', async () => {
    givenAccount({ ...account, status: 'ONBOARDING', apiKeyId: undefined });
    const event = loadEvent('me-get');
    event.requestContext.identity.apiKeyId = null as unknown as string;

    const result = await handler(event, context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toMatchObject({ status: 'ONBOARDING' });
  });

  it("reads only the caller's own account (by the token's sub), whatever key the request carries", async () => {
    givenAccount(account);
    const event = loadEvent('me-get');
    event.requestContext.identity.apiKeyId = 'someone-elses-key';

    await handler(event, context);

    expect(ddb).toHaveReceivedCommandWith(GetCommand, { Key: { userId: event.requestContext.authorizer!.claims.sub } });
  });
});

describe('GET /me', () => {
  it("answers 200 with the caller's account, without internal fields", async () => {
    givenAccount(account);

    const result = await handler(loadEvent('me-get'), context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({
      email: EMAIL,
      plan: 'free',
      status: 'ACTIVE',
      apiKeyId: API_KEY_ID,
      createdAt: '2025-11-23T13:00:00.000Z',
      updatedAt: '2025-11-23T13:00:05.000Z',
    });
    expect(result.headers).toMatchObject({ 'Cache-Control': 'no-store' });
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { TableName: ACCOUNTS_TABLE, Key: { userId: SUB } });
  });

  it('shows the ID token’s verified email (a verified change, before the reconciler updates the record), never an unverified one', async () => {
    givenAccount(account);

    const changed = await handler(withClaims(loadEvent('me-get'), { email: 'new-address@example.com', email_verified: 'true' }), context);
    const unverified = await handler(withClaims(loadEvent('me-get'), { email: 'new-address@example.com', email_verified: 'false' }), context);

    expect(bodyOf(changed)).toMatchObject({ email: 'new-address@example.com' });
    expect(bodyOf(unverified)).toMatchObject({ email: EMAIL });
  });

  it('includes failureReason for a FAILED account', async () => {
    givenAccount({ ...account, status: 'FAILED', failureReason: 'ApiGateway.LimitExceededException' });

    const result = await handler(loadEvent('me-get'), context);

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toMatchObject({ status: 'FAILED', failureReason: 'ApiGateway.LimitExceededException' });
  });

  it('leaves failureReason out unless the account FAILED', () => {
    expect(accountView({ ...account, failureReason: 'stale reason' })).not.toHaveProperty('failureReason');
  });

  it('answers 404 JSON when the token names the key but there is no account yet', async () => {
    givenAccount(undefined);
    const event = loadEvent('me-get');

    const result = await handler(event, context);

    expect(result.statusCode).toBe(404);
    expect(bodyOf(result)).toEqual({
      message: 'No account yet: onboarding has not recorded one for this user',
      code: 'NotFound',
      requestId: event.requestContext.requestId,
    });
  });

  it('reads the account once', async () => {
    givenAccount(account);
    const event = withClaims(loadEvent('me-get'), { 'custom:apiid': undefined });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(200);
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 1);
  });

  it('answers a generic 500 when DynamoDB fails', async () => {
    ddb.on(GetCommand).rejects(new Error('AccessDeniedException: arn:aws:dynamodb:secret'));
    const event = loadEvent('me-get');

    const result = await handler(event, context);

    expectGenericServerError(result, event.requestContext.requestId, 'arn:aws:dynamodb');
  });
});

describe('DELETE /me', () => {
  const sfn = mockClient(SFNClient);

  beforeEach(() => {
    sfn.reset();
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
  });

  it('starts offboard-<sub> (reason SELF_SERVICE) when confirm is the account email, any case, and answers 202', async () => {
    const event = loadEvent('me-delete');
    event.body = JSON.stringify({ confirm: EMAIL.toUpperCase() });

    const result = await handler(event, context);

    expect(result.statusCode).toBe(202);
    expect(bodyOf(result)).toMatchObject({ status: 'CLOSING', executionName: `offboard-${SUB}` });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: OFFBOARDING_STATE_MACHINE_ARN,
      name: `offboard-${SUB}`,
      input: JSON.stringify({ userId: SUB, reason: 'SELF_SERVICE' }),
    });
  });

  it('answers 202 again when the deletion was started already (ExecutionAlreadyExists)', async () => {
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));

    const result = await handler(loadEvent('me-delete'), context);

    expect(result.statusCode).toBe(202);
  });

  it.each([
    ['another email', JSON.stringify({ confirm: 'someone@example.com' }), 'confirm'],
    ['no body', null, 'body'],
    ['an unknown field', JSON.stringify({ confirm: EMAIL, force: true }), 'force'],
  ])('answers 400 naming the problem for %s, and starts nothing', async (_label, body, field) => {
    const event = loadEvent('me-delete');
    event.body = body;

    const result = await handler(event, context);

    expect(result.statusCode).toBe(400);
    expect(JSON.stringify(bodyOf(result))).toContain(field);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('answers a generic 500 when Step Functions fails', async () => {
    sfn.on(StartExecutionCommand).rejects(new Error('boom arn:aws:states:secret'));
    const event = loadEvent('me-delete');

    expectGenericServerError(await handler(event, context), event.requestContext.requestId, 'arn:aws:states:secret');
  });
});
