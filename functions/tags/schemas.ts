import * as z from 'zod/mini';

/**
 * What the /tags and /taglinks routes accept, apart from the handler (which reads its environment at load) so the
 * OpenAPI document (functions/openapi) is generated from the very schemas the handler validates with.
 */

const uuid = z.pipe(
  z.uuid('Must be a UUID'),
  z.transform((id: string) => id.toLowerCase()),
);

export const createTagBody = z.strictObject({
  name: z
    .string()
    .check(
      z.trim(),
      z.minLength(1, 'Must not be empty'),
      z.maxLength(50, 'Must be at most 50 characters'),
      z.regex(/^\P{Cc}*$/u, 'Must not contain control characters'),
    ),
});

export const createTagLinkBody = z.strictObject({ tagId: uuid, linkId: uuid });

export const idParams = z.strictObject({ id: uuid });
