/**
 * Plans (GET /plans, public) and, signed in, the switch. Nothing is changed on one click: a preview first shows what
 * changes — each limit before and after, what the new plan costs for the rest of this month (prorated by the second,
 * from the server's statement and its billing rules) and this month's total before and after — and asks to confirm,
 * a downgrade with its lower limits spelled out. Then POST /me/plan with an Idempotency-Key, and GET
 * /me/plan-changes/{executionId} until the workflow is done, showing its progress, then the new plan and limits.
 */
import type { Me, Plan, PlanChange } from '../api.ts';
import { newIdempotencyKey, page, sleep, type App, type ViewContext } from '../app.ts';
import { h, mount, notice, type Notice } from '../dom.ts';
import { capitalize, cents, count, heldRange, limits, money, period } from '../format.ts';
import { describeError } from '../messages.ts';
import { previewPlanChange, type PlanChangePreview } from '../preview.ts';
import { SessionExpiredError } from '../session.ts';

const POLL_MS = 750;
const CHANGE_TIMEOUT_MS = 120_000;

function planFailure(change: PlanChange): string {
  const error = change.error;
  const said = typeof error === 'string' ? error : (error?.message ?? error?.code);
  return `The plan change did not go through${said ? ` (${said})` : ''}. You are still on your previous plan, and nothing was charged for the change.`;
}

async function followChange(app: App, executionId: string, signal: AbortSignal, progress: Notice, started: number): Promise<PlanChange | undefined> {
  const deadline = Date.now() + CHANGE_TIMEOUT_MS;
  while (!signal.aborted) {
    const change = await app.api.planChange(executionId);
    if (change.status !== 'RUNNING') return change;
    const seconds = Math.round((Date.now() - started) / 1000);
    progress.show(
      h('span', { class: 'progress-line' }, h('span', { class: 'spinner small', 'aria-hidden': 'true' }), `Moving your key to the new plan… ${seconds > 0 ? `(${seconds} s)` : ''}`),
      'info',
    );
    if (Date.now() > deadline) throw new Error('timeout');
    await sleep(POLL_MS, signal);
  }
  return undefined;
}

function planCard(plan: Plan, current: string | undefined, signedIn: boolean, onChoose: (plan: Plan, button: HTMLButtonElement) => void, currentPrice: number | undefined): HTMLElement {
  const isCurrent = plan.name === current;
  let action: HTMLElement | null;
  if (!signedIn) {
    action = h('a', { class: 'button', href: '#/signup' }, plan.monthlyPrice === 0 ? 'Start free' : 'Sign up to choose');
  } else if (isCurrent) {
    action = h('p', { class: 'current-plan' }, 'Your current plan');
  } else if (currentPrice === undefined) {
    // The current plan did not load: no "upgrade"/"downgrade" guess (the page says why above).
    action = null;
  } else {
    const verb = plan.monthlyPrice < currentPrice ? 'Downgrade' : 'Upgrade';
    const button = h('button', { type: 'button', class: verb === 'Upgrade' ? 'primary' : '', 'data-plan': plan.name }, `${verb} to ${capitalize(plan.name)}`);
    button.addEventListener('click', () => onChoose(plan, button));
    action = button;
  }
  return h(
    'article',
    { class: `card plan-card${isCurrent ? ' is-current' : ''}`, 'aria-labelledby': `plan-${plan.name}`, 'data-testid': `plan-${plan.name}` },
    h('h2', { id: `plan-${plan.name}` }, capitalize(plan.name)),
    h('p', { class: 'price' }, plan.monthlyPrice === 0 ? 'Free' : h('span', null, money(plan.monthlyPrice, plan.currency), h('span', { class: 'per' }, ' / month'))),
    h(
      'ul',
      { class: 'plan-facts' },
      h('li', null, h('strong', null, count(plan.rateLimit)), ' requests per second'),
      h('li', null, 'Bursts of ', h('strong', null, count(plan.burstLimit))),
      h('li', null, h('strong', null, count(plan.quotaLimit)), ` requests a ${period(plan.quotaPeriod)}`),
    ),
    action,
  );
}

interface LimitChange {
  label: string;
  before: number;
  after: number;
}

