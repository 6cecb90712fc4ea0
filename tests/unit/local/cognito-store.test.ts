/**
 * local/cognito-store.ts: cognito-local's whole-file saves coalesced — never two at once, writes made during a save
 * share the next one, and every caller's save resolves only after a save that started after its change.
 */
import { coalesceSaves, coalescingDataStoreFactory } from '../../../local/cognito-store.ts';

/** A stand-in for a stormdb instance: `state` changes, `save` snapshots it when it starts and lands after `ms`. */
function fakeDb(ms = 20) {
  const db = {
    state: 0,
    saved: [] as number[],
    started: 0,
    inFlight: 0,
    maxInFlight: 0,
    fail: false,
    save(): Promise<void> {
      const snapshot = db.state;
      db.started += 1;
      db.inFlight += 1;
      db.maxInFlight = Math.max(db.maxInFlight, db.inFlight);
      const fail = db.fail;
      return new Promise<void>((resolve, reject) =>
        setTimeout(() => {
          db.inFlight -= 1;
          if (fail) return reject(new Error('disk full'));
          db.saved.push(snapshot);
          resolve();
        }, ms),
      );
    },
  };
  return db;
}

describe('coalesceSaves', () => {
  it('runs one save at a time, batches the writes made meanwhile into one more, and each caller sees its own change saved', async () => {
    const db = fakeDb();
    coalesceSaves(db);
    const writes = Array.from({ length: 10 }, async (_, i) => {
      db.state = i + 1;
      await db.save();
      // Resolved only once the file holds this change or a later state.
      expect(db.saved[db.saved.length - 1]).toBeGreaterThanOrEqual(i + 1);
    });
    await Promise.all(writes);
    expect(db.maxInFlight).toBe(1);
    // The first write's save, then one for the nine made while it was being written.
    expect(db.started).toBe(2);
    expect(db.saved).toEqual([1, 10]);
  });

  it('a save that fails rejects its own callers; the next batch still saves', async () => {
    const db = fakeDb();
    coalesceSaves(db);
    db.fail = true;
    db.state = 1;
    const first = db.save();
    db.fail = false;
    db.state = 2;
    const second = db.save();
    await expect(first).rejects.toThrow('disk full');
    await expect(second).resolves.toBeUndefined();
    expect(db.saved).toEqual([2]);
  });

  it('pauses between saves as long as the last one took, at most maxPauseMs', async () => {
    let clock = 0;
    const db = fakeDb(1);
    const save = db.save;
    db.save = () => {
      clock += db.started === 0 ? 30 : 400; // the first save "takes" 30 ms, the next ones 400
      return save();
    };
    const pauses: number[] = [];
    coalesceSaves(db, { maxPauseMs: 250, now: () => clock, sleep: async (ms) => void pauses.push(ms) });
    await Promise.all([db.save(), db.save()]);
    await Promise.all([db.save(), db.save()]);
    // Only a save queued behind another pauses: after the 30 ms one, 30; after a 400 ms one, the cap.
    expect(pauses).toEqual([30, 250]);
  });

  it('is applied once however often it is called', async () => {
    const db = fakeDb(1);
    coalesceSaves(db);
    const once = db.save;
    coalesceSaves(db);
    expect(db.save).toBe(once);
  });
});

describe('coalescingDataStoreFactory', () => {
  it("makes the save of every store the factory creates coalescing, and passes the factory's arguments through", async () => {
    const db = fakeDb(5);
    const factory = { calls: [] as unknown[][], async create(...args: unknown[]) { this.calls.push(args); return { db }; } };
    const wrapped = coalescingDataStoreFactory(factory);
    const store = (await wrapped.create('ctx', 'us-east-1_pool', { Users: {} })) as { db: typeof db };
    expect(factory.calls).toEqual([['ctx', 'us-east-1_pool', { Users: {} }]]);
    await Promise.all([store.db.save(), store.db.save(), store.db.save()]);
    expect(db.started).toBe(2);
  });
});
