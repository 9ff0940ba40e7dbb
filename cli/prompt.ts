/** Confirmation for destructive or repairing commands: asked on a TTY unless `--yes`. */
import { createInterface } from 'node:readline/promises';
import type { CliContext } from './context.js';
import { UsageError } from './errors.js';

/** True when the operator agreed (or passed --yes). Without a TTY and without --yes, refuses. */
export async function confirm(ctx: CliContext, question: string): Promise<boolean> {
  if (ctx.options.yes) return true;
  if (!process.stdin.isTTY) throw new UsageError('this command changes data and needs confirmation', 'pass --yes to run it without a terminal');
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
