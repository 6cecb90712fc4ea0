/**
 * The dashboard: waits out onboarding ("setting up your key…"), then shows the plan, the API key (masked, reveal,
 * copy, rotate; in KeyMode SelfIssued ./self-issued-key-card.ts: create, shown once, hint, rotate), usage against the
 * quota, and the billing statement and ledger.
 */
import { ApiError, type ApiKey, type Billing, type LedgerEntry, type Me } from '../api.ts';
import { page, sleep, type App, type ViewContext } from '../app.ts';
import { usageChart } from '../chart.ts';
import { busy, copyText, h, mount, notice } from '../dom.ts';
import { capitalize, cents, count, dayKey, heldFor, heldRange, limits, longDate, maskKey, money, period, utcDateTime } from '../format.ts';
import { describeError } from '../messages.ts';
import { currentKey, type CustomerKey } from '../key.ts';
import { SessionExpiredError } from '../session.ts';
import { keyHint, loadKeyDates } from './key-card-parts.ts';
import { rotateDialog } from './rotate-dialog.ts';
import { selfIssuedKeyCard } from './self-issued-key-card.ts';

const ONBOARDING_TIMEOUT_MS = 120_000;
const POLL_MS = 1_000;

type Onboarding = { state: 'active'; key: CustomerKey } | { state: 'failed'; reason?: string } | { state: 'timeout' } | { state: 'left' };

const STEP_TEXT: Record<string, string> = {
  NONE: 'Creating your account…',
  ONBOARDING: 'Issuing your API key and attaching it to the free plan…',
};

/**
 * Polls until onboarding has issued the key. GET /me/api-key needs only the ID token: it answers 409 with the
 * account's status (NONE, ONBOARDING, FAILED) until the account is ACTIVE. Where it tells nothing, GET /me does
 * (404 before the account row exists, then ONBOARDING / ACTIVE / FAILED).
 */
async function waitForOnboarding(app: App, signal: AbortSignal, progress: (text: string) => void): Promise<Onboarding> {
  const deadline = Date.now() + ONBOARDING_TIMEOUT_MS;
  while (!signal.aborted) {
    let status: string | undefined;
    let reason: string | undefined;
    try {
      return { state: 'active', key: await currentKey(app) };
    } catch (error) {
      if (!(error instanceof ApiError) || error.status >= 500 || error.status === 400) throw error;
      const told = error.details?.status;
      status = typeof told === 'string' ? told : undefined;
    }
    if (status === undefined) {
      try {
        const me = await app.api.me();
        status = me.status;
        reason = me.failureReason;
      } catch (error) {
        // 404: no account row yet; 403: the key is needed and not issued yet.
        if (!(error instanceof ApiError && (error.status === 404 || error.status === 403))) throw error;
        status = error.status === 404 ? 'NONE' : 'ONBOARDING';
      }
    }
    if (status === 'FAILED') return { state: 'failed', ...(reason ? { reason } : {}) };
    progress(STEP_TEXT[status] ?? STEP_TEXT.ONBOARDING!);
    if (Date.now() > deadline) return { state: 'timeout' };
    await sleep(POLL_MS, signal);
  }
  return { state: 'left' };
}

function settingUp(text: string): HTMLElement {
  return h(
    'div',
    { class: 'card onboarding', role: 'status', 'aria-live': 'polite' },
    h('div', { class: 'spinner', 'aria-hidden': 'true' }),
    h('div', null, h('h2', null, 'Setting up your key…'), h('p', { class: 'onboarding-step' }, text), h('p', { class: 'hint' }, 'This usually takes a few seconds. You can stay on this page.')),
  );
}

