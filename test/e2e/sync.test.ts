/**
 * Stream sync end to end on the local cloud: real writes to Orders through the SDK, the
 * deployed event-source mapping and sync function from cdk.out, and OrdersReplica read back.
 * No hand-fed events. Faults come from the local cloud's fault plans.
 */
import { randomUUID } from 'node:crypto';
import { DescribeArchiveCommand } from '@aws-sdk/client-eventbridge';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, type TestCloud } from '../support/cloud.js';
import { waitFor } from '../support/wait.js';

let env: TestCloud;
let orders: string;
let replica: string;
const run = randomUUID().slice(0, 8);

beforeAll(async () => {
  env = await startTestCloud();
  orders = env.outputs.OrdersTableName!;
  replica = env.outputs.OrdersReplicaTableName!;
});

afterAll(async () => {
  await env?.stop();
});

afterEach(async () => {
  await env.setFaults({ rules: [] });
});

function order(orderId: string, version: number, extra: Record<string, unknown> = {}) {
  return { orderId, version, status: 'PENDING', customerId: 'c-1', items: [{ sku: 'sku-1', quantity: 2 }], amount: 1250, updatedAt: new Date().toISOString(), ...extra };
}

const id = (name: string) => `${name}-${run}`;
const put = (item: Record<string, unknown>) => env.clients.documents.send(new PutCommand({ TableName: orders, Item: item }));
const readReplica = async (orderId: string) => (await env.clients.documents.send(new GetCommand({ TableName: replica, Key: { orderId }, ConsistentRead: true }))).Item;
const readSource = async (orderId: string) => (await env.clients.documents.send(new GetCommand({ TableName: orders, Key: { orderId }, ConsistentRead: true }))).Item;
const idle = () => env.mappingsIdle(20_000);
/** Events the bus archived so far (every event on the bus is archived). */
const published = async () => (await env.clients.eventbridge.send(new DescribeArchiveCommand({ ArchiveName: env.outputs.EventArchiveName! }))).EventCount ?? 0;
/** How often the fault rule with this id fired since the plan was set. */
const fired = async (ruleId: string) => ((await env.stats()).faults as Array<{ rule: string; fired: number }>).find((f) => f.rule === ruleId)?.fired ?? 0;
const syncMapping = async () => ((await env.stats()).lambda.mappings as Array<{ functionName: string; batches: number; recordsDelivered: number }>).find((m) => m.functionName === env.outputs.SyncFunctionName)!;

async function replicaAt(orderId: string, version: number) {
  return waitFor(async () => (await readReplica(orderId))?.version === version, { timeoutMs: 15_000, message: `${orderId} at v${version} in the replica` });
}

