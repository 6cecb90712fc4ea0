import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { en } from 'zod/locales';
import * as z from 'zod/mini';
import { isThrottling, retryAfterOf, errorName } from './aws-errors.ts';
import { BadRequestError, HttpError, NotFoundError, ServiceUnavailableError } from './errors.ts';
import { withLambda } from './lambda.ts';
import { logger } from './logger.ts';

// zod/mini ships without a locale (every message would read "Invalid input"): load English, as classic zod does.
z.config(en());

/** A request header by name, whatever its case (API Gateway passes them as the client sent them). */
export function headerValue(event: APIGatewayProxyEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && value !== undefined) return value;
  }
  return undefined;
}

/** Largest request body any route accepts (after base64 decoding). */
export const MAX_BODY_BYTES = 16 * 1024;

const corsOrigin = process.env.CORS_ALLOW_ORIGIN ?? '*';
/**
 * Response headers a browser page may read besides the CORS-safelisted ones (Fetch standard, "CORS-safelisted response
 * header name"): API Gateway's request id (added to every answer) and ours. Same list as template.yaml's
 * GatewayResponses, so the portal's "Try it" shows them on every answer.
 */
const exposeHeaders = 'x-amzn-RequestId,x-amz-apigw-id,Retry-After,Location';

export interface ApiRequest {
  event: APIGatewayProxyEvent;
  requestId: string;
}

export type Route = (request: ApiRequest) => Promise<APIGatewayProxyResult>;

/** Routes keyed as API Gateway names them: `"<METHOD> <resource>"`, e.g. `"GET /links/{id}"`. */
export type Routes = Record<string, Route>;

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return {
    statusCode,
    headers: {
      'Content-Type': 'application/json',
      'Access-Control-Allow-Origin': corsOrigin,
      'Access-Control-Expose-Headers': exposeHeaders,
      ...headers,
    },
    body: body === undefined ? '' : JSON.stringify(body),
  };
}

export function noContent(): APIGatewayProxyResult {
  return { statusCode: 204, headers: { 'Access-Control-Allow-Origin': corsOrigin, 'Access-Control-Expose-Headers': exposeHeaders }, body: '' };
}

export interface ValidationIssue {
  field: string;
  message: string;
}

/** One issue as the client sees it; an unknown key is named by its own path, not by the object holding it. */
function describeIssue(issue: z.core.$ZodIssue, where: string): ValidationIssue[] {
  const fieldOf = (path: readonly PropertyKey[]): string => (path.length > 0 ? path.map(String).join('.') : where);
  if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) {
    return issue.keys.map((key) => ({
      field: fieldOf([...issue.path, key]),
      message: issue.keys.length === 1 ? issue.message : `Unrecognized key: "${key}"`,
    }));
  }
  return [{ field: fieldOf(issue.path), message: issue.message }];
}

/** Turns a zod failure into a 400 that names the offending field(s). */
export function validationError(error: z.core.$ZodError, where: string): BadRequestError {
  const issues = error.issues.flatMap((issue) => describeIssue(issue, where));
  const first = issues[0];
  const message = first ? `Invalid ${where}: ${first.field}: ${first.message}` : `Invalid ${where}`;
  return new BadRequestError(message, { issues });
}

/** Parses and validates a JSON body: missing, oversized, non-JSON and wrongly-shaped bodies are all 400s. */
export function parseBody<S extends z.ZodMiniType>(event: APIGatewayProxyEvent, schema: S): z.output<S> {
  if (event.body === null || event.body === undefined || event.body === '') {
    throw new BadRequestError('Request body is required (JSON)');
  }
  const raw = event.isBase64Encoded ? Buffer.from(event.body, 'base64') : Buffer.from(event.body, 'utf8');
  if (raw.byteLength > MAX_BODY_BYTES) {
    throw new BadRequestError(`Request body is larger than ${MAX_BODY_BYTES} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new BadRequestError('Request body is not valid JSON');
  }
  const result = schema.safeParse(parsed);
  if (!result.success) throw validationError(result.error, 'body');
  return result.data;
}

/** Validates path or query parameters against a schema. */
export function parseParams<S extends z.ZodMiniType>(
  values: Record<string, string | undefined> | null | undefined,
  schema: S,
  where: 'path' | 'query',
): z.output<S> {
  const result = schema.safeParse(values ?? {});
  if (!result.success) throw validationError(result.error, where);
  return result.data;
}

/**
 * Maps any thrown value to a response: typed errors to their status (a ServiceUnavailableError with
 * `retryAfterSeconds` adds `Retry-After`); an AWS throttling error (API Gateway's management API limit, DynamoDB,
 * Cognito; recognised by aws-errors.ts) to 503 with `Retry-After` and a message saying to retry; everything else to a
 * bare 500.
 */
export function errorResponse(error: unknown, requestId: string): APIGatewayProxyResult {
  if (!(error instanceof HttpError) && isThrottling(error)) {
    logger.warn('A dependency is throttling; answering 503', { errorName: errorName(error) });
    error = new ServiceUnavailableError('The service is busy right now; try again in a moment', retryAfterOf(error));
  }
  if (error instanceof ServiceUnavailableError && error.retryAfterSeconds !== undefined) {
    return json(
      503,
      { message: error.message, code: error.code, retryAfterSeconds: error.retryAfterSeconds, requestId },
      { 'Retry-After': String(error.retryAfterSeconds) },
    );
  }
  if (error instanceof HttpError) {
    if (error.statusCode >= 500) logger.error('Request failed', { error });
    return json(error.statusCode, {
      message: error.message,
      code: error.code,
      ...(error.details ? { details: error.details } : {}),
      requestId,
    });
  }
  logger.error('Unhandled error', { error: error instanceof Error ? error : String(error) });
  return json(500, { message: 'Internal server error', code: 'InternalError', requestId });
}

/** Builds a proxy-integration handler from a route table. */
export function createApiHandler(routes: Routes): (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult> {
  return withLambda(
    async (event: APIGatewayProxyEvent, context: Context) => {
      const requestId = event.requestContext?.requestId ?? context.awsRequestId;
      try {
        const route = routes[`${event.httpMethod} ${event.resource}`];
        if (!route) throw new NotFoundError(`No route for ${event.httpMethod} ${event.resource}`);
        const response = await route({ event, requestId });
        logger.info('Request handled', { method: event.httpMethod, resource: event.resource, statusCode: response.statusCode });
        return response;
      } catch (error: unknown) {
        return errorResponse(error, requestId);
      }
    },
    (event) => event.requestContext?.requestId,
  );
}
