/**
 * Reconciliation (issue 7): items read by digest-mode detection against a full-mode run, and
 * the full-mode compare rate against a raw parallel scan of both tables, on `items` items with
 * `drift` drifted ones.
 *
 * Seeding is a bulk import: items go straight into dynalite below the front (like DynamoDB's
 * import from S3, it emits no stream records), into Orders and OrdersReplica alike, and the
 * digest pages and member rows they would have produced are written the same way, computed
 * with the reconcile domain's own functions. Drift is then injected through the front, on the
 * replica only (an attribute changed, an item deleted, an extra item put, in turn), so that
 * digest upkeep sees it from the replica's stream exactly as it would see a stray writer.
 */
import { DeleteItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { memberPk, pageKey } from '../../lambdas/reconcile/adapters/digest-store.js';
import { bodyCodec } from '../../lambdas/reconcile/adapters/run-store.js';
import { TablePairSchema } from '../../lambdas/reconcile/config.js';
import { digestMutation } from '../../lambdas/reconcile/domain/digest.js';
import type { DigestLayout, TablePair } from '../../lambdas/reconcile/domain/model.js';
import type { Usage } from '../cost.js';
import { executionHistory, waitIdle, type BenchCloud } from '../support/cloud.js';
import { orderItem, type WireItem } from '../support/items.js';
import { round, runPool, sleep } from '../support/stats.js';
import { parallelScanRate } from './raw.js';
import { functionEnvironments } from './sync.js';

export interface ModeFigures {
  executionArn: string;
  status: string;
  executionMs: number;
  compareMs: number;
  compared: number;
  itemsRead: number;
  itemsReadBreakdown: Record<string, number>;
  rcuConsumed: number;
  rcuPerComparedItem: number;
  comparedPerSecond: number;
  /** Source and replica items read and compared per second: the same unit as the raw scan rate. */
  comparedItemsPerSecond: number;
  discrepancies: unknown;
  candidates: unknown;
  transitions: number;
  lambdaInvocations: number;
  writes: number;
  usagePerItem: Usage;
  costBasis: string;
}

export interface ReconcileFigures {
  items: number;
  drift: number;
  driftByType: Record<string, number>;
  seedMs: number;
  digestSeeded: boolean;
  rawScanItems: number;
  rawScanMs: number;
  rawScanItemsPerSecond: number;
  segments: number;
  full?: ModeFigures;
  fullSkipped?: string;
  digest?: ModeFigures;
  digestSkipped?: string;
}

export async function reconcileUnavailable(b: BenchCloud): Promise<string | undefined> {
  const missing = ['ReconcileStateMachineArn', 'OrdersTableName', 'OrdersReplicaTableName'].filter((k) => !b.outputs[k]);
  return missing.length ? `the stack has no ${missing.join(', ')} output` : undefined;
}

type Backend = { call(operation: string, input: unknown): Promise<any> };

/**
 * Retries a call to dynalite that failed on a reset connection: the front's keep-alive agent can
 * reuse a socket dynalite's server has just closed (Node's 5 s keepAliveTimeout) after an idle
 * gap, e.g. while the digests are computed. BatchWriteItem of PutRequests is idempotent.
 */
async function withReset<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (attempt >= 5 || (code !== 'ECONNRESET' && code !== 'EPIPE')) throw err;
      await sleep(50 * attempt);
    }
  }
}

/** BatchWriteItem straight to dynalite (no front: no stream records, no counters), 25 per request, retrying unprocessed items. */
async function importItems(backend: Backend, table: string, items: WireItem[], concurrency = 8): Promise<void> {
  const batches = Math.ceil(items.length / 25);
  await runPool(batches, concurrency, async (i) => {
    let requests: unknown[] | undefined = items.slice(i * 25, i * 25 + 25).map((Item) => ({ PutRequest: { Item } }));
    while (requests && requests.length) {
      const out = await withReset(() => backend.call('BatchWriteItem', { RequestItems: { [table]: requests } }));
      requests = out?.UnprocessedItems?.[table];
      if (requests?.length) await sleep(20);
    }
  });
}

