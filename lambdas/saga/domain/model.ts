/**
 * The saga ledger's model and the ports through which the saga domain reaches it. Pure types.
 *
 * Ledger table (pk `sagaId`, sk `sk`):
 * - header `sk = 'SAGA'`: {@link SagaHeader}: status, execution, failure, escalation, decisions, trail;
 * - effect `sk = 'EFFECT#<Step>'`: {@link EffectRecord}, written in the same transaction as the
 *   step's effect, so an APPLIED reservation or charge is exactly an active one.
 */
import type { AuditLog, Clock, EventPublisher } from '../../shared/ports.js';
import type { OrderPlacedDetail } from '../../shared/contracts/events.js';

/** Ledger status: RUNNING → SUCCEEDED | COMPENSATING → COMPENSATED | COMPENSATION_FAILED → NEEDS_HUMAN → RESOLVED. */
export type SagaStatus = 'RUNNING' | 'SUCCEEDED' | 'COMPENSATING' | 'COMPENSATED' | 'COMPENSATION_FAILED' | 'NEEDS_HUMAN' | 'RESOLVED';

/**
 * State of one step's effect. APPLIED: the effect holds (an active reservation / charge).
 * COMPENSATED: undone by its compensation. VOIDED: the compensation ran first, so the action may
 * never apply (a tombstone against late actions). RESOLVED: an operator undid it by hand.
 */
export type EffectState = 'APPLIED' | 'COMPENSATED' | 'VOIDED' | 'RESOLVED';

/** Why compensation started. */
export interface SagaFailure {
  readonly step: string;
  /** `business`: the action did not apply; `unknown`: it may have, so its own compensation runs too. */
  readonly failureClass: 'business' | 'unknown';
  readonly error: string;
  readonly cause: string;
  /** Compensations this path runs, in order. */
  readonly plan: readonly string[];
}

/** One entry of the step trail kept on the header. */
export interface TrailEntry {
  readonly name: string;
  readonly kind: 'action' | 'compensation';
  readonly outcome: string;
  readonly at: string;
  readonly durationMs: number;
}

/** An operator's answer to an escalation. */
export interface Decision {
  readonly decision: 'retry' | 'skip' | 'resolve';
  readonly reason: string;
  readonly actor: string;
}

/** The ledger header of one saga. */
export interface SagaHeader {
  readonly sagaId: string;
  readonly sagaName: string;
  readonly orderId: string;
  readonly customerId: string;
  readonly status: SagaStatus;
  readonly executionArn: string;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly completedAt?: string;
  readonly failure?: SagaFailure;
  /** Present while a human is asked: the task token `converge resolve` answers. */
  readonly escalation?: { readonly compensation: string; readonly forStep: string; readonly error: string; readonly cause: string; readonly taskToken: string; readonly at: string };
  readonly decisions?: readonly (Decision & { readonly compensation: string; readonly at: string })[];
  readonly trail?: readonly TrailEntry[];
}

/** The ledger's record of a step's effect. */
export interface EffectRecord {
  readonly sagaId: string;
  readonly step: string;
  readonly state: EffectState;
  /** What was applied (e.g. `{items}` or `{customerId, amount}`), enough to undo it. */
  readonly details: Record<string, unknown>;
  readonly appliedAt?: string;
  readonly settledAt?: string;
}

/** A change to a business item, applied in the same transaction as the ledger's effect row. */
export type ResourceOp =
  /** Adds `delta` to a numeric attribute; a negative delta requires `attribute >= -delta`, else `onConflict`. */
  | { readonly kind: 'adjust'; readonly table: string; readonly key: Record<string, string>; readonly attribute: string; readonly delta: number; readonly onConflict: () => Error }
  /** Creates an item that must not exist yet. */
  | { readonly kind: 'create'; readonly table: string; readonly keyName: string; readonly item: Record<string, unknown>; readonly onConflict: () => Error }
  /** Sets attributes (and `version + 1`, `updatedAt`) on an item whose attributes equal `expect`. */
  | { readonly kind: 'transition'; readonly table: string; readonly key: Record<string, string>; readonly expect: Record<string, string>; readonly set: Record<string, unknown>; readonly onConflict: () => Error };

/** Outcome of applying an action. */
export type ApplyOutcome = 'APPLIED' | 'ALREADY_SETTLED';
/** Outcome of a compensation. */
export type CompensationOutcome = 'COMPENSATED' | 'VOIDED' | 'ALREADY_UNDONE';

/** The saga ledger and the transactional effects. */
export interface SagaStore {
  /** Creates the header in RUNNING unless one exists; returns the existing one otherwise. */
  claim(header: SagaHeader): Promise<{ claimed: true } | { claimed: false; existing: SagaHeader }>;
  header(sagaId: string): Promise<SagaHeader | undefined>;
  effect(sagaId: string, step: string): Promise<EffectRecord | undefined>;
  /**
   * Atomically: the ops, the effect row (APPLIED, only if absent) and the trail entry, while the
   * header is RUNNING; `final` also moves the header to SUCCEEDED.
   * @returns ALREADY_SETTLED when the effect row existed (applied before, or voided): nothing changed.
   * @throws the failing op's conflict error, SagaStateConflict when the header is not RUNNING.
   */
  apply(command: { sagaId: string; step: string; ops: readonly ResourceOp[]; details: Record<string, unknown>; trail: TrailEntry; final: boolean; now: string }): Promise<ApplyOutcome>;
  /**
   * Atomically: the ops, the effect row moved from `from` (APPLIED, or absent) to `to`, and the
   * trail entry, unless the saga SUCCEEDED (a passed pivot is never undone).
   * @returns false when the effect row was not in `from` any more (re-read and retry).
   */
  settle(command: { sagaId: string; step: string; from: 'APPLIED' | 'ABSENT'; to: EffectState; ops: readonly ResourceOp[]; note?: Record<string, unknown>; trail?: TrailEntry; now: string }): Promise<boolean>;
  /** Conditional header update: `expect` lists the statuses it may move from. */
  update(sagaId: string, change: { status?: SagaStatus; expect?: readonly SagaStatus[]; set?: Record<string, unknown>; remove?: readonly string[]; appendDecision?: Record<string, unknown>; now: string }): Promise<void>;
}

/** Everything the saga domain needs from the world. */
export interface SagaDeps {
  readonly store: SagaStore;
  readonly audit: AuditLog & { append(entry: Parameters<AuditLog['append']>[0] & { idempotencyKey?: string }): Promise<void> };
  readonly events: EventPublisher;
  readonly clock: Clock;
  /** Who acts, for audit rows (the function name). */
  readonly actor: string;
}

/** The order a saga runs for (the validated OrderPlaced detail). */
export type SagaOrder = OrderPlacedDetail;