function limitChanges(from: Plan, to: Plan): LimitChange[] {
  return [
    { label: 'Requests per second', before: from.rateLimit, after: to.rateLimit },
    { label: 'Bursts', before: from.burstLimit, after: to.burstLimit },
    { label: `Requests a ${period(to.quotaPeriod)}`, before: from.quotaLimit, after: to.quotaLimit },
  ];
}

/** The preview's body: limits before → after, and what this month is charged with the change. */
function previewBody(from: Plan, to: Plan, preview: PlanChangePreview | undefined, downgrade: boolean): HTMLElement[] {
  const changes = limitChanges(from, to);
  const lower = changes.filter((c) => c.after < c.before);
  const table = h(
    'table',
    { class: 'table', 'data-testid': 'preview-limits' },
    h('caption', null, 'Your limits'),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, ''), h('th', { scope: 'col', class: 'num' }, capitalize(from.name)), h('th', { scope: 'col', class: 'num' }, capitalize(to.name)))),
    h(
      'tbody',
      null,
      changes.map((c) =>
        h('tr', { class: c.after < c.before ? 'lower' : '' }, h('th', { scope: 'row' }, c.label), h('td', { class: 'num' }, count(c.before)), h('td', { class: 'num' }, `${count(c.after)}${c.after < c.before ? ' (lower)' : ''}`)),
      ),
    ),
  );
  const warning = lower.length
    ? h(
        'p',
        { class: 'notice notice-error', 'data-testid': 'preview-lower' },
        `Your limits go down at once: ${lower.map((c) => `${c.label.toLowerCase()} ${count(c.before)} → ${count(c.after)}`).join(', ')}. Calls past the new limits are refused (429).`,
      )
    : null;
  const charge = preview
    ? h(
        'div',
        { class: 'preview-charge' },
        to.monthlyPrice > 0
          ? h('p', null, `${capitalize(to.name)} from now to the end of the month (${heldRange(preview.at, preview.periodEnd)} UTC), prorated by the second: `, h('strong', { 'data-testid': 'preview-charge' }, cents(preview.newPlanCents, preview.currency)), '.')
          : h('p', null, `${capitalize(from.name)} is billed only up to now; ${capitalize(to.name)} costs nothing.`),
        h('p', null, 'This month’s total: ', h('span', { 'data-testid': 'preview-total-now' }, cents(preview.totalNowCents, preview.currency)), ' → ', h('strong', { 'data-testid': 'preview-total-after' }, cents(preview.totalAfterCents, preview.currency)), '.'),
        h('p', { class: 'muted' }, to.monthlyPrice > 0 ? `From next month: ${money(to.monthlyPrice, to.currency)} a month.` : 'From next month: nothing.'),
      )
    : h('p', null, `${capitalize(to.name)} costs ${to.monthlyPrice === 0 ? 'nothing' : `${money(to.monthlyPrice, to.currency)} a month`}, billed by the second for the time you hold it.`);
  return [h('div', { class: downgrade ? 'preview downgrade' : 'preview' }, table, warning, charge)];
}

