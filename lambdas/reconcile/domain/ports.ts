/**
 * The ports of the reconciliation domain. Adapters in `../adapters/` implement them over
 * DynamoDB; tests implement them in memory or run the adapters against dynalite.
 */
import type { Item } from './canonical.js';
import type { Candidate, CompareStats, TablePair } from './model.js';

/** Which table of a pair. */
export type Side = 'source' | 'replica';

/** One page of a segment scan, with the capacity it consumed. */
export interface ScanPage {
  readonly items: Item[];
  readonly lastKey?: Item;
  readonly rcu: number;
}

/** Reads one table pair. Every call reports consumed capacity for the token bucket. */
export interface PairReader {
  /** One page of a parallel scan segment (eventually consistent). */
  scan(side: Side, request: { segment: number; totalSegments: number; startKey?: Item; limit?: number }): Promise<ScanPage>;
  /** Keyed reads (eventually consistent), any number of keys; unknown keys are simply absent. */
  batchGet(side: Side, keys: readonly Item[]): Promise<{ items: Item[]; rcu: number }>;
  /** A strongly consistent read of one key. */
  getConsistent(side: Side, key: Item): Promise<{ item?: Item; rcu: number }>;
}

/** What the replica must still look like for a repair to apply. */
export type ReplicaExpectation = { readonly exists: false } | { readonly exists: true; readonly version?: number; readonly image: Item };

/** Writes to the replica, each conditional on an expectation, so a concurrent sync is never clobbered. */
export interface ReplicaWriter {
  /** Puts `item`; `conflict` when the replica no longer matches `expected`. */
  put(item: Item, expected: ReplicaExpectation): Promise<'written' | 'conflict'>;
  /** Deletes `key`; `conflict` when the replica no longer matches `expected`. */
  delete(key: Item, expected: ReplicaExpectation): Promise<'written' | 'conflict'>;
}

/** A key not yet matched with its counterpart on the other side of a segment. */
export interface PendingEntry {
  readonly keyString: string;
  readonly key: Item;
  readonly hash: string;
  readonly version?: number;
}

/** Progress of one side of a segment scan. */
export interface SideProgress {
  readonly lastKey?: Item;
  readonly done: boolean;
}

/** The durable state of comparing one segment: enough to resume without rereading. */
export interface CompareCheckpoint {
  readonly done: boolean;
  readonly source: SideProgress;
  readonly replica: SideProgress;
  /** Digest strategy: the next digest page to compare. */
  readonly nextPage?: number;
  readonly pendingSource: readonly PendingEntry[];
  readonly pendingReplica: readonly PendingEntry[];
  readonly stats: CompareStats;
}

/** A run's plan as first recorded, so that a resumed run keeps the same segmentation. */
export interface RecordedPlan {
  readonly runId: string;
  readonly strategy: string;
  readonly totalSegments: number;
}

/** The run's working state: plan, checkpoints and candidates (TTL'd, not the audit record). */
export interface RunStore {
  /** Records `plan` unless the run already has one; returns the plan in force and whether it existed. */
  recordPlan(plan: RecordedPlan): Promise<{ plan: RecordedPlan; existed: boolean }>;
  loadCheckpoint(runId: string, segment: number): Promise<CompareCheckpoint | undefined>;
  saveCheckpoint(runId: string, segment: number, checkpoint: CompareCheckpoint): Promise<void>;
  /** Idempotent: a candidate already recorded for the same key is left as it is. */
  addCandidates(runId: string, candidates: readonly Candidate[]): Promise<void>;
  listCandidates(runId: string, segment: number): Promise<Candidate[]>;
  updateCandidate(runId: string, candidate: Candidate): Promise<void>;
}

/** One bucket's digest: the sum of its members' 48-bit hashes, and their count. */
export interface BucketDigest {
  readonly sum: bigint;
  readonly count: number;
}

/** A digest member: one key's current hash on one side (`hash` absent = a deletion tombstone). */
export interface DigestMember {
  readonly keyString: string;
  readonly key: Item;
  readonly hash?: string;
  readonly version?: number;
}

/** Reads the digests of a pair. */
export interface DigestReader {
  /** Bucket digests of the given pages; absent buckets are empty (sum 0, count 0). */
  readPages(pair: TablePair, side: Side, pages: readonly number[]): Promise<{ buckets: Map<number, BucketDigest>; itemsRead: number; rcu: number }>;
  /** Every member of a bucket, tombstones included. */
  readMembers(pair: TablePair, side: Side, bucket: number): Promise<{ members: DigestMember[]; itemsRead: number; rcu: number }>;
}

/** Item counts of a table (DescribeTable's ItemCount), for planning segments. */
export interface TableSizer {
  itemCount(table: string): Promise<number>;
}

/** Counts a named metric (EMF in the adapter). */
export interface RunMetrics {
  count(name: string, n: number): void;
}
