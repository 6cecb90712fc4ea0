/** The portal's shell: loads config.json, then routes by the URL's hash (#/dashboard, #/plans, …). */
import './style.css';
import { ApiClient, type Plan } from './api.ts';
import { page, type App, type Flash, type View, type ViewContext } from './app.ts';
import { CognitoClient } from './cognito.ts';
import { loadConfig, type PortalConfig } from './config.ts';
import { h, mount } from './dom.ts';
import { describeError } from './messages.ts';
import { SessionExpiredError, SessionStore } from './session.ts';
import { accountView } from './views/account.ts';
import { confirmView, forgotView, resetView, signInView, signUpView } from './views/auth.ts';
import { dashboardView } from './views/dashboard.ts';
import { outboxView } from './views/outbox.ts';
import { plansView } from './views/plans.ts';
import { referenceView } from './views/reference.ts';
import { tryView } from './views/try.ts';

interface Route {
  title: string;
  view: View;
  /** `user`: signed in only; `guest`: signed out only; `any`: both. */
  access: 'user' | 'guest' | 'any';
}

const ROUTES: Record<string, Route> = {
  '/signin': { title: 'Sign in', view: signInView, access: 'guest' },
  '/signup': { title: 'Create your account', view: signUpView, access: 'guest' },
  '/confirm': { title: 'Confirm your email', view: confirmView, access: 'any' },
  '/forgot': { title: 'Forgot your password', view: forgotView, access: 'any' },
  '/reset': { title: 'Choose a new password', view: resetView, access: 'any' },
  '/dashboard': { title: 'Dashboard', view: dashboardView, access: 'user' },
  '/plans': { title: 'Plans', view: plansView, access: 'any' },
  '/try': { title: 'Try it', view: tryView, access: 'user' },
  '/reference': { title: 'API reference', view: referenceView, access: 'any' },
  '/account': { title: 'Account', view: accountView, access: 'user' },
  '/outbox': { title: 'Outbox', view: outboxView, access: 'any' },
};

const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;

function parseHash(): { path: string; params: URLSearchParams } {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path = '/', query = ''] = raw.split('?', 2) as [string?, string?];
  return { path, params: new URLSearchParams(query) };
}

/** The sign-in page, set to come back to the page shown now (path and query of the URL's hash). */
function signInThenBack(): string {
  const here = location.hash.replace(/^#/, '');
  const back = here.startsWith('/') && !here.startsWith('/signin') ? here : '/dashboard';
  return `/signin?next=${encodeURIComponent(back)}`;
}

function renderNav(app: App, path: string): void {
  const signedIn = app.session.current() !== undefined;
  const link = (href: string, label: string) => h('a', { href: `#${href}`, ...(path === href ? { 'aria-current': 'page' } : {}) }, label);
  const signOut = h('button', { type: 'button', class: 'link-button nav-signout' }, 'Sign out');
  signOut.addEventListener('click', () => void app.signOut({ text: 'You are signed out.', kind: 'info' }));
  mount(
    nav,
    h(
      'ul',
      null,
      signedIn ? [h('li', null, link('/dashboard', 'Dashboard')), h('li', null, link('/plans', 'Plans')), h('li', null, link('/try', 'Try it')), h('li', null, link('/reference', 'API reference')), h('li', null, link('/account', 'Account'))] : [h('li', null, link('/plans', 'Plans')), h('li', null, link('/reference', 'API reference')), h('li', null, link('/signin', 'Sign in')), h('li', null, link('/signup', 'Sign up'))],
      app.config.outboxUrl ? h('li', null, link('/outbox', 'Outbox')) : null,
      signedIn ? h('li', null, signOut) : null,
    ),
  );
}

function start(config: PortalConfig): void {
  const cognito = new CognitoClient(config);
  const session = new SessionStore(cognito);
  let plans: Promise<Plan[]> | undefined;
  let controller: AbortController | undefined;
  let firstRender = true;

  const app: App = {
    config,
    cognito,
    session,
    api: new ApiClient(config, session),
    navigate(path) {
      if (location.hash === `#${path}`) void render();
      else location.hash = path;
    },
    plans() {
      plans ??= app.api.plans().then((r) => r.plans, (error: unknown) => {
        plans = undefined;
        throw error;
      });
      return plans;
    },
    async signOut(flash?: Flash) {
      const current = session.current();
      session.clear();
      if (flash) app.flash = flash;
      app.navigate('/signin');
      // Revoke the refresh token; the page is signed out whatever the answer.
      if (current) await cognito.revoke(current.tokens.refreshToken).catch(() => undefined);
    },
  };

  const render = async (): Promise<void> => {
    controller?.abort();
    const ctrl = new AbortController();
    controller = ctrl;
    const { path, params } = parseHash();
    const signedIn = session.current() !== undefined;
    const route = ROUTES[path];
    if (!route) {
      app.navigate(signedIn ? '/dashboard' : '/signin');
      return;
    }
    if (route.access === 'user' && !signedIn) {
      app.navigate(signInThenBack());
      return;
    }
    if (route.access === 'guest' && signedIn) {
      app.navigate('/dashboard');
      return;
    }
    document.title = `${route.title} · Tollgate`;
    renderNav(app, path);
    mount(main, h('p', { class: 'loading', role: 'status' }, 'Loading…'));
    const ctx: ViewContext = { app, params, signal: ctrl.signal };
    let node: Node;
    try {
      node = await route.view(ctx);
    } catch (error) {
      // An ended session has already been handled (sessionEnded): the sign-in page is on its way.
      if (error instanceof SessionExpiredError) return;
      node = page(route.title, null, h('div', { class: 'notice notice-error', role: 'alert' }, describeError(error)));
    }
    if (ctrl.signal.aborted) return;
    mount(main, node);
    // Move focus to the new page's heading (not on first load: the browser's own focus is right then).
    if (!firstRender) main.querySelector<HTMLElement>('h1')?.focus();
    firstRender = false;
  };

  /**
   * The one place an ended session is handled, whichever call found it (a page, a card, a poll): the page is left at
   * once (its cards and buttons go with it, nothing half-signed-in stays on screen), and the sign-in page opens with
   * `next` set to where the user was, so signing in brings them back there.
   */
  session.onEnded(() => {
    const { path } = parseHash();
    if (ROUTES[path]?.access === 'guest') return; // already there (several calls may find it at once)
    controller?.abort();
    mount(main, h('p', { class: 'loading', role: 'status' }, 'Your session has ended…'));
    app.flash = { text: new SessionExpiredError().message, kind: 'info' };
    app.navigate(signInThenBack());
  });

  window.addEventListener('hashchange', () => void render());
  window.addEventListener('unhandledrejection', (event) => {
    // Already handled by sessionEnded; nothing else to do with it.
    if (event.reason instanceof SessionExpiredError) event.preventDefault();
  });
  document.getElementById('footer-env')!.textContent = config.outboxUrl ? 'Offline stack · codes go to the Outbox' : `Region ${config.region}`;
  void render();
}

loadConfig().then(start, (error: unknown) => {
  mount(
    main,
    page(
      'The portal is not configured',
      describeError(error),
      h('p', null, 'It reads config.json next to this page: {region, userPoolId, userPoolClientId, cognitoEndpoint, apiUrl}. Offline, `npm start` serves it; in AWS, make it from the stack Outputs (see the README).'),
    ),
  );
});
