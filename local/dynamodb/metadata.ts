/**
 * What the front knows about each table beyond what dynalite keeps: the stream, TTL, SSE,
 * point-in-time recovery and the other settings dynalite silently drops. Persisted as JSON.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { KeyElement } from './items.js';

/** Front-owned settings of one table. */
export interface TableMeta {
  tableName: string;
  keySchema: KeyElement[];
  /** The stream currently attached (enabled), if any. */
  stream?: { viewType: string; arn: string; label: string };
  /** The last stream ever attached, still reported by DescribeTable after it is disabled. */
  latestStream?: { arn: string; label: string };
  ttl?: { enabled: boolean; attributeName: string };
  sse?: { enabled: boolean; sseType?: string; kmsMasterKeyId?: string };
  pitr?: { enabled: boolean; recoveryPeriodInDays?: number; enabledAt?: number };
  deletionProtection?: boolean;
  tableClass?: string;
  contributorInsights?: boolean;
}

/** The persisted document. */
interface MetaFile {
  version: 1;
  tables: Record<string, TableMeta>;
  /** Highest sequence number ever handed out (decimal). */
  sequence?: string;
  streams?: unknown[];
}

/** Table metadata, saved to disk on every change (small, rare writes). */
export class MetadataStore {
  private tables = new Map<string, TableMeta>();
  /** Extra persisted state owned by the stream store. */
  streamsState: unknown[] = [];
  /** Highest stream sequence number handed out, persisted with the rest. */
  sequence: string | undefined;

  constructor(private readonly file: string) {}

  /** Loads the file if present. */
  load(): void {
    if (!existsSync(this.file)) return;
    const doc = JSON.parse(readFileSync(this.file, 'utf8')) as MetaFile;
    this.tables = new Map(Object.entries(doc.tables ?? {}));
    this.streamsState = doc.streams ?? [];
    this.sequence = doc.sequence;
  }

  /** Writes the file atomically (write then rename). */
  save(): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const doc: MetaFile = { version: 1, tables: Object.fromEntries(this.tables), sequence: this.sequence, streams: this.streamsState };
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(doc, null, 1));
    renameSync(tmp, this.file);
  }

  /** The metadata of a table, if known. */
  get(tableName: string): TableMeta | undefined {
    return this.tables.get(tableName);
  }

  /** Records (or replaces) a table's metadata and saves. */
  set(meta: TableMeta): void {
    this.tables.set(meta.tableName, meta);
    this.save();
  }

  /** Forgets a table and saves. */
  delete(tableName: string): void {
    if (this.tables.delete(tableName)) this.save();
  }

  /** Every known table. */
  all(): TableMeta[] {
    return [...this.tables.values()];
  }
}
