import { ACCOUNTS_TABLE, ONBOARDING_STATE_MACHINE_ARN as STATE_MACHINE_ARN } from './env.ts';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Context, PostAuthenticationTriggerEvent, PostConfirmationTriggerEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { createHash } from 'node:crypto';
import { logger } from '#shared/logger';
import { onboardingExecutionName } from '#shared/workflows';
import { DEADLINE_MS, redriveExecutionName } from '../../../functions/post-authentication/domain.ts';
import { EMAIL, SUB, captureOutput, context, loadEvent } from './helpers.ts';

import * as mod from '../../../functions/post-authentication/handler.ts';
import * as postConfirmation from '../../../functions/post-confirmation/handler.ts';

const ddb = mockClient(DynamoDBClient);
const sfn = mockClient(SFNClient);

const FAILED_AT = '2025-11-23T13:40:00.123Z';
/** The re-drive name, computed here independently: onboard-<sub>-<first 12 hex of sha256(updatedAt)>. */
const redriveName = (updatedAt: string): string => `onboard-${SUB}-${createHash('sha256').update(updatedAt).digest('hex').slice(0, 12)}`;
const INPUT = { userId: SUB, email: EMAIL, username: SUB };

const event = (): PostAuthenticationTriggerEvent => loadEvent<PostAuthenticationTriggerEvent>('post-authentication');

function givenAccount(item: Record<string, { S: string }> | undefined): void {
  ddb.on(GetItemCommand).resolves(item ? { Item: { userId: { S: SUB }, ...item } } : {});
}

const startCalls = () => sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input);

beforeEach(() => {
  ddb.reset();
  sfn.reset();
});

