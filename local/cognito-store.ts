/**
 * A store for cognito-local whose writes cost O(the record), not O(the pool).
 *
 * cognito-local keeps each user pool in one JSON file through stormdb, and every write (saveUser on SignUp,
 * ConfirmSignUp, AdminUpdateUserAttributes, each sign-in's refresh token …) serializes the WHOLE pool on the event
 * loop and rewrites the file: a write costs O(users) and N sign-ups O(N²) (at 4,000 users about 5 MB per write). Our
 * own code because cognito-local takes no other store and stormdb has no incremental save; it implements cognito-local's
 * `DataStore` interface (lib/services/dataStore/dataStore.d.ts) and keeps its file format:
 *
 * - `<dir>/<id>.json` is cognito-local's own file (same serializer: 2-space JSON, `…Date` fields as ISO strings), the
 *   snapshot. It is all there is after a clean `close()`, so stormdb can open the directory again.
 * - `<dir>/<id>.journal` holds the writes made since the snapshot, one JSON line each: `{"set":[path…],"value":…}` or
 *   `{"delete":[path…]}`. Opening replays it over the snapshot (a torn last line, from a crash mid-append, is
 *   ignored: its write was never acknowledged). cognito-local lists pools by `*.json`, so it never sees a journal.
 * - A write resolves once its line has reached the file (`write(2)` returned; no fsync, as stormdb's `writeFile`).
 *   Lines queued while one append is in flight go out together in the next (group commit). An append that fails (a
 *   full disk) rejects its writers and is cut back off the journal, so no torn line sits before later ones.
 * - Once the journal outgrows the snapshot (and `compactAtBytes`), the next append is followed by a compaction: the
 *   state is written to a `<id>.json.*.tmp` file (removed if that fails; a crash's is removed at the next open), renamed
 *   over the snapshot, and the journal truncated. Each compaction costs
 *   O(pool) but happens after O(pool) bytes of writes, so a write costs amortized O(its record).
 *
 * A snapshot that disappears (cognito-local's DeleteUserPool removes `<id>.json`) is not written back (by a compaction
 * or by close, which removes its journal), and a journal without its snapshot is discarded at the next open, so a pool
 * created again under the same id does not inherit old users.
 *
 * `usernamesWith` is an index of the pool's users by username, `sub`, `email` and `phone_number` (values lower-cased),
 * kept with every write: cognito-local finds a user by alias by scanning every user (getUserByUsername), O(users) per
 * lookup and several lookups per sign-up; ./cognito.ts's lookup uses the index instead (patchUserLookups).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** cognito-local's `DataStore` (lib/services/dataStore/dataStore.d.ts); `ctx` is unused here. */
export interface DataStore {
  delete(ctx: unknown, key: string | string[]): Promise<void>;
  get<T>(ctx: unknown, key: string | string[], defaultValue?: T): Promise<T | null>;
  getRoot<T>(ctx: unknown): Promise<T | null>;
  set<T>(ctx: unknown, key: string | string[], value: T): Promise<void>;
}

export interface JournalOptions {
  /** The journal is compacted into the snapshot once it is larger than the snapshot and than this (bytes; default 4 MiB). */
  compactAtBytes?: number;
}

type Tree = Record<string, unknown>;
type Entry = { set: string[]; value: unknown } | { delete: string[] };

/** cognito-local's serializer for its files (lib/services/dataStore/stormDb.js): `…Date` fields hold Dates, written as ISO strings. */
function replaceDates(this: Record<string, unknown>, key: string, value: unknown): unknown {
  if (!key.endsWith('Date')) return value;
  const original = this[key];
  if (!(original instanceof Date)) throw new Error(`Serialize: Expected ${key} field to contain a Date, received a ${typeof original}`);
  return original.toISOString();
}

/** cognito-local's reviver (the same file): `…Date` fields back to Dates. */
function reviveDates(key: string, value: unknown): unknown {
  if (!key.endsWith('Date')) return value;
  if (typeof value === 'number') return new Date(value);
  if (typeof value === 'string') return new Date(Date.parse(value));
  throw new Error(`Deserialize: Expected ${key} to contain a String or Number, received a ${typeof value}`);
}

