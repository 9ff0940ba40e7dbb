/**
 * `converge saga <orderId|executionArn>`: the step trail of one saga. Each action and
 * compensation with its timing, attempts, error and cause comes from the execution history
 * while Step Functions keeps it (90 days); the ledger's trail and the audit rows give the same
 * story afterwards, so the command still answers once the history has expired.
 */
import { DescribeExecutionCommand, type DescribeExecutionCommandOutput, type HistoryEvent } from '@aws-sdk/client-sfn';
import { placeOrderSaga } from '../../statemachines/place-order.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { duration, printJson, status, table } from '../format.js';
import { ledgerTable, readEffects, readHeader, resolveSagaRef, type EffectRecord, type SagaHeader } from '../ledger.js';
import { auditTrail, type AuditRow } from './audit.js';
import { parseJson, unwrapPayload } from '../util.js';

/** What a trail entry is. */
export type StepKind = 'action' | 'compensation' | 'escalation' | 'decision' | 'control';

/** One entry of the step trail. */
export interface TrailStep {
  readonly name: string;
  readonly kind: StepKind;
  /** SUCCEEDED / FAILED / RUNNING / WAITING, or the handler's own outcome (APPLIED, COMPENSATED, VOIDED…). */
  readonly outcome: string;
  readonly startedAt?: string;
  readonly endedAt?: string;
  readonly durationMs?: number;
  /** Invocations, retries included (history only). */
  readonly attempts?: number;
  readonly error?: string;
  readonly cause?: string;
  /** For decisions: who decided. */
  readonly actor?: string;
}

/** The saga definition's names, to classify states. */
const ACTIONS = new Set(placeOrderSaga.steps.map((s) => s.name));
const COMPENSATIONS = new Set(placeOrderSaga.steps.flatMap((s) => (s.compensation ? [s.compensation.name] : [])));

/** Classifies a Task state of the generated machine by its name (see `statemachines/saga.ts`). */
export function kindOf(stateName: string): StepKind {
  if (ACTIONS.has(stateName)) return 'action';
  if (COMPENSATIONS.has(stateName)) return 'compensation';
  if (/^Escalate/.test(stateName)) return 'escalation';
  if (/^Decide/.test(stateName)) return 'decision';
  return 'control';
}

const FAILED_EVENTS = /^(LambdaFunction|Task)(Failed|TimedOut|StartFailed|ScheduleFailed|SubmitFailed)$/;
const SUCCEEDED_EVENTS = /^(LambdaFunction|Task)Succeeded$/;

/** Lambda errors arrive as `{"errorType","errorMessage"}` JSON in the cause; show the message. */
export function readableCause(cause: string | undefined): string | undefined {
  if (!cause) return cause;
  const parsed = parseJson(cause) as { errorMessage?: unknown } | undefined;
  return typeof parsed?.errorMessage === 'string' ? parsed.errorMessage : cause;
}

/**
 * The trail of Task states from a full execution history (oldest first). A state entered but
 * not exited is RUNNING, or WAITING when its task was submitted for a task token.
 */
export function trailFromHistory(events: readonly HistoryEvent[], executionStatus?: string): TrailStep[] {
  interface Open {
    name: string;
    kind: StepKind;
    startedAt: Date;
    attempts: number;
    failures: number;
    succeeded: boolean;
    waiting: boolean;
    error?: string;
    cause?: string;
    output?: unknown;
  }
  const steps: TrailStep[] = [];
  let open: Open | undefined;
  const close = (o: Open, at: Date | undefined, outcomeOverride?: string) => {
    const handlerOutcome = (o.output as { outcome?: unknown } | undefined)?.outcome;
    const outcome = outcomeOverride ?? (o.succeeded ? (typeof handlerOutcome === 'string' ? handlerOutcome : 'SUCCEEDED') : o.failures > 0 ? 'FAILED' : 'SUCCEEDED');
    steps.push({
      name: o.name,
      kind: o.kind,
      outcome,
      startedAt: o.startedAt.toISOString(),
      endedAt: at?.toISOString(),
      durationMs: at ? at.getTime() - o.startedAt.getTime() : undefined,
      attempts: o.attempts,
      ...(o.error ? { error: o.error, cause: readableCause(o.cause) } : {}),
    });
  };
  for (const e of events) {
    const type = e.type ?? '';
    const ts = e.timestamp ? new Date(e.timestamp) : new Date();
    if (type === 'TaskStateEntered') {
      const name = e.stateEnteredEventDetails?.name ?? '?';
      open = { name, kind: kindOf(name), startedAt: ts, attempts: 0, failures: 0, succeeded: false, waiting: false };
    } else if (!open) {
      continue;
    } else if (type === 'LambdaFunctionScheduled' || type === 'TaskScheduled') {
      open.attempts += 1;
      open.succeeded = false;
      open.waiting = false;
    } else if (type === 'TaskSubmitted') {
      open.waiting = true;
    } else if (SUCCEEDED_EVENTS.test(type)) {
      open.succeeded = true;
      open.waiting = false;
      const details = (e.lambdaFunctionSucceededEventDetails ?? e.taskSucceededEventDetails) as { output?: string } | undefined;
      open.output = unwrapPayload(parseJson(details?.output));
    } else if (FAILED_EVENTS.test(type)) {
      open.failures += 1;
      open.succeeded = false;
      open.waiting = false;
      const key = Object.keys(e).find((k) => k.endsWith('EventDetails'));
      const d = (key ? (e as unknown as Record<string, unknown>)[key] : undefined) as { error?: string; cause?: string } | undefined;
      open.error = d?.error;
      open.cause = d?.cause;
    } else if (type === 'TaskStateExited') {
      close(open, ts);
      open = undefined;
    }
  }
  if (open) close(open, undefined, executionStatus && executionStatus !== 'RUNNING' ? (open.failures > 0 ? 'FAILED' : executionStatus) : open.waiting ? 'WAITING' : 'RUNNING');
  return steps;
}

