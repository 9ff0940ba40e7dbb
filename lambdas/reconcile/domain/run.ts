/**
 * A run's plan, its repair decision and its summary: the pure logic of the Plan, Decide and
 * Summarize states.
 */
import type { OutboundEvent } from '../../shared/ports.js';
import { evaluateBreaker } from './breaker.js';
import { pageCount } from './digest.js';
import type { CompareStats, DigestLayout, Mode, SegmentWork, Strategy, TableDiscrepancy } from './model.js';
import type { FinalAction, ResolveOutcome } from './resolve.js';

/** The state machine's input (after validation and defaults). */
export interface RunRequest {
  readonly mode: Mode;
  readonly strategy: Strategy;
  readonly segments?: number;
  readonly maxRcuPerSecond?: number;
  readonly runId?: string;
  readonly settleSeconds?: number;
  readonly pageSize?: number;
}

/** Deployment-wide defaults (from the construct, via the environment). */
export interface RunDefaults {
  readonly maxRcuPerSecond: number;
  readonly settleSeconds: number;
  readonly breakerThresholdPercent: number;
  /** Items per full-mode segment when `segments` is not given. */
  readonly itemsPerSegment: number;
  readonly maxSegments: number;
  /** Segments that run at once (the Map's MaxConcurrency): the budget is split among them. */
  readonly maxConcurrency: number;
  readonly digestSegments: number;
  readonly layout: DigestLayout;
}

/** The plan every later state reads. */
export interface RunPlan {
  readonly runId: string;
  readonly mode: Mode;
  readonly strategy: Strategy;
  readonly totalSegments: number;
  readonly maxRcuPerSecond: number;
  readonly settleSeconds: number;
  readonly breakerThresholdPercent: number;
  /** Whether this run id already had a plan (a resumed run). */
  readonly resumed: boolean;
  readonly work: SegmentWork[];
}

/** Segments for a full run: one per `itemsPerSegment` items of the larger table, within [1, maxSegments]. */
export function segmentsFor(itemCount: number, defaults: RunDefaults): number {
  return Math.max(1, Math.min(defaults.maxSegments, Math.ceil(itemCount / defaults.itemsPerSegment)));
}

/** Plans a run. `recordedSegments` (from an earlier execution of the same runId) wins, so checkpoints line up. */
export function planRun(
  request: RunRequest,
  ctx: { executionName: string; itemCount: number; defaults: RunDefaults; recordedSegments?: number },
): RunPlan {
  const { defaults } = ctx;
  const runId = request.runId ?? ctx.executionName;
  const requested =
    request.segments ?? (request.strategy === 'digest' ? defaults.digestSegments : segmentsFor(ctx.itemCount, defaults));
  const cap = request.strategy === 'digest' ? pageCount(defaults.layout) : defaults.maxSegments;
  const totalSegments = ctx.recordedSegments ?? Math.max(1, Math.min(cap, requested));
  const maxRcuPerSecond = request.maxRcuPerSecond ?? defaults.maxRcuPerSecond;
  // Concurrent workers share the budget; each gets its slice.
  const perWorker = maxRcuPerSecond / Math.min(totalSegments, defaults.maxConcurrency);
  const work = Array.from({ length: totalSegments }, (_, segment): SegmentWork => ({
    runId,
    mode: request.mode,
    strategy: request.strategy,
    segment,
    totalSegments,
    maxRcuPerSecond: perWorker,
    ...(request.pageSize ? { pageSize: request.pageSize } : {}),
  }));
  return {
    runId,
    mode: request.mode,
    strategy: request.strategy,
    totalSegments,
    maxRcuPerSecond,
    settleSeconds: request.settleSeconds ?? defaults.settleSeconds,
    breakerThresholdPercent: defaults.breakerThresholdPercent,
    resumed: ctx.recordedSegments !== undefined,
    work,
  };
}

/** What a compare worker returns per segment (the Map collects them). */
export interface SegmentCompareResult {
  readonly segment: number;
  readonly stats: CompareStats;
  /** Items read by this execution (0 for a segment done before a resume). */
  readonly itemsReadThisExecution: number;
}

/** The repair decision after recheck. */
export interface RunDecision {
  readonly compared: number;
  readonly confirmed: number;
  readonly breakerTripped: boolean;
  readonly driftPercent: number;
  /** `none` when nothing was confirmed. */
  readonly action: FinalAction | 'none';
  readonly reason: string;
  readonly work: Array<SegmentWork & { readonly action: FinalAction; readonly reason: string }>;
}

