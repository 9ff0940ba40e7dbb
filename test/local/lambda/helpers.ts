/**
 * Test scaffolding for the Lambda service: a minimal kernel, an in-memory stream that behaves
 * like the DynamoDB service's (append, notify, read after a sequence number), a recording SQS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LambdaClient } from '@aws-sdk/client-lambda';
import type { ProvisionRequest } from '../../../local/core/aws.js';
import { LocalClock } from '../../../local/core/clock.js';
import { testKernel } from '../../support/kernel.js';
import type { Kernel, SqsPort, StreamRecord, StreamsPort } from '../../../local/core/kernel.js';
import { startFront, type Front } from '../../../local/core/server.js';
import { createLambda, type LambdaOptions, type LocalLambda } from '../../../local/lambda/index.js';
import type { LocalService } from '../../../local/core/kernel.js';

process.env.CONVERGE_LAMBDA_LOGS = '0';

/** Directory of the fixture handlers, used as the function's "asset". */
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** A stream in memory: one shard, increasing sequence numbers, listeners notified on append. */
export class FakeStreams implements StreamsPort {
  private readonly streams = new Map<string, { table: string; records: StreamRecord[] }>();
  private readonly listeners = new Map<string, Set<() => void>>();
  private seq = 100000000000000000000n;

  constructor(private readonly clock: LocalClock) {}

  /** Creates the stream of a table and returns its ARN. */
  create(table: string): string {
    const arn = `arn:aws:dynamodb:us-east-1:000000000000:table/${table}/stream/2026-11-27T00:00:00.000`;
    this.streams.set(arn, { table, records: [] });
    return arn;
  }

  /** Appends an INSERT (or the given kind) for item `id`, with extra NewImage attributes. */
  append(arn: string, id: string, extra: Record<string, unknown> = {}, eventName: StreamRecord['eventName'] = 'INSERT'): StreamRecord {
    this.seq += 1n;
    const keys = { id: { S: id } };
    const record: StreamRecord = {
      eventID: `e${this.seq}`,
      eventName,
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(this.clock.now() / 1000),
        Keys: keys,
        ...(eventName === 'REMOVE' ? {} : { NewImage: { ...keys, ...extra } }),
        SequenceNumber: String(this.seq),
        SizeBytes: 40,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    };
    this.streams.get(arn)!.records.push(record);
    for (const l of this.listeners.get(arn) ?? []) l();
    return record;
  }

  readAfter(arn: string, after: string | undefined, limit: number): StreamRecord[] {
    const records = this.streams.get(arn)?.records ?? [];
    const start = after === undefined ? 0 : records.findIndex((r) => BigInt(r.dynamodb.SequenceNumber) > BigInt(after));
    return start < 0 ? [] : records.slice(start, start + limit);
  }

  latestSequence(arn: string): string | undefined {
    return this.streams.get(arn)?.records.at(-1)?.dynamodb.SequenceNumber;
  }

  onAppend(arn: string, listener: () => void): () => void {
    const set = this.listeners.get(arn) ?? new Set();
    set.add(listener);
    this.listeners.set(arn, set);
    return () => set.delete(listener);
  }

  tableOf(arn: string): string | undefined {
    return this.streams.get(arn)?.table;
  }

  shardIdOf(): string {
    return 'shardId-00000001764201600000-0000abcd';
  }
}

/** SQS that records what is sent. */
export class FakeSqs implements SqsPort {
  readonly messages: Array<{ queue: string; body: string; attributes?: Record<string, { DataType: string; StringValue?: string }> }> = [];

  async sendMessage(queue: string, body: string, attributes?: Record<string, { DataType: string; StringValue?: string }>): Promise<{ MessageId: string }> {
    this.messages.push({ queue, body, attributes });
    return { MessageId: String(this.messages.length) };
  }

  /** Message bodies sent to `queue`, parsed. */
  bodies(queue: string): any[] {
    return this.messages.filter((m) => m.queue === queue).map((m) => JSON.parse(m.body));
  }
}

/** A running Lambda service on its own front, with a fake stream and SQS. */
export interface Harness {
  readonly kernel: Kernel;
  readonly streams: FakeStreams;
  readonly sqs: FakeSqs;
  readonly service: LocalService;
  readonly lambda: LocalLambda;
  readonly front: Front;
  readonly client: LambdaClient;
  readonly stateDir: string;
  /** Deploys a resource through the service's provider for its type. */
  provision(type: string, logicalId: string, properties: Record<string, any>): Promise<{ physicalId: string; attributes: Record<string, unknown> }>;
  /** Stops the service and the front (keeps the state dir unless `clean`). */
  close(clean?: boolean): Promise<void>;
}

/** Builds a kernel and starts the Lambda service; pass `stateDir` to restart over previous state. */
export async function startHarness(options: LambdaOptions & { stateDir?: string; streams?: FakeStreams; clock?: LocalClock } = {}): Promise<Harness> {
  const stateDir = options.stateDir ?? mkdtempSync(path.join(tmpdir(), 'converge-lambda-'));
  const clock = options.clock ?? new LocalClock();
  const streams = options.streams ?? new FakeStreams(clock);
  const sqs = new FakeSqs();
  const kernel = testKernel(stateDir, { clock, endpoint: 'http://127.0.0.1:1', streams, sqs });
  const { service, lambda } = createLambda(kernel, options);
  kernel.lambda = lambda;
  const front = await startFront({ json: [], routes: service.routes ?? [], port: 0 });
  kernel.endpoint = front.endpoint;
  await service.start?.();
  const client = new LambdaClient({ endpoint: front.endpoint, region: 'us-east-1', maxAttempts: 1, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const provision: Harness['provision'] = async (type, logicalId, properties) => {
    const provider = service.providers?.find((p) => p.types.includes(type));
    if (!provider) throw new Error(`no provider for ${type}`);
    const req: ProvisionRequest = { stackName: 'TestStack', logicalId, type, properties, metadata: {}, assemblyDir: FIXTURES, assetPath: () => FIXTURES };
    return provider.create(req);
  };
  return {
    kernel,
    streams,
    sqs,
    service,
    lambda,
    front,
    client,
    stateDir,
    provision,
    async close(clean = true) {
      client.destroy();
      await service.stop?.();
      await front.close();
      if (clean) rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

/** Properties of a function whose code is the fixtures directory. */
export function fixtureFunction(handler: string, extra: Record<string, any> = {}): Record<string, any> {
  return { Code: { S3Bucket: 'cdk-hnb659fds-assets', S3Key: 'fixtures.zip' }, Runtime: 'nodejs22.x', Handler: handler, Role: 'arn:aws:iam::000000000000:role/test', ...extra };
}
