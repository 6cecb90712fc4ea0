/**
 * The dashboard's key card in KeyMode SelfIssued, where the server keeps only a hash of the key
 * (functions/account/self-issued.ts): no key yet → "Create key"; a new key's value is shown once, with Copy and a
 * plain "you will not see it again" (as Stripe and Unkey do), until the customer says they saved it or leaves the
 * page; from then on only its hint (`tg_live_` + 4) and "Rotate key…", which asks first: in this mode the old key stops
 * working at once (no overlap). Both "Create key" and "Rotate now" are POST /me/api-key/rotate naming the current key
 * id (a racing rotation answers 409). The value stays in this tab's session (sessionStorage, as the ApiGateway mode's
 * revealed key does) so "Try it" and the reference can send it; nothing asks the server for it.
 */
import { HINT_LENGTH } from '#shared/key-shape';
import type { RotatedKey } from '../api.ts';
import { newIdempotencyKey, type App } from '../app.ts';
import { busy, copyText, h, mount, notice } from '../dom.ts';
import { maskedHint, type CustomerKey } from '../key.ts';
import { describeError } from '../messages.ts';
import { keyHint, loadKeyDates } from './key-card-parts.ts';
import { rotateDialog } from './rotate-dialog.ts';

type SelfIssuedKey = Extract<CustomerKey, { mode: 'SelfIssued' }>;

export function selfIssuedKeyCard(app: App, initial: SelfIssuedKey): HTMLElement {
  let key: SelfIssuedKey = { ...initial };
  /** The value shown on this card now: only right after this card created or rotated the key. */
  let shown: string | undefined;
  const status = notice();
  const body = h('div', { 'data-testid': 'key-card-body' });
  const rotate = h('button', { type: 'button', class: 'danger-outline' }, 'Rotate key…');
  const keyId = h('span', { class: 'muted key-id' });
  const details = h('p', { class: 'muted key-details', 'data-testid': 'key-details' });
  // Created: when the current value was issued (GET /me/api-key); last used: GET /me/usage (the authorizer's counters).
  const loadDetails = (): void => {
    details.textContent = '';
    if (key.issued) void loadKeyDates(app, details).catch(() => undefined);
  };

  /** The rotation's answer: the only time the server sends the value. */
  const took = async (rotated: RotatedKey): Promise<void> => {
    key = { mode: 'SelfIssued', id: rotated.id, issued: true, hint: rotated.value.slice(0, HINT_LENGTH), value: rotated.value };
    shown = rotated.value;
    app.session.setApiKey({ id: rotated.id, value: rotated.value });
    // The new key id reaches the tokens' custom:apiid on refresh.
    await app.session.refresh().catch(() => undefined);
  };

  const render = (): void => {
    keyId.textContent = `Key id ${key.id}`;
    loadDetails();
    if (!key.issued) {
      const create = h('button', { type: 'button', class: 'primary' }, 'Create key');
      create.addEventListener('click', () => {
        status.clear();
        const idempotencyKey = newIdempotencyKey('create-key');
        void busy(create, 'Creating…', async () => {
          await took(await app.api.rotateKey(idempotencyKey, key.id));
          render();
        }).catch((error: unknown) => status.show(describeError(error), 'error'));
      });
      mount(
        body,
        h('p', { 'data-testid': 'key-none' }, 'No key has been issued yet. Create one to call the API: it is shown once, when it is created, so have somewhere safe to keep it.'),
        h('div', { class: 'actions' }, create),
      );
      return;
    }
    if (shown !== undefined) {
      const value = shown;
      const copy = h('button', { type: 'button', class: 'primary' }, 'Copy');
      const done = h('button', { type: 'button' }, 'I have saved it');
      copy.addEventListener('click', () => {
        void copyText(value).then((ok) =>
          ok ? status.show('Copied your API key to the clipboard.', 'success') : status.show('Copy did not work here: select the key and copy it by hand.', 'error'),
        );
      });
      done.addEventListener('click', () => {
        shown = undefined;
        status.clear();
        render();
        rotate.focus();
      });
      mount(
        body,
        h(
          'div',
          { class: 'notice notice-info', role: 'status', 'data-testid': 'key-once' },
          h('strong', null, 'Copy your key now: you will not see it again.'),
          ' We keep only a fingerprint of it, so nobody (us included) can show it to you later. Lost it? Rotate to get a new one.',
        ),
        h('div', { class: 'key-row' }, h('code', { class: 'key-value', 'data-testid': 'api-key' }, value)),
        h('div', { class: 'actions' }, copy, done),
      );
      return;
    }
    mount(
      body,
      h('div', { class: 'key-row' }, h('code', { class: 'key-value', 'data-testid': 'api-key-hint' }, maskedHint(key.hint ?? ''))),
      h('p', { class: 'hint' }, 'Only the start of your key is shown: its value was shown once, when it was created. Lost it? Rotate to get a new one.'),
      h('div', { class: 'actions' }, rotate),
    );
  };

  const confirmBox = rotateDialog(rotate, status, () => ({
    question: 'Rotating gives you a new key, and your current key stops working at once: there is no overlap. Every app that uses it is refused (401) until it has the new key.',
    run: async (idempotencyKey) => {
      await took(await app.api.rotateKey(idempotencyKey, key.id));
      render();
      status.show('Your new key is ready. The previous key no longer works.', 'success');
    },
  }));

  render();
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'key-heading', 'data-key-mode': 'SelfIssued' },
    h('h2', { id: 'key-heading' }, 'API key'),
    keyHint(app),
    body,
    keyId,
    details,
    confirmBox,
    status.el,
  );
}
