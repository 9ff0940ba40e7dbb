/**
 * PlaceOrder saga (issue 6): state transitions on the happy path (StateEntered events in
 * GetExecutionHistory) against its declared steps, latency from PutEvents to the execution's
 * end, and the transitions of each compensation path.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DescribeExecutionCommand, DescribeStateMachineCommand, ListExecutionsCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import type { Usage } from '../cost.js';
import { executionHistory, type BenchCloud } from '../support/cloud.js';
import { percentile, round, runPool, sleep } from '../support/stats.js';
import { functionEnvironments } from './sync.js';

export interface SagaFigures {
  steps: number;
  stepsSource: string;
  sagas: number;
  succeeded: number;
  transitionsHappyPath: number;
  transitionsHappyPathRange: [number, number];
  latencyP50Ms: number;
  latencyP99Ms: number;
  compensationPaths: Record<string, { status: string; error?: string; transitions: number } | { skipped: string }>;
  writesPerSaga: number;
  eventsPerSaga: number;
  lambdaInvocationsPerSaga: number;
  usagePerSaga: Usage;
  costBasis: string;
}

export function sagaUnavailable(b: BenchCloud): string | undefined {
  const missing = ['PlaceOrderStateMachineArn', 'EventBusName', 'InventoryTableName', 'WalletsTableName'].filter((k) => !b.outputs[k]);
  return missing.length ? `the stack has no ${missing.join(', ')} output` : undefined;
}

/** The number of declared steps, from the saga's single source (statemachines/place-order.ts). */
async function declaredSteps(): Promise<{ steps: number; source: string }> {
  try {
    const mod = (await import('../../statemachines/place-order.js')) as unknown as { placeOrderSaga?: { steps?: unknown[] } };
    const n = mod.placeOrderSaga?.steps?.length;
    if (n) return { steps: n, source: 'statemachines/place-order.ts (placeOrderSaga.steps)' };
  } catch (err) {
    return { steps: 5, source: `DESIGN §1 (importing statemachines/place-order.ts failed: ${(err as Error).message.split('\n')[0]})` };
  }
  return { steps: 5, source: 'DESIGN §1 (placeOrderSaga.steps not found)' };
}

interface Outcome {
  arn: string;
  status: string;
  stopMs: number;
}

/** Watches the state machine's executions and resolves, per orderId, when its execution closes. */
class ExecutionWatcher {
  private readonly orderOf = new Map<string, string | null>();
  private readonly waiting = new Map<string, (o: Outcome) => void>();
  private readonly done = new Map<string, Outcome>();
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly b: BenchCloud,
    private readonly arn: string,
    private readonly prefix: string,
  ) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        await this.poll().catch((err) => console.error('[saga] poll failed:', (err as Error).message));
        await sleep(25);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  wait(orderId: string): Promise<Outcome> {
    const d = this.done.get(orderId);
    if (d) return Promise.resolve(d);
    return new Promise((resolve) => this.waiting.set(orderId, resolve));
  }

  private async poll(): Promise<void> {
    let token: string | undefined;
    do {
      const page = await this.b.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: this.arn, maxResults: 1000, nextToken: token }));
      for (const e of page.executions ?? []) {
        const arn = e.executionArn!;
        if (!this.orderOf.has(arn)) {
          const d = await this.b.clients.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
          const m = new RegExp(`${this.prefix}[\\w-]+`).exec(d.input ?? '');
          this.orderOf.set(arn, m ? m[0] : null);
        }
        const orderId = this.orderOf.get(arn);
        if (!orderId || e.status === 'RUNNING' || this.done.has(orderId)) continue;
        const outcome = { arn, status: e.status!, stopMs: e.stopDate ? e.stopDate.getTime() : Date.now() };
        this.done.set(orderId, outcome);
        this.waiting.get(orderId)?.(outcome);
        this.waiting.delete(orderId);
      }
      token = page.nextToken;
    } while (token);
  }
}

const history = executionHistory;

const transitionsOf = (events: HistoryEvent[]) => events.filter((e) => e.type?.endsWith('StateEntered')).length;

/** Lambda invocations in a history and their summed duration (scheduled/started → succeeded/failed). */
function lambdaWork(events: HistoryEvent[]): { invocations: number; ms: number } {
  let invocations = 0;
  let ms = 0;
  let startedAt: number | undefined;
  for (const e of events) {
    const lambdaTask = e.type === 'TaskStarted' && (e.taskStartedEventDetails?.resourceType ?? '').includes('lambda');
    if (e.type === 'LambdaFunctionStarted' || lambdaTask) {
      invocations += 1;
      startedAt = e.timestamp?.getTime();
    }
    if (startedAt !== undefined && ['LambdaFunctionSucceeded', 'LambdaFunctionFailed', 'LambdaFunctionTimedOut', 'TaskSucceeded', 'TaskFailed', 'TaskTimedOut'].includes(e.type ?? '')) {
      ms += Math.max(1, (e.timestamp?.getTime() ?? startedAt) - startedAt);
      startedAt = undefined;
    }
  }
  return { invocations, ms };
}

