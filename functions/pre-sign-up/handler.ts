import type { PreSignUpTriggerEvent } from 'aws-lambda';
import { withLambda } from '#shared/lambda';
import { logger } from '#shared/logger';

/**
 * Cognito PreSignUp trigger (deployed only when AutoConfirmSignUp is true, for test pools): confirms the user and
 * marks the email verified, so sign-up needs no emailed code. Without an email attribute it changes nothing.
 */
export async function preSignUp(event: PreSignUpTriggerEvent): Promise<PreSignUpTriggerEvent> {
  const email = event.request.userAttributes?.email;
  const autoConfirm = typeof email === 'string' && email !== '';
  if (autoConfirm) {
    event.response.autoConfirmUser = true;
    event.response.autoVerifyEmail = true;
  }
  logger.info('Pre sign-up', { triggerSource: event.triggerSource, autoConfirmed: autoConfirm });
  return event;
}

export const handler = withLambda(preSignUp);
