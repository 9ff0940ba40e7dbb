/**
 * The ports of the sync domain. Adapters in `../adapters/` implement them with DynamoDB,
 * Powertools idempotency, SQS and EMF; tests implement them in memory.
 */
import type { GuardOutcome, ReplicaWrite } from './version-guard.js';

/** Applies a guarded write to a replica table; the guard is evaluated atomically by the store. */
export interface ReplicaWriter {
  write(replica: string, write: ReplicaWrite): Promise<GuardOutcome>;
}

/** Runs a unit of work at most once to completion per key. */
export interface Once {
  /**
   * Runs `work` unless a completed run with `key` exists, in which case its stored value is
   * returned with `duplicate: true`. A failed run leaves no record, so a retry runs again.
   */
  run<T extends object>(key: string, work: () => Promise<T>): Promise<{ value: T; duplicate: boolean }>;
}

/** A poison record as it is parked on the DLQ: facts and reason only, never images. */
export interface PoisonMessage {
  readonly kind: 'SyncPoisonRecord';
  readonly sourceTable: string;
  readonly reason: string;
  readonly error: string;
  readonly message: string;
  readonly eventId?: string;
  readonly eventName?: string;
  readonly sequenceNumber?: string;
  readonly eventSourceArn?: string;
  readonly key?: string;
  readonly parkedAt: string;
}

/** The queue where poison records are parked. */
export interface PoisonQueue {
  send(message: PoisonMessage): Promise<void>;
}

/** The metrics the sync emits. */
export type SyncMetric = 'Applied' | 'SkippedStale' | 'Duplicates' | 'Failures' | 'PoisonRecords' | 'EventsPublished';

/** Metrics sink. */
export interface SyncMetrics {
  count(metric: SyncMetric, n?: number): void;
  /** Milliseconds from the source write to the replica write. */
  lag(ms: number): void;
}

/** Structured log sink; fields hold keys, versions and ids only. */
export interface SyncLog {
  info(message: string, fields: Record<string, unknown>): void;
  warn(message: string, fields: Record<string, unknown>): void;
  error(message: string, fields: Record<string, unknown>): void;
}