function planCard(app: App, me: Me): HTMLElement {
  const body = h('div', null, h('p', { class: 'muted' }, 'Loading your plan’s limits…'));
  const card = h(
    'section',
    { class: 'card', 'aria-labelledby': 'plan-heading' },
    h('div', { class: 'card-head' }, h('h2', { id: 'plan-heading' }, 'Plan'), h('span', { class: `badge badge-${(me.status ?? 'ACTIVE').toLowerCase()}` }, capitalize((me.status ?? 'ACTIVE').toLowerCase()))),
    h('p', { class: 'plan-name', 'data-testid': 'plan-name' }, capitalize(me.plan ?? 'free')),
    body,
    h('div', { class: 'actions' }, h('a', { class: 'button', href: '#/plans' }, 'Change plan'), h('a', { class: 'button secondary', href: '#/try' }, 'Try the API')),
  );
  void app
    .plans()
    .then((plans) => {
      const plan = plans.find((p) => p.name === me.plan);
      mount(
        body,
        plan
          ? [
              h('p', { class: 'plan-limits', 'data-testid': 'plan-limits' }, capitalize(limits(plan)), '.'),
              h('p', { class: 'muted' }, plan.monthlyPrice === 0 ? 'Free.' : `${money(plan.monthlyPrice, plan.currency)} a month, billed by the second for the time you hold it.`),
            ]
          : h('p', { class: 'muted' }, 'Limits are listed on the Plans page.'),
      );
    })
    .catch(() => mount(body, h('p', { class: 'muted' }, 'Limits are listed on the Plans page.')));
  return card;
}

function keyCard(app: App, initial: ApiKey): HTMLElement {
  let key = initial;
  let revealed = false;
  const status = notice();
  const value = h('code', { class: 'key-value', 'data-testid': 'api-key', 'aria-live': 'polite' });
  const reveal = h('button', { type: 'button', 'aria-pressed': 'false' }, 'Reveal');
  const copy = h('button', { type: 'button' }, 'Copy');
  const rotate = h('button', { type: 'button', class: 'danger-outline' }, 'Rotate key…');
  const keyId = h('span', { class: 'muted key-id' });
  const details = h('p', { class: 'muted key-details', 'data-testid': 'key-details' });
  const previous = h('div', { class: 'key-previous', 'data-testid': 'key-previous', hidden: true });
  // Created: GET /me/api-key (a rotated key) or the account's creation (onboarding's key); last used: GET /me/usage.
  const loadDetails = async (): Promise<void> => {
    const info = await loadKeyDates(app, details, async () => (await app.api.me()).createdAt);
    if (info.previous) {
      const retireNow = h('button', { type: 'button', class: 'danger-outline' }, 'Retire it now');
      retireNow.addEventListener('click', () => {
        void busy(previous, 'Retiring…', async () => {
          await app.api.retirePreviousKey();
          await loadDetails();
          status.show('The previous key no longer works.', 'success');
        }).catch((error: unknown) => status.show(describeError(error), 'error'));
      });
      mount(previous, h('p', null, `Your previous key keeps working until ${utcDateTime(info.previous.expiresAt)}.`), retireNow);
      previous.hidden = false;
    } else {
      previous.hidden = true;
    }
  };

  const render = (): void => {
    value.textContent = revealed ? key.value : maskKey(key.value);
    reveal.textContent = revealed ? 'Hide' : 'Reveal';
    reveal.setAttribute('aria-pressed', String(revealed));
    keyId.textContent = `Key id ${key.id}`;
  };
  reveal.addEventListener('click', () => {
    revealed = !revealed;
    render();
  });
  copy.addEventListener('click', () => {
    void copyText(key.value).then((ok) =>
      ok ? status.show('Copied your API key to the clipboard.', 'success') : status.show('Copy did not work here: reveal the key and copy it by hand.', 'error'),
    );
  });
  const confirmBox = rotateDialog(rotate, status, () => {
    const overlap = h(
      'select',
      { 'aria-label': 'Keep the current key working for', 'data-testid': 'rotate-overlap' },
      h('option', { value: '0' }, 'no longer: switch it off at once'),
      h('option', { value: '3600' }, '1 hour'),
      h('option', { value: '86400' }, '24 hours'),
    ) as HTMLSelectElement;
    return {
      question: 'Rotating gives you a new key. Update your apps with it; the current key keeps working for:',
      extra: overlap,
      run: async (idempotencyKey) => {
        const rotated = await app.api.rotateKey(idempotencyKey, key?.id, Number(overlap.value));
        key = { id: rotated.id, value: rotated.value };
        app.session.setApiKey(key);
        // The new key id reaches the tokens' custom:apiid on refresh.
        await app.session.refresh().catch(() => undefined);
        render();
        await loadDetails().catch(() => undefined);
        status.show(
          rotated.previousKeyExpiresAt
            ? `Your new key is ready. The previous key works until ${utcDateTime(rotated.previousKeyExpiresAt)}.`
            : 'Your new key is ready. The previous key no longer works.',
          'success',
        );
      },
    };
  });
  render();
  void loadDetails().catch(() => undefined);
  return h(
    'section',
    { class: 'card', 'aria-labelledby': 'key-heading' },
    h('h2', { id: 'key-heading' }, 'API key'),
    keyHint(app),
    h('div', { class: 'key-row' }, value),
    h('div', { class: 'actions' }, reveal, copy, rotate),
    keyId,
    details,
    previous,
    confirmBox,
    status.el,
  );
}

