/**
 * Stream sync (issue 5): write requests per synced change counted at the DynamoDB front,
 * end-to-end synced changes/s, and the write→replica lag.
 */
import { BatchGetItemCommand, type BatchGetItemCommandOutput, GetItemCommand, ListTablesCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ListFunctionsCommand, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import type { Usage } from '../cost.js';
import { mappings, waitIdle, type BenchCloud } from '../support/cloud.js';
import { orderItem } from '../support/items.js';
import { percentile, round, runPool, sleep, waitFor } from '../support/stats.js';

export interface SyncFigures {
  changes: number;
  writesPerChange: number;
  writesPerChangeIncludingSource: number;
  digestWritesPerChange: number;
  writesByTable: Record<string, number>;
  syncedChangesPerSecond: number;
  syncDrainMs: number;
  /**
   * Synced changes/s draining a backlog: N changes written while the sync mapping is disabled,
   * then timed from enabling it until it is idle. No writer competes for the machine's cores
   * (on AWS the writer runs elsewhere); the digest upkeep of both streams still runs.
   */
  backlogDrainChangesPerSecond: number;
  replicaVerified: number;
  lagSamples: number;
  lagP50Ms: number;
  lagP99Ms: number;
  invocations: number;
  eventsPerChange: number;
  /** PutEvents calls per change: below 1 when concurrent publishes share calls. */
  putEventsCallsPerChange: number;
  readRequestsPerChange: number;
  usagePerChange: Usage;
  costBasis: string;
}

/** Tables named in the functions' environment (DIGEST_TABLE etc.), to attribute writes to their role. */
export async function functionEnvironments(b: BenchCloud): Promise<Array<{ name: string; env: Record<string, string>; memoryMb: number }>> {
  const out: Array<{ name: string; env: Record<string, string>; memoryMb: number }> = [];
  let marker: string | undefined;
  do {
    const page = await b.clients.lambda.send(new ListFunctionsCommand({ Marker: marker }));
    for (const f of page.Functions ?? []) out.push({ name: f.FunctionName!, env: f.Environment?.Variables ?? {}, memoryMb: f.MemorySize ?? 128 });
    marker = page.NextMarker;
  } while (marker);
  return out;
}

/** The mapping of the sync function (by the SyncFunctionName output, else a function named like sync). */
function syncMapping(b: BenchCloud) {
  const all = mappings(b.cloud);
  const name = b.outputs.SyncFunctionName;
  return all.find((m) => name && m.functionName === name) ?? all.find((m) => /sync/i.test(m.functionName));
}

/** Why the sync benchmark can't run on this deployment, or undefined when it can. */
export async function syncUnavailable(b: BenchCloud, probeTimeoutMs = 30_000): Promise<string | undefined> {
  const { OrdersTableName: orders, OrdersReplicaTableName: replica } = b.outputs;
  if (!orders || !replica) return 'the stack has no OrdersTableName/OrdersReplicaTableName output';
  if (!syncMapping(b)) return 'no stream event-source mapping for a sync function is deployed';
  await b.clients.dynamodb.send(new PutItemCommand({ TableName: orders, Item: orderItem('bench-probe-0') }));
  const seen = await waitFor(async () => {
    const r = await b.clients.dynamodb.send(new GetItemCommand({ TableName: replica, Key: { orderId: { S: 'bench-probe-0' } }, ConsistentRead: true }));
    return r.Item ? true : undefined;
  }, probeTimeoutMs, 50);
  return seen ? undefined : `a change written to Orders did not reach OrdersReplica within ${probeTimeoutMs / 1000} s`;
}

async function waitSyncIdle(b: BenchCloud, deliveredTarget: number, timeoutMs: number): Promise<boolean> {
  return (
    (await waitFor(() => {
      const m = syncMapping(b);
      return m && m.idle && m.recordsDelivered >= deliveredTarget ? true : undefined;
    }, timeoutMs, 5)) ?? false
  );
}

export async function syncBench(b: BenchCloud, opts: { changes: number; warmUp: number; concurrency: number; lagSamples: number; lagPerSecond: number; log: (s: string) => void }): Promise<SyncFigures> {
  const { OrdersTableName: orders, OrdersReplicaTableName: replica } = b.outputs;
  const ddb = b.clients.dynamodb;
  const envs = await functionEnvironments(b);
  const digestTables = new Set(envs.map((f) => f.env.DIGEST_TABLE).filter((t): t is string => !!t));
  const tableNames = (await ddb.send(new ListTablesCommand({}))).TableNames ?? [];
  const roleOf = (table: string): string => {
    for (const [k, v] of Object.entries(b.outputs)) if (v === table && k.endsWith('TableName')) return k.replace(/TableName$/, '');
    if (digestTables.has(table)) return 'Digest';
    return tableNames.includes(table) ? table : `?${table}`;
  };

  // Untimed warm-up, as the raw baseline's first 1,000 puts are: the first changes pay for JIT
  // in the sync function, the front and dynalite, and would make the figure a cold-start one.
  await runPool(opts.warmUp, opts.concurrency, (i) => ddb.send(new PutItemCommand({ TableName: orders, Item: orderItem(`bench-warm-${i}`) })).then(() => {}));
  await waitIdle(b.cloud, 300_000);

  // Throughput and writes per change: N inserts as fast as `concurrency` allows, until the sync mapping drains.
  const m0 = syncMapping(b)!;
  b.tap.reset();
  const started = performance.now();
  await runPool(opts.changes, opts.concurrency, (i) => ddb.send(new PutItemCommand({ TableName: orders, Item: orderItem(`bench-sync-${i}`) })).then(() => {}));
  const writtenMs = performance.now() - started;
  const drained = await waitSyncIdle(b, m0.recordsDelivered + opts.changes, 600_000);
  const drainMs = performance.now() - started;
  if (!drained) throw new Error(`the sync mapping did not drain ${opts.changes} changes within 10 minutes`);
  opts.log(`sync: ${opts.changes} changes written in ${Math.round(writtenMs)} ms, synced in ${Math.round(drainMs)} ms`);
  // Let the other mappings (e.g. digest upkeep) finish too, so their writes are counted whole.
  await waitIdle(b.cloud, 300_000);
  const raw = b.tap.writes();
  const m1 = syncMapping(b)!;
  const invocations = m1.batches - m0.batches;
  const events = b.tap.eventsPublished();
  const putEventsCalls = b.tap.putEventsCallCount();
  const reads = Object.values(b.tap.readRequests()).reduce((a, n) => a + n, 0);
  const transactional = Object.entries(b.tap.transactionalWrites()).filter(([t]) => !digestTables.has(t) && t !== orders).reduce((a, [, n]) => a + n, 0);
  const memoryMb = envs.find((f) => f.name === m1.functionName)?.memoryMb ?? 256;
  const writesByTable: Record<string, number> = {};
  for (const [t, n] of Object.entries(raw)) writesByTable[roleOf(t)] = (writesByTable[roleOf(t)] ?? 0) + n;
  const total = Object.values(raw).reduce((a, n) => a + n, 0);
  const source = raw[orders] ?? 0;
  const digest = Object.entries(raw).filter(([t]) => digestTables.has(t)).reduce((a, [, n]) => a + n, 0);

  // Verify: every change is in the replica.
  let verified = 0;
  for (let i = 0; i < opts.changes; i += 100) {
    let keys: Array<Record<string, any>> | undefined = Array.from({ length: Math.min(100, opts.changes - i) }, (_, j) => ({ orderId: { S: `bench-sync-${i + j}` } }));
    while (keys && keys.length) {
      const out: BatchGetItemCommandOutput = await ddb.send(new BatchGetItemCommand({ RequestItems: { [replica]: { Keys: keys, ProjectionExpression: 'orderId' } } }));
      verified += out.Responses?.[replica]?.length ?? 0;
      keys = out.UnprocessedKeys?.[replica]?.Keys;
    }
  }

  // Backlog drain: the same N changes' worth of work, but with the writer done before sync starts.
  const m2 = syncMapping(b)!;
  await b.clients.lambda.send(new UpdateEventSourceMappingCommand({ UUID: m2.uuid, Enabled: false }));
  await runPool(opts.changes, opts.concurrency, (i) => ddb.send(new PutItemCommand({ TableName: orders, Item: orderItem(`bench-drain-${i}`) })).then(() => {}));
  // The digest upkeep of Orders catches up first, as it would have long before a real backlog drains.
  await waitIdle(b.cloud, 300_000);
  const drainStarted = performance.now();
  await b.clients.lambda.send(new UpdateEventSourceMappingCommand({ UUID: m2.uuid, Enabled: true }));
  const backlogDrained = await waitFor(() => {
    const m = syncMapping(b);
    return m && m.enabled && m.idle ? true : undefined;
  }, 600_000, 5);
  const backlogMs = performance.now() - drainStarted;
  if (!backlogDrained) throw new Error(`the sync mapping did not drain a backlog of ${opts.changes} changes within 10 minutes`);
  opts.log(`sync: a backlog of ${opts.changes} changes drained in ${Math.round(backlogMs)} ms`);
  await waitIdle(b.cloud, 300_000);

  // Lag: paced single writes, each polled on the replica until it shows.
  const lags: number[] = [];
  const gap = 1000 / opts.lagPerSecond;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: opts.lagSamples }, async (_, i) => {
      await sleep(Math.max(0, t0 + i * gap - performance.now()));
      const key = `bench-lag-${i}`;
      await ddb.send(new PutItemCommand({ TableName: orders, Item: orderItem(key) }));
      const written = performance.now();
      const seen = await waitFor(async () => {
        const r = await ddb.send(new GetItemCommand({ TableName: replica, Key: { orderId: { S: key } }, ConsistentRead: true, ProjectionExpression: 'orderId' }));
        return r.Item ? performance.now() : undefined;
      }, 60_000, 5);
      if (seen !== undefined) lags.push(seen - written);
    }),
  );

  const syncWrites = total - source - digest;
  const usagePerChange: Usage = {
    writeUnits: (syncWrites + transactional) / opts.changes,
    readUnits: reads / opts.changes,
    lambdaRequests: invocations / opts.changes,
    // Upper bound: one shard runs one batch at a time, so the function was busy at most the drain time.
    lambdaGbSeconds: ((drainMs / 1000) * (memoryMb / 1024)) / opts.changes,
    transitions: 0,
    events: events / opts.changes,
  };
  return {
    changes: opts.changes,
    writesPerChange: round((total - source - digest) / opts.changes),
    writesPerChangeIncludingSource: round((total - digest) / opts.changes),
    digestWritesPerChange: round(digest / opts.changes),
    writesByTable,
    syncedChangesPerSecond: round((opts.changes / drainMs) * 1000, 1),
    syncDrainMs: Math.round(drainMs),
    backlogDrainChangesPerSecond: round((opts.changes / backlogMs) * 1000, 1),
    replicaVerified: verified,
    lagSamples: lags.length,
    lagP50Ms: round(percentile(lags, 50) ?? Number.NaN, 1),
    lagP99Ms: round(percentile(lags, 99) ?? Number.NaN, 1),
    invocations,
    eventsPerChange: round(events / opts.changes),
    putEventsCallsPerChange: round(putEventsCalls / opts.changes),
    readRequestsPerChange: round(reads / opts.changes),
    usagePerChange,
    costBasis: `sync writes (1 WRU each, items < 1 KB; 2 for transactional) and read requests counted at the front; ${invocations} invocations for ${opts.changes} changes; Lambda duration bounded by the local drain time (${Math.round(drainMs)} ms × ${memoryMb} MB); ${round(events / opts.changes)} events per change; the originating Orders write and digest upkeep are excluded`,
  };
}
