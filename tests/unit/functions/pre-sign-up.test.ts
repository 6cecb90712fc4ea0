import './env.ts';
import type { PreSignUpTriggerEvent } from 'aws-lambda';
import { logger } from '#shared/logger';
import { handler, preSignUp } from '../../../functions/pre-sign-up/handler.ts';
import { EMAIL, captureOutput, context, loadEvent } from './helpers.ts';

describe('PreSignUp trigger', () => {
  it('auto-confirms the user and verifies the email, returning the event', async () => {
    const event = loadEvent<PreSignUpTriggerEvent>('pre-sign-up');

    const result = await handler(event, context);

    expect(result).toBe(event);
    expect(result.response).toEqual({ autoConfirmUser: true, autoVerifyEmail: true, autoVerifyPhone: false });
    expect(result.request.userAttributes.email).toBe(EMAIL);
  });

  it('changes nothing when there is no email attribute', async () => {
    const event = loadEvent<PreSignUpTriggerEvent>('pre-sign-up');
    event.request.userAttributes = { phone_number: '+15555550100' };

    const result = await preSignUp(event);

    expect(result.response).toEqual({ autoConfirmUser: false, autoVerifyEmail: false, autoVerifyPhone: false });
  });

  it('changes nothing when the email attribute is empty', async () => {
    const event = loadEvent<PreSignUpTriggerEvent>('pre-sign-up');
    event.request.userAttributes = { email: '' };

    const result = await preSignUp(event);

    expect(result.response.autoConfirmUser).toBe(false);
  });

  it('logs the decision without the email address', async () => {
    logger.setLogLevel('INFO');
    const event = loadEvent<PreSignUpTriggerEvent>('pre-sign-up');

    const output = await captureOutput(() => handler(event, context));
    logger.setLogLevel('SILENT');

    expect(output).toContain('"autoConfirmed":true');
    expect(output).toContain('PreSignUp_SignUp');
    expect(output).not.toContain(EMAIL);
  });
});
