import type { APIGatewayProxyEvent } from 'aws-lambda';
import { BadRequestError } from '#shared/errors';
import { headerValue, parseParams } from '#shared/http';
import { usageQuery } from './schemas.ts';

/**
 * Request details the account routes share (rotation, plan change, usage in both key modes): the optional
 * Idempotency-Key header, stage-aware Location values and the usage range. Pure: no environment, no clients.
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

const DAY_MS = 86_400_000;
export const MAX_USAGE_DAYS = 92;

/** `?from=&to=`: both dates, from ≤ to, at most 92 days (API Gateway keeps usage per day). */
export function parseUsageQuery(values: Record<string, string | undefined> | null | undefined): { from: string; to: string } {
  const { from, to } = parseParams(values, usageQuery, 'query');
  const days = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
  const invalid = (message: string) =>
    new BadRequestError(`Invalid query: to: ${message}`, { issues: [{ field: 'to', message }] });
  if (days < 1) throw invalid('Must not be before from');
  if (days > MAX_USAGE_DAYS) throw invalid(`Must be at most ${MAX_USAGE_DAYS} days after from (both included)`);
  return { from, to };
}
