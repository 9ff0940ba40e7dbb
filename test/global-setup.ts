/**
 * vitest globalSetup: synthesizes the CDK app once into `cdk.out` (unless it is already newer
 * than every source of the app), which every local-cloud test deploys. A synth failure fails
 * the whole run loudly.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ensureAssembly } from '../local/cloudformation/synth.js';

const ROOT = path.resolve(import.meta.dirname, '..');

export default async function setup(): Promise<void> {
  if (!existsSync(path.join(ROOT, 'bin', 'converge.ts'))) {
    console.log('[global-setup] bin/converge.ts does not exist: no CDK app to synthesize');
    return;
  }
  if (process.env.CONVERGE_ENDPOINT || process.env.CONVERGE_OUTPUTS) {
    console.log('[global-setup] CONVERGE_ENDPOINT/CONVERGE_OUTPUTS set: tests run against an external deployment, no synth');
    return;
  }
  const result = await ensureAssembly({ cwd: ROOT, quiet: true, force: process.env.CONVERGE_FORCE_SYNTH === '1' });
  if (result.synthesized) console.log(`[global-setup] synthesized the app into ${path.relative(ROOT, result.assemblyDir)} in ${result.durationMs} ms`);
  else console.log('[global-setup] cdk.out is newer than every source of the app: reusing it (CONVERGE_FORCE_SYNTH=1 to force)');
}
