/**
 * The caller of a data-function fixture for `npm run invoke`. The data fixtures (events/links-*.json, tags-*,
 * taglinks-*) carry `ID_TOKEN_PLACEHOLDER` in `Authorization`, because the data functions verify the Cognito ID token
 * themselves (DataApiAuth IdTokenAndApiKey) and a token cannot be committed. `fillDemoCaller` signs a demo user in
 * against the running offline Cognito — signing them up first (SignUp, the code from the outbox, ConfirmSignUp: the
 * same public calls `npm run demo` makes) and waiting until onboarding has written `custom:apiid` — and puts the real
 * ID token in `Authorization` and the user's key id in `requestContext.identity.apiKeyId` (what API Gateway sets for
 * the key it matched). The key VALUE is never read: the fixture's `x-api-key` placeholder stays, and in KeyMode
 * ApiGateway the functions read only the key id. Nothing here prints the token or a key value.
 * `sam local invoke -e` has no such step: there the fixture needs a real token of the pool the function is configured
 * with (README "Invoke a function with a fixture").
 */
import {
  ConfirmSignUpCommand,
  InitiateAuthCommand,
  SignUpCommand,
  type CognitoIdentityProviderClient,
} from '@aws-sdk/client-cognito-identity-provider';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { claimsOf } from '../local/harness/clients.ts';

/** What a data fixture's `Authorization` starts with until `npm run invoke` fills in a real ID token. */
export const ID_TOKEN_PLACEHOLDER = 'PLACEHOLDER-ID-TOKEN';

/** The demo user `npm run invoke` signs in as (created on first use in the running stack's Cognito). */
export const DEMO_USER = { email: 'invoke-demo@example.com', password: 'Invoke-Demo-Pass-42' };

export interface DemoCallerDeps {
  cognito: CognitoIdentityProviderClient;
  /** The app client id (USER_PASSWORD_AUTH enabled), from the running stack's stack.json. */
  clientId: string;
  /** The newest confirmation code mailed to `email` (the offline outbox), undefined when none came. */
  confirmationCode: (email: string) => Promise<string | undefined>;
  /** How long to wait for onboarding to write custom:apiid, ms (default 30,000). */
  timeoutMs?: number;
  user?: { email: string; password: string };
}

/** What fillDemoCaller did: the user signed in and the key id put in the event (ids only, no secrets). */
export interface DemoCaller {
  email: string;
  userId: string;
  apiKeyId: string;
  /** Whether the user had to be signed up first. */
  created: boolean;
}

/** Whether `event` is an API Gateway proxy event whose `Authorization` header is the placeholder. */
export function needsDemoCaller(event: unknown): event is APIGatewayProxyEvent {
  const headers = (event as Partial<APIGatewayProxyEvent> | null)?.headers;
  if (!headers || typeof headers !== 'object') return false;
  return Object.entries(headers).some(([name, value]) => name.toLowerCase() === 'authorization' && typeof value === 'string' && value.startsWith(ID_TOKEN_PLACEHOLDER));
}

async function signIn(deps: DemoCallerDeps, user: { email: string; password: string }): Promise<string | undefined> {
  try {
    const out = await deps.cognito.send(
      new InitiateAuthCommand({ ClientId: deps.clientId, AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: user.email, PASSWORD: user.password } }),
    );
    return out.AuthenticationResult?.IdToken;
  } catch (error) {
    // Cognito answers NotAuthorizedException (or UserNotFoundException) for a user that does not exist yet.
    if ((error as Error).name === 'UserNotFoundException' || (error as Error).name === 'NotAuthorizedException') return undefined;
    throw error;
  }
}

async function signUp(deps: DemoCallerDeps, user: { email: string; password: string }): Promise<void> {
  await deps.cognito.send(
    new SignUpCommand({ ClientId: deps.clientId, Username: user.email, Password: user.password, UserAttributes: [{ Name: 'email', Value: user.email }] }),
  );
  const code = await deps.confirmationCode(user.email);
  if (!code) throw new Error(`no confirmation code for ${user.email} reached the outbox`);
  await deps.cognito.send(new ConfirmSignUpCommand({ ClientId: deps.clientId, Username: user.email, ConfirmationCode: code }));
}

/** The demo user signed in (see fillDemoCaller): its ID token (a secret: never print it) and what it names. */
export interface DemoSignIn extends DemoCaller {
  idToken: string;
}

/**
 * Signs the demo user in against the running Cognito, signing it up first when it does not exist, and waits until
 * onboarding has written `custom:apiid` into its tokens. Throws when the user cannot be signed up (e.g. it exists with
 * another password) or onboarding has not written `custom:apiid` within `timeoutMs`.
 */
export async function signInDemoUser(deps: DemoCallerDeps): Promise<DemoSignIn> {
  const user = deps.user ?? DEMO_USER;
  let token = await signIn(deps, user);
  let created = false;
  if (token === undefined) {
    await signUp(deps, user);
    created = true;
  }
  const deadline = Date.now() + (deps.timeoutMs ?? 30_000);
  for (;;) {
    token ??= await signIn(deps, user);
    if (token === undefined) throw new Error(`${user.email} cannot sign in: does it exist with another password? Sign it up again in a fresh --dir`);
    const claims = claimsOf(token);
    const apiKeyId = claims['custom:apiid'];
    if (typeof apiKeyId === 'string' && apiKeyId !== '') return { email: user.email, userId: String(claims.sub), apiKeyId, created, idToken: token };
    if (Date.now() > deadline) throw new Error(`the ID token of ${user.email} carries no custom:apiid: onboarding has not finished (see the npm start log)`);
    token = undefined;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Puts `token` in every `Authorization` header of `event` (headers and multiValueHeaders). */
export function setAuthorization(event: Pick<APIGatewayProxyEvent, 'headers' | 'multiValueHeaders'>, token: string): void {
  for (const name of Object.keys(event.headers)) if (name.toLowerCase() === 'authorization') event.headers[name] = token;
  for (const name of Object.keys(event.multiValueHeaders ?? {})) if (name.toLowerCase() === 'authorization') event.multiValueHeaders[name] = [token];
}

/**
 * Fills a real ID token and key id into a data fixture (see the module comment); the event is changed in place and
 * returned facts name only ids. Throws as signInDemoUser does.
 */
export async function fillDemoCaller(event: APIGatewayProxyEvent, deps: DemoCallerDeps): Promise<DemoCaller> {
  const { idToken, ...demo } = await signInDemoUser(deps);
  setAuthorization(event, idToken);
  event.requestContext.identity = { ...event.requestContext.identity, apiKeyId: demo.apiKeyId };
  return demo;
}
