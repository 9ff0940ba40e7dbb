/**
 * Test harness for the local DynamoDB: a minimal kernel (controllable clock, fault injector,
 * temp state dir, throwing stubs for the other ports), the service behind the real HTTP front,
 * and SDK v3 clients pointed at it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient, type StreamViewType } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand, ListStreamsCommand, type _Record } from '@aws-sdk/client-dynamodb-streams';
import { LocalClock } from '../../../local/core/clock.js';
import { testKernel } from '../../support/kernel.js';
import type { Kernel } from '../../../local/core/kernel.js';
import { startFront, type Front } from '../../../local/core/server.js';
import { createDynamoDb } from '../../../local/dynamodb/index.js';


/** A running local DynamoDB with clients. */
export interface Harness {
  readonly kernel: Kernel;
  readonly ddb: ReturnType<typeof createDynamoDb>;
  readonly front: Front;
  readonly client: DynamoDBClient;
  readonly streams: DynamoDBStreamsClient;
  readonly stateDir: string;
  close(): Promise<void>;
}

/** Starts the service (on `stateDir`, a fresh temp dir by default) and the front on an ephemeral port. */
export async function startHarness(options: { stateDir?: string; clock?: LocalClock } = {}): Promise<Harness> {
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), 'converge-ddb-'));
  const kernel = testKernel(stateDir, { clock: options.clock ?? new LocalClock(Date.UTC(2026, 0, 1)) });
  const ddb = createDynamoDb(kernel, { ttlSweepIntervalMs: 3_600_000 });
  kernel.dynamodb = ddb.dynamodb;
  kernel.streams = ddb.streams;
  await ddb.service.start!();
  const front = await startFront({ json: [ddb.service.json!], routes: [], port: 0, onInternalError: (err) => { throw err; } });
  kernel.endpoint = front.endpoint;
  const config = { endpoint: front.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 };
  const client = new DynamoDBClient(config);
  const streams = new DynamoDBStreamsClient(config);
  return {
    kernel, ddb, front, client, streams, stateDir,
    async close() {
      client.destroy();
      streams.destroy();
      await front.close();
      await ddb.service.stop!();
    },
  };
}

/** Creates a table keyed by `pk` (string), optionally with a stream. */
export async function createTable(h: Harness, name: string, viewType?: StreamViewType, sortKey = false): Promise<void> {
  await h.client.send(new CreateTableCommand({
    TableName: name,
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, ...(sortKey ? [{ AttributeName: 'sk', AttributeType: 'N' as const }] : [])],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, ...(sortKey ? [{ AttributeName: 'sk', KeyType: 'RANGE' as const }] : [])],
    BillingMode: 'PAY_PER_REQUEST',
    ...(viewType ? { StreamSpecification: { StreamEnabled: true, StreamViewType: viewType } } : {}),
  }));
}

/** Every record of a table's latest stream, from the trim horizon, through the Streams API. */
export async function readStream(h: Harness, tableName: string): Promise<_Record[]> {
  const { Streams } = await h.streams.send(new ListStreamsCommand({ TableName: tableName }));
  const streamArn = Streams!.at(-1)!.StreamArn!;
  const { StreamDescription } = await h.streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
  const shardId = StreamDescription!.Shards![0].ShardId!;
  let iterator = (await h.streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))).ShardIterator;
  const out: _Record[] = [];
  for (;;) {
    const page = await h.streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
    out.push(...(page.Records ?? []));
    if (!page.Records?.length || !page.NextShardIterator) return out;
    iterator = page.NextShardIterator;
  }
}