/** Finds an object holding a run summary (`compared` and `itemsRead`) anywhere in an execution's output. */
function findSummary(v: unknown): any {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.compared === 'number' && o.itemsRead && typeof o.itemsRead === 'object') return o;
  for (const x of Object.values(o)) {
    const s = findSummary(x);
    if (s) return s;
  }
  return undefined;
}

const history = executionHistory;

async function runMode(b: BenchCloud, input: Record<string, unknown>, memoryMb: number, log: (s: string) => void): Promise<ModeFigures> {
  b.tap.reset();
  const started = Date.now();
  const { executionArn } = await b.clients.sfn.send(new StartExecutionCommand({ stateMachineArn: b.outputs.ReconcileStateMachineArn, name: `bench-${input.strategy}-${Date.now()}`, input: JSON.stringify(input) }));
  let d;
  for (;;) {
    d = await b.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (d.status !== 'RUNNING') break;
    if (Date.now() - started > 600_000) throw new Error(`the ${input.strategy} reconciliation did not finish within 10 minutes`);
    await sleep(100);
  }
  const executionMs = (d.stopDate?.getTime() ?? Date.now()) - (d.startDate?.getTime() ?? started);
  if (d.status !== 'SUCCEEDED') throw new Error(`the ${input.strategy} reconciliation ended ${d.status}: ${d.error ?? ''} ${d.cause ?? ''}`.slice(0, 500));
  const summary = findSummary(JSON.parse(d.output ?? '{}'));
  if (!summary) throw new Error(`the ${input.strategy} reconciliation's output has no run summary (compared, itemsRead): ${(d.output ?? '').slice(0, 300)}`);
  const events = await history(b, executionArn!);
  // The compare phase: from the first Map state entered to the last Map state exited (the segment fan-out).
  const mapIn = events.find((e) => e.type === 'MapStateEntered')?.timestamp?.getTime();
  const mapOut = events.filter((e) => e.type === 'MapStateExited')[0]?.timestamp?.getTime();
  const compareMs = mapIn !== undefined && mapOut !== undefined && mapOut > mapIn ? mapOut - mapIn : executionMs;
  const transitions = events.filter((e) => e.type?.endsWith('StateEntered')).length;
  let invocations = 0;
  let lambdaMs = 0;
  const open: number[] = [];
  for (const e of events) {
    if (e.type === 'LambdaFunctionStarted' || (e.type === 'TaskStarted' && (e.taskStartedEventDetails?.resourceType ?? '').includes('lambda'))) {
      invocations += 1;
      open.push(e.timestamp?.getTime() ?? 0);
    }
    if (['LambdaFunctionSucceeded', 'LambdaFunctionFailed', 'TaskSucceeded', 'TaskFailed'].includes(e.type ?? '') && open.length) lambdaMs += Math.max(1, (e.timestamp?.getTime() ?? 0) - open.shift()!);
  }
  const ir = summary.itemsRead as Record<string, number>;
  const itemsRead = Object.values(ir).reduce((a, n) => a + (typeof n === 'number' ? n : 0), 0);
  const compared = summary.compared as number;
  const rcu = Number(summary.rcuConsumed ?? 0);
  const writes = Object.values(b.tap.writes()).reduce((a, n) => a + n, 0);
  const events_ = b.tap.eventsPublished();
  log(`reconcile ${input.strategy}: compared ${compared}, read ${itemsRead} (${JSON.stringify(ir)}), ${round(rcu, 1)} RCU, compare ${compareMs} ms, execution ${executionMs} ms`);
  const per = (n: number) => (compared > 0 ? n / compared : 0);
  return {
    executionArn: executionArn!,
    status: d.status!,
    executionMs,
    compareMs,
    compared,
    itemsRead,
    itemsReadBreakdown: ir,
    rcuConsumed: round(rcu, 2),
    rcuPerComparedItem: round(per(rcu), 5),
    comparedPerSecond: round((compared / compareMs) * 1000, 1),
    comparedItemsPerSecond: round((((ir.source ?? 0) + (ir.replica ?? 0)) / compareMs) * 1000, 1),
    discrepancies: summary.discrepancies,
    candidates: summary.candidates,
    transitions,
    lambdaInvocations: invocations,
    writes,
    usagePerItem: { writeUnits: per(writes), readUnits: per(rcu), lambdaRequests: per(invocations), lambdaGbSeconds: per((lambdaMs / 1000) * (memoryMb / 1024)), transitions: per(transitions), events: per(events_) },
    costBasis: `scaled linearly from this run (${compared} items compared): ${round(rcu, 1)} RCU consumed as reported by the run (ReturnConsumedCapacity), ${transitions} state transitions, ${invocations} Lambda invocations over ${lambdaMs} ms (${memoryMb} MB), ${writes} writes (audit rows, checkpoints); on AWS the fan-out is a Distributed Map, whose child transitions scale with segments as here`,
  };
}

