/**
 * Customers in either key mode (template parameter KeyMode) for suites parametrized over it (`describe.each(KEY_MODES)`):
 * signed up for real (Cognito → PostConfirmation → onboarding workflow), signed in, with the key value the mode gives
 * them — the API Gateway key onboarding made (ApiGateway, read with GetApiKey) or a self-issued `tg_live_` key from
 * their first `POST /me/api-key/rotate`, shown once (SelfIssued: onboarding creates the key slot, no value).
 */
import { GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { claimsOf, onboardingArn, signIn, signUpAndConfirm, uniqueEmail, waitForExecution, type TestStack } from '../../local/harness/stack.ts';

export type KeyMode = 'ApiGateway' | 'SelfIssued';
export const KEY_MODES: KeyMode[] = ['ApiGateway', 'SelfIssued'];

export interface ModeCustomer {
  email: string;
  userId: string;
  /** An ID token that names the customer's current key in `custom:apiid`. */
  idToken: string;
  keyId: string;
  /** The key's value (the test's copy: never stored by the product in SelfIssued mode). */
  key: string;
}

/** A customer onboarded in `mode`, with a working key. Throws if onboarding or the first rotation fails. */
export async function customerWithKey(t: TestStack, mode: KeyMode, prefix: string): Promise<ModeCustomer> {
  const email = uniqueEmail(prefix);
  const userId = await signUpAndConfirm(t, email);
  const execution = await waitForExecution(t, onboardingArn(t, userId), 60_000);
  if (execution.status !== 'SUCCEEDED') throw new Error(`onboarding of ${email} ${execution.status}`);
  const { idToken } = await signIn(t, email);
  const keyId = claimsOf(idToken)['custom:apiid'] as string;
  if (mode === 'ApiGateway') {
    const key = await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: keyId, includeValue: true }));
    return { email, userId, idToken, keyId, key: key.value! };
  }
  const res = await fetch(`${t.stack.apiUrl}/me/api-key/rotate`, {
    method: 'POST',
    headers: { Authorization: idToken, 'Content-Type': 'application/json' },
    body: JSON.stringify({ keyId }),
  });
  if (res.status !== 200) throw new Error(`first rotation of ${email}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { id: string; value: string };
  return { email, userId, idToken: (await signIn(t, email)).idToken, keyId: body.id, key: body.value };
}
