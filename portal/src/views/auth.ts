/** Sign in, sign up, confirm with the emailed code, and reset a forgotten password. */
import { page, type App, type ViewContext } from '../app.ts';
import { CognitoError } from '../cognito.ts';
import { busy, field, h, notice, type Notice } from '../dom.ts';
import { describeError, PASSWORD_RULES, type Action } from '../messages.ts';

export function emailInput(value = ''): HTMLInputElement {
  return h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, spellcheck: 'false', value });
}

export function passwordInput(autocomplete: 'current-password' | 'new-password'): HTMLInputElement {
  return h('input', { type: 'password', name: 'password', autocomplete, required: true, ...(autocomplete === 'new-password' ? { minlength: 10 } : {}) });
}

export function codeInput(value = ''): HTMLInputElement {
  return h('input', { type: 'text', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', required: true, pattern: '[0-9A-Za-z]{4,10}', value });
}

/** Shows a flash message left by the previous page, once. */
function takeFlash(app: App, into: Notice): void {
  if (app.flash) {
    into.show(app.flash.text, app.flash.kind);
    app.flash = undefined;
  }
}

export function outboxHint(app: App, email: string): HTMLElement | null {
  if (!app.config.outboxUrl) return null;
  return h(
    'p',
    { class: 'hint offline-hint' },
    'Running offline? No email is sent: the code is in the ',
    h('a', { href: `#/outbox${email ? `?to=${encodeURIComponent(email)}` : ''}` }, 'Outbox'),
    '.',
  );
}

/** Submits a form through `task`, showing a readable error on failure. */
export function onSubmit(form: HTMLFormElement, status: Notice, label: string, action: Action, task: () => Promise<void>): void {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    status.clear();
    void busy(form, label, task).catch((error: unknown) => {
      status.show(describeError(error, action), 'error');
      if (error instanceof CognitoError && error.type === 'UserNotConfirmedException') {
        const email = (form.elements.namedItem('email') as HTMLInputElement | null)?.value ?? '';
        status.el.append(' ', h('a', { href: `#/confirm?email=${encodeURIComponent(email)}` }, 'Confirm your email'));
      }
    });
  });
}

async function signInAndGo(app: App, email: string, password: string, next = '/dashboard'): Promise<void> {
  const tokens = await app.cognito.signIn(email, password);
  app.session.save({ email, tokens });
  app.pendingSignUp = undefined;
  app.navigate(next);
}

export function signInView({ app, params }: ViewContext): Node {
  const status = notice();
  takeFlash(app, status);
  const email = emailInput(params.get('email') ?? '');
  const password = passwordInput('current-password');
  const form = h(
    'form',
    { class: 'card form', novalidate: false, 'aria-label': 'Sign in' },
    status.el,
    field('Email', email),
    field('Password', password),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Sign in'), h('a', { href: `#/forgot?email=${encodeURIComponent(email.value)}`, id: 'forgot-link' }, 'Forgot your password?')),
  );
  email.addEventListener('input', () => form.querySelector<HTMLAnchorElement>('#forgot-link')?.setAttribute('href', `#/forgot?email=${encodeURIComponent(email.value)}`));
  onSubmit(form, status, 'Signing in…', 'signIn', () => signInAndGo(app, email.value.trim(), password.value, params.get('next') ?? '/dashboard'));
  return page(
    'Sign in',
    'Your API key, plan, usage and billing in one place.',
    form,
    h('p', { class: 'switch' }, 'New here? ', h('a', { href: '#/signup' }, 'Create an account'), ' — the free plan needs no card.'),
  );
}