let tmpCount = 0;
const pathOf = (key: string | string[]): string[] => (Array.isArray(key) ? key : [key]);
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

function setIn(root: Tree, path: readonly string[], value: unknown): void {
  let node = root;
  for (const k of path.slice(0, -1)) {
    if (!isTree(node[k])) node[k] = {};
    node = node[k] as Tree;
  }
  node[path[path.length - 1]!] = value;
}

function deleteIn(root: Tree, path: readonly string[]): void {
  let node: unknown = root;
  for (const k of path.slice(0, -1)) node = isTree(node) ? node[k] : undefined;
  if (isTree(node)) delete node[path[path.length - 1]!];
}

/** What `usernamesWith` looks users up by: the username itself, or one of these attributes. */
export type UserKey = 'Username' | 'sub' | 'email' | 'phone_number';
const USER_KEYS: readonly UserKey[] = ['Username', 'sub', 'email', 'phone_number'];

/** A user record's indexed values, lower-cased: `<key>\u0000<value>`. */
function userKeysOf(username: string, user: unknown): string[] {
  const keys = [`Username\u0000${username.toLowerCase()}`];
  const attributes = isTree(user) && Array.isArray(user.Attributes) ? (user.Attributes as { Name?: unknown; Value?: unknown }[]) : [];
  for (const a of attributes) {
    if (typeof a?.Name === 'string' && typeof a.Value === 'string' && (USER_KEYS as readonly string[]).includes(a.Name)) keys.push(`${a.Name}\u0000${a.Value.toLowerCase()}`);
  }
  return keys;
}

/** One pool's (or the clients') store: the state in memory, a snapshot file and a journal (see the module comment). */
export class JournaledDataStore implements DataStore {
  private state: Tree;
  /** `<key>\u0000<lower-cased value>` → usernames (see usernamesWith). */
  private readonly userIndex = new Map<string, Set<string>>();
  private handle: FileHandle | undefined;
  private queue: { line: string; done: () => void; failed: (error: Error) => void }[] = [];
  private flushing: Promise<void> | undefined;
  private journalBytes = 0;
  private snapshotBytes = 0;
  private closed = false;
  /** Set when a failed append could not be cut back off the journal: later lines would follow a torn one. */
  private damaged: Error | undefined;

  private constructor(
    readonly snapshotFile: string,
    readonly journalFile: string,
    state: Tree,
    private readonly compactAtBytes: number,
  ) {
    this.state = state;
    this.reindexUsers();
  }

  /**
   * Usernames of the users whose `key` (the username, or the attribute of that name) equals `value` ignoring case, in
   * no particular order; the caller compares exactly where case matters. O(matches).
   */
  usernamesWith(key: UserKey, value: string): string[] {
    return [...(this.userIndex.get(`${key}\u0000${value.toLowerCase()}`) ?? [])];
  }

  private indexUser(username: string, user: unknown, add: boolean): void {
    for (const k of userKeysOf(username, user)) {
      const names = this.userIndex.get(k) ?? new Set<string>();
      if (add) names.add(username);
      else names.delete(username);
      if (names.size > 0) this.userIndex.set(k, names);
      else this.userIndex.delete(k);
    }
  }

  private reindexUsers(): void {
    this.userIndex.clear();
    const users = this.state.Users;
    if (isTree(users)) for (const [name, user] of Object.entries(users)) this.indexUser(name, user, true);
  }

  /** Applies a write to the state, keeping the user index: O(the record) for `Users/<name>`, a re-index otherwise. */
  private apply(path: readonly string[], change: (root: Tree) => void): void {
    const one = path.length === 2 && path[0] === 'Users' ? path[1]! : undefined;
    if (one !== undefined) {
      const users = this.state.Users;
      if (isTree(users) && one in users) this.indexUser(one, users[one], false);
    }
    change(this.state);
    if (one !== undefined) {
      const users = this.state.Users;
      if (isTree(users) && one in users) this.indexUser(one, users[one], true);
    } else if (path.length === 0 || path[0] === 'Users') {
      this.reindexUsers(); // the whole Users tree or a part of one user: not what cognito-local writes
    }
  }

