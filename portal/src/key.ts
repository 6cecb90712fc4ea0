/** The customer's API key, as the portal holds it for "Try it" and shows it on the dashboard. */
import type { ApiKey } from './api.ts';
import type { App } from './app.ts';

/**
 * The account's key id, always asked afresh (GET /me/api-key, from the account record): a rotation elsewhere must not
 * leave a stale key here. The value is revealed (GET /me/api-key?reveal=true) only when this session does not hold
 * the value of that very key, so a dashboard load normally costs no API Gateway management call.
 */
export async function currentKey(app: App): Promise<ApiKey> {
  const { id } = await app.api.apiKey();
  const held = app.session.current()?.apiKey;
  if (held?.id === id) return held;
  const key = await app.api.revealApiKey();
  app.session.setApiKey({ id: key.id, value: key.value });
  return { id: key.id, value: key.value };
}
