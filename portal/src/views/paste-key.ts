/**
 * KeyMode SelfIssued: where this tab's session does not hold the key's value (another tab, a new sign-in, a key made
 * elsewhere), "Try it" and the API reference ask the customer to paste it, since the server keeps only its hash and
 * can never send it. A paste of the wrong shape or with another key's start is refused here (key.ts
 * pastedKeyProblem); the session then keeps it for this key id, as if this tab had seen it.
 */
import type { App } from '../app.ts';
import { field, h, notice } from '../dom.ts';
import { pastedKeyProblem, type CustomerKey } from '../key.ts';

/** The paste form for `key` (or, with no key issued yet, where to create one); `done()` runs once a value is kept. */
export function pasteKeyForm(app: App, key: Extract<CustomerKey, { mode: 'SelfIssued' }>, done: () => void): HTMLElement {
  if (!key.issued) {
    return h(
      'div',
      { class: 'card notice notice-info', role: 'status', 'data-testid': 'paste-key' },
      h('p', null, 'You have no API key yet. ', h('a', { href: '#/dashboard' }, 'Create one on the dashboard'), '; it is shown once, and this page uses it from then on.'),
    );
  }
  const status = notice();
  const input = h('input', { name: 'api-key', type: 'password', autocomplete: 'off', spellcheck: 'false', class: 'mono', placeholder: `${key.hint ?? 'tg_live_'}…` });
  const form = h(
    'form',
    { class: 'card form', 'aria-label': 'Paste your API key', 'data-testid': 'paste-key' },
    h('p', null, `Your key was shown once, when it was created, and this tab has not seen it: paste it here to fill it in${key.hint ? ` (it starts with ${key.hint})` : ''}. It stays in this tab only. Lost it? Rotate it on the dashboard.`),
    field('API key', input),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Use this key')),
    status.el,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = input.value.trim();
    const problem = pastedKeyProblem(key, value);
    if (problem) return status.show(problem, 'error');
    app.session.setApiKey({ id: key.id, value });
    done();
  });
  return form;
}
