/**
 * local/cognito-store.ts: cognito-local's store as a snapshot in cognito-local's own format plus a journal of the
 * writes since, replayed on open, compacted once it outgrows the snapshot, folded back into the snapshot on close.
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournaledDataStore, JournaledDataStoreFactory } from '../../../local/cognito-store.ts';

const ctx = {};
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cognito-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const user = (name: string, extra: Record<string, unknown> = {}) => ({
  Username: name,
  UserCreateDate: new Date('2026-01-02T03:04:05.000Z'),
  UserLastModifiedDate: new Date('2026-01-02T03:04:05.000Z'),
  Attributes: [{ Name: 'email', Value: `${name}@example.com` }],
  ...extra,
});
const journalLines = (id: string) => readFileSync(join(dir, `${id}.journal`), 'utf8').split('\n').filter(Boolean);

describe('JournaledDataStore', () => {
  it('answers get, getRoot and defaults as stormdb does, and writes each change as one journal line', async () => {
    const store = await JournaledDataStore.open(dir, 'pool', { Users: {}, Options: { Id: 'pool' } });
    await store.set(ctx, ['Users', 'a'], user('a'));
    await store.set(ctx, 'Options', { Id: 'pool', Name: 'x' });
    await store.delete(ctx, ['Users', 'missing']);
    expect(await store.get(ctx, ['Users', 'a'])).toEqual(user('a'));
    expect(await store.get(ctx, ['Users', 'nobody'])).toBeNull();
    expect(await store.get(ctx, ['Groups'], {})).toEqual({});
    expect(await store.get(ctx, ['Users', 'a', 'Attributes', '0', 'Name'])).toBe('email');
    expect(await store.getRoot(ctx)).toEqual({ Users: { a: user('a') }, Options: { Id: 'pool', Name: 'x' } });
    expect(journalLines('pool').map((l) => JSON.parse(l) as unknown)).toEqual([
      { set: ['Users', 'a'], value: { ...user('a'), UserCreateDate: '2026-01-02T03:04:05.000Z', UserLastModifiedDate: '2026-01-02T03:04:05.000Z' } },
      { set: ['Options'], value: { Id: 'pool', Name: 'x' } },
      { delete: ['Users', 'missing'] },
    ]);
    await store.close();
  });

  it('replays the journal after a crash (no close): every acknowledged write is there, Dates revived', async () => {
    const first = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    await first.set(ctx, ['Users', 'a'], user('a'));
    await first.set(ctx, ['Users', 'b'], user('b'));
    await first.delete(ctx, ['Users', 'a']);
    await first.set(ctx, ['Users', 'b'], user('b', { Enabled: false }));
    // no close(): the process died; the snapshot still holds the state at open
    expect(JSON.parse(readFileSync(join(dir, 'pool.json'), 'utf8'))).toEqual({ Users: {} });
    const second = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    expect(await second.getRoot(ctx)).toEqual({ Users: { b: user('b', { Enabled: false }) } });
    expect((await second.get<{ UserCreateDate: Date }>(ctx, ['Users', 'b']))!.UserCreateDate).toBeInstanceOf(Date);
    await Promise.all([first.close(), second.close()]);
  });

  it('ignores a torn last line (a crash mid-append) but refuses a corrupt line before it', async () => {
    const first = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    await first.set(ctx, ['Users', 'a'], user('a'));
    appendFileSync(join(dir, 'pool.journal'), '{"set":["Users","b"],"value":{"Userna');
    const second = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    expect(Object.keys((await second.get<object>(ctx, 'Users'))!)).toEqual(['a']);
    await second.set(ctx, ['Users', 'c'], user('c'));
    // second crashed too; now a bad line that is not the last
    writeFileSync(join(dir, 'pool.journal'), `not json\n${journalLines('pool').join('\n')}\n`);
    await expect(JournaledDataStore.open(dir, 'pool', { Users: {} })).rejects.toThrow(/pool\.journal: line 1 is not JSON/);
    await Promise.all([first.close(), second.close()]);
  });

  it('leaves only cognito-local\'s own file after close: its format (2-space JSON, ISO dates), no journal', async () => {
    const store = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    await store.set(ctx, ['Users', 'a'], user('a'));
    await store.close();
    await store.close(); // idempotent
    expect(existsSync(join(dir, 'pool.journal'))).toBe(false);
    const text = readFileSync(join(dir, 'pool.json'), 'utf8');
    expect(text).toBe(JSON.stringify({ Users: { a: { ...user('a'), UserCreateDate: '2026-01-02T03:04:05.000Z', UserLastModifiedDate: '2026-01-02T03:04:05.000Z' } } }, null, 2));
    await expect(store.set(ctx, ['Users', 'b'], user('b'))).rejects.toThrow(/closed/);
    await expect(store.delete(ctx, ['Users', 'a'])).rejects.toThrow(/closed/);
    // a refused write changes nothing (an in-flight request during shutdown must not land in the final snapshot)
    expect(await store.get(ctx, ['Users', 'b'])).toBeNull();
    expect(await store.get(ctx, ['Users', 'a'])).not.toBeNull();
  });

  it('compacts once the journal outgrows the snapshot: the journal starts again from empty, nothing is lost', async () => {
    const store = await JournaledDataStore.open(dir, 'pool', { Users: {} }, { compactAtBytes: 2_000 });
    const sizes: number[] = [];
    for (let i = 0; i < 60; i += 1) {
      await store.set(ctx, ['Users', `u${i}`], user(`u${i}`));
      sizes.push(statSync(join(dir, 'pool.journal')).size);
    }
    // the journal shrank (compactions) and never grew far past the snapshot or the threshold
    const compactions = sizes.filter((s, i) => i > 0 && s < sizes[i - 1]!).length;
    expect(compactions).toBeGreaterThanOrEqual(2);
    expect(Math.max(...sizes)).toBeLessThan(Math.max(2_000, statSync(join(dir, 'pool.json')).size) + 1_000);
    // no zero bytes at the journal's start after a truncate (appends, not writes at the old offset)
    expect(readFileSync(join(dir, 'pool.journal')).includes(0)).toBe(false);
    const reopened = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    expect(Object.keys((await reopened.get<object>(ctx, 'Users'))!)).toHaveLength(60);
    await Promise.all([store.close(), reopened.close()]);
  });

  it('batches writes made while an append is in flight, in order; each caller resolves after its own line is written', async () => {
    const store = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    const writes = Array.from({ length: 50 }, (_, i) => store.set(ctx, ['Users', 'same'], user('same', { n: i })));
    await Promise.all(writes);
    const lines = journalLines('pool').map((l) => (JSON.parse(l) as { value: { n: number } }).value.n);
    expect(lines).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const reopened = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    expect(await reopened.get(ctx, ['Users', 'same', 'n'])).toBe(49);
    await Promise.all([store.close(), reopened.close()]);
  });

  it('finds only what was stored: a key named like an Object.prototype member (constructor, toString, __proto__) is no user', async () => {
    const store = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    await store.set(ctx, ['Users', 'a'], user('a'));
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(await store.get(ctx, ['Users', name])).toBeNull();
      expect(await store.get(ctx, ['Users', 'a', name])).toBeNull();
    }
    expect(await store.get(ctx, ['Users', 'a', 'Attributes', 'length'])).toBe(1); // an array's own length, as stormdb
    await store.close();
  });

  it('refuses a value cognito-local\'s serializer refuses (a …Date field that is not a Date) without changing the state', async () => {
    const store = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    await expect(store.set(ctx, ['Users', 'a'], { Username: 'a', UserCreateDate: 'yesterday' })).rejects.toThrow(/Expected UserCreateDate field to contain a Date/);
    expect(await store.get(ctx, ['Users', 'a'])).toBeNull();
    await store.close();
  });

  it('discards the journal of a pool whose snapshot was deleted (DeleteUserPool), so a new pool of that id starts empty', async () => {
    const first = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    await first.set(ctx, ['Users', 'a'], user('a'));
    rmSync(join(dir, 'pool.json')); // cognito-local's deleteUserPool
    await first.close(); // does not write the deleted pool back
    expect(existsSync(join(dir, 'pool.json'))).toBe(false);
    const again = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    expect(await again.getRoot(ctx)).toEqual({ Users: {} });
    await again.close();
  });
});

describe('JournaledDataStore under failures', () => {
  afterEach(() => jest.restoreAllMocks());

  type HandleMethods = { write: (this: FileHandle, ...args: unknown[]) => Promise<unknown>; truncate: (...args: unknown[]) => Promise<unknown> };

  /**
   * Makes the next journal append fail as on a filling disk: write(2) stores 10 bytes and returns 10 (no error), the
   * next call fails with `code`. Answers FileHandle.prototype (jest.restoreAllMocks undoes it).
   */
  async function failNextAppend(code: string): Promise<HandleMethods> {
    const probe = await open(join(dir, 'probe'), 'w');
    await probe.close();
    rmSync(join(dir, 'probe'));
    const proto = Object.getPrototypeOf(probe) as HandleMethods;
    const realWrite = proto.write;
    jest
      .spyOn(proto, 'write')
      .mockImplementationOnce(function (this: FileHandle, buffer: unknown) {
        return realWrite.call(this, buffer, 0, 10);
      })
      .mockImplementationOnce(() => Promise.reject(Object.assign(new Error(`${code}: write failed`), { code })));
    return proto;
  }

  it('answers a short write (a disk filling up) with an error, and leaves no torn line before the writes that follow', async () => {
    const store = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    await store.set(ctx, ['Users', 'a'], user('a'));
    await failNextAppend('ENOSPC');
    await expect(store.set(ctx, ['Users', 'b'], user('b'))).rejects.toThrow(/ENOSPC/);
    jest.restoreAllMocks();
    await store.set(ctx, ['Users', 'c'], user('c')); // space again: acknowledged
    // the process dies: every acknowledged write is read back, and the journal opens
    const reopened = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    expect(Object.keys((await reopened.get<object>(ctx, 'Users'))!).sort()).toEqual(['a', 'c']);
    await Promise.all([store.close(), reopened.close()]);
  });

  it('refuses further writes when a failed append cannot be cut back, so a restart still reads every acknowledged one', async () => {
    const store = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    await store.set(ctx, ['Users', 'a'], user('a'));
    const proto = await failNextAppend('EIO');
    jest.spyOn(proto, 'truncate').mockImplementationOnce(() => Promise.reject(new Error('EIO: truncate failed')));
    await expect(store.set(ctx, ['Users', 'b'], user('b'))).rejects.toThrow(/EIO/);
    jest.restoreAllMocks();
    await expect(store.set(ctx, ['Users', 'c'], user('c'))).rejects.toThrow(/EIO/);
    // the process dies: the torn fragment is the journal's last line, so it opens
    const reopened = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    expect(Object.keys((await reopened.get<object>(ctx, 'Users'))!)).toEqual(['a']);
    await reopened.close();
    await store.close();
  });

  it('leaves no temporary snapshot behind: not when a compaction fails, nor after a crash in the middle of one', async () => {
    const store = await JournaledDataStore.open(dir, 'pool', { Users: {} }, { compactAtBytes: 500 });
    // the rename over the snapshot fails (here: a directory in its place), after the temporary file was written
    rmSync(join(dir, 'pool.json'));
    mkdirSync(join(dir, 'pool.json', 'busy'), { recursive: true });
    for (let i = 0; i < 20; i += 1) await store.set(ctx, ['Users', `u${i}`], user(`u${i}`));
    await expect(store.close()).rejects.toThrow(/pool\.json/); // after the last compaction, its snapshot fails too
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    rmSync(join(dir, 'pool.json'), { recursive: true });
    writeFileSync(join(dir, 'pool.json'), '{"Users":{}}');
    // a crash while the temporary file was being written
    writeFileSync(join(dir, 'pool.json.4242-7.tmp'), '{"Users":{"u0":');
    const reopened = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    expect(Object.keys((await reopened.get<object>(ctx, 'Users'))!)).toHaveLength(20);
    expect(readdirSync(dir).sort()).toEqual(['pool.journal', 'pool.json']);
    await reopened.close();
  });

  it('leaves nothing of a deleted pool (DeleteUserPool): writes still in flight do not write it back, close removes its journal', async () => {
    const store = await JournaledDataStore.open(dir, 'pool', { Users: {} }, { compactAtBytes: 500 });
    await store.set(ctx, ['Users', 'a'], user('a'));
    rmSync(join(dir, 'pool.json')); // cognito-local's deleteUserPool
    for (let i = 0; i < 20; i += 1) await store.set(ctx, ['Users', `u${i}`], user(`u${i}`)); // past a compaction
    expect(existsSync(join(dir, 'pool.json'))).toBe(false);
    await store.close();
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('JournaledDataStoreFactory', () => {
  it("creates stores as cognito-local's factory does (defaults kept under existing data) and closes them all", async () => {
    const factory = new JournaledDataStoreFactory(join(dir, 'db'));
    const clients = await factory.create(ctx, 'clients', { Clients: {} });
    const pool = await factory.create(ctx, 'pool', { Users: {}, Options: { Id: 'pool' } });
    await pool.set(ctx, ['Users', 'a'], user('a'));
    await clients.set(ctx, ['Clients', 'c1'], { ClientId: 'c1' });
    await factory.close();
    const again = new JournaledDataStoreFactory(join(dir, 'db'));
    const reopened = await again.create(ctx, 'pool', { Users: {}, Options: { Id: 'other' } });
    expect(await reopened.getRoot(ctx)).toEqual({ Users: { a: user('a') }, Options: { Id: 'pool' } });
    expect(await (await again.create(ctx, 'clients', { Clients: {} })).get(ctx, ['Clients', 'c1'])).toEqual({ ClientId: 'c1' });
    await again.close();
    expect(existsSync(join(dir, 'db', 'pool.journal'))).toBe(false);
  });
});

describe('JournaledDataStore.usernamesWith (the user index)', () => {
  const withAttrs = (name: string, attrs: Record<string, string>) => ({ Username: name, Attributes: Object.entries(attrs).map(([Name, Value]) => ({ Name, Value })) });

  it('finds users by username, sub, email and phone_number ignoring case, and follows every write', async () => {
    const store = await JournaledDataStore.open(dir, 'pool', { Users: { old: withAttrs('old', { sub: 's-old', email: 'Old@Example.com' }) } });
    expect(store.usernamesWith('email', 'old@example.COM')).toEqual(['old']); // indexed from the snapshot
    await store.set(ctx, ['Users', 'u1'], withAttrs('u1', { sub: 's-1', email: 'A@example.com', phone_number: '+15550001' }));
    expect(store.usernamesWith('Username', 'U1')).toEqual(['u1']);
    expect(store.usernamesWith('sub', 's-1')).toEqual(['u1']);
    expect(store.usernamesWith('phone_number', '+15550001')).toEqual(['u1']);
    // the email changes: the old value no longer finds the user
    await store.set(ctx, ['Users', 'u1'], withAttrs('u1', { sub: 's-1', email: 'b@example.com' }));
    expect(store.usernamesWith('email', 'a@example.com')).toEqual([]);
    expect(store.usernamesWith('email', 'B@EXAMPLE.COM')).toEqual(['u1']);
    expect(store.usernamesWith('phone_number', '+15550001')).toEqual([]);
    await store.delete(ctx, ['Users', 'u1']);
    expect(store.usernamesWith('sub', 's-1')).toEqual([]);
    // a write of the whole Users tree re-indexes
    await store.set(ctx, 'Users', { n: withAttrs('n', { email: 'n@example.com' }) });
    expect([store.usernamesWith('email', 'old@example.com'), store.usernamesWith('email', 'n@example.com')]).toEqual([[], ['n']]);
    await store.close();
  });

  it('is rebuilt from the journal after a crash', async () => {
    const first = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    await first.set(ctx, ['Users', 'u1'], withAttrs('u1', { email: 'x@example.com' }));
    const second = await JournaledDataStore.open(dir, 'pool', { Users: {} });
    expect(second.usernamesWith('email', 'x@example.com')).toEqual(['u1']);
    await Promise.all([first.close(), second.close()]);
  });
});
