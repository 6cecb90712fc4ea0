/**
 * API Gateway's REST-JSON error shape: status code, `x-amzn-ErrorType: <Name>` header and a JSON body
 * `{"message": "..."}`. SDK v3 (AwsRestJsonProtocol → loadRestJsonErrorCode) and botocore both read the error
 * name from the `x-amzn-errortype` header first, so the SDK throws an error whose `name` is `<Name>`.
 */

/** HTTP status for each error name API Gateway's model declares (apigateway-2015-07-09 service-2.json). */
export const ERROR_STATUS: Readonly<Record<string, number>> = {
  BadRequestException: 400,
  UnauthorizedException: 401,
  NotFoundException: 404,
  ConflictException: 409,
  LimitExceededException: 429,
  TooManyRequestsException: 429,
  ServiceUnavailableException: 503,
  UnknownOperationException: 404,
  InternalFailure: 500,
};

export class ApiGatewayError extends Error {
  readonly code: string;
  readonly status: number;
  /** Sent as `Retry-After` (TooManyRequestsException / LimitExceededException / ServiceUnavailableException). */
  readonly retryAfterSeconds?: number;

  constructor(code: string, message: string, options: { status?: number; retryAfterSeconds?: number } = {}) {
    super(message);
    this.name = code;
    this.code = code;
    this.status = options.status ?? ERROR_STATUS[code] ?? 400;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export const badRequest = (message: string): ApiGatewayError => new ApiGatewayError('BadRequestException', message);
export const notFound = (message: string): ApiGatewayError => new ApiGatewayError('NotFoundException', message);
export const conflict = (message: string): ApiGatewayError => new ApiGatewayError('ConflictException', message);

/** AWS's own wording for the common cases (as reported by AWS CLI users and reproduced by moto). */
export const MESSAGES = {
  apiKeyNotFound: 'Invalid API Key identifier specified',
  usagePlanNotFound: 'Invalid Usage Plan ID specified',
  apiKeyExists: 'API Key already exists',
} as const;
