import { cognitoTriggerOf, errorName, isCognitoRateLimit, isCognitoTriggerFailure, isNetworkError } from '#shared/aws-errors';
import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  HttpError,
  InternalError,
  ServiceUnavailableError,
  TooManyRequestsError,
  UnauthorizedError,
} from '#shared/errors';
import { isCannotConfirm } from '#shared/cognito-messages';
import { logger } from '#shared/logger';

/**
 * Cognito's errors as the REST auth endpoints answer them: one place, per operation. Nothing here reveals whether an
 * email is registered (the pool has PreventUserExistenceErrors; an unknown user gets the same answer as a wrong
 * password or code) beyond what Cognito answers any caller of the pool's public client (SignUp's UsernameExistsException;
 * "already confirmed" from ConfirmSignUp and ResendConfirmationCode), and nothing a caller sent in confidence (password, code, token) or the client secret reaches a
 * response or a log line.
 */
export type AuthOperation =
  | 'signUp'
  | 'confirm'
  | 'signIn'
  /** RespondToAuthChallenge NEW_PASSWORD_REQUIRED: an invited user's first sign-in. */
  | 'newPassword'
  | 'refresh'
  | 'signOut'
  | 'forgotPassword'
  | 'resetPassword';

export interface FieldIssue {
  field: string;
  message: string;
}

const issues = (field: string, message: string): { issues: FieldIssue[] } => ({ issues: [{ field, message }] });

/** The answers themselves, so tests and handlers name them instead of repeating strings. */
export const authErrors = {
  badCredentials: () => new UnauthorizedError('Incorrect email or password', 'NotAuthorized'),
  invalidRefreshToken: () =>
    new UnauthorizedError('The refresh token is invalid, expired or revoked, or was not issued to this username', 'NotAuthorized'),
  invalidSignOutToken: () => new UnauthorizedError('The refresh token is invalid, expired or already revoked', 'NotAuthorized'),
  codeMismatch: () => new BadRequestError('Invalid verification code', issues('code', 'Is not the code that was sent'), 'CodeMismatch'),
  alreadyConfirmed: () =>
    new ConflictError('This email address is already confirmed: sign in with POST /auth/sign-in', issues('email', 'Is already confirmed'), 'AlreadyConfirmed'),
  // No Retry-After: repeating the confirmation is not the way on (it answers alreadyConfirmed); signing in is.
  accountSetupPending: () =>
    new ServiceUnavailableError(
      'Your email address is confirmed, but your account could not be set up yet: sign in with POST /auth/sign-in to finish',
      undefined,
      'AccountSetupPending',
    ),
  // PostConfirmation_ConfirmForgotPassword failed after Cognito saved the new password: earlier sessions may live on.
  passwordResetIncomplete: () =>
    new ServiceUnavailableError(
      'Your new password is set, but your other sessions could not be signed out: sign in with the new password, and reset it again to sign them out',
      undefined,
      'PasswordResetIncomplete',
    ),
  expiredCode: () =>
    new BadRequestError('The verification code has expired: request a new one', issues('code', 'Has expired'), 'ExpiredCode'),
  usernameExists: () =>
    new ConflictError('An account with this email already exists', issues('email', 'Is already registered'), 'UsernameExists'),
  userNotConfirmed: () =>
    new ForbiddenError('The email address is not confirmed yet: confirm it with the emailed code (POST /auth/confirm)', 'UserNotConfirmed'),
  passwordResetRequired: () =>
    new ForbiddenError('A password reset is required: POST /auth/forgot-password, then /auth/reset-password', 'PasswordResetRequired'),
  signUpDisabled: () =>
    new ForbiddenError('Self sign-up is disabled for this service: ask an administrator for an invitation', 'SignUpDisabled'),
  newPasswordRequired: () =>
    new ForbiddenError(
      'A new password is required (first sign-in with a temporary password): sign in again with "newPassword"',
      'NewPasswordRequired',
      issues('newPassword', 'Is required for this sign-in'),
    ),
  unsupportedChallenge: (challenge: string) =>
    new ForbiddenError('This sign-in needs a step these endpoints do not support', 'ChallengeNotSupported', { challenge }),
  tooManyRequests: () => new TooManyRequestsError('Too many attempts: wait a little and try again'),
  // No Retry-After: Cognito names no wait, and the client's own retry policy decides.
  unavailable: () => new ServiceUnavailableError('Authentication is temporarily unavailable: try again shortly'),
  internal: () => new InternalError(),
};

