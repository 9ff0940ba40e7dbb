/**
 * `converge status`: pipeline health in one screen. Stream lag (the Orders stream's newest record
 * against the replica's version of that key), dead-letter queue depths, sagas by outcome in the
 * last N hours, the last reconciliation run, and open escalations. Exit 1 when any of them
 * needs an operator (lag above --max-lag, a non-empty DLQ, drift left by the last run or a
 * failed run, an open escalation).
 */
import { DescribeTableCommand, GetItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, GetRecordsCommand, GetShardIteratorCommand, type _Record, type Shard } from '@aws-sdk/client-dynamodb-streams';
import { DescribeExecutionCommand, GetExecutionHistoryCommand, ListExecutionsCommand, type ExecutionListItem } from '@aws-sdk/client-sfn';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { CliContext } from '../context.js';
import { printJson, status, table } from '../format.js';
import { ledgerTable, scanHeaders } from '../ledger.js';
import { parseJson } from '../util.js';
import { currentStep, mapLimit } from './executions.js';

/** The newest change on the source stream and whether the replica has it. */
export interface StreamLag {
  readonly sourceTable: string;
  readonly replicaTable: string;
  readonly streamArn?: string;
  /** Why lag could not be computed (no stream, no records). */
  readonly note?: string;
  readonly newestRecord?: { readonly key: Record<string, string>; readonly eventName: string; readonly version?: number; readonly at: string; readonly sequenceNumber: string };
  /** The replica's version of that key (undefined: absent). */
  readonly replicaVersion?: number;
  readonly caughtUp: boolean;
  /** 0 when caught up, else seconds since the newest record was written. */
  readonly lagSeconds: number;
  readonly recordsScanned: number;
  /** The scan stopped at its page budget: the newest record may be newer than shown. */
  readonly truncated: boolean;
}

/** Plain value of a stream image attribute (S/N/BOOL), enough for keys and versions. */
function plain(v: AttributeValue | undefined): string | number | boolean | undefined {
  if (!v) return undefined;
  if (v.S !== undefined) return v.S;
  if (v.N !== undefined) return Number(v.N);
  if (v.BOOL !== undefined) return v.BOOL;
  return undefined;
}

