/**
 * Errors in words a person understands. Cognito's error types and the API's statuses map to sentences here, in one
 * place; nothing the user sees is a raw error name or a JSON body.
 */
import { ApiError } from './api.ts';
import { CognitoError, NetworkError } from './cognito.ts';
import { ConfigError } from './config.ts';
import { SessionExpiredError } from './session.ts';

/** What the user was doing: the same Cognito error reads differently in each. */
export type Action = 'signIn' | 'signUp' | 'confirm' | 'resend' | 'forgot' | 'reset' | 'changePassword' | 'changeEmail' | 'api';

const COGNITO: Record<string, string | Partial<Record<Action | 'default', string>>> = {
  UsernameExistsException: 'An account with this email already exists. Sign in instead, or reset your password if you have forgotten it.',
  AliasExistsException: 'An account with this email already exists. Sign in instead, or reset your password if you have forgotten it.',
  CodeMismatchException: 'That code is not right. Check the most recent message and type the code again.',
  ExpiredCodeException: 'That code has expired. Ask for a new one and use the most recent message.',
  // cognito-local answers a wrong password at sign-in with InvalidPasswordException (AWS: NotAuthorizedException).
  InvalidPasswordException: {
    signIn: 'Incorrect email or password.',
    // cognito-local also answers a wrong current password this way.
    changePassword: 'The current password is not right, or the new one does not follow the rules shown under it.',
    default: 'That password is not strong enough: follow the rules shown under it.',
  },
  UserNotConfirmedException: 'Your email address is not confirmed yet. Enter the code we sent you to finish signing up.',
  PasswordResetRequiredException: 'You need to choose a new password before you can sign in. Use "Forgot your password?".',
  LimitExceededException: 'Too many attempts in a short time. Wait a few minutes, then try again.',
  TooManyRequestsException: 'Too many attempts in a short time. Wait a few minutes, then try again.',
  TooManyFailedAttemptsException: 'Too many failed attempts. Wait a few minutes, then try again.',
  CodeDeliveryFailureException: 'We could not send the code to that address. Check the email address and try again.',
  InvalidParameterException: {
    signUp: 'Check your details: enter a valid email address and a password.',
    confirm: 'This account cannot be confirmed. It may be confirmed already: try signing in.',
    resend: 'This account is already confirmed. Sign in with your email and password, or reset your password if you have forgotten it.',
    default: 'Some of the details are not valid. Check them and try again.',
  },
  NotAuthorizedException: {
    signIn: 'Incorrect email or password.',
    confirm: 'This account is already confirmed. Sign in with your email and password.',
    resend: 'This account is already confirmed. Sign in with your email and password.',
    reset: 'The password could not be reset. Ask for a new code and try again.',
    changePassword: 'The current password is not right.',
    api: 'Your session has ended. Please sign in again.',
    default: 'That is not allowed. Sign in again and retry.',
  },
  UserNotFoundException: {
    signIn: 'Incorrect email or password.',
    forgot: 'We could not find an account with that email address.',
    reset: 'We could not find an account with that email address.',
    default: 'We could not find an account with that email address.',
  },
  InvalidUserPoolConfigurationException: 'Sign-in is not set up correctly for this portal. Please contact support.',
  ResourceNotFoundException: 'This portal is not connected to the right user pool (check config.json).',
  'Challenge:NEW_PASSWORD_REQUIRED': 'You need to choose a new password before you can sign in. Use "Forgot your password?".',
};

function cognitoMessage(error: CognitoError, action: Action): string {
  const entry = COGNITO[error.type];
  if (typeof entry === 'string') return entry;
  if (entry) return entry[action] ?? entry.default ?? genericMessage();
  if (error.type.startsWith('Challenge:')) return 'This account needs an extra sign-in step that the portal does not support yet. Please contact support.';
  return genericMessage();
}

function genericMessage(): string {
  return 'Something went wrong on our side. Please try again in a moment.';
}

/** The API's own sentence is shown when it is one (its 4xx bodies carry `{message}`); otherwise one by status. */
function apiMessage(error: ApiError): string {
  const said = error.message && !/^[{[]/.test(error.message.trim()) ? error.message : '';
  switch (error.status) {
    case 400:
      return said ? `The request was not accepted: ${said}` : 'The request was not accepted: some of its details are not valid.';
    case 401:
      return 'Your session has ended. Please sign in again.';
    case 403:
      return said && said !== 'Forbidden' ? `Access refused: ${said}` : 'Access refused: the API did not accept your sign-in or your API key.';
    case 404:
      return said ? `Not found: ${said}` : 'Not found.';
    case 409:
      return said ? `${said}.`.replace(/\.\.$/, '.') : 'That conflicts with a change already under way. Wait a moment and try again.';
    case 413:
      return 'The request is too large.';
    case 429:
      // The portal's own calls are account management, never metered: a 429 here is the stage throttle, not the quota.
      return 'Too many requests right now. Please wait a moment and try again.';
    default:
      return error.status >= 500 ? 'The service had a problem answering. Please try again in a moment.' : said || genericMessage();
  }
}

export function describeError(error: unknown, action: Action = 'api'): string {
  if (error instanceof CognitoError) return cognitoMessage(error, action);
  if (error instanceof ApiError) return apiMessage(error);
  if (error instanceof SessionExpiredError) return error.message;
  if (error instanceof ConfigError) return error.message;
  if (error instanceof NetworkError) {
    return error.service === 'cognito'
      ? 'We cannot reach the sign-in service right now. Check your connection and try again.'
      : 'We cannot reach the API right now. Check your connection and try again.';
  }
  return genericMessage();
}
