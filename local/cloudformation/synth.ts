/**
 * Synthesizes the CDK app the way the cdk CLI does, minus the CLI: run the app with
 * `CDK_OUTDIR` and the context of cdk.json in `CDK_CONTEXT_JSON`. It skips the CLI's own
 * start-up, which is most of `cdk synth`'s time.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Written into the assembly after a successful synth: its absence means the assembly may be partial. */
export const SYNTH_MARKER = '.converge-synth.json';

/** How to synthesize. */
export interface SynthOptions {
  /** Project root holding cdk.json and the app. @default process.cwd() */
  readonly cwd?: string;
  /** Entry file of the app, relative to cwd. @default 'bin/converge.ts' */
  readonly app?: string;
  /** Assembly directory. @default 'cdk.out' */
  readonly outdir?: string;
  /** Where the app's output goes. @default inherited stdio */
  readonly quiet?: boolean;
}

/** The result of a synth. */
export interface SynthResult {
  readonly assemblyDir: string;
  readonly durationMs: number;
  /** Epoch ms at which synth ended. */
  readonly endedAt: number;
}

function readContext(cwd: string): Record<string, unknown> {
  const context: Record<string, unknown> = {};
  for (const file of ['cdk.json', 'cdk.context.json']) {
    const p = path.join(cwd, file);
    if (!existsSync(p)) continue;
    const parsed = JSON.parse(readFileSync(p, 'utf8'));
    Object.assign(context, file === 'cdk.json' ? (parsed.context ?? {}) : parsed);
  }
  return context;
}

/** Runs the app with Node (`--import tsx`) into `outdir`. Rejects with the app's stderr on failure. */
export async function synthesize(options: SynthOptions = {}): Promise<SynthResult> {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const app = options.app ?? 'bin/converge.ts';
  const assemblyDir = path.resolve(cwd, options.outdir ?? 'cdk.out');
  if (!existsSync(path.join(cwd, app))) throw new Error(`cannot synthesize: ${path.join(cwd, app)} does not exist`);
  const started = Date.now();
  rmSync(path.join(assemblyDir, SYNTH_MARKER), { force: true });
  const env = {
    ...process.env,
    CDK_OUTDIR: assemblyDir,
    CDK_CONTEXT_JSON: JSON.stringify(readContext(cwd)),
    CDK_DEFAULT_REGION: process.env.CDK_DEFAULT_REGION ?? process.env.AWS_REGION ?? 'us-east-1',
  };
  const stderr: Buffer[] = [];
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', app], { cwd, env, stdio: ['ignore', options.quiet ? 'pipe' : 'inherit', 'pipe'] });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr.push(chunk);
      if (!options.quiet) process.stderr.write(chunk);
    });
    child.stdout?.resume();
    child.once('error', reject);
    child.once('close', resolve);
  });
  if (code !== 0) throw new Error(`synthesizing ${app} failed (exit code ${code}):\n${Buffer.concat(stderr).toString('utf8').slice(-4000)}`);
  if (!existsSync(path.join(assemblyDir, 'manifest.json'))) throw new Error(`synthesizing ${app} wrote no cloud assembly to ${assemblyDir} (does the app call app.synth()?)`);
  const endedAt = Date.now();
  writeFileSync(path.join(assemblyDir, SYNTH_MARKER), JSON.stringify({ app, endedAt, durationMs: endedAt - started }));
  return { assemblyDir, durationMs: endedAt - started, endedAt };
}

/** What the app's assembly is built from: a change to any of these makes `cdk.out` stale. */
export const APP_SOURCES = ['bin', 'lib', 'lambdas', 'statemachines', 'cdk.json', 'package.json', 'package-lock.json'] as const;

/** Newest modification time under the app's sources. */
function newestSource(cwd: string): number {
  let newest = 0;
  const walk = (p: string): void => {
    if (!existsSync(p)) return;
    const st = statSync(p);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(path.join(p, e));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const s of APP_SOURCES) walk(path.join(cwd, s));
  return newest;
}

/**
 * Synthesizes unless the assembly is complete (its marker exists; only a finished synth writes
 * it) and newer than every source of the app, or `force` is set.
 * @returns the assembly directory and whether it was synthesized now.
 */
export async function ensureAssembly(options: SynthOptions & { force?: boolean } = {}): Promise<{ assemblyDir: string; synthesized: boolean; durationMs?: number }> {
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const assemblyDir = path.resolve(cwd, options.outdir ?? 'cdk.out');
  const marker = path.join(assemblyDir, SYNTH_MARKER);
  if (!options.force && existsSync(marker) && statSync(marker).mtimeMs > newestSource(cwd)) return { assemblyDir, synthesized: false };
  const result = await synthesize({ ...options, cwd });
  return { assemblyDir: result.assemblyDir, synthesized: true, durationMs: result.durationMs };
}
