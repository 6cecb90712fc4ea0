import * as apigateway from '@aws-sdk/client-api-gateway';
import { TaskError } from '#shared/errors';

/**
 * Error names of the ApiKeyFunction, as the workflows' Retry/Catch see them (Step Functions' lambda:invoke emits a
 * function error under its `errorType`, i.e. the thrown error's `name`:
 * https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html).
 *
 * An API Gateway error is named as Step Functions' own `aws-sdk:apigateway:*` integration names it, so the workflows
 * read the same whichever way a call is made: `ApiGateway.<Error>` with the `Exception` suffix for an error the API
 * Gateway model declares (`ApiGateway.TooManyRequestsException`, `ApiGateway.ConflictException`), `ApiGateway.
 * ApiGatewayException` for any other answer, `ApiGateway.SdkClientException` when no HTTP answer came back
 * (https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html, "Handling errors"). The
 * message carries the service's message and the request details, never a key value.
 */

export const API_GATEWAY_PREFIX = 'ApiGateway';

/** A malformed event: a bug in the workflow definition, never retried. */
export const INVALID_EVENT = 'ApiKey.InvalidEvent';
/** The account's usage history could not be read or written (DynamoDB): transient as a rule, retried by the workflow. */
export const USAGE_NOT_RECORDED = 'ApiKey.UsageNotRecorded';
/** A KeyOwners record could not be written (DynamoDB), or names another user: retried by the workflow. */
export const KEY_OWNER_NOT_RECORDED = 'ApiKey.KeyOwnerNotRecorded';

const withExceptionSuffix = (name: string): string => (name.endsWith('Exception') ? name : `${name}Exception`);

/** The errors the API Gateway model declares (the client's modeled exception classes). */
export const MODELED_API_GATEWAY_ERRORS: string[] = Object.entries(apigateway)
  .filter(([, v]) => typeof v === 'function' && v.prototype instanceof apigateway.APIGatewayServiceException)
  .map(([name]) => name)
  .sort();

/** Every error name the function can end with (besides the Lambda runtime's own, e.g. `Sandbox.Timedout`). */
export const API_KEY_FUNCTION_ERRORS: string[] = [
  ...MODELED_API_GATEWAY_ERRORS.map((e) => `${API_GATEWAY_PREFIX}.${withExceptionSuffix(e)}`),
  `${API_GATEWAY_PREFIX}.${API_GATEWAY_PREFIX}Exception`,
  `${API_GATEWAY_PREFIX}.SdkClientException`,
  INVALID_EVENT,
  USAGE_NOT_RECORDED,
  KEY_OWNER_NOT_RECORDED,
];

interface SdkErrorLike {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

/** The Step Functions–style error for an API Gateway SDK error (see the module comment). */
export function apiGatewayTaskError(error: unknown): TaskError {
  const e = error as SdkErrorLike;
  const message = e?.message ?? String(error);
  const status = e?.$metadata?.httpStatusCode;
  if (status === undefined) return new TaskError(`${API_GATEWAY_PREFIX}.SdkClientException`, message);
  const modeled = error instanceof apigateway.APIGatewayServiceException && e.name !== undefined && MODELED_API_GATEWAY_ERRORS.includes(e.name);
  const name = modeled ? `${API_GATEWAY_PREFIX}.${withExceptionSuffix(e.name!)}` : `${API_GATEWAY_PREFIX}.${API_GATEWAY_PREFIX}Exception`;
  return new TaskError(name, `${message} (Service: ${API_GATEWAY_PREFIX}, Status Code: ${status}, Request ID: ${e.$metadata?.requestId ?? ''})`);
}