/** Compares stream sequence numbers (decimal strings of arbitrary length). */
export function compareSequence(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Whether the replica has caught up with a record: an INSERT/MODIFY is applied when the
 * replica's version is at least the record's; a REMOVE when the item is gone or is a tombstone
 * at least as new.
 */
export function isCaughtUp(eventName: string, recordVersion: number | undefined, replica: Record<string, AttributeValue> | undefined): boolean {
  const replicaVersion = replica ? (plain(replica.version) as number | undefined) : undefined;
  if (eventName === 'REMOVE') {
    if (!replica) return true;
    const tombstone = Object.entries(replica).some(([k, v]) => /^(deleted|tombstone|isDeleted)$/i.test(k) && v.BOOL === true);
    return tombstone && (recordVersion === undefined || (replicaVersion ?? -1) >= recordVersion);
  }
  if (recordVersion === undefined) return replica !== undefined;
  return replicaVersion !== undefined && replicaVersion >= recordVersion;
}

/** The open (leaf) shards: no ending sequence number; else the newest closed one. */
export function leafShards(shards: readonly Shard[]): Shard[] {
  const open = shards.filter((s) => !s.SequenceNumberRange?.EndingSequenceNumber);
  if (open.length) return open;
  const newest = [...shards].sort((a, b) => compareSequence(b.SequenceNumberRange?.StartingSequenceNumber ?? '0', a.SequenceNumberRange?.StartingSequenceNumber ?? '0'))[0];
  return newest ? [newest] : [];
}

/**
 * Computes stream lag portably, with the DynamoDB Streams API only (local cloud, LocalStack
 * and AWS alike): the Streams API cannot read "the last record", so the open shards are read
 * from TRIM_HORIZON (bounded by `maxPages`) and the newest record is kept.
 */
export async function streamLag(ctx: CliContext, sourceTable: string, replicaTable: string, maxPages = 50, now = Date.now()): Promise<StreamLag> {
  const base = { sourceTable, replicaTable, caughtUp: true, lagSeconds: 0, recordsScanned: 0, truncated: false };
  const streamArn = (await ctx.dynamodb.send(new DescribeTableCommand({ TableName: sourceTable }))).Table?.LatestStreamArn;
  if (!streamArn) return { ...base, note: 'the source table has no stream' };
  const shards: Shard[] = [];
  let startShard: string | undefined;
  do {
    const d = await ctx.streams.send(new DescribeStreamCommand({ StreamArn: streamArn, ExclusiveStartShardId: startShard }));
    shards.push(...(d.StreamDescription?.Shards ?? []));
    startShard = d.StreamDescription?.LastEvaluatedShardId;
  } while (startShard);
  let newest: _Record | undefined;
  let scanned = 0;
  let pages = 0;
  let truncated = false;
  for (const shard of leafShards(shards)) {
    let iterator = (await ctx.streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
    while (iterator) {
      if (pages++ >= maxPages) {
        truncated = true;
        break;
      }
      const page = await ctx.streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
      const records = page.Records ?? [];
      scanned += records.length;
      for (const r of records) if (!newest || compareSequence(r.dynamodb?.SequenceNumber ?? '0', newest.dynamodb?.SequenceNumber ?? '0') > 0) newest = r;
      // An open shard always hands back a next iterator; an empty page means we reached its tip.
      if (records.length === 0) break;
      iterator = page.NextShardIterator;
    }
  }
  if (!newest?.dynamodb?.Keys) return { ...base, streamArn, recordsScanned: scanned, truncated, note: 'no records on the stream (retention is 24 hours)' };
  const keys = newest.dynamodb.Keys as Record<string, AttributeValue>;
  const image = (newest.eventName === 'REMOVE' ? newest.dynamodb.OldImage : newest.dynamodb.NewImage) as Record<string, AttributeValue> | undefined;
  const version = plain(image?.version) as number | undefined;
  const replica = (await ctx.dynamodb.send(new GetItemCommand({ TableName: replicaTable, Key: keys, ConsistentRead: true }))).Item;
  const caughtUp = isCaughtUp(newest.eventName ?? 'MODIFY', version, replica);
  const at = newest.dynamodb.ApproximateCreationDateTime ? new Date(newest.dynamodb.ApproximateCreationDateTime) : new Date(now);
  return {
    ...base,
    streamArn,
    newestRecord: { key: Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, String(plain(v))])), eventName: newest.eventName ?? '?', version, at: at.toISOString(), sequenceNumber: newest.dynamodb.SequenceNumber ?? '' },
    replicaVersion: replica ? (plain(replica.version) as number | undefined) : undefined,
    caughtUp,
    lagSeconds: caughtUp ? 0 : Math.max(0, Math.round((now - at.getTime()) / 1000)),
    recordsScanned: scanned,
    truncated,
  };
}

/** One dead-letter queue's depth. */
export interface DlqDepth {
  readonly output: string;
  readonly url: string;
  readonly messages: number;
  readonly inFlight: number;
}

/** Output keys that name a DLQ. */
export const isDlqOutput = (key: string): boolean => /(DeadLetterQueueUrl|DlqUrl)$/.test(key);

/** The depth of every queue named by a `…DeadLetterQueueUrl` / `…DlqUrl` output. */
export async function dlqDepths(ctx: CliContext): Promise<DlqDepth[]> {
  const outputs = await ctx.outputs();
  const keys = Object.keys(outputs).filter(isDlqOutput).sort();
  return Promise.all(
    keys.map(async (output) => {
      const a = (await ctx.sqs.send(new GetQueueAttributesCommand({ QueueUrl: outputs[output], AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }))).Attributes ?? {};
      return { output, url: outputs[output]!, messages: Number(a.ApproximateNumberOfMessages ?? 0), inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) };
    }),
  );
}

/** Saga outcome of one execution: compensated and escalated failures are told apart by their Error. */
export function executionOutcome(status: string | undefined, error: string | undefined): string {
  if (status === 'FAILED' && error === 'SagaCompensated') return 'COMPENSATED';
  if (status === 'FAILED' && error === 'CompensationFailed') return 'COMPENSATION_FAILED';
  return status ?? 'UNKNOWN';
}

/** Sagas started in the window, by outcome. */
export interface SagaCounts {
  readonly windowHours: number;
  readonly total: number;
  readonly byOutcome: Record<string, number>;
  /** Listing stopped at its cap: counts are a lower bound. */
  readonly truncated: boolean;
}

