import type { APIGatewayProxyEvent } from 'aws-lambda';
import { BadRequestError } from '#shared/errors';
import { headerValue } from '#shared/http';

/**
 * Request details the account routes share (rotation, plan change): the optional Idempotency-Key
 * header and stage-aware Location values. Pure: no environment, no clients.
 */

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{1,128}$/;

/** The client's Idempotency-Key (optional), validated: 1-128 characters of `A-Z a-z 0-9 . _ : -`. */
export function idempotencyKeyOf(event: APIGatewayProxyEvent): string | undefined {
  const value = headerValue(event, IDEMPOTENCY_HEADER);
  if (value === undefined) return undefined;
  if (!IDEMPOTENCY_KEY.test(value)) {
    const message = 'Must be 1 to 128 characters of A-Z, a-z, 0-9, ".", "_", ":" or "-"';
    throw new BadRequestError(`Invalid header: ${IDEMPOTENCY_HEADER}: ${message}`, {
      issues: [{ field: IDEMPOTENCY_HEADER, message }],
    });
  }
  return value;
}

/** `Location` for a resource path, under the stage prefix the request came in on (`/v1/me/plan` → `/v1…`). */
export function locationOf(event: APIGatewayProxyEvent, resourcePath: string): string {
  const fullPath = event.requestContext?.path ?? '';
  const prefix = event.path && fullPath.endsWith(event.path) ? fullPath.slice(0, fullPath.length - event.path.length) : '';
  return `${prefix}${resourcePath}`;
}