export function decide(plan: RunPlan, compare: readonly SegmentCompareResult[], recheck: readonly ResolveOutcome[]): RunDecision {
  const compared = compare.reduce((n, c) => n + c.stats.compared, 0);
  const confirmed = recheck.reduce((n, r) => n + r.byStatus.CONFIRMED, 0);
  const breaker = evaluateBreaker({ compared, confirmed, thresholdPercent: plan.breakerThresholdPercent });
  let action: RunDecision['action'];
  let reason: string;
  if (confirmed === 0) [action, reason] = ['none', 'no confirmed drift'];
  else if (breaker.tripped)
    [action, reason] = ['escalate', `circuit breaker: ${breaker.driftPercent.toFixed(2)}% drift exceeds ${plan.breakerThresholdPercent}% of compared items`];
  else if (plan.mode === 'report') [action, reason] = ['escalate', 'report mode: drift recorded, not repaired'];
  else [action, reason] = ['repair', 'repair mode'];
  const work = action === 'none' ? [] : plan.work.map((w) => ({ ...w, action: action as FinalAction, reason }));
  return { compared, confirmed, breakerTripped: breaker.tripped, driftPercent: breaker.driftPercent, action, reason, work };
}

/** The run summary: the execution's output, the metrics, and the event detail. */
export interface RunSummary {
  readonly runId: string;
  readonly mode: Mode;
  readonly strategy: Strategy;
  readonly segments: number;
  readonly resumed: boolean;
  readonly compared: number;
  /** Items read by detection, per table (digest rows for the digest strategy), over the whole run. */
  readonly itemsRead: { source: number; replica: number; digest: number; recheck: number };
  /** Detection reads of this execution only (lower than `itemsRead` on a resumed run). */
  readonly itemsReadThisExecution: number;
  readonly rcuConsumed: number;
  /** Candidates found by the compare, by type. */
  readonly candidates: Record<TableDiscrepancy, number>;
  /** Discrepancies confirmed by recheck, by type. */
  readonly discrepancies: Record<TableDiscrepancy | 'COMPENSATION_INCOMPLETE', number>;
  readonly repaired: number;
  readonly falsePositives: number;
  readonly escalated: number;
  readonly breakerTripped: boolean;
  readonly driftPercent: number;
  /** Saga ids whose post-conditions failed (COMPENSATION_INCOMPLETE), if sagas were checked. */
  readonly sagasFlagged: string[];
}

export function summarize(
  plan: RunPlan,
  compare: readonly SegmentCompareResult[],
  recheck: readonly ResolveOutcome[],
  decision: RunDecision,
  finalize: readonly ResolveOutcome[],
  sagas: { flagged: string[] } = { flagged: [] },
): RunSummary {
  const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((n, x) => n + f(x), 0);
  const final = finalize.length > 0 ? finalize : recheck;
  const types: TableDiscrepancy[] = ['MISSING_IN_REPLICA', 'EXTRA_IN_REPLICA', 'MISMATCH'];
  const candidates = Object.fromEntries(types.map((t) => [t, sum(compare, (c) => c.stats.candidates[t])])) as Record<TableDiscrepancy, number>;
  const discrepancies = {
    ...(Object.fromEntries(types.map((t) => [t, sum(final, (r) => r.byType[t] ?? 0)])) as Record<TableDiscrepancy, number>),
    COMPENSATION_INCOMPLETE: sagas.flagged.length,
  };
  return {
    runId: plan.runId,
    mode: plan.mode,
    strategy: plan.strategy,
    segments: plan.totalSegments,
    resumed: plan.resumed,
    compared: decision.compared,
    itemsRead: {
      source: sum(compare, (c) => c.stats.itemsRead.source),
      replica: sum(compare, (c) => c.stats.itemsRead.replica),
      digest: sum(compare, (c) => c.stats.itemsRead.digest),
      recheck: sum(recheck, (r) => r.itemsReadNow) + sum(finalize, (r) => r.itemsReadNow),
    },
    itemsReadThisExecution: sum(compare, (c) => c.itemsReadThisExecution),
    rcuConsumed: sum(compare, (c) => c.stats.rcu) + sum(recheck, (r) => r.rcuNow) + sum(finalize, (r) => r.rcuNow),
    candidates,
    discrepancies,
    repaired: sum(final, (r) => r.byStatus.REPAIRED),
    falsePositives: sum(final, (r) => r.byStatus.FALSE_POSITIVE),
    escalated: sum(final, (r) => r.byStatus.ESCALATED) + sagas.flagged.length,
    breakerTripped: decision.breakerTripped,
    driftPercent: decision.driftPercent,
    sagasFlagged: sagas.flagged,
  };
}

/** The event a run ends with: DriftDetected when drift is left unrepaired, ReconcileCompleted otherwise. */
export function completionEvent(s: RunSummary): OutboundEvent {
  const base = { schemaVersion: 1 as const, runId: s.runId, mode: s.mode, strategy: s.strategy, discrepancies: s.discrepancies };
  if (s.escalated > 0 || s.breakerTripped) {
    return { source: 'converge.reconcile', detailType: 'DriftDetected', detail: { ...base, breakerTripped: s.breakerTripped } };
  }
  return {
    source: 'converge.reconcile',
    detailType: 'ReconcileCompleted',
    detail: { ...base, compared: s.compared, repaired: s.repaired, falsePositives: s.falsePositives },
  };
}
