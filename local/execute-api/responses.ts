/**
 * Gateway responses, typed in one place: the responses this data plane generates itself, with AWS's default status,
 * x-amzn-ErrorType and message ("Gateway response types for API Gateway",
 * docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html). A step of the chain
 * throws GatewayResponseError to answer with one; the chain (./gateway.ts) writes it with the DEFAULT_4XX /
 * DEFAULT_5XX headers.
 */
export const RESPONSES = {
  MISSING_AUTHENTICATION_TOKEN: [403, 'MissingAuthenticationTokenException', 'Missing Authentication Token'],
  UNAUTHORIZED: [401, 'UnauthorizedException', 'Unauthorized'],
  EXPIRED: [401, 'UnauthorizedException', 'The incoming token has expired'],
  AUTHORIZER_CONFIGURATION_ERROR: [500, 'AuthorizerConfigurationException', null],
  ACCESS_DENIED: [403, 'AccessDeniedException', 'User is not authorized to access this resource'],
  INVALID_API_KEY: [403, 'ForbiddenException', 'Forbidden'],
  THROTTLED: [429, 'TooManyRequestsException', 'Too Many Requests'],
  QUOTA_EXCEEDED: [429, 'LimitExceededException', 'Limit Exceeded'],
  LAMBDA_PAYLOAD_TOO_LARGE: [413, 'BadRequestException', 'Request Too Long'],
  INTEGRATION_ERROR: [502, 'InternalServerErrorException', 'Internal server error'],
  INTEGRATION_TIMEOUT: [504, 'InternalServerErrorException', 'Endpoint request timed out'],
  INTERNAL: [500, 'InternalServerErrorException', 'Internal server error'],
} as const satisfies Record<string, readonly [number, string, string | null]>;
export type ResponseType = keyof typeof RESPONSES;

/** Answer with the gateway response `type`; `note` (why) goes to the request's log line, never to the caller. */
export class GatewayResponseError extends Error {
  constructor(
    readonly type: ResponseType,
    readonly note?: string,
  ) {
    super(note ?? type);
    this.name = 'GatewayResponseError';
  }
}

/** A complete answer a step gives instead of continuing (CORS preflight, the 413 text, the integration's response). */
export interface Reply {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  /** The request was not read to its end: close the connection if it is still sending a second after the answer. */
  drain?: boolean;
}
