/**
 * The Lambda service's persistent state under `<stateDir>/lambda/`: deployed functions, invoke
 * configs, event-source mappings and their checkpoints, so a restart resumes where it stopped.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { FunctionConfig, InvokeConfig } from './functions.js';
import type { MappingConfig } from './esm/mapping.js';

/** What is written to `lambda/state.json`. */
export interface LambdaState {
  functions: Record<string, FunctionConfig>;
  invokeConfigs: Record<string, InvokeConfig>;
  mappings: Record<string, MappingConfig>;
  /** Last fully processed sequence number per mapping UUID. */
  checkpoints: Record<string, string>;
  /** Mappings that already took their StartingPosition (so LATEST is not re-applied after a restart). */
  positioned: Record<string, boolean>;
  permissions: Record<string, Record<string, unknown>>;
  /** The resolved properties each mapping was created from, so UpdateEventSourceMapping can re-validate. */
  mappingRequests: Record<string, { stackName: string; logicalId: string; properties: Record<string, any> }>;
}

/** Reads and atomically rewrites the state file. */
export class StateStore {
  readonly dir: string;
  private readonly file: string;
  readonly state: LambdaState;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'lambda');
    this.file = path.join(this.dir, 'state.json');
    mkdirSync(this.dir, { recursive: true });
    this.state = { functions: {}, invokeConfigs: {}, mappings: {}, checkpoints: {}, positioned: {}, permissions: {}, mappingRequests: {} };
    try {
      Object.assign(this.state, JSON.parse(readFileSync(this.file, 'utf8')) as Partial<LambdaState>);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') console.error(`[local-lambda] ignoring unreadable ${this.file}:`, err);
    }
  }

  /** Writes the whole state (small: configs and one checkpoint per mapping) via a rename, so a crash never leaves half a file. */
  save(): void {
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state, null, 1));
    renameSync(tmp, this.file);
  }
}
