// Over 400 lines: cognito-local assembled in-process plus the small patches that make it answer as Cognito, each a function with its source.
/**
 * cognito-local, assembled in-process (its own CLI only reads ./.cognito): state under <dir>/cognito, triggers sent
 * to the offline Lambda service, tokens issued by the URL the gateway verifies against, and messages (confirmation
 * and reset codes) delivered to an outbox that tests, the demo and the portal read instead of server logs. Small
 * patches bring it closer to Cognito: a sign-in no longer overwrites attributes written meanwhile
 * (patchStaleRefreshTokenWrite), app clients may only write their WriteAttributes (enforceClientWriteAttributes), a
 * missing user is UserNotFoundException (answerUnknownUsersAsCognito), and sessions end as in Cognito — GlobalSignOut / AdminUserGlobalSignOut revoke earlier tokens, a disabled user can
 * neither sign in nor refresh (enforceSessionRevocation). The pool's and client's settings from template.yaml hold too:
 * case-insensitive usernames (patchUserLookups), the password policy (enforcePasswordPolicy) and
 * PreventUserExistenceErrors on ForgotPassword (preventUserExistenceOnForgotPassword); and a confirmed sign-up's email
 * is verified (verifyEmailOnConfirmSignUp) and no two users share one (enforceUniqueEmails). ResendConfirmationCode,
 * which cognito-local lacks, is added as Cognito answers it (resendConfirmationCode); each outbox message names its
 * CustomMessage trigger source (sign-up, resent code, password reset, …). A trigger that fails fails the operation, named
 * as Cognito names it (patchTriggerErrors, propagateTriggerFailures: PostConfirmation and PostAuthentication no longer
 * swallow errors), and confirming a confirmed user says so (refuseConfirmingConfirmedUsers).
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { cannotConfirm, triggerMessages } from '#shared/cognito-messages';
import { passwordPolicyViolation, type PasswordPolicy } from '#shared/password-policy';
import { JournaledDataStoreFactory, type UserKey } from './cognito-store.ts';

const cognitoRequire = createRequire(require.resolve('cognito-local/package.json'));
/* eslint-disable @typescript-eslint/no-explicit-any */
const lib = (path: string): any => cognitoRequire(`./lib/${path}`);

export interface OutboxMessage {
  at: string;
  userPoolId?: string;
  username: string;
  destination: string;
  medium: 'EMAIL' | 'SMS';
  code?: string;
  /**
   * What the message is for, as the CustomMessage trigger's `triggerSource` names it: `CustomMessage_SignUp`,
   * `CustomMessage_ResendCode`, `CustomMessage_ForgotPassword`, `CustomMessage_UpdateUserAttribute`,
   * `CustomMessage_VerifyUserAttribute`, `CustomMessage_AdminCreateUser`, `CustomMessage_Authentication`
   * (https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-custom-message.html).
   */
  triggerSource?: string;
  subject?: string;
  body?: string;
}

export interface LocalCognito {
  url: string;
  /** cognito-local's HTTP server (the offline IAM front wraps its request listener). */
  server: Server;
  outbox: OutboxMessage[];
  /** Latest code sent to an address (case-insensitive), or undefined. */
  latestCode(destination: string): string | undefined;
  close(): Promise<void>;
}

export interface LocalCognitoOptions {
  dir: string;
  host: string;
  port: number;
  region: string;
  lambdaEndpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Trigger name (PostConfirmation, PreSignUp, …) → function name the Lambda service knows. */
  triggers: Record<string, string>;
  log?: (line: string) => void;
  /**
   * How cognito-local stores the pool: 'journal' (default; local/cognito-store.ts, a write costs O(its record)) or
   * 'stormdb' (as cognito-local ships: the whole pool file rewritten per write; bench/cognito-scale.ts compares).
   */
  store?: 'journal' | 'stormdb';
}

/**
 * cognito-local's sign-in reads the user, awaits the PostAuthentication trigger, then saves that *old* copy with the new
 * refresh token — overwriting whatever changed meanwhile (e.g. the custom:apiid onboarding just wrote). Real Cognito
 * has no such lost update, so re-read the user right before appending the token. Patched once per process.
 */
export function patchStaleRefreshTokenWrite(UserPoolServiceImpl: any): void {
  const proto = UserPoolServiceImpl.prototype;
  if (proto.__tollgateFreshRefreshTokenWrite) return;
  proto.__tollgateFreshRefreshTokenWrite = true;
  proto.storeRefreshToken = async function storeRefreshToken(ctx: unknown, refreshToken: string, user: { Username: string }) {
    const fresh = (await this.getUserByUsername(ctx, user.Username)) ?? user;
    const refreshTokens = Array.isArray(fresh.RefreshTokens) ? fresh.RefreshTokens : [];
    await this.saveUser(ctx, { ...fresh, RefreshTokens: [...refreshTokens, refreshToken] });
  };
}

/** The app client fields the write check needs (cognito-local's stored AppClient). */
interface AppClientRecord {
  ClientId: string;
  UserPoolId: string;
  WriteAttributes?: string[];
}

export interface WriteAttributesDeps {
  getAppClient(ctx: unknown, clientId: string): Promise<AppClientRecord | null | undefined>;
  /** cognito-local's NotAuthorizedError: its server answers 400 `{"__type":"NotAuthorizedException","message":…}`. */
  NotAuthorizedError: new (message?: string) => Error;
  /** The access token's claims if cognito-local signed it (RS256, its key) and it has not expired; throws otherwise. */
  verifyToken(token: string): Record<string, unknown>;
}

type Target = (ctx: unknown, req: any) => Promise<unknown>;
export type CognitoRouter = (target: string) => Target;

export const UNAUTHORIZED_ATTRIBUTE = 'A client attempted to write unauthorized attribute';

type Guard = (ctx: unknown, req: any) => Promise<void>;

/** The one way our patches wrap cognito-local's router: a guard runs before a target; a handler replaces one. */
function withGuards(router: CognitoRouter, guards: Record<string, Guard>, handlers: Record<string, Target> = {}): CognitoRouter {
  return (target) => {
    const own = handlers[target];
    if (own !== undefined) return own;
    const route = router(target);
    const guard = guards[target];
    if (guard === undefined) return route;
    return async (ctx, req) => {
      await guard(ctx, req);
      return route(ctx, req);
    };
  };
}

