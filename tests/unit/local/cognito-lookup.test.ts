/**
 * local/cognito.ts patchUserLookups: on the journaled store (local/cognito-store.ts) a user is found through its index,
 * with the same answers as cognito-local's scan over every user (kept for its own stormdb store), for both of the
 * pool's case rules.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournaledDataStoreFactory } from '../../../local/cognito-store.ts';
import { patchUserLookups } from '../../../local/cognito.ts';

/* eslint-disable @typescript-eslint/no-explicit-any */
const cognitoRequire = createRequire(require.resolve('cognito-local/package.json'));
const { UserPoolServiceImpl } = cognitoRequire('./lib/services/userPoolService') as { UserPoolServiceImpl: any };
const { StormDBDataStoreFactory } = cognitoRequire('./lib/services/dataStore/stormDb') as { StormDBDataStoreFactory: any };
patchUserLookups(UserPoolServiceImpl);

const ctx = { logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined } };
const user = (name: string, attrs: Record<string, string>) => ({
  Username: name,
  UserCreateDate: new Date('2026-01-01T00:00:00Z'),
  UserLastModifiedDate: new Date('2026-01-01T00:00:00Z'),
  Enabled: true,
  UserStatus: 'CONFIRMED',
  Attributes: Object.entries(attrs).map(([Name, Value]) => ({ Name, Value })),
});
const USERS = [
  user('0b1c-uuid-1', { sub: '0b1c-uuid-1', email: 'Mixed.Case@Example.com' }),
  user('7d2e-uuid-2', { sub: '7d2e-uuid-2', email: 'lower@example.com', phone_number: '+15550100' }),
  user('Named-User', { sub: 'aa-sub-3', email: 'named@example.com' }),
];
const QUERIES = ['0b1c-uuid-1', 'aa-sub-3', 'AA-SUB-3', 'Mixed.Case@Example.com', 'mixed.case@example.com', 'LOWER@example.com', '+15550100', 'named-user', 'Named-User', 'nobody@example.com', ''];

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cognito-lookup-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function answers(factory: any, caseSensitive: boolean): Promise<(string | null)[]> {
  const options = { Id: 'pool', UsernameAttributes: ['email', 'phone_number'], UsernameConfiguration: { CaseSensitive: caseSensitive } };
  const store = await factory.create(ctx, 'pool', { Users: {}, Options: options });
  const service = new UserPoolServiceImpl(undefined, undefined, store, options);
  for (const u of USERS) await service.saveUser(ctx, u);
  const found: (string | null)[] = [];
  for (const q of QUERIES) found.push(((await service.getUserByUsername(ctx, q)) as { Username: string } | null)?.Username ?? null);
  await factory.close?.();
  return found;
}

describe.each([true, false])('getUserByUsername, CaseSensitive %s', (caseSensitive) => {
  it('answers from the index exactly as the scan does', async () => {
    const indexed = await answers(new JournaledDataStoreFactory(join(dir, 'journal')), caseSensitive);
    const scanned = await answers(new StormDBDataStoreFactory(join(dir, 'stormdb')), caseSensitive);
    expect(indexed).toEqual(scanned);
    // and the answers are the ones Cognito gives (a sanity check that both paths were exercised)
    expect(indexed.slice(0, 4)).toEqual(['0b1c-uuid-1', 'Named-User', caseSensitive ? null : 'Named-User', '0b1c-uuid-1']);
    expect(indexed[4]).toBe(caseSensitive ? null : '0b1c-uuid-1');
    expect(indexed.slice(-2)).toEqual([null, null]);
  });
});
