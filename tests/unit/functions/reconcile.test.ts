import './env.ts';
import type { Account } from '#shared/accounts';

process.env.USER_POOL_ID = 'us-east-1_EXAMPLE01';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- after the environment above
const { reconcile } = require('../../../functions/reconcile/handler.ts') as typeof import('../../../functions/reconcile/handler.ts');
type ReconcileDeps = import('../../../functions/reconcile/handler.ts').ReconcileDeps;

const account = (userId: string): Account => ({ userId, status: 'ACTIVE', apiKeyId: `key-${userId}`, plan: 'free' });

/** Fake pool and workflow: `users` maps sub → enabled; absent = deleted. */
function fakes(pages: Account[][], users: Record<string, boolean | Error>, alreadyStarted: string[] = []) {
  const started: string[] = [];
  const deps: ReconcileDeps = {
    async *accounts() {
      for (const page of pages) yield page;
    },
    async user(userId) {
      const state = users[userId];
      if (state instanceof Error) throw state;
      return state === undefined ? undefined : { enabled: state };
    },
    async offboard(userId) {
      if (alreadyStarted.includes(userId)) return false;
      started.push(userId);
      return true;
    },
  };
  return { deps, started };
}

describe('reconcile', () => {
  it('starts offboarding for every account whose user is gone, on every page, and only those', async () => {
    const { deps, started } = fakes([[account('a'), account('b')], [account('c')]], { a: true, c: true });

    await expect(reconcile(deps)).resolves.toEqual({ checked: 3, offboarded: 1, failed: 0 });
    expect(started).toEqual(['b']);
  });

  it('counts an offboarding started before (ExecutionAlreadyExists) as nothing new', async () => {
    const { deps } = fakes([[account('a')]], {}, ['a']);

    await expect(reconcile(deps)).resolves.toEqual({ checked: 1, offboarded: 0, failed: 0 });
  });

  it('goes on past an account it cannot check, and counts it', async () => {
    const { deps, started } = fakes([[account('a'), account('b')]], { a: Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }) });

    await expect(reconcile(deps)).resolves.toEqual({ checked: 2, offboarded: 1, failed: 1 });
    expect(started).toEqual(['b']);
  });
});