async function recentExecutions(ctx: CliContext, arn: string, since: number, cap: number): Promise<{ items: ExecutionListItem[]; truncated: boolean }> {
  const items: ExecutionListItem[] = [];
  let nextToken: string | undefined;
  // Executions are listed newest first: stop at the first one older than the window.
  for (;;) {
    const page = await ctx.sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, maxResults: 100, nextToken }));
    for (const e of page.executions ?? []) {
      if ((e.startDate?.getTime() ?? 0) < since) return { items, truncated: false };
      items.push(e);
      if (items.length >= cap) return { items, truncated: true };
    }
    nextToken = page.nextToken;
    if (!nextToken) return { items, truncated: false };
  }
}

/** The last reconciliation run. */
export interface LastRun {
  readonly executionArn: string;
  readonly runId: string;
  readonly status: string;
  readonly startDate?: string;
  readonly stopDate?: string;
  readonly error?: string;
  /** The run summary (execution output) once it finished. */
  readonly summary?: Record<string, any>;
  /** Drift the run left unrepaired (escalated, breaker tripped), or the run failed. */
  readonly driftRemains: boolean;
}

/** Whether a run summary leaves drift behind. */
export function summaryLeavesDrift(summary: Record<string, any> | undefined): boolean {
  return Boolean(summary && ((summary.escalated ?? 0) > 0 || summary.breakerTripped));
}

async function lastRun(ctx: CliContext): Promise<LastRun | undefined> {
  const arn = await ctx.optionalOutput('ReconcileStateMachineArn');
  if (!arn) return undefined;
  const e = (await ctx.sfn.send(new ListExecutionsCommand({ stateMachineArn: arn, maxResults: 1 }))).executions?.[0];
  if (!e) return undefined;
  const d = await ctx.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
  const summary = parseJson(d.output) as Record<string, any> | undefined;
  const input = parseJson(d.input) as { runId?: string } | undefined;
  const failed = d.status === 'FAILED' || d.status === 'TIMED_OUT' || d.status === 'ABORTED';
  return {
    executionArn: e.executionArn!,
    runId: summary?.runId ?? input?.runId ?? e.name!,
    status: d.status ?? '?',
    startDate: d.startDate?.toISOString(),
    stopDate: d.stopDate?.toISOString(),
    error: d.error,
    summary,
    driftRemains: failed || summaryLeavesDrift(summary),
  };
}

/** A saga waiting for (or abandoned by) a human. */
export interface Escalation {
  readonly sagaId: string;
  readonly orderId?: string;
  readonly status: string;
  readonly executionArn?: string;
  readonly compensation?: string;
  readonly error?: string;
  readonly since?: string;
}

/** `--json` output of `converge status`. */
export interface StatusReport {
  readonly stack: string;
  readonly endpoint?: string;
  readonly at: string;
  readonly streamLag?: StreamLag;
  readonly deadLetterQueues: DlqDepth[];
  readonly sagas?: SagaCounts;
  readonly lastReconcile?: LastRun;
  readonly escalations: Escalation[];
  /** What needs an operator; empty when healthy (exit 0). */
  readonly problems: string[];
}

/** Options of the command. */
export interface StatusOptions {
  readonly hours: number;
  readonly maxLagSeconds: number;
}