function usageCard(app: App): HTMLElement {
  const body = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading usage…'));
  const refresh = h('button', { type: 'button', class: 'secondary small' }, 'Refresh');
  const load = async (): Promise<void> => {
    try {
      const usage = await app.api.usage(dayKey(-13), dayKey(0));
      const q = usage.quota;
      mount(
        body,
        h(
          'div',
          { class: 'quota' },
          h('p', { 'data-testid': 'quota' }, h('strong', null, count(q.used)), ` of ${count(q.limit)} requests used this ${period(q.period)} · ${count(q.remaining)} left`),
          h('meter', { min: 0, max: q.limit, value: q.used, low: q.limit * 0.75, high: q.limit * 0.9, optimum: 0, 'aria-label': 'Quota used' }),
          q.resetsAt ? h('p', { class: 'hint', 'data-testid': 'quota-reset' }, `Resets on ${longDate(q.resetsAt)}, 00:00 UTC`) : null,
        ),
        usageChart(usage.days),
      );
    } catch (error) {
      mount(body, h('p', { class: 'notice notice-error', role: 'alert' }, describeError(error)));
    }
  };
  refresh.addEventListener('click', () => void busy(refresh, 'Refreshing…', load));
  void load();
  return h('section', { class: 'card wide', 'aria-labelledby': 'usage-heading' }, h('div', { class: 'card-head' }, h('h2', { id: 'usage-heading' }, 'Usage (last 14 days)'), refresh), body);
}

function ledgerText(entry: LedgerEntry): string {
  const plan = (name: string | undefined) => capitalize(name ?? '');
  switch (entry.type) {
    case 'PLAN_STARTED':
      return `Started on the ${plan(entry.plan)} plan`;
    case 'PLAN_CHANGED':
      return `Changed ${entry.fromPlan ? `from ${plan(entry.fromPlan)} ` : ''}to the ${plan(entry.toPlan ?? entry.plan)} plan`;
    case 'STATEMENT':
      return `Statement${entry.period ? ` for ${entry.period}` : ''}`;
    default:
      return capitalize(entry.type.toLowerCase().replace(/_/g, ' '));
  }
}

function ledgerAmount(entry: LedgerEntry): string {
  const currency = typeof entry.currency === 'string' ? entry.currency : 'USD';
  if (typeof entry.totalCents === 'number') return cents(entry.totalCents, currency);
  const price = entry.type === 'PLAN_CHANGED' ? (entry.toPrice ?? entry.monthlyPrice) : entry.monthlyPrice;
  return typeof price === 'number' ? `${money(price, currency)}/month` : '';
}

