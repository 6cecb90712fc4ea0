/**
 * Acknowledged means saved, for Cognito too: `npm start` (a child process, temp dir, free ports) takes a burst of user
 * writes — SignUp, AdminUpdateUserAttributes, AdminDeleteUser, several at once — and is killed with SIGKILL while the
 * burst is still sending, so some writes are in flight and the pool's journal (local/cognito-store.ts) has not been
 * folded into its snapshot. Started again on the same directory, every acknowledged user is there with its last
 * acknowledged attribute, every acknowledged delete stays deleted, and a clean close then leaves only cognito-local's
 * own `<id>.json` files.
 */
import {
  AdminDeleteUserCommand,
  AdminGetUserCommand,
  AdminUpdateUserAttributesCommand,
  CognitoIdentityProviderClient,
  SignUpCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CognitoIds } from '../../local/model.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/types.ts';
import { PASSWORD, startTestStack } from '../../local/harness/stack.ts';
import { startNpmStart } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-cognito-crash-'));
const db = join(dir, 'cognito', 'db');
let child: ChildProcess | undefined;

afterAll(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

it('every acknowledged user write survives kill -9 of npm start in the middle of a burst', async () => {
  const started = await startNpmStart(dir);
  child = started.proc;
  const ids = (JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8')) as { cognito: CognitoIds }).cognito;
  const poolId = Object.values(ids.pools)[0]!;
  const clientId = Object.values(ids.clients)[0]!.id;
  const cognito = new CognitoIdentityProviderClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: started.endpoint('cognito'), maxAttempts: 1 });

  type State = { name: string } | 'deleted';
  /** email → what the last acknowledged write left: the user's `name`, or deleted. */
  const acknowledged = new Map<string, State>();
  /** email → what the write in flight when the process died would leave (it may or may not have been saved). */
  const inFlight = new Map<string, State>();
  const write = async (email: string, after: State, send: () => Promise<unknown>): Promise<void> => {
    inFlight.set(email, after);
    await send();
    acknowledged.set(email, after);
    inFlight.delete(email);
  };
  const failures: unknown[] = [];
  let killed = false;
  let next = 0;
  const kill = () => {
    killed = true;
    started.proc.kill('SIGKILL');
  };
  const customer = async (i: number): Promise<void> => {
    const email = `Crash-${i}@Example.com`; // mixed case: later calls use other casings (the pool is case-insensitive)
    await write(email, { name: 'none' }, () =>
      cognito.send(new SignUpCommand({ ClientId: clientId, Username: email, Password: PASSWORD, UserAttributes: [{ Name: 'email', Value: email }] })),
    );
    await write(email, { name: `n${i}` }, () =>
      cognito.send(new AdminUpdateUserAttributesCommand({ UserPoolId: poolId, Username: email.toLowerCase(), UserAttributes: [{ Name: 'name', Value: `n${i}` }] })),
    );
    if (i % 4 === 0) await write(email, 'deleted', () => cognito.send(new AdminDeleteUserCommand({ UserPoolId: poolId, Username: email.toUpperCase() })));
  };
  const worker = async (): Promise<void> => {
    while (!killed) {
      const i = next;
      next += 1;
      if (i === 120) kill(); // the other workers' requests are in flight now
      await customer(i).catch((error: unknown) => {
        if (!killed) failures.push(error); // once killed: unanswered, so not acknowledged
      });
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  await new Promise((done) => (started.proc.exitCode === null && started.proc.signalCode === null ? started.proc.once('exit', done) : done(undefined)));
  cognito.destroy();
  expect(failures).toEqual([]);
  // the crash left writes in the journal, not yet in the snapshot: the restart must replay them
  expect(readdirSync(db)).toContain(`${poolId}.journal`);
  expect(acknowledged.size).toBeGreaterThanOrEqual(100);

  const t = await startTestStack({ dir });
  try {
    const found = new Map<string, State>();
    for (const email of acknowledged.keys()) {
      const user = await t.clients.cognito.send(new AdminGetUserCommand({ UserPoolId: poolId, Username: email })).catch((error: Error) => error);
      if (user instanceof Error) {
        expect(user.name).toBe('UserNotFoundException');
        found.set(email, 'deleted');
      } else {
        found.set(email, { name: user.UserAttributes?.find((a) => a.Name === 'name')?.Value ?? 'none' });
      }
    }
    // each user as its last acknowledged write left it, or as the write in flight at the kill would
    const expected = new Map([...acknowledged].map(([email, state]) => [email, JSON.stringify(found.get(email)) === JSON.stringify(inFlight.get(email)) ? inFlight.get(email)! : state]));
    expect(found).toEqual(expected);
    expect([...found.values()].filter((s) => s === 'deleted').length).toBeGreaterThanOrEqual(20);
  } finally {
    await t.close();
  }
  // a clean close folds every journal into its snapshot: only cognito-local's own files remain, in its format
  const files = readdirSync(db).sort();
  expect(files.every((f) => f.endsWith('.json'))).toBe(true);
  expect(files).toContain(`${poolId}.json`);
  const pool = JSON.parse(readFileSync(join(db, `${poolId}.json`), 'utf8')) as { Users: Record<string, { UserCreateDate: unknown }> };
  expect(typeof Object.values(pool.Users)[0]?.UserCreateDate).toBe('string');
}, 180_000);
