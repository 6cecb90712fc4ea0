/**
 * Integration-test helpers: an in-process offline stack on free ports in a fresh temp directory, and the steps a
 * customer takes (sign up, confirm with the code from the outbox, sign in).
 */
import { APIGatewayClient, GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import {
  CognitoIdentityProviderClient,
  ConfirmSignUpCommand,
  InitiateAuthCommand,
  SignUpCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeExecutionCommand, SFNClient, type DescribeExecutionCommandOutput } from '@aws-sdk/client-sfn';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AttachedPolicy } from '../iam/index.ts';
import { startLocalStack, type LocalStack, type LocalStackOptions } from '../stack.ts';
import { claimsOf, executionHistory } from './clients.ts';
import { issueFirstSelfIssuedKey, keyModeOf } from './key-modes.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../types.ts';

export interface TestStack {
  stack: LocalStack;
  dir: string;
  clients: { cognito: CognitoIdentityProviderClient; sfn: SFNClient; dynamodb: DynamoDBClient; apigateway: APIGatewayClient; lambda: LambdaClient };
  close(): Promise<void>;
}

export async function startTestStack(opts: Partial<LocalStackOptions> = {}): Promise<TestStack> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'tollgate-it-'));
  const lines: string[] = [];
  const stack = await startLocalStack({
    dir,
    ports: 0,
    retryIntervalScale: 0.001,
    log: (line) => {
      lines.push(line);
      if (process.env.TOLLGATE_TEST_LOG) console.log(line);
    },
    ...opts,
  });
  const config = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const clients = {
    cognito: new CognitoIdentityProviderClient({ ...config, endpoint: stack.endpoints.cognito }),
    sfn: new SFNClient({ ...config, endpoint: stack.endpoints.stepfunctions }),
    dynamodb: new DynamoDBClient({ ...config, endpoint: stack.endpoints.dynamodb }),
    apigateway: new APIGatewayClient({ ...config, endpoint: stack.endpoints.apigateway }),
    lambda: new LambdaClient({ ...config, endpoint: stack.endpoints.lambda }),
  };
  return {
    stack,
    dir,
    clients,
    close: async () => {
      for (const client of Object.values(clients)) client.destroy();
      await stack.close();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Invokes a template function by logical id through the offline Lambda Invoke API, as a schedule or `aws lambda invoke`
 * would, and answers its JSON payload. Throws with the payload when the function failed (FunctionError).
 */
export async function invokeFunction<T = unknown>(t: TestStack, logicalId: string, payload: unknown = {}): Promise<T> {
  const fn = t.stack.model.functions.find((f) => f.logicalId === logicalId);
  if (!fn) throw new Error(`no ${logicalId} in the template`);
  const out = await t.clients.lambda.send(new InvokeCommand({ FunctionName: fn.name, Payload: Buffer.from(JSON.stringify(payload)) }));
  const answer = JSON.parse(Buffer.from(out.Payload ?? new Uint8Array()).toString('utf8')) as T;
  if (out.FunctionError) throw new Error(`${logicalId} failed: ${JSON.stringify(answer)}`);
  return answer;
}

export const PASSWORD = 'Correct-Horse-42';

export function uniqueEmail(prefix = 'user'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}@example.com`;
}

/** Sign up (the public client's SignUp, email as username), not confirmed; returns the user's sub. */
export async function signUp(t: TestStack, email: string, password = PASSWORD): Promise<string> {
  const answer = await t.clients.cognito.send(
    new SignUpCommand({ ClientId: t.stack.userPoolClientId, Username: email, Password: password, UserAttributes: [{ Name: 'email', Value: email }] }),
  );
  return answer.UserSub as string;
}

/** Sign up and confirm with the code the local outbox received; returns the user's sub. */
export async function signUpAndConfirm(t: TestStack, email: string, password = PASSWORD): Promise<string> {
  const userId = await signUp(t, email, password);
  const code = t.stack.cognito.latestCode(email);
  if (!code) throw new Error(`no confirmation code reached the outbox for ${email}`);
  await t.clients.cognito.send(new ConfirmSignUpCommand({ ClientId: t.stack.userPoolClientId, Username: email, ConfirmationCode: code }));
  return userId;
}

export async function signIn(t: TestStack, email: string, password = PASSWORD): Promise<{ idToken: string; accessToken: string; refreshToken: string }> {
  const result = await t.clients.cognito.send(
    new InitiateAuthCommand({ ClientId: t.stack.userPoolClientId, AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: email, PASSWORD: password } }),
  );
  const auth = result.AuthenticationResult;
  if (!auth?.IdToken || !auth.AccessToken || !auth.RefreshToken) throw new Error('sign-in returned no tokens');
  return { idToken: auth.IdToken, accessToken: auth.AccessToken, refreshToken: auth.RefreshToken };
}

/**
 * A role's policies without the statements that grant `action` (for `t.stack.iam.setPolicies`): a deploy mistake, e.g.
 * the PostConfirmation function without `states:StartExecution`, made on purpose; `t.stack.iam.resetPolicies` undoes it.
 */
export function withoutAction(policies: readonly AttachedPolicy[], action: string): AttachedPolicy[] {
  return policies.map((policy) => {
    const statements = policy.document.Statement;
    if (!Array.isArray(statements)) return policy;
    return { ...policy, document: { ...policy.document, Statement: statements.filter((s) => ![s.Action].flat().includes(action)) } };
  });
}

export function onboardingArn(t: TestStack, userId: string): string {
  const machine = t.stack.model.stateMachines.find((m) => m.logicalId === 'OnboardingStateMachine');
  if (!machine) throw new Error('no onboarding state machine');
  return machine.arn.replace(':stateMachine:', ':execution:') + `:onboard-${userId}`;
}

/**
 * The failures in an execution's history (Tasks, Lambda calls or Map iterations that failed or timed out), as
 * `; N failures, last: <event type> <error>: <cause>` (and the first, when it differs): a workflow that catches
 * errors and ends in its own Fail state names only that state, and the cause is what a failing test needs to show.
 * Empty when there is none.
 */
async function failuresOf(t: TestStack, executionArn: string): Promise<string> {
  const events = await executionHistory(t, executionArn).catch(() => []);
  const failures = events
    .filter((e) => /Failed|TimedOut/.test(String(e.type)) && e.type !== 'ExecutionFailed')
    .map((e) => {
      const details = Object.entries(e).find(([k, v]) => k.endsWith('EventDetails') && v && typeof v === 'object')?.[1] as { error?: string; cause?: string } | undefined;
      return `${String(e.type)} ${details?.error ?? ''}: ${(details?.cause ?? '').slice(0, 300)}`;
    });
  if (failures.length === 0) return '';
  const [first, last] = [failures[0]!, failures[failures.length - 1]!];
  return `; ${failures.length} failures, last: ${last}${first === last ? '' : `; first: ${first}`}`;
}

/** How an execution can close (DescribeExecution `status`). */
export type ClosedStatus = 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

/**
 * Polls DescribeExecution (every 20 ms) until the execution closes, and returns it. Fails fast: as soon as the
 * execution closes with a status the caller did not ask for — by default anything but SUCCEEDED — it throws with the
 * execution's status, error and cause, rather than returning it for a later assertion (or waiting for a timeout).
 * `options`: the timeout in ms (default 15,000), or `{ timeoutMs, expect, startedWithinMs }` where `expect` is the
 * closed statuses the caller wants to see (e.g. `['FAILED']`, or `['SUCCEEDED', 'FAILED']`) and `startedWithinMs`
 * how long an execution that does not exist yet may take to appear (default: the whole timeout). Callers whose
 * execution is started by a call that has already returned (a Cognito trigger runs before its API call answers) set it
 * short, so a start that never happened fails in seconds, not at the timeout. Throws also when it is still RUNNING (or
 * not started) after the timeout.
 */
export async function waitForExecution(
  t: TestStack,
  executionArn: string,
  options: number | { timeoutMs?: number; expect?: readonly ClosedStatus[]; startedWithinMs?: number } = {},
): Promise<DescribeExecutionCommandOutput> {
  const { timeoutMs = 15_000, expect = ['SUCCEEDED'], startedWithinMs = timeoutMs } = typeof options === 'number' ? { timeoutMs: options } : options;
  const deadline = Date.now() + timeoutMs;
  const startDeadline = Date.now() + Math.min(startedWithinMs, timeoutMs);
  for (;;) {
    const described = await t.clients.sfn.send(new DescribeExecutionCommand({ executionArn })).catch((error: Error) => {
      if (error.name === 'ExecutionDoesNotExist') return undefined;
      throw error;
    });
    if (described && described.status !== 'RUNNING') {
      if ((expect as readonly string[]).includes(described.status as string)) return described;
      throw new Error(
        `execution ${executionArn} ended ${described.status} (expected ${expect.join(' or ')}): ${described.error ?? ''}: ${described.cause ?? ''}${await failuresOf(t, executionArn)}`,
      );
    }
    if (!described && Date.now() > startDeadline) throw new Error(`execution ${executionArn} not started after ${Math.min(startedWithinMs, timeoutMs)} ms`);
    if (Date.now() > deadline) throw new Error(`execution ${executionArn} still ${described?.status ?? 'not started'} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export { claimsOf, executionHistory } from './clients.ts';

export interface Customer {
  email: string;
  userId: string;
  idToken: string;
  keyId: string;
  keyValue: string;
}

/**
 * How long an onboarding may take to appear once the call that starts it (ConfirmSignUp, or the first sign-in of an
 * invited user) has answered: Cognito runs PostConfirmation / PostAuthentication before answering, and the trigger
 * starts the execution before it returns, so it exists already unless the trigger failed. The margin is for a loaded
 * machine only.
 */
export const ONBOARDING_STARTED_WITHIN_MS = 5_000;

/**
 * Sign up and confirm `email` (with `password`), then wait for its onboarding workflow: answers the user's sub and the
 * closed execution (its `output` names the account and key). The one setup every suite with an onboarded user shares.
 * Throws when onboarding did not start (within ONBOARDING_STARTED_WITHIN_MS) or did not succeed within `timeoutMs`
 * (default 30,000), with the execution's error and cause.
 */
export async function signUpAndOnboard(
  t: TestStack,
  email: string,
  { password = PASSWORD, timeoutMs = 30_000 }: { password?: string; timeoutMs?: number } = {},
): Promise<{ userId: string; execution: DescribeExecutionCommandOutput }> {
  const userId = await signUpAndConfirm(t, email, password);
  const execution = await waitForExecution(t, onboardingArn(t, userId), { timeoutMs, startedWithinMs: ONBOARDING_STARTED_WITHIN_MS });
  return { userId, execution };
}

/**
 * Sign up, confirm, wait for onboarding to finish, sign in (the ID token then carries custom:apiid), and get the key
 * value the stack's KeyMode gives the customer: KeyMode ApiGateway reads the key onboarding made (GetApiKey with
 * includeValue); SelfIssued has no value until the customer's first `POST /me/api-key/rotate` (shown once), so it
 * rotates from the key slot onboarding made and signs in again (the new token's custom:apiid names the new key).
 * Throws as signUpAndOnboard does, and when the ID token names no key or the first rotation fails.
 */
export async function onboardCustomer(t: TestStack, prefix: string): Promise<Customer> {
  const email = uniqueEmail(prefix);
  const { userId } = await signUpAndOnboard(t, email);
  const { idToken } = await signIn(t, email);
  const keyId = claimsOf(idToken)['custom:apiid'];
  if (typeof keyId !== 'string' || keyId === '') throw new Error(`the ID token of ${email} carries no custom:apiid`);
  if (keyModeOf(t) === 'SelfIssued') {
    const issued = await issueFirstSelfIssuedKey(t, idToken, keyId);
    return { email, userId, idToken: (await signIn(t, email)).idToken, keyId: issued.id, keyValue: issued.value };
  }
  const key = await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: keyId, includeValue: true }));
  return { email, userId, idToken, keyId, keyValue: key.value as string };
}
