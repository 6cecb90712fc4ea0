import { CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { requireEnv } from '#shared/env';
import { createApiHandler, json, parseBody, type Routes } from '#shared/http';
import { confirmSignUp, forgotPassword, refresh, resetPassword, signIn, signOut, signUp, type AuthDeps } from './domain.ts';
import {
  confirmBody,
  forgotPasswordBody,
  refreshBody,
  resetPasswordBody,
  signInBody,
  signOutBody,
  signUpBody,
} from './schemas.ts';

/**
 * `POST /auth/sign-up | confirm | sign-in | refresh | sign-out | forgot-password | reset-password`: Cognito for
 * clients without a Cognito SDK. Public routes (no token, no API key; a stage throttle guards them). They use the
 * server-side app client, whose secret never leaves this function: requests carry SECRET_HASH values derived from it.
 */

export { confirmBody, forgotPasswordBody, refreshBody, resetPasswordBody, signInBody, signOutBody, signUpBody };

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
