/**
 * Who gets in, with exact answers: every way a token can be wrong (401), every way a key can be wrong (403), another
 * customer's resource ids (404), the usage plan's burst and quota (429, on a stack with tiny limits), and the app
 * client's WriteAttributes — a customer cannot write custom:apiid (UpdateUserAttributes, SignUp), offline as in AWS.
 */
import { UpdateApiKeyCommand } from '@aws-sdk/client-api-gateway';
import {
  AdminCreateUserCommand,
  AdminGetUserCommand,
  AdminSetUserPasswordCommand,
  CreateUserPoolClientCommand,
  CreateUserPoolCommand,
  InitiateAuthCommand,
  SignUpCommand,
  UpdateUserAttributesCommand,
  VerifyUserAttributeCommand,
  type AttributeType,
} from '@aws-sdk/client-cognito-identity-provider';
import { createHmac } from 'node:crypto';
import { PASSWORD, signIn, startTestStack, uniqueEmail, type TestStack } from '../../local/harness/stack.ts';
import { call, cognitoLocalKey, decodeSegment, mintToken, onboardedUser, type Answer, type User } from './support.ts';

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const unauthorized = { status: 401, body: { message: 'Unauthorized' }, errorType: 'UnauthorizedException' };
const forbidden = { status: 403, body: { message: 'Forbidden' }, errorType: 'ForbiddenException' };

/** Flips one character in the middle of a segment (the last base64url character may only carry padding bits). */
function flipMiddle(segment: string): string {
  const i = Math.floor(segment.length / 2);
  return `${segment.slice(0, i)}${segment[i] === 'A' ? 'B' : 'A'}${segment.slice(i + 1)}`;
}