  /**
   * Opens `<dir>/<id>.json` (+ `.journal`), replaying the journal; a missing snapshot starts from `defaults` and
   * discards any journal. The state is then written as a fresh snapshot (as cognito-local's factory saves on create)
   * and the journal emptied. Throws on an unreadable snapshot or a corrupt journal line other than the last.
   */
  static async open(dir: string, id: string, defaults: Tree, { compactAtBytes = 4 * 2 ** 20 }: JournalOptions = {}): Promise<JournaledDataStore> {
    mkdirSync(dir, { recursive: true });
    const snapshotFile = join(dir, `${id}.json`);
    const journalFile = join(dir, `${id}.journal`);
    for (const f of readdirSync(dir)) if (f.startsWith(`${id}.json.`) && f.endsWith('.tmp')) rmSync(join(dir, f), { force: true }); // a crash mid-snapshot
    let state: Tree = {};
    if (existsSync(snapshotFile)) {
      const text = readFileSync(snapshotFile, 'utf8');
      state = text.trim() === '' ? {} : (JSON.parse(text, reviveDates) as Tree);
      if (existsSync(journalFile)) replay(state, readFileSync(journalFile, 'utf8'), journalFile);
    } else {
      rmSync(journalFile, { force: true });
    }
    for (const [k, v] of Object.entries(defaults)) if (!(k in state)) state[k] = v; // stormdb's db.default(defaults)
    const store = new JournaledDataStore(snapshotFile, journalFile, state, compactAtBytes);
    await store.writeSnapshot();
    rmSync(journalFile, { force: true }); // replayed into the snapshot (a crash before this replays it again: harmless)
    store.handle = await open(journalFile, 'a'); // O_APPEND: after a compaction's truncate, appends start at 0 again
    return store;
  }

  async get<T>(_ctx: unknown, key: string | string[], defaultValue?: T): Promise<T | null> {
    let node: unknown = this.state;
    // own properties only (arrays too, as stormdb): a user named `constructor` or `__proto__` is not Object.prototype's member
    for (const k of pathOf(key)) node = typeof node === 'object' && node !== null && Object.hasOwn(node, k) ? (node as Tree)[k] : undefined;
    return (node as T | undefined) ?? defaultValue ?? null;
  }

  async getRoot<T>(_ctx?: unknown): Promise<T | null> {
    return this.state as T;
  }

  async set<T>(_ctx: unknown, key: string | string[], value: T): Promise<void> {
    this.checkWritable(); // a refused write changes nothing: not the state, not the next snapshot
    const path = pathOf(key);
    const line = JSON.stringify({ set: path, value }, replaceDates); // before the change: a value that cannot be written changes nothing
    this.apply(path, (root) => setIn(root, path, value));
    await this.append(line);
  }

  async delete(_ctx: unknown, key: string | string[]): Promise<void> {
    this.checkWritable();
    const path = pathOf(key);
    this.apply(path, (root) => deleteIn(root, path));
    await this.append(JSON.stringify({ delete: path }));
  }

  /**
   * Waits for queued writes, writes the snapshot (if the pool still exists), removes the journal (a deleted pool's
   * too: nothing would ever read it). Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.flushing) await this.flushing;
    await this.handle?.close();
    this.handle = undefined;
    if (existsSync(this.snapshotFile)) await this.writeSnapshot();
    rmSync(this.journalFile, { force: true });
  }

  /** Throws if a write cannot be journaled: the store is closed, or its journal damaged (see flush). */
  private checkWritable(): void {
    if (this.closed) throw new Error(`${this.snapshotFile}: the store is closed`);
    if (this.damaged) throw this.damaged;
  }

  private append(line: string): Promise<void> {
    return new Promise<void>((done, failed) => {
      this.queue.push({ line, done, failed });
      if (!this.flushing) this.flushing = this.flush();
    });
  }

