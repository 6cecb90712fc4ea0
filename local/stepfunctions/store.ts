/**
 * Persistence of executions under `<dir>/stepfunctions/executions/`, one JSON file per execution (record and
 * history), named by the SHA-256 of the execution ARN. Writes are atomic (write a temporary file in the same
 * folder, then rename over the old one), serialized per execution and coalesced: while one write is in flight,
 * further changes only mark the record dirty and are written together once it lands.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { ExecutionRecord } from './types.ts';

interface Slot {
  dirty: boolean;
  writing: Promise<void> | undefined;
  record: ExecutionRecord;
}

export class ExecutionStore {
  readonly dir: string;
  private readonly slots = new Map<string, Slot>();
  private failures = 0;

  constructor(
    baseDir: string,
    private readonly log: (line: string) => void,
  ) {
    this.dir = path.join(baseDir, 'stepfunctions', 'executions');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
  }

  fileFor(executionArn: string): string {
    return path.join(this.dir, `${createHash('sha256').update(executionArn).digest('hex')}.json`);
  }

  /** Every readable execution record; unreadable files are reported and skipped. */
  async loadAll(): Promise<ExecutionRecord[]> {
    const out: ExecutionRecord[] = [];
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return out;
    }
    for (const name of names) {
      const file = path.join(this.dir, name);
      if (name.endsWith('.tmp')) {
        await rm(file, { force: true }); // left behind by a crash between write and rename
        continue;
      }
      if (!name.endsWith('.json')) continue;
      try {
        const rec = JSON.parse(await readFile(file, 'utf8')) as ExecutionRecord;
        if (typeof rec.executionArn !== 'string' || !Array.isArray(rec.events)) throw new Error('not an execution record');
        rec.redriveCount ??= 0;
        out.push(rec);
      } catch (err) {
        this.log(`stepfunctions: skipping unreadable execution file ${file}: ${(err as Error).message}`);
      }
    }
    return out;
  }

  /** Schedules a write of the record's current state; resolves once a write containing it has landed. */
  save(record: ExecutionRecord): Promise<void> {
    let slot = this.slots.get(record.executionArn);
    if (!slot) {
      slot = { dirty: false, writing: undefined, record };
      this.slots.set(record.executionArn, slot);
    }
    slot.record = record;
    slot.dirty = true;
    if (!slot.writing) slot.writing = this.drain(slot);
    return slot.writing;
  }

  private async drain(slot: Slot): Promise<void> {
    try {
      while (slot.dirty) {
        slot.dirty = false;
        await this.writeAtomic(this.fileFor(slot.record.executionArn), JSON.stringify(slot.record));
      }
    } catch (err) {
      this.failures += 1;
      this.log(`stepfunctions: could not persist ${slot.record.executionArn}: ${(err as Error).message}`);
    } finally {
      slot.writing = undefined;
      if (slot.record.status !== 'RUNNING') this.slots.delete(slot.record.executionArn);
    }
  }

  private async writeAtomic(file: string, text: string): Promise<void> {
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, text);
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** Waits until every scheduled write has landed (including changes made while waiting). */
  async flush(): Promise<void> {
    for (;;) {
      const pending = [...this.slots.values()].map((s) => s.writing).filter((p): p is Promise<void> => !!p);
      if (pending.length === 0) return;
      await Promise.all(pending);
    }
  }

  get writeFailures(): number {
    return this.failures;
  }
}
