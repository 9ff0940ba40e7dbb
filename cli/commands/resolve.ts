/**
 * `converge resolve <executionArn|orderId> retry|skip|resolve --reason "…"`: answers a saga that
 * waits for a human. The task token comes from the saga ledger's escalation; the answer is
 * SendTaskSuccess `{decision, reason, actor}`; who and why are also written to the audit table.
 *
 * Idempotent: when nothing is waiting (already answered, never escalated, or the wait timed out)
 * it says so and exits 0 with `answered: false`, so a script can run it twice safely.
 */
import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import { SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { printJson, status } from '../format.js';
import { ledgerTable, readHeader, resolveSagaRef } from '../ledger.js';
import { confirm } from '../prompt.js';
import { sleep } from '../util.js';

/** The answers the saga's Decide state accepts (`lambdas/saga/domain/inputs.ts` DecisionSchema). */
export const DECISIONS = ['retry', 'skip', 'resolve'] as const;
export type DecisionName = (typeof DECISIONS)[number];

/** Options of the command. */
export interface ResolveOptions {
  readonly ref: string;
  readonly decision: DecisionName;
  readonly reason: string;
  readonly actor?: string;
  /** Seconds to wait for the saga to leave NEEDS_HUMAN. */
  readonly timeoutSeconds: number;
}

/** Who decides: --actor, else CONVERGE_ACTOR, USER/USERNAME, or the OS account. */
export function defaultActor(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const fromOs = (() => {
    try {
      return userInfo().username;
    } catch {
      return undefined;
    }
  })();
  const actor = explicit ?? env.CONVERGE_ACTOR ?? env.USER ?? env.USERNAME ?? fromOs ?? 'unknown-operator';
  return actor.trim();
}

/** Checks the decision's text fields against the saga's schema before anything is sent. */
export function validateDecision(o: { reason: string; actor: string }): void {
  if (!o.reason.trim()) throw new UsageError('--reason must say why', 'e.g. --reason "refunded by hand in the payment console, ticket OPS-42"');
  if (o.reason.length > 1000) throw new UsageError('--reason is limited to 1000 characters');
  if (!o.actor || o.actor.length > 256) throw new UsageError('--actor must be 1 to 256 characters');
}

/** `--json` output of `converge resolve`. */
export interface ResolveReport {
  readonly orderId: string;
  readonly sagaId: string;
  readonly executionArn?: string;
  readonly decision: DecisionName;
  readonly actor: string;
  readonly reason: string;
  /** True when this call delivered the answer; false when nothing was waiting. */
  readonly answered: boolean;
  /** Why nothing was answered. */
  readonly note?: string;
  /** The compensation that was escalated. */
  readonly compensation?: string;
  /** Ledger status before and after. */
  readonly statusBefore?: string;
  readonly statusAfter?: string;
  /** The audit row this call wrote. */
  readonly auditId?: string;
}

/** Errors SendTaskSuccess gives for a token nobody waits on any more. */
const GONE = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken', 'ExecutionDoesNotExist']);

export async function resolveCommand(ctx: CliContext, opts: ResolveOptions): Promise<number> {
  const actor = defaultActor(opts.actor);
  validateDecision({ reason: opts.reason, actor });
  const table = await ledgerTable(ctx);
  if (!table) throw new UsageError(`stack ${ctx.options.stack} has no SagaLedgerTableName output`, 'resolve needs the saga ledger; redeploy the stack');
  const saga = await resolveSagaRef(ctx, opts.ref);
  const header = await readHeader(ctx, table, saga.sagaId);
  if (!header) throw new UsageError(`no saga found for order ${saga.orderId}`, 'check the orderId or execution ARN (converge executions)');
  const base = { orderId: saga.orderId, sagaId: saga.sagaId, executionArn: header.executionArn, decision: opts.decision, actor, reason: opts.reason, statusBefore: header.status };
  const done = (r: ResolveReport): number => {
    if (ctx.options.json) printJson(r);
    else if (!r.answered) console.log(`nothing to resolve: ${r.note}`);
    else console.log(`answered ${r.sagaId} (${r.compensation}) with ${r.decision} as ${r.actor}: ${status(r.statusBefore)} → ${status(r.statusAfter)}`);
    return 0;
  };
  const escalation = header.escalation;
  if (header.status !== 'NEEDS_HUMAN' || !escalation?.taskToken) {
    return done({ ...base, answered: false, statusAfter: header.status, note: `saga ${saga.sagaId} is ${header.status}, not waiting for a human` });
  }
  if (!(await confirm(ctx, `Answer ${saga.sagaId} (${escalation.compensation} failed: ${escalation.error}) with "${opts.decision}" as ${actor}?`))) {
    throw new CliError('cancelled: nothing was sent', 2);
  }
  try {
    await ctx.sfn.send(new SendTaskSuccessCommand({ taskToken: escalation.taskToken, output: JSON.stringify({ decision: opts.decision, reason: opts.reason, actor }) }));
  } catch (err) {
    if (!GONE.has((err as Error).name)) throw err;
    const now = await readHeader(ctx, table, saga.sagaId);
    return done({ ...base, answered: false, compensation: escalation.compensation, statusAfter: now?.status, note: `the saga no longer waits on that answer (${(err as Error).name}); it is ${now?.status ?? 'gone'}` });
  }
  // Who sent what, from where: one row per escalation (keyed by its token), so a rerun adds nothing.
  const tokenHash = createHash('sha256').update(escalation.taskToken).digest('hex').slice(0, 16);
  const auditId = createHash('sha256').update(`${saga.sagaId}:cli-decision:${tokenHash}`).digest('hex').slice(0, 32);
  const now = new Date();
  try {
    await ctx.documents.send(
      new PutCommand({
        TableName: await ctx.output('AuditTableName'),
        Item: {
          auditId,
          entityId: saga.sagaId,
          action: 'OPERATOR_DECISION',
          actor,
          reason: opts.reason,
          correlationId: saga.sagaId,
          at: `${now.toISOString()}#${auditId.slice(0, 8)}`,
          timestamp: now.toISOString(),
          expiresAt: Math.floor(now.getTime() / 1000) + 365 * 86_400,
          details: { decision: opts.decision, compensation: escalation.compensation, forStep: escalation.forStep, executionArn: header.executionArn, escalatedAt: escalation.at, via: 'converge resolve' },
        },
        ConditionExpression: 'attribute_not_exists(auditId)',
      }),
    );
  } catch (err) {
    if ((err as Error).name !== 'ConditionalCheckFailedException') throw err;
  }
  // The saga's Decide step records the decision and leaves NEEDS_HUMAN; wait to show where it went.
  const deadline = Date.now() + opts.timeoutSeconds * 1000;
  let after = header;
  while (Date.now() < deadline) {
    after = (await readHeader(ctx, table, saga.sagaId)) ?? after;
    if (after.status !== 'NEEDS_HUMAN' || after.escalation?.taskToken !== escalation.taskToken) break;
    await sleep(250);
  }
  return done({ ...base, answered: true, compensation: escalation.compensation, statusAfter: after.status, auditId });
}
