/**
 * The benchmarks' local cloud: synthesizes the app when cdk.out is missing or older than its
 * sources (as `npm start` and the test setup do), starts an in-process {@link LocalCloud} on a
 * fresh temp state dir and an ephemeral port, deploys the assembly, and taps the DynamoDB
 * front to count write requests per table (the front's own counters are per operation only).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { GetExecutionHistoryCommand, SFNClient, type HistoryEvent } from '@aws-sdk/client-sfn';
import { Agent } from 'node:http';
import { LocalCloud } from '../../local/cloud.js';
import { ensureAssembly as ensureAppAssembly } from '../../local/cloudformation/synth.js';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');
/** Synthesizes `cdk.out` unless it is newer than every source of the app. */
export async function ensureAssembly(log: (line: string) => void): Promise<string> {
  const r = await ensureAppAssembly({ cwd: ROOT, quiet: true });
  log(r.synthesized ? `synthesized the app into cdk.out in ${r.durationMs} ms` : 'cdk.out is newer than every source of the app: reusing it');
  return r.assemblyDir;
}

/** SDK v3 clients against an endpoint, with enough sockets for the concurrent phases. */
export function clientsFor(endpoint: string) {
  const requestHandler = { httpAgent: new Agent({ keepAlive: true, maxSockets: 128 }) };
  const config = { region: process.env.AWS_REGION ?? 'us-east-1', endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, requestHandler };
  return {
    dynamodb: new DynamoDBClient(config),
    sfn: new SFNClient(config),
    events: new EventBridgeClient(config),
    lambda: new LambdaClient(config),
  };
}
export type BenchClients = ReturnType<typeof clientsFor>;

/** Write requests per table and operation, counted in the DynamoDB front's `handle` (one per item written, like the front's `writeRequests`). */
export class WriteTap {
  private byTable = new Map<string, number>();
  private readsByTable = new Map<string, number>();
  private transactional = new Map<string, number>();
  private events = 0;
  private putEventsCalls = 0;
  private installed = false;

  /** Wraps `front.handle`: every DynamoDB call, over HTTP or in-process, goes through it. */
  install(cloud: LocalCloud): void {
    if (this.installed) return;
    this.installed = true;
    const front = cloud.internals.dynamodb.front;
    const original = front.handle.bind(front);
    front.handle = (operation: string, input: any, options: { internal?: boolean } = {}) => {
      if (!options.internal && input && typeof input === 'object') this.observe(operation, input);
      return original(operation, input, options);
    };
    // Events published: PutEvents over HTTP (functions) and in-process (Step Functions tasks).
    const json = cloud.internals.events.service.json;
    if (json) {
      const handle = json.handle.bind(json);
      (json as { handle: typeof json.handle }).handle = (operation, input, ctx) => {
        if (operation === 'PutEvents' && Array.isArray(input?.Entries)) {
          this.events += input.Entries.length;
          this.putEventsCalls += 1;
        }
        return handle(operation, input, ctx);
      };
    }
    const port = cloud.kernel.events;
    const putEvents = port.putEvents.bind(port);
    port.putEvents = (entries) => {
      this.events += entries.length;
      return putEvents(entries);
    };
  }

  private add(map: Map<string, number>, table: unknown, n = 1): void {
    if (typeof table !== 'string') return;
    map.set(table, (map.get(table) ?? 0) + n);
  }

  private observe(operation: string, input: any): void {
    switch (operation) {
      case 'PutItem':
      case 'UpdateItem':
      case 'DeleteItem':
        this.add(this.byTable, input.TableName);
        break;
      case 'BatchWriteItem':
        for (const [table, reqs] of Object.entries(input.RequestItems ?? {})) this.add(this.byTable, table, Array.isArray(reqs) ? reqs.length : 0);
        break;
      case 'TransactWriteItems':
        for (const t of Array.isArray(input.TransactItems) ? input.TransactItems : []) {
          const op = t && typeof t === 'object' ? (t.Put ?? t.Update ?? t.Delete) : undefined;
          if (op) {
            this.add(this.byTable, op.TableName);
            this.add(this.transactional, op.TableName);
          }
        }
        break;
      case 'GetItem':
      case 'Query':
      case 'Scan':
        this.add(this.readsByTable, input.TableName);
        break;
      default:
    }
  }

  reset(): void {
    this.byTable.clear();
    this.readsByTable.clear();
    this.transactional.clear();
    this.events = 0;
    this.putEventsCalls = 0;
  }

  /** PutEvents API calls received over HTTP (each carries up to 10 entries). */
  putEventsCallCount(): number {
    return this.putEventsCalls;
  }

  /** Items written inside TransactWriteItems (billed 2 WRU each on AWS), per table. */
  transactionalWrites(): Record<string, number> {
    return Object.fromEntries(this.transactional);
  }

  /** Event entries published (PutEvents over HTTP and in-process). */
  eventsPublished(): number {
    return this.events;
  }

  writes(): Record<string, number> {
    return Object.fromEntries(this.byTable);
  }

  readRequests(): Record<string, number> {
    return Object.fromEntries(this.readsByTable);
  }
}

/** A deployed bench cloud. */
export interface BenchCloud {
  readonly cloud: LocalCloud;
  readonly outputs: Record<string, string>;
  readonly clients: BenchClients;
  readonly tap: WriteTap;
  stop(): Promise<void>;
}

/** Starts a fresh local cloud (temp state dir, port 0), deploys `assemblyDir`, taps the front. */
export async function startBenchCloud(assemblyDir: string): Promise<BenchCloud> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'converge-bench-'));
  const cloud = await LocalCloud.start({ stateDir, port: 0, fresh: true, quiet: true });
  let stacks: Record<string, Record<string, string>>;
  try {
    ({ stacks } = await cloud.deploy(assemblyDir));
  } catch (err) {
    await cloud.stop().catch(() => {});
    await rm(stateDir, { recursive: true, force: true });
    throw err;
  }
  const tap = new WriteTap();
  tap.install(cloud);
  const clients = clientsFor(cloud.endpoint);
  return {
    cloud,
    outputs: Object.assign({}, ...Object.values(stacks)),
    clients,
    tap,
    async stop() {
      for (const c of Object.values(clients)) c.destroy();
      try {
        await cloud.stop();
      } finally {
        await rm(stateDir, { recursive: true, force: true });
      }
    },
  };
}

/** Snapshots of the stream event-source mappings (in-process; the admin API serves the same). */
export function mappings(cloud: LocalCloud) {
  return cloud.internals.lambda.lambda.mappingStats();
}

/** Waits until every mapping is idle (caught up, nothing in flight); false on timeout. */
export async function waitIdle(cloud: LocalCloud, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (mappings(cloud).every((m) => m.idle)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Every event of an execution's history, all pages. */
export async function executionHistory(b: BenchCloud, executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let token: string | undefined;
  do {
    const page = await b.clients.sfn.send(new GetExecutionHistoryCommand({ executionArn, maxResults: 1000, nextToken: token }));
    events.push(...(page.events ?? []));
    token = page.nextToken;
  } while (token);
  return events;
}