export function signUpView({ app }: ViewContext): Node {
  const status = notice();
  const email = emailInput();
  const password = passwordInput('new-password');
  const form = h(
    'form',
    { class: 'card form', 'aria-label': 'Create an account' },
    status.el,
    field('Email', email),
    field('Password', password, PASSWORD_RULES),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create account')),
  );
  onSubmit(form, status, 'Creating your account…', 'signUp', async () => {
    const address = email.value.trim();
    const result = await app.cognito.signUp(address, password.value);
    app.pendingSignUp = { email: address, password: password.value };
    if (result.userConfirmed) {
      await signInAndGo(app, address, password.value);
      return;
    }
    app.flash = { text: `We sent a confirmation code to ${result.destination ?? address}.`, kind: 'info' };
    app.navigate(`/confirm?email=${encodeURIComponent(address)}`);
  });
  return page(
    'Create your account',
    'Start on the free plan: an API key in seconds, upgrade whenever you like.',
    form,
    h('p', { class: 'switch' }, 'Already have an account? ', h('a', { href: '#/signin' }, 'Sign in')),
  );
}

export function confirmView({ app, params }: ViewContext): Node {
  const status = notice();
  takeFlash(app, status);
  const address = params.get('email') ?? app.pendingSignUp?.email ?? '';
  const email = emailInput(address);
  const code = codeInput(params.get('code') ?? '');
  const resend = h('button', { type: 'button', class: 'link-button' }, 'Send a new code');
  const form = h(
    'form',
    { class: 'card form', 'aria-label': 'Confirm your email' },
    status.el,
    field('Email', email),
    field('Confirmation code', code, 'The 6-digit code from the message we sent you.'),
    outboxHint(app, address),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Confirm'), resend),
  );
  resend.addEventListener('click', () => {
    if (!email.reportValidity()) return;
    status.clear();
    void busy(resend, 'Sending…', async () => {
      await app.cognito.resendConfirmationCode(email.value.trim());
      status.show('A new code is on its way. Use the most recent message.', 'success');
    }).catch((error: unknown) => status.show(describeError(error, 'resend'), 'error'));
  });
  onSubmit(form, status, 'Confirming…', 'confirm', async () => {
    const address = email.value.trim();
    await app.cognito.confirmSignUp(address, code.value.trim());
    const pending = app.pendingSignUp;
    if (pending && pending.email.toLowerCase() === address.toLowerCase()) {
      await signInAndGo(app, address, pending.password);
      return;
    }
    app.flash = { text: 'Your email is confirmed. Sign in to get your API key.', kind: 'success' };
    app.navigate(`/signin?email=${encodeURIComponent(address)}`);
  });
  return page('Confirm your email', 'One step left: enter the code we sent to your email address.', form);
}

export function forgotView({ app, params }: ViewContext): Node {
  const status = notice();
  const email = emailInput(params.get('email') ?? '');
  const form = h(
    'form',
    { class: 'card form', 'aria-label': 'Reset your password' },
    status.el,
    field('Email', email),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Send a reset code'), h('a', { href: '#/signin' }, 'Back to sign in')),
  );
  onSubmit(form, status, 'Sending…', 'forgot', async () => {
    const address = email.value.trim();
    await app.cognito.forgotPassword(address);
    app.flash = { text: `If ${address} has an account, a reset code is on its way.`, kind: 'info' };
    app.navigate(`/reset?email=${encodeURIComponent(address)}`);
  });
  return page('Forgot your password?', 'We will send a code to your email address; with it you choose a new password.', form);
}

export function resetView({ app, params }: ViewContext): Node {
  const status = notice();
  takeFlash(app, status);
  const address = params.get('email') ?? '';
  const email = emailInput(address);
  const code = codeInput(params.get('code') ?? '');
  const password = passwordInput('new-password');
  const form = h(
    'form',
    { class: 'card form', 'aria-label': 'Choose a new password' },
    status.el,
    field('Email', email),
    field('Reset code', code),
    field('New password', password, PASSWORD_RULES),
    outboxHint(app, address),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Change password')),
  );
  onSubmit(form, status, 'Changing…', 'reset', async () => {
    const addr = email.value.trim();
    await app.cognito.confirmForgotPassword(addr, code.value.trim(), password.value);
    app.flash = { text: 'Your password is changed. Sign in with the new one.', kind: 'success' };
    app.navigate(`/signin?email=${encodeURIComponent(addr)}`);
  });
  return page('Choose a new password', 'Enter the code we sent you and your new password.', form);
}
