/**
 * The reconciliation model: what a run is asked to do, the unit of work a segment worker gets,
 * what it reports, and the candidates and their lifecycle.
 */
import type { DiscrepancyType } from '../../shared/ports.js';
import type { Item } from './canonical.js';

/** `report` writes only audit rows; `repair` also converges the replica. */
export type Mode = 'report' | 'repair';
/** `full` scans both tables; `digest` compares bucket digests and drills into mismatched buckets. */
export type Strategy = 'full' | 'digest';
/** The drift types a table comparison can find (COMPENSATION_INCOMPLETE comes from saga checks). */
export type TableDiscrepancy = Exclude<DiscrepancyType, 'COMPENSATION_INCOMPLETE'>;
export const TABLE_DISCREPANCIES: readonly TableDiscrepancy[] = ['MISSING_IN_REPLICA', 'EXTRA_IN_REPLICA', 'MISMATCH'];

/** A source table and the replica that must converge to it. */
export interface TablePair {
  /** Short name used in entity ids (`${entity}#${key}`) and digest keys, e.g. `order`. */
  readonly name: string;
  readonly sourceTable: string;
  readonly replicaTable: string;
  /** Key attributes, partition key first. */
  readonly keyAttributes: readonly string[];
  /** Top-level attributes left out of the canonical hash on both sides (e.g. `updatedAt`). */
  readonly ignoredFields: readonly string[];
  /** The monotonically increasing version attribute sync guards on. @default 'version' */
  readonly versionAttribute: string;
}

/** Digest layout: `buckets` buckets, `bucketsPerPage` of them per digest item. */
export interface DigestLayout {
  readonly buckets: number;
  readonly bucketsPerPage: number;
}

/** What a segment worker gets from the plan (and hands back, enriched, when it loops). */
export interface SegmentWork {
  readonly runId: string;
  readonly mode: Mode;
  readonly strategy: Strategy;
  readonly segment: number;
  readonly totalSegments: number;
  /** This worker's share of the run's read budget. */
  readonly maxRcuPerSecond: number;
  /** Scan page size (DynamoDB Limit); absent = DynamoDB's 1 MB pages. */
  readonly pageSize?: number;
}

/** Items read per table (and digest rows), counted per call result. */
export interface ReadCounts {
  source: number;
  replica: number;
  digest: number;
}

/** What comparing a segment found so far (cumulative over resumptions). */
export interface CompareStats {
  /** Distinct keys compared: every source key plus every replica-only key. */
  compared: number;
  itemsRead: ReadCounts;
  rcu: number;
  candidates: Record<TableDiscrepancy, number>;
}

export const emptyReads = (): ReadCounts => ({ source: 0, replica: 0, digest: 0 });
export const emptyCompareStats = (): CompareStats => ({
  compared: 0,
  itemsRead: emptyReads(),
  rcu: 0,
  candidates: { MISSING_IN_REPLICA: 0, EXTRA_IN_REPLICA: 0, MISMATCH: 0 },
});

/** What one side looked like when read. `hash` absent = the item does not exist. */
export interface Observation {
  readonly hash?: string;
  readonly version?: number;
}

/** Where a candidate is in its lifecycle (the run's working state; the audit rows are the record). */
export type CandidateStatus = 'DETECTED' | 'CONFIRMED' | 'FALSE_POSITIVE' | 'REPAIRED' | 'ESCALATED';

/** A possible discrepancy found by a compare, before and after recheck. */
export interface Candidate {
  readonly segment: number;
  readonly key: Item;
  readonly keyString: string;
  readonly type: TableDiscrepancy;
  /** As seen by the compare. */
  readonly detected: { readonly source: Observation; readonly replica: Observation };
  /** As seen by the consistent recheck. */
  readonly rechecked?: { readonly source: Observation; readonly replica: Observation };
  /** The replica image the recheck read: the repair's condition, and the audit's `before`. */
  readonly replicaImage?: Item;
  readonly status: CandidateStatus;
}
