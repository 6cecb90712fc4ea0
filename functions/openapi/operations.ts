import type * as z from 'zod/mini';
import { deleteMeBody } from '../account/me.ts';
import { executionParams, planChangeBody } from '../account/plan-change-routes.ts';
import { revealQuery, rotateBody, usageQuery } from '../account/schemas.ts';
import {
  confirmBody,
  forgotPasswordBody,
  refreshBody,
  resetPasswordBody,
  signInBody,
  signOutBody,
  signUpBody,
} from '../auth/schemas.ts';
import { createLinkBody, idParams as linkIdParams } from '../links/schemas.ts';
import { createTagBody, createTagLinkBody, idParams as tagIdParams } from '../tags/schemas.ts';
import { listQuerySchema } from '../shared/pagination.ts';
import * as responses from './responses.ts';

/**
 * Every API route as the reference describes it: its auth, the zod schemas its handler validates path, query and body
 * with (imported from the modules the handlers import them from), an example request, its answers and its errors.
 * `functions/openapi/document.ts` turns this table into the OpenAPI document; tests/unit/openapi.test.ts fails when a
 * route here is not in template.yaml (or the other way round) or its auth differs from the template's, and
 * tests/integration/openapi-responses.test.ts when a real answer's status or body is not the one documented here.
 */

/**
 * How a route authenticates, as template.yaml's event says:
 * - `none`: `Auth.Authorizer: NONE` (and no key): public.
 * - `token`: the Cognito authorizer (the ID token in `Authorization`), `Auth.ApiKeyRequired: false`.
 * - `data`: the data API, `Auth.Authorizer: KeyAuthorizer` (a Lambda REQUEST authorizer on the key, in every mode)
 *   with `ApiKeyRequired: true`: the customer's API key (`x-api-key`; none is 401), metered by the usage plan, and — when the template's `DataApiAuth` is `IdTokenAndApiKey` (the default) — the ID
 *   token too, verified by the function itself. The document says which (document.ts, `dataApiAuth`).
 */
export type RouteAuth = 'none' | 'token' | 'data';

export type HttpMethod = 'GET' | 'POST' | 'DELETE';

export interface Operation {
  method: HttpMethod;
  /** The API Gateway resource path, e.g. `/links/{id}`. */
  path: string;
  /** The template event's logical id (e.g. `GetLink`): the OpenAPI operationId. */
  operationId: string;
  tag: 'Public' | 'Auth' | 'Links' | 'Tags' | 'Account';
  summary: string;
  auth: RouteAuth;
  params?: z.ZodMiniType;
  query?: z.ZodMiniType;
  body?: z.ZodMiniType;
  /** The body may be left out (POST /me/api-key/rotate). */
  bodyOptional?: boolean;
  /** An example request: values for the path and query parameters, and a body. */
  example?: { params?: Record<string, string>; query?: Record<string, string>; body?: unknown };
  /**
   * The success answer: status, what it means, the schema of its body (./responses.ts, what the handler answers) and an
   * example of it (neither for 204); `also`: other success statuses answering the same body (POST /taglinks' 200).
   */
  success: { status: number; description: string; body?: z.ZodMiniType; example?: unknown; also?: { status: number; description: string }[] };
  /** Error statuses beyond the ones every route of its auth kind can answer (see document.ts). */
  errors?: number[];
  /** Headers the success answer carries besides the common ones (Location, Cache-Control). */
  headers?: string[];
}

const LINK_ID = '3f0c9a4e-7b1d-4c2a-9e5f-1a2b3c4d5e6f';
const TAG_ID = '8d7e6f5a-4b3c-4d2e-8f1a-0b9c8d7e6f5a';
const CREATED = '2026-11-30T09:15:00.000Z';
const link = { id: LINK_ID, url: 'https://example.com/docs', title: 'Example docs', createdAt: CREATED };
const tag = { id: TAG_ID, name: 'reading', createdAt: CREATED };
const EXECUTION_ID = 'plan-0123456789abcdef0123456789abcdef01234567';
const NEXT_TOKEN = 'eyJ1c2VySWQiOiIuLi4iLCJzayI6IkxJTksjLi4uIn0';
const EMAIL = 'dev@example.com';
const REFRESH = 'eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIn0.refresh-token';
const USERNAME = '0b5f1c2e-3d4a-4b6c-8e9f-a1b2c3d4e5f6';

