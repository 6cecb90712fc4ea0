/**
 * Every error class of the functions, in one place.
 *
 * - HTTP errors (HttpError and its subclasses): what a handler or domain function throws for a client to hear. The HTTP
 *   layer (http.ts, errorResponse) maps each to its status code; anything else becomes a generic 500 that leaks
 *   nothing. `code` defaults to the class's own (`BadRequest`…); a route family may name a more specific one (the auth
 *   routes' `CodeMismatch`, `NotAuthorized`…) without leaving the class.
 * - Task errors: what a workflow's task function ends with. Step Functions' lambda:invoke reports a function error
 *   under its `errorType`, which the Node.js runtime takes from the thrown error's `name`
 *   (https://docs.aws.amazon.com/step-functions/latest/dg/connect-lambda.html,
 *   https://docs.aws.amazon.com/lambda/latest/dg/nodejs-exceptions.html), so the name is what Retry/Catch match.
 *
 * Recognising errors AWS threw is aws-errors.ts's job.
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends HttpError {
  constructor(message: string, details?: Record<string, unknown>, code = 'BadRequest') {
    super(400, code, message, details);
  }
}

export class UnauthorizedError extends HttpError {
  constructor(message = 'Unauthorized', code = 'Unauthorized') {
    super(401, code, message);
  }
}

export class ForbiddenError extends HttpError {
  constructor(message = 'Forbidden', code = 'Forbidden', details?: Record<string, unknown>) {
    super(403, code, message, details);
  }
}

export class NotFoundError extends HttpError {
  constructor(message: string) {
    super(404, 'NotFound', message);
  }
}

export class ConflictError extends HttpError {
  constructor(message: string, details?: Record<string, unknown>, code = 'Conflict') {
    super(409, code, message, details);
  }
}

export class TooManyRequestsError extends HttpError {
  constructor(message = 'Too many requests') {
    super(429, 'TooManyRequests', message);
  }
}

/** 500 with a message that leaks nothing: a fault of ours or of a dependency, not the client's. */
export class InternalError extends HttpError {
  constructor(message = 'Internal server error', code = 'InternalError') {
    super(500, code, message);
  }
}

/**
 * 503: a dependency is throttling or briefly unavailable. With `retryAfterSeconds`, answered with
 * `Retry-After: <seconds>` (and the same in the body); without, a plain 503.
 */
export class ServiceUnavailableError extends HttpError {
  constructor(
    message: string,
    readonly retryAfterSeconds?: number,
    code = 'ServiceUnavailable',
  ) {
    super(503, code, message);
  }
}

/** A usage plan the catalogue names is missing from API Gateway: a deployment problem, answered as a 500. */
export class UsagePlanNotFoundError extends InternalError {
  constructor(readonly plan: string) {
    super(`The ${plan} plan is not available right now`, 'PlanUnavailable');
  }
}

// ---------------------------------------------------------------------------------------------------- task errors

/** A task error whose name is chosen at run time (e.g. `ApiGateway.TooManyRequestsException`, see api-key/errors.ts). */
export class TaskError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** A malformed task event: a bug in the workflow definition, never retried. */
export class InvalidEventError extends Error {
  override readonly name: string = 'InvalidEvent';
}

/** A malformed period or date; the billing-close workflow fails on this name. */
export class InvalidPeriodError extends Error {
  override readonly name = 'InvalidPeriod';
}

/**
 * A period that has not ended yet (the current month, or a later one): its statements would bill days that have not
 * happened, and a plan change later in the month would contradict them. The billing-close workflow fails with this
 * name.
 */
export class PeriodNotEndedError extends Error {
  override readonly name = 'Billing.PeriodNotEnded';
}