/**
 * cognito-local ignores an app client's WriteAttributes: any client may write any attribute, so a customer could point
 * `custom:apiid` at someone else's API key — with UpdateUserAttributes and their own access token, or in SignUp's
 * UserAttributes. Cognito refuses both: NotAuthorizedException "A client attempted to write unauthorized attribute"
 * (400) when an attribute is not in the client's WriteAttributes (checked only when the client sets WriteAttributes;
 * without it, the client may write the pool's attributes). This wraps those two targets of cognito-local's router:
 *
 * - SignUp: the client is the request's ClientId (an unknown one is left to cognito-local's own answer).
 * - UpdateUserAttributes: the client is the access token's `client_id`. cognito-local only *decodes* that token, so a
 *   forged one could name any client and any user; it is verified first — signed by cognito-local's key, not expired,
 *   `token_use` access, issued by the client's pool — or refused with NotAuthorizedException "Invalid Access Token",
 *   as Cognito does.
 *
 * The request is refused whole: nothing is written, not even the attributes the client may write. Tested end to end
 * in tests/abuse/auth-matrix.test.ts.
 */
export function enforceClientWriteAttributes(router: CognitoRouter, deps: WriteAttributesDeps): CognitoRouter {
  const checkWritable = (client: AppClientRecord, attributes: unknown): void => {
    const allowed = client.WriteAttributes;
    if (!Array.isArray(allowed) || allowed.length === 0 || !Array.isArray(attributes)) return;
    for (const attribute of attributes as { Name?: unknown }[]) {
      if (!allowed.includes(String(attribute?.Name))) throw new deps.NotAuthorizedError(UNAUTHORIZED_ATTRIBUTE);
    }
  };

  const guards: Record<string, Guard> = {
    SignUp: async (ctx, req) => {
      if (typeof req?.ClientId !== 'string') return;
      const client = await deps.getAppClient(ctx, req.ClientId);
      if (client) checkWritable(client, req.UserAttributes);
    },
    UpdateUserAttributes: async (ctx, req) => {
      const invalid = () => new deps.NotAuthorizedError('Invalid Access Token');
      let claims: Record<string, unknown>;
      try {
        claims = deps.verifyToken(String(req?.AccessToken ?? ''));
      } catch (error) {
        if ((error as { name?: string } | null)?.name === 'TokenExpiredError') throw new deps.NotAuthorizedError('Access Token has expired');
        throw invalid();
      }
      if (claims.token_use !== 'access' || typeof claims.client_id !== 'string') throw invalid();
      const client = await deps.getAppClient(ctx, claims.client_id);
      if (!client || claims.iss === undefined || !String(claims.iss).endsWith(`/${client.UserPoolId}`)) throw invalid();
      checkWritable(client, req.UserAttributes);
    },
  };

  return withGuards(router, guards);
}

/**
 * cognito-local answers AdminUpdateUserAttributes and AdminDeleteUserAttributes for a user that does not exist with
 * NotAuthorizedException; Cognito answers UserNotFoundException "User does not exist."
 * (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminUpdateUserAttributes.html,
 * Errors). Callers that handle a deleted user (key rotation, workflows) depend on the right name.
 */
export function answerUnknownUsersAsCognito(
  router: CognitoRouter,
  deps: Pick<SessionDeps, 'getUserPool' | 'UserNotFoundError'>,
): CognitoRouter {
  const userExists: Guard = async (ctx, req) => {
    const pool = await deps.getUserPool(ctx, String(req?.UserPoolId ?? '')).catch(() => undefined);
    if (pool && !(await pool.getUserByUsername(ctx, String(req?.Username ?? '')))) throw new deps.UserNotFoundError('User does not exist.');
  };
  return withGuards(router, { AdminUpdateUserAttributes: userExists, AdminDeleteUserAttributes: userExists });
}

/**
 * cognito-local compares usernames and aliases exactly, whatever the pool's `UsernameConfiguration.CaseSensitive`.
 * Cognito, with `CaseSensitive: false` (the template's setting), treats `Mixed.Case@Example.COM` and
 * `mixed.case@example.com` as one user: any casing signs in, and SignUp with another casing is UsernameExistsException
 * (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UsernameConfigurationType.html:
 * "False – Amazon Cognito treats usernames as case-insensitive ... the user can sign in with any combination of
 * uppercase and lowercase letters"; this holds for the username and for email/phone aliases). Every target finds users
 * through UserPoolServiceImpl.getUserByUsername, so this patch (once per process) makes that lookup fall back to a
 * case-insensitive match of username, `sub` and the pool's username attributes when the pool says so. Attribute values
 * keep the casing the user typed, as in Cognito. Pools without the setting stay case-sensitive (CreateUserPool's default).
 *
 * On a store with a user index (./cognito-store.ts, `usernamesWith`) the lookup reads the index instead of scanning
 * every user, as cognito-local does (O(users) per lookup, several per sign-up), with the same order of matches: the
 * username exactly, then `sub`, then the pool's username attributes (email, phone_number) exactly, then (case-insensitive
 * pools) any of those ignoring case.
 */
export function patchUserLookups(UserPoolServiceImpl: any): void {
  const proto = UserPoolServiceImpl.prototype;
  if (proto.__tollgateUserLookups) return;
  proto.__tollgateUserLookups = true;
  const scanningLookup = proto.getUserByUsername;
  type Attrs = { Name: string; Value?: string }[];
  type User = { Username: string; Attributes?: Attrs };
  proto.getUserByUsername = async function getUserByUsername(ctx: unknown, username: string) {
    const options = this.options as { UsernameConfiguration?: { CaseSensitive?: boolean }; UsernameAttributes?: string[] } | undefined;
    const caseInsensitive = options?.UsernameConfiguration?.CaseSensitive === false && typeof username === 'string';
    const aliases = ['sub', ...(options?.UsernameAttributes ?? []).filter((a) => a === 'email' || a === 'phone_number')] as UserKey[];
    const store = this.dataStore as { usernamesWith?: (key: UserKey, value: string) => string[]; get(ctx: unknown, key: string[]): Promise<User | null> };
    if (typeof store.usernamesWith !== 'function' || typeof username !== 'string') {
      const exact = await scanningLookup.call(this, ctx, username);
      if (exact || !caseInsensitive) return exact;
      const wanted = username.toLowerCase();
      const same = (value: unknown) => typeof value === 'string' && value.toLowerCase() === wanted;
      const users = (await this.listUsers(ctx)) as User[];
      return users.find((u) => same(u.Username) || (u.Attributes ?? []).some((a) => aliases.includes(a.Name as UserKey) && same(a.Value))) ?? null;
    }
    const byName = await store.get(ctx, ['Users', username]);
    if (byName) return byName;
    const valueOf = (u: User, key: UserKey) => (key === 'Username' ? u.Username : u.Attributes?.find((a) => a.Name === key)?.Value);
    const find = async (keys: UserKey[], matches: (value: string | undefined) => boolean): Promise<User | null> => {
      for (const key of keys) {
        for (const name of store.usernamesWith!(key, username)) {
          const user = await store.get(ctx, ['Users', name]);
          if (user && matches(valueOf(user, key))) return user;
        }
      }
      return null;
    };
    const exact = await find(aliases, (v) => v === username);
    if (exact || !caseInsensitive) return exact;
    const wanted = username.toLowerCase();
    return find(['Username', ...aliases], (v) => v?.toLowerCase() === wanted);
  };
}