export const OPERATIONS: readonly Operation[] = [
  // ---------------------------------------------------------------- public
  {
    method: 'GET', path: '/health', operationId: 'Health', tag: 'Public', auth: 'none',
    summary: 'Whether the API answers',
    success: { status: 200, description: 'The API is up', body: responses.healthResponse, example: { status: 'ok', time: CREATED } },
  },
  {
    method: 'GET', path: '/plans', operationId: 'ListPlans', tag: 'Public', auth: 'none',
    summary: 'The plans on sale: price, rate limit, burst and quota',
    success: {
      status: 200,
      description: 'The plan catalogue',
      body: responses.plansResponse,
      example: { plans: [{ name: 'free', monthlyPrice: 0, currency: 'USD', rateLimit: 5, burstLimit: 10, quotaLimit: 1000, quotaPeriod: 'MONTH' }] },
    },
  },
  // ---------------------------------------------------------------- auth
  {
    method: 'POST', path: '/auth/sign-up', operationId: 'SignUp', tag: 'Auth', auth: 'none',
    summary: 'Create an account; a confirmation code goes to the email', body: signUpBody,
    example: { body: { email: EMAIL, password: 'correct-Horse-battery-9' } },
    success: { status: 201, description: 'Account created, not yet confirmed', body: responses.signUpResponse, example: { userSub: USERNAME, userConfirmed: false, codeDelivery: { destination: 'd***@e***', deliveryMedium: 'EMAIL' } } },
    // 403 SignUpDisabled: an invite-only deployment (InviteOnly); 409 UsernameExists.
    errors: [403, 409],
  },
  {
    method: 'POST', path: '/auth/confirm', operationId: 'ConfirmSignUp', tag: 'Auth', auth: 'none',
    summary: 'Confirm the email with the code that was sent', body: confirmBody,
    example: { body: { email: EMAIL, code: '123456' } },
    success: { status: 200, description: 'Confirmed', body: responses.confirmedResponse, example: { confirmed: true, message: 'Email confirmed: sign in with POST /auth/sign-in' } },
    // 409 AlreadyConfirmed; 503 AccountSetupPending: confirmed, but onboarding did not start (sign-in finishes it).
    errors: [409, 503],
  },
  {
    method: 'POST', path: '/auth/sign-in', operationId: 'SignIn', tag: 'Auth', auth: 'none',
    summary: 'Sign in: the ID, access and refresh tokens', body: signInBody,
    example: { body: { email: EMAIL, password: 'correct-Horse-battery-9' } },
    success: { status: 200, description: 'Tokens (the ID token goes in Authorization)', body: responses.tokensResponse, example: { idToken: 'eyJraWQiOi…', accessToken: 'eyJraWQiOi…', refreshToken: REFRESH, expiresIn: 3600, tokenType: 'Bearer', username: USERNAME } },
    // 401 NotAuthorized: a wrong email or password; 403: not confirmed yet, a password reset or a new password required.
    errors: [401, 403],
  },
  {
    method: 'POST', path: '/auth/refresh', operationId: 'RefreshTokens', tag: 'Auth', auth: 'none',
    summary: 'New ID and access tokens from the refresh token', body: refreshBody,
    example: { body: { refreshToken: REFRESH, username: USERNAME } },
    success: { status: 200, description: 'Fresh tokens', body: responses.tokensResponse, example: { idToken: 'eyJraWQiOi…', accessToken: 'eyJraWQiOi…', expiresIn: 3600, tokenType: 'Bearer', username: USERNAME } },
    // 401 NotAuthorized: the refresh token is invalid, expired or revoked, or not this username's.
    errors: [401],
  },
  {
    method: 'POST', path: '/auth/sign-out', operationId: 'SignOut', tag: 'Auth', auth: 'none',
    summary: 'Revoke the refresh token', body: signOutBody,
    example: { body: { refreshToken: REFRESH } },
    success: { status: 200, description: 'Revoked', body: responses.signedOutResponse, example: { signedOut: true, message: 'Signed out: the refresh token is revoked' } },
    // 401 NotAuthorized: the refresh token is invalid, expired or already revoked.
    errors: [401],
  },
  {
    method: 'POST', path: '/auth/forgot-password', operationId: 'ForgotPassword', tag: 'Auth', auth: 'none',
    summary: 'Send a password-reset code to the email', body: forgotPasswordBody,
    example: { body: { email: EMAIL } },
    success: { status: 202, description: 'Sent, if the account exists', body: responses.messageResponse, example: { message: 'If an account exists for this email, a reset code has been sent to it' } },
  },
  {
    method: 'POST', path: '/auth/reset-password', operationId: 'ResetPassword', tag: 'Auth', auth: 'none',
    summary: 'Choose a new password with the reset code', body: resetPasswordBody,
    example: { body: { email: EMAIL, code: '123456', password: 'new-Horse-battery-10' } },
    success: { status: 200, description: 'Password changed', body: responses.messageResponse, example: { message: 'Password reset: sign in with the new password' } },
  },
  // ---------------------------------------------------------------- links
  {
    method: 'POST', path: '/links', operationId: 'CreateLink', tag: 'Links', auth: 'data',
    summary: 'Save a link', body: createLinkBody,
    example: { body: { url: 'https://example.com/docs', title: 'Example docs' } },
    success: { status: 201, description: 'The saved link', body: responses.linkResponse, example: link },
  },
  {
    method: 'GET', path: '/links', operationId: 'ListLinks', tag: 'Links', auth: 'data',
    summary: 'Your saved links, newest first, a page at a time', query: listQuerySchema,
    example: { query: { limit: '10' } },
    success: { status: 200, description: 'A page; `nextToken` when there is more', body: responses.linkPageResponse, example: { items: [link], nextToken: NEXT_TOKEN } },
  },
  {
    method: 'GET', path: '/links/{id}', operationId: 'GetLink', tag: 'Links', auth: 'data',
    summary: 'One of your links', params: linkIdParams, example: { params: { id: LINK_ID } },
    success: { status: 200, description: 'The link', body: responses.linkResponse, example: link },
    errors: [404],
  },
  {
    method: 'DELETE', path: '/links/{id}', operationId: 'DeleteLink', tag: 'Links', auth: 'data',
    summary: 'Delete one of your links', params: linkIdParams, example: { params: { id: LINK_ID } },
    success: { status: 204, description: 'Deleted' },
    // 404 when it is not there: already deleted, never made, or another customer's (links/domain.ts, tags/domain.ts).
    errors: [404],
  },
  // ---------------------------------------------------------------- tags
  {
    method: 'POST', path: '/tags', operationId: 'CreateTag', tag: 'Tags', auth: 'data',
    summary: 'Create a tag', body: createTagBody, example: { body: { name: 'reading' } },
    success: { status: 201, description: 'The new tag', body: responses.tagResponse, example: tag },
    errors: [409],
  },
  {
    method: 'GET', path: '/tags', operationId: 'ListTags', tag: 'Tags', auth: 'data',
    summary: 'Your tags, a page at a time', query: listQuerySchema, example: { query: { limit: '25' } },
    success: { status: 200, description: 'A page; `nextToken` when there is more', body: responses.tagPageResponse, example: { items: [tag] } },
  },
  {
    method: 'GET', path: '/tags/{id}', operationId: 'GetTag', tag: 'Tags', auth: 'data',
    summary: 'One of your tags', params: tagIdParams, example: { params: { id: TAG_ID } },
    success: { status: 200, description: 'The tag', body: responses.tagResponse, example: tag },
    errors: [404],
  },
  {
    method: 'DELETE', path: '/tags/{id}', operationId: 'DeleteTag', tag: 'Tags', auth: 'data',
    summary: 'Delete one of your tags', params: tagIdParams, example: { params: { id: TAG_ID } },
    success: { status: 204, description: 'Deleted' },
    // 404 when it is not there: already deleted, never made, or another customer's (links/domain.ts, tags/domain.ts).
    errors: [404],
  },
  {
    method: 'POST', path: '/taglinks', operationId: 'CreateTagLink', tag: 'Tags', auth: 'data',
    summary: 'Attach a tag to a link (200 when it already was)', body: createTagLinkBody,
    example: { body: { tagId: TAG_ID, linkId: LINK_ID } },
    success: {
      status: 201,
      description: 'Attached',
      body: responses.tagLinkResponse,
      example: { tagId: TAG_ID, linkId: LINK_ID, createdAt: CREATED },
      also: [{ status: 200, description: 'Already attached: the tag-link as it was made first' }],
    },
    errors: [404],
  },
  {
    method: 'GET', path: '/tags/{id}/links', operationId: 'ListTagLinks', tag: 'Tags', auth: 'data',
    summary: 'The links carrying a tag', params: tagIdParams, example: { params: { id: TAG_ID } },
    success: { status: 200, description: 'A page of links', body: responses.linkPageResponse, example: { items: [link] } },
    errors: [404],
  },
  // ---------------------------------------------------------------- account
  {
    method: 'GET', path: '/me', operationId: 'GetMe', tag: 'Account', auth: 'token',
    summary: 'Your account: plan, status, key id',
    success: { status: 200, description: 'The account', body: responses.accountResponse, example: { email: EMAIL, plan: 'free', status: 'ACTIVE', apiKeyId: 'a1b2c3d4e5', createdAt: CREATED, updatedAt: CREATED } },
    errors: [404],
  },
  {
    method: 'DELETE', path: '/me', operationId: 'DeleteMe', tag: 'Account', auth: 'token',
    summary: 'Delete your account (type your email to confirm)', body: deleteMeBody,
    example: { body: { confirm: EMAIL } },
    success: { status: 202, description: 'Deletion started; the key stops working now', body: responses.deletionResponse, example: { status: 'CLOSING', executionName: `offboard-${USERNAME}`, message: 'Your account is being deleted: the API key stops working now, and a final statement is written' } },
  },
  {
    method: 'GET', path: '/me/api-key', operationId: 'GetApiKey', tag: 'Account', auth: 'token',
    summary: 'Your API key: its id, and with reveal=true its value', query: revealQuery,
    example: { query: { reveal: 'true' } },
    success: { status: 200, description: 'The key (value only when revealed). With self-issued keys (KeyMode SelfIssued) the value is never sent again: the answer says whether one was issued (`issued`) and its first characters (`hint`, tg_live_ + 4), and reveal=true is 409', body: responses.apiKeyResponse, example: { id: 'a1b2c3d4e5', plan: 'free', createdAt: CREATED, value: 'EXAMPLEexampleEXAMPLEexample0123456789ab' } },
    headers: ['Cache-Control'],
    errors: [409],
  },
  {
    method: 'POST', path: '/me/api-key/rotate', operationId: 'RotateApiKey', tag: 'Account', auth: 'token',
    summary: 'Replace your API key; the old one stops working at once or after overlapSeconds (up to 24 h; KeyMode SelfIssued: no overlap, 400). Send Idempotency-Key to retry safely',
    body: rotateBody, bodyOptional: true, example: { body: { keyId: 'a1b2c3d4e5', overlapSeconds: 3600 } },
    success: { status: 200, description: 'The new key (and, with an overlap, when the old one stops working). With self-issued keys (KeyMode SelfIssued) this answer is the only time the value is sent, there is no overlap (the old key stops working at once), and the first rotation issues the first key', body: responses.rotationResponse, example: { id: 'f6e5d4c3b2', value: 'EXAMPLEexampleEXAMPLEexample0123456789cd', previousKeyId: 'a1b2c3d4e5', quotaCarriedOver: 0, previousKeyExpiresAt: '2026-11-30T10:15:00.000Z' } },
    headers: ['Cache-Control'],
    // 403 KeySuspended (the user is disabled) or a deleted user (account/domain.ts rotationFailure); 409 another key,
    // a rotation or plan change in progress, an account not active.
    errors: [403, 409],
  },
  {
    method: 'DELETE', path: '/me/api-key/previous', operationId: 'RetirePreviousApiKey', tag: 'Account', auth: 'token',
    summary: 'End a rotation overlap now: the previous key is disabled, detached from its plan and deleted',
    success: { status: 204, description: 'The previous key is retired' },
    // 404 no key in its overlap; 409 the account is not active (closing or closed: account/domain.ts activeAccount).
    errors: [404, 409, 503],
  },
  {
    method: 'GET', path: '/me/usage', operationId: 'GetUsage', tag: 'Account', auth: 'token',
    summary: 'Calls per day between two dates (at most 92 days) and the quota left', query: usageQuery,
    example: { query: { from: '2026-11-29', to: '2026-11-30' } },
    success: { status: 200, description: 'Usage', body: responses.usageResponse, example: { keyId: 'a1b2c3d4e5', plan: 'free', from: '2026-11-29', to: '2026-11-30', days: [{ date: '2026-11-29', used: 0 }, { date: '2026-11-30', used: 42 }], quota: { limit: 1000, period: 'MONTH', periodStart: '2026-11-01', resetsAt: '2026-12-01T00:00:00.000Z', used: 42, remaining: 958 } } },
    errors: [409],
  },
  {
    method: 'GET', path: '/me/billing', operationId: 'GetBilling', tag: 'Account', auth: 'token',
    summary: 'Your billing ledger and the running statement', query: listQuerySchema,
    example: { query: { limit: '25' } },
    success: { status: 200, description: 'Ledger page and statement', body: responses.billingResponse, example: {
        ledger: [{ entryId: `${CREATED}#PLAN_STARTED#onboard-${USERNAME}`, type: 'PLAN_STARTED', plan: 'free', monthlyPrice: 0, currency: 'USD', effectiveAt: CREATED, executionId: `onboard-${USERNAME}` }],
        statement: {
          period: '2026-11',
          periodStart: '2026-11-01T00:00:00.000Z',
          periodEnd: '2026-12-01T00:00:00.000Z',
          lines: [{ plan: 'free', from: CREATED, to: '2026-12-01T00:00:00.000Z', seconds: 53100, monthlyPrice: 0, amountCents: 0 }],
          totalCents: 0,
          currency: 'USD',
        },
      },
    },
  },
  {
    method: 'POST', path: '/me/plan', operationId: 'RequestPlanChange', tag: 'Account', auth: 'token',
    summary: 'Change your plan (one of GET /plans); send Idempotency-Key to retry safely',
    body: planChangeBody([]), example: { body: { plan: 'basic' } },
    success: { status: 202, description: 'Plan change started', body: responses.planChangeAcceptedResponse, example: { executionId: EXECUTION_ID, status: 'RUNNING', plan: 'basic', links: { self: `/me/plan-changes/${EXECUTION_ID}` } } },
    headers: ['Location'],
    errors: [409],
  },
  {
    method: 'GET', path: '/me/plan-changes/{executionId}', operationId: 'GetPlanChange', tag: 'Account', auth: 'token',
    summary: 'How a plan change went', params: executionParams, example: { params: { executionId: EXECUTION_ID } },
    success: { status: 200, description: 'The plan change', body: responses.planChangeResponse, example: { executionId: EXECUTION_ID, status: 'SUCCEEDED', requestedPlan: 'basic', startedAt: CREATED, stoppedAt: '2026-11-30T09:15:02.000Z', outcome: { fromPlan: 'free', toPlan: 'basic', effectiveAt: CREATED } } },
    errors: [404],
  },
];
