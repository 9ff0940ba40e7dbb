/**
 * The production adapters together over dynalite: Powertools idempotency (PowertoolsOnce), the
 * guarded replica writer and the audit log, driven by the StreamSync domain. Proves the write
 * budget (3 DynamoDB write requests per synced change with one replica, idempotency included,
 * none for audit on the happy path), once-only application under redelivery, and per-replica
 * retries.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoAuditLog } from '../../../../lambdas/shared/adapters/audit-log.js';
import type { OutboundEvent } from '../../../../lambdas/shared/ports.js';
import { DynamoReplicaWriter } from '../../../../lambdas/sync/adapters/dynamo-replica-writer.js';
import { PowertoolsOnce, UNIT_KEY_PATH } from '../../../../lambdas/sync/adapters/powertools-once.js';
import type { PoisonMessage } from '../../../../lambdas/sync/domain/ports.js';
import { StreamSync } from '../../../../lambdas/sync/domain/sync.js';
import { startDynalite, type TestDynamo } from '../dynalite.js';
import { insert, modify, orderOptions, remove } from '../records.js';

const WRITES = ['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'BatchWriteItemCommand', 'TransactWriteItemsCommand'];

let db: TestDynamo;
let events: OutboundEvent[];
let dlq: PoisonMessage[];
let config: IdempotencyConfig;

beforeAll(async () => {
  db = await startDynalite();
  await db.createTable('Idempotency', 'id');
  await db.createTable('Rep1', 'orderId');
  await db.createTable('Rep2', 'orderId');
  await db.createTable('Audit', 'auditId');
});
afterAll(async () => db?.stop());

beforeEach(() => {
  events = [];
  dlq = [];
  for (const k of Object.keys(db.sent)) delete db.sent[k];
});

function makeSync(replicas: string[]) {
  config = new IdempotencyConfig({ eventKeyJmesPath: UNIT_KEY_PATH, expiresAfterSeconds: 3600, throwOnNoIdempotencyKey: true });
  config.registerLambdaContext({ getRemainingTimeInMillis: () => 30_000 } as Context);
  const noop = () => {};
  return new StreamSync({
    options: orderOptions,
    replicas,
    writer: new DynamoReplicaWriter(db.client, { partitionKey: 'orderId', version: 'version', tombstone: 'tombstone' }),
    once: new PowertoolsOnce(new DynamoDBPersistenceLayer({ tableName: 'Idempotency', awsSdkV3Client: db.client }), config),
    publisher: { publish: async (e) => void events.push(...e) },
    audit: new DynamoAuditLog({ tableName: 'Audit', client: DynamoDBDocumentClient.from(db.client) }),
    poison: { send: async (m) => void dlq.push(m) },
    metrics: { count: noop, lag: noop },
    log: { info: noop, warn: noop, error: noop },
    clock: { now: () => new Date() },
    actor: 'test',
  });
}

const writeRequests = () => WRITES.reduce((sum, c) => sum + (db.sent[c] ?? 0), 0);
const run = (sync: StreamSync, records: unknown[]) => {
  const process = sync.batch();
  return Promise.allSettled(records.map((r) => process(r)));
};

describe('sync over Powertools idempotency and dynalite', () => {
  it('costs exactly 3 DynamoDB write requests per synced change with one replica', async () => {
    const sync = makeSync(['Rep1']);
    const records = [insert('b-1', 1), modify('b-1', 1, 2), insert('b-2', 1), remove('b-2', 1), modify('b-1', 2, 3)];
    const results = await run(sync, records);
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(writeRequests() / records.length).toBe(3);
    expect(db.sent).toMatchObject({ PutItemCommand: 5 + 4, UpdateItemCommand: 5, DeleteItemCommand: 1 }); // 5 acquires + 4 replica puts, 5 completions, 1 replica delete
    expect(events).toHaveLength(5);
  });

  it('applies a redelivered batch once: one failed acquire per record, no replica write, no event', async () => {
    const sync = makeSync(['Rep1']);
    const records = [insert('d-1', 1), insert('d-2', 1)];
    await run(sync, records);
    for (const k of Object.keys(db.sent)) delete db.sent[k];
    const again = await run(sync, records);
    expect(again.map((r) => (r as PromiseFulfilledResult<any>).value.replicas)).toEqual([{ Rep1: 'duplicate' }, { Rep1: 'duplicate' }]);
    // Only the idempotency PutItems, refused because the records are COMPLETED.
    expect(db.sent.PutItemCommand).toBe(2);
    expect(writeRequests()).toBe(2);
    expect(events).toHaveLength(2);
  });

  it('retries a failed replica alone: the healthy replica’s unit is a duplicate on the retry', async () => {
    const sync = makeSync(['Rep1', 'Missing']);
    const record = insert('p-1', 1);
    const [first] = await run(sync, [record]);
    expect(first.status).toBe('rejected');
    // The failed unit's in-progress idempotency record was deleted, so it can run again.
    expect(db.sent.DeleteItemCommand).toBe(1);
    await db.createTable('Missing', 'orderId');
    const [retry] = await run(sync, [record]);
    expect((retry as PromiseFulfilledResult<any>).value.replicas).toEqual({ Rep1: 'duplicate', Missing: 'applied' });
    expect(events).toHaveLength(1);
  });

  it('writes an audit row only for bad input, once however often the record is redelivered', async () => {
    const sync = makeSync(['Rep1']);
    const bad = insert('x-1', 1, { version: { S: 'v1' } });
    await run(sync, [bad]);
    await run(sync, [bad]);
    expect(db.sent.PutItemCommand).toBe(2); // two attempts at the same audit row id
    const rows = await db.client.send(new ScanCommand({ TableName: 'Audit' }));
    expect(rows.Items).toHaveLength(1);
    expect(rows.Items![0]).toMatchObject({ action: { S: 'SYNC_RECORD_PARKED' }, entityId: { S: 'order#x-1' } });
    expect(dlq).toHaveLength(2); // SQS is at-least-once; consumers dedupe on sequenceNumber
    expect(new Set(dlq.map((m) => m.sequenceNumber)).size).toBe(1);
  });

  it('recovers a unit whose invocation was killed mid-work once that invocation’s deadline passes', async () => {
    const persistence = () => new DynamoDBPersistenceLayer({ tableName: 'Idempotency', awsSdkV3Client: db.client });
    const container = (remainingMs: number) => {
      const c = new IdempotencyConfig({ eventKeyJmesPath: UNIT_KEY_PATH, expiresAfterSeconds: 3600, throwOnNoIdempotencyKey: true });
      c.registerLambdaContext({ getRemainingTimeInMillis: () => remainingMs } as Context);
      return new PowertoolsOnce(persistence(), c);
    };
    // The first container acquires the unit and is "killed": its work never completes.
    const killed = container(300);
    void killed.run('kill|unit', () => new Promise<object>(() => {}));
    await new Promise((r) => setTimeout(r, 50));
    // Before the deadline, the unit is still held: the retry fails (and the mapping retries it later).
    await expect(container(30_000).run('kill|unit', async () => ({ ran: true }))).rejects.toMatchObject({ name: 'IdempotencyAlreadyInProgressError' });
    await new Promise((r) => setTimeout(r, 350));
    // After it, a new container takes the unit over and completes it.
    expect(await container(30_000).run('kill|unit', async () => ({ ran: true }))).toEqual({ value: { ran: true }, duplicate: false });
    expect(await container(30_000).run('kill|unit', async () => ({ ran: 'again' }))).toEqual({ value: { ran: true }, duplicate: true });
  });
});
