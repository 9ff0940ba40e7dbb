/**
 * The ports through which domain code reaches the world. Domain modules depend on these
 * interfaces only; SDK adapters in `adapters/` implement them at the edge.
 */

/** Discrepancy types found by reconciliation (DESIGN §1). */
export type DiscrepancyType = 'MISSING_IN_REPLICA' | 'EXTRA_IN_REPLICA' | 'MISMATCH' | 'COMPENSATION_INCOMPLETE';
/** Discrepancy lifecycle (DESIGN §1). */
export type DiscrepancyState = 'DETECTED' | 'RECHECKING' | 'REPAIRED' | 'ESCALATED' | 'FALSE_POSITIVE';

/** One append-only audit row. */
export interface AuditEntry {
  /** The entity the decision is about, e.g. `order#o-1` or `Orders#o-1`. */
  readonly entityId: string;
  /** What was decided or done, e.g. `SYNC_APPLIED`, `COMPENSATION_INTENT`, `DISCREPANCY`. */
  readonly action: string;
  /** The function or user who acted. */
  readonly actor: string;
  readonly reason?: string;
  readonly correlationId: string;
  readonly before?: unknown;
  readonly after?: unknown;
  readonly discrepancyType?: DiscrepancyType;
  readonly lifecycle?: DiscrepancyState;
  readonly runId?: string;
  /** Anything else worth keeping; must hold no secrets or PII. */
  readonly details?: Record<string, unknown>;
  /**
   * A deterministic key for this decision (e.g. `${runId}:${entityId}:DETECTED`): adapters that
   * honour it write the row at most once, so a retried step never duplicates history.
   */
  readonly idempotencyKey?: string;
}

/** Appends audit rows; there is deliberately no update or delete. */
export interface AuditLog {
  append(entry: AuditEntry): Promise<void>;
}

/** Time, injectable so domain logic is testable. */
export interface Clock {
  now(): Date;
}

/** An event to publish on the bus. */
export interface OutboundEvent {
  readonly source: string;
  readonly detailType: string;
  readonly detail: Record<string, unknown> & { schemaVersion: number };
}

/** Publishes domain events. */
export interface EventPublisher {
  publish(events: readonly OutboundEvent[]): Promise<void>;
}

/** The system clock. */
export const systemClock: Clock = { now: () => new Date() };