export { passwordPolicyViolation, type PasswordPolicy } from '#shared/password-policy';

/**
 * Each operation's wording of InvalidPasswordException, as Cognito answers it (observed answers; the API reference
 * names only the exception): SignUp "Password did not conform with policy: <rule>", AdminCreateUser "Password did not
 * conform with password policy: <rule>", the others "Password does not conform to policy: <rule>".
 */
const POLICY_MESSAGE_PREFIX: Record<string, string> = {
  SignUp: 'Password did not conform with policy: ',
  AdminCreateUser: 'Password did not conform with password policy: ',
};
const DEFAULT_POLICY_MESSAGE_PREFIX = 'Password does not conform to policy: ';

export interface PoolPolicyDeps {
  getUserPool(ctx: unknown, userPoolId: string): Promise<{ options: { Policies?: { PasswordPolicy?: PasswordPolicy } } }>;
  getUserPoolForClientId(ctx: unknown, clientId: string): Promise<{ options: { Policies?: { PasswordPolicy?: PasswordPolicy } } }>;
  getAppClient(ctx: unknown, clientId: string): Promise<{ PreventUserExistenceErrors?: string } | null | undefined>;
  /** cognito-local's CognitoError: its server answers 400 `{"__type": code, "message": message}`. */
  cognitoError(code: string, message: string): Error;
  /** The access token's claims if cognito-local signed it and it has not expired; throws otherwise. */
  verifyToken(token: string): Record<string, unknown>;
}

/**
 * cognito-local accepts any password; Cognito checks every new password against the pool's `Policies.PasswordPolicy`
 * and answers InvalidPasswordException (400) naming the first broken rule
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/managing-users-passwords.html#user-pool-settings-policies).
 * Guarded: SignUp and ConfirmForgotPassword (`Password`, pool of `ClientId`), ChangePassword (`ProposedPassword`, pool
 * of the access token's client; an unverifiable token is left to the session guard), AdminSetUserPassword
 * (`Password`), AdminCreateUser (`TemporaryPassword`, when given), and NEW_PASSWORD_REQUIRED answers
 * (RespondToAuthChallenge / AdminRespondToAuthChallenge, `ChallengeResponses.NEW_PASSWORD`). Sign-in never checks
 * the policy, as in Cognito. The policy is the pool's, created from template.yaml: nothing here is hard-coded.
 */
export function enforcePasswordPolicy(router: CognitoRouter, deps: PoolPolicyDeps): CognitoRouter {
  type PoolOf = (ctx: unknown, req: any) => Promise<{ options: { Policies?: { PasswordPolicy?: PasswordPolicy } } } | undefined>;
  const byClient: PoolOf = (ctx, req) => deps.getUserPoolForClientId(ctx, String(req?.ClientId ?? '')).catch(() => undefined);
  const byPoolId: PoolOf = (ctx, req) => deps.getUserPool(ctx, String(req?.UserPoolId ?? '')).catch(() => undefined);
  const byAccessToken: PoolOf = async (ctx, req) => {
    let claims: Record<string, unknown>;
    try {
      claims = deps.verifyToken(String(req?.AccessToken ?? ''));
    } catch {
      return undefined;
    }
    return typeof claims.client_id === 'string' ? deps.getUserPoolForClientId(ctx, claims.client_id).catch(() => undefined) : undefined;
  };
  const newPassword = (req: any): unknown => (req?.ChallengeName === 'NEW_PASSWORD_REQUIRED' ? req?.ChallengeResponses?.NEW_PASSWORD : undefined);

  const checked = (target: string, poolOf: PoolOf, passwordOf: (req: any) => unknown): Guard => async (ctx, req) => {
    const password = passwordOf(req);
    if (typeof password !== 'string') return;
    const pool = await poolOf(ctx, req);
    if (!pool) return;
    const rule = passwordPolicyViolation(pool.options.Policies?.PasswordPolicy, password);
    if (rule !== undefined) throw deps.cognitoError('InvalidPasswordException', `${POLICY_MESSAGE_PREFIX[target] ?? DEFAULT_POLICY_MESSAGE_PREFIX}${rule}`);
  };

  const fields: Record<string, [PoolOf, (req: any) => unknown]> = {
    SignUp: [byClient, (req) => req?.Password],
    ConfirmForgotPassword: [byClient, (req) => req?.Password],
    ChangePassword: [byAccessToken, (req) => req?.ProposedPassword],
    AdminSetUserPassword: [byPoolId, (req) => req?.Password],
    AdminCreateUser: [byPoolId, (req) => req?.TemporaryPassword],
    RespondToAuthChallenge: [byClient, newPassword],
    AdminRespondToAuthChallenge: [byPoolId, newPassword],
  };
  const guards: Record<string, Guard> = {};
  for (const [target, [poolOf, passwordOf]] of Object.entries(fields)) guards[target] = checked(target, poolOf, passwordOf);
  return withGuards(router, guards);
}

/**
 * Cognito's masked code destination: first character, `***@`, the domain's first character, `***` (`test@example.com`
 * → `t***@e***`, as Cognito's SignUp / ForgotPassword answers show it).
 */
export function maskEmail(address: string): string {
  const at = address.lastIndexOf('@');
  if (at <= 0) return `${address.slice(0, 1)}***`;
  return `${address.slice(0, 1)}***@${address.slice(at + 1, at + 2)}***`;
}

/**
 * cognito-local answers ForgotPassword for an unknown user with UserNotFoundException, whatever the app client's
 * `PreventUserExistenceErrors`. With ENABLED (the template's client), Cognito answers as if it had sent a code:
 * "password recovery return[s] a response indicating a code was sent to a simulated destination"
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pool-managing-errors.html; API_UserPoolClientType.html).
 * So, for such a client: an unknown user gets `{CodeDeliveryDetails: {AttributeName: "email", DeliveryMedium:
 * "EMAIL", Destination: <masked username>}}` and nothing is sent; a known user gets cognito-local's answer with the
 * destination masked as Cognito masks it (cognito-local returns the address in clear), so the two look alike.
 * LEGACY clients keep cognito-local's answers.
 */
