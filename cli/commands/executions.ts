/** `converge executions [--status S] [--watch]`: saga executions with their current step and elapsed time. */
import { DescribeExecutionCommand, GetExecutionHistoryCommand, ListExecutionsCommand, type ExecutionListItem, type ExecutionStatus, type HistoryEvent } from '@aws-sdk/client-sfn';
import type { CliContext } from '../context.js';
import { duration, printJson, status, table } from '../format.js';
import { UsageError } from '../errors.js';
import { orderIdFromInput, parseJson, sleep } from '../util.js';

/** One execution as the command shows it (`--json`: `{executions: ExecutionView[]}`). */
export interface ExecutionView {
  readonly executionArn: string;
  readonly name: string;
  readonly status: string;
  /** The order the saga runs for, from the execution's input. */
  readonly orderId?: string;
  readonly startDate: string;
  readonly stopDate?: string;
  readonly elapsedMs: number;
  /** The state it is in (RUNNING) or was last in. */
  readonly currentStep?: string;
  readonly error?: string;
  readonly cause?: string;
}

/** Execution statuses Step Functions filters on. */
export const STATUSES = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'] as const;

/** Validates `--status` (case-insensitive). */
export function parseStatusFilter(value: string | undefined): ExecutionStatus | undefined {
  if (value === undefined) return undefined;
  const s = value.toUpperCase();
  if (!(STATUSES as readonly string[]).includes(s)) throw new UsageError(`unknown status ${value}`, `use one of ${STATUSES.join(', ')}`);
  return s as ExecutionStatus;
}

/**
 * The name of the state an execution is in (or was last in), from history events given newest
 * first: the newest `…StateEntered` event names it.
 */
export function currentStep(eventsNewestFirst: readonly HistoryEvent[]): string | undefined {
  for (const e of eventsNewestFirst) {
    if (e.type?.endsWith('StateEntered') && e.stateEnteredEventDetails?.name) return e.stateEnteredEventDetails.name;
  }
  return undefined;
}

/** Runs `fn` over `items` with at most `limit` calls in flight (Step Functions throttles per account). */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Details one listed execution: its order, current step, and error/cause when it failed. */
export async function viewOf(ctx: CliContext, e: ExecutionListItem, now = Date.now()): Promise<ExecutionView> {
  const [d, history] = await Promise.all([
    ctx.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn })),
    ctx.sfn.send(new GetExecutionHistoryCommand({ executionArn: e.executionArn, reverseOrder: true, maxResults: 25 })),
  ]);
  const start = (d.startDate ?? e.startDate)?.getTime() ?? now;
  const stop = (d.stopDate ?? e.stopDate)?.getTime();
  return {
    executionArn: e.executionArn!,
    name: e.name!,
    status: d.status ?? e.status!,
    orderId: orderIdFromInput(parseJson(d.input)),
    startDate: new Date(start).toISOString(),
    stopDate: stop ? new Date(stop).toISOString() : undefined,
    elapsedMs: Math.max(0, (stop ?? now) - start),
    currentStep: currentStep(history.events ?? []),
    error: d.error,
    cause: d.cause,
  };
}

/** Lists the executions of a state machine, newest first. */
export async function listExecutions(ctx: CliContext, stateMachineArn: string, filter?: ExecutionStatus, limit = 50): Promise<ExecutionView[]> {
  const listed: ExecutionListItem[] = [];
  let nextToken: string | undefined;
  do {
    const page = await ctx.sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter: filter, maxResults: Math.min(1000, limit - listed.length), nextToken }));
    listed.push(...(page.executions ?? []));
    nextToken = page.nextToken;
  } while (nextToken && listed.length < limit);
  return mapLimit(listed.slice(0, limit), 8, (e) => viewOf(ctx, e));
}

function render(views: readonly ExecutionView[]): string {
  if (views.length === 0) return 'no executions';
  return table(
    ['name', 'order', 'status', 'step', 'elapsed', 'error', 'started'],
    views.map((v) => [v.name, v.orderId, status(v.status), v.currentStep, duration(v.elapsedMs), v.error, v.startDate]),
  );
}

/** Options of the command. */
export interface ExecutionsOptions {
  readonly status?: string;
  readonly watch?: boolean;
  /** Seconds between refreshes. */
  readonly interval: number;
  /** Stop watching after this many refreshes. */
  readonly iterations?: number;
  /** Stop watching once no listed execution is RUNNING. */
  readonly untilSettled?: boolean;
  /** Stop watching after this many seconds. */
  readonly timeoutSeconds?: number;
  readonly limit: number;
}

/**
 * Lists (or watches) PlaceOrder executions. Watching is unbounded by default on a TTY; scripts
 * bound it with `--iterations`, `--until-settled` or `--timeout`, and with `--json` get one
 * JSON object per refresh (NDJSON). Exit 0: listing executions is not itself a finding.
 */
export async function executionsCommand(ctx: CliContext, opts: ExecutionsOptions): Promise<number> {
  const filter = parseStatusFilter(opts.status);
  const arn = await ctx.output('PlaceOrderStateMachineArn');
  if (!opts.watch) {
    const views = await listExecutions(ctx, arn, filter, opts.limit);
    if (ctx.options.json) printJson({ executions: views });
    else console.log(render(views));
    return 0;
  }
  const deadline = opts.timeoutSeconds === undefined ? Infinity : Date.now() + opts.timeoutSeconds * 1000;
  const inPlace = !ctx.options.json && process.stdout.isTTY;
  for (let i = 1; ; i++) {
    const views = await listExecutions(ctx, arn, filter, opts.limit);
    const settled = !views.some((v) => v.status === 'RUNNING');
    if (ctx.options.json) process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), executions: views })}\n`);
    else if (inPlace) process.stdout.write(`\x1b[H\x1b[2J${new Date().toISOString()}  refreshing every ${opts.interval}s (Ctrl-C to stop)\n${render(views)}\n`);
    else console.log(`${new Date().toISOString()}\n${render(views)}\n`);
    if (opts.iterations !== undefined && i >= opts.iterations) break;
    if (opts.untilSettled && settled) break;
    if (Date.now() + opts.interval * 1000 > deadline) break;
    await sleep(opts.interval * 1000);
  }
  return 0;
}
