/**
 * The Cognito user-pool API called directly with fetch (JSON 1.1 over POST, `X-Amz-Target`), as the AWS SDK does,
 * for an app client without a secret. Offline the endpoint is the local Cognito; in AWS
 * https://cognito-idp.<region>.amazonaws.com/.
 */
import type { PortalConfig } from './config.ts';
import { triggerNamedIn } from '#shared/cognito-messages';

/** An error Cognito answered with: `name` is its type (UsernameExistsException, …), `message` its own words. */
export class CognitoError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'CognitoError';
  }
}

/**
 * The trigger a Cognito trigger failure names, or undefined (functions/shared/cognito-messages.ts). A failed
 * PostConfirmation leaves the user confirmed (the confirmation is saved before the trigger runs).
 */
export function failedTrigger(error: unknown): string | undefined {
  if (!(error instanceof CognitoError) || !['UserLambdaValidationException', 'UnexpectedLambdaException'].includes(error.type)) return undefined;
  return triggerNamedIn(error.message);
}

/** The service could not be reached at all (network, CORS, a stopped `npm start`). */
export class NetworkError extends Error {
  constructor(readonly service: 'cognito' | 'api' | 'outbox') {
    super(`${service} is unreachable`);
    this.name = 'NetworkError';
  }
}

export interface Tokens {
  idToken: string;
  accessToken: string;
  refreshToken: string;
  /** Epoch ms when the ID and access tokens expire. */
  expiresAt: number;
}

interface AuthenticationResult {
  IdToken?: string;
  AccessToken?: string;
  RefreshToken?: string;
  ExpiresIn?: number;
}

export class CognitoClient {
  constructor(private readonly config: PortalConfig) {}

