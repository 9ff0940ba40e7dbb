/**
 * `converge`: the operator CLI (DESIGN §6). The same commands run against the local cloud,
 * LocalStack or AWS; resources are found through the stack's CloudFormation outputs.
 *
 * Exit codes: 0 ok, 1 the command worked and found a problem (drift, a failed saga, a broken
 * invariant), 2 usage or connection error (and any failure that kept the command from its job).
 */
import { pathToFileURL } from 'node:url';
import { Argument, Command, CommanderError, Option } from 'commander';
import { CliContext, type GlobalOptions } from './context.js';
import { CliError, toCliError } from './errors.js';
import { auditCommand } from './commands/audit.js';
import { driftCommand } from './commands/drift.js';
import { executionsCommand } from './commands/executions.js';
import { reconcileCommand } from './commands/reconcile.js';
import { replayCommand } from './commands/replay.js';
import { resolveCommand, DECISIONS } from './commands/resolve.js';
import { sagaCommand } from './commands/saga.js';
import { SCENARIOS, simulateCommand } from './commands/simulate.js';
import { statusCommand } from './commands/status.js';
import { positiveInt, positiveNumber } from './util.js';

/** Builds the program; `run` receives each command's exit code. Exported for tests (help, parsing). */
export function buildProgram(run: (fn: (ctx: CliContext) => Promise<number>, cmd: Command) => Promise<void>): Command {
  const program = new Command('converge')
    .description('Operate Converge: sagas, reconciliation, audit trail, replays and simulations.\nThe same commands work against the local cloud (npm start), LocalStack and AWS.')
    .addOption(new Option('--stack <name>', 'CloudFormation stack whose outputs name the resources').env('CONVERGE_STACK').default('Converge'))
    .option('--json', 'machine-readable JSON on stdout', false)
    .addOption(new Option('--endpoint <url>', 'AWS endpoint URL (default: AWS_ENDPOINT_URL)'))
    .addOption(new Option('--region <region>', 'AWS region (default: AWS_REGION, or us-east-1 with a custom endpoint)'))
    .option('-y, --yes', 'do not ask for confirmation (repair, replay, resolve)', false)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });

  program
    .command('status')
    .description('pipeline health: stream lag, DLQ depths, sagas by outcome, the last reconciliation run, open escalations')
    .addOption(new Option('--hours <n>', 'window for sagas by outcome').argParser(positiveNumber('--hours')).default(24))
    .addOption(new Option('--max-lag <seconds>', 'stream lag above which status reports a problem').argParser(positiveNumber('--max-lag')).default(60))
    .action(async (o, cmd: Command) => run((ctx) => statusCommand(ctx, { hours: o.hours, maxLagSeconds: o.maxLag }), cmd));

  program
    .command('executions')
    .description('saga executions with their current step and elapsed time')
    .option('--status <status>', 'only RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED | PENDING_REDRIVE')
    .option('-w, --watch', 'refresh in place (NDJSON, one object per refresh, with --json)', false)
    .addOption(new Option('--interval <seconds>', 'seconds between refreshes').argParser(positiveNumber('--interval')).default(2))
    .addOption(new Option('--iterations <n>', 'stop watching after n refreshes').argParser(positiveInt('--iterations')))
    .option('--until-settled', 'stop watching once no execution is RUNNING', false)
    .addOption(new Option('--timeout <seconds>', 'stop watching after this long').argParser(positiveNumber('--timeout')))
    .addOption(new Option('--limit <n>', 'executions shown, newest first').argParser(positiveInt('--limit')).default(50))
    .action(async (o, cmd: Command) =>
      run((ctx) => executionsCommand(ctx, { status: o.status, watch: o.watch, interval: o.interval, iterations: o.iterations, untilSettled: o.untilSettled, timeoutSeconds: o.timeout, limit: o.limit }), cmd),
    );

  program
    .command('saga')
    .description('the step trail of one saga: actions and compensations with timing, error and cause')
    .argument('<orderIdOrExecutionArn>', 'an orderId or a PlaceOrder execution ARN')
    .action(async (ref: string, _o, cmd: Command) => run((ctx) => sagaCommand(ctx, ref), cmd));

  program
    .command('reconcile')
    .description('start a reconciliation run, show its progress, print its summary (exit 1 if drift remains)')
    .addOption(new Option('--mode <mode>', 'report writes only audit rows; repair converges the replica').choices(['report', 'repair']).default('report'))
    .addOption(new Option('--strategy <strategy>', 'full scans both tables; digest compares bucket digests').choices(['full', 'digest']).default('full'))
    .addOption(new Option('--segments <n>', 'parallel segments').argParser(positiveInt('--segments')))
    .addOption(new Option('--max-rcu <n>', 'read budget of the run, RCU per second').argParser(positiveNumber('--max-rcu')))
    .option('--run-id <id>', 'run id (reuse one to resume a stopped run from its checkpoints)')
    .addOption(new Option('--settle-seconds <n>', 'seconds between compare and recheck').argParser((v) => (v === '0' ? 0 : positiveInt('--settle-seconds')(v))))
    .addOption(new Option('--timeout <seconds>', 'how long to wait for the run').argParser(positiveNumber('--timeout')).default(900))
    .action(async (o, cmd: Command) =>
      run((ctx) => reconcileCommand(ctx, { mode: o.mode, strategy: o.strategy, segments: o.segments, maxRcuPerSecond: o.maxRcu, runId: o.runId, settleSeconds: o.settleSeconds, timeoutSeconds: o.timeout }), cmd),
    );

  program
    .command('drift')
    .description('open discrepancies: ESCALATED, or DETECTED and not yet resolved (exit 1 when any)')
    .action(async (_o, cmd: Command) => run((ctx) => driftCommand(ctx), cmd));

  program
    .command('audit')
    .description("an entity's audit trail, oldest first")
    .argument('<entityId>', 'e.g. order#o-1 (a bare orderId also finds order#<id>), reconcile#<runId>')
    .action(async (entityId: string, _o, cmd: Command) => run((ctx) => auditCommand(ctx, entityId), cmd));

  program
    .command('replay')
    .description("replay archived events from the bus's archive over a time window")
    .requiredOption('--from <time>', 'start: ISO 8601, epoch ms, or relative (-2h)')
    .requiredOption('--to <time>', 'end: ISO 8601, epoch ms, relative, or now')
    .option('--dry-run', 'show what would be replayed, replay nothing', false)
    .option('--name <name>', 'replay name (default: derived from the window, so a rerun finds the first replay)')
    .addOption(new Option('--timeout <seconds>', 'how long to wait for the replay to complete').argParser(positiveNumber('--timeout')).default(120))
    .action(async (o, cmd: Command) => run((ctx) => replayCommand(ctx, { from: o.from, to: o.to, dryRun: o.dryRun, name: o.name, wait: o.timeout }), cmd));

  program
    .command('resolve')
    .description('answer a saga waiting for a human (retry | skip | resolve), and record who and why')
    .argument('<executionArnOrOrderId>', 'the escalated saga')
    .addArgument(new Argument('<decision>', 'retry the compensation, skip it, or mark it resolved by hand').choices(DECISIONS))
    .requiredOption('--reason <text>', 'why (kept in the audit trail)')
    .option('--actor <name>', 'who decides (default: CONVERGE_ACTOR, USER, or the OS user)')
    .addOption(new Option('--timeout <seconds>', 'how long to wait for the saga to take the decision').argParser(positiveNumber('--timeout')).default(30))
    .action(async (ref: string, decision: string, o, cmd: Command) =>
      run((ctx) => resolveCommand(ctx, { ref, decision: decision as (typeof DECISIONS)[number], reason: o.reason, actor: o.actor, timeoutSeconds: o.timeout }), cmd),
    );

  program
    .command('simulate')
    .description('run a scenario against the local cloud (never anything else): traffic, a fault plan, outcomes and invariant checks')
    .addArgument(new Argument('<scenario>', SCENARIOS.join(' | ')).choices(SCENARIOS))
    .addOption(new Option('--count <n>', 'orders to place').argParser(positiveInt('--count')).default(5))
    .addOption(new Option('--seed <n>', 'seed of the random choices and the fault plan').argParser((v) => (v === '0' ? 0 : positiveInt('--seed')(v))).default(1))
    .addOption(new Option('--timeout <seconds>', 'how long to wait for the sagas and the replica').argParser(positiveNumber('--timeout')).default(120))
    .option('--keep-faults', 'leave the fault plan installed afterwards', false)
    .action(async (scenario: string, o, cmd: Command) =>
      run((ctx) => simulateCommand(ctx, { scenario: scenario as (typeof SCENARIOS)[number], count: o.count, seed: o.seed, timeoutSeconds: o.timeout, keepFaults: o.keepFaults }), cmd),
    );

  return program;
}

