/**
 * Physical baselines measured in the same run as the pipeline figures: concurrent PutItem on
 * the local front (a plain table and a streamed one), on bare dynalite, and parallel Scan.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateTableCommand, DeleteTableCommand, waitUntilTableExists, PutItemCommand, ScanCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { clientsFor } from '../support/cloud.js';
import { orderItem } from '../support/items.js';
import { runPool } from '../support/stats.js';

const require = createRequire(import.meta.url);

/** Creates an on-demand table keyed by `pk` (optionally streamed) and waits until it is ACTIVE (bare dynalite answers CREATING first). */
export async function createRawTable(client: DynamoDBClient, name: string, streamed: boolean): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: name,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
      ...(streamed ? { StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } } : {}),
    }),
  );
  await waitUntilTableExists({ client, maxWaitTime: 30, minDelay: 1, maxDelay: 1 }, { TableName: name });
}

/**
 * Concurrent PutItem of `count` distinct order-shaped items; returns items/s. A warm-up of
 * `warmUp` puts is not timed (the first thousand requests of a process pay for JIT and
 * leveldb's first memtable, and would make the figure depend on what ran before).
 */
export async function putRate(client: DynamoDBClient, table: string, count: number, concurrency: number, prefix = 'raw', warmUp = 50): Promise<number> {
  await runPool(Math.min(warmUp, count), concurrency, (i) => client.send(new PutItemCommand({ TableName: table, Item: orderItem(`${prefix}-warm-${i}`, 1, 'pk') })).then(() => {}));
  const ms = await runPool(count, concurrency, (i) => client.send(new PutItemCommand({ TableName: table, Item: orderItem(`${prefix}-${i}`, 1, 'pk') })).then(() => {}));
  return (count / ms) * 1000;
}

/** The median of `rounds` timed {@link putRate} runs after one warm-up, with every round's rate. */
export async function medianPutRate(client: DynamoDBClient, table: string, count: number, concurrency: number, rounds: number, prefix = 'raw'): Promise<{ median: number; rounds: number[] }> {
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) rates.push(await putRate(client, table, count, concurrency, `${prefix}-r${r}`, r === 0 ? Math.min(count, 1_000) : 0));
  const sorted = [...rates].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, rounds: rates.map((x) => Math.round(x)) };
}

/** Parallel Scan of every table with `segments` segments each, all at once; returns items and items/s. */
export async function parallelScanRate(client: DynamoDBClient, tables: readonly string[], segments: number): Promise<{ items: number; itemsPerSecond: number; ms: number }> {
  let items = 0;
  const started = performance.now();
  await Promise.all(
    tables.flatMap((table) =>
      Array.from({ length: segments }, async (_, segment) => {
        let start: Record<string, any> | undefined;
        do {
          const out = await client.send(new ScanCommand({ TableName: table, Segment: segment, TotalSegments: segments, ExclusiveStartKey: start }));
          items += out.Count ?? 0;
          start = out.LastEvaluatedKey;
        } while (start);
      }),
    ),
  );
  const ms = performance.now() - started;
  return { items, itemsPerSecond: (items / ms) * 1000, ms };
}

/** PutItem/s on a bare dynalite (same process, its own leveldb in a temp dir, no front). */
export async function bareDynalitePutRate(count: number, concurrency: number): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'converge-bench-dynalite-'));
  const dynalite = require('dynalite') as (options: Record<string, unknown>) => http.Server;
  const server = dynalite({ path: path.join(dir, 'leveldb'), createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { dynamodb } = clientsFor(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  try {
    await createRawTable(dynamodb, 'bench-bare', false);
    return await putRate(dynamodb, 'bench-bare', count, concurrency, 'bare');
  } finally {
    await dynamodb.send(new DeleteTableCommand({ TableName: 'bench-bare' })).catch(() => {});
    dynamodb.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  }
}
