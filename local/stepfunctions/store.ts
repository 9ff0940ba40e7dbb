/**
 * Persistence of the local Step Functions service under `${stateDir}/stepfunctions/`:
 * `state-machines.json` and one JSON file per execution (metadata and history).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineStore, ExecutionRecord, MachineRecord } from './engine.js';

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

/** Files on disk; execution writes are coalesced and flushed shortly after, and on {@link FileStore.flush}. */
export class FileStore implements EngineStore {
  readonly dir: string;
  private readonly executionsDir: string;
  private readonly dirty = new Map<string, ExecutionRecord>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'stepfunctions');
    this.executionsDir = join(this.dir, 'executions');
    mkdirSync(this.executionsDir, { recursive: true });
  }

  private fileOf(executionArn: string): string {
    return join(this.executionsDir, `${createHash('sha1').update(executionArn).digest('hex')}.json`);
  }

  /** Schedules the record to be written. */
  saveExecution(record: ExecutionRecord): void {
    this.dirty.set(record.executionArn, record);
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), 20);
      this.timer.unref();
    }
  }

  /** Writes every pending record now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const [arn, record] of this.dirty) {
      this.dirty.delete(arn);
      try {
        writeAtomic(this.fileOf(arn), JSON.stringify(record));
      } catch (err) {
        console.error(`[stepfunctions] could not persist ${arn}:`, err);
      }
    }
  }

  /** Every persisted execution. Unreadable files are reported and skipped. */
  loadExecutions(): ExecutionRecord[] {
    const out: ExecutionRecord[] = [];
    for (const f of readdirSync(this.executionsDir)) {
      if (!f.endsWith('.json')) continue;
      try {
        out.push(JSON.parse(readFileSync(join(this.executionsDir, f), 'utf8')));
      } catch (err) {
        console.error(`[stepfunctions] skipping unreadable execution file ${f}:`, err);
      }
    }
    return out;
  }

  /** Writes the state machines. */
  saveMachines(machines: readonly MachineRecord[]): void {
    writeAtomic(join(this.dir, 'state-machines.json'), JSON.stringify(machines, null, 1));
  }

  /** The persisted state machines. */
  loadMachines(): MachineRecord[] {
    const file = join(this.dir, 'state-machines.json');
    if (!existsSync(file)) return [];
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      console.error('[stepfunctions] skipping unreadable state-machines.json:', err);
      return [];
    }
  }
}
