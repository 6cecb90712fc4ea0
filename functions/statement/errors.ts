import { InvalidEventError, InvalidPeriodError, PeriodNotEndedError } from '#shared/errors';

/**
 * Error names the StatementFunction can end with, as the billing-close workflow's Retry/Catch see them. Step Functions'
 * lambda:invoke reports a function error under its `errorType`, which the Node.js runtime takes from the thrown error's
 * `name` (https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html,
 * https://docs.aws.amazon.com/lambda/latest/dg/nodejs-exceptions.html). Besides its own errors the function lets the
 * SDK's transient errors through unchanged, so those arrive under the SDK's exception names:
 * DynamoDB (Scan, BatchGetItem, PutItem): ProvisionedThroughputExceededException, ThrottlingException,
 * RequestLimitExceeded; API Gateway (GetUsage, GetUsagePlans): TooManyRequestsException.
 */
export const STATEMENT_FUNCTION_ERRORS: readonly string[] = [
  new InvalidPeriodError().name,
  new PeriodNotEndedError().name,
  new InvalidEventError().name,
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
];
