/** The customer's API key, as the portal holds it for "Try it" and the reference and shows it on the dashboard. */
import { KEY_PREFIX, looksLikeKey } from '#shared/key-shape';
import type { App } from './app.ts';

/**
 * The key in the deployed KeyMode, which `GET /me/api-key` tells (only SelfIssued answers `issued`; no second
 * declaration of the mode). `ApiGateway`: the value is readable again, so it is always known. `SelfIssued`: the
 * server keeps only a hash; `value` is known only when this browser session saw it (the answer to the rotation that
 * issued it) or the customer pasted it, and is never asked of the server.
 */
export type CustomerKey =
  | { mode: 'ApiGateway'; id: string; value: string }
  | { mode: 'SelfIssued'; id: string; issued: boolean; hint?: string; value?: string };

/**
 * The account's key, its id always asked afresh (GET /me/api-key, from the account record): a rotation elsewhere must
 * not leave a stale key here. ApiGateway: the value is revealed (GET /me/api-key?reveal=true) only when this session
 * does not hold the value of that very key, so a dashboard load normally costs no API Gateway management call.
 * SelfIssued: the value this session holds for that very key, if any; one held for another key is forgotten.
 */
export async function currentKey(app: App): Promise<CustomerKey> {
  const info = await app.api.apiKey();
  const held = app.session.current()?.apiKey;
  if (info.issued !== undefined) {
    if (held && held.id !== info.id) app.session.setApiKey(undefined);
    const value = info.issued && held?.id === info.id ? held.value : undefined;
    return { mode: 'SelfIssued', id: info.id, issued: info.issued, ...(info.hint ? { hint: info.hint } : {}), ...(value ? { value } : {}) };
  }
  if (held?.id === info.id) return { mode: 'ApiGateway', ...held };
  const key = await app.api.revealApiKey();
  app.session.setApiKey({ id: key.id, value: key.value });
  return { mode: 'ApiGateway', id: key.id, value: key.value };
}

/**
 * Why `pasted` cannot be the self-issued key `key` (its shape, or a start other than the key's hint), or undefined when
 * it may be: the portal cannot verify a value (the server has only its hash), but it catches a wrong paste before a
 * call is refused with 401.
 */
export function pastedKeyProblem(key: { hint?: string }, pasted: string): string | undefined {
  if (!looksLikeKey(pasted)) return `That is not an API key of this API: a key is ${KEY_PREFIX} followed by 43 letters, digits, - or _.`;
  if (key.hint && !pasted.startsWith(key.hint)) return `That is not your current key: yours starts with ${key.hint}.`;
  return undefined;
}

/** The hint as the card shows it: the known start, then dots standing for the rest (as maskKey's). */
export function maskedHint(hint: string): string {
  return `${hint}${'•'.repeat(24)}`;
}
