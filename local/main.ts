/**
 * `npm start`: synthesize the CDK app, deploy every stack into the local cloud, serve one
 * AWS-compatible endpoint, write `.local/outputs.json`, and run until Ctrl-C.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import pc from 'picocolors';
import { LocalCloud } from './cloud.js';
import { FaultPlan } from './core/faults.js';
import { synthesize } from './cloudformation/synth.js';

interface Options {
  port: number;
  fresh: boolean;
  faults?: string;
  stateDir: string;
  synth: boolean;
  appOut: string;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0 picks a free one)');
  return n;
}

function loadFaults(file: string): FaultPlan {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the fault plan ${file}: ${(err as Error).message}`);
  }
  const parsed = FaultPlan.safeParse(raw);
  if (!parsed.success) throw new Error(`invalid fault plan ${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

async function main(): Promise<void> {
  const program = new Command()
    .name('npm start --')
    .description('Run Converge on the embedded local cloud: synth, deploy, serve.')
    .option('--port <port>', 'port of the endpoint (0 picks a free one)', port, 4566)
    .option('--fresh', 'wipe the state directory first', false)
    .option('--faults <file>', 'a fault plan (JSON) to inject')
    .option('--state-dir <dir>', 'where state persists', '.local')
    .option('--no-synth', 'deploy the existing assembly without synthesizing')
    .option('--app-out <dir>', 'the cloud assembly directory', 'cdk.out')
    .parse();
  const opts = program.opts<Options>();
  const faults = opts.faults ? loadFaults(opts.faults) : undefined;
  const assemblyDir = path.resolve(opts.appOut);

  let synthEndedAt: number | undefined;
  if (opts.synth) {
    process.stdout.write(pc.dim('synthesizing the CDK app... '));
    const result = await synthesize({ outdir: assemblyDir, quiet: true });
    synthEndedAt = result.endedAt;
    console.log(pc.green(`done in ${(result.durationMs / 1000).toFixed(1)} s`));
  }

  const cloud = await LocalCloud.start({ stateDir: opts.stateDir, port: opts.port, fresh: opts.fresh, faults, quiet: true });
  cloud.timings.synthEndedAt = synthEndedAt;
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log(pc.dim(`\n${signal}: stopping the local cloud...`));
    try {
      await cloud.stop();
      process.exit(0);
    } catch (err) {
      console.error(err);
      process.exit(1);
    }
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  try {
    const started = Date.now();
    const { stacks } = await cloud.deploy(assemblyDir);
    console.log(pc.green(`deployed ${Object.keys(stacks).length} stack(s) in ${Date.now() - started} ms`));
  } catch (err) {
    console.error(pc.red(`deploy failed: ${(err as Error).message}`));
    await cloud.stop();
    process.exit(1);
  }
  const outputsFile = path.join(opts.stateDir, 'outputs.json');
  cloud.writeOutputs(outputsFile);

  console.log(`\n${pc.bold('Converge local cloud')} at ${pc.cyan(cloud.endpoint)}  (state in ${opts.stateDir}${faults ? `, ${faults.rules.length} fault rule(s)` : ''})`);
  for (const [stack, outputs] of Object.entries(cloud.outputs())) {
    console.log(pc.bold(`\n${stack}`));
    for (const [key, value] of Object.entries(outputs)) console.log(`  ${key.padEnd(28)} ${value}`);
  }
  console.log(`\noutputs written to ${outputsFile}`);
  console.log(`point the SDK, the CLI and the tests at it:\n  ${pc.cyan(`export AWS_ENDPOINT_URL=${cloud.endpoint} AWS_REGION=${cloud.kernel.region} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test`)}`);
  console.log(pc.dim('Ctrl-C to stop.'));
}

main().catch((err) => {
  console.error(pc.red(err instanceof Error ? err.message : String(err)));
  process.exit(1);
});
