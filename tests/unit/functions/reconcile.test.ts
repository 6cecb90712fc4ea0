import type { Account } from '#shared/accounts';
import { redriveSuffix } from '#shared/workflows';
import { reconcile, type ReconcileDeps } from '../../../functions/reconcile/domain.ts';

const account = (userId: string): Account => ({ userId, status: 'ACTIVE', apiKeyId: `key-${userId}`, plan: 'free' });

/** Fake pool and workflow: `users` maps sub → enabled; absent = deleted. */
function fakes(pages: Account[][], users: Record<string, boolean | Error | { enabled: boolean; email: string }>, alreadyStarted: string[] = [], now = Date.parse('2026-11-30T12:00:00.000Z')) {
  const started: string[] = [];
  /** What was done, in order: `key <id> on|off`, `mark <sub> on|off`. */
  const actions: string[] = [];
  const deps: ReconcileDeps = {
    async *accounts() {
      for (const page of pages) yield page;
    },
    async user(userId) {
      const state = users[userId];
      if (state instanceof Error) throw state;
      if (state === undefined) return undefined;
      return typeof state === 'boolean' ? { enabled: state } : state;
    },
    async offboard(userId, redrive) {
      const name = redrive === undefined ? userId : `${userId}-${redrive}`;
      if (alreadyStarted.includes(name) || started.includes(name)) return false;
      started.push(name);
      return true;
    },
    now: () => now,
    async setKeyEnabled(apiKeyId, enabled) {
      actions.push(`key ${apiKeyId} ${enabled ? 'on' : 'off'}`);
    },
    async markSuspended(userId, _apiKeyId, suspended) {
      actions.push(`mark ${userId} ${suspended ? 'on' : 'off'}`);
    },
    async recordEmail(userId, email) {
      actions.push(`email ${userId} ${email}`);
      return true;
    },
  };
  return { deps, started, actions };
}

describe('reconcile', () => {
  it('starts offboarding for every account whose user is gone, on every page, and only those', async () => {
    const { deps, started } = fakes([[account('a'), account('b')], [account('c')]], { a: true, c: true });

    await expect(reconcile(deps)).resolves.toEqual({ checked: 3, offboarded: 1, redriven: 0, suspended: 0, restored: 0, emailsUpdated: 0, failed: 0, keysRecorded: 0, keyRecordsUpdated: 0 });
    expect(started).toEqual(['b']);
  });

  it('counts an offboarding started before (ExecutionAlreadyExists) as nothing new while the account changed recently', async () => {
    const { deps } = fakes([[{ ...account('a'), updatedAt: '2026-11-30T11:50:00.000Z' }]], {}, ['a']);

    await expect(reconcile(deps)).resolves.toEqual({ checked: 1, offboarded: 0, redriven: 0, suspended: 0, restored: 0, emailsUpdated: 0, failed: 0, keysRecorded: 0, keyRecordsUpdated: 0 });
  });

  it('goes on past an account it cannot check, and counts it', async () => {
    const { deps, started } = fakes([[account('a'), account('b')]], { a: Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }) });

    await expect(reconcile(deps)).resolves.toEqual({ checked: 2, offboarded: 1, redriven: 0, suspended: 0, restored: 0, emailsUpdated: 0, failed: 1, keysRecorded: 0, keyRecordsUpdated: 0 });
    expect(started).toEqual(['b']);
  });

  it('suspends the key of a disabled user (key off, then the mark) and restores it once enabled (key on, then unmark)', async () => {
    const suspendedAccount: Account = { ...account('b'), keySuspendedAt: '2026-11-30T10:00:00.000Z' };
    const { deps, actions } = fakes([[account('a'), suspendedAccount, account('c')]], { a: false, b: true, c: true });

    await expect(reconcile(deps)).resolves.toEqual({ checked: 3, offboarded: 0, redriven: 0, suspended: 1, restored: 1, emailsUpdated: 0, failed: 0, keysRecorded: 0, keyRecordsUpdated: 0 });
    expect(actions.filter((a) => a.includes(' a') || a.includes('key-a'))).toEqual(['key key-a off', 'mark a on']);
    expect(actions.filter((a) => a.includes(' b') || a.includes('key-b'))).toEqual(['key key-b on', 'mark b off']);
    expect(actions.some((a) => a.includes('c'))).toBe(false);
  });

  it('leaves alone what is in step, and accounts that are not ACTIVE or have no key', async () => {
    const { deps, actions } = fakes(
      [[{ ...account('a'), keySuspendedAt: '2026-11-30T10:00:00.000Z' }, { ...account('b'), status: 'ONBOARDING', apiKeyId: undefined }, { ...account('c'), status: 'FAILED' }]],
      { a: false, b: false, c: false },
    );

    await expect(reconcile(deps)).resolves.toMatchObject({ suspended: 0, restored: 0 });
    expect(actions).toEqual([]);
  });

  it('re-drives, once per account state, an account still open 15 minutes after its last change', async () => {
    const stuck: Account = { ...account('a'), status: 'CLOSING', updatedAt: '2026-11-30T11:40:00.000Z' };
    const { deps, started } = fakes([[stuck]], {}, ['a']);

    await expect(reconcile(deps)).resolves.toMatchObject({ offboarded: 0, redriven: 1 });
    await expect(reconcile(deps)).resolves.toMatchObject({ offboarded: 0, redriven: 0 });
    expect(started).toEqual([`a-${redriveSuffix('2026-11-30T11:40:00.000Z')}`]);
    expect(redriveSuffix('2026-11-30T11:40:00.000Z')).toMatch(/^[0-9a-f]{12}$/);
  });

  it('re-drives a stuck CLOSING account whose user still exists (a self-service deletion that failed)', async () => {
    const stuck: Account = { ...account('a'), status: 'CLOSING', updatedAt: '2026-11-30T11:00:00.000Z' };
    const { deps, started } = fakes([[stuck, { ...account('b'), status: 'CLOSING', updatedAt: '2026-11-30T11:59:00.000Z' }]], { a: true, b: true });

    await expect(reconcile(deps)).resolves.toMatchObject({ offboarded: 0, redriven: 1 });
    expect(started).toEqual([`a-${redriveSuffix('2026-11-30T11:00:00.000Z')}`]);
  });

  it('writes the pool’s email to an account that has another (a verified change), and leaves equal ones and closing accounts alone', async () => {
    const closing: Account = { ...account('c'), status: 'CLOSING', updatedAt: '2026-11-30T11:59:00.000Z', email: 'old-c@example.com' };
    const accounts = [{ ...account('a'), email: 'old@example.com' }, { ...account('b'), email: 'same@example.com' }, closing];
    const { deps, actions } = fakes([accounts], {
      a: { enabled: true, email: 'new@example.com' },
      b: { enabled: true, email: 'same@example.com' },
      c: { enabled: true, email: 'new-c@example.com' },
    });
    await expect(reconcile(deps)).resolves.toMatchObject({ checked: 3, emailsUpdated: 1, failed: 0 });
    expect(actions).toEqual(['email a new@example.com']);
  });
});
