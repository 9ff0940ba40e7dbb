/**
 * `npm run test:e2e [-- --endpoint URL --outputs FILE] [vitest args...]`: runs the end-to-end
 * suite (test/e2e) against the embedded local cloud, or, given an endpoint and the outputs file
 * of `cdk deploy --outputs-file` / `cdklocal deploy --outputs-file`, against LocalStack or AWS
 * (`--endpoint aws` uses the SDK's default endpoints and credentials).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const args = process.argv.slice(2);
const env: NodeJS.ProcessEnv = { ...process.env };
const passThrough: string[] = [];

for (let i = 0; i < args.length; i++) {
  const arg = args[i]!;
  const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
  if (flag === '--endpoint' || flag === '--outputs') {
    const value = inline ?? args[++i];
    if (!value) {
      console.error(`${flag} needs a value`);
      process.exit(2);
    }
    if (flag === '--endpoint') env.CONVERGE_ENDPOINT = value;
    else env.CONVERGE_OUTPUTS = path.resolve(value);
  } else passThrough.push(arg);
}
if (env.CONVERGE_ENDPOINT && !env.CONVERGE_OUTPUTS) {
  console.error('--endpoint needs --outputs FILE (the outputs of the deployment under test)');
  process.exit(2);
}
if (env.CONVERGE_OUTPUTS && !existsSync(env.CONVERGE_OUTPUTS)) {
  console.error(`outputs file ${env.CONVERGE_OUTPUTS} does not exist`);
  process.exit(2);
}
console.log(env.CONVERGE_OUTPUTS ? `e2e against ${env.CONVERGE_ENDPOINT ?? 'AWS'} (outputs ${env.CONVERGE_OUTPUTS})` : 'e2e against the embedded local cloud');

// vitest's package exports don't include its bin, so locate it beside package.json.
const vitest = path.join(path.dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
// Files named on the command line narrow the run; vitest ORs filters, so test/e2e would match everything.
const files = passThrough.some((a) => !a.startsWith('-')) ? [] : ['test/e2e'];
const child = spawn(process.execPath, [vitest, 'run', ...files, ...passThrough], { cwd: ROOT, env, stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
