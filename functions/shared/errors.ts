/**
 * Typed errors a handler or domain function may throw. The HTTP layer maps each to one status code;
 * anything else becomes a generic 500 that leaks nothing.
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
  constructor(message: string, details?: Record<string, unknown>) {
    super(400, 'BadRequest', message, details);
  }
}

export class UnauthorizedError extends HttpError {
  constructor(message = 'Unauthorized') {
    super(401, 'Unauthorized', message);
  }
}

export class ForbiddenError extends HttpError {
  constructor(message = 'Forbidden') {
    super(403, 'Forbidden', message);
  }
}

export class NotFoundError extends HttpError {
  constructor(message: string) {
    super(404, 'NotFound', message);
  }
}

export class ConflictError extends HttpError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(409, 'Conflict', message, details);
  }
}

export class TooManyRequestsError extends HttpError {
  constructor(message = 'Too many requests') {
    super(429, 'TooManyRequests', message);
  }
}

/** Retry-After for a 503 that names none: one second. */
export const DEFAULT_RETRY_AFTER_SECONDS = 1;

/** 503: a dependency is throttling or briefly unavailable. Answered with `Retry-After: <seconds>`. */
export class ServiceUnavailableError extends HttpError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number = DEFAULT_RETRY_AFTER_SECONDS,
  ) {
    super(503, 'ServiceUnavailable', message);
  }
}

/**
 * AWS errors that mean "too many requests right now" or "briefly unavailable", whichever service threw them (API
 * Gateway's management API: TooManyRequestsException, 429; DynamoDB: ProvisionedThroughputExceededException,
 * ThrottlingException, RequestLimitExceeded; Cognito: TooManyRequestsException). Such an error reaches a client as a
 * 503 with Retry-After, never as a 500.
 */
const THROTTLING = new Set([
  'TooManyRequestsException',
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'ServiceUnavailableException',
  'ServiceUnavailable',
]);

export function isThrottling(error: unknown): boolean {
  return error instanceof Error && THROTTLING.has(error.name);
}

/** Seconds the AWS error's `Retry-After` asked for (API Gateway binds it to `retryAfterSeconds`), else the default. */
export function retryAfterOf(error: unknown): number {
  const raw = (error as { retryAfterSeconds?: unknown } | undefined)?.retryAfterSeconds;
  const seconds = typeof raw === 'string' || typeof raw === 'number' ? Number(raw) : Number.NaN;
  return Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : DEFAULT_RETRY_AFTER_SECONDS;
}
