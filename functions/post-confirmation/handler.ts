import { IdempotencyAlreadyInProgressError, IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { AdminUserGlobalSignOutCommand, CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Context, PostConfirmationTriggerEvent } from 'aws-lambda';
import { isUserNotFound, unless } from '#shared/aws-errors';
import { requireEnv } from '#shared/env';
import { withLambda } from '#shared/lambda';
import { logger } from '#shared/logger';
import { onboardingExecutionName, onboardingInput, startExecution, type OnboardingInput } from '#shared/workflows';

/**
 * Cognito waits at most 5 s for a trigger. Worst case here: two idempotency writes (2 attempts x 500 ms each)
 * plus StartExecution (2 attempts x 1 s) stays under 4.5 s; the function's Timeout (4 s) is the hard stop.
 */
const stateMachineArn = requireEnv('ONBOARDING_STATE_MACHINE_ARN');
const sfn = new SFNClient({
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 500, requestTimeout: 1_000 },
});
const cognito = new CognitoIdentityProviderClient({
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 500, requestTimeout: 1_000 },
});
const persistenceStore = new DynamoDBPersistenceLayer({
  tableName: requireEnv('IDEMPOTENCY_TABLE'),
  awsSdkV3Client: new DynamoDBClient({
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 300, requestTimeout: 500 },
  }),
});
const idempotencyConfig = new IdempotencyConfig({
  eventKeyJmesPath: 'userId',
  expiresAfterSeconds: 24 * 60 * 60,
  throwOnNoIdempotencyKey: true,
});

export interface OnboardingStart {
  executionName: string;
  started: boolean;
}

/** Starts the onboarding workflow once per user. An execution that already exists counts as success. */
export async function startOnboarding(input: OnboardingInput): Promise<OnboardingStart> {
  const executionName = onboardingExecutionName(input.userId);
  // The input is deterministic (no timestamps): the same name and input while running is the same execution.
  const started = await startExecution(sfn, { stateMachineArn, name: executionName, input });
  logger.info(started ? 'Onboarding started' : 'Onboarding already started', { executionName });
  return { executionName, started };
}

export const startOnboardingOnce = makeIdempotent(startOnboarding, { persistenceStore, config: idempotencyConfig });

export function onboardingInputFrom(event: PostConfirmationTriggerEvent): OnboardingInput | undefined {
  const userId = event.request.userAttributes.sub;
  const email = event.request.userAttributes.email;
  if (!userId || !email) return undefined;
  return onboardingInput(userId, email, event.userName);
}

/**
 * A password reset ends every earlier session: AdminUserGlobalSignOut revokes the user's refresh and access tokens
 * issued before it (ID tokens run out on their own, at most IdTokenValidity later). PostConfirmation fires with
 * `PostConfirmation_ConfirmForgotPassword` after ConfirmForgotPassword has saved the new password
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-post-confirmation.html). A user deleted
 * meanwhile has no sessions left: UserNotFoundException is success. Any other error is thrown, so Cognito reports it
 * and retries the trigger (sign-out is idempotent).
 */
export async function endEarlierSessions(userPoolId: string, username: string): Promise<void> {
  const signOut = cognito.send(new AdminUserGlobalSignOutCommand({ UserPoolId: userPoolId, Username: username }));
  if (await unless(isUserNotFound, false, signOut.then(() => true))) logger.info('Password reset: every earlier session signed out');
}

export async function handlePostConfirmation(
  event: PostConfirmationTriggerEvent,
  context: Context,
): Promise<PostConfirmationTriggerEvent> {
  if (event.triggerSource === 'PostConfirmation_ConfirmForgotPassword') {
    // That user is onboarded already; the reset must not leave a stolen session alive.
    await endEarlierSessions(event.userPoolId, event.userName);
    return event;
  }
  // The type knows only these two sources; anything else (a future one) starts nothing.
  const source: string = event.triggerSource;
  if (source !== 'PostConfirmation_ConfirmSignUp') {
    logger.info('Not a sign-up confirmation; nothing to do', { triggerSource: source });
    return event;
  }
  const input = onboardingInputFrom(event);
  if (!input) {
    // Cannot happen for a pool whose username is the email; refuse loudly rather than onboard half a user.
    throw new Error('PostConfirmation event has no sub or email attribute');
  }
  idempotencyConfig.registerLambdaContext(context);
  try {
    await startOnboardingOnce(input);
  } catch (error: unknown) {
    // A concurrent delivery of the same confirmation is starting this very execution.
    if (error instanceof IdempotencyAlreadyInProgressError) {
      logger.info('Concurrent delivery; onboarding is being started by another invocation');
      return event;
    }
    // Throwing makes Cognito report the failure and retry the trigger; execution naming keeps retries safe.
    logger.error('Could not start onboarding', { error: error instanceof Error ? error : String(error) });
    throw error;
  }
  return event;
}

export const handler = withLambda(handlePostConfirmation, (event) => event.request.userAttributes.sub);
