/**
 * `converge reconcile`: starts a reconciliation run (the Reconcile state machine), shows its
 * progress from the execution history (segments done, items compared, discrepancies so far),
 * waits for it and prints the run summary. Exit 1 when drift remains (escalated, breaker
 * tripped, or report mode found drift) or the run failed.
 */
import { DescribeExecutionCommand, StartExecutionCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import cliProgress from 'cli-progress';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { printJson, status, table } from '../format.js';
import { confirm } from '../prompt.js';
import { parseJson, sleep, unwrapPayload } from '../util.js';
import { summaryLeavesDrift } from './status.js';

/** Options of the command. */
export interface ReconcileOptions {
  readonly mode: 'report' | 'repair';
  readonly strategy: 'full' | 'digest';
  readonly segments?: number;
  readonly maxRcuPerSecond?: number;
  readonly runId?: string;
  readonly settleSeconds?: number;
  readonly timeoutSeconds: number;
}

/** The state machine's input (`lambdas/reconcile/input.ts`), only with what was asked. */
export function runInput(o: Omit<ReconcileOptions, 'timeoutSeconds'>): Record<string, unknown> {
  return {
    mode: o.mode,
    strategy: o.strategy,
    ...(o.segments !== undefined ? { segments: o.segments } : {}),
    ...(o.maxRcuPerSecond !== undefined ? { maxRcuPerSecond: o.maxRcuPerSecond } : {}),
    ...(o.runId !== undefined ? { runId: o.runId } : {}),
    ...(o.settleSeconds !== undefined ? { settleSeconds: o.settleSeconds } : {}),
  };
}

/** How far a run has got. */
export interface RunProgress {
  /** From the plan task's output, once planned. */
  readonly totalSegments?: number;
  readonly segmentsDone: number;
  /** Items compared so far (each segment's latest cumulative count). */
  readonly compared: number;
  /** Candidate discrepancies found by the compares so far (before recheck). */
  readonly discrepancies: number;
  /** The state most recently entered. */
  readonly phase?: string;
}

/**
 * Progress from a run's history. It reads task results by shape, not state name: the plan's
 * output carries `totalSegments` and `work`; a compare worker's carries `result.segment` and
 * `result.stats` and says `done` when its segment is finished (it loops otherwise).
 */
export function progressFromHistory(events: readonly HistoryEvent[]): RunProgress {
  let totalSegments: number | undefined;
  let phase: string | undefined;
  const stats = new Map<number, { compared: number; candidates: number; done: boolean }>();
  for (const e of events) {
    if (e.type?.endsWith('StateEntered') && e.stateEnteredEventDetails?.name) phase = e.stateEnteredEventDetails.name;
    const details = e.lambdaFunctionSucceededEventDetails ?? e.taskSucceededEventDetails;
    if (!details?.output) continue;
    const out = unwrapPayload(parseJson(details.output)) as Record<string, any> | undefined;
    if (!out || typeof out !== 'object') continue;
    if (typeof out.totalSegments === 'number' && Array.isArray(out.work)) totalSegments = out.totalSegments;
    const result = out.result as { segment?: unknown; stats?: { compared?: number; candidates?: Record<string, number> } } | undefined;
    if (typeof result?.segment === 'number' && result.stats) {
      const candidates = Object.values(result.stats.candidates ?? {}).reduce((n, v) => n + (Number(v) || 0), 0);
      stats.set(result.segment, { compared: result.stats.compared ?? 0, candidates, done: out.done === true });
    }
  }
  let compared = 0;
  let discrepancies = 0;
  let segmentsDone = 0;
  for (const s of stats.values()) {
    compared += s.compared;
    discrepancies += s.candidates;
    if (s.done) segmentsDone += 1;
  }
  return { totalSegments, segmentsDone, compared, discrepancies, phase };
}


/** `--json` output of `converge reconcile`. */
export interface ReconcileReport {
  readonly executionArn: string;
  readonly runId: string;
  readonly status: string;
  readonly input: Record<string, unknown>;
  readonly progress: RunProgress;
  /** The run summary (`lambdas/reconcile/domain/run.ts` RunSummary). */
  readonly summary?: Record<string, any>;
  readonly error?: string;
  readonly cause?: string;
  readonly driftRemains: boolean;
}

/** Starts, follows and summarizes a run. */
export async function reconcileCommand(ctx: CliContext, opts: ReconcileOptions): Promise<number> {
  const arn = await ctx.output('ReconcileStateMachineArn');
  const input = runInput(opts);
  if (opts.mode === 'repair' && !(await confirm(ctx, `Repair the replica from the source (run ${opts.runId ?? 'new'}, ${opts.strategy})?`))) {
    throw new CliError('cancelled: nothing was started', 2);
  }
  const name = `converge-${opts.mode}-${new Date().toISOString().replace(/[:.]/g, '-')}-${Math.random().toString(36).slice(2, 6)}`.slice(0, 80);
  const { executionArn } = await ctx.sfn.send(new StartExecutionCommand({ stateMachineArn: arn, name, input: JSON.stringify(input) }));
  const showBar = !ctx.options.json && process.stderr.isTTY;
  const bar = showBar
    ? new cliProgress.SingleBar(
        { stream: process.stderr, format: 'reconcile |{bar}| {value}/{total} segments | {compared} compared | {discrepancies} discrepancies | {phase}', hideCursor: true, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(opts.segments ?? 1, 0, { compared: 0, discrepancies: 0, phase: 'starting' });
  if (!showBar && !ctx.options.json) console.error(`started ${executionArn}`);
  const deadline = Date.now() + opts.timeoutSeconds * 1000;
  let progress: RunProgress = { segmentsDone: 0, compared: 0, discrepancies: 0 };
  let d;
  try {
    for (;;) {
      d = await ctx.sfn.send(new DescribeExecutionCommand({ executionArn }));
      progress = progressFromHistory(await ctx.history(executionArn!));
      if (bar) {
        if (progress.totalSegments) bar.setTotal(progress.totalSegments);
        bar.update(progress.segmentsDone, { compared: progress.compared, discrepancies: progress.discrepancies, phase: progress.phase ?? '' });
      }
      if (d.status !== 'RUNNING' && d.status !== 'PENDING_REDRIVE') break;
      if (Date.now() > deadline) throw new CliError(`run ${name} is still running after ${opts.timeoutSeconds}s`, 2, `it continues; follow it with converge status, or wait longer with --timeout (execution ${executionArn})`);
      await sleep(1000);
    }
  } finally {
    bar?.stop();
  }
  const summary = parseJson(d.output) as Record<string, any> | undefined;
  const failed = d.status !== 'SUCCEEDED';
  const report: ReconcileReport = {
    executionArn: executionArn!,
    runId: summary?.runId ?? opts.runId ?? name,
    status: d.status ?? '?',
    input,
    progress,
    summary,
    error: d.error,
    cause: d.cause,
    driftRemains: failed || summaryLeavesDrift(summary),
  };
  const code = report.driftRemains ? 1 : 0;
  if (ctx.options.json) {
    printJson(report);
    return code;
  }
  console.log(`run ${report.runId}: ${status(report.status)}${report.error ? ` ${report.error}: ${report.cause ?? ''}` : ''}`);
  if (summary) {
    const rows: Array<[string, string | number]> = [
      ['mode / strategy', `${summary.mode} / ${summary.strategy}`],
      ['segments', summary.segments],
      ['compared', summary.compared],
      ...Object.entries((summary.discrepancies ?? {}) as Record<string, number>).map(([k, v]): [string, number] => [`confirmed ${k}`, v]),
      ['repaired', summary.repaired],
      ['false positives', summary.falsePositives],
      ['escalated', summary.escalated],
      ['breaker tripped', summary.breakerTripped ? status('ESCALATED') : 'no'],
      ['RCU consumed', summary.rcuConsumed],
    ];
    console.log(table(['', ''], rows));
  }
  console.log(report.driftRemains ? `\n${status('FAILED')}: drift remains — see converge drift${opts.mode === 'report' ? '; converge reconcile --mode repair fixes it' : ''}` : `\n${status('OK')}: no drift remains`);
  return code;
}
