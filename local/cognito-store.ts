/**
 * cognito-local keeps each user pool in one JSON file through stormdb, and every write (saveUser, on SignUp,
 * ConfirmSignUp, AdminUpdateUserAttributes, each sign-in's refresh token …) serializes the WHOLE pool on the event
 * loop and rewrites the file (stormdb's local engine: `fs.writeFile(path, serialize(state))`). A write thus costs
 * O(users) and N sign-ups O(N²): at 20,000 users one serialization takes ~0.3 s, five per customer. Several writes
 * could also be writing the same file at once. Our own code because stormdb has no batching and cognito-local no
 * other store.
 *
 * `coalesceSaves` replaces a stormdb instance's `save` so that saves never overlap and writes made while one is being
 * written share the next one: a caller's `save()` still resolves only once a save that started after its change (and
 * so contains it: the state is serialized when a save starts) has reached the file — as durable as before, in
 * O(users) per batch instead of per write. Between two saves the store pauses as long as the last save took (at most
 * `maxPauseMs`), so it takes at most about half of the event loop and batches grow as the pool does.
 */

/** The part of a stormdb instance this touches. */
export interface SavingDb {
  save(): Promise<unknown> | unknown;
}

export interface CoalesceOptions {
  /** Longest pause between two saves, ms (default 1,000). */
  maxPauseMs?: number;
  /** Clock in ms (default performance.now). */
  now?: () => number;
  /** Waits `ms` (default: a timer); tests record the pauses. */
  sleep?: (ms: number) => Promise<void>;
}

/** Makes `db.save` coalescing (see the module comment); idempotent. Errors of a save reach every caller that shares it. */
export function coalesceSaves(
  db: SavingDb,
  { maxPauseMs = 1_000, now = () => performance.now(), sleep = (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)) }: CoalesceOptions = {},
): void {
  const marked = db as SavingDb & { __tollgateCoalesced?: true };
  if (marked.__tollgateCoalesced) return;
  marked.__tollgateCoalesced = true;
  const original = db.save.bind(db);
  /** The save being written, if any. */
  let writing: Promise<void> | undefined;
  /** The save that starts after it: every write made meanwhile awaits this one. */
  let queued: Promise<void> | undefined;
  let lastMs = 0;

  const start = (): Promise<void> => {
    const t0 = now();
    let run: Promise<void>;
    try {
      run = Promise.resolve(original()).then(() => undefined); // serializes the state now, synchronously
    } catch (error) {
      run = Promise.reject(error as Error);
    }
    writing = run.finally(() => {
      lastMs = now() - t0;
      writing = undefined;
    });
    return writing;
  };

  db.save = (): Promise<void> => {
    if (queued) return queued;
    if (!writing) return start();
    queued = writing
      .catch(() => undefined) // the previous save's error is its own callers'
      .then(() => sleep(Math.min(maxPauseMs, lastMs)))
      .then(() => {
        queued = undefined;
        return start();
      });
    return queued;
  };
}

/**
 * Wraps a cognito-local DataStoreFactory (StormDBDataStoreFactory) so every store it creates saves through
 * `coalesceSaves`. The stores keep cognito-local's file format and location.
 */
export function coalescingDataStoreFactory<F extends { create(...args: never[]): Promise<unknown> }>(factory: F, options?: CoalesceOptions): F {
  const create = factory.create.bind(factory) as (...args: unknown[]) => Promise<{ db?: SavingDb }>;
  return Object.assign(Object.create(factory) as F, {
    async create(...args: unknown[]) {
      const store = await create(...args);
      if (store.db && typeof store.db.save === 'function') coalesceSaves(store.db, options);
      return store;
    },
  });
}
