/**
 * The data API's own ID token check (IdTokenAndApiKey mode): the methods have no authorizer, so the function verifies
 * the Cognito ID token in `Authorization` (functions/shared/caller.ts verifiedClaims, functions/shared/id-token.ts)
 * before any data access, with the answers API Gateway's Cognito authorizer gave, as the function's JSON error body.
 * The pool's key is a local key pair whose JWKS a spy on fetch serves (./id-tokens.ts).
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { bearerToken, cognitoIssuer } from '#shared/id-token';
import { idTokenVerifierFromEnv } from '#shared/data-api';
import { createApiHandler } from '#shared/http';
import { linksRoutes } from '../../../functions/links/handler.ts';
import { USER_POOL_CLIENT_IDS } from './env.ts';
import { ACTIVE_ACCOUNT, API_KEY_ID, EMAIL, SUB, bodyOf, context, loadEvent, withApiKeyId } from './helpers.ts';
import { ISSUER, foreignKey, idToken, jwksFetchCount, serveJwks, signJwt, signedEvent } from './id-tokens.ts';

let jwksDown = false;
serveJwks({ unreachable: () => jwksDown });
afterEach(() => {
  jwksDown = false;
});

const claims = { sub: SUB, email: EMAIL, 'custom:apiid': API_KEY_ID };
const dataReads: string[] = [];

/** GET /links of a fresh Lambda environment (its own verifier, so its own JWKS cache), over in-memory stores. */
function freshHandler() {
  return createApiHandler(
    linksRoutes({
      dataApiAuth: 'IdTokenAndApiKey',
      idTokens: idTokenVerifierFromEnv(),
      accounts: { get: async (userId: string) => ({ ...ACTIVE_ACCOUNT, userId }) },
      links: {
        listLinks: async (userId: string) => {
          dataReads.push(userId);
          return { items: [{ id: `of-${userId}` }] };
        },
      } as never,
      tagLinks: {} as never,
    }),
  );
}

/** links-list with exactly this Authorization header (none when undefined) and no authorizer claims. */
function withAuthorization(value: string | undefined): APIGatewayProxyEvent {
  const event = signedEvent(loadEvent('links-list'));
  const headers = Object.fromEntries(Object.entries(event.headers).filter(([name]) => name !== 'Authorization'));
  return { ...event, headers: value === undefined ? headers : { ...headers, Authorization: value }, multiValueHeaders: {} };
}

async function answer(handler: ReturnType<typeof freshHandler>, event: APIGatewayProxyEvent) {
  dataReads.length = 0;
  const result = await handler(event, context);
  return { status: result.statusCode, body: bodyOf(result), dataReads: [...dataReads] };
}

describe('cognitoIssuer', () => {
  it("is AWS's https://cognito-idp.<Region>.amazonaws.com/<pool> without an endpoint, else <endpoint>/<pool>", () => {
    expect(cognitoIssuer('eu-west-1_abc', undefined, 'eu-west-1')).toBe('https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc');
    expect(cognitoIssuer('eu-west-1_abc', '', 'eu-west-1')).toBe('https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc');
    expect(cognitoIssuer('local_x', 'http://127.0.0.1:9229/', 'us-east-1')).toBe('http://127.0.0.1:9229/local_x');
    expect(() => cognitoIssuer('p', undefined, undefined)).toThrow(/Region/);
  });
});