export async function sagaBench(b: BenchCloud, opts: { sagas: number; concurrency: number; log: (s: string) => void }): Promise<SagaFigures> {
  const o = b.outputs;
  const ddb = b.clients.dynamodb;
  const { steps, source } = await declaredSteps();
  const SKUS = 10;
  for (let i = 0; i < SKUS; i++) {
    await ddb.send(new PutItemCommand({ TableName: o.InventoryTableName, Item: { sku: { S: `bench-sku-${i}` }, available: { N: '100000000' } } }));
    await ddb.send(new PutItemCommand({ TableName: o.WalletsTableName, Item: { customerId: { S: `bench-cust-${i}` }, balance: { N: '100000000000' } } }));
  }
  await ddb.send(new PutItemCommand({ TableName: o.WalletsTableName, Item: { customerId: { S: 'bench-cust-broke' }, balance: { N: '0' } } }));

  const arn = o.PlaceOrderStateMachineArn!;
  const prefix = `bsaga${Date.now().toString(36)}-`;
  const watcher = new ExecutionWatcher(b, arn, prefix);
  watcher.start();
  const place = async (orderId: string, customerId: string, sku: string, quantity: number, amount: number) => {
    const t0 = Date.now();
    const r = await b.clients.events.send(
      new PutEventsCommand({
        Entries: [{ EventBusName: o.EventBusName, Source: 'shop.orders', DetailType: 'OrderPlaced', Detail: JSON.stringify({ schemaVersion: 1, orderId, customerId, items: [{ sku, quantity }], amount, currency: 'USD' }) }],
      }),
    );
    if (r.FailedEntryCount) throw new Error(`PutEvents failed: ${JSON.stringify(r.Entries)}`);
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`saga for ${orderId} did not close within 120 s`)), 120_000).unref());
    const outcome = await Promise.race([watcher.wait(orderId), timeout]);
    return { ...outcome, latencyMs: outcome.stopMs - t0 };
  };

  try {
    // Warm-up: the first saga pays every function's cold start; not in the latency figures.
    await place(`${prefix}warm`, 'bench-cust-0', 'bench-sku-0', 1, 1000);
    b.tap.reset();
    const happy: Array<{ arn: string; status: string; latencyMs: number }> = [];
    await runPool(opts.sagas, opts.concurrency, async (i) => {
      happy.push(await place(`${prefix}${i}`, `bench-cust-${i % SKUS}`, `bench-sku-${i % SKUS}`, 1, 1000 + i));
    });
    const writes = Object.values(b.tap.writes()).reduce((a, n) => a + n, 0);
    const events = b.tap.eventsPublished();
    const succeeded = happy.filter((h) => h.status === 'SUCCEEDED');
    opts.log(`saga: ${succeeded.length}/${happy.length} SUCCEEDED`);
    if (succeeded.length === 0) throw new Error(`no happy-path saga SUCCEEDED (statuses: ${[...new Set(happy.map((h) => h.status))].join(', ')})`);

    const counts: number[] = [];
    let invocations = 0;
    let lambdaMs = 0;
    for (const h of succeeded) {
      const events = await history(b, h.arn);
      counts.push(transitionsOf(events));
      const w = lambdaWork(events);
      invocations += w.invocations;
      lambdaMs += w.ms;
    }
    const median = percentile(counts, 50)!;

    const compensationPaths: SagaFigures['compensationPaths'] = {};
    for (const [name, args] of [
      ['InsufficientStock', [`${prefix}nostock`, 'bench-cust-1', 'bench-sku-1', 1_000_000_000, 1000]],
      ['PaymentDeclined', [`${prefix}declined`, 'bench-cust-broke', 'bench-sku-2', 1, 1000]],
    ] as const) {
      try {
        const r = await place(...(args as unknown as [string, string, string, number, number]));
        const d = await b.clients.sfn.send(new DescribeExecutionCommand({ executionArn: r.arn }));
        compensationPaths[name] = { status: r.status, error: d.error, transitions: transitionsOf(await history(b, r.arn)) };
      } catch (err) {
        compensationPaths[name] = { skipped: (err as Error).message };
      }
    }

    // The memory of the functions the saga's state machine invokes (not, say, the stream sync's).
    const { definition = '' } = await b.clients.sfn.send(new DescribeStateMachineCommand({ stateMachineArn: arn }));
    const memoryMb = Math.max(128, ...(await functionEnvironments(b)).filter((f) => definition.includes(f.name)).map((f) => f.memoryMb));
    const n = succeeded.length;
    const latencies = happy.map((h) => h.latencyMs);
    return {
      steps,
      stepsSource: source,
      sagas: happy.length,
      succeeded: n,
      transitionsHappyPath: median,
      transitionsHappyPathRange: [Math.min(...counts), Math.max(...counts)],
      latencyP50Ms: round(percentile(latencies, 50)!, 1),
      latencyP99Ms: round(percentile(latencies, 99)!, 1),
      compensationPaths,
      writesPerSaga: round(writes / happy.length, 2),
      eventsPerSaga: round(events / happy.length, 2),
      lambdaInvocationsPerSaga: round(invocations / n, 2),
      usagePerSaga: {
        writeUnits: writes / happy.length,
        readUnits: 0,
        lambdaRequests: invocations / n,
        lambdaGbSeconds: (lambdaMs / 1000 / n) * (memoryMb / 1024),
        transitions: median,
        events: events / happy.length + 1,
      },
      costBasis: `median ${median} StateEntered events per happy saga; ${round(invocations / n, 2)} Lambda invocations and ${round(lambdaMs / n)} ms of task time per saga from the history (${memoryMb} MB); all DynamoDB writes in the phase (${round(writes / happy.length, 2)}/saga, including the sync of the Orders rows it writes, 1 WRU each); the OrderPlaced event plus ${round(events / happy.length, 2)} published per saga`,
    };
  } finally {
    await watcher.stop();
  }
}