/**
 * The trail from the ledger and the audit trail alone (after the history expired): the ledger
 * keeps each applied action and compensation, its failure record names the failed step, and the
 * audit rows add escalations and operator decisions.
 */
export function trailFromRecords(header: SagaHeader | undefined, audit: readonly AuditRow[]): TrailStep[] {
  const steps: Array<TrailStep & { sortAt: string }> = [];
  for (const t of header?.trail ?? []) {
    steps.push({ name: t.name, kind: t.kind, outcome: t.outcome, startedAt: t.at, endedAt: new Date(new Date(t.at).getTime() + t.durationMs).toISOString(), durationMs: t.durationMs, sortAt: t.at });
  }
  const failure = header?.failure;
  if (failure) {
    const intent = audit.find((r) => r.action === 'COMPENSATION_INTENT');
    const at = intent?.timestamp ?? header!.updatedAt;
    steps.push({ name: failure.step, kind: 'action', outcome: 'FAILED', error: failure.error, cause: failure.cause, endedAt: at, sortAt: at });
  }
  for (const r of audit) {
    const d = (r.details ?? {}) as Record<string, any>;
    if (r.action === 'COMPENSATION_FAILED') {
      steps.push({ name: String(d.compensation ?? '?'), kind: 'compensation', outcome: 'FAILED', error: d.error, cause: d.cause, endedAt: r.timestamp, sortAt: r.timestamp });
      steps.push({ name: `Escalate${d.compensation ?? ''}`, kind: 'escalation', outcome: 'ESCALATED', startedAt: r.timestamp, sortAt: `${r.timestamp}~` });
    } else if (r.action === 'OPERATOR_RETRY' || r.action === 'MANUAL_OVERRIDE' || r.action === 'RESOLVED_BY_HAND') {
      steps.push({ name: `Decide${d.compensation ?? ''}`, kind: 'decision', outcome: r.action, actor: r.actor, cause: r.reason, endedAt: r.timestamp, sortAt: r.timestamp });
    }
  }
  return steps.sort((a, b) => a.sortAt.localeCompare(b.sortAt)).map(({ sortAt: _sortAt, ...s }) => s);
}

/** The saga's overall outcome: the ledger's status when there is one, else the execution's. */
export function outcomeOf(header: SagaHeader | undefined, execution: Pick<DescribeExecutionCommandOutput, 'status' | 'error'> | undefined): string {
  if (header) return header.status;
  if (!execution?.status) return 'UNKNOWN';
  if (execution.status === 'FAILED' && execution.error === 'SagaCompensated') return 'COMPENSATED';
  if (execution.status === 'FAILED' && execution.error === 'CompensationFailed') return 'COMPENSATION_FAILED';
  return execution.status;
}

