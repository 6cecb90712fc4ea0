/**
 * Error names of the KeyRetirementFunction, as the key-retirement workflow's Retry/Catch see them (Step Functions'
 * lambda:invoke reports a function error under its `errorType`, the thrown error's `name`:
 * https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html).
 */

/** A malformed event: a bug in the workflow definition, never retried. */
export const INVALID_EVENT = 'KeyRetirement.InvalidEvent';
/** A retirement step failed (throttling, a network error, …): retried, every step is safe to repeat. */
export const NOT_RETIRED = 'KeyRetirement.NotRetired';
/** Every error name the function can end with (besides the Lambda runtime's own). */
export const KEY_RETIREMENT_FUNCTION_ERRORS: readonly string[] = [INVALID_EVENT, NOT_RETIRED];