/** Writes a failure to stderr (and, with --json, as `{error}` on stdout so scripts can parse it). */
function report(err: CliError, json: boolean): void {
  process.stderr.write(`converge: ${err.message}\n${err.hint ? `  hint: ${err.hint}\n` : ''}`);
  if (process.env.CONVERGE_DEBUG && err.stack) process.stderr.write(`${err.stack}\n`);
  if (json) process.stdout.write(`${JSON.stringify({ error: { type: err.name, message: err.message, hint: err.hint, exitCode: err.exitCode } })}\n`);
}

/**
 * Runs the CLI. `argv` is `process.argv` (node, script, args…).
 * @returns the exit code.
 */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  let json = argv.includes('--json');
  const program = buildProgram(async (fn, cmd) => {
    const options = cmd.optsWithGlobals() as GlobalOptions;
    json = options.json;
    let ctx: CliContext | undefined;
    try {
      ctx = new CliContext({ stack: options.stack, json: options.json, endpoint: options.endpoint, region: options.region, yes: options.yes });
      code = await fn(ctx);
    } catch (err) {
      if (process.env.CONVERGE_DEBUG) console.error(err);
      const e = toCliError(err, ctx?.endpoint ?? options.endpoint ?? process.env.AWS_ENDPOINT_URL);
      report(e, json);
      code = e.exitCode;
    } finally {
      ctx?.destroy();
    }
  });
  try {
    await program.parseAsync(argv, { from: 'node' });
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version "fail" with exit code 0; everything else is a usage error.
      if (err.exitCode === 0) return 0;
      if (json) process.stdout.write(`${JSON.stringify({ error: { type: 'UsageError', message: err.message.replace(/^error: /, ''), exitCode: 2 } })}\n`);
      return 2;
    }
    const e = toCliError(err, process.env.AWS_ENDPOINT_URL);
    report(e, json);
    return e.exitCode;
  }
  return code;
}

// `npx tsx cli/main.ts …` (the `npm run converge` script) runs it directly; `cli/bin.mjs` imports it.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await main(process.argv);