export async function reconcileBench(b: BenchCloud, opts: { items: number; drift: number; segments: number; log: (s: string) => void }): Promise<ReconcileFigures> {
  const { OrdersTableName: orders, OrdersReplicaTableName: replica } = b.outputs;
  const backend = b.cloud.internals.dynamodb.front.backend as Backend;
  const envs = await functionEnvironments(b);

  // 1. Bulk import into both tables.
  const t0 = Date.now();
  const items = Array.from({ length: opts.items }, (_, i) => orderItem(`bench-rec-${String(i).padStart(7, '0')}`));
  await importItems(backend, orders, items);
  await importItems(backend, replica, items);
  opts.log(`reconcile: imported ${opts.items} items into both tables in ${Date.now() - t0} ms`);

  // 2. The digests those items would have produced (when digest upkeep is deployed).
  const upkeep = envs.find((f) => f.env.DIGEST_TABLE && f.env.RECONCILE_PAIR);
  let digestSkipped: string | undefined;
  if (upkeep) {
    const pair = TablePairSchema.parse(JSON.parse(upkeep.env.RECONCILE_PAIR!)) as TablePair;
    const layout: DigestLayout = { buckets: Number(upkeep.env.DIGEST_BUCKETS ?? 16_384), bucketsPerPage: Number(upkeep.env.DIGEST_BUCKETS_PER_PAGE ?? 64) };
    const table = upkeep.env.DIGEST_TABLE!;
    const pages = new Map<string, { side: 'source' | 'replica'; page: number; slots: Map<number, { sum: bigint; count: number }> }>();
    const members: WireItem[] = [];
    for (const side of ['source', 'replica'] as const) {
      for (const item of items) {
        const keys = Object.fromEntries(pair.keyAttributes.map((k) => [k, item[k]!]));
        const m = digestMutation(pair, layout, side, { eventName: 'INSERT', keys, newImage: item as any, sequenceNumber: '0' });
        if (!m) continue;
        const id = `${side}#${m.page}`;
        const p = pages.get(id) ?? { side, page: m.page, slots: new Map() };
        pages.set(id, p);
        const s = p.slots.get(m.slot) ?? { sum: 0n, count: 0 };
        p.slots.set(m.slot, { sum: s.sum + m.sumDelta, count: s.count + m.countDelta });
        members.push({
          pk: { S: memberPk(pair.name, side, m.bucket) },
          sk: { S: m.keyString },
          key: { S: bodyCodec.encode(m.key) },
          seq: { S: m.sequence },
          ...(m.member.hash ? { hash: { S: m.member.hash } } : {}),
          ...(m.member.version !== undefined ? { version: { N: String(m.member.version) } } : {}),
        });
      }
    }
    // Merge with pages digest upkeep may already have written (earlier stream records).
    const pageItems: WireItem[] = [];
    for (const p of pages.values()) {
      const key = pageKey(pair.name, p.side, p.page);
      const existing = (await withReset(() => backend.call('GetItem', { TableName: table, Key: key, ConsistentRead: true })))?.Item ?? {};
      const item: WireItem = { ...existing, ...key };
      for (const [slot, s] of p.slots) {
        item[`d${slot}`] = { N: (BigInt(existing[`d${slot}`]?.N ?? '0') + s.sum).toString() };
        item[`c${slot}`] = { N: String(Number(existing[`c${slot}`]?.N ?? '0') + s.count) };
      }
      pageItems.push(item);
    }
    await importItems(backend, table, pageItems);
    await importItems(backend, table, members);
    opts.log(`reconcile: wrote ${pageItems.length} digest pages and ${members.length} member rows`);
  } else digestSkipped = 'digest mode is not deployed: no function has DIGEST_TABLE and RECONCILE_PAIR in its environment';
  const seedMs = Date.now() - t0;

  // 3. Drift, through the front, on the replica only.
  const ddb = b.clients.dynamodb;
  const driftByType: Record<string, number> = { MISMATCH: 0, MISSING_IN_REPLICA: 0, EXTRA_IN_REPLICA: 0 };
  const stride = Math.max(1, Math.floor(opts.items / opts.drift));
  for (let j = 0; j < opts.drift; j++) {
    const key = { orderId: { S: `bench-rec-${String((j * stride + 7) % opts.items).padStart(7, '0')}` } };
    if (j % 3 === 0) {
      await ddb.send(new UpdateItemCommand({ TableName: replica, Key: key, UpdateExpression: 'SET amount = amount + :one', ExpressionAttributeValues: { ':one': { N: '1' } } }));
      driftByType.MISMATCH! += 1;
    } else if (j % 3 === 1) {
      await ddb.send(new DeleteItemCommand({ TableName: replica, Key: key }));
      driftByType.MISSING_IN_REPLICA! += 1;
    } else {
      await ddb.send(new PutItemCommand({ TableName: replica, Item: orderItem(`bench-rec-extra-${j}`) }));
      driftByType.EXTRA_IN_REPLICA! += 1;
    }
  }
  if (!(await waitIdle(b.cloud, 120_000))) opts.log('reconcile: WARNING the stream mappings did not go idle within 120 s after the drift');

  // 4. The raw baseline: parallel scan of both tables.
  const raw = await parallelScanRate(ddb, [orders, replica], opts.segments);
  opts.log(`reconcile: raw parallel scan ${raw.items} items in ${Math.round(raw.ms)} ms (${opts.segments} segments per table)`);

  const memoryMb = Math.max(128, ...envs.filter((f) => f.env.RECONCILE_PAIR).map((f) => f.memoryMb));
  // A budget high enough never to bind (the figure is the compare rate, not the limiter's), and a short settle delay.
  const common = { mode: 'report', maxRcuPerSecond: 1_000_000, settleSeconds: 1 };
  const result: ReconcileFigures = {
    items: opts.items,
    drift: opts.drift,
    driftByType,
    seedMs,
    digestSeeded: !!upkeep,
    rawScanItems: raw.items,
    rawScanMs: Math.round(raw.ms),
    rawScanItemsPerSecond: round(raw.itemsPerSecond, 1),
    segments: opts.segments,
  };
  try {
    result.full = await runMode(b, { ...common, strategy: 'full', segments: opts.segments }, memoryMb, opts.log);
  } catch (err) {
    result.fullSkipped = `full mode failed: ${(err as Error).message}`;
    console.error(err);
  }
  if (!digestSkipped) {
    try {
      result.digest = await runMode(b, { ...common, strategy: 'digest' }, memoryMb, opts.log);
    } catch (err) {
      digestSkipped = `digest mode failed: ${(err as Error).message}`;
      console.error(err);
    }
  }
  result.digestSkipped = digestSkipped;
  return result;
}
