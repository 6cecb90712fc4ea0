import * as z from 'zod/mini';

/**
 * What GET /me/api-key, POST /me/api-key/rotate and GET /me/usage accept, apart from the handler (which reads its
 * environment at load) so the OpenAPI document (functions/openapi) is generated from the very schemas it validates with.
 */

const isoDate = z.iso.date({ error: 'Must be a date, YYYY-MM-DD' });

/** `?from=&to=`, both dates; the handler also checks from ≤ to and at most 92 days (parseUsageQuery). */
export const usageQuery = z.strictObject({ from: isoDate, to: isoDate });

/** `?reveal=true` adds the key's value. */
export const revealQuery = z.strictObject({ reveal: z.optional(z.enum(['true', 'false'])) });

/** The longest overlap a rotation may keep the old key working for: 24 hours, in seconds. */
export const MAX_OVERLAP_SECONDS = 86_400;

/**
 * POST /me/api-key/rotate's optional body: the id of the key the client means to rotate (API Gateway key ids), and
 * how long the old key keeps working (`overlapSeconds`, whole seconds, 0 to 86 400 = 24 h; 0 or absent: none).
 */
export const rotateBody = z.strictObject({
  keyId: z.optional(z.string().check(z.regex(/^[A-Za-z0-9]{1,64}$/, 'Must be an API key id'))),
  overlapSeconds: z.optional(
    z.int().check(z.minimum(0, 'Must be 0 or more'), z.maximum(MAX_OVERLAP_SECONDS, `Must be at most ${MAX_OVERLAP_SECONDS} (24 hours)`)),
  ),
});