/** Gathers the report. */
export async function statusReport(ctx: CliContext, opts: StatusOptions): Promise<StatusReport> {
  const outputs = await ctx.outputs();
  const now = Date.now();
  const placeOrder = outputs.PlaceOrderStateMachineArn;
  const ledger = await ledgerTable(ctx);
  const [lag, dlqs, recent, last, ledgerEscalations] = await Promise.all([
    outputs.OrdersTableName && outputs.OrdersReplicaTableName ? streamLag(ctx, outputs.OrdersTableName, outputs.OrdersReplicaTableName) : undefined,
    dlqDepths(ctx),
    placeOrder ? recentExecutions(ctx, placeOrder, now - opts.hours * 3600_000, 1000) : undefined,
    lastRun(ctx),
    ledger ? scanHeaders(ctx, ledger, { statuses: ['NEEDS_HUMAN', 'COMPENSATION_FAILED'] }) : undefined,
  ]);
  let sagas: SagaCounts | undefined;
  let escalations: Escalation[] = [];
  if (recent) {
    const outcomes = await mapLimit(recent.items, 8, async (e) => {
      if (e.status !== 'FAILED') return e.status ?? 'UNKNOWN';
      const d = await ctx.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
      return executionOutcome(d.status, d.error);
    });
    const byOutcome: Record<string, number> = {};
    for (const o of outcomes) byOutcome[o] = (byOutcome[o] ?? 0) + 1;
    sagas = { windowHours: opts.hours, total: outcomes.length, byOutcome, truncated: recent.truncated };
  }
  if (ledgerEscalations) {
    escalations = ledgerEscalations.map((h) => ({ sagaId: h.sagaId, orderId: h.orderId, status: h.status, executionArn: h.executionArn, compensation: h.escalation?.compensation, error: h.escalation?.error, since: h.escalation?.at ?? h.updatedAt }));
  } else if (recent) {
    // No ledger deployed: a RUNNING saga parked in an Escalate… state is waiting for a human.
    const running = recent.items.filter((e) => e.status === 'RUNNING');
    const steps = await mapLimit(running, 8, async (e) => currentStep((await ctx.sfn.send(new GetExecutionHistoryCommand({ executionArn: e.executionArn, reverseOrder: true, maxResults: 25 }))).events ?? []));
    escalations = running.flatMap((e, i) => (steps[i]?.startsWith('Escalate') ? [{ sagaId: e.name!, status: 'NEEDS_HUMAN', executionArn: e.executionArn, compensation: steps[i]!.slice('Escalate'.length) }] : []));
  }
  const problems: string[] = [];
  if (lag && !lag.caughtUp && lag.lagSeconds > opts.maxLagSeconds) problems.push(`stream lag ${lag.lagSeconds}s exceeds ${opts.maxLagSeconds}s`);
  for (const q of dlqs) if (q.messages + q.inFlight > 0) problems.push(`${q.output}: ${q.messages + q.inFlight} message(s) in the dead-letter queue`);
  if (last?.driftRemains) problems.push(`last reconciliation run ${last.runId} ${last.status === 'SUCCEEDED' ? 'left drift unrepaired' : `is ${last.status}`}`);
  if (escalations.length) problems.push(`${escalations.length} saga(s) need a human (converge resolve)`);
  return { stack: ctx.options.stack, endpoint: ctx.endpoint, at: new Date(now).toISOString(), streamLag: lag, deadLetterQueues: dlqs, sagas, lastReconcile: last, escalations, problems };
}

/** Prints the report; exit 1 when something needs an operator. */
export async function statusCommand(ctx: CliContext, opts: StatusOptions): Promise<number> {
  const r = await statusReport(ctx, opts);
  const code = r.problems.length ? 1 : 0;
  if (ctx.options.json) {
    printJson(r);
    return code;
  }
  const lag = r.streamLag;
  console.log(`stack ${r.stack}${r.endpoint ? ` at ${r.endpoint}` : ''}\n`);
  if (lag) {
    const line = lag.note ?? (lag.caughtUp ? status('OK') + ` replica has ${JSON.stringify(lag.newestRecord?.key)} v${lag.newestRecord?.version ?? '?'}` : status('BEHIND') + ` ${lag.lagSeconds}s: replica v${lag.replicaVersion ?? 'none'} < v${lag.newestRecord?.version ?? '?'} of ${JSON.stringify(lag.newestRecord?.key)}`);
    console.log(`stream lag  ${line}${lag.truncated ? ' (stream scan truncated)' : ''}`);
  }
  console.log(`\ndead-letter queues\n${r.deadLetterQueues.length ? table(['output', 'messages', 'in flight'], r.deadLetterQueues.map((q) => [q.output, q.messages ? status(`FAILED ${q.messages}`) : '0', q.inFlight])) : '(none in the outputs)'}`);
  if (r.sagas) console.log(`\nsagas in the last ${r.sagas.windowHours}h: ${r.sagas.total}${r.sagas.truncated ? '+' : ''}\n${table(['outcome', 'count'], Object.entries(r.sagas.byOutcome).map(([k, v]) => [status(k), v]))}`);
  if (r.lastReconcile) {
    const s = r.lastReconcile.summary;
    console.log(`\nlast reconciliation ${r.lastReconcile.runId}: ${status(r.lastReconcile.status)} ${r.lastReconcile.stopDate ?? r.lastReconcile.startDate ?? ''}${s ? `  compared ${s.compared}, repaired ${s.repaired}, escalated ${s.escalated}${s.breakerTripped ? ', BREAKER TRIPPED' : ''}` : ''}`);
  } else console.log('\nlast reconciliation: none');
  console.log(`\nopen escalations: ${r.escalations.length}`);
  if (r.escalations.length) console.log(table(['saga', 'status', 'compensation', 'error', 'since'], r.escalations.map((e) => [e.sagaId, status(e.status), e.compensation, e.error, e.since])));
  console.log(r.problems.length ? `\n${status('FAILED')}: ${r.problems.join('; ')}` : `\n${status('OK')}`);
  return code;
}