describe('bearerToken', () => {
  it('reads the raw token or Bearer <token>, in any case; nothing for a missing or blank header', () => {
    expect(bearerToken('abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('  bearer   abc.def.ghi ')).toBe('abc.def.ghi');
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken('   ')).toBeUndefined();
    expect(bearerToken('Bearer ')).toBeUndefined();
  });
});

describe('a data route verifies the ID token itself (IdTokenAndApiKey)', () => {
  it("answers 200 with the pool's ID token, raw or as Bearer, from either app client, for the token's user", async () => {
    const handler = freshHandler();
    const [web, server] = USER_POOL_CLIENT_IDS.split(',') as [string, string];
    for (const value of [idToken(claims), `Bearer ${idToken(claims)}`, idToken(claims, { aud: web }), idToken(claims, { aud: server })]) {
      expect(await answer(handler, withAuthorization(value))).toEqual({ status: 200, body: expect.objectContaining({ items: [{ id: `of-${SUB}` }] }), dataReads: [SUB] });
    }
  });

  it('answers 401 Unauthorized, before any data access, without a token or with one that is not a valid ID token of the pool', async () => {
    const handler = freshHandler();
    const now = Math.floor(Date.now() / 1000);
    const refused = {
      'no Authorization header': undefined,
      'an empty one': '',
      'not a JWT': 'not-a-token',
      'signed by another key': signJwt({ ...claims, iss: ISSUER, aud: 'x', token_use: 'id', exp: now + 3600 }, foreignKey),
      'another pool': idToken(claims, { iss: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_OTHERPOOL' }),
      'another app client': idToken(claims, { aud: 'some-other-client' }),
      'an access token': idToken(claims, { token_use: 'access' }),
      'a token without sub': idToken({ email: EMAIL, 'custom:apiid': API_KEY_ID }),
      'a tampered payload': (() => {
        const [h, , s] = idToken(claims).split('.');
        return `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'someone-else' })).toString('base64url')}.${s}`;
      })(),
    };
    for (const [name, value] of Object.entries(refused)) {
      const got = await answer(handler, withAuthorization(value));
      expect({ name, ...got }).toEqual({ name, status: 401, body: expect.objectContaining({ code: 'Unauthorized', message: 'Unauthorized' }), dataReads: [] });
    }
  });

  it('answers 401 saying the token has expired', async () => {
    const now = Math.floor(Date.now() / 1000);
    const got = await answer(freshHandler(), withAuthorization(idToken(claims, { iat: now - 7200, exp: now - 60 })));
    expect(got).toEqual({ status: 401, body: expect.objectContaining({ code: 'TokenExpired', message: 'The incoming token has expired' }), dataReads: [] });
  });

  it("ignores claims an event carries without a token: only the verified token names the caller", async () => {
    const forged = { ...withAuthorization(undefined), requestContext: { ...loadEvent('links-list').requestContext } };
    expect(forged.requestContext.authorizer?.claims).toBeDefined();
    expect((await answer(freshHandler(), forged)).status).toBe(401);
  });

  it("answers 403 for someone else's key, after the token", async () => {
    const handler = createApiHandler(
      linksRoutes({
        dataApiAuth: 'IdTokenAndApiKey',
        idTokens: idTokenVerifierFromEnv(),
        accounts: { get: async () => ({ ...ACTIVE_ACCOUNT }) },
        links: { listLinks: async () => Promise.reject(new Error('no data access')) } as never,
        tagLinks: {} as never,
      }),
    );
    const result = await handler(withApiKeyId(withAuthorization(idToken(claims)), 'someone-elses-key'), context);
    expect({ status: result.statusCode, message: bodyOf(result).message }).toEqual({ status: 403, message: 'The API key does not belong to the signed-in user' });
  });

  it("fetches the pool's JWKS once per Lambda environment, however many requests", async () => {
    const handler = freshHandler();
    const before = jwksFetchCount();
    for (let i = 0; i < 5; i++) expect((await answer(handler, withAuthorization(idToken(claims, { jti: String(i) })))).status).toBe(200);
    expect(jwksFetchCount() - before).toBe(1);
  });

  it("answers 503 with a JSON message (no stack) when the pool's keys cannot be fetched, and 200 once they can", async () => {
    jwksDown = true;
    const handler = freshHandler();
    const got = await answer(handler, withAuthorization(idToken(claims)));
    expect(got).toEqual({
      status: 503,
      body: { code: 'ServiceUnavailable', message: "The user pool's signing keys could not be fetched to verify the ID token; try again later", requestId: expect.any(String) },
      dataReads: [],
    });
    expect(JSON.stringify(got.body)).not.toMatch(/\bat .+:\d+:\d+/);
    jwksDown = false;
    expect((await answer(handler, withAuthorization(idToken(claims)))).status).toBe(200);
  });
});