export interface CognitoFailure {
  name: string;
  message: string;
  /** HTTP status Cognito answered with, when it answered. */
  httpStatus?: number;
  server: boolean;
}

export function describeFailure(error: unknown): CognitoFailure {
  if (!(error instanceof Error)) return { name: 'UnknownError', message: String(error), server: false };
  const meta = error as Error & { $fault?: string; $metadata?: { httpStatusCode?: number } };
  // Node's socket errors are plain Errors with a code (ECONNREFUSED…); the SDK's own carry a name.
  const name = errorName(error);
  const httpStatus = meta.$metadata?.httpStatusCode;
  return {
    name,
    message: error.message,
    ...(httpStatus !== undefined ? { httpStatus } : {}),
    server: meta.$fault === 'server' || (httpStatus !== undefined && httpStatus >= 500),
  };
}

/**
 * Cognito's message with every confidential value the request carried blanked out, and anything shaped like a token
 * (JWT / JWE) or a SECRET_HASH (base64 of 32 bytes).
 */
export function redact(text: string, confidential: readonly string[]): string {
  let out = text;
  for (const value of confidential) {
    if (value.length >= 4) out = out.split(value).join('[redacted]');
  }
  return out
    .replace(/[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}(\.[A-Za-z0-9_-]*){1,3}/g, '[token]')
    .replace(/[A-Za-z0-9+/]{43}=/g, '[hash]');
}

/** Which request field an InvalidParameterException is about, from Cognito's message. */
function parameterField(operation: AuthOperation, message: string): string {
  if (/password/i.test(message)) return operation === 'newPassword' ? 'newPassword' : 'password';
  if (/code/i.test(message)) return 'code';
  if (/refresh|token/i.test(message)) return 'refreshToken';
  if (/user ?name|email|alias/i.test(message)) return operation === 'refresh' ? 'username' : 'email';
  return 'body';
}

/** Cognito's wordings of a policy refusal: SignUp "did not conform with policy:", reset and change "does not conform to policy:". */
const POLICY_PREFIX = /^Password (?:did not conform with|does not conform to) (?:password )?policy:\s*/i;

function invalidPassword(operation: AuthOperation, message: string, confidential: readonly string[]): HttpError {
  const field = operation === 'newPassword' ? 'newPassword' : 'password';
  // Cognito's policy text ("Password must have uppercase characters") helps the user; anything else stays generic.
  const rule = POLICY_PREFIX.test(message) && redact(message, confidential) === message ? message.replace(POLICY_PREFIX, '') : '';
  const why = rule !== '' ? rule.replace(/\.$/, '') : 'Does not meet the password policy';
  return new BadRequestError(`Invalid ${field}: ${why}`, issues(field, why), 'InvalidPassword');
}

