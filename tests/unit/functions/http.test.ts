import * as z from 'zod/mini';
import { BadRequestError } from '#shared/errors';
import { parseBody, parseParams, validationError } from '#shared/http';
import type { APIGatewayProxyEvent } from 'aws-lambda';

const failure = (schema: z.ZodMiniType, value: unknown): z.core.$ZodError => {
  const result = schema.safeParse(value);
  if (result.success) throw new Error('expected a validation failure');
  return result.error;
};

describe('validationError', () => {
  const body = z.strictObject({
    name: z.string().check(z.minLength(1, 'Must not be empty')),
    meta: z.optional(z.strictObject({ size: z.number() })),
  });

  it('names an unknown key by its own name, not by the object holding it', () => {
    const error = validationError(failure(body, { name: 'ok', colour: 'red' }), 'body');

    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.message).toBe('Invalid body: colour: Unrecognized key: "colour"');
    expect(error.details).toEqual({ issues: [{ field: 'colour', message: 'Unrecognized key: "colour"' }] });
  });

  it('gives each of several unknown keys its own issue', () => {
    const error = validationError(failure(body, { name: 'ok', colour: 'red', size: 3 }), 'body');

    expect(error.message).toBe('Invalid body: colour: Unrecognized key: "colour"');
    expect(error.details).toEqual({
      issues: [
        { field: 'colour', message: 'Unrecognized key: "colour"' },
        { field: 'size', message: 'Unrecognized key: "size"' },
      ],
    });
  });

  it('joins a nested unknown key with the path of its object', () => {
    const error = validationError(failure(body, { name: 'ok', meta: { size: 1, unit: 'px' } }), 'body');

    expect(error.details).toEqual({ issues: [{ field: 'meta.unit', message: 'Unrecognized key: "unit"' }] });
  });

  it('keeps other issues as they were: the path, or `where` at the root, with the English message', () => {
    const error = validationError(failure(body, { name: '', extra: 1 }), 'body');
    const root = validationError(failure(body, ['not', 'an', 'object']), 'body');

    expect(error.message).toBe('Invalid body: name: Must not be empty');
    expect(error.details).toEqual({
      issues: [
        { field: 'name', message: 'Must not be empty' },
        { field: 'extra', message: 'Unrecognized key: "extra"' },
      ],
    });
    expect(root.message).toBe('Invalid body: body: Invalid input: expected object, received array');
  });

  it('names unknown query parameters the same way', () => {
    const query = z.strictObject({ limit: z.optional(z.string()) });

    expect(() => parseParams({ offset: '10' }, query, 'query')).toThrow('Invalid query: offset: Unrecognized key: "offset"');
  });
});

describe('parseBody', () => {
  const event = (payload: string | null): APIGatewayProxyEvent => ({ body: payload, isBase64Encoded: false }) as APIGatewayProxyEvent;

  it('returns the parsed output of a mini schema', () => {
    const schema = z.strictObject({ n: z.pipe(z.string(), z.transform(Number)) });

    expect(parseBody(event('{"n":"42"}'), schema)).toEqual({ n: 42 });
  });

  it('throws a 400 naming the unknown field', () => {
    const schema = z.strictObject({ n: z.string() });

    expect(() => parseBody(event('{"n":"1","colour":"red"}'), schema)).toThrow(
      expect.objectContaining({ statusCode: 400, details: { issues: [{ field: 'colour', message: 'Unrecognized key: "colour"' }] } }),
    );
  });
});
