import {
  ConfirmForgotPasswordCommand,
  ConfirmSignUpCommand,
  ForgotPasswordCommand,
  InitiateAuthCommand,
  RespondToAuthChallengeCommand,
  RevokeTokenCommand,
  SignUpCommand,
  type AuthenticationResultType,
  type CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import { logger } from '#shared/logger';
import { authErrors, cognitoError, reportableOnForgotPassword, type AuthOperation } from './cognito-errors.ts';
import { secretHash } from './secret-hash.ts';

/**
 * Sign-up, confirmation, sign-in, refresh, sign-out and password reset against the server-side app client (the one
 * with a secret). Knows nothing of API Gateway: typed input in, a typed result or an HttpError out.
 */
export interface AuthDeps {
  cognito: CognitoIdentityProviderClient;
  clientId: string;
  /** Never returned, never logged: only SECRET_HASH values derived from it (and RevokeToken's ClientSecret) leave. */
  clientSecret: string;
}

export interface Credentials {
  email: string;
  password: string;
}

export interface SignInInput extends Credentials {
  /** Answers NEW_PASSWORD_REQUIRED (an invited user's first sign-in with the temporary password); otherwise unused. */
  newPassword?: string;
}

export interface CodeDelivery {
  destination?: string;
  deliveryMedium?: string;
  attributeName?: string;
}

export interface SignUpResult {
  userSub: string;
  userConfirmed: boolean;
  /** Where the confirmation code went; null when the user needs none (auto-confirmed). */
  codeDelivery: CodeDelivery | null;
}

export interface Tokens {
  idToken: string;
  accessToken: string;
  /** Sign-in always returns one; a refresh only when Cognito rotates it. */
  refreshToken?: string;
  /** Seconds the ID and access tokens are valid for. */
  expiresIn: number;
  tokenType: string;
  /**
   * The user's Cognito username: in this pool (email as username attribute) the `sub` UUID Cognito assigned, not the
   * email. A refresh needs it back, because the SECRET_HASH of REFRESH_TOKEN_AUTH is computed over it.
   */
  username: string;
}

async function call<T>(operation: AuthOperation, confidential: readonly string[], request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error: unknown) {
    throw cognitoError(operation, error, confidential);
  }
}

const hash = (deps: AuthDeps, username: string): string => secretHash(deps.clientSecret, deps.clientId, username);

