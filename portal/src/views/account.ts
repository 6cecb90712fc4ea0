/**
 * The account page: who is signed in and the account's status; change email (with the code sent to the new address);
 * change password (then every other session ends); sign out everywhere; delete the account (DELETE /me, confirmed by
 * typing the email).
 */
import { page, type ViewContext } from '../app.ts';
import { claimsOf } from '../cognito.ts';
import { field, h, mount, notice } from '../dom.ts';
import { codeInput, emailCheck, emailInput, newPasswordCheck, onSubmit, outboxHint, passwordHint, passwordInput } from './auth.ts';

export async function accountView({ app }: ViewContext): Promise<Node> {
  const session = app.session.require();
  const me = await app.api.me().catch(() => undefined);

  // Change email. The pool applies a new address only once the code sent to it is verified: until then the old one
  // signs in. After verification, new tokens carry the new address (and GET /me shows it).
  const emailShown = h('dd', { 'data-testid': 'account-email' }, session.email);
  const emailStatus = notice();
  const newEmail = emailInput();
  newEmail.name = 'new-email';
  newEmail.autocomplete = 'email';
  const emailForm = h(
    'form',
    { class: 'card form', 'aria-label': 'Change email' },
    h('h2', null, 'Change email'),
    emailStatus.el,
    field('New email', newEmail, 'We send a code to the new address. Your current one stays in use until you enter it.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Send code')),
  );
  const code = codeInput();
  const codeSentTo = h('div', null);
  const codeForm = h(
    'form',
    { class: 'card form', 'aria-label': 'Verify new email', hidden: true },
    h('h2', null, 'Verify new email'),
    codeSentTo,
    field('Code', code),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Verify and change')),
  );
  onSubmit(
    emailForm,
    emailStatus,
    'Sending…',
    'changeEmail',
    async () => {
      const address = newEmail.value.trim();
      await app.cognito.changeEmail(await app.session.accessToken(), address);
      mount(codeSentTo, h('p', null, `Enter the code we sent to ${address}.`), outboxHint(app, address));
      codeForm.hidden = false;
      code.focus();
    },
    [emailCheck(newEmail)],
  );
  onSubmit(codeForm, emailStatus, 'Verifying…', 'changeEmail', async () => {
    await app.cognito.verifyEmail(await app.session.accessToken(), code.value.trim());
    const refreshed = await app.session.refresh();
    const verified = claimsOf(refreshed.tokens.idToken).email;
    const address = typeof verified === 'string' ? verified : newEmail.value.trim();
    app.session.save({ ...refreshed, email: address });
    emailShown.textContent = address;
    codeForm.hidden = true;
    emailForm.reset();
    codeForm.reset();
    emailStatus.show(`Your email is now ${address}. Sign in with it from now on.`, 'success');
  });

  // Change password. Cognito fires no trigger on ChangePassword, so the portal ends the other sessions itself
  // (GlobalSignOut, which ends this one too) and signs in again with the new password.
  const passwordStatus = notice();
  const current = passwordInput('current-password');
  current.name = 'current-password';
  const proposed = passwordInput('new-password');
  proposed.name = 'new-password';
  const passwordForm = h(
    'form',
    { class: 'card form', 'aria-label': 'Change password' },
    h('h2', null, 'Change password'),
    passwordStatus.el,
    field('Current password', current),
    field('New password', proposed, passwordHint(app)),
    h('p', { class: 'hint' }, 'Every other device and app signed in to this account is signed out.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Change password')),
  );
  onSubmit(
    passwordForm,
    passwordStatus,
    'Changing…',
    'changePassword',
    async () => {
      const accessToken = await app.session.accessToken();
      await app.cognito.changePassword(accessToken, current.value, proposed.value);
      await app.cognito.globalSignOut(accessToken);
      const tokens = await app.cognito.signIn(session.email, proposed.value);
      app.session.save({ ...app.session.require(), tokens });
      passwordForm.reset();
      passwordStatus.show('Your password is changed. Every other session is signed out.', 'success');
    },
    [newPasswordCheck(app, proposed)],
  );

  // Sign out everywhere.
  const everywhereStatus = notice();
  const everywhere = h(
    'form',
    { class: 'card form', 'aria-label': 'Sign out everywhere' },
    h('h2', null, 'Sign out everywhere'),
    everywhereStatus.el,
    h('p', null, 'Ends every session of this account, on every device, including this one.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Sign out everywhere')),
  );
  onSubmit(everywhere, everywhereStatus, 'Signing out…', 'api', async () => {
    await app.cognito.globalSignOut(await app.session.accessToken());
    app.session.clear();
    app.flash = { text: 'You are signed out on every device.', kind: 'info' };
    app.navigate('/signin');
  });

  // Delete the account.
  const deleteStatus = notice();
  const confirm = emailInput();
  confirm.name = 'confirm';
  confirm.autocomplete = 'off';
  const deleteForm = h(
    'form',
    { class: 'card form danger-zone', 'aria-label': 'Delete account' },
    h('h2', null, 'Delete account'),
    deleteStatus.el,
    h('p', null, 'Your API key stops working at once and is deleted, and you get a final statement for this month, prorated to the second you close it. This cannot be undone.'),
    field('Type your email to confirm', confirm, session.email),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'danger' }, 'Delete my account')),
  );
  onSubmit(deleteForm, deleteStatus, 'Deleting…', 'api', async () => {
    await app.api.deleteAccount(confirm.value.trim());
    app.session.clear();
    app.flash = { text: 'Your account is being deleted: its API key no longer works. Thank you for using Tollgate.', kind: 'info' };
    app.navigate('/signin');
  });

  return page(
    'Account',
    null,
    h(
      'dl',
      { class: 'card facts' },
      h('dt', null, 'Email'),
      emailShown,
      h('dt', null, 'Status'),
      h('dd', { 'data-testid': 'account-status' }, me ? (me.keySuspendedAt ? `${me.status} (API key suspended)` : me.status) : '—'),
    ),
    emailForm,
    codeForm,
    passwordForm,
    everywhere,
    deleteForm,
  );
}
