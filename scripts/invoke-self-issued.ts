/**
 * The KeyMode SelfIssued fixtures for `npm run invoke` (README "Invoke a function with a fixture"):
 * events/key-authorizer-self-issued.json (KeyAuthorizerFunction's REQUEST event), events/links-list-self-issued.json
 * (a data route as API Gateway sends it behind the SelfIssued authorizer: its context in `requestContext.authorizer`,
 * the stack's backstop key in `identity`), events/api-key-get-self-issued.json and events/api-key-rotate-self-issued.json
 * (the key routes, whose answers are this mode's: `issued` and `hint`; the value once). They carry placeholders, never
 * a key value or a token, which fillSelfIssuedCaller fills in for the demo user (./invoke-caller.ts signs it in):
 * - `x-api-key` starting `tg_live_PLACEHOLDER` (not a key's shape: as committed, the authorizer refuses it): a value
 *   issued to the demo user for this invocation by `POST /me/api-key/rotate` through the running API with its ID token
 *   (the customer's own route, so the demo user's previous key stops working). The value goes into the event only.
 * - `requestContext.authorizer.customerId` / `principalId` starting `PLACEHOLDER-CUSTOMER-ID`: the demo user's `sub`,
 *   as the authorizer's context carries it.
 * - `requestContext.authorizer.claims` whose `sub` starts `PLACEHOLDER-SUB`: the demo user's ID token claims as the
 *   Cognito authorizer passes them (strings; `exp` and `iat` as dates: local/execute-api/event.ts stringClaims).
 * - `Authorization` starting `PLACEHOLDER-ID-TOKEN`: its ID token, as for the other data fixtures.
 */
import { randomUUID } from 'node:crypto';
import { looksLikeKey } from '../functions/shared/key-shape.ts';
import { stringClaims } from '../local/execute-api/event.ts';
import { claimsOf } from '../local/harness/clients.ts';
import { ID_TOKEN_PLACEHOLDER, setAuthorization, signInDemoUser, type DemoCaller, type DemoCallerDeps } from './invoke-caller.ts';

export const KEY_PLACEHOLDER = 'tg_live_PLACEHOLDER';
export const CUSTOMER_PLACEHOLDER = 'PLACEHOLDER-CUSTOMER-ID';
export const SUB_PLACEHOLDER = 'PLACEHOLDER-SUB';

/** The parts of an API Gateway event (proxy or REQUEST authorizer) the placeholders sit in. */
interface FixtureEvent {
  headers: Record<string, string | undefined>;
  multiValueHeaders?: Record<string, string[] | undefined> | null;
  requestContext?: { authorizer?: Record<string, unknown> | null };
}

/** Which placeholders a SelfIssued fixture carries. */
export interface SelfIssuedPlaceholders {
  key: boolean;
  customer: boolean;
  claims: boolean;
  token: boolean;
}

const startsWith = (value: unknown, prefix: string): boolean => typeof value === 'string' && value.startsWith(prefix);

function headerNames(event: FixtureEvent, name: string): { single: string[]; multi: string[] } {
  const match = (n: string) => n.toLowerCase() === name;
  return { single: Object.keys(event.headers).filter(match), multi: Object.keys(event.multiValueHeaders ?? {}).filter(match) };
}

/**
 * The SelfIssued placeholders `event` carries, or undefined when it carries none of this mode's (a key, a customer,
 * claims): then it is not a SelfIssued fixture (an ID token placeholder alone is ./invoke-caller.ts's).
 */
export function selfIssuedPlaceholders(event: unknown): SelfIssuedPlaceholders | undefined {
  const e = event as Partial<FixtureEvent> | null;
  if (!e || typeof e.headers !== 'object' || e.headers === null) return undefined;
  const fixture = e as FixtureEvent;
  const header = (name: string) => headerNames(fixture, name).single.some((n) => startsWith(fixture.headers[n], name === 'authorization' ? ID_TOKEN_PLACEHOLDER : KEY_PLACEHOLDER));
  const authorizer = fixture.requestContext?.authorizer ?? undefined;
  const found = {
    key: header('x-api-key'),
    customer: startsWith(authorizer?.customerId, CUSTOMER_PLACEHOLDER),
    claims: startsWith((authorizer?.claims as Record<string, unknown> | undefined)?.sub, SUB_PLACEHOLDER),
    token: header('authorization'),
  };
  return found.key || found.customer || found.claims ? found : undefined;
}

export interface SelfIssuedCallerDeps extends DemoCallerDeps {
  /** The running API's stage URL (`http://127.0.0.1:3000/v1`): where the demo user's key is issued. */
  apiUrl: string;
}

/** What fillSelfIssuedCaller did (ids only). `apiKeyId`: the demo user's key id after it (a new one if a key was issued). */
export interface SelfIssuedCaller extends DemoCaller {
  keyIssued: boolean;
}

/** A new key value for the demo user: POST /me/api-key/rotate naming its current key, as the portal's "Create key" does. */
async function issueDemoKey(apiUrl: string, idToken: string, keyId: string): Promise<{ id: string; value: string }> {
  const response = await fetch(`${apiUrl}/me/api-key/rotate`, {
    method: 'POST',
    headers: { Authorization: idToken, 'Content-Type': 'application/json', 'Idempotency-Key': `invoke-${randomUUID()}` },
    body: JSON.stringify({ keyId }),
  });
  const body = (await response.json().catch(() => ({}))) as { id?: string; value?: string; message?: string };
  if (response.status !== 200) throw new Error(`POST /me/api-key/rotate answered ${response.status}${body.message ? `: ${body.message}` : ''}`);
  if (typeof body.id !== 'string' || typeof body.value !== 'string' || !looksLikeKey(body.value)) {
    throw new Error('POST /me/api-key/rotate did not answer a self-issued key: is `npm start` running with KeyMode=SelfIssued?');
  }
  return { id: body.id, value: body.value };
}

/**
 * Fills the SelfIssued placeholders of `event` (see the module comment) in place for the demo user, signing it in (and
 * up) first. Throws as signInDemoUser does, or when the running API issues no self-issued key.
 */
export async function fillSelfIssuedCaller(event: unknown, deps: SelfIssuedCallerDeps): Promise<SelfIssuedCaller> {
  const found = selfIssuedPlaceholders(event);
  if (found === undefined) throw new Error('the event carries none of the SelfIssued placeholders');
  const fixture = event as FixtureEvent;
  const { idToken, ...demo } = await signInDemoUser(deps);
  const authorizer = fixture.requestContext?.authorizer;
  if (found.claims && authorizer) authorizer.claims = stringClaims(claimsOf(idToken));
  if (found.customer && authorizer) {
    authorizer.customerId = demo.userId;
    authorizer.principalId = demo.userId;
  }
  if (found.token) setAuthorization(fixture as Parameters<typeof setAuthorization>[0], idToken);
  if (!found.key) return { ...demo, keyIssued: false };
  const key = await issueDemoKey(deps.apiUrl, idToken, demo.apiKeyId);
  const { single, multi } = headerNames(fixture, 'x-api-key');
  for (const name of single) fixture.headers[name] = key.value;
  for (const name of multi) fixture.multiValueHeaders![name] = [key.value];
  return { ...demo, apiKeyId: key.id, keyIssued: true };
}
