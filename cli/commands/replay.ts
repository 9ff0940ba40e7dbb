/**
 * `converge replay --from T --to T [--dry-run]`: replays the bus archive over a window.
 * EventBridge offers no API to list archived events, so a dry run describes the archive, the
 * window and the rules that would receive the replay, and replays nothing.
 */
import { DescribeArchiveCommand, DescribeReplayCommand, ListRulesCommand, StartReplayCommand } from '@aws-sdk/client-eventbridge';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { printJson, status, table } from '../format.js';
import { confirm } from '../prompt.js';
import { parseTime, sleep } from '../util.js';

/** Options of the command. */
export interface ReplayOptions {
  readonly from: string;
  readonly to: string;
  readonly dryRun?: boolean;
  readonly name?: string;
  /** Seconds to wait for the replay to complete. */
  readonly wait: number;
}

function timeOption(label: string, value: string): Date {
  const d = parseTime(value);
  if (!d) throw new UsageError(`--${label} ${value} is not a time`, 'use ISO 8601 (2026-11-27T08:00:00Z), epoch milliseconds, a relative time (-2h) or now');
  return d;
}

/**
 * Replays (or, with --dry-run, describes) the window. A rerun of the same window finds the first
 * replay by its derived name instead of replaying twice. Exit 1 when the replay FAILED.
 */
export async function replayCommand(ctx: CliContext, opts: ReplayOptions): Promise<number> {
  const from = timeOption('from', opts.from);
  const to = timeOption('to', opts.to);
  if (to <= from) throw new UsageError('--to must be after --from');
  const archiveName = await ctx.output('EventArchiveName');
  const busName = await ctx.output('EventBusName');
  const archive = await ctx.events.send(new DescribeArchiveCommand({ ArchiveName: archiveName }));
  const rules = (await ctx.events.send(new ListRulesCommand({ EventBusName: busName }))).Rules ?? [];
  // Replay names must be unique; deriving it from the window makes a second run of the same command find the first replay.
  const name = opts.name ?? `converge-${from.getTime()}-${to.getTime()}`.slice(0, 64);
  const plan = { replayName: name, archive: archiveName, archiveArn: archive.ArchiveArn, eventCount: archive.EventCount, from: from.toISOString(), to: to.toISOString(), destinationBus: archive.EventSourceArn, rules: rules.map((r) => r.Name) };
  if (opts.dryRun) {
    if (ctx.options.json) printJson({ dryRun: true, ...plan });
    else {
      console.log(`would replay archive ${archiveName} (${archive.EventCount ?? '?'} events archived in total) from ${plan.from} to ${plan.to}`);
      console.log(table(['rule that would receive replayed events'], plan.rules.map((r) => [r])));
    }
    return 0;
  }
  if (!(await confirm(ctx, `Replay ${archiveName} from ${plan.from} to ${plan.to} onto ${busName}?`))) throw new CliError('cancelled: nothing was replayed', 2);
  let state: string | undefined;
  let alreadyStarted = false;
  try {
    await ctx.events.send(
      new StartReplayCommand({ ReplayName: name, EventSourceArn: archive.ArchiveArn, EventStartTime: from, EventEndTime: to, Destination: { Arn: archive.EventSourceArn } }),
    );
  } catch (err) {
    // Idempotent re-run: the same window already has a replay; report it instead of replaying twice.
    if ((err as Error).name !== 'ResourceAlreadyExistsException') throw err;
    alreadyStarted = true;
  }
  const deadline = Date.now() + opts.wait * 1000;
  do {
    state = (await ctx.events.send(new DescribeReplayCommand({ ReplayName: name }))).State;
    if (state === 'COMPLETED' || state === 'FAILED' || state === 'CANCELLED') break;
    await sleep(500);
  } while (Date.now() < deadline);
  if (ctx.options.json) printJson({ ...plan, state, alreadyStarted });
  else console.log(`replay ${name}: ${status(state)}${alreadyStarted ? ' (started earlier; not replayed again)' : ''}`);
  return state === 'FAILED' ? 1 : 0;
}
