import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';

let tmpCounter = 0;

/**
 * Writes `data` to `path` atomically and durably: a temporary file in the same directory, fsync, rename over, then
 * fsync of the directory (so the rename itself survives a power cut, not only a process crash).
 */
export async function writeFileAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${++tmpCounter}.tmp`;
  try {
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(data, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Reads and parses a JSON file; undefined if it does not exist. A corrupt file is an error (fail loudly). */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new Error(`apigateway: state file ${path} is not valid JSON (${(err as Error).message}); move it away to start afresh`);
  }
}

export async function ensureDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

/**
 * A JSON state file, written whole and atomically (writeFileAtomic). Two ways to write:
 * - `markDirty()`: debounced, at most once per `delayMs` (the data plane's per-request usage counters);
 * - `save()`: durable now: resolves once every change made before the call is on disk (fsync'd and renamed), so a
 *   control-plane write can be acknowledged only after it is saved. Callers that arrive while a write is in flight
 *   share the next write (group commit): a burst of N writes costs about two file writes, not N.
 * `snapshot` is called when a write starts. Writes never overlap. A failed write leaves the file dirty and rejects the
 * `save()`s waiting on it.
 */
export class JsonStateFile {
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  private writing: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(
    private readonly path: string,
    private readonly snapshot: () => unknown,
    private readonly delayMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  markDirty(): void {
    this.dirty = true;
    if (this.timer || this.writing) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.save().catch(this.onError);
    }, this.delayMs);
    this.timer.unref();
  }

  /** Resolves when the changes made so far are durable. Rejects if the write fails. */
  save(): Promise<void> {
    this.cancelTimer();
    if (!this.dirty) return this.writing ?? Promise.resolve(); // an in-flight write already took the latest snapshot
    if (!this.writing) return this.start();
    // The in-flight write may have taken its snapshot before these changes: they go in the next one.
    this.next ??= this.writing
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.dirty ? this.start() : undefined;
      });
    return this.next;
  }

  /** Writes pending changes now (and waits for a write in progress). Rejects if the write fails. */
  async flush(): Promise<void> {
    await this.save();
  }

  private cancelTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private start(): Promise<void> {
    this.dirty = false;
    const data = JSON.stringify(this.snapshot());
    let failed = false;
    const writing = writeFileAtomic(this.path, data)
      .catch((err: unknown) => {
        failed = true;
        this.dirty = true; // written again with the next change or save(), not in a retry loop
        throw err;
      })
      .finally(() => {
        if (this.writing === writing) this.writing = undefined;
        if (this.dirty && !failed && !this.next) this.markDirty(); // changes made while writing
      });
    this.writing = writing;
    return writing;
  }
}
