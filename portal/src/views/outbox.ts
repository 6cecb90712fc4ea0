/**
 * Offline only: the messages the local Cognito "sent" (confirmation and reset codes), read from the outbox the
 * offline stack serves. In AWS the codes go to real mailboxes and this page does not exist (no outboxUrl).
 */
import { page, sleep, type ViewContext } from '../app.ts';
import { NetworkError } from '../cognito.ts';
import { copyText, h, mount, notice } from '../dom.ts';
import { dateTime } from '../format.ts';
import { describeError } from '../messages.ts';

interface OutboxMessage {
  at: string;
  destination: string;
  medium?: string;
  code?: string;
  /** The CustomMessage trigger source the offline Cognito records: what the code is for. */
  triggerSource?: string;
  subject?: string;
  body?: string;
}

type Use = 'confirm' | 'reset' | 'verify' | 'none';

/**
 * What each kind of message is for, by its CustomMessage trigger source
 * (https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-custom-message.html).
 */
const PURPOSES: Record<string, { label: string; use: Use }> = {
  CustomMessage_SignUp: { label: 'Sign-up confirmation code', use: 'confirm' },
  CustomMessage_ResendCode: { label: 'Sign-up confirmation code (sent again)', use: 'confirm' },
  CustomMessage_ForgotPassword: { label: 'Password reset code', use: 'reset' },
  CustomMessage_UpdateUserAttribute: { label: 'Code to verify a new email address', use: 'verify' },
  CustomMessage_VerifyUserAttribute: { label: 'Code to verify an email address', use: 'verify' },
  CustomMessage_AdminCreateUser: { label: 'Invitation with a temporary password', use: 'none' },
  CustomMessage_Authentication: { label: 'Sign-in code', use: 'none' },
};

const POLL_MS = 2_000;

async function fetchOutbox(url: string, to: string | null): Promise<OutboxMessage[]> {
  const target = new URL(url, location.href);
  if (to) target.searchParams.set('to', to);
  let response: Response;
  try {
    response = await fetch(target, { cache: 'no-store' });
  } catch {
    throw new NetworkError('outbox');
  }
  if (!response.ok) throw new Error(`outbox ${response.status}`);
  const body = (await response.json()) as { messages?: OutboxMessage[] };
  return body.messages ?? [];
}

function messageItem(message: OutboxMessage, status: ReturnType<typeof notice>): HTMLElement {
  const email = encodeURIComponent(message.destination);
  const code = message.code ? encodeURIComponent(message.code) : '';
  const copy = h('button', { type: 'button', class: 'small' }, 'Copy code');
  const purpose = message.triggerSource ? PURPOSES[message.triggerSource] : undefined;
  const use: Use | 'either' = purpose?.use ?? 'either';
  const confirmLink = h('a', { class: 'button primary small', href: `#/confirm?email=${email}&code=${code}` }, 'Use to confirm sign-up');
  const resetLink = h('a', { class: `button small${use === 'reset' ? ' primary' : ''}`, href: `#/reset?email=${email}&code=${code}` }, 'Use to reset password');
  const links = { confirm: [confirmLink], reset: [resetLink], verify: [h('a', { class: 'button primary small', href: '#/account' }, 'Enter it on the Account page')], none: [], either: [confirmLink, resetLink] }[use];
  copy.addEventListener('click', () => {
    void copyText(message.code ?? '').then((ok) => status.show(ok ? `Copied code ${message.code}.` : 'Copy did not work here.', ok ? 'success' : 'error'));
  });
  return h(
    'li',
    { class: 'card outbox-item', 'data-testid': 'outbox-message', 'data-to': message.destination },
    h('div', { class: 'outbox-head' }, h('span', null, 'To ', h('strong', null, message.destination)), h('time', { class: 'muted', datetime: message.at }, dateTime(message.at))),
    h('p', { class: `badge outbox-purpose purpose-${use}`, 'data-testid': 'outbox-purpose' }, purpose?.label ?? 'Code (what for is not recorded)'),
    message.subject ? h('p', null, message.subject) : null,
    message.code
      ? [h('p', { class: 'outbox-code' }, 'Code ', h('strong', { 'data-testid': 'outbox-code' }, message.code)), h('div', { class: 'actions' }, links, copy)]
      : h('p', { class: 'muted' }, message.body ?? '(no code in this message)'),
  );
}

export function outboxView({ app, params, signal }: ViewContext): Node {
  const status = notice();
  const list = h('ul', { class: 'outbox-list', 'aria-live': 'polite' });
  const to = params.get('to');
  const url = app.config.outboxUrl;
  if (!url) {
    return page('Outbox', 'The outbox exists only offline. In AWS, codes are emailed to you.');
  }
  void (async () => {
    let last = '';
    while (!signal.aborted) {
      try {
        const messages = await fetchOutbox(url, to);
        const key = JSON.stringify(messages.map((m) => m.at + m.destination));
        if (key !== last) {
          last = key;
          mount(list, messages.length === 0 ? h('li', { class: 'muted' }, to ? `No messages to ${to} yet. This page checks every few seconds.` : 'No messages yet. Sign up and your code appears here.') : messages.slice(0, 50).map((m) => messageItem(m, status)));
        }
      } catch (error) {
        status.show(describeError(error), 'error');
      }
      await sleep(POLL_MS, signal);
    }
  })();
  return page(
    'Outbox',
    h('span', null, 'Offline, no email leaves this machine: the codes the local Cognito sent are here, newest first. ', to ? h('a', { href: '#/outbox' }, 'Show every address') : null),
    status.el,
    list,
  );
}
