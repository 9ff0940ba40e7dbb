import { describe, expect, it } from 'vitest';
import { completionEvent, decide, planRun, summarize, type SegmentCompareResult } from '../../../../lambdas/reconcile/domain/run.js';
import { classify, recheckVerdict } from '../../../../lambdas/reconcile/domain/classify.js';
import { emptyCompareStats } from '../../../../lambdas/reconcile/domain/model.js';
import { DriftDetected, ReconcileCompleted } from '../../../../lambdas/shared/contracts/events.js';
import { defaults, resolved } from './run-fixtures.js';

const compareResult = (compared: number): SegmentCompareResult => ({ segment: 0, stats: { ...emptyCompareStats(), compared, candidates: { MISSING_IN_REPLICA: 1, EXTRA_IN_REPLICA: 0, MISMATCH: 2 } }, itemsReadThisExecution: compared });

describe('planRun', () => {
  it('defaults the run id to the execution name and sizes full segments from the item count', () => {
    const plan = planRun({ mode: 'report', strategy: 'full' }, { executionName: 'exec-1', itemCount: 3500, defaults });
    expect(plan).toMatchObject({ runId: 'exec-1', totalSegments: 4, settleSeconds: 5, maxRcuPerSecond: 800, resumed: false });
    expect(plan.work.map((w) => w.segment)).toEqual([0, 1, 2, 3]);
    // Four concurrent workers share 800 RCU/s.
    expect(plan.work[0]!.maxRcuPerSecond).toBe(200);
    expect(planRun({ mode: 'report', strategy: 'full' }, { executionName: 'e', itemCount: 1e9, defaults }).totalSegments).toBe(16);
    expect(planRun({ mode: 'report', strategy: 'full' }, { executionName: 'e', itemCount: 0, defaults }).totalSegments).toBe(1);
  });

  it('honours explicit segments, budget and run id, and keeps a resumed run’s segmentation', () => {
    const plan = planRun({ mode: 'repair', strategy: 'full', segments: 3, maxRcuPerSecond: 30, runId: 'nightly' }, { executionName: 'x', itemCount: 0, defaults });
    expect(plan).toMatchObject({ runId: 'nightly', totalSegments: 3, maxRcuPerSecond: 30 });
    expect(plan.work[0]!.maxRcuPerSecond).toBe(10);
    const resumed = planRun({ mode: 'repair', strategy: 'full', segments: 9, runId: 'nightly' }, { executionName: 'y', itemCount: 0, defaults, recordedSegments: 3 });
    expect(resumed).toMatchObject({ totalSegments: 3, resumed: true });
  });

  it('uses the digest segment default, capped at the page count', () => {
    expect(planRun({ mode: 'report', strategy: 'digest' }, { executionName: 'e', itemCount: 0, defaults }).totalSegments).toBe(2);
    expect(planRun({ mode: 'report', strategy: 'digest', segments: 500 }, { executionName: 'e', itemCount: 0, defaults }).totalSegments).toBe(16);
  });
});

describe('decide and summarize', () => {
  const plan = planRun({ mode: 'repair', strategy: 'full', segments: 2 }, { executionName: 'e', itemCount: 0, defaults });

  it('repairs confirmed drift below the breaker threshold', () => {
    const d = decide(plan, [compareResult(100), compareResult(100)], [resolved({ CONFIRMED: 2 }), resolved({ CONFIRMED: 1, FALSE_POSITIVE: 3 })]);
    expect(d).toMatchObject({ compared: 200, confirmed: 3, action: 'repair', breakerTripped: false });
    expect(d.work.every((w) => w.action === 'repair')).toBe(true);
  });

  it('escalates instead above the threshold, and in report mode', () => {
    const tripped = decide(plan, [compareResult(100)], [resolved({ CONFIRMED: 6 })]);
    expect(tripped).toMatchObject({ action: 'escalate', breakerTripped: true });
    expect(tripped.reason).toMatch(/circuit breaker/);
    const report = planRun({ mode: 'report', strategy: 'full', segments: 1 }, { executionName: 'e', itemCount: 0, defaults });
    expect(decide(report, [compareResult(100)], [resolved({ CONFIRMED: 1 })])).toMatchObject({ action: 'escalate', breakerTripped: false });
    expect(decide(report, [compareResult(100)], [resolved({ FALSE_POSITIVE: 1 })]).action).toBe('none');
  });

  it('summarizes counts and ends with the matching, contract-valid event', () => {
    const compare = [compareResult(100), compareResult(100)];
    const recheck = [resolved({ CONFIRMED: 2, FALSE_POSITIVE: 1 }), resolved({ CONFIRMED: 1 })];
    const decision = decide(plan, compare, recheck);
    const finalize = [resolved({ REPAIRED: 2, FALSE_POSITIVE: 1 }, { MISMATCH: 2 }), resolved({ REPAIRED: 1 }, { MISSING_IN_REPLICA: 1 })];
    const s = summarize(plan, compare, recheck, decision, finalize);
    expect(s).toMatchObject({ compared: 200, repaired: 3, falsePositives: 1, escalated: 0, breakerTripped: false, candidates: { MISMATCH: 4, MISSING_IN_REPLICA: 2 } });
    expect(s.discrepancies).toEqual({ MISSING_IN_REPLICA: 1, EXTRA_IN_REPLICA: 0, MISMATCH: 2, COMPENSATION_INCOMPLETE: 0 });
    const done = completionEvent(s);
    expect(done.detailType).toBe('ReconcileCompleted');
    expect(() => ReconcileCompleted.parse(done.detail)).not.toThrow();
    const drift = completionEvent({ ...s, escalated: 2, breakerTripped: true });
    expect(drift.detailType).toBe('DriftDetected');
    expect(DriftDetected.parse(drift.detail).breakerTripped).toBe(true);
  });
});

describe('classification', () => {
  it('names the three types', () => {
    expect(classify({ hash: 'a' }, {})).toBe('MISSING_IN_REPLICA');
    expect(classify({}, { hash: 'a' })).toBe('EXTRA_IN_REPLICA');
    expect(classify({ hash: 'a' }, { hash: 'b' })).toBe('MISMATCH');
    expect(classify({ hash: 'a' }, { hash: 'a' })).toBeUndefined();
  });

  it('calls anything that moved since detection a false positive', () => {
    const d = { source: { hash: 'a', version: 2 }, replica: { hash: 'b', version: 1 } };
    expect(recheckVerdict(d, { source: { hash: 'a', version: 2 }, replica: { hash: 'a', version: 2 } }).outcome).toBe('FALSE_POSITIVE');
    expect(recheckVerdict(d, { source: { hash: 'c', version: 3 }, replica: d.replica }).outcome).toBe('FALSE_POSITIVE');
    expect(recheckVerdict(d, d)).toEqual({ outcome: 'CONFIRMED', type: 'MISMATCH' });
  });
});
