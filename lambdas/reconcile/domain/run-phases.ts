/**
 * What the run function does in each phase of ReconcileStateMachine, over ports: plan (size the
 * tables, record or resume the plan) and record (metrics, the run's audit row and its event).
 */
import type { AuditLog, EventPublisher } from '../../shared/ports.js';
import { DriftDetected, ReconcileCompleted } from '../../shared/contracts/events.js';
import { RunPlanConflict } from '../errors.js';
import type { TablePair } from './model.js';
import type { RunMetrics, RunStore, TableSizer } from './ports.js';
import { completionEvent, planRun, type RunDefaults, type RunPlan, type RunRequest, type RunSummary } from './run.js';

/** Plans a run, or resumes the recorded plan of the same run id with its first segmentation. */
export async function planPhase(
  request: RunRequest,
  deps: { pair: TablePair; sizer: TableSizer; runs: RunStore; defaults: RunDefaults; executionName: string },
): Promise<RunPlan> {
  const { pair, sizer, runs, defaults, executionName } = deps;
  const itemCount = request.strategy === 'full' ? Math.max(await sizer.itemCount(pair.sourceTable), await sizer.itemCount(pair.replicaTable)) : 0;
  const first = planRun(request, { executionName, itemCount, defaults });
  const recorded = await runs.recordPlan({ runId: first.runId, strategy: first.strategy, totalSegments: first.totalSegments });
  if (recorded.plan.strategy !== first.strategy) throw new RunPlanConflict(first.runId, `was planned as ${recorded.plan.strategy}, cannot resume as ${first.strategy}`);
  // A resumed run keeps its first segmentation, so its checkpoints line up.
  return recorded.existed ? planRun(request, { executionName, itemCount, defaults, recordedSegments: recorded.plan.totalSegments }) : first;
}

/** Records a finished run: its metrics, one audit row, and `ReconcileCompleted` or `DriftDetected`. */
export async function recordRun(
  summary: RunSummary,
  deps: { metrics: RunMetrics; audit: AuditLog; publisher?: EventPublisher; actor: string; reason: string; executionName: string },
): Promise<void> {
  const { metrics, audit, publisher } = deps;
  metrics.count('ItemsCompared', summary.compared);
  metrics.count('RcuConsumed', summary.rcuConsumed);
  for (const [type, n] of Object.entries(summary.discrepancies)) metrics.count(`Discrepancies_${type}`, n);
  metrics.count('Repairs', summary.repaired);
  metrics.count('FalsePositives', summary.falsePositives);
  metrics.count('Escalations', summary.escalated);
  metrics.count('BreakerTripped', summary.breakerTripped ? 1 : 0);
  await audit.append({
    entityId: `reconcile#${summary.runId}`,
    action: 'RECONCILE_RUN',
    actor: deps.actor,
    reason: deps.reason,
    correlationId: summary.runId,
    runId: summary.runId,
    details: { ...summary, executionName: deps.executionName },
    idempotencyKey: `${summary.runId}:RECONCILE_RUN:${deps.executionName}`,
  });
  const outbound = completionEvent(summary);
  // Validate against the published contract before it leaves.
  (outbound.detailType === 'DriftDetected' ? DriftDetected : ReconcileCompleted).build(outbound.detail as never);
  if (publisher) await publisher.publish([outbound]);
}
