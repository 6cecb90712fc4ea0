/**
 * The trigger patches of local/cognito.ts on cognito-local's own LambdaService and TriggersService (a fake Lambda
 * client underneath): failures named by the trigger as Cognito names them, PostConfirmation / PostAuthentication
 * failures no longer swallowed, and ConfirmSignUp for a confirmed user refused as in Cognito.
 */
import { createRequire } from 'node:module';
import {
  patchTriggerErrors,
  propagateTriggerFailures,
  refuseConfirmingConfirmedUsers,
  type CognitoRouter,
  type SessionDeps,
} from '../../../local/cognito.ts';
import { cannotConfirm, triggerMessages } from '../../../functions/shared/cognito-messages.ts';

const cognitoRequire = createRequire(require.resolve('cognito-local/package.json'));
/* eslint-disable @typescript-eslint/no-explicit-any -- cognito-local ships untyped CommonJS */
const { LambdaService } = cognitoRequire('./lib/services/lambda') as { LambdaService: any };
const { TriggersService } = cognitoRequire('./lib/services/triggers') as { TriggersService: any };
const { attributesToRecord } = cognitoRequire('./lib/services/userPoolService') as { attributesToRecord: (a: unknown) => Record<string, string> };
const { CognitoError } = cognitoRequire('./lib/errors') as { CognitoError: new (code: string, message: string) => Error & { code: string } };

const FUNCTION = 'tollgate-PostConfirmationFunction-ABC123';
const ctx = { logger: { debug: () => undefined, error: () => undefined, warn: () => undefined, info: () => undefined } };

type InvokeAnswer = { FunctionError?: string; Payload?: string } | Error;

/** A fake SDK v2 Lambda client: answers (or throws) what it is told, and records the requests. */
function lambdaClient(answer: InvokeAnswer) {
  const requests: { FunctionName: string; Payload: string }[] = [];
  return {
    requests,
    invoke: (request: { FunctionName: string; Payload: string }) => ({
      promise: async () => {
        requests.push(request);
        if (answer instanceof Error) throw answer;
        return { StatusCode: 200, ...answer };
      },
    }),
  };
}

const serviceWith = (answer: InvokeAnswer) => {
  const client = lambdaClient(answer);
  return { client, service: new LambdaService({ PostConfirmation: FUNCTION, PreSignUp: FUNCTION, PostAuthentication: FUNCTION }, client) };
};

const confirmationEvent = {
  clientId: 'client-1',
  triggerSource: 'PostConfirmation_ConfirmSignUp',
  userAttributes: { sub: 'u-1', email: 'ada@example.com' },
  username: 'u-1',
  userPoolId: 'local_pool',
};

async function rejection(promise: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    return { code, message };
  }
  throw new Error('expected a rejection');
}

describe('trigger failures named as Cognito names them (patchTriggerErrors)', () => {
  beforeAll(() => patchTriggerErrors(LambdaService, CognitoError));

  it('a function error: UserLambdaValidationException "<Trigger> failed with error <errorMessage>."', async () => {
    const { service, client } = serviceWith({
      FunctionError: 'Unhandled',
      Payload: JSON.stringify({ errorType: 'AccessDeniedException', errorMessage: 'Could not start onboarding' }),
    });

    expect(await rejection(service.invoke(ctx, 'PostConfirmation', confirmationEvent))).toEqual({
      code: 'UserLambdaValidationException',
      message: 'PostConfirmation failed with error Could not start onboarding.',
    });
    expect(triggerMessages.functionError('PreSignUp', 'x')).toBe('PreSignUp failed with error x.');
    // The event is still cognito-local's own, sent to the configured function.
    expect(client.requests[0]?.FunctionName).toBe(FUNCTION);
    expect(JSON.parse(client.requests[0]!.Payload)).toMatchObject({ triggerSource: 'PostConfirmation_ConfirmSignUp', userName: 'u-1', request: { userAttributes: { sub: 'u-1' } } });
  });

  it('a function error without errorMessage still names the trigger', async () => {
    const { service } = serviceWith({ FunctionError: 'Unhandled', Payload: '{}' });
    expect(await rejection(service.invoke(ctx, 'PreSignUp', { ...confirmationEvent, triggerSource: 'PreSignUp_SignUp' }))).toEqual({
      code: 'UserLambdaValidationException',
      message: 'PreSignUp failed with error Unhandled.',
    });
  });

  it('an invoke that fails: UnexpectedLambdaException "<Trigger> invocation failed due to error <cause>."', async () => {
    const denied = Object.assign(new Error('User: … is not authorized to perform: lambda:InvokeFunction'), { code: 'AccessDeniedException' });
    const timedOut = Object.assign(new Error('Connection timed out after 5000ms'), { code: 'TimeoutError' });

    expect(await rejection(serviceWith(denied).service.invoke(ctx, 'PostConfirmation', confirmationEvent))).toEqual({
      code: 'UnexpectedLambdaException',
      message: 'PostConfirmation invocation failed due to error AccessDeniedException.',
    });
    expect(await rejection(serviceWith(timedOut).service.invoke(ctx, 'PostConfirmation', confirmationEvent))).toEqual({
      code: 'UnexpectedLambdaException',
      message: 'PostConfirmation invocation failed due to error Socket timeout while invoking Lambda function.',
    });
  });

  it('an output that is not JSON: InvalidLambdaResponseException; a good one answers its response', async () => {
    expect(await rejection(serviceWith({ Payload: 'not json' }).service.invoke(ctx, 'PostConfirmation', confirmationEvent))).toEqual({
      code: 'InvalidLambdaResponseException',
      message: 'Invalid lambda function output : Invalid JSON',
    });
    const ok = serviceWith({ Payload: JSON.stringify({ response: { autoConfirmUser: true } }) });
    await expect(ok.service.invoke(ctx, 'PreSignUp', { ...confirmationEvent, triggerSource: 'PreSignUp_SignUp' })).resolves.toEqual({ autoConfirmUser: true });
  });
});

