/**
 * Plans (GET /plans, public) and, signed in, the switch: POST /me/plan with an Idempotency-Key, then GET
 * /me/plan-changes/{executionId} until the workflow is done, showing its progress, then the new plan and limits.
 */
import type { Me, Plan, PlanChange } from '../api.ts';
import { newIdempotencyKey, page, sleep, type App, type ViewContext } from '../app.ts';
import { h, mount, notice, type Notice } from '../dom.ts';
import { capitalize, count, limits, money, period } from '../format.ts';
import { describeError } from '../messages.ts';

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
  let action: HTMLElement;
  if (!signedIn) {
    action = h('a', { class: 'button', href: '#/signup' }, plan.monthlyPrice === 0 ? 'Start free' : 'Sign up to choose');
  } else if (isCurrent) {
    action = h('p', { class: 'current-plan' }, 'Your current plan');
  } else {
    const verb = currentPrice !== undefined && plan.monthlyPrice < currentPrice ? 'Downgrade' : 'Upgrade';
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
      status.show(`Your current plan could not be loaded: ${describeError(error)}`, 'error');
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
  const choose = (plan: Plan, button: HTMLButtonElement): void => {
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
  return page(
    'Plans',
    lead,
    status.el,
    grid,
  );
}