function billingTables(billing: Billing): HTMLElement[] {
  const s = billing.statement;
  const statement = h(
    'table',
    { class: 'table' },
    h('caption', null, `This month’s statement${s.period ? ` (${s.period})` : ''}: each plan for the time you held it, prorated by the second`),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Plan'), h('th', { scope: 'col' }, 'Held (UTC)'), h('th', { scope: 'col', class: 'num' }, 'Amount'))),
    h(
      'tbody',
      null,
      s.lines.length === 0
        ? h('tr', null, h('td', { colspan: '3', class: 'muted' }, 'Nothing charged yet this month.'))
        : s.lines.map((line) =>
            h(
              'tr',
              { 'data-testid': 'statement-line' },
              h('td', null, line.description ?? `${capitalize(line.plan)}${typeof line.monthlyPrice === 'number' ? ` at ${money(line.monthlyPrice, s.currency)}/month` : ''}`),
              h('td', null, [line.from && line.to ? heldRange(line.from, line.to) : '', line.seconds !== undefined ? ` (${heldFor(line.seconds)})` : ''].join('')),
              h('td', { class: 'num' }, cents(line.amountCents, s.currency)),
            ),
          ),
    ),
    h('tfoot', null, h('tr', null, h('th', { scope: 'row', colspan: '2' }, 'Total'), h('td', { class: 'num', 'data-testid': 'statement-total' }, cents(s.totalCents, s.currency)))),
  );
  const ledger = h(
    'table',
    { class: 'table' },
    h('caption', null, 'Billing history'),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Date'), h('th', { scope: 'col' }, 'What'), h('th', { scope: 'col', class: 'num' }, 'Price'))),
    h(
      'tbody',
      null,
      billing.ledger.length === 0
        ? h('tr', null, h('td', { colspan: '3', class: 'muted' }, 'No entries yet.'))
        : billing.ledger.map((entry) =>
            h('tr', null, h('td', null, utcDateTime(entry.effectiveAt ?? entry.entryId?.slice(0, 24))), h('td', null, ledgerText(entry)), h('td', { class: 'num' }, ledgerAmount(entry))),
          ),
    ),
  );
  return [h('div', { class: 'table-scroll' }, statement), h('div', { class: 'table-scroll' }, ledger)];
}

function billingCard(app: App): HTMLElement {
  const body = h('div', null, h('p', { class: 'muted' }, 'Loading billing…'));
  void app.api
    .billing()
    .then((billing) => mount(body, billingTables(billing)))
    .catch((error: unknown) => mount(body, h('p', { class: 'notice notice-error', role: 'alert' }, describeError(error))));
  return h('section', { class: 'card wide', 'aria-labelledby': 'billing-heading' }, h('h2', { id: 'billing-heading' }, 'Billing'), body);
}

export function dashboardView({ app, signal }: ViewContext): Node {
  const email = app.session.current()?.email ?? '';
  const content = h('div', { class: 'dashboard' }, settingUp('Checking your account…'));
  const root = page('Dashboard', `Signed in as ${email}.`, content);

  void (async () => {
    const outcome = await waitForOnboarding(app, signal, (text) => mount(content, settingUp(text)));
    if (signal.aborted || outcome.state === 'left') return;
    if (outcome.state === 'failed') {
      mount(
        content,
        h(
          'div',
          { class: 'card notice notice-error', role: 'alert' },
          h('h2', null, 'We could not set up your key'),
          h('p', null, outcome.reason ? `The reason we recorded: ${outcome.reason}.` : 'Something went wrong while issuing your key.'),
          h('p', null, 'Nothing was charged. Please contact support and mention your email address.'),
        ),
      );
      return;
    }
    if (outcome.state === 'timeout') {
      mount(content, h('div', { class: 'card notice notice-error', role: 'alert' }, h('h2', null, 'This is taking longer than usual'), h('p', null, 'Your key is not ready yet. Reload this page in a minute.')));
      return;
    }
    const key = outcome.key;
    // Tokens issued before onboarding finished lack custom:apiid: a refresh (REFRESH_TOKEN_AUTH) brings it.
    if (app.session.apiKeyIdClaim() !== key.id) await app.session.refresh().catch(() => undefined);
    // With the key in hand GET /me answers (it needs the caller's own key).
    const me = await app.api.me();
    if (signal.aborted) return;
    mount(content, planCard(app, me), key.mode === 'SelfIssued' ? selfIssuedKeyCard(app, key) : keyCard(app, key), usageCard(app), billingCard(app));
  })().catch((error: unknown) => {
    // An ended session is handled in one place (the shell: back to sign-in, then back here).
    if (error instanceof SessionExpiredError) return;
    if (!signal.aborted) mount(content, h('div', { class: 'card notice notice-error', role: 'alert' }, h('h2', null, 'Your dashboard could not load'), h('p', null, describeError(error))));
  });
  return root;
}