export function preventUserExistenceOnForgotPassword(router: CognitoRouter, deps: PoolPolicyDeps): CognitoRouter {
  const forgotPassword = router('ForgotPassword');
  return withGuards(router, {}, {
    ForgotPassword: async (ctx, req) => {
      const client = await deps.getAppClient(ctx, String(req?.ClientId ?? '')).catch(() => undefined);
      if (client?.PreventUserExistenceErrors !== 'ENABLED') return forgotPassword(ctx, req);
      let answer: { CodeDeliveryDetails?: { Destination?: string } };
      try {
        answer = (await forgotPassword(ctx, req)) as typeof answer;
      } catch (error) {
        if ((error as { code?: string } | null)?.code !== 'UserNotFoundException') throw error;
        const simulated = { AttributeName: 'email', DeliveryMedium: 'EMAIL', Destination: maskEmail(String(req?.Username ?? '')) };
        return { CodeDeliveryDetails: simulated };
      }
      const details = answer?.CodeDeliveryDetails;
      if (!details?.Destination) return answer;
      return { ...answer, CodeDeliveryDetails: { ...details, Destination: maskEmail(details.Destination) } };
    },
  });
}

/** What ResendConfirmationCode needs from cognito-local: the pool, the client's settings and its message sender. */
export interface ResendDeps extends Pick<PoolPolicyDeps, 'getAppClient' | 'cognitoError'> {
  getUserPoolForClientId(ctx: unknown, clientId: string): Promise<UserPoolRecord>;
  /** cognito-local's MessagesService.deliver (the CustomMessage trigger, then the outbox). */
  deliver(ctx: unknown, source: string, clientId: string, userPoolId: string, user: UserRecord, code: string, clientMetadata: unknown, details: CodeDeliveryDetails): Promise<void>;
  /** A new confirmation code (cognito-local's otp). */
  newCode(): string;
}

interface CodeDeliveryDetails {
  AttributeName: string;
  DeliveryMedium: 'EMAIL' | 'SMS';
  Destination: string;
}

/**
 * cognito-local has no ResendConfirmationCode (it answers "unsupported"). Cognito's
 * (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_ResendConfirmationCode.html):
 * an UNCONFIRMED user gets a new code (the CustomMessage trigger source is `CustomMessage_ResendCode`; the previous
 * code stops working) and the answer is `CodeDeliveryDetails`, the address masked; a user already confirmed is
 * InvalidParameterException "User is already confirmed." (Cognito's observed answer). An unknown or disabled user,
 * with the client's PreventUserExistenceErrors ENABLED (the template's), gets `CodeDeliveryDetails` with a simulated
 * destination and nothing is sent ("ResendConfirmationCode: Amazon Cognito returns CodeDeliveryDetails for a disabled
 * user or a user that doesn't exist", cognito-user-pool-managing-errors.html); with LEGACY, UserNotFoundException.
 */
export function resendConfirmationCode(router: CognitoRouter, deps: ResendDeps): CognitoRouter {
  return withGuards(router, {}, {
    ResendConfirmationCode: async (ctx, req) => {
      const clientId = String(req?.ClientId ?? '');
      const username = String(req?.Username ?? '');
      const pool = await deps.getUserPoolForClientId(ctx, clientId);
      const client = await deps.getAppClient(ctx, clientId).catch(() => undefined);
      const user = await pool.getUserByUsername(ctx, username);
      if (!user || user.Enabled === false) {
        if (client?.PreventUserExistenceErrors !== 'ENABLED') throw deps.cognitoError('UserNotFoundException', 'Username/client id combination not found.');
        return { CodeDeliveryDetails: { AttributeName: 'email', DeliveryMedium: 'EMAIL', Destination: maskEmail(username) } };
      }
      if (user.UserStatus !== 'UNCONFIRMED') throw deps.cognitoError('InvalidParameterException', 'User is already confirmed.');
      const email = user.Attributes?.find((a) => a.Name === 'email')?.Value;
      if (!email) throw deps.cognitoError('InvalidParameterException', 'User has no attribute matching desired auto verified attributes');
      const code = deps.newCode();
      const details: CodeDeliveryDetails = { AttributeName: 'email', DeliveryMedium: 'EMAIL', Destination: email };
      await deps.deliver(ctx, 'ResendCode', clientId, pool.options.Id, user, code, req?.ClientMetadata, details);
      await pool.saveUser(ctx, { ...user, ConfirmationCode: code });
      return { CodeDeliveryDetails: { ...details, Destination: maskEmail(email) } };
    },
  });
}

/** A cognito-local user record, with the fields the session checks read and write. */
interface UserRecord {
  Username: string;
  Attributes?: { Name: string; Value?: string }[];
  /** cognito-local: attribute changes waiting for VerifyUserAttribute (UserAttributeUpdateSettings). */
  UnverifiedAttributeChanges?: { Name: string; Value?: string }[];
  ConfirmationCode?: string;
  UserStatus?: string;
  Enabled?: boolean;
  Password?: string;
  RefreshTokens?: string[];
  /** Ours: refresh tokens ended by a global sign-out, so a later refresh can say "revoked" as Cognito does. */
  TollgateRevokedRefreshTokens?: string[];
  /** Ours: epoch seconds of the last global sign-out; access tokens issued before it are revoked. */
  TollgateGlobalSignOutAt?: number;
}

interface UserPoolRecord {
  options: { Id: string; AutoVerifiedAttributes?: string[] };
  getUserByUsername(ctx: unknown, username: string): Promise<UserRecord | null | undefined>;
  listUsers(ctx: unknown): Promise<UserRecord[]>;
  saveUser(ctx: unknown, user: UserRecord): Promise<void>;
}

export interface SessionDeps {
  getUserPool(ctx: unknown, userPoolId: string): Promise<UserPoolRecord>;
  getUserPoolForClientId(ctx: unknown, clientId: string): Promise<UserPoolRecord>;
  NotAuthorizedError: new (message?: string) => Error;
  UserNotFoundError: new (message?: string) => Error;
  /** The access token's claims if cognito-local signed it and it has not expired; throws otherwise. */
  verifyToken(token: string): Record<string, unknown>;
  /** Epoch milliseconds (injectable for tests). */
  now?: () => number;
}

/** Cognito's messages, from its API reference and observed answers (NotAuthorizedException, HTTP 400). */
export const USER_DISABLED = 'User is disabled.';
export const REFRESH_TOKEN_REVOKED = 'Refresh Token has been revoked';
export const ACCESS_TOKEN_REVOKED = 'Access Token has been revoked';

/** Targets that act on the caller's own access token (Cognito refuses a revoked one, or a disabled user's). */
const ACCESS_TOKEN_TARGETS = ['GetUser', 'ChangePassword', 'UpdateUserAttributes', 'DeleteUser', 'DeleteUserAttributes', 'VerifyUserAttribute', 'GetUserAttributeVerificationCode'];

