/**
 * What both key cards show (API Gateway keys, ../dashboard.ts, and self-issued ones, ./self-issued-key-card.ts): how to
 * send the key, and the key's created and last-used dates.
 */
import type { ApiKeyInfo } from '../api.ts';
import type { App } from '../app.ts';
import { h } from '../dom.ts';
import { dayKey, keyDatesText } from '../format.ts';

/** The `x-api-key` header, and the ID token as `Authorization` only where the deployed DataApiAuth wants it (config.json `dataApiAuth`). */
export function keyHint(app: App): HTMLElement {
  const token = app.api.sendsIdToken('/links') ? [', with your ID token as ', h('code', null, 'Authorization')] : null;
  return h('p', { class: 'hint', 'data-testid': 'key-hint' }, 'Send it as the ', h('code', null, 'x-api-key'), ' header', token, '. Keep it secret.');
}

/**
 * The key's dates, loaded into `details` (keyDatesText): created from GET /me/api-key's `createdAt` (a rotated key, or
 * a self-issued value), else `fallbackCreated()` (API Gateway mode: the account's creation, when onboarding made the
 * key); last used from GET /me/usage's days over the last 92. Answers GET /me/api-key's view, for what else the card shows.
 */
export async function loadKeyDates(
  app: App,
  details: HTMLElement,
  fallbackCreated: () => Promise<string | undefined> = () => Promise.resolve(undefined),
): Promise<ApiKeyInfo> {
  const [info, fallback, usage] = await Promise.all([app.api.apiKey(), fallbackCreated().catch(() => undefined), app.api.usage(dayKey(-91), dayKey()).catch(() => undefined)]);
  details.textContent = keyDatesText(info.createdAt ?? fallback, usage?.days);
  return info;
}
