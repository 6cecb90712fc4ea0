/**
 * Cognito's wording of the answers Tollgate tells apart by message, in one place: the offline Cognito
 * (local/cognito.ts) answers with these, and AuthFunction (functions/auth/cognito-errors.ts, through
 * ./aws-errors.ts) and the developer portal (portal/src/cognito.ts) read them. No Node imports: the portal is a
 * browser bundle. Observed answers — the API reference lists only the exception names (e.g. API_ConfirmSignUp.html,
 * "Errors").
 *
 * A trigger's function failing (the trigger is named, never the function):
 * - the function returned an error: UserLambdaValidationException `<Trigger> failed with error <its errorMessage>.`
 *   ("PostConfirmation failed with error callback is not a function. (… Status Code: 400; Error Code:
 *   UserLambdaValidationException", github.com/dabit3/full-stack-serverless-code/issues/108; "DefineAuthChallenge
 *   failed with error …", github.com/aws-amplify/amplify-js/issues/9127);
 * - Cognito could not invoke it (no permission, socket timeout): UnexpectedLambdaException `<Trigger> invocation
 *   failed due to error <cause>.` ("PreSignUp invocation failed due to error AccessDeniedException." — "The trigger
 *   type is mentioned in the error message", repost.aws/knowledge-center/cognito-lambda-trigger-errors; "PostAuthentication
 *   invocation failed due to error Socket timeout while invoking Lambda function.",
 *   github.com/furaiev/amazon-cognito-identity-dart-2/issues/204);
 * - its output is not JSON: InvalidLambdaResponseException "Invalid lambda function output : Invalid JSON"
 *   (github.com/aws-amplify/amplify-cli/issues/2735); no trigger named.
 *
 * ConfirmSignUp for a user who is not UNCONFIRMED: NotAuthorizedException "User cannot be confirmed. Current status is
 * CONFIRMED" (github.com/furaiev/amazon-cognito-identity-dart-2/issues/80), formerly "User cannot confirm because user
 * status is not UNCONFIRMED." (github.com/keboola/developer-portal/issues/186).
 */
export const triggerMessages = {
  functionError: (trigger: string, errorMessage: string) => `${trigger} failed with error ${errorMessage}.`,
  invocationFailed: (trigger: string, cause: string) => `${trigger} invocation failed due to error ${cause}.`,
  invalidOutput: 'Invalid lambda function output : Invalid JSON',
  socketTimeout: 'Socket timeout while invoking Lambda function',
};

/** The trigger a trigger failure's message names (`PostConfirmation`, `PreSignUp`…), or undefined (none named). */
export function triggerNamedIn(message: string): string | undefined {
  return /^([A-Za-z]+) (?:failed with error|invocation failed due to error) /.exec(message)?.[1];
}

/** ConfirmSignUp's message for a user whose status is `status` (not UNCONFIRMED). */
export const cannotConfirm = (status: string): string => `User cannot be confirmed. Current status is ${status}`;

/** True for ConfirmSignUp's "not UNCONFIRMED" message, in its current and its former wording. */
export function isCannotConfirm(message: string): boolean {
  return /^User cannot (?:be confirmed|confirm because)/.test(message);
}