/**
 * cognito-local answers "Unsupported" to GlobalSignOut and AdminUserGlobalSignOut, and lets a disabled user sign in
 * and refresh. Cognito (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_GlobalSignOut.html,
 * API_AdminUserGlobalSignOut.html, API_AdminDisableUser.html):
 *
 * - GlobalSignOut (the user's access token) / AdminUserGlobalSignOut (UserPoolId, Username) invalidate every refresh
 *   and access token issued to the user before the call; ID tokens stay valid until they expire (API Gateway's
 *   authorizer checks only signature and expiry, in AWS as here). A refresh with such a token answers
 *   NotAuthorizedException "Refresh Token has been revoked"; an access token, "Access Token has been revoked".
 * - After AdminDisableUser, InitiateAuth / AdminInitiateAuth (password or refresh token) answer NotAuthorizedException
 *   "User is disabled." (the password is checked first, so a wrong one still reads as a wrong password).
 *
 * Refresh tokens are exact (cognito-local keeps a list per user: sign-out moves them to a revoked list). Access tokens
 * carry `iat` in whole seconds: one issued in the same second as the sign-out is kept (ours; Cognito tracks each token).
 * Tested end to end in tests/integration/lifecycle.test.ts.
 */
export function enforceSessionRevocation(router: CognitoRouter, deps: SessionDeps): CognitoRouter {
  const now = deps.now ?? Date.now;
  const invalidAccessToken = () => new deps.NotAuthorizedError('Invalid Access Token');

  const signOutEverywhere = async (ctx: unknown, pool: UserPoolRecord, user: UserRecord): Promise<void> => {
    const fresh = (await pool.getUserByUsername(ctx, user.Username)) ?? user;
    await pool.saveUser(ctx, {
      ...fresh,
      RefreshTokens: [],
      TollgateRevokedRefreshTokens: [...(fresh.TollgateRevokedRefreshTokens ?? []), ...(fresh.RefreshTokens ?? [])],
      TollgateGlobalSignOutAt: Math.floor(now() / 1000),
    });
  };

  /** The user an access token names, if the token is genuine, unexpired, not revoked and the user enabled. */
  const accessTokenUser = async (ctx: unknown, token: unknown): Promise<{ pool: UserPoolRecord; user: UserRecord }> => {
    let claims: Record<string, unknown>;
    try {
      claims = deps.verifyToken(String(token ?? ''));
    } catch (error) {
      if ((error as { name?: string } | null)?.name === 'TokenExpiredError') throw new deps.NotAuthorizedError('Access Token has expired');
      throw invalidAccessToken();
    }
    if (claims.token_use !== 'access' || typeof claims.client_id !== 'string' || typeof claims.username !== 'string') throw invalidAccessToken();
    const pool = await deps.getUserPoolForClientId(ctx, claims.client_id).catch(() => undefined);
    const user = await pool?.getUserByUsername(ctx, claims.username);
    if (!pool || !user) throw invalidAccessToken();
    if (user.Enabled === false) throw new deps.NotAuthorizedError(USER_DISABLED);
    const signedOutAt = user.TollgateGlobalSignOutAt;
    if (typeof signedOutAt === 'number' && typeof claims.iat === 'number' && claims.iat < signedOutAt) {
      throw new deps.NotAuthorizedError(ACCESS_TOKEN_REVOKED);
    }
    return { pool, user };
  };

  /** Password and refresh flows: a disabled user is refused, a revoked refresh token named as such. */
  const checkAuth = async (ctx: unknown, pool: UserPoolRecord, flow: unknown, params: Record<string, unknown> | undefined): Promise<void> => {
    if (flow === 'REFRESH_TOKEN_AUTH' || flow === 'REFRESH_TOKEN') {
      const token = params?.REFRESH_TOKEN;
      if (typeof token !== 'string') return;
      const users = await pool.listUsers(ctx);
      const owner = users.find((u) => u.RefreshTokens?.includes(token));
      if (owner?.Enabled === false) throw new deps.NotAuthorizedError(USER_DISABLED);
      if (!owner && users.some((u) => u.TollgateRevokedRefreshTokens?.includes(token))) {
        throw new deps.NotAuthorizedError(REFRESH_TOKEN_REVOKED);
      }
      return;
    }
    const username = params?.USERNAME;
    if (typeof username !== 'string') return;
    const user = await pool.getUserByUsername(ctx, username);
    if (user?.Enabled === false && user.Password === params?.PASSWORD) throw new deps.NotAuthorizedError(USER_DISABLED);
  };

  const guards: Record<string, Guard> = {
    InitiateAuth: async (ctx, req) => {
      if (typeof req?.ClientId !== 'string') return;
      const pool = await deps.getUserPoolForClientId(ctx, req.ClientId).catch(() => undefined);
      if (pool) await checkAuth(ctx, pool, req.AuthFlow, req.AuthParameters);
    },
    AdminInitiateAuth: async (ctx, req) => {
      if (typeof req?.UserPoolId !== 'string') return;
      const pool = await deps.getUserPool(ctx, req.UserPoolId).catch(() => undefined);
      if (pool) await checkAuth(ctx, pool, req.AuthFlow, req.AuthParameters);
    },
  };
  for (const target of ACCESS_TOKEN_TARGETS) {
    guards[target] = async (ctx, req) => {
      await accessTokenUser(ctx, req?.AccessToken);
    };
  }

  /** Targets cognito-local lacks: answered here, in Cognito's shapes (an empty object on success). */
  const handlers: Record<string, Target> = {
    GlobalSignOut: async (ctx, req) => {
      const { pool, user } = await accessTokenUser(ctx, req?.AccessToken);
      await signOutEverywhere(ctx, pool, user);
      return {};
    },
    AdminUserGlobalSignOut: async (ctx, req) => {
      const pool = await deps.getUserPool(ctx, String(req?.UserPoolId ?? ''));
      const user = await pool.getUserByUsername(ctx, String(req?.Username ?? ''));
      if (!user) throw new deps.UserNotFoundError('User does not exist.');
      await signOutEverywhere(ctx, pool, user);
      return {};
    },
  };

  return withGuards(router, guards, handlers);
}

/**
 * cognito-local confirms a sign-up without marking the address verified; Cognito's ConfirmSignUp with the code it sent
 * to the user's email (AutoVerifiedAttributes: email) also verifies it, `email_verified: true`
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/signing-up-users-in-your-app.html, "Verifying contact
 * information at sign-up"). That matters: the ID token's `email_verified`, password recovery to a verified_email,
 * and a pending email change (UserAttributeUpdateSettings) keep the *verified* old address. The guard marks it before
 * cognito-local's own ConfirmSignUp runs (so PostConfirmation sees it, as in Cognito), and only when the code is right
 * (a wrong code is left to cognito-local's CodeMismatchException).
 */
