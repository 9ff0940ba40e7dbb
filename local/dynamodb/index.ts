/**
 * The local DynamoDB and DynamoDB Streams: dynalite (leveldb under `${stateDir}/dynamodb`)
 * behind the project's front, which records streams, runs transactions, sweeps TTL, keeps
 * the table settings dynalite drops, and provisions `AWS::DynamoDB::Table`.
 */
import { join } from 'node:path';
import { AwsError, type JsonService, type RequestContext } from '../core/aws.js';
import type { DynamoPort, Kernel, LocalService, StreamsPort } from '../core/kernel.js';
import { DynaliteBackend } from './backend.js';
import { DynamoFront } from './front.js';
import { MetadataStore } from './metadata.js';
import { tableProvider } from './provider.js';
import { StreamStore } from './streams.js';
import { TtlSweeper } from './ttl.js';

export { DynamoFront } from './front.js';
export { StreamStore, RETENTION_MS, ITERATOR_TTL_MS } from './streams.js';
export { TtlSweeper } from './ttl.js';

/** The JSON target prefix of the DynamoDB API. */
export const DYNAMODB_PREFIX = 'DynamoDB_20120810';
/** The JSON target prefix of the DynamoDB Streams API. */
export const STREAMS_PREFIX = 'DynamoDBStreams_20120810';

/** The in-process DynamoDB port, with the request counters the benchmark reads. */
export type CountingDynamoPort = DynamoPort & {
  /** Requests per operation name, plus `writeRequests`: one per item written (PutItem, UpdateItem, DeleteItem, each BatchWriteItem item, each TransactWriteItems Put/Update/Delete). */
  counters(): Record<string, number>;
  resetCounters(): void;
};

/** Options for tests and tools. */
export interface DynamoDbOptions {
  /** Real-time period of the TTL sweeper. @default 5000 */
  readonly ttlSweepIntervalMs?: number;
}

/**
 * Builds the local DynamoDB service. `service.start()` starts dynalite and loads the front's
 * state; `service.stop()` stops the sweeper, closes the stream logs and stops dynalite.
 */
export function createDynamoDb(kernel: Kernel, options: DynamoDbOptions = {}): { service: LocalService; dynamodb: CountingDynamoPort; streams: StreamsPort; front: DynamoFront; sweeper: TtlSweeper } {
  const dir = join(kernel.stateDir, 'dynamodb');
  const backend = new DynaliteBackend(join(dir, 'leveldb'));
  const meta = new MetadataStore(join(dir, 'front.json'));
  const streams = new StreamStore(kernel, meta, dir);
  const front = new DynamoFront(kernel, backend, meta, streams);
  const sweeper = new TtlSweeper(front, options.ttlSweepIntervalMs);
  let started = false;

  const json: JsonService = {
    targetPrefixes: [DYNAMODB_PREFIX, STREAMS_PREFIX],
    async handle(operation: string, input: any, _ctx: RequestContext) {
      if (!started) throw new AwsError('ServiceUnavailable', 'the local DynamoDB is not started', 503);
      // The front routes both prefixes here; Streams operation names never clash with DynamoDB's.
      if (['ListStreams', 'DescribeStream', 'GetShardIterator', 'GetRecords'].includes(operation)) {
        front.count(operation);
        return streams.handle(operation, input ?? {});
      }
      return front.handle(operation, input);
    },
  };

  const service: LocalService = {
    name: 'dynamodb',
    json,
    providers: [tableProvider(front)],
    async start() {
      if (started) return;
      meta.load();
      streams.load();
      await backend.start();
      sweeper.start();
      started = true;
    },
    async stop() {
      if (!started) return;
      started = false;
      await sweeper.stop();
      streams.close();
      meta.save();
      await backend.stop();
    },
  };

  const dynamodb: CountingDynamoPort = {
    call: (operation, input) => front.handle(operation, input),
    counters: () => front.counters(),
    resetCounters: () => front.resetCounters(),
  };

  return { service, dynamodb, streams, front, sweeper };
}