describe('auth matrix (default limits)', () => {
  let t: TestStack;
  let a: User;
  let b: User;
  let c: User;

  beforeAll(async () => {
    t = await startTestStack({ parameterOverrides: { FreeRateLimit: '10000', FreeBurstLimit: '10000', FreeQuotaLimit: '1000000' } });
    [a, b, c] = await Promise.all([onboardedUser(t, 'alice'), onboardedUser(t, 'bob'), onboardedUser(t, 'carol')]);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  /** A token from a second user pool in the same cognito-local: real, well signed, but not this API's pool. */
  async function otherPoolIdToken(): Promise<string> {
    const cognito = t.clients.cognito;
    const pool = await cognito.send(new CreateUserPoolCommand({ PoolName: 'abuse-other-pool' }));
    const poolId = pool.UserPool?.Id as string;
    const client = await cognito.send(
      new CreateUserPoolClientCommand({ UserPoolId: poolId, ClientName: 'other', ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH'] }),
    );
    const email = uniqueEmail('elsewhere');
    await cognito.send(
      new AdminCreateUserCommand({ UserPoolId: poolId, Username: email, MessageAction: 'SUPPRESS', TemporaryPassword: PASSWORD, UserAttributes: [{ Name: 'email', Value: email }] }),
    );
    await cognito.send(new AdminSetUserPasswordCommand({ UserPoolId: poolId, Username: email, Password: PASSWORD, Permanent: true }));
    const auth = await cognito.send(
      new InitiateAuthCommand({ ClientId: client.UserPoolClient?.ClientId, AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: email, PASSWORD } }),
    );
    return auth.AuthenticationResult?.IdToken as string;
  }

  it('answers 401 for every broken, foreign or wrong kind of token', async () => {
    const claims = decodeSegment(a.idToken, 1);
    const [h, p, s] = a.idToken.split('.') as [string, string, string];
    const now = Math.floor(Date.now() / 1000);
    const publicPem = cognitoLocalKey('public').pem;
    const hs256 = (() => {
      const input = `${b64url({ alg: 'HS256', typ: 'JWT', kid: 'CognitoLocal' })}.${p}`;
      return `${input}.${createHmac('sha256', publicPem).update(input).digest('base64url')}`;
    })();
    const tokens: Record<string, string | undefined> = {
      none: undefined,
      empty: '',
      garbage: 'not-a-jwt',
      bearerOnly: 'Bearer ',
      expired: mintToken({ ...claims, iat: now - 7200, auth_time: now - 7200, exp: now - 3600 }),
      tamperedSignature: `${h}.${p}.${flipMiddle(s)}`,
      tamperedPayload: `${h}.${b64url({ ...claims, sub: b.userId, 'custom:apiid': b.keyId })}.${s}`,
      algNone: `${b64url({ alg: 'none', typ: 'JWT' })}.${p}.`,
      algNoneKeepingSignature: `${b64url({ alg: 'none', typ: 'JWT' })}.${p}.${s}`,
      algNoneUpperCase: `${b64url({ alg: 'NONE', typ: 'JWT' })}.${p}.`,
      hs256WithThePublicKey: hs256,
      unknownKid: mintToken(claims, { alg: 'RS256', typ: 'JWT', kid: 'someone-else' }),
      wrongIssuer: mintToken({ ...claims, iss: `${t.stack.endpoints.cognito}/us-east-1_Elsewhere` }),
      wrongAudience: mintToken({ ...claims, aud: 'not-a-client-of-this-pool' }),
      notYetValid: mintToken({ ...claims, nbf: now + 3600 }),
      otherPool: await otherPoolIdToken(),
      accessTokenInsteadOfIdToken: a.accessToken,
      refreshTokenInsteadOfIdToken: (await signIn(t, a.email)).refreshToken,
    };
    // The data API's authorizer (KeyAuthorizer) looks at the key only: its function verifies the token and answers with its JSON error body. /me… keeps
    // API Gateway's Cognito authorizer. Both refuse every one of these tokens.
    const answers: Record<string, Answer> = {};
    const gatewayAnswers: Record<string, Answer> = {};
    for (const [name, token] of Object.entries(tokens)) {
      answers[name] = await call(t, '/links', { ...(token !== undefined ? { token } : {}), key: a.key });
      gatewayAnswers[name] = await call(t, '/me', token !== undefined ? { token } : {});
    }

    const byFunction = { status: 401, body: { message: 'Unauthorized', code: 'Unauthorized', requestId: expect.any(String) }, errorType: null };
    const expected = Object.fromEntries(Object.keys(tokens).map((name) => [name, byFunction]));
    expected.expired = { status: 401, body: { message: 'The incoming token has expired', code: 'TokenExpired', requestId: expect.any(String) }, errorType: null };
    expect(answers).toEqual(expected);
    const expectedGateway = Object.fromEntries(Object.keys(tokens).map((name) => [name, unauthorized]));
    expectedGateway.expired = { status: 401, body: { message: 'The incoming token has expired' }, errorType: 'UnauthorizedException' };
    expect(gatewayAnswers).toEqual(expectedGateway);

    // Controls: the same minting with a future exp is accepted, and so is the real token with or without "Bearer".
    const fresh = mintToken({ ...claims, iat: now, exp: now + 600 });
    expect((await call(t, '/links', { token: fresh, key: a.key })).status).toBe(200);
    expect((await call(t, '/links', { token: a.idToken, key: a.key })).status).toBe(200);
    expect((await call(t, '/links', { token: `Bearer ${a.idToken}`, key: a.key })).status).toBe(200);
  }, 30_000);

  // Without a key (or an empty one) the data routes' KeyAuthorizer is not even invoked: its identity source (X-Api-Key)
  // is missing, and API Gateway answers 401 ("Configure a Lambda authorizer"). A key that is no key of a plan is 403.
  it('answers 401 without a key, 403 with an unknown or disabled key and with another customer\'s key', async () => {
    const answers = {
      noKey: await call(t, '/links', { token: a.idToken }),
      emptyKey: await call(t, '/links', { token: a.idToken, key: '' }),
      unknownKey: await call(t, '/links', { token: a.idToken, key: 'not-a-key-at-all-0000000000000000000000' }),
      keyIdInsteadOfValue: await call(t, '/links', { token: a.idToken, key: a.keyId }),
    };
    expect(answers).toEqual({ noKey: unauthorized, emptyKey: unauthorized, unknownKey: forbidden, keyIdInsteadOfValue: forbidden });

    // Another customer's (valid, enabled) key: API Gateway lets it through; the handler refuses it.
    const stolen = await call(t, '/links', { token: a.idToken, key: b.key });
    expect(stolen.status).toBe(403);
    expect(stolen.body).toMatchObject({ message: 'The API key does not belong to the signed-in user', code: 'Forbidden' });
    expect(stolen.errorType).toBeNull();
    // … on every data API function, not only /links.
    const stolenElsewhere = await Promise.all(
      ['/tags', '/tags/some-tag/links'].map(async (path) => (await call(t, path, { token: a.idToken, key: b.key })).status),
    );
    expect(stolenElsewhere).toEqual([403, 403]);
    // Account management needs no key and ignores one sent along: Alice's token gets Alice's own account, never Bob's.
    const usage = await call(t, '/me/usage?from=2026-01-01&to=2026-01-02', { token: a.idToken, key: b.key });
    expect({ status: usage.status, keyId: usage.body.keyId }).toEqual({ status: 200, keyId: a.keyId });

    // A disabled key (UpdateApiKey enabled=false through the control plane) is refused by the gateway, then works again.
    const setEnabled = (enabled: boolean) =>
      t.clients.apigateway.send(new UpdateApiKeyCommand({ apiKey: c.keyId, patchOperations: [{ op: 'replace', path: '/enabled', value: String(enabled) }] }));
    await setEnabled(false);
    expect(await call(t, '/links', { token: c.idToken, key: c.key })).toEqual(forbidden);
    await setEnabled(true);
    expect((await call(t, '/links', { token: c.idToken, key: c.key })).status).toBe(200);
  }, 30_000);

  it('answers 404 for another customer\'s links, tags and plan changes, and leaves them alone', async () => {
    const link = await call(t, '/links', { token: a.idToken, key: a.key, method: 'POST', body: { url: 'https://example.com/alice' } });
    const tag = await call(t, '/tags', { token: a.idToken, key: a.key, method: 'POST', body: { name: 'alice-only' } });
    expect([link.status, tag.status]).toEqual([201, 201]);
    const linkId = link.body.id as string;
    const tagId = tag.body.id as string;
    expect((await call(t, '/taglinks', { token: a.idToken, key: a.key, method: 'POST', body: { tagId, linkId } })).status).toBe(201);
    const change = await call(t, '/me/plan', { token: a.idToken, key: a.key, method: 'POST', body: { plan: 'basic' } });
    expect(change.status).toBe(202);
    const executionId = change.body.executionId as string;
    // Let the plan change finish first: between its DeleteUsagePlanKey and CreateUsagePlanKey the key is in no usage
    // plan, and the gateway refuses it (403) for that moment, as API Gateway would. Isolation is this test's subject.
    const deadline = Date.now() + 20_000;
    let status = 'RUNNING';
    while (status === 'RUNNING' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25));
      status = (await call(t, `/me/plan-changes/${executionId}`, { token: a.idToken })).body.status as string;
    }
    expect(status).toBe('SUCCEEDED');

    const asBob = { token: b.idToken, key: b.key };
    const answers = {
      getLink: (await call(t, `/links/${linkId}`, asBob)).status,
      deleteLink: (await call(t, `/links/${linkId}`, { ...asBob, method: 'DELETE' })).status,
      getTag: (await call(t, `/tags/${tagId}`, asBob)).status,
      linksOfTag: (await call(t, `/tags/${tagId}/links`, asBob)).status,
      deleteTag: (await call(t, `/tags/${tagId}`, { ...asBob, method: 'DELETE' })).status,
      tagLink: (await call(t, '/taglinks', { ...asBob, method: 'POST', body: { tagId, linkId } })).status,
      planChange: (await call(t, `/me/plan-changes/${executionId}`, asBob)).status,
    };
    expect(answers).toEqual({ getLink: 404, deleteLink: 404, getTag: 404, linksOfTag: 404, deleteTag: 404, tagLink: 404, planChange: 404 });
    // Bob's own lists do not show them; Alice still has all of it.
    expect((await call(t, '/links', asBob)).body.items).toEqual([]);
    expect((await call(t, '/tags', asBob)).body.items).toEqual([]);
    const asAlice = { token: a.idToken, key: a.key };
    expect((await call(t, `/links/${linkId}`, asAlice)).status).toBe(200);
    expect((await call(t, `/tags/${tagId}/links`, asAlice)).body.items).toEqual([expect.objectContaining({ id: linkId })]);
    expect((await call(t, `/me/plan-changes/${executionId}`, asAlice)).status).toBe(200);
  }, 30_000);

  describe('the app client cannot write custom:apiid', () => {
    const apiidOf = async (email: string) => {
      const user = await t.clients.cognito.send(new AdminGetUserCommand({ UserPoolId: t.stack.userPoolId, Username: email }));
      const attributes = Object.fromEntries((user.UserAttributes ?? []).map((x) => [x.Name, x.Value]));
      return { apiid: attributes['custom:apiid'], email: attributes.email };
    };
    const refusal = (promise: Promise<unknown>) =>
      promise.then(
        () => 'accepted',
        (error: Error) => `${error.name}: ${error.message}`,
      );
    const UNAUTHORIZED_ATTRIBUTE = 'NotAuthorizedException: A client attempted to write unauthorized attribute';

    it('refuses UpdateUserAttributes of custom:apiid with the user\'s access token, and changes nothing', async () => {
      const update = (accessToken: string, attributes: AttributeType[]) =>
        refusal(t.clients.cognito.send(new UpdateUserAttributesCommand({ AccessToken: accessToken, UserAttributes: attributes })));
      const before = await apiidOf(a.email);
      expect(before.apiid).toBe(a.keyId);

      expect(await update(a.accessToken, [{ Name: 'custom:apiid', Value: b.keyId }])).toBe(UNAUTHORIZED_ATTRIBUTE);
      // All or nothing: an allowed attribute next to it is not written either.
      expect(await update(a.accessToken, [{ Name: 'email', Value: uniqueEmail('moved') }, { Name: 'custom:apiid', Value: b.keyId }])).toBe(UNAUTHORIZED_ATTRIBUTE);
      expect(await update(a.accessToken, [{ Name: 'email_verified', Value: 'true' }])).toBe(UNAUTHORIZED_ATTRIBUTE);
      expect(await update(a.accessToken, [{ Name: 'sub', Value: b.userId }])).toBe(UNAUTHORIZED_ATTRIBUTE);
      expect(await apiidOf(a.email)).toEqual(before);
      expect(decodeSegment((await signIn(t, a.email)).idToken, 1)['custom:apiid']).toBe(a.keyId);
      // With the stolen key, Alice's token still gets nowhere.
      expect((await call(t, '/links', { token: a.idToken, key: b.key })).status).toBe(403);

      // The access token decides which client is asking, so it has to be genuine (cognito-local only decoded it).
      const access = decodeSegment(a.accessToken, 1);
      const [h, , s] = a.accessToken.split('.') as [string, string, string];
      const forged = {
        tampered: `${h}.${b64url({ ...access, sub: b.userId })}.${s}`,
        algNone: `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ ...access, sub: b.userId })}.`,
        idToken: a.idToken,
        expired: mintToken({ ...access, iat: Number(access.iat) - 7200, exp: Number(access.iat) - 3600 }),
      };
      for (const token of Object.values(forged)) {
        expect(await update(token, [{ Name: 'email', Value: uniqueEmail('hijack') }])).toMatch(/^NotAuthorizedException: /);
      }
      expect((await apiidOf(b.email)).email).toBe(b.email);
    }, 30_000);

    it('still lets the user write what the client may write (email)', async () => {
      const user = await onboardedUser(t, 'mover');
      const moved = uniqueEmail('moved');
      const result = await t.clients.cognito.send(new UpdateUserAttributesCommand({ AccessToken: user.accessToken, UserAttributes: [{ Name: 'email', Value: moved }] }));
      expect(result.$metadata.httpStatusCode).toBe(200);
      // The pool applies a new email once it is verified (UserAttributeUpdateSettings; tests/integration/email-change.test.ts).
      const code = t.stack.cognito.latestCode(moved) as string;
      await t.clients.cognito.send(new VerifyUserAttributeCommand({ AccessToken: user.accessToken, AttributeName: 'email', Code: code }));
      expect(await apiidOf(moved)).toEqual({ apiid: user.keyId, email: moved });
    }, 30_000);

    it('refuses SignUp with custom:apiid (or sub, or email_verified) in UserAttributes, and creates no user', async () => {
      const signUp = (email: string, extra: AttributeType[]) =>
        refusal(
          t.clients.cognito.send(
            new SignUpCommand({ ClientId: t.stack.userPoolClientId, Username: email, Password: PASSWORD, UserAttributes: [{ Name: 'email', Value: email }, ...extra] }),
          ),
        );
      const emails = [uniqueEmail('squatter'), uniqueEmail('subsquatter'), uniqueEmail('selfverified')];
      expect(await signUp(emails[0]!, [{ Name: 'custom:apiid', Value: a.keyId }])).toBe(UNAUTHORIZED_ATTRIBUTE);
      expect(await signUp(emails[1]!, [{ Name: 'sub', Value: a.userId }])).toBe(UNAUTHORIZED_ATTRIBUTE);
      expect(await signUp(emails[2]!, [{ Name: 'email_verified', Value: 'true' }])).toBe(UNAUTHORIZED_ATTRIBUTE);
      for (const email of emails) {
        await expect(t.clients.cognito.send(new AdminGetUserCommand({ UserPoolId: t.stack.userPoolId, Username: email }))).rejects.toHaveProperty('name', 'UserNotFoundException');
      }
      // The same sign-up without the extra attribute goes through.
      expect(await signUp(emails[0]!, [])).toBe('accepted');
    }, 30_000);
  });
});

describe('usage plan limits (tiny burst and quota)', () => {
  let t: TestStack;

  beforeAll(async () => {
    t = await startTestStack({ parameterOverrides: { FreeRateLimit: '1', FreeBurstLimit: '3', FreeQuotaLimit: '3', FreeQuotaPeriod: 'DAY' } });
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('answers 429 Too Many Requests past the burst', async () => {
    const user = await onboardedUser(t, 'burst');
    const answers = await Promise.all(Array.from({ length: 8 }, () => call(t, '/links', { token: user.idToken, key: user.key })));
    const statuses = answers.map((x) => x.status).sort();
    expect(statuses).toEqual([200, 200, 200, 429, 429, 429, 429, 429]);
    expect(answers.find((x) => x.status === 429)).toEqual({ status: 429, body: { message: 'Too Many Requests' }, errorType: 'TooManyRequestsException' });
  }, 30_000);

  it('answers 429 Limit Exceeded past the quota, whatever the throttle allows', async () => {
    const user = await onboardedUser(t, 'quota');
    const first = [];
    for (let i = 0; i < 3; i++) first.push((await call(t, '/links', { token: user.idToken, key: user.key })).status);
    expect(first).toEqual([200, 200, 200]);
    await new Promise((resolve) => setTimeout(resolve, 1_200)); // one throttle token back (1 per second)
    expect(await call(t, '/links', { token: user.idToken, key: user.key })).toEqual({ status: 429, body: { message: 'Limit Exceeded' }, errorType: 'LimitExceededException' });
    // Another customer's quota is their own.
    const other = await onboardedUser(t, 'fresh');
    expect((await call(t, '/links', { token: other.idToken, key: other.key })).status).toBe(200);
  }, 30_000);

  it('counts nothing for unknown keys (403); a bad token with a working key is counted, then refused by the function (401)', async () => {
    const user = await onboardedUser(t, 'refused');
    for (let i = 0; i < 5; i++) expect((await call(t, '/links', { token: user.idToken, key: `${user.key}x` })).status).toBe(403);
    // The data methods' authorizer looks at the key only (the function verifies the token): API Gateway admits the key and counts the
    // request before the function answers 401 — the cost of one template for both DataApiAuth modes (README).
    expect((await call(t, '/links', { token: 'garbage', key: user.key })).status).toBe(401);
    const statuses = [];
    for (let i = 0; i < 2; i++) statuses.push((await call(t, '/links', { token: user.idToken, key: user.key })).status);
    expect(statuses).toEqual([200, 200]);
    await new Promise((resolve) => setTimeout(resolve, 1_200)); // one throttle token back (1 per second)
    expect(await call(t, '/links', { token: user.idToken, key: user.key })).toEqual({ status: 429, body: { message: 'Limit Exceeded' }, errorType: 'LimitExceededException' });
  }, 30_000);
});
