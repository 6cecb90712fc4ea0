/**
 * The one place that recognises AWS errors. Every check goes by the error's name, which is how the SDK v3 tells
 * services' errors apart (each modeled exception sets `name` to the error code the service answered with, e.g.
 * `ConditionalCheckFailedException`, `ExecutionAlreadyExists`; "Handling errors", AWS SDK for JavaScript v3 Developer
 * Guide, https://docs.aws.amazon.com/sdk-for-javascript/v3/developer-guide/handling-exceptions.html). A name check
 * also holds for an error that crossed a module boundary or was built by a test, where `instanceof` would not.
 */
import { triggerNamedIn } from './cognito-messages.ts';

/**
 * The name of a thrown value: an SDK error's `name`; for Node's socket errors (plain `Error`s with a `code`), the code
 * (`ECONNREFUSED`…); `typeof` for anything that is not an Error.
 */
export function errorName(error: unknown): string {
  if (!(error instanceof Error)) return typeof error;
  const code = (error as Error & { code?: unknown }).code;
  return error.name === 'Error' && typeof code === 'string' ? code : error.name;
}

/** Whether `error` is an AWS error of one of `names`. */
export function isAwsError(error: unknown, ...names: string[]): boolean {
  return error instanceof Error && names.includes(errorName(error));
}

/** DynamoDB: a conditional write whose condition did not hold. */
export const isConditionalCheckFailed = (error: unknown): boolean => isAwsError(error, 'ConditionalCheckFailedException');

/** A conditional DynamoDB write: true when `write` succeeded, false when its condition did not hold; other errors thrown. */
export const conditionHeld = (write: Promise<unknown>): Promise<boolean> =>
  unless(isConditionalCheckFailed, false, write.then(() => true));

/** API Gateway: the key, usage plan or usage plan key does not exist (or the key is in no such plan). */
export const isNotFound = (error: unknown): boolean => isAwsError(error, 'NotFoundException');

/** Cognito: no such user (deleted, or never was). */
export const isUserNotFound = (error: unknown): boolean => isAwsError(error, 'UserNotFoundException');

/**
 * Step Functions StartExecution: an execution of that name exists (closed, or running with another input). The same
 * name and input while it runs returns that execution instead
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
 */
export const isExecutionAlreadyExists = (error: unknown): boolean => isAwsError(error, 'ExecutionAlreadyExists');

/** Step Functions DescribeExecution: no execution of that ARN. */
export const isExecutionDoesNotExist = (error: unknown): boolean => isAwsError(error, 'ExecutionDoesNotExist');

/**
 * "Too many requests right now" or "briefly unavailable", whichever service threw it (API Gateway's management API:
 * TooManyRequestsException, 429; DynamoDB: ProvisionedThroughputExceededException, ThrottlingException,
 * RequestLimitExceeded; Cognito: TooManyRequestsException). Such an error reaches a client as a 503 with Retry-After,
 * never as a 500.
 */
const THROTTLING = [
  'TooManyRequestsException',
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'ServiceUnavailableException',
  'ServiceUnavailable',
];

export const isThrottling = (error: unknown): boolean => isAwsError(error, ...THROTTLING);

/** Throttling, or API Gateway's LimitExceededException, or Cognito's InternalErrorException: worth a retry later. */
export const isTransient = (error: unknown): boolean =>
  isThrottling(error) || isAwsError(error, 'LimitExceededException', 'InternalErrorException');

/** Retry-After for a 503 that names none: one second. */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

/** Seconds the AWS error's `Retry-After` asked for (API Gateway binds it to `retryAfterSeconds`), else the default. */
export function retryAfterOf(error: unknown): number {
  const raw = (error as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  const seconds = typeof raw === 'string' || typeof raw === 'number' ? Number(raw) : Number.NaN;
  return Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : DEFAULT_RETRY_AFTER_SECONDS;
}

/** Cognito's per-user and per-client rate limits (answered 429 by the auth routes, not 503). */
export const isCognitoRateLimit = (error: unknown): boolean =>
  isAwsError(error, 'LimitExceededException', 'TooManyRequestsException', 'TooManyFailedAttemptsException');

/** Cognito could not run a trigger: a transient backend failure as far as the caller is concerned. */
export const isCognitoTriggerFailure = (error: unknown): boolean =>
  isAwsError(error, 'UserLambdaValidationException', 'UnexpectedLambdaException', 'InvalidLambdaResponseException');

/**
 * The trigger a Cognito trigger failure names (`PostConfirmation`, `PostAuthentication`, `PreSignUp`…), or undefined:
 * Cognito names the trigger, not the function (./cognito-messages.ts). InvalidLambdaResponseException names none.
 */
export function cognitoTriggerOf(error: unknown): string | undefined {
  return isCognitoTriggerFailure(error) ? triggerNamedIn((error as Error).message) : undefined;
}

/** The SDK's and Node's names for a request that never got an answer (timeouts, refused or reset connections). */
export const isNetworkError = (error: unknown): boolean =>
  isAwsError(
    error,
    'TimeoutError',
    'RequestTimeout',
    'RequestTimeoutException',
    'AbortError',
    'NetworkingError',
    'ECONNREFUSED',
    'ECONNRESET',
    'ETIMEDOUT',
    'EPIPE',
    'ENOTFOUND',
    'EAI_AGAIN',
  );

/** Awaits `call`; an error `expected` recognises becomes `fallback` (e.g. a key already gone counts as deleted). */
export async function unless<T, F>(expected: (error: unknown) => boolean, fallback: F, call: Promise<T>): Promise<T | F> {
  try {
    return await call;
  } catch (error: unknown) {
    if (expected(error)) return fallback;
    throw error;
  }
}