  private async call<T>(action: string, body: Record<string, unknown>): Promise<T> {
    let response: Response;
    try {
      response = await fetch(this.config.cognitoEndpoint, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-amz-json-1.1',
          'X-Amz-Target': `AWSCognitoIdentityProviderService.${action}`,
        },
        body: JSON.stringify(body),
      });
    } catch {
      throw new NetworkError('cognito');
    }
    const text = await response.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = {};
    }
    if (!response.ok) {
      // `__type` is "UsernameExistsException" or "com.amazonaws…#UsernameExistsException"; AWS also sends the header.
      const rawType = String(parsed.__type ?? response.headers.get('x-amzn-errortype') ?? `HTTP${response.status}`);
      const type = rawType.split('#').pop()!.split(':')[0]!;
      const message = String(parsed.message ?? parsed.Message ?? '');
      throw new CognitoError(type, message);
    }
    return parsed as T;
  }

  async signUp(email: string, password: string): Promise<{ userConfirmed: boolean; destination?: string }> {
    const result = await this.call<{ UserConfirmed?: boolean; CodeDeliveryDetails?: { Destination?: string } }>('SignUp', {
      ClientId: this.config.userPoolClientId,
      Username: email,
      Password: password,
      UserAttributes: [{ Name: 'email', Value: email }],
    });
    const destination = result.CodeDeliveryDetails?.Destination;
    return { userConfirmed: result.UserConfirmed === true, ...(destination ? { destination } : {}) };
  }

  async confirmSignUp(email: string, code: string): Promise<void> {
    await this.call('ConfirmSignUp', { ClientId: this.config.userPoolClientId, Username: email, ConfirmationCode: code });
  }

  /**
   * A new sign-up code for an unconfirmed account (ResendConfirmationCode); the masked destination it went to. With
   * PreventUserExistenceErrors an unknown address answers the same way (nothing is sent); a confirmed account is
   * InvalidParameterException.
   */
  async resendConfirmationCode(email: string): Promise<{ destination?: string }> {
    const result = await this.call<{ CodeDeliveryDetails?: { Destination?: string } }>('ResendConfirmationCode', { ClientId: this.config.userPoolClientId, Username: email });
    const destination = result.CodeDeliveryDetails?.Destination;
    return destination ? { destination } : {};
  }

  async signIn(email: string, password: string): Promise<Tokens> {
    const result = await this.call<{ AuthenticationResult?: AuthenticationResult; ChallengeName?: string }>('InitiateAuth', {
      ClientId: this.config.userPoolClientId,
      AuthFlow: 'USER_PASSWORD_AUTH',
      AuthParameters: { USERNAME: email, PASSWORD: password },
    });
    if (result.ChallengeName) throw new CognitoError(`Challenge:${result.ChallengeName}`, result.ChallengeName);
    return tokensOf(result.AuthenticationResult);
  }

  /** New ID and access tokens (with the claims as they are now, e.g. `custom:apiid` once onboarding wrote it). */
  async refresh(refreshToken: string): Promise<Tokens> {
    const result = await this.call<{ AuthenticationResult?: AuthenticationResult }>('InitiateAuth', {
      ClientId: this.config.userPoolClientId,
      AuthFlow: 'REFRESH_TOKEN_AUTH',
      AuthParameters: { REFRESH_TOKEN: refreshToken },
    });
    return tokensOf(result.AuthenticationResult, refreshToken);
  }

  async forgotPassword(email: string): Promise<void> {
    await this.call('ForgotPassword', { ClientId: this.config.userPoolClientId, Username: email });
  }

  async confirmForgotPassword(email: string, code: string, password: string): Promise<void> {
    await this.call('ConfirmForgotPassword', {
      ClientId: this.config.userPoolClientId,
      Username: email,
      ConfirmationCode: code,
      Password: password,
    });
  }

  /** Changes the signed-in user's password (their access token). Cognito fires no trigger: sessions live on. */
  async changePassword(accessToken: string, previousPassword: string, proposedPassword: string): Promise<void> {
    await this.call('ChangePassword', { AccessToken: accessToken, PreviousPassword: previousPassword, ProposedPassword: proposedPassword });
  }

  /**
   * Asks to change the user's email (UpdateUserAttributes). The pool requires the new address to be verified first
   * (UserAttributeUpdateSettings): Cognito sends a code to it, and the old address stays in force until verifyEmail.
   */
  async changeEmail(accessToken: string, email: string): Promise<void> {
    await this.call('UpdateUserAttributes', { AccessToken: accessToken, UserAttributes: [{ Name: 'email', Value: email }] });
  }

  /** Verifies the new email with the code sent to it (VerifyUserAttribute): from then on it is the sign-in address. */
  async verifyEmail(accessToken: string, code: string): Promise<void> {
    await this.call('VerifyUserAttribute', { AccessToken: accessToken, AttributeName: 'email', Code: code });
  }

  /** Ends every session of the user: refresh and access tokens issued before stop working (ID tokens run out). */
  async globalSignOut(accessToken: string): Promise<void> {
    await this.call('GlobalSignOut', { AccessToken: accessToken });
  }

  /** Revokes the refresh token (and the tokens issued from it). */
  async revoke(refreshToken: string): Promise<void> {
    await this.call('RevokeToken', { ClientId: this.config.userPoolClientId, Token: refreshToken });
  }
}

function tokensOf(result: AuthenticationResult | undefined, previousRefreshToken?: string): Tokens {
  const refreshToken = result?.RefreshToken ?? previousRefreshToken;
  if (!result?.IdToken || !result.AccessToken || !refreshToken) throw new CognitoError('NoTokens', 'Cognito returned no tokens');
  return {
    idToken: result.IdToken,
    accessToken: result.AccessToken,
    refreshToken,
    expiresAt: Date.now() + (result.ExpiresIn ?? 3600) * 1000,
  };
}

/** The claims of a JWT (not verified: the API verifies; the portal only reads what to show). */
export function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split('.')[1];
  if (!payload) return {};
  try {
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(payload.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch {
    return {};
  }
}
