import * as z from 'zod/mini';

/**
 * The /auth routes' request bodies, apart from the handler (which reads its environment at load) so the OpenAPI
 * document (functions/openapi) is generated from the very schemas the handler validates with.
 */

const email = z.pipe(
  z.string().check(z.trim(), z.toLowerCase(), z.maxLength(254, 'Must be at most 254 characters')),
  z.email('Must be an email address'),
);
/** Cognito's own bounds; the pool's policy (length, character classes) is Cognito's to enforce on new passwords. */
const password = z.string().check(z.minLength(1, 'Must not be empty'), z.maxLength(256, 'Must be at most 256 characters'));
const code = z.string().check(z.regex(/^[0-9]{6,8}$/, 'Must be 6 to 8 digits'));
const refreshToken = z
  .string()
  .check(
    z.minLength(1, 'Must not be empty'),
    z.maxLength(8192, 'Is too long'),
    z.regex(/^[A-Za-z0-9._~+/=-]+$/, 'Is not a valid refresh token'),
  );
/** A Cognito username (here the sub UUID that sign-in returned as `username`). */
const username = z
  .string()
  .check(
    z.minLength(1, 'Must not be empty'),
    z.maxLength(128, 'Must be at most 128 characters'),
    z.regex(/^[\p{L}\p{M}\p{S}\p{N}\p{P}]+$/u, 'Is not a valid username'),
  );

export const signUpBody = z.strictObject({ email, password });
export const confirmBody = z.strictObject({ email, code });
export const signInBody = z.strictObject({ email, password, newPassword: z.optional(password) });
export const refreshBody = z.strictObject({ refreshToken, username });
export const signOutBody = z.strictObject({ refreshToken });
export const forgotPasswordBody = z.strictObject({ email });
export const resetPasswordBody = z.strictObject({ email, code, password });