describe('PostConfirmation and PostAuthentication failures reach the caller (propagateTriggerFailures)', () => {
  const params = {
    clientId: 'client-1',
    clientMetadata: undefined,
    source: 'PostConfirmation_ConfirmSignUp',
    userAttributes: [
      { Name: 'sub', Value: 'u-1' },
      { Name: 'email', Value: 'ada@example.com' },
    ],
    username: 'u-1',
    userPoolId: 'local_pool',
  };
  const failing = () => {
    const calls: [string, Record<string, unknown>][] = [];
    const lambda = {
      enabled: () => true,
      invoke: async (_ctx: unknown, trigger: string, event: Record<string, unknown>) => {
        calls.push([trigger, event]);
        throw new CognitoError('UserLambdaValidationException', `${trigger} failed with error boom.`);
      },
    };
    return { calls, lambda, triggers: new TriggersService({ get: () => new Date() }, {}, lambda, {}) };
  };

  it('cognito-local swallows them', async () => {
    const { triggers, calls } = failing();
    await expect(triggers.postConfirmation(ctx, params)).resolves.toBeUndefined();
    await expect(triggers.postAuthentication(ctx, { ...params, source: 'PostAuthentication_Authentication' })).resolves.toBeUndefined();
    expect(calls.map(([trigger]) => trigger)).toEqual(['PostConfirmation', 'PostAuthentication']);
  });

  it('patched, each rejects with the trigger error, after invoking with the same event', async () => {
    const { triggers, calls, lambda } = failing();
    propagateTriggerFailures(triggers, lambda, attributesToRecord);

    expect(await rejection(triggers.postConfirmation(ctx, params))).toEqual({ code: 'UserLambdaValidationException', message: 'PostConfirmation failed with error boom.' });
    expect(await rejection(triggers.postAuthentication(ctx, { ...params, source: 'PostAuthentication_Authentication' }))).toEqual({
      code: 'UserLambdaValidationException',
      message: 'PostAuthentication failed with error boom.',
    });
    expect(calls).toEqual([
      ['PostConfirmation', { clientId: 'client-1', clientMetadata: undefined, triggerSource: 'PostConfirmation_ConfirmSignUp', userAttributes: { sub: 'u-1', email: 'ada@example.com' }, username: 'u-1', userPoolId: 'local_pool' }],
      ['PostAuthentication', { clientId: 'client-1', clientMetadata: undefined, triggerSource: 'PostAuthentication_Authentication', userAttributes: { sub: 'u-1', email: 'ada@example.com' }, username: 'u-1', userPoolId: 'local_pool' }],
    ]);
  });
});

describe('ConfirmSignUp for a user who is not UNCONFIRMED (refuseConfirmingConfirmedUsers)', () => {
  class NotAuthorizedError extends Error {
    readonly code = 'NotAuthorizedException';
  }
  const users: Record<string, { Username: string; UserStatus: string }> = {
    'done@example.com': { Username: 'u-1', UserStatus: 'CONFIRMED' },
    'new@example.com': { Username: 'u-2', UserStatus: 'UNCONFIRMED' },
  };
  const pool = { options: { Id: 'local_pool' }, getUserByUsername: async (_c: unknown, name: string) => users[name] ?? null, listUsers: async () => [], saveUser: async () => undefined };
  const deps = { getUserPoolForClientId: async () => pool, NotAuthorizedError } as unknown as Pick<SessionDeps, 'getUserPoolForClientId' | 'NotAuthorizedError'>;
  const reached: string[] = [];
  const inner: CognitoRouter = (target) => async (_ctx, req) => {
    reached.push(`${target} ${String(req.Username)}`);
    return {};
  };
  const router = refuseConfirmingConfirmedUsers(inner, deps);

  it('answers NotAuthorizedException "User cannot be confirmed. Current status is CONFIRMED", whatever the code', async () => {
    expect(await rejection(router('ConfirmSignUp')({}, { ClientId: 'c', Username: 'done@example.com', ConfirmationCode: '000000' }) as Promise<unknown>)).toEqual({
      code: 'NotAuthorizedException',
      message: 'User cannot be confirmed. Current status is CONFIRMED',
    });
    expect(cannotConfirm('FORCE_CHANGE_PASSWORD')).toBe('User cannot be confirmed. Current status is FORCE_CHANGE_PASSWORD');
    expect(reached).toEqual([]);
  });

  it('leaves unconfirmed and unknown users to cognito-local', async () => {
    await router('ConfirmSignUp')({}, { ClientId: 'c', Username: 'new@example.com', ConfirmationCode: '123456' });
    await router('ConfirmSignUp')({}, { ClientId: 'c', Username: 'nobody@example.com', ConfirmationCode: '123456' });
    expect(reached).toEqual(['ConfirmSignUp new@example.com', 'ConfirmSignUp nobody@example.com']);
  });
});
