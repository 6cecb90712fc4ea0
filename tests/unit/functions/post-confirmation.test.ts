import { AdminUserGlobalSignOutCommand, CognitoIdentityProviderClient, UserNotFoundException } from '@aws-sdk/client-cognito-identity-provider';
import { ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Context, PostConfirmationTriggerEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { onboardingExecutionName } from '#shared/workflows';
import * as mod from '../../../functions/post-confirmation/handler.ts';
import { ONBOARDING_STATE_MACHINE_ARN } from './env.ts';

const sfn = mockClient(SFNClient);
const ddb = mockClient(DynamoDBClient);
const cognito = mockClient(CognitoIdentityProviderClient);

const fixture = (name: string): PostConfirmationTriggerEvent =>
  JSON.parse(readFileSync(join(__dirname, '../../../events', name), 'utf8')) as PostConfirmationTriggerEvent;

let seq = 0;
function context(): Context {
  seq += 1;
  return {
    awsRequestId: `req-${seq}`,
    functionName: 'post-confirmation',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:post-confirmation',
    memoryLimitInMB: '256',
    logGroupName: 'g',
    logStreamName: 's',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 4000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** A fresh user each test: the idempotency layer keys on sub, and nothing may leak between tests. */
function signUpEvent(): PostConfirmationTriggerEvent {
  const event = fixture('post-confirmation-sign-up.json');
  const sub = `00000000-0000-4000-8000-${String(Date.now() % 1e6).padStart(6, '0')}${String(++seq).padStart(6, '0')}`;
  event.userName = sub;
  event.request.userAttributes.sub = sub;
  return event;
}

beforeEach(() => {
  sfn.reset();
  ddb.reset();
  cognito.reset();
  cognito.on(AdminUserGlobalSignOutCommand).resolves({});
  // The idempotency layer's records: no record yet, writes succeed.
  ddb.on(PutItemCommand).resolves({});
  ddb.on(UpdateItemCommand).resolves({});
  ddb.on(GetItemCommand).resolves({});
});

describe('post-confirmation trigger', () => {
  it('starts one onboarding execution named from the sub, with deterministic input, and returns the event', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
    const event = signUpEvent();

    const result = await mod.handler(event, context());

    expect(result).toBe(event);
    const calls = sfn.commandCalls(StartExecutionCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input.stateMachineArn).toBe(ONBOARDING_STATE_MACHINE_ARN);
    expect(input.name).toBe(`onboard-${event.request.userAttributes.sub}`);
    expect(JSON.parse(input.input ?? '')).toEqual({
      userId: event.request.userAttributes.sub,
      email: 'ada@example.com',
      username: event.userName,
    });
  });

  it('does not onboard again on a forgot-password confirmation', async () => {
    const event = fixture('post-confirmation-forgot-password.json');

    const result = await mod.handler(event, context());

    expect(result).toBe(event);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('signs the user out everywhere after a password reset (AdminUserGlobalSignOut on the event\'s pool and user)', async () => {
    const event = fixture('post-confirmation-forgot-password.json');

    await expect(mod.handler(event, context())).resolves.toBe(event);

    const calls = cognito.commandCalls(AdminUserGlobalSignOutCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toEqual({ UserPoolId: 'us-east-1_EXAMPLE01', Username: '0f9c6c1e-7c2a-4a39-9d0b-1f6f2f6b0a11' });
  });

  it('treats a user deleted meanwhile as signed out, and fails the trigger on any other sign-out error', async () => {
    const event = fixture('post-confirmation-forgot-password.json');
    cognito.on(AdminUserGlobalSignOutCommand).rejects(new UserNotFoundException({ message: 'User does not exist.', $metadata: {} }));
    await expect(mod.handler(event, context())).resolves.toBe(event);

    cognito.reset();
    cognito.on(AdminUserGlobalSignOutCommand).rejects(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }));
    await expect(mod.handler(event, context())).rejects.toThrow('Rate exceeded');
  });

  it('treats ExecutionAlreadyExists as success', async () => {
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    const event = signUpEvent();

    await expect(mod.handler(event, context())).resolves.toBe(event);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it('fails the trigger (so Cognito retries) when the execution cannot be started', async () => {
    sfn.on(StartExecutionCommand).rejects(Object.assign(new Error('service unavailable'), { name: 'ServiceUnavailable' }));

    await expect(mod.handler(signUpEvent(), context())).rejects.toThrow('service unavailable');
  });

  it('refuses an event without sub or email instead of onboarding half a user', async () => {
    const event = signUpEvent();
    delete (event.request.userAttributes as Record<string, string>).email;

    await expect(mod.handler(event, context())).rejects.toThrow(/no sub or email/);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('a concurrent delivery that finds the idempotency record in progress succeeds without a second start', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
    const event = signUpEvent();
    // The first delivery holds the record: the conditional put fails and returns the stored INPROGRESS record.
    ddb.on(PutItemCommand).rejects(
      new ConditionalCheckFailedException({
        message: 'The conditional request failed',
        $metadata: {},
        Item: {
          id: { S: `x#${event.request.userAttributes.sub}` },
          status: { S: 'INPROGRESS' },
          expiration: { N: String(Math.floor(Date.now() / 1000) + 3600) },
          in_progress_expiration: { N: String(Date.now() + 60_000) },
        },
      }),
    );

    await expect(mod.handler(event, context())).resolves.toBe(event);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('names executions from the sub', () => {
    expect(onboardingExecutionName('abc')).toBe('onboard-abc');
  });
});