  /**
   * Appends every queued line in one write, answers their writers, compacts when due; repeats while lines wait. A
   * failed append (a full disk: write(2) stores part of the batch, then fails) is cut back off the journal, so the lines
   * that follow do not come after a torn one; if even that fails, every later write is refused (a restart reads the
   * journal, the torn line last).
   */
  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const bytes = Buffer.from(`${batch.map((w) => w.line).join('\n')}\n`, 'utf8');
      try {
        if (this.damaged) throw this.damaged;
        await this.writeAll(bytes);
        this.journalBytes += bytes.length;
        for (const w of batch) w.done();
      } catch (error: unknown) {
        if (!this.damaged) {
          await this.handle!.truncate(this.journalBytes).catch(() => {
            this.damaged = error as Error;
          });
        }
        for (const w of batch) w.failed(error as Error);
        continue;
      }
      if (this.journalBytes > Math.max(this.snapshotBytes, this.compactAtBytes)) {
        try {
          await this.compact();
        } catch {
          // the journal still holds every write: compaction is retried after the next append
        }
      }
    }
    this.flushing = undefined;
  }

  /** write(2) may store less than asked (a filling disk) without an error: writes the rest, or throws. */
  private async writeAll(bytes: Buffer): Promise<void> {
    for (let at = 0; at < bytes.length; ) {
      const { bytesWritten } = await this.handle!.write(bytes, at, bytes.length - at);
      if (bytesWritten <= 0) throw new Error(`${this.journalFile}: write stored nothing`);
      at += bytesWritten;
    }
  }

  /**
   * The state (including lines still queued: replaying them again is harmless, sets and deletes repeat) as the snapshot.
   * A pool whose snapshot is gone (DeleteUserPool) is not written back: only its journal is emptied.
   */
  private async compact(): Promise<void> {
    if (existsSync(this.snapshotFile)) await this.writeSnapshot();
    await this.handle!.truncate(0);
    this.journalBytes = 0;
  }

  private async writeSnapshot(): Promise<void> {
    const text = JSON.stringify(this.state, replaceDates, 2); // cognito-local's format, so stormdb can read it
    const tmp = `${this.snapshotFile}.${process.pid}-${(tmpCount += 1)}.tmp`;
    try {
      await writeFile(tmp, text);
      await rename(tmp, this.snapshotFile); // a crash mid-write leaves the old snapshot whole (open removes the .tmp)
    } catch (error) {
      await rm(tmp, { force: true }).catch(() => undefined); // a full disk is not filled further by each retry
      throw error;
    }
    this.snapshotBytes = Buffer.byteLength(text);
  }
}

/** Applies a journal's lines to `state` in order; a torn LAST line is skipped, any other bad line throws. */
function replay(state: Tree, text: string, file: string): void {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, i) => {
    let entry: Entry;
    try {
      entry = JSON.parse(line, reviveDates) as Entry;
    } catch (error: unknown) {
      if (i === lines.length - 1) return; // a crash mid-append: that write was never acknowledged
      throw new Error(`${file}: line ${i + 1} is not JSON (${(error as Error).message})`);
    }
    if ('set' in entry) setIn(state, entry.set, entry.value);
    else deleteIn(state, entry.delete);
  });
}

/**
 * cognito-local's `DataStoreFactory` (as StormDBDataStoreFactory: `create(ctx, id, defaults)`) making
 * JournaledDataStores in `directory`; `close()` closes every store it made (a snapshot each, journals removed).
 */
export class JournaledDataStoreFactory {
  private readonly stores = new Map<string, JournaledDataStore>();

  constructor(
    readonly directory: string,
    private readonly options: JournalOptions = {},
  ) {}

  async create(_ctx: unknown, id: string, defaults: Tree): Promise<JournaledDataStore> {
    await this.stores.get(id)?.close(); // cognito-local creates a pool's store again (DeleteUserPool, CreateUserPool)
    const store = await JournaledDataStore.open(this.directory, id, defaults, this.options);
    this.stores.set(id, store);
    return store;
  }

  async close(): Promise<void> {
    await Promise.all([...this.stores.values()].map((s) => s.close()));
    this.stores.clear();
  }
}
