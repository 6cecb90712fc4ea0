import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';

let tmpCounter = 0;

/** Writes `data` to `path` atomically: a temporary file in the same directory, fsync, then rename over. */
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
 * A JSON file rewritten at most once per `delayMs` after `markDirty()`; writes never overlap, and `flush()` writes
 * any pending change now. `snapshot` is called at write time, so bursts of changes cost one write.
 */
export class DebouncedJsonFile {
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;
  private writing: Promise<void> | undefined;

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
      this.writeNow().catch(this.onError);
    }, this.delayMs);
    this.timer.unref();
  }

  /** Writes pending changes now (and waits for a write in progress). Rejects if the write fails. */
  async flush(): Promise<void> {
    this.cancelTimer();
    if (this.writing) await this.writing.catch(() => undefined);
    this.cancelTimer();
    if (this.dirty) await this.writeNow();
  }

  private cancelTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  private async writeNow(): Promise<void> {
    if (this.writing) return this.writing;
    this.dirty = false;
    let failed = false;
    const data = JSON.stringify(this.snapshot());
    this.writing = writeFileAtomic(this.path, data)
      .catch((err: unknown) => {
        failed = true;
        this.dirty = true; // written again with the next change or flush(), not in a retry loop
        throw err;
      })
      .finally(() => {
        this.writing = undefined;
        if (this.dirty && !failed) this.markDirty(); // changes made while writing
      });
    return this.writing;
  }
}
