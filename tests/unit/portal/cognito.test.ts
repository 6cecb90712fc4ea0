/**
 * The portal's reading of a Cognito trigger failure (portal/src/cognito.ts failedTrigger): the trigger Cognito names,
 * so the confirm and reset forms know that PostConfirmation failed after the confirmation (or new password) was saved.
 */
import { CognitoError, failedTrigger } from '../../../portal/src/cognito.ts';

describe('failedTrigger', () => {
  it('names the trigger of a function error or an invoke that failed', () => {
    expect(failedTrigger(new CognitoError('UserLambdaValidationException', 'PostConfirmation failed with error boom.'))).toBe('PostConfirmation');
    expect(failedTrigger(new CognitoError('UnexpectedLambdaException', 'PostAuthentication invocation failed due to error Socket timeout while invoking Lambda function.'))).toBe(
      'PostAuthentication',
    );
  });

  it('is undefined for anything else', () => {
    expect(failedTrigger(new CognitoError('InvalidLambdaResponseException', 'Invalid lambda function output : Invalid JSON'))).toBeUndefined();
    expect(failedTrigger(new CognitoError('NotAuthorizedException', 'PostConfirmation failed with error boom.'))).toBeUndefined();
    expect(failedTrigger(new CognitoError('UserLambdaValidationException', 'Lambda threw an exception'))).toBeUndefined();
    expect(failedTrigger(new Error('PostConfirmation failed with error boom.'))).toBeUndefined();
  });
});
