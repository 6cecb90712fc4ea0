// Over 400 lines: one function with seven /auth routes, each with its Cognito error mapping cases.
import { AUTH_CLIENT_ID as CLIENT_ID, AUTH_CLIENT_SECRET as CLIENT_SECRET } from './env.ts';
import {
  CognitoIdentityProviderClient,
  ConfirmForgotPasswordCommand,
  ConfirmSignUpCommand,
  ForgotPasswordCommand,
  InitiateAuthCommand,
  RespondToAuthChallengeCommand,
  RevokeTokenCommand,
  SignUpCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { createHmac } from 'node:crypto';
import { logger } from '#shared/logger';
import { EMAIL, SUB, bodyOf, captureOutput, context, loadEvent, withBody, type Body } from './helpers.ts';

import { handler } from '../../../functions/auth/handler.ts';
import { secretHash } from '../../../functions/auth/secret-hash.ts';

const cognito = mockClient(CognitoIdentityProviderClient);

// The fixtures' confidential values: none may appear in a log line, and the client secret in no response either.
const PASSWORD = 'Correct-Horse-42';
const NEW_PASSWORD = 'Correct-Horse-43';
const CODE = '824609';
const RESET_CODE = '371952';
const REFRESH_TOKEN = JSON.parse(loadEvent('auth-refresh').body ?? '{}').refreshToken as string;

/** SECRET_HASH computed here, independently of the function: HMAC-SHA256(secret, username + client id), base64. */
const expectedHash = (username: string): string =>
  createHmac('sha256', Buffer.from(CLIENT_SECRET, 'utf8')).update(Buffer.from(username + CLIENT_ID, 'utf8')).digest().toString('base64');

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = Math.floor(Date.now() / 1000);
const ID_TOKEN = `${b64url({ alg: 'RS256', kid: 'k' })}.${b64url({ sub: SUB, 'cognito:username': SUB, email: EMAIL, token_use: 'id', iat: now, exp: now + 3600 })}.SIGNATURE-ID`;
const ACCESS_TOKEN = `${b64url({ alg: 'RS256', kid: 'k' })}.${b64url({ sub: SUB, username: SUB, token_use: 'access', iat: now, exp: now + 1800 })}.SIGNATURE-ACCESS`;
const NEW_REFRESH_TOKEN = 'eyJjdHkiOiJKV1QifQ.NEW-REFRESH-TOKEN.IV.CIPHERTEXT.TAG';
const tokens = { IdToken: ID_TOKEN, AccessToken: ACCESS_TOKEN, RefreshToken: NEW_REFRESH_TOKEN, ExpiresIn: 3600, TokenType: 'Bearer' };

const CONFIDENTIAL = [CLIENT_SECRET, PASSWORD, NEW_PASSWORD, CODE, RESET_CODE, REFRESH_TOKEN, NEW_REFRESH_TOKEN, ID_TOKEN, ACCESS_TOKEN, 'SIGNATURE-ID', 'SIGNATURE-ACCESS'];

/** An error as the SDK throws it for a Cognito answer. */
function cognitoError(name: string, message = `${name} message`, fault: 'client' | 'server' = 'client'): Error {
  return Object.assign(new Error(message), { name, $fault: fault, $metadata: { httpStatusCode: fault === 'server' ? 500 : 400 } });
}

const call = (event: APIGatewayProxyEvent): Promise<APIGatewayProxyResult> => handler(event, context);
const post = (fixture: string, body?: unknown): Promise<APIGatewayProxyResult> =>
  call(body === undefined ? loadEvent(fixture) : withBody(loadEvent(fixture), body));

function expectError(result: APIGatewayProxyResult, status: number, expected: Body): void {
  expect(result.statusCode).toBe(status);
  expect(bodyOf(result)).toMatchObject({ ...expected, requestId: expect.any(String) });
  expect(result.body).not.toContain(CLIENT_SECRET);
  expect(result.body).not.toMatch(/stack|\bat .+\(.+:\d+:\d+\)/i);
}

/** A body without its requestId: two answers that must not tell two cases apart compare equal. */
const withoutRequestId = (result: APIGatewayProxyResult): Body => {
  const { requestId: _requestId, ...rest } = bodyOf(result);
  return { statusCode: result.statusCode, ...rest };
};

beforeEach(() => {
  cognito.reset();
});

describe('SECRET_HASH', () => {
  it('is Base64(HMAC-SHA256(key = client secret, message = username + client id))', () => {
    expect(secretHash(CLIENT_SECRET, CLIENT_ID, EMAIL)).toBe(expectedHash(EMAIL));
    // Fixed vectors, computed with Python's hmac/hashlib: the formula cannot drift with the test's own helper.
    expect(secretHash(CLIENT_SECRET, CLIENT_ID, EMAIL)).toBe('IFajU+0JLBQ3NlCKeLBOYozqeYLUS4GR5w8bbxAj9tc=');
    expect(secretHash(CLIENT_SECRET, CLIENT_ID, SUB)).toBe('OTIa5d3510izjPCsI8aC2mAXWjrLfQ76tnaGsWiRZCY=');
  });

  it('differs per username, so a refresh hash over the email would not be the one over the sub', () => {
    expect(secretHash(CLIENT_SECRET, CLIENT_ID, EMAIL)).not.toBe(secretHash(CLIENT_SECRET, CLIENT_ID, SUB));
  });
});

describe('POST /auth/sign-up', () => {
  it('signs the user up with SECRET_HASH over the email and answers 201', async () => {
    cognito.on(SignUpCommand).resolves({
      UserSub: SUB,
      UserConfirmed: false,
      CodeDeliveryDetails: { Destination: 'a***@e***', DeliveryMedium: 'EMAIL', AttributeName: 'email' },
    });

    const result = await post('auth-sign-up');

    expect(result.statusCode).toBe(201);
    expect(bodyOf(result)).toEqual({
      userSub: SUB,
      userConfirmed: false,
      codeDelivery: { destination: 'a***@e***', deliveryMedium: 'EMAIL', attributeName: 'email' },
    });
    expect(result.headers).toMatchObject({ 'Cache-Control': 'no-store', 'Content-Type': 'application/json' });
    expect(cognito).toHaveReceivedCommandWith(SignUpCommand, {
      ClientId: CLIENT_ID,
      SecretHash: expectedHash(EMAIL),
      Username: EMAIL,
      Password: PASSWORD,
      UserAttributes: [{ Name: 'email', Value: EMAIL }],
    });
  });

  it('trims and lower-cases the email, and answers codeDelivery null for an auto-confirmed user', async () => {
    cognito.on(SignUpCommand).resolves({ UserSub: SUB, UserConfirmed: true });

    const result = await post('auth-sign-up', { email: '  Ada@Example.COM ', password: PASSWORD });

    expect(bodyOf(result)).toEqual({ userSub: SUB, userConfirmed: true, codeDelivery: null });
    expect(cognito).toHaveReceivedCommandWith(SignUpCommand, { Username: EMAIL, SecretHash: expectedHash(EMAIL) });
  });

  it('409 when the email is registered already', async () => {
    cognito.on(SignUpCommand).rejects(cognitoError('UsernameExistsException', 'An account with the given email already exists.'));

    expectError(await post('auth-sign-up'), 409, {
      code: 'UsernameExists',
      details: { issues: [{ field: 'email', message: 'Is already registered' }] },
    });
  });

  it("400 naming the password, with Cognito's policy rule, when the password is too weak", async () => {
    cognito.on(SignUpCommand).rejects(cognitoError('InvalidPasswordException', 'Password did not conform with policy: Password must have uppercase characters'));

    expectError(await post('auth-sign-up'), 400, {
      code: 'InvalidPassword',
      message: 'Invalid password: Password must have uppercase characters',
      details: { issues: [{ field: 'password', message: 'Password must have uppercase characters' }] },
    });
  });

  it('400 naming the field Cognito refused a parameter for', async () => {
    cognito.on(SignUpCommand).rejects(cognitoError('InvalidParameterException', 'Invalid email address format.'));

    expectError(await post('auth-sign-up'), 400, { code: 'InvalidParameter', details: { issues: [{ field: 'email' }] } });
  });

  it('403 SignUpDisabled when the pool allows administrators only (InviteOnly=true)', async () => {
    cognito.on(SignUpCommand).rejects(cognitoError('NotAuthorizedException', 'SignUp is not permitted for this user pool'));

    expectError(await post('auth-sign-up'), 403, { code: 'SignUpDisabled' });
  });

  it('429 when Cognito throttles', async () => {
    cognito.on(SignUpCommand).rejects(cognitoError('TooManyRequestsException', 'Too many requests'));

    expectError(await post('auth-sign-up'), 429, { code: 'TooManyRequests' });
  });

  it('400 for malformed bodies, before Cognito is asked', async () => {
    const cases: [unknown, string][] = [
      [{ email: 'not-an-email', password: PASSWORD }, 'email'],
      [{ email: EMAIL, password: 'x'.repeat(257) }, 'password'],
      [{ email: EMAIL, password: '' }, 'password'],
      [{ email: EMAIL }, 'password'],
      [{ email: EMAIL, password: PASSWORD, role: 'admin' }, 'role'],
    ];
    for (const [body, field] of cases) {
      const result = await post('auth-sign-up', body);
      expect(result.statusCode).toBe(400);
      expect(bodyOf(result).details.issues.map((i: { field: string }) => i.field)).toContain(field);
    }
    expect((await call({ ...loadEvent('auth-sign-up'), body: null })).statusCode).toBe(400);
    expect((await call({ ...loadEvent('auth-sign-up'), body: '{not json' })).statusCode).toBe(400);
    expect(cognito.calls()).toHaveLength(0);
  });
});

describe('POST /auth/confirm', () => {
  it('confirms with SECRET_HASH over the email', async () => {
    cognito.on(ConfirmSignUpCommand).resolves({});

    const result = await post('auth-confirm');

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toMatchObject({ confirmed: true });
    expect(cognito).toHaveReceivedCommandWith(ConfirmSignUpCommand, {
      ClientId: CLIENT_ID,
      SecretHash: expectedHash(EMAIL),
      Username: EMAIL,
      ConfirmationCode: CODE,
    });
  });

  it('400 naming the code for a wrong or expired code', async () => {
    cognito.on(ConfirmSignUpCommand).rejectsOnce(cognitoError('CodeMismatchException')).rejectsOnce(cognitoError('ExpiredCodeException'));

    expectError(await post('auth-confirm'), 400, { code: 'CodeMismatch', details: { issues: [{ field: 'code' }] } });
    expectError(await post('auth-confirm'), 400, { code: 'ExpiredCode', details: { issues: [{ field: 'code' }] } });
  });

  it('answers an unknown email exactly like a wrong code', async () => {
    cognito
      .on(ConfirmSignUpCommand)
      .rejectsOnce(cognitoError('CodeMismatchException'))
      .rejectsOnce(cognitoError('UserNotFoundException'))
      .rejectsOnce(cognitoError('NotAuthorizedException'));

    const wrongCode = withoutRequestId(await post('auth-confirm'));
    expect(withoutRequestId(await post('auth-confirm'))).toEqual(wrongCode);
    expect(withoutRequestId(await post('auth-confirm'))).toEqual(wrongCode);
  });

  it('409 AlreadyConfirmed, naming sign-in, when Cognito says the user is confirmed already (either wording)', async () => {
    cognito
      .on(ConfirmSignUpCommand)
      .rejectsOnce(cognitoError('NotAuthorizedException', 'User cannot be confirmed. Current status is CONFIRMED'))
      .rejectsOnce(cognitoError('NotAuthorizedException', 'User cannot confirm because user status is not UNCONFIRMED.'));

    for (let i = 0; i < 2; i++) {
      expectError(await post('auth-confirm'), 409, {
        code: 'AlreadyConfirmed',
        message: 'This email address is already confirmed: sign in with POST /auth/sign-in',
        details: { issues: [{ field: 'email', message: 'Is already confirmed' }] },
      });
    }
  });

  it('503 AccountSetupPending when PostConfirmation failed (the user is confirmed: sign in); other triggers stay 503 ServiceUnavailable', async () => {
    cognito
      .on(ConfirmSignUpCommand)
      .rejectsOnce(cognitoError('UserLambdaValidationException', 'PostConfirmation failed with error Could not start onboarding.'))
      .rejectsOnce(cognitoError('UnexpectedLambdaException', 'PostConfirmation invocation failed due to error Socket timeout while invoking Lambda function.'))
      .rejectsOnce(cognitoError('InvalidLambdaResponseException', 'Invalid lambda function output : Invalid JSON'));

    for (let i = 0; i < 2; i++) {
      const answer = await post('auth-confirm');
      expectError(answer, 503, {
        code: 'AccountSetupPending',
        message: 'Your email address is confirmed, but your account could not be set up yet: sign in with POST /auth/sign-in to finish',
      });
      expect(answer.headers?.['Retry-After']).toBeUndefined();
    }
    // No trigger named: nothing is known about the confirmation.
    expectError(await post('auth-confirm'), 503, { code: 'ServiceUnavailable' });
  });

  it('429 after too many attempts', async () => {
    cognito.on(ConfirmSignUpCommand).rejectsOnce(cognitoError('TooManyFailedAttemptsException')).rejectsOnce(cognitoError('LimitExceededException'));

    expectError(await post('auth-confirm'), 429, { code: 'TooManyRequests' });
    expectError(await post('auth-confirm'), 429, { code: 'TooManyRequests' });
  });

  it('400 for a code that is not 6 to 8 digits', async () => {
    for (const code of ['12345', '123456789', '12a456', '']) {
      const result = await post('auth-confirm', { email: EMAIL, code });
      expect(result.statusCode).toBe(400);
      expect(bodyOf(result).details.issues).toEqual([{ field: 'code', message: 'Must be 6 to 8 digits' }]);
    }
    expect((await post('auth-confirm', { email: EMAIL, code: '12345678' })).statusCode).not.toBe(400);
  });
});

describe('POST /auth/sign-in', () => {
  it('answers the tokens and the Cognito username (the sub), with SECRET_HASH over the email', async () => {
    cognito.on(InitiateAuthCommand).resolves({ AuthenticationResult: tokens });

    const result = await post('auth-sign-in');

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({
      idToken: ID_TOKEN,
      accessToken: ACCESS_TOKEN,
      refreshToken: NEW_REFRESH_TOKEN,
      expiresIn: 3600,
      tokenType: 'Bearer',
      username: SUB,
    });
    expect(result.headers).toMatchObject({ 'Cache-Control': 'no-store' });
    expect(cognito).toHaveReceivedCommandWith(InitiateAuthCommand, {
      ClientId: CLIENT_ID,
      AuthFlow: 'USER_PASSWORD_AUTH',
      AuthParameters: { USERNAME: EMAIL, PASSWORD: PASSWORD, SECRET_HASH: expectedHash(EMAIL) },
    });
  });

  it('derives expiresIn from the access token and defaults tokenType when Cognito leaves them out', async () => {
    cognito.on(InitiateAuthCommand).resolves({ AuthenticationResult: { IdToken: ID_TOKEN, AccessToken: ACCESS_TOKEN, RefreshToken: NEW_REFRESH_TOKEN } });

    expect(bodyOf(await post('auth-sign-in'))).toMatchObject({ expiresIn: 1800, tokenType: 'Bearer', username: SUB });
  });

  it('answers a wrong password and an unknown email with the same 401', async () => {
    cognito
      .on(InitiateAuthCommand)
      .rejectsOnce(cognitoError('NotAuthorizedException', 'Incorrect username or password.'))
      .rejectsOnce(cognitoError('UserNotFoundException', 'User does not exist.'))
      // What cognito-local answers for a wrong password.
      .rejectsOnce(cognitoError('InvalidPasswordException', 'Invalid password'));

    const wrong = await post('auth-sign-in');
    expectError(wrong, 401, { code: 'NotAuthorized', message: 'Incorrect email or password' });
    expect(withoutRequestId(await post('auth-sign-in'))).toEqual(withoutRequestId(wrong));
    expect(withoutRequestId(await post('auth-sign-in'))).toEqual(withoutRequestId(wrong));
  });

  it('403 for an unconfirmed user and for one who must reset the password', async () => {
    cognito.on(InitiateAuthCommand).rejectsOnce(cognitoError('UserNotConfirmedException')).rejectsOnce(cognitoError('PasswordResetRequiredException'));

    expectError(await post('auth-sign-in'), 403, { code: 'UserNotConfirmed' });
    expectError(await post('auth-sign-in'), 403, { code: 'PasswordResetRequired' });
  });

  describe('an invited user (NEW_PASSWORD_REQUIRED)', () => {
    const challenge = {
      ChallengeName: 'NEW_PASSWORD_REQUIRED' as const,
      Session: 'EXAMPLE-SESSION',
      ChallengeParameters: { USER_ID_FOR_SRP: SUB, requiredAttributes: '[]' },
    };

    it('403 NewPasswordRequired without newPassword, and nothing else is sent to Cognito', async () => {
      cognito.on(InitiateAuthCommand).resolves(challenge);

      expectError(await post('auth-sign-in'), 403, {
        code: 'NewPasswordRequired',
        details: { issues: [{ field: 'newPassword', message: 'Is required for this sign-in' }] },
      });
      expect(cognito).not.toHaveReceivedCommand(RespondToAuthChallengeCommand);
    });

    it('answers the challenge with newPassword: USERNAME and SECRET_HASH are the sub, not the email', async () => {
      cognito.on(InitiateAuthCommand).resolves(challenge);
      cognito.on(RespondToAuthChallengeCommand).resolves({ AuthenticationResult: tokens });

      const result = await post('auth-sign-in', { email: EMAIL, password: PASSWORD, newPassword: NEW_PASSWORD });

      expect(result.statusCode).toBe(200);
      expect(bodyOf(result)).toMatchObject({ idToken: ID_TOKEN, refreshToken: NEW_REFRESH_TOKEN, username: SUB });
      expect(cognito).toHaveReceivedCommandWith(RespondToAuthChallengeCommand, {
        ClientId: CLIENT_ID,
        ChallengeName: 'NEW_PASSWORD_REQUIRED',
        Session: 'EXAMPLE-SESSION',
        ChallengeResponses: { USERNAME: SUB, NEW_PASSWORD: NEW_PASSWORD, SECRET_HASH: expectedHash(SUB) },
      });
    });

    it('400 naming newPassword when it breaks the policy', async () => {
      cognito.on(InitiateAuthCommand).resolves(challenge);
      cognito.on(RespondToAuthChallengeCommand).rejects(cognitoError('InvalidPasswordException', 'Password did not conform with policy: Password not long enough'));

      expectError(await post('auth-sign-in', { email: EMAIL, password: PASSWORD, newPassword: NEW_PASSWORD }), 400, {
        code: 'InvalidPassword',
        details: { issues: [{ field: 'newPassword', message: 'Password not long enough' }] },
      });
    });
  });

  it('403 ChallengeNotSupported for any other challenge', async () => {
    cognito.on(InitiateAuthCommand).resolves({ ChallengeName: 'SOFTWARE_TOKEN_MFA', Session: 's', ChallengeParameters: {} });

    expectError(await post('auth-sign-in'), 403, { code: 'ChallengeNotSupported', details: { challenge: 'SOFTWARE_TOKEN_MFA' } });
  });

  it('503 when Cognito fails or does not answer; a generic 500 for anything unexpected', async () => {
    cognito
      .on(InitiateAuthCommand)
      .rejectsOnce(cognitoError('InternalErrorException', 'boom', 'server'))
      .rejectsOnce(Object.assign(new Error('socket timed out'), { name: 'TimeoutError' }))
      .rejectsOnce(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9229'), { code: 'ECONNREFUSED' }))
      .rejectsOnce(cognitoError('UserLambdaValidationException', 'PostAuthentication failed with error boom.'))
      .rejectsOnce(cognitoError('ResourceNotFoundException', `User pool client ${CLIENT_ID} does not exist.`));

    for (let i = 0; i < 4; i++) {
      expectError(await post('auth-sign-in'), 503, {
        code: 'ServiceUnavailable',
        message: 'Authentication is temporarily unavailable: try again shortly',
      });
    }
    const unexpected = await post('auth-sign-in');
    expect(unexpected.statusCode).toBe(500);
    expect(bodyOf(unexpected)).toEqual({ message: 'Internal server error', code: 'InternalError', requestId: expect.any(String) });
  });
});

describe('POST /auth/refresh', () => {
  it('uses REFRESH_TOKEN_AUTH with SECRET_HASH over the username (the sub), never the email', async () => {
    cognito.on(InitiateAuthCommand).resolves({ AuthenticationResult: { IdToken: ID_TOKEN, AccessToken: ACCESS_TOKEN, ExpiresIn: 3600, TokenType: 'Bearer' } });

    const result = await post('auth-refresh');

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toEqual({ idToken: ID_TOKEN, accessToken: ACCESS_TOKEN, expiresIn: 3600, tokenType: 'Bearer', username: SUB });
    expect(cognito).toHaveReceivedCommandWith(InitiateAuthCommand, {
      ClientId: CLIENT_ID,
      AuthFlow: 'REFRESH_TOKEN_AUTH',
      AuthParameters: { REFRESH_TOKEN: REFRESH_TOKEN, SECRET_HASH: expectedHash(SUB) },
    });
    expect(JSON.stringify(cognito.calls()[0]?.args[0].input)).not.toContain(expectedHash(EMAIL));
  });

  it('passes a rotated refresh token on', async () => {
    cognito.on(InitiateAuthCommand).resolves({ AuthenticationResult: tokens });

    expect(bodyOf(await post('auth-refresh'))).toMatchObject({ refreshToken: NEW_REFRESH_TOKEN });
  });

  it('401 for an invalid, expired or revoked token (or a username it was not issued to)', async () => {
    cognito.on(InitiateAuthCommand).rejects(cognitoError('NotAuthorizedException', 'Refresh Token has been revoked'));

    expectError(await post('auth-refresh'), 401, { code: 'NotAuthorized' });
  });

  it('400 naming username or refreshToken when missing or malformed', async () => {
    const missing = await post('auth-refresh', { refreshToken: REFRESH_TOKEN });
    expect(missing.statusCode).toBe(400);
    expect(bodyOf(missing).details.issues).toEqual([{ field: 'username', message: expect.any(String) }]);

    const malformed = await post('auth-refresh', { refreshToken: 'not a token', username: SUB });
    expect(bodyOf(malformed).details.issues).toEqual([{ field: 'refreshToken', message: 'Is not a valid refresh token' }]);
    expect(cognito.calls()).toHaveLength(0);
  });
});

describe('POST /auth/sign-out', () => {
  it('revokes the refresh token with the client secret and answers 200', async () => {
    cognito.on(RevokeTokenCommand).resolves({});

    const result = await post('auth-sign-out');

    expect(result.statusCode).toBe(200);
    expect(bodyOf(result)).toMatchObject({ signedOut: true });
    expect(result.body).not.toContain(CLIENT_SECRET);
    expect(cognito).toHaveReceivedCommandWith(RevokeTokenCommand, { ClientId: CLIENT_ID, ClientSecret: CLIENT_SECRET, Token: REFRESH_TOKEN });
  });

  it('401 for a token that is not valid (any more)', async () => {
    cognito.on(RevokeTokenCommand).rejectsOnce(cognitoError('NotAuthorizedException')).rejectsOnce(cognitoError('UnsupportedTokenTypeException'));

    expectError(await post('auth-sign-out'), 401, { code: 'NotAuthorized' });
    expectError(await post('auth-sign-out'), 401, { code: 'NotAuthorized' });
  });

  it('429 when throttled', async () => {
    cognito.on(RevokeTokenCommand).rejects(cognitoError('TooManyRequestsException'));

    expectError(await post('auth-sign-out'), 429, { code: 'TooManyRequests' });
  });
});

describe('POST /auth/forgot-password', () => {
  const GENERIC = { message: 'If an account exists for this email, a reset code has been sent to it' };

  it('asks Cognito for a reset code with SECRET_HASH over the email and answers 202', async () => {
    cognito.on(ForgotPasswordCommand).resolves({ CodeDeliveryDetails: { Destination: 'a***@e***', DeliveryMedium: 'EMAIL', AttributeName: 'email' } });

    const result = await post('auth-forgot-password');

    expect(result.statusCode).toBe(202);
    expect(bodyOf(result)).toEqual(GENERIC);
    expect(cognito).toHaveReceivedCommandWith(ForgotPasswordCommand, { ClientId: CLIENT_ID, SecretHash: expectedHash(EMAIL), Username: EMAIL });
  });

  it.each(['UserNotFoundException', 'NotAuthorizedException', 'InvalidParameterException', 'LimitExceededException', 'UserNotConfirmedException'])(
    'answers the same 202 when Cognito says %s (whether the email is registered stays unknown)',
    async (name) => {
      cognito.on(ForgotPasswordCommand).rejects(cognitoError(name));

      const result = await post('auth-forgot-password');

      expect(result.statusCode).toBe(202);
      expect(bodyOf(result)).toEqual(GENERIC);
    },
  );

  it('reports the service-wide rate limit (429) and Cognito failures (503)', async () => {
    cognito.on(ForgotPasswordCommand).rejectsOnce(cognitoError('TooManyRequestsException')).rejectsOnce(cognitoError('InternalErrorException', 'x', 'server'));

    expectError(await post('auth-forgot-password'), 429, { code: 'TooManyRequests' });
    expectError(await post('auth-forgot-password'), 503, { code: 'ServiceUnavailable' });
  });
});

describe('POST /auth/reset-password', () => {
  it('sets the new password with the code and SECRET_HASH over the email', async () => {
    cognito.on(ConfirmForgotPasswordCommand).resolves({});

    const result = await post('auth-reset-password');

    expect(result.statusCode).toBe(200);
    expect(cognito).toHaveReceivedCommandWith(ConfirmForgotPasswordCommand, {
      ClientId: CLIENT_ID,
      SecretHash: expectedHash(EMAIL),
      Username: EMAIL,
      ConfirmationCode: RESET_CODE,
      Password: NEW_PASSWORD,
    });
  });

  it('400 naming the code (wrong, expired, or an unknown email: the same answer) or the password', async () => {
    cognito
      .on(ConfirmForgotPasswordCommand)
      .rejectsOnce(cognitoError('CodeMismatchException'))
      .rejectsOnce(cognitoError('UserNotFoundException'))
      .rejectsOnce(cognitoError('ExpiredCodeException'))
      .rejectsOnce(cognitoError('InvalidPasswordException', 'Password did not conform with policy: Password must have numeric characters'));

    const wrong = await post('auth-reset-password');
    expectError(wrong, 400, { code: 'CodeMismatch', details: { issues: [{ field: 'code' }] } });
    expect(withoutRequestId(await post('auth-reset-password'))).toEqual(withoutRequestId(wrong));
    expectError(await post('auth-reset-password'), 400, { code: 'ExpiredCode' });
    expectError(await post('auth-reset-password'), 400, {
      code: 'InvalidPassword',
      details: { issues: [{ field: 'password', message: 'Password must have numeric characters' }] },
    });
  });

  it('503 PasswordResetIncomplete on reset-password when PostConfirmation (the sign-out of old sessions) failed', async () => {
    cognito
      .on(ConfirmForgotPasswordCommand)
      .rejectsOnce(cognitoError('UserLambdaValidationException', 'PostConfirmation failed with error Rate exceeded.'));

    expectError(await post('auth-reset-password'), 503, {
      code: 'PasswordResetIncomplete',
      message: 'Your new password is set, but your other sessions could not be signed out: sign in with the new password, and reset it again to sign them out',
    });
  });

  it('400 naming the rule in ConfirmForgotPassword\'s own wording ("does not conform to policy")', async () => {
    cognito
      .on(ConfirmForgotPasswordCommand)
      .rejects(cognitoError('InvalidPasswordException', 'Password does not conform to policy: Password must have uppercase characters'));

    expectError(await post('auth-reset-password'), 400, {
      code: 'InvalidPassword',
      details: { issues: [{ field: 'password', message: 'Password must have uppercase characters' }] },
    });
  });

  it('429 after too many failed attempts', async () => {
    cognito.on(ConfirmForgotPasswordCommand).rejects(cognitoError('TooManyFailedAttemptsException'));

    expectError(await post('auth-reset-password'), 429, { code: 'TooManyRequests' });
  });
});

describe('confidential values', () => {
  /** Every fixture through success and through each kind of failure, with the logger at its most talkative. */
  async function everyPath(): Promise<APIGatewayProxyResult[]> {
    const results: APIGatewayProxyResult[] = [];
    const fixtures = ['auth-sign-up', 'auth-confirm', 'auth-sign-in', 'auth-refresh', 'auth-sign-out', 'auth-forgot-password', 'auth-reset-password'];
    const outcomes: (() => void)[] = [
      () => {
        cognito.on(SignUpCommand).resolves({ UserSub: SUB, UserConfirmed: false });
        cognito.on(ConfirmSignUpCommand).resolves({});
        cognito.on(InitiateAuthCommand).resolves({ AuthenticationResult: tokens });
        cognito.on(RevokeTokenCommand).resolves({});
        cognito.on(ForgotPasswordCommand).resolves({});
        cognito.on(ConfirmForgotPasswordCommand).resolves({});
      },
      // Suppose Cognito's messages quoted everything it was sent: the function must blank it before logging.
      ...['NotAuthorizedException', 'InvalidPasswordException', 'InvalidParameterException', 'CodeMismatchException', 'LimitExceededException'].map(
        (name) => () =>
          cognito.onAnyCommand().callsFake(async (input: unknown) => {
            throw cognitoError(name, `${name}: SecretHash does not match for ${CLIENT_ID}; request ${JSON.stringify(input)}`);
          }),
      ),
      () =>
        cognito.onAnyCommand().callsFake(async (input: unknown) => {
          throw cognitoError('InternalErrorException', `boom ${JSON.stringify(input)}`, 'server');
        }),
      () =>
        cognito.onAnyCommand().callsFake(async (input: unknown) => {
          throw new Error(`unexpected ${JSON.stringify(input)}`);
        }),
      () => cognito.onAnyCommand().resolves({ ChallengeName: 'NEW_PASSWORD_REQUIRED', Session: 's', ChallengeParameters: { USER_ID_FOR_SRP: SUB } }),
    ];
    for (const outcome of outcomes) {
      cognito.reset();
      outcome();
      for (const fixture of fixtures) results.push(await post(fixture));
      results.push(await post('auth-sign-in', { email: EMAIL, password: PASSWORD, newPassword: NEW_PASSWORD }));
    }
    return results;
  }

  it('never appear in a log line, and the client secret in no response', async () => {
    logger.setLogLevel('DEBUG');
    let results: APIGatewayProxyResult[] = [];
    const output = await captureOutput(async () => {
      results = await everyPath();
    });
    logger.setLogLevel('SILENT');

    expect(results.length).toBeGreaterThan(70);
    expect(output).toContain('Cognito refused the request');
    expect(output).toContain('Cognito request failed');
    const leaked = [...CONFIDENTIAL, expectedHash(EMAIL), expectedHash(SUB)].filter((value) => output.includes(value));
    expect(leaked).toEqual([]);
    const exposing = results.filter((r) => r.body.includes(CLIENT_SECRET) || r.body.includes(expectedHash(EMAIL)));
    expect(exposing).toEqual([]);
  });
});