export async function plansView({ app, signal }: ViewContext): Promise<Node> {
  const signedIn = app.session.current() !== undefined;
  const status = notice();
  const grid = h('div', { class: 'plan-grid' });
  const plans = await app.plans();
  let me: Me | undefined;
  if (signedIn) {
    try {
      me = await app.api.me();
    } catch (error) {
      if (error instanceof SessionExpiredError) throw error; // handled in one place: back to sign-in, then here
      status.show(`Your current plan could not be loaded, so no change is offered yet. ${describeError(error)}`, 'error');
    }
  }

  const lead = h('span');
  const render = (): void => {
    lead.textContent = signedIn
      ? me?.plan
        ? `You are on the ${capitalize(me.plan)} plan. Change it at any time: you pay each plan by the second, for the time you hold it.`
        : 'Change your plan at any time: you pay each plan by the second, for the time you hold it.'
      : 'Every plan comes with an API key in seconds. Prices are per month, billed by the second.';
    const currentPrice = plans.find((p) => p.name === me?.plan)?.monthlyPrice;
    mount(
      grid,
      plans.map((plan) => planCard(plan, me?.plan, signedIn, choose, currentPrice)),
    );
  };

  let changing = false;
  const panel = h('section', { class: 'card confirm-change', hidden: true, role: 'region', 'aria-labelledby': 'change-heading', 'data-testid': 'plan-change-preview' });
  let chosen: HTMLButtonElement | undefined;
  const closePanel = (back?: HTMLButtonElement): void => {
    panel.hidden = true;
    panel.replaceChildren();
    back?.focus();
  };
  panel.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closePanel(chosen);
  });
  /** Step 1: the preview, and a question. The change starts only from its Confirm button. */
  const choose = (plan: Plan, button: HTMLButtonElement): void => {
    if (changing) return;
    const current = plans.find((p) => p.name === me?.plan);
    if (!current) return;
    chosen = button;
    const downgrade = plan.monthlyPrice < current.monthlyPrice;
    const verb = downgrade ? 'Downgrade' : 'Upgrade';
    const heading = h('h2', { id: 'change-heading', tabindex: '-1' }, `${verb} from ${capitalize(current.name)} to ${capitalize(plan.name)}?`);
    status.clear();
    mount(panel, heading, h('p', { class: 'muted', role: 'status' }, 'Working out what changes…'));
    panel.hidden = false;
    panel.removeAttribute('data-at');
    heading.focus();
    void (async () => {
      let preview: PlanChangePreview | undefined;
      try {
        preview = previewPlanChange(await app.api.billing(), plan, new Date());
      } catch (error) {
        if (error instanceof SessionExpiredError) throw error;
        preview = undefined; // the limits and the price still show; the proration does not
      }
      if (signal.aborted || panel.hidden || !panel.contains(heading)) return;
      const confirm = h('button', { type: 'button', class: downgrade ? 'danger' : 'primary' }, downgrade ? `Yes, downgrade to ${capitalize(plan.name)}` : `Confirm upgrade to ${capitalize(plan.name)}`);
      const cancel = h('button', { type: 'button' }, downgrade ? `Keep ${capitalize(current.name)}` : 'Cancel');
      cancel.addEventListener('click', () => closePanel(button));
      confirm.addEventListener('click', () => {
        closePanel();
        change(plan, button);
      });
      if (preview) panel.setAttribute('data-at', preview.at);
      mount(panel, heading, previewBody(current, plan, preview, downgrade), h('div', { class: 'actions' }, confirm, cancel));
      // A downgrade lowers the limits at once: the safe answer has the focus; an upgrade's question has it.
      (downgrade ? cancel : heading).focus();
    })().catch((error: unknown) => {
      if (!(error instanceof SessionExpiredError)) status.show(describeError(error), 'error');
      closePanel();
    });
  };

  /** Step 2, confirmed: the plan-change workflow, followed until done. */
  const change = (plan: Plan, button: HTMLButtonElement): void => {
    if (changing) return;
    changing = true;
    const idempotencyKey = newIdempotencyKey('plan');
    const buttons = [...grid.querySelectorAll('button')];
    buttons.forEach((b) => (b.disabled = true));
    button.setAttribute('aria-busy', 'true');
    const started = Date.now();
    status.show(h('span', { class: 'progress-line' }, h('span', { class: 'spinner small', 'aria-hidden': 'true' }), `Switching to ${capitalize(plan.name)}…`), 'info');
    void (async () => {
      const accepted = await app.api.changePlan(plan.name, idempotencyKey);
      const done = await followChange(app, accepted.executionId, signal, status, started);
      if (!done || signal.aborted) return;
      if (done.status !== 'SUCCEEDED') {
        status.show(planFailure(done), 'error');
        return;
      }
      me = await app.api.me();
      render();
      const now = plans.find((p) => p.name === (me?.plan ?? plan.name)) ?? plan;
      status.show(
        h(
          'span',
          { 'data-testid': 'plan-change-done' },
          h('strong', null, `You are now on ${capitalize(now.name)}.`),
          ` Your limits: ${limits(now)}. `,
          h('a', { href: '#/dashboard' }, 'Back to the dashboard'),
        ),
        'success',
      );
    })()
      .catch((error: unknown) => {
        status.show(error instanceof Error && error.message === 'timeout' ? 'The plan change is taking longer than usual. Check your dashboard in a minute.' : describeError(error), 'error');
      })
      .finally(() => {
        changing = false;
        if (!signal.aborted && grid.isConnected) render();
      });
  };

  render();
  return page('Plans', lead, status.el, panel, grid);
}