/** Outcomes where the order was not placed, or a human is needed: `saga` exits 1 on them. */
export const FAILED_OUTCOMES = new Set(['COMPENSATING', 'COMPENSATED', 'COMPENSATION_FAILED', 'NEEDS_HUMAN', 'RESOLVED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

/** `--json` output of `converge saga`. */
export interface SagaReport {
  readonly orderId: string;
  readonly sagaId: string;
  readonly executionArn?: string;
  /** RUNNING | SUCCEEDED | COMPENSATING | COMPENSATED | COMPENSATION_FAILED | NEEDS_HUMAN | RESOLVED (ledger) or the execution status. */
  readonly outcome: string;
  readonly execution?: { readonly status?: string; readonly error?: string; readonly cause?: string; readonly startDate?: string; readonly stopDate?: string };
  /** Where `steps` came from: the execution history, or the ledger plus audit when it has expired. */
  readonly source: 'history' | 'ledger+audit';
  readonly steps: readonly TrailStep[];
  readonly failure?: SagaHeader['failure'];
  /** The open escalation (its task token is left out). */
  readonly escalation?: Omit<NonNullable<SagaHeader['escalation']>, 'taskToken'>;
  readonly decisions: NonNullable<SagaHeader['decisions']>;
  readonly effects: readonly EffectRecord[];
  readonly audit: readonly AuditRow[];
}


/** Gathers everything known about one saga. */
export async function sagaReport(ctx: CliContext, ref: string): Promise<SagaReport> {
  const saga = await resolveSagaRef(ctx, ref);
  const table = await ledgerTable(ctx);
  const [header, effects, audit] = await Promise.all([
    table ? readHeader(ctx, table, saga.sagaId) : undefined,
    table ? readEffects(ctx, table, saga.sagaId) : [],
    auditTrail(ctx, saga.sagaId),
  ]);
  const started = audit.find((r) => r.action === 'SAGA_STARTED');
  const executionArn = saga.executionArn ?? header?.executionArn ?? (started?.details as { executionArn?: string } | undefined)?.executionArn;
  if (!executionArn && !header && audit.length === 0) throw new UsageError(`no saga found for order ${saga.orderId}`, 'check the orderId (converge executions lists recent sagas)');
  let execution: DescribeExecutionCommandOutput | undefined;
  let events: HistoryEvent[] | undefined;
  if (executionArn) {
    try {
      [execution, events] = await Promise.all([ctx.sfn.send(new DescribeExecutionCommand({ executionArn })), ctx.history(executionArn)]);
    } catch (err) {
      // Expired (or from another region/account): the ledger and the audit trail tell the story.
      if ((err as Error).name !== 'ExecutionDoesNotExist') throw err;
    }
  }
  const { taskToken: _token, ...escalation } = header?.escalation ?? ({} as Partial<NonNullable<SagaHeader['escalation']>>);
  return {
    orderId: saga.orderId,
    sagaId: saga.sagaId,
    executionArn,
    outcome: outcomeOf(header, execution),
    execution: execution
      ? { status: execution.status, error: execution.error, cause: execution.cause, startDate: execution.startDate?.toISOString(), stopDate: execution.stopDate?.toISOString() }
      : undefined,
    source: events ? 'history' : 'ledger+audit',
    steps: events ? trailFromHistory(events, execution?.status) : trailFromRecords(header, audit),
    failure: header?.failure,
    escalation: header?.escalation ? (escalation as SagaReport['escalation']) : undefined,
    decisions: header?.decisions ?? [],
    effects,
    audit,
  };
}

/** Prints the report; exit 1 when the order was not placed or the saga needs a human. */
export async function sagaCommand(ctx: CliContext, ref: string): Promise<number> {
  const report = await sagaReport(ctx, ref);
  const code = FAILED_OUTCOMES.has(report.outcome) ? 1 : 0;
  if (ctx.options.json) {
    printJson(report);
    return code;
  }
  console.log(`saga ${report.sagaId}  ${status(report.outcome)}${report.executionArn ? `\nexecution ${report.executionArn}` : ''}`);
  if (report.execution?.error) console.log(`error ${status(report.execution.error)}: ${report.execution.cause ?? ''}`);
  if (report.failure) console.log(`failed at ${report.failure.step}: ${report.failure.error}: ${report.failure.cause}`);
  if (report.escalation) console.log(status('NEEDS_HUMAN') + ` since ${report.escalation.at}: ${report.escalation.compensation} failed (${report.escalation.error}): ${report.escalation.cause}\n  answer with: converge resolve ${report.orderId} retry|skip|resolve --reason "…"`);
  console.log(`\nsteps (from ${report.source}):`);
  console.log(
    table(
      ['step', 'kind', 'outcome', 'started', 'took', 'tries', 'error', 'cause'],
      report.steps.map((s) => [s.name, s.kind === 'compensation' ? `↩ ${s.kind}` : s.kind, status(s.outcome), s.startedAt, s.durationMs === undefined ? '' : duration(s.durationMs), s.attempts, s.error, (s.cause ?? '').slice(0, 80)]),
    ),
  );
  if (report.effects.length) console.log(`\neffects:\n${table(['step', 'state', 'details'], report.effects.map((e) => [e.step, status(e.state), JSON.stringify(e.details)]))}`);
  return code;
}
