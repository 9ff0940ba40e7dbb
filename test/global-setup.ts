/**
 * vitest globalSetup: synthesizes the CDK app once into `cdk.out`, which every local-cloud test
 * deploys. A synth failure fails the whole run loudly.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { SYNTH_MARKER, synthesize } from '../local/cloudformation/synth.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const SOURCES = ['bin', 'lib', 'lambdas', 'statemachines', 'cdk.json', 'package.json', 'package-lock.json'];

/** Newest modification time under the app's sources. */
function newestSource(): number {
  let newest = 0;
  const walk = (p: string): void => {
    if (!existsSync(p)) return;
    const st = statSync(p);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(path.join(p, e));
    else newest = Math.max(newest, st.mtimeMs);
  };
  for (const s of SOURCES) walk(path.join(ROOT, s));
  return newest;
}

export default async function setup(): Promise<void> {
  if (!existsSync(path.join(ROOT, 'bin', 'converge.ts'))) {
    console.log('[global-setup] bin/converge.ts does not exist: no CDK app to synthesize');
    return;
  }
  if (process.env.CONVERGE_ENDPOINT || process.env.CONVERGE_OUTPUTS) {
    console.log('[global-setup] CONVERGE_ENDPOINT/CONVERGE_OUTPUTS set: tests run against an external deployment, no synth');
    return;
  }
  // Only a synth that completed leaves the marker, so a partial cdk.out is never reused.
  const marker = path.join(ROOT, 'cdk.out', SYNTH_MARKER);
  if (process.env.CONVERGE_FORCE_SYNTH !== '1' && existsSync(marker) && statSync(marker).mtimeMs > newestSource()) {
    console.log('[global-setup] cdk.out is newer than every source of the app: reusing it (CONVERGE_FORCE_SYNTH=1 to force)');
    return;
  }
  const result = await synthesize({ cwd: ROOT, quiet: true });
  console.log(`[global-setup] synthesized the app into ${path.relative(ROOT, result.assemblyDir)} in ${result.durationMs} ms`);
}