describe('post-authentication trigger', () => {
  it.each(['ACTIVE', 'ONBOARDING'])('returns the event untouched for an %s account after one consistent read', async (status) => {
    givenAccount({ status: { S: status }, updatedAt: { S: FAILED_AT } });
    const input = event();
    const before = JSON.stringify(input);

    const result = await mod.handler(input, context);

    expect(result).toBe(input);
    expect(JSON.stringify(result)).toBe(before);
    expect(ddb.commandCalls(GetItemCommand)).toHaveLength(1);
    expect(ddb).toHaveReceivedCommandWith(GetItemCommand, { TableName: ACCOUNTS_TABLE, Key: { userId: { S: SUB } }, ConsistentRead: true });
    expect(sfn.calls()).toHaveLength(0);
  });

  it("starts onboard-<sub> for a user without an account (an invited user's first sign-in)", async () => {
    givenAccount(undefined);
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
    const input = event();

    const result = await mod.handler(input, context);

    expect(result).toBe(input);
    expect(startCalls()).toEqual([{ stateMachineArn: STATE_MACHINE_ARN, name: `onboard-${SUB}`, input: JSON.stringify(INPUT) }]);
  });

  it('uses exactly the execution name and input PostConfirmation uses, so the two never both onboard', async () => {
    const confirmation = loadEvent<PostConfirmationTriggerEvent>('post-confirmation-sign-up');
    givenAccount(undefined);
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });

    await mod.handler(event(), context);

    const [started] = startCalls();
    expect(started?.name).toBe(onboardingExecutionName(SUB));
    expect(JSON.parse(started?.input ?? '')).toEqual(postConfirmation.onboardingInputFrom(confirmation));
    expect(mod.onboardingInputFrom(event())).toEqual(postConfirmation.onboardingInputFrom(confirmation));
  });

  it('treats ExecutionAlreadyExists as success', async () => {
    givenAccount(undefined);
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));
    const input = event();

    await expect(mod.handler(input, context)).resolves.toBe(input);
    await expect(mod.ensureOnboarding(INPUT)).resolves.toEqual({ action: 'start', executionName: `onboard-${SUB}`, started: false });
  });

  it('re-drives a FAILED onboarding under onboard-<sub>-<12 hex of sha256(updatedAt)>, with the same input', async () => {
    givenAccount({ status: { S: 'FAILED' }, updatedAt: { S: FAILED_AT }, failureReason: { S: 'ApiGateway.NotFoundException: x' } });
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });

    await mod.handler(event(), context);

    expect(startCalls()).toEqual([{ stateMachineArn: STATE_MACHINE_ARN, name: redriveName(FAILED_AT), input: JSON.stringify(INPUT) }]);
    expect(redriveExecutionName(SUB, FAILED_AT)).toBe(redriveName(FAILED_AT));
    expect(redriveName(FAILED_AT).length).toBeLessThanOrEqual(80); // Step Functions' limit on execution names
  });

  it('concurrent sign-ins after the same failure ask for one execution name; a later failure gets a new one', async () => {
    givenAccount({ status: { S: 'FAILED' }, updatedAt: { S: FAILED_AT } });
    // Step Functions: the first start wins, the same name again is ExecutionAlreadyExists once the first has closed.
    sfn
      .on(StartExecutionCommand)
      .resolvesOnce({ executionArn: 'arn:exec', startDate: new Date() })
      .rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));

    const results = await Promise.all([mod.handler(event(), context), mod.handler(event(), context), mod.handler(event(), context)]);

    expect(results).toHaveLength(3);
    expect(new Set(startCalls().map((c) => c.name))).toEqual(new Set([redriveName(FAILED_AT)]));

    const later = '2025-11-24T08:00:00.000Z';
    givenAccount({ status: { S: 'FAILED' }, updatedAt: { S: later } });
    await mod.handler(event(), context);
    expect(startCalls().at(-1)?.name).toBe(redriveName(later));
    expect(redriveName(later)).not.toBe(redriveName(FAILED_AT));
  });

  it('never fails the sign-in when onboarding cannot start: logs and returns the event', async () => {
    givenAccount(undefined);
    sfn.on(StartExecutionCommand).rejects(Object.assign(new Error('service unavailable'), { name: 'ServiceUnavailable' }));
    const input = event();

    logger.setLogLevel('DEBUG');
    const output = await captureOutput(async () => {
      await expect(mod.handler(input, context)).resolves.toBe(input);
    });
    logger.setLogLevel('SILENT');

    expect(output).toContain('Could not start onboarding');
    expect(output).toContain(`onboard-${SUB}`);
    expect(output).not.toContain(EMAIL);
  });

  it('starts the first onboarding anyway when the account cannot be read', async () => {
    ddb.on(GetItemCommand).rejects(Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' }));
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
    const input = event();

    await expect(mod.handler(input, context)).resolves.toBe(input);
    expect(startCalls().map((c) => c.name)).toEqual([`onboard-${SUB}`]);
  });

  it('returns the event when both the read and the start fail', async () => {
    ddb.on(GetItemCommand).rejects(new Error('down'));
    sfn.on(StartExecutionCommand).rejects(new Error('down too'));
    const input = event();

    await expect(mod.handler(input, context)).resolves.toBe(input);
  });

  it("answers within its deadline when a service hangs, well inside Cognito's 5 s", async () => {
    givenAccount(undefined);
    sfn.on(StartExecutionCommand).callsFake(() => new Promise(() => undefined));
    const input = event();
    const shortOnTime: Context = { ...context, getRemainingTimeInMillis: () => 650 };

    logger.setLogLevel('DEBUG');
    const started = Date.now();
    const output = await captureOutput(async () => {
      await expect(mod.handler(input, shortOnTime)).resolves.toBe(input);
    });
    logger.setLogLevel('SILENT');

    expect(Date.now() - started).toBeLessThan(1_000);
    expect(output).toContain('ran out of time');
    expect(DEADLINE_MS).toBeLessThanOrEqual(3_000);
  });

  it('leaves an account in any other state alone', async () => {
    givenAccount({ status: { S: 'SUSPENDED' } });

    await expect(mod.ensureOnboarding(INPUT)).resolves.toEqual({ action: 'none', status: 'SUSPENDED' });
    expect(sfn.calls()).toHaveLength(0);
  });

  it.each([
    ['no sub', (e: PostAuthenticationTriggerEvent) => delete (e.request.userAttributes as Record<string, string>).sub],
    ['no email', (e: PostAuthenticationTriggerEvent) => delete (e.request.userAttributes as Record<string, string>).email],
    ['no userName', (e: PostAuthenticationTriggerEvent) => delete (e as Partial<PostAuthenticationTriggerEvent>).userName],
    ['another trigger', (e: PostAuthenticationTriggerEvent) => Object.assign(e, { triggerSource: 'PostConfirmation_ConfirmSignUp' })],
    ['no request', (e: PostAuthenticationTriggerEvent) => delete (e as Partial<PostAuthenticationTriggerEvent>).request],
  ])('throws for a malformed event (%s), touching nothing', async (_case, spoil) => {
    const input = event();
    spoil(input);

    await expect(mod.handler(input, context)).rejects.toThrow(/Malformed PostAuthentication event/);
    expect(ddb.calls()).toHaveLength(0);
    expect(sfn.calls()).toHaveLength(0);
  });
});