export function verifyEmailOnConfirmSignUp(router: CognitoRouter, deps: Pick<SessionDeps, 'getUserPoolForClientId'>): CognitoRouter {
  return withGuards(router, {
    ConfirmSignUp: async (ctx, req) => {
      const pool = await deps.getUserPoolForClientId(ctx, String(req?.ClientId ?? '')).catch(() => undefined);
      if (!pool?.options.AutoVerifiedAttributes?.includes('email')) return;
      const user = await pool.getUserByUsername(ctx, String(req?.Username ?? ''));
      if (!user?.ConfirmationCode || user.ConfirmationCode !== req?.ConfirmationCode) return;
      const attributes = user.Attributes ?? [];
      if (!attributes.some((a) => a.Name === 'email' && a.Value)) return;
      const others = attributes.filter((a) => a.Name !== 'email_verified');
      await pool.saveUser(ctx, { ...user, Attributes: [...others, { Name: 'email_verified', Value: 'true' }] });
    },
  });
}

/** Cognito's answer when an email is already another user's sign-in address (AliasExistsException, 400). */
export const ALIAS_EXISTS = 'An account with the given email already exists.';

/**
 * cognito-local lets a user take an email that is already another user's sign-in address (UpdateUserAttributes, then
 * VerifyUserAttribute), after which two users answer to one address and sign-in picks either. Cognito keeps an email
 * username unique and refuses with AliasExistsException "An account with the given email already exists."
 * (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UpdateUserAttributes.html and
 * API_VerifyUserAttribute.html, Errors: "AliasExistsException … an account with this email or phone already exists").
 * Checked, for pools whose UsernameAttributes include email (with the pool's case rule: patchUserLookups),
 * on UpdateUserAttributes / AdminUpdateUserAttributes (the requested email) and on VerifyUserAttribute (the pending one,
 * which someone may have taken meanwhile). A token that cannot be verified is left to the session guard.
 */
export function enforceUniqueEmails(router: CognitoRouter, deps: Pick<SessionDeps, 'getUserPool' | 'getUserPoolForClientId' | 'verifyToken'> & Pick<PoolPolicyDeps, 'cognitoError'>): CognitoRouter {
  type Pool = Awaited<ReturnType<SessionDeps['getUserPool']>>;
  const refuseIfTaken = async (ctx: unknown, pool: Pool | undefined, self: UserRecord | null | undefined, email: unknown): Promise<void> => {
    if (!pool || !self || typeof email !== 'string' || email === '') return;
    if (!(pool.options as { UsernameAttributes?: string[] }).UsernameAttributes?.includes('email')) return;
    const owner = await pool.getUserByUsername(ctx, email);
    if (owner && owner.Username !== self.Username) throw deps.cognitoError('AliasExistsException', ALIAS_EXISTS);
  };
  const requestedEmail = (req: any): unknown => (req?.UserAttributes as { Name?: string; Value?: string }[] | undefined)?.find((a) => a?.Name === 'email')?.Value;
  const tokenUser = async (ctx: unknown, token: unknown): Promise<{ pool?: Pool; user?: UserRecord | null }> => {
    try {
      const claims = deps.verifyToken(String(token ?? ''));
      if (typeof claims.client_id !== 'string' || typeof claims.username !== 'string') return {};
      const pool = await deps.getUserPoolForClientId(ctx, claims.client_id);
      return { pool, user: await pool.getUserByUsername(ctx, claims.username) };
    } catch {
      return {};
    }
  };
  return withGuards(router, {
    UpdateUserAttributes: async (ctx, req) => {
      const { pool, user } = await tokenUser(ctx, req?.AccessToken);
      await refuseIfTaken(ctx, pool, user, requestedEmail(req));
    },
    AdminUpdateUserAttributes: async (ctx, req) => {
      const pool = await deps.getUserPool(ctx, String(req?.UserPoolId ?? '')).catch(() => undefined);
      await refuseIfTaken(ctx, pool, await pool?.getUserByUsername(ctx, String(req?.Username ?? '')), requestedEmail(req));
    },
    VerifyUserAttribute: async (ctx, req) => {
      if (req?.AttributeName !== 'email') return;
      const { pool, user } = await tokenUser(ctx, req?.AccessToken);
      const pending = user?.UnverifiedAttributeChanges?.find((a) => a.Name === 'email')?.Value;
      await refuseIfTaken(ctx, pool, user, pending);
    },
  });
}

/** SDK v2's and Node's names for a request that timed out. */
const TIMEOUT_CODES = new Set(['TimeoutError', 'ETIMEDOUT', 'ESOCKETTIMEDOUT', 'RequestTimeout']);

/** The part of a Lambda Invoke payload Cognito reads from a failed function: its `errorMessage`, if any. */
function functionErrorMessage(payload: unknown): string | undefined {
  try {
    const parsed = JSON.parse(String(payload ?? '')) as { errorMessage?: unknown } | null;
    return typeof parsed?.errorMessage === 'string' ? parsed.errorMessage : undefined;
  } catch {
    return undefined;
  }
}

/**
 * cognito-local's LambdaService names the FUNCTION in a failure (`<function> failed with error …`), drops the cause of
 * an invoke that failed (and calls it `UnexpectedLambdaExceptionException`, a name Cognito does not have), and words an
 * unreadable output its own way. This invoke answers as Cognito does (triggerMessages, functions/shared/cognito-messages.ts): the trigger named,
 * UnexpectedLambdaException with the cause, InvalidLambdaResponseException. The event is cognito-local's own
 * (createLambdaEvent). Patched once per process; `CognitoError` is cognito-local's (its server answers `{__type: code,
 * message}`, 400).
 */