/** Every DLQ message currently visible, parsed (and deleted, so tests don't see each other's). */
async function drainDlq(): Promise<Array<Record<string, any>>> {
  const out: Array<Record<string, any>> = [];
  for (;;) {
    const res = await env.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: env.outputs.SyncDeadLetterQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    if (!res.Messages?.length) return out;
    for (const m of res.Messages) {
      out.push(JSON.parse(m.Body!));
      await env.clients.sqs.send(new DeleteMessageCommand({ QueueUrl: env.outputs.SyncDeadLetterQueueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}

/** Makes the next stream delivery wait, so the following writes arrive in one batch. */
const batchUp = { id: 'batch-up', service: 'streams' as const, kind: 'latency' as const, latencyMs: 250, times: 1 };

describe('stream sync Orders → OrdersReplica', () => {
  it('converges writes, updates and deletes, publishing one OrderChanged per applied change', async () => {
    await idle();
    const before = await published();
    const a = id('conv-a');
    const b = id('conv-b');
    await put(order(a, 1));
    await put(order(a, 2, { status: 'CONFIRMED' }));
    await put(order(a, 3, { status: 'CONFIRMED', amount: 999 }));
    await put(order(b, 1));
    await replicaAt(b, 1);
    await env.clients.documents.send(new DeleteCommand({ TableName: orders, Key: { orderId: b } }));
    await replicaAt(a, 3);
    await waitFor(async () => (await readReplica(b)) === undefined, { message: `${b} deleted from the replica` });
    await idle();
    expect(await readReplica(a)).toEqual(await readSource(a));
    expect((await published()) - before).toBe(5);
  });

  it('applies a duplicated delivery once', async () => {
    await idle();
    await env.setFaults({ rules: [{ id: 'dup', service: 'streams', kind: 'duplicate', times: 1 }] });
    const before = await published();
    const batchesBefore = (await syncMapping()).batches;
    const o = id('dup');
    await put(order(o, 1));
    await replicaAt(o, 1);
    await idle();
    expect((await syncMapping()).batches - batchesBefore).toBe(2); // the batch really was delivered twice
    expect((await published()) - before).toBe(1);
    expect(await readReplica(o)).toEqual(await readSource(o));
  });

  it('never regresses a version under reordered delivery or an older write', async () => {
    await idle();
    await env.setFaults({ rules: [batchUp, { id: 'reorder', service: 'streams', kind: 'reorder' }] });
    const first = id('reo-0');
    const x = id('reo-x');
    const y = id('reo-y');
    await put(order(first, 1));
    for (let v = 1; v <= 3; v++) {
      await put(order(x, v));
      await put(order(y, v));
    }
    await replicaAt(x, 3);
    await replicaAt(y, 3);
    // A writer puts an older version straight into Orders: the replica keeps v3.
    await put(order(x, 2, { status: 'CANCELLED' }));
    await idle();
    expect((await readReplica(x))?.version).toBe(3);
    expect((await readReplica(x))?.status).toBe('PENDING');
    expect((await readReplica(y))?.version).toBe(3);
    expect(await fired('reorder')).toBeGreaterThanOrEqual(2);
  });

  it('resumes after a crashed invocation with nothing lost or doubled', async () => {
    await idle();
    await env.setFaults({ rules: [batchUp, { id: 'crash', function: '*Sync*', kind: 'error', errorName: 'Runtime.ExitError', times: 1, after: 1 }] });
    const before = await published();
    const ids = Array.from({ length: 6 }, (_, i) => id(`crash-${i}`));
    for (const o of ids) await put(order(o, 1));
    for (const o of ids) await replicaAt(o, 1);
    await idle();
    expect(await fired('crash')).toBe(1);
    expect((await published()) - before).toBe(ids.length);
    expect(await drainDlq()).toEqual([]);
  });

  it('resumes after a replica write fails mid-batch, re-applying nothing', async () => {
    await idle();
    await drainDlq();
    // The third replica write of the batch fails (non-retryable for the SDK), after two succeeded.
    await env.setFaults({ rules: [batchUp, { id: 'mid', service: 'dynamodb', table: replica, operation: 'PutItem', kind: 'error', errorName: 'AccessDeniedException', after: 3, times: 1 }] });
    const before = await published();
    const ids = Array.from({ length: 5 }, (_, i) => id(`mid-${i}`));
    for (const o of ids) await put(order(o, 1));
    for (const o of ids) await replicaAt(o, 1);
    await idle();
    expect(await fired('mid')).toBe(1);
    expect((await published()) - before).toBe(ids.length);
    expect(await drainDlq()).toEqual([]);
  });

  it('parks a poison record on the DLQ and in the audit table while the rest of the batch is applied', async () => {
    await idle();
    await drainDlq();
    await env.setFaults({ rules: [batchUp] });
    const lead = id('poison-lead');
    const good1 = id('poison-ok1');
    const badVersion = id('poison-ver');
    const badType = id('poison-type');
    const good2 = id('poison-ok2');
    await put(order(lead, 1));
    await put(order(good1, 1));
    await put(order(badVersion, 1, { version: 'one' }));
    await put(order(badType, 1, { amount: '12.50' }));
    await put(order(good2, 1));
    await replicaAt(good1, 1);
    await replicaAt(good2, 1);
    await idle();
    expect(await readReplica(badVersion)).toBeUndefined();
    expect(await readReplica(badType)).toBeUndefined();

    const parked = await waitFor(async () => {
      const all = await drainDlq();
      return all.length >= 2 ? all : undefined;
    }, { message: 'two parked records on the DLQ' }).catch(async () => drainDlq());
    const byKey = Object.fromEntries(parked.map((m) => [m.key, m]));
    expect(byKey[`orderId=${badVersion}`]).toMatchObject({ kind: 'SyncPoisonRecord', reason: 'CONTRACT_VIOLATION', error: 'ImageContractViolation', eventName: 'INSERT' });
    expect(byKey[`orderId=${badType}`]).toMatchObject({ kind: 'SyncPoisonRecord', reason: 'CONTRACT_VIOLATION' });
    // No image content reaches the DLQ.
    expect(JSON.stringify(parked)).not.toContain('sku-1');

    for (const bad of [badVersion, badType]) {
      const rows = await env.clients.documents.send(
        new QueryCommand({ TableName: env.outputs.AuditTableName, IndexName: 'byEntity', KeyConditionExpression: 'entityId = :e', ExpressionAttributeValues: { ':e': `order#${bad}` } }),
      );
      expect(rows.Items).toHaveLength(1);
      expect(rows.Items![0]).toMatchObject({ action: 'SYNC_RECORD_PARKED', reason: expect.stringMatching(/^CONTRACT_VIOLATION: /) });
    }
  });

  it('heals after the replica comes back from an outage, publishing once', async () => {
    await idle();
    await drainDlq();
    await env.setFaults({ rules: [{ id: 'outage', service: 'dynamodb', table: replica, operation: 'PutItem', kind: 'error', errorName: 'ResourceNotFoundException', times: 3 }] });
    const before = await published();
    const o = id('outage');
    await put(order(o, 1));
    await replicaAt(o, 1);
    await idle();
    expect(await fired('outage')).toBe(3);
    expect((await published()) - before).toBe(1);
    expect(await drainDlq()).toEqual([]);
  });
});