function clientError(operation: AuthOperation, failure: CognitoFailure, confidential: readonly string[]): HttpError {
  switch (failure.name) {
    case 'UsernameExistsException':
    case 'AliasExistsException':
      return authErrors.usernameExists();
    case 'UserNotFoundException':
    case 'NotAuthorizedException':
      switch (operation) {
        case 'signIn':
        case 'newPassword':
          return authErrors.badCredentials();
        case 'refresh':
          return authErrors.invalidRefreshToken();
        case 'signOut':
          return authErrors.invalidSignOutToken();
        // A confirmed user: Cognito says so to anyone (ConfirmSignUp, ResendConfirmationCode), and the way on is to sign in.
        case 'confirm':
          return isCannotConfirm(failure.message) ? authErrors.alreadyConfirmed() : authErrors.codeMismatch();
        // Unknown user or not resettable: both look like a wrong code (no existence oracle).
        case 'resetPassword':
          return authErrors.codeMismatch();
        case 'signUp':
          // SignUp on a pool with AllowAdminCreateUserOnly: "SignUp is not permitted for this user pool".
          return failure.name === 'NotAuthorizedException' ? authErrors.signUpDisabled() : authErrors.internal();
        case 'forgotPassword':
          return authErrors.badCredentials(); // never shown: forgot-password answers 202 for every client error
      }
      return authErrors.internal();
    case 'InvalidPasswordException':
      // Cognito checks the policy on new passwords only; on sign-in this is a wrong password (cognito-local's answer).
      return operation === 'signIn' ? authErrors.badCredentials() : invalidPassword(operation, failure.message, confidential);
    case 'CodeMismatchException':
      return authErrors.codeMismatch();
    case 'ExpiredCodeException':
      return authErrors.expiredCode();
    case 'UserNotConfirmedException':
      return authErrors.userNotConfirmed();
    case 'PasswordResetRequiredException':
      return authErrors.passwordResetRequired();
    case 'UnsupportedTokenTypeException':
      return authErrors.invalidSignOutToken();
    case 'InvalidParameterException': {
      const field = parameterField(operation, failure.message);
      return new BadRequestError(`Invalid ${field}`, issues(field, 'Was refused by the identity provider'), 'InvalidParameter');
    }
    default:
      return authErrors.internal();
  }
}

/**
 * Operations whose change Cognito saves before the PostConfirmation trigger runs, with the answer when that trigger
 * failed: the user is confirmed, and the first sign-in onboards them (PostAuthentication, for users without an ACTIVE
 * account); after a reset the new password is set, and only the sign-out of earlier sessions failed.
 */
const SAVED_BEFORE_POST_CONFIRMATION: Partial<Record<AuthOperation, () => HttpError>> = {
  confirm: authErrors.accountSetupPending,
  resetPassword: authErrors.passwordResetIncomplete,
};

/**
 * Maps anything a Cognito call threw to the HttpError the caller sees, and logs it (name, status and Cognito's
 * message with `confidential` values blanked): a warning for the caller's mistakes, an error for ours and Cognito's.
 */
export function cognitoError(operation: AuthOperation, error: unknown, confidential: readonly string[]): HttpError {
  const failure = describeFailure(error);
  let mapped: HttpError;
  const savedAnyway = cognitoTriggerOf(error) === 'PostConfirmation' ? SAVED_BEFORE_POST_CONFIRMATION[operation] : undefined;
  if (savedAnyway) mapped = savedAnyway();
  else if (isNetworkError(error) || failure.server || isCognitoTriggerFailure(error)) mapped = authErrors.unavailable();
  else if (isCognitoRateLimit(error)) mapped = authErrors.tooManyRequests();
  else mapped = clientError(operation, failure, confidential);

  const entry = {
    operation,
    error: failure.name,
    ...(failure.httpStatus !== undefined ? { cognitoStatus: failure.httpStatus } : {}),
    reason: redact(failure.message, confidential),
    statusCode: mapped.statusCode,
  };
  if (mapped.statusCode >= 500) logger.error('Cognito request failed', entry);
  else logger.warn('Cognito refused the request', entry);
  return mapped;
}

/** Errors forgot-password still reports: ours or Cognito's (5xx) and the service-wide rate limit, none per user. */
export function reportableOnForgotPassword(mapped: HttpError, error: unknown): boolean {
  return mapped.statusCode >= 500 || errorName(error) === 'TooManyRequestsException';
}
