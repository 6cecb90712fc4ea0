import * as z from 'zod/mini';

/**
 * What the /links routes accept, apart from the handler (which reads its environment at load) so the OpenAPI document
 * (functions/openapi) is generated from the very schemas the handler validates with.
 */

export const createLinkBody = z.strictObject({
  url: z
    .url({ protocol: /^https?$/, error: 'Must be an http or https URL' })
    .check(z.maxLength(2048, 'Must be at most 2048 characters')),
  title: z.optional(z.string().check(z.trim(), z.maxLength(200, 'Must be at most 200 characters'))),
});

export const idParams = z.strictObject({
  id: z.pipe(
    z.uuid('Must be a UUID'),
    z.transform((id: string) => id.toLowerCase()),
  ),
});
