import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import * as z from 'zod/mini';
import { requireEnv } from '#shared/env';
import { createApiHandler, json, parseBody, type Routes } from '#shared/http';
import { confirmSignUp, forgotPassword, refresh, resetPassword, signIn, signOut, signUp, type AuthDeps } from './domain.ts';

/**
 * `POST /auth/sign-up | confirm | sign-in | refresh | sign-out | forgot-password | reset-password`: Cognito for
 * clients without a Cognito SDK. Public routes (no token, no API key; a stage throttle guards them). They use the
 * server-side app client, whose secret never leaves this function: requests carry SECRET_HASH values derived from it.
 */

// ---------------------------------------------------------------------------------------------------- request bodies

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

// ---------------------------------------------------------------------------------------------------- routes

/** Tokens and codes must never sit in a cache (RFC 6749 §5.1). */
const NO_STORE = { 'Cache-Control': 'no-store' };

export function authRoutes(deps: AuthDeps): Routes {
  return {
    'POST /auth/sign-up': async ({ event }) => json(201, await signUp(deps, parseBody(event, signUpBody)), NO_STORE),

    'POST /auth/confirm': async ({ event }) => {
      await confirmSignUp(deps, parseBody(event, confirmBody));
      return json(200, { confirmed: true, message: 'Email confirmed: sign in with POST /auth/sign-in' }, NO_STORE);
    },

    'POST /auth/sign-in': async ({ event }) => json(200, await signIn(deps, parseBody(event, signInBody)), NO_STORE),

    'POST /auth/refresh': async ({ event }) => json(200, await refresh(deps, parseBody(event, refreshBody)), NO_STORE),

    'POST /auth/sign-out': async ({ event }) => {
      await signOut(deps, parseBody(event, signOutBody));
      return json(200, { signedOut: true, message: 'Signed out: the refresh token is revoked' }, NO_STORE);
    },

    'POST /auth/forgot-password': async ({ event }) => {
      await forgotPassword(deps, parseBody(event, forgotPasswordBody));
      return json(202, { message: 'If an account exists for this email, a reset code has been sent to it' }, NO_STORE);
    },

    'POST /auth/reset-password': async ({ event }) => {
      await resetPassword(deps, parseBody(event, resetPasswordBody));
      return json(200, { message: 'Password reset: sign in with the new password' }, NO_STORE);
    },
  };
}

/** Public, unauthenticated Cognito operations: no IAM credentials needed. Bounded well inside the 10 s timeout. */
const cognito = new CognitoIdentityProviderClient({
  maxAttempts: 2,
  requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000 },
});

export const routes = authRoutes({
  cognito,
  clientId: requireEnv('AUTH_CLIENT_ID'),
  clientSecret: requireEnv('AUTH_CLIENT_SECRET'),
});

export const handler = createApiHandler(routes);
