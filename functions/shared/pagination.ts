import * as z from 'zod/mini';
import { BadRequestError } from './errors.ts';

/**
 * List pagination for the resource routes: `?limit=` (1-100, default 25) and `?nextToken=`, an opaque base64url
 * encoding of DynamoDB's LastEvaluatedKey. A token is only accepted for the caller's own partition and the list it
 * came from, so it can neither read another user's items nor make DynamoDB reject a start key outside the query.
 */
export const DEFAULT_LIMIT = 25;
export const MAX_LIMIT = 100;
const MAX_TOKEN_LENGTH = 2048;

/** Where a list stopped: the primary key of the last item read (the resources table's `userId` + `sk`). */
export interface Cursor {
  userId: string;
  sk: string;
}

export interface PageRequest {
  limit: number;
  cursor?: Cursor;
}

export interface Page<T> {
  items: T[];
  cursor?: Cursor;
}

const LIMIT_MESSAGE = `Must be an integer from 1 to ${MAX_LIMIT}`;

export const listQuerySchema = z.strictObject({
  limit: z._default(
    z.pipe(
      z.pipe(z.string().check(z.regex(/^[0-9]{1,3}$/, LIMIT_MESSAGE)), z.transform(Number)),
      z.number().check(z.int(), z.gte(1, LIMIT_MESSAGE), z.lte(MAX_LIMIT, LIMIT_MESSAGE)),
    ),
    DEFAULT_LIMIT,
  ),
  nextToken: z.optional(
    z
      .string()
      .check(
        z.minLength(1, 'Must not be empty'),
        z.maxLength(MAX_TOKEN_LENGTH, 'Is too long'),
        z.regex(/^[A-Za-z0-9_-]+$/, 'Is not a valid token'),
      ),
  ),
});

export type ListQuery = z.output<typeof listQuerySchema>;

const cursorSchema = z.strictObject({
  userId: z.string().check(z.minLength(1)),
  sk: z.string().check(z.minLength(1)),
});

export function encodeNextToken(cursor: Cursor | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  return Buffer.from(JSON.stringify({ userId: cursor.userId, sk: cursor.sk }), 'utf8').toString('base64url');
}

function invalidToken(): BadRequestError {
  return new BadRequestError('Invalid query: nextToken: Is not a valid token for this list', {
    issues: [{ field: 'nextToken', message: 'Is not a valid token for this list' }],
  });
}

/** Decodes a `nextToken` for one list: the caller's partition, sort keys starting with `skPrefix`. */
export function decodeNextToken(token: string | undefined, userId: string, skPrefix: string): Cursor | undefined {
  if (token === undefined) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalidToken();
  }
  const result = cursorSchema.safeParse(decoded);
  if (!result.success) throw invalidToken();
  const cursor = result.data;
  if (cursor.userId !== userId || !cursor.sk.startsWith(skPrefix)) throw invalidToken();
  return cursor;
}

/** Parses `?limit=&nextToken=` for one list of the caller's. */
export function pageRequest(query: ListQuery, userId: string, skPrefix: string): PageRequest {
  const cursor = decodeNextToken(query.nextToken, userId, skPrefix);
  return { limit: query.limit, ...(cursor ? { cursor } : {}) };
}

/** The JSON body of a list response: `{ items, nextToken? }`. */
export function pageBody<T>(page: Page<T>): { items: T[]; nextToken?: string } {
  const nextToken = encodeNextToken(page.cursor);
  return { items: page.items, ...(nextToken ? { nextToken } : {}) };
}
