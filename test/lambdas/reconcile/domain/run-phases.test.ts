import { describe, expect, it } from 'vitest';
import { planPhase, recordRun } from '../../../../lambdas/reconcile/domain/run-phases.js';
import { decide, planRun, summarize, type SegmentCompareResult } from '../../../../lambdas/reconcile/domain/run.js';
import { emptyCompareStats, type TablePair } from '../../../../lambdas/reconcile/domain/model.js';
import type { RecordedPlan, RunStore } from '../../../../lambdas/reconcile/domain/ports.js';
import { RunPlanConflict } from '../../../../lambdas/reconcile/errors.js';
import type { AuditEntry, OutboundEvent } from '../../../../lambdas/shared/ports.js';
import { defaults, resolved } from './run-fixtures.js';

const pair: TablePair = { name: 'order', sourceTable: 'Orders', replicaTable: 'Replica', keyAttributes: ['orderId'], ignoredFields: [], versionAttribute: 'version' };
const sizer = (counts: Record<string, number>) => ({ itemCount: async (t: string) => counts[t] ?? 0 });

/** Only what planPhase uses of the run store: the plan record. */
function plans(): RunStore & { recorded: Map<string, RecordedPlan> } {
  const recorded = new Map<string, RecordedPlan>();
  return {
    recorded,
    async recordPlan(plan: RecordedPlan) {
      const existing = recorded.get(plan.runId);
      if (existing) return { plan: existing, existed: true };
      recorded.set(plan.runId, plan);
      return { plan, existed: false };
    },
  } as unknown as RunStore & { recorded: Map<string, RecordedPlan> };
}

describe('planPhase', () => {
  it('sizes a full run from the larger table and records its plan', async () => {
    const runs = plans();
    const plan = await planPhase({ mode: 'report', strategy: 'full' }, { pair, sizer: sizer({ Orders: 1500, Replica: 3500 }), runs, defaults, executionName: 'exec-1' });
    expect(plan).toMatchObject({ runId: 'exec-1', totalSegments: 4, resumed: false });
    expect(runs.recorded.get('exec-1')).toMatchObject({ strategy: 'full', totalSegments: 4 });
  });

  it('resumes a run id with its first segmentation, whatever the tables hold now', async () => {
    const runs = plans();
    await planPhase({ mode: 'repair', strategy: 'full', runId: 'nightly' }, { pair, sizer: sizer({ Orders: 3500 }), runs, defaults, executionName: 'a' });
    const resumed = await planPhase({ mode: 'repair', strategy: 'full', runId: 'nightly' }, { pair, sizer: sizer({ Orders: 9000 }), runs, defaults, executionName: 'b' });
    expect(resumed).toMatchObject({ runId: 'nightly', totalSegments: 4, resumed: true });
  });

  it('refuses to resume a run id under another strategy', async () => {
    const runs = plans();
    await planPhase({ mode: 'report', strategy: 'full', runId: 'r' }, { pair, sizer: sizer({}), runs, defaults, executionName: 'a' });
    await expect(planPhase({ mode: 'report', strategy: 'digest', runId: 'r' }, { pair, sizer: sizer({}), runs, defaults, executionName: 'b' })).rejects.toBeInstanceOf(RunPlanConflict);
  });
});

describe('recordRun', () => {
  const plan = planRun({ mode: 'report', strategy: 'full', segments: 1 }, { executionName: 'e', itemCount: 0, defaults });
  const compare: SegmentCompareResult[] = [{ segment: 0, stats: { ...emptyCompareStats(), compared: 100, candidates: { MISSING_IN_REPLICA: 1, EXTRA_IN_REPLICA: 0, MISMATCH: 0 } }, itemsReadThisExecution: 100 }];

  function sinks() {
    const rows: AuditEntry[] = [];
    const events: OutboundEvent[] = [];
    const counts = new Map<string, number>();
    return {
      rows,
      events,
      counts,
      deps: {
        metrics: { count: (name: string, n: number) => counts.set(name, (counts.get(name) ?? 0) + n) },
        audit: { append: async (e: AuditEntry) => void rows.push(e) },
        publisher: { publish: async (es: readonly OutboundEvent[]) => void events.push(...es) },
        actor: 'run-fn',
        executionName: 'exec-9',
      },
    };
  }

  it('reports drift left in report mode: DriftDetected, one idempotent audit row, metrics', async () => {
    const recheck = [resolved({ CONFIRMED: 1 })];
    const decision = decide(plan, compare, recheck);
    const summary = summarize(plan, compare, recheck, decision, [resolved({ ESCALATED: 1 }, { MISSING_IN_REPLICA: 1 })]);
    const s = sinks();
    await recordRun(summary, { ...s.deps, reason: decision.reason });
    expect(s.events.map((e) => e.detailType)).toEqual(['DriftDetected']);
    expect(s.rows).toHaveLength(1);
    expect(s.rows[0]).toMatchObject({ entityId: `reconcile#${summary.runId}`, action: 'RECONCILE_RUN', actor: 'run-fn', runId: summary.runId });
    expect((s.rows[0] as AuditEntry & { idempotencyKey: string }).idempotencyKey).toBe(`${summary.runId}:RECONCILE_RUN:exec-9`);
    expect(s.counts.get('ItemsCompared')).toBe(100);
    expect(s.counts.get('Escalations')).toBe(1);
  });

  it('completes a clean run with ReconcileCompleted', async () => {
    const recheck = [resolved({ FALSE_POSITIVE: 1 })];
    const decision = decide(plan, compare, recheck);
    const summary = summarize(plan, compare, recheck, decision, []);
    const s = sinks();
    await recordRun(summary, { ...s.deps, reason: decision.reason });
    expect(s.events.map((e) => e.detailType)).toEqual(['ReconcileCompleted']);
    expect(s.counts.get('FalsePositives')).toBe(1);
  });
});