/** The payload of a JWT Cognito just issued (not verified: it comes straight from Cognito over TLS). */
function claimsOf(token: string): Record<string, unknown> {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as unknown;
    return typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function tokensFrom(result: AuthenticationResultType | undefined, fallbackUsername: string): Tokens {
  if (!result?.IdToken || !result.AccessToken) {
    logger.error('Cognito answered without tokens');
    throw authErrors.internal();
  }
  const id = claimsOf(result.IdToken);
  const access = claimsOf(result.AccessToken);
  const lifetime = typeof access.exp === 'number' && typeof access.iat === 'number' ? access.exp - access.iat : undefined;
  return {
    idToken: result.IdToken,
    accessToken: result.AccessToken,
    ...(result.RefreshToken ? { refreshToken: result.RefreshToken } : {}),
    expiresIn: result.ExpiresIn ?? lifetime ?? 3600,
    tokenType: result.TokenType ?? 'Bearer',
    username: text(id['cognito:username']) ?? text(access.username) ?? fallbackUsername,
  };
}

export async function signUp(deps: AuthDeps, input: Credentials): Promise<SignUpResult> {
  const result = await call('signUp', [deps.clientSecret, input.password, input.email], () =>
    deps.cognito.send(
      new SignUpCommand({
        ClientId: deps.clientId,
        SecretHash: hash(deps, input.email),
        Username: input.email,
        Password: input.password,
        UserAttributes: [{ Name: 'email', Value: input.email }],
      }),
    ),
  );
  const delivery = result.CodeDeliveryDetails;
  return {
    userSub: result.UserSub ?? '',
    userConfirmed: result.UserConfirmed ?? false,
    codeDelivery: delivery
      ? {
          ...(delivery.Destination ? { destination: delivery.Destination } : {}),
          ...(delivery.DeliveryMedium ? { deliveryMedium: delivery.DeliveryMedium } : {}),
          ...(delivery.AttributeName ? { attributeName: delivery.AttributeName } : {}),
        }
      : null,
  };
}

export async function confirmSignUp(deps: AuthDeps, input: { email: string; code: string }): Promise<void> {
  await call('confirm', [deps.clientSecret, input.code, input.email], () =>
    deps.cognito.send(
      new ConfirmSignUpCommand({
        ClientId: deps.clientId,
        SecretHash: hash(deps, input.email),
        Username: input.email,
        ConfirmationCode: input.code,
      }),
    ),
  );
}

export async function signIn(deps: AuthDeps, input: SignInInput): Promise<Tokens> {
  const confidential = [deps.clientSecret, input.password, input.email, ...(input.newPassword ? [input.newPassword] : [])];
  const started = await call('signIn', confidential, () =>
    deps.cognito.send(
      new InitiateAuthCommand({
        ClientId: deps.clientId,
        AuthFlow: 'USER_PASSWORD_AUTH',
        // The alias the user typed (the email) is what this request names them by, so the hash is over it.
        AuthParameters: { USERNAME: input.email, PASSWORD: input.password, SECRET_HASH: hash(deps, input.email) },
      }),
    ),
  );
  if (started.AuthenticationResult) return tokensFrom(started.AuthenticationResult, input.email);

  const challenge = started.ChallengeName ?? 'UNKNOWN';
  if (challenge !== 'NEW_PASSWORD_REQUIRED') {
    logger.warn('Sign-in needs an unsupported challenge', { challenge });
    throw authErrors.unsupportedChallenge(challenge);
  }
  const newPassword = input.newPassword;
  if (newPassword === undefined) throw authErrors.newPasswordRequired();
  // A challenge response names the user by their real username (the sub), never by the alias: so does its hash.
  const username = text(started.ChallengeParameters?.USER_ID_FOR_SRP) ?? input.email;
  const answered = await call('newPassword', confidential, () =>
    deps.cognito.send(
      new RespondToAuthChallengeCommand({
        ClientId: deps.clientId,
        ChallengeName: 'NEW_PASSWORD_REQUIRED',
        Session: started.Session,
        ChallengeResponses: { USERNAME: username, NEW_PASSWORD: newPassword, SECRET_HASH: hash(deps, username) },
      }),
    ),
  );
  if (answered.AuthenticationResult) return tokensFrom(answered.AuthenticationResult, username);
  const next = answered.ChallengeName ?? 'UNKNOWN';
  logger.warn('Sign-in needs an unsupported challenge', { challenge: next });
  throw authErrors.unsupportedChallenge(next);
}

/**
 * New ID and access tokens from a refresh token. InitiateAuth REFRESH_TOKEN_AUTH: its SECRET_HASH is over the user's
 * username (the sub), which the caller sends back as sign-in returned it. (GetTokensFromRefreshToken would take the
 * client secret instead and need no username, but the offline Cognito does not implement it.)
 */
export async function refresh(deps: AuthDeps, input: { refreshToken: string; username: string }): Promise<Tokens> {
  const result = await call('refresh', [deps.clientSecret, input.refreshToken], () =>
    deps.cognito.send(
      new InitiateAuthCommand({
        ClientId: deps.clientId,
        AuthFlow: 'REFRESH_TOKEN_AUTH',
        AuthParameters: { REFRESH_TOKEN: input.refreshToken, SECRET_HASH: hash(deps, input.username) },
      }),
    ),
  );
  return tokensFrom(result.AuthenticationResult, input.username);
}

/** Revokes the refresh token (and the access tokens issued with it, for Cognito's own APIs). */
export async function signOut(deps: AuthDeps, input: { refreshToken: string }): Promise<void> {
  await call('signOut', [deps.clientSecret, input.refreshToken], () =>
    deps.cognito.send(new RevokeTokenCommand({ ClientId: deps.clientId, ClientSecret: deps.clientSecret, Token: input.refreshToken })),
  );
}

/**
 * Sends a reset code if the account exists. The caller learns nothing either way: every per-user answer (unknown
 * user, unconfirmed, no verified email, per-user limit) is swallowed; only our or Cognito's failure and the
 * service-wide rate limit are reported.
 */
export async function forgotPassword(deps: AuthDeps, input: { email: string }): Promise<void> {
  try {
    await deps.cognito.send(
      new ForgotPasswordCommand({ ClientId: deps.clientId, SecretHash: hash(deps, input.email), Username: input.email }),
    );
  } catch (error: unknown) {
    const mapped = cognitoError('forgotPassword', error, [deps.clientSecret, input.email]);
    if (reportableOnForgotPassword(mapped, error)) throw mapped;
  }
}

export async function resetPassword(deps: AuthDeps, input: { email: string; code: string; password: string }): Promise<void> {
  await call('resetPassword', [deps.clientSecret, input.code, input.password, input.email], () =>
    deps.cognito.send(
      new ConfirmForgotPasswordCommand({
        ClientId: deps.clientId,
        SecretHash: hash(deps, input.email),
        Username: input.email,
        ConfirmationCode: input.code,
        Password: input.password,
      }),
    ),
  );
}
