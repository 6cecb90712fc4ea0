import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Context, PostAuthenticationTriggerEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import { requireEnv } from '#shared/env';
import { withLambda } from '#shared/lambda';
import { readAccountState } from '#shared/tables/accounts';
import { onboardingInput, startExecution, type OnboardingInput } from '#shared/workflows';
import { DEADLINE_MS, TIMEOUT_MARGIN_MS, ensureOnboardingWithin, ensureOnboarding as ensureOnboardingWith, type OnboardingDeps } from './domain.ts';

/**
 * Cognito PostAuthentication trigger: parses the event and runs ./domain.ts (onboard, at sign-in, users whose account
 * is not ACTIVE yet) under its deadline. Cognito waits at most 5 s and the function's Timeout is 4 s, so the SDK calls
 * have short timeouts and two attempts each.
 */

const stateMachineArn = requireEnv('ONBOARDING_STATE_MACHINE_ARN');
const accountsTable = requireEnv('ACCOUNTS_TABLE');
const dynamodb = new DynamoDBClient({
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 300, requestTimeout: 500 },
});
const sfn = new SFNClient({
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 500, requestTimeout: 1_000 },
});

const deps: OnboardingDeps = {
  readAccount: (userId, abortSignal) => readAccountState(dynamodb, accountsTable, userId, abortSignal),
  start: (name, input, abortSignal) => startExecution(sfn, { stateMachineArn, name, input }, abortSignal),
};

/** ./domain.ts's ensureOnboarding with this function's clients. */
export const ensureOnboarding = (input: OnboardingInput, abortSignal?: AbortSignal) => ensureOnboardingWith(deps, input, abortSignal);

const eventSchema = z.looseObject({
  triggerSource: z.literal('PostAuthentication_Authentication'),
  userName: z.string().check(z.minLength(1)),
  request: z.looseObject({
    userAttributes: z.looseObject({
      sub: z.string().check(z.minLength(1)),
      email: z.string().check(z.minLength(1)),
    }),
  }),
});

/** The onboarding input from the event; throws (failing the sign-in loudly) for an event that is not one. */
export function onboardingInputFrom(event: PostAuthenticationTriggerEvent): OnboardingInput {
  const parsed = eventSchema.safeParse(event);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => issue.path.map(String).join('.') || '(event)').join(', ');
    throw new Error(`Malformed PostAuthentication event: ${fields}`);
  }
  const { userName, request } = parsed.data;
  return onboardingInput(request.userAttributes.sub, request.userAttributes.email, userName);
}

export async function handlePostAuthentication(
  event: PostAuthenticationTriggerEvent,
  context: Context,
): Promise<PostAuthenticationTriggerEvent> {
  const input = onboardingInputFrom(event);
  await ensureOnboardingWithin(deps, input, Math.min(DEADLINE_MS, context.getRemainingTimeInMillis() - TIMEOUT_MARGIN_MS));
  return event;
}

export const handler = withLambda(handlePostAuthentication, (event) => {
  const sub = (event as Partial<PostAuthenticationTriggerEvent> | null)?.request?.userAttributes?.sub;
  return typeof sub === 'string' ? sub : undefined;
});
