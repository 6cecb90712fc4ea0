/** Sign in, sign up, confirm with the emailed code, and reset a forgotten password. */
import { page, type App, type ViewContext } from '../app.ts';
import { CognitoError, failedTrigger } from '../cognito.ts';
import { busy, field, h, notice, type Notice } from '../dom.ts';
import { describeError, type Action } from '../messages.ts';
import { emailProblem, passwordProblem, passwordRules } from '../validation.ts';

export function emailInput(value = ''): HTMLInputElement {
  return h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true, spellcheck: 'false', value });
}

export function passwordInput(autocomplete: 'current-password' | 'new-password'): HTMLInputElement {
  return h('input', { type: 'password', name: 'password', autocomplete, required: true });
}

/** A field's problem, found before anything is sent: the message is shown and the field gets the focus. */
export interface Problem {
  input: HTMLInputElement;
  message: string;
}
export type Check = () => Problem | undefined;

/** A new password checked against the pool's policy (config.json's, i.e. the template's). */
export function newPasswordCheck(app: App, input: HTMLInputElement): Check {
  return () => {
    const message = input.value === '' ? undefined : passwordProblem(app.config.passwordPolicy, input.value);
    return message ? { input, message } : undefined;
  };
}

/** An email address that a code can be sent to. */
export function emailCheck(input: HTMLInputElement): Check {
  return () => {
    const value = input.value.trim();
    const message = value === '' ? undefined : emailProblem(value);
    return message ? { input, message } : undefined;
  };
}

/** The rules the pool's policy sets, as the hint under a new-password field. */
export function passwordHint(app: App): string {
  return passwordRules(app.config.passwordPolicy);
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

/**
 * Submits a form through `task`, showing a readable error on failure. `checks` run first: the first problem is shown
 * (role=alert), its field marked invalid and focused, and nothing is sent.
 */
export function onSubmit(form: HTMLFormElement, status: Notice, label: string, action: Action, task: () => Promise<void>, checks: Check[] = []): void {
  const inputs = new Set<HTMLInputElement>();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    for (const input of inputs) input.removeAttribute('aria-invalid');
    inputs.clear();
    for (const check of checks) {
      const problem = check();
      if (!problem) continue;
      status.show(problem.message, 'error');
      problem.input.setAttribute('aria-invalid', 'true');
      inputs.add(problem.input);
      problem.input.focus();
      return;
    }
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
  // `next`: where the user was when the session ended (set by the shell); only a page of this portal.
  const next = params.get('next');
  onSubmit(form, status, 'Signing in…', 'signIn', () => signInAndGo(app, email.value.trim(), password.value, next?.startsWith('/') ? next : '/dashboard'));
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
    field('Password', password, passwordHint(app)),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create account')),
  );
  // Signed up before but never confirmed? SignUp answers UsernameExistsException; offer a new code for that account.
  const offerNewCode = (address: string): void => {
    const resend = h('button', { type: 'button', class: 'primary small' }, 'Send a new code');
    resend.addEventListener('click', () => {
      void busy(resend, 'Sending…', async () => {
        const sent = await app.cognito.resendConfirmationCode(address);
        app.flash = { text: `If ${address} is waiting for confirmation, a new code is on its way${sent.destination ? ` (to ${sent.destination})` : ''}. Use the most recent message.`, kind: 'info' };
        app.navigate(`/confirm?email=${encodeURIComponent(address)}`);
      }).catch((error: unknown) => status.show(describeError(error, 'resend'), 'error'));
    });
    status.show(
      h(
        'div',
        { 'data-testid': 'account-exists' },
        h('p', null, `An account with ${address} already exists.`),
        h('p', null, 'Signed up before but never entered the code? Get a new code, or enter the one you have. Otherwise ', h('a', { href: `#/signin?email=${encodeURIComponent(address)}` }, 'sign in'), ' or ', h('a', { href: `#/forgot?email=${encodeURIComponent(address)}` }, 'reset your password'), '.'),
        h('div', { class: 'actions' }, resend, h('a', { class: 'button small', href: `#/confirm?email=${encodeURIComponent(address)}` }, 'I have a code')),
      ),
      'info',
    );
  };
  onSubmit(
    form,
    status,
    'Creating your account…',
    'signUp',
    async () => {
      const address = email.value.trim();
      let result: { userConfirmed: boolean; destination?: string };
      try {
        result = await app.cognito.signUp(address, password.value);
      } catch (error) {
        if (error instanceof CognitoError && error.type === 'UsernameExistsException') return offerNewCode(address);
        throw error;
      }
      app.pendingSignUp = { email: address, password: password.value };
    if (result.userConfirmed) {
      await signInAndGo(app, address, password.value);
      return;
    }
    app.flash = { text: `We sent a confirmation code to ${result.destination ?? address}.`, kind: 'info' };
    app.navigate(`/confirm?email=${encodeURIComponent(address)}`);
    },
    [emailCheck(email), newPasswordCheck(app, password)],
  );
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
    let setupPending = false;
    try {
      await app.cognito.confirmSignUp(address, code.value.trim());
    } catch (error) {
      // The account setup (PostConfirmation) failed, but the email IS confirmed: the first sign-in sets the account up.
      if (failedTrigger(error) !== 'PostConfirmation') throw error;
      setupPending = true;
    }
    const pending = app.pendingSignUp;
    if (pending && pending.email.toLowerCase() === address.toLowerCase()) {
      await signInAndGo(app, address, pending.password);
      return;
    }
    app.flash = setupPending
      ? { text: 'Your email is confirmed, but we could not finish setting up your account. Sign in to finish it and get your API key.', kind: 'info' }
      : { text: 'Your email is confirmed. Sign in to get your API key.', kind: 'success' };
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
  onSubmit(
    form,
    status,
    'Sending…',
    'forgot',
    async () => {
      const address = email.value.trim();
      await app.cognito.forgotPassword(address);
      app.flash = { text: `If ${address} has an account, a reset code is on its way.`, kind: 'info' };
      app.navigate(`/reset?email=${encodeURIComponent(address)}`);
    },
    [emailCheck(email)],
  );
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
    field('New password', password, passwordHint(app)),
    outboxHint(app, address),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Change password')),
  );
  onSubmit(
    form,
    status,
    'Changing…',
    'reset',
    async () => {
      const addr = email.value.trim();
      try {
        await app.cognito.confirmForgotPassword(addr, code.value.trim(), password.value);
        app.flash = { text: 'Your password is changed. Sign in with the new one.', kind: 'success' };
      } catch (error) {
        // The new password is saved before PostConfirmation runs; only the sign-out of other sessions failed.
        if (failedTrigger(error) !== 'PostConfirmation') throw error;
        app.flash = {
          text: 'Your password is changed, but we could not sign out your other sessions. Sign in with the new password, then use "Sign out everywhere" on the Account page.',
          kind: 'info',
        };
      }
      app.navigate(`/signin?email=${encodeURIComponent(addr)}`);
    },
    [newPasswordCheck(app, password)],
  );
  return page('Choose a new password', 'Enter the code we sent you and your new password.', form);
}