export function patchTriggerErrors(LambdaServiceImpl: any, CognitoError: new (code: string, message: string) => Error): void {
  const proto = LambdaServiceImpl.prototype;
  if (proto.__tollgateTriggerErrors) return;
  proto.__tollgateTriggerErrors = true;
  // Our own invoke, not a wrapper: cognito-local's has already lost the cause of an invoke failure when it throws.
  proto.invoke = async function invoke(ctx: { logger: { error(...args: unknown[]): void } }, trigger: string, event: unknown) {
    const functionName = this.config[trigger] as string | undefined;
    if (!functionName) throw new Error(`${trigger} trigger not configured`);
    const lambdaEvent = this.createLambdaEvent(event);
    let result: { FunctionError?: string; Payload?: unknown };
    try {
      result = await this.lambdaClient.invoke({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: JSON.stringify(lambdaEvent) }).promise();
    } catch (error) {
      ctx.logger.error(error);
      const code = String((error as { code?: unknown } | null)?.code ?? (error as Error | null)?.name ?? 'Error');
      const cause = TIMEOUT_CODES.has(code) ? triggerMessages.socketTimeout : code;
      throw new CognitoError('UnexpectedLambdaException', triggerMessages.invocationFailed(trigger, cause));
    }
    if (result.FunctionError) {
      ctx.logger.error({ result }, result.FunctionError);
      const message = functionErrorMessage(result.Payload) ?? result.FunctionError;
      throw new CognitoError('UserLambdaValidationException', triggerMessages.functionError(trigger, message));
    }
    let output: unknown;
    try {
      output = JSON.parse(String(result.Payload ?? ''));
    } catch {
      output = undefined;
    }
    if (typeof output !== 'object' || output === null) throw new CognitoError('InvalidLambdaResponseException', triggerMessages.invalidOutput);
    return (output as { response?: unknown }).response;
  };
}

/** cognito-local's TriggersService: the two triggers whose failures it swallows. */
export interface SwallowingTriggers {
  postConfirmation: (ctx: unknown, params: TriggerParams) => Promise<void>;
  postAuthentication: (ctx: unknown, params: TriggerParams) => Promise<void>;
}

/** What cognito-local's targets pass a PostConfirmation / PostAuthentication trigger. */
export interface TriggerParams {
  clientId: string | null;
  clientMetadata?: Record<string, string>;
  source: string;
  userAttributes?: { Name: string; Value?: string }[];
  username: string;
  userPoolId: string;
}

/**
 * cognito-local catches and logs whatever its PostConfirmation and PostAuthentication triggers throw, so ConfirmSignUp,
 * ConfirmForgotPassword, AdminConfirmSignUp and the sign-ins answer success when the function failed. Cognito answers
 * the operation with the trigger's error instead (patchTriggerErrors' wording): a failed PostConfirmation makes
 * ConfirmSignUp answer UserLambdaValidationException "PostConfirmation failed with error <errorMessage>." (reported:
 * github.com/dabit3/full-stack-serverless-code/issues/108) — yet the user stays CONFIRMED, the status being saved before
 * the trigger runs ("the user is actually confirmed in the user pool", github.com/aws-amplify/amplify-cli/issues/2735;
 * Cognito invokes the trigger "after a signed-up user confirms their user account",
 * https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-post-confirmation.html), which is also
 * the order of cognito-local's targets. A failed PostAuthentication fails the sign-in ("you fail the call, which then
 * fails the authentication", AWS Mobile Blog "Tracking and remembering devices using Amazon Cognito your user pools",
 * quoted in github.com/aws-amplify/aws-sdk-ios/issues/1506;
 * an UnexpectedLambdaException at sign-in, github.com/furaiev/amazon-cognito-identity-dart-2/issues/204); cognito-local
 * runs it before issuing tokens, so none are issued. These two are replaced on the service instance with the same
 * Lambda event (cognito-local's `attributesToRecord`) and no catch. (PreSignUp already lets its error through; the
 * template has no CustomMessage trigger, whose failure cognito-local also swallows.)
 */
export function propagateTriggerFailures(
  triggers: SwallowingTriggers,
  lambda: { invoke(ctx: unknown, trigger: string, event: Record<string, unknown>): Promise<unknown> },
  attributesToRecord: (attributes: TriggerParams['userAttributes']) => Record<string, string>,
): void {
  const propagating = (trigger: 'PostConfirmation' | 'PostAuthentication') => async (ctx: unknown, params: TriggerParams) => {
    const { clientId, clientMetadata, source, userAttributes, username, userPoolId } = params;
    await lambda.invoke(ctx, trigger, { clientId, clientMetadata, triggerSource: source, userAttributes: attributesToRecord(userAttributes), username, userPoolId });
  };
  triggers.postConfirmation = propagating('PostConfirmation');
  triggers.postAuthentication = propagating('PostAuthentication');
}

/**
 * cognito-local answers ConfirmSignUp for a user already confirmed with ExpiredCodeException (the code is gone).
 * Cognito answers NotAuthorizedException "User cannot be confirmed. Current status is CONFIRMED" (reported:
 * github.com/furaiev/amazon-cognito-identity-dart-2/issues/80; the same wording as AdminConfirmSignUp's, which
 * cognito-local has), whatever the code. That answer matters after a failed PostConfirmation: the user is confirmed and
 * a retried confirmation must say so (functions/auth maps it to "already confirmed: sign in"). It reveals no more than
 * Cognito's ResendConfirmationCode ("User is already confirmed.") does for the same public client.
 */
export function refuseConfirmingConfirmedUsers(router: CognitoRouter, deps: Pick<SessionDeps, 'getUserPoolForClientId' | 'NotAuthorizedError'>): CognitoRouter {
  return withGuards(router, {
    ConfirmSignUp: async (ctx, req) => {
      const pool = await deps.getUserPoolForClientId(ctx, String(req?.ClientId ?? '')).catch(() => undefined);
      const user = await pool?.getUserByUsername(ctx, String(req?.Username ?? ''));
      if (user?.UserStatus !== undefined && user.UserStatus !== 'UNCONFIRMED') throw new deps.NotAuthorizedError(cannotConfirm(user.UserStatus));
    },
  });
}

