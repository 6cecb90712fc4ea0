/**
 * Error types of the offline Step Functions service.
 *
 * - {@link SfnApiError}: an error of the Step Functions API itself (StartExecution, DescribeExecution, ...), sent on
 *   the wire in the AWS JSON 1.0 shape `{"__type": "<namespace>#<Code>", "message": "..."}` with HTTP 400.
 * - {@link TaskError}: a failed Task state. `aws-local-stepfunctions` matches Retry/Catch `ErrorEquals` against
 *   `error.name` and puts `error.message` into the caught `{Error, Cause}`, so `name` is the Step Functions error
 *   name (`ApiGateway.ConflictException`) and `message` is the Cause.
 * - {@link StatesRuntimeError}: `States.Runtime`, which AWS never retries and `States.ALL` never catches; the
 *   library reads `isRetryable` / `isCatchable` (duck-typed) to honour that.
 */

/** Namespace AWS Step Functions puts in front of its service errors (`__type`). */
export const SFN_ERROR_NAMESPACE = 'com.amazonaws.swf.service.v2.model';
/** Namespace AWS uses for model-constraint violations (`ValidationException`). */
export const VALIDATION_ERROR_NAMESPACE = 'com.amazon.coral.validate';

export class SfnApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
    this.name = code;
  }

  /** The JSON 1.0 body: `{"__type": "com.amazonaws.swf.service.v2.model#ExecutionDoesNotExist", "message": ...}`. */
  toBody(): { __type: string; message: string } {
    const namespace = this.code === 'ValidationException' ? VALIDATION_ERROR_NAMESPACE : SFN_ERROR_NAMESPACE;
    return { __type: `${namespace}#${this.code}`, message: this.message };
  }
}

export const apiErrors = {
  executionDoesNotExist: (arn: string) => new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`),
  executionAlreadyExists: (arn: string) => new SfnApiError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`),
  stateMachineDoesNotExist: (arn: string) =>
    new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`),
  invalidArn: (reason: string) => new SfnApiError('InvalidArn', `Invalid Arn: '${reason}'`),
  invalidName: (name: string) => new SfnApiError('InvalidName', `Invalid Name: '${name}'`),
  invalidExecutionInput: (reason: string) =>
    new SfnApiError('InvalidExecutionInput', `Invalid State Machine Execution Input: '${reason}'`),
  invalidToken: (token: string) => new SfnApiError('InvalidToken', `Invalid Token: '${token}'`),
  validation: (message: string) => new SfnApiError('ValidationException', message),
  missing: (member: string) =>
    new SfnApiError(
      'ValidationException',
      `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`,
    ),
};

/** A Task state failure with a Step Functions error name (matched by Retry/Catch) and a Cause. */
export class TaskError extends Error {
  constructor(name: string, cause: string) {
    super(cause);
    this.name = name;
  }
}

/** `States.Runtime`: not retried, not caught by `States.ALL` (nor by anything else, as in AWS). */
export class StatesRuntimeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'States.Runtime';
  }
  get isRetryable(): boolean {
    return false;
  }
  get isCatchable(): boolean {
    return false;
  }
}