export async function startCognito(opts: LocalCognitoOptions): Promise<LocalCognito> {
  const root = join(opts.dir, 'cognito');
  const dataDirectory = join(root, 'db');
  mkdirSync(dataDirectory, { recursive: true });
  const outboxFile = join(root, 'outbox.jsonl');
  const outbox: OutboxMessage[] = [];

  process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1'; // cognito-local still uses SDK v2
  const AWS = cognitoRequire('aws-sdk');
  const pino = cognitoRequire('pino');
  const services = lib('services');
  const { StormDBDataStoreFactory } = lib('services/dataStore/stormDb');
  const { CognitoServiceFactoryImpl } = lib('services/cognitoService');
  const { UserPoolServiceFactoryImpl, UserPoolServiceImpl } = lib('services/userPoolService');
  patchStaleRefreshTokenWrite(UserPoolServiceImpl);
  patchUserLookups(UserPoolServiceImpl);
  const { CryptoService } = lib('services/crypto');
  const { MessageDeliveryService } = lib('services/messageDelivery/messageDelivery');
  const { otp } = lib('services/otp');
  const { JwtTokenGenerator } = lib('services/tokenGenerator');
  const { Router } = lib('server/Router');
  const { createServer } = lib('server/server');
  const { DefaultConfig } = lib('server/config');

  const logger = pino({ level: process.env.COGNITO_LOCAL_DEBUG ? 'debug' : 'silent' });
  const config = {
    ...DefaultConfig,
    LambdaClient: { endpoint: opts.lambdaEndpoint, region: opts.region, credentials: opts.credentials, maxRetries: 0 },
    TriggerFunctions: opts.triggers,
    UserPoolDefaults: { UsernameAttributes: ['email'] },
    TokenConfig: { IssuerDomain: `http://${opts.host}:${opts.port}` },
    KMSConfig: { region: opts.region, credentials: opts.credentials },
    ServerConfig: { port: opts.port, hostname: opts.host, development: false, https: false },
  };
  const ctx = { logger };
  const clock = new services.DateClock();
  // cognito-local's own store rewrites the whole pool file per write (O(users)); the journal appends the write alone.
  const journal = opts.store === 'stormdb' ? undefined : new JournaledDataStoreFactory(dataDirectory);
  const dataStoreFactory = journal ?? new StormDBDataStoreFactory(dataDirectory);
  const cognitoServiceFactory = new CognitoServiceFactoryImpl(dataDirectory, dataStoreFactory, new UserPoolServiceFactoryImpl(clock, dataStoreFactory));
  const cognitoClient = await cognitoServiceFactory.create(ctx, config.UserPoolDefaults);
  const errors = lib('errors');
  patchTriggerErrors(services.LambdaService, errors.CognitoError);
  const lambdaService = new services.LambdaService(config.TriggerFunctions, new AWS.Lambda(config.LambdaClient));
  const triggers = new services.TriggersService(clock, cognitoClient, lambdaService, new CryptoService(config.KMSConfig));
  propagateTriggerFailures(triggers, lambdaService, lib('services/userPoolService').attributesToRecord);

  // cognito-local's sender is not told which operation sends the message: deliver() passes it along in the context.
  const SOURCE = Symbol('tollgate.messageSource');
  type Ctx = Record<string | symbol, unknown>;
  const record = (ctx: Ctx, medium: 'EMAIL' | 'SMS', user: { Username: string }, destination: string, message: { __code?: string; emailSubject?: string; emailMessage?: string; smsMessage?: string }) => {
    const source = ctx?.[SOURCE];
    const entry: OutboxMessage = {
      at: new Date().toISOString(),
      username: user.Username,
      destination,
      medium,
      ...(message.__code ? { code: message.__code } : {}),
      ...(typeof source === 'string' ? { triggerSource: `CustomMessage_${source}` } : {}),
      ...(message.emailSubject ? { subject: message.emailSubject } : {}),
      ...(message.emailMessage ?? message.smsMessage ? { body: message.emailMessage ?? message.smsMessage } : {}),
    };
    outbox.push(entry);
    appendFileSync(outboxFile, `${JSON.stringify(entry)}\n`);
    opts.log?.(`outbox: ${medium.toLowerCase()} to ${destination}${entry.code ? ` (code ${entry.code})` : ''}`);
  };
  const sender = {
    sendEmail: async (ctx: Ctx, user: { Username: string }, destination: string, message: object) => record(ctx, 'EMAIL', user, destination, message),
    sendSms: async (ctx: Ctx, user: { Username: string }, destination: string, message: object) => record(ctx, 'SMS', user, destination, message),
  };
  const messages = new services.MessagesService(triggers, new MessageDeliveryService(sender));
  const deliver = messages.deliver.bind(messages) as (ctx: Ctx, source: string, ...rest: unknown[]) => Promise<void>;
  messages.deliver = (ctx: Ctx, source: string, ...rest: unknown[]) => deliver({ ...ctx, [SOURCE]: source }, source, ...rest);

  const allServices = {
    clock,
    cognito: cognitoClient,
    config,
    messages,
    otp,
    tokenGenerator: new JwtTokenGenerator(clock, triggers, config.TokenConfig),
    triggers,
  };
  const jwt = cognitoRequire('jsonwebtoken');
  const publicKey = (cognitoRequire('./lib/keys/cognitoLocal.public.json') as { pem: string }).pem;
  const verifyToken = (token: string) => jwt.verify(token, publicKey, { algorithms: ['RS256'] }) as Record<string, unknown>;
  const writeChecked = enforceClientWriteAttributes(Router(allServices), {
    getAppClient: (c, clientId) => cognitoClient.getAppClient(c, clientId),
    NotAuthorizedError: errors.NotAuthorizedError,
    verifyToken,
  });
  const sessionDeps: SessionDeps = {
    getUserPool: async (c, userPoolId) => cognitoClient.getUserPool(c, userPoolId),
    getUserPoolForClientId: async (c, clientId) => cognitoClient.getUserPoolForClientId(c, clientId),
    NotAuthorizedError: errors.NotAuthorizedError,
    UserNotFoundError: errors.UserNotFoundError,
    verifyToken,
  };
  const policyDeps: PoolPolicyDeps = {
    getUserPool: async (c, userPoolId) => cognitoClient.getUserPool(c, userPoolId),
    getUserPoolForClientId: async (c, clientId) => cognitoClient.getUserPoolForClientId(c, clientId),
    getAppClient: (c, clientId) => cognitoClient.getAppClient(c, clientId),
    cognitoError: (code, message) => new errors.CognitoError(code, message),
    verifyToken,
  };
  // Session checks run first (a revoked token is refused before its new password is judged), as in Cognito.
  const policyChecked = enforceUniqueEmails(
    verifyEmailOnConfirmSignUp(preventUserExistenceOnForgotPassword(enforcePasswordPolicy(writeChecked, policyDeps), policyDeps), sessionDeps),
    { ...sessionDeps, cognitoError: policyDeps.cognitoError },
  );
  const resendChecked = resendConfirmationCode(policyChecked, {
    getUserPoolForClientId: async (c, clientId) => cognitoClient.getUserPoolForClientId(c, clientId),
    getAppClient: policyDeps.getAppClient,
    cognitoError: policyDeps.cognitoError,
    deliver: (c, source, ...rest) => messages.deliver(c, source, ...rest),
    newCode: () => otp(),
  });
  const router = answerUnknownUsersAsCognito(enforceSessionRevocation(refuseConfirmingConfirmedUsers(resendChecked, sessionDeps), sessionDeps), sessionDeps);
  const server = createServer(router, logger, config.ServerConfig, allServices);
  const httpServer: Server = await server.start();

  return {
    url: `http://${opts.host}:${opts.port}`,
    server: httpServer,
    outbox,
    latestCode: (destination) =>
      [...outbox].reverse().find((m) => m.destination.toLowerCase() === destination.toLowerCase() && m.code)?.code,
    close: async () => {
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections?.();
      });
      await journal?.close(); // the pools back in cognito-local's own file format, journals gone
    },
  };
}
