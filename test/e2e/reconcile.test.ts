/**
 * Reconciliation end to end on the local cloud: the deployed ReconcileStateMachine, its
 * functions from cdk.out, the sync and digest upkeep on real streams, and the audit table,
 * all through the SDK. Tampering is done the way drift happens: direct writes to the replica.
 */
import { randomUUID } from 'node:crypto';
import { DescribeExecutionCommand, ListExecutionsCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ScanCommand as RawScan, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestCloud, type TestCloud } from '../support/cloud.js';
import { waitFor } from '../support/wait.js';
import { bucketOf, digestValue, itemHash } from '../../lambdas/reconcile/domain/canonical.js';

let env: TestCloud;
let orders: string;
let replica: string;
let audit: string;
let machine: string;

beforeAll(async () => {
  env = await startTestCloud();
  orders = env.outputs.OrdersTableName!;
  replica = env.outputs.OrdersReplicaTableName!;
  audit = env.outputs.AuditTableName!;
  machine = env.outputs.ReconcileStateMachineArn!;
  // 80 orders: three drifted items stay under the 5% breaker threshold, five do not.
  for (let i = 0; i < 80; i++) await put(order(`o-${String(i).padStart(2, '0')}`, 1));
  await quiet();
});

afterAll(async () => {
  await env?.stop();
});

afterEach(async () => {
  await env.setFaults({ rules: [] });
});

function order(orderId: string, version: number, amount = 1250) {
  return { orderId, version, status: 'PENDING', customerId: 'c-1', items: [{ sku: 'sku-1', quantity: 2 }], amount, updatedAt: new Date(1_800_000_000_000 + version).toISOString() };
}
const docs = () => env.clients.documents;
const put = (item: Record<string, unknown>, table = orders) => docs().send(new PutCommand({ TableName: table, Item: item }));
const remove = (orderId: string, table = orders) => docs().send(new DeleteCommand({ TableName: table, Key: { orderId } }));
const get = async (orderId: string, table: string) => (await docs().send(new GetCommand({ TableName: table, Key: { orderId }, ConsistentRead: true }))).Item;
const scan = async (table: string) => {
  const items: Array<Record<string, any>> = [];
  let start: Record<string, any> | undefined;
  do {
    const page = await docs().send(new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items.sort((a, b) => String(a.orderId ?? a.pk).localeCompare(String(b.orderId ?? b.pk)));
};
/** Every stream mapping has caught up (sync and digest upkeep). */
const quiet = () => env.cloud.internals.lambda.lambda.mappingsIdle(30_000);

async function converged() {
  await quiet();
  return waitFor(async () => JSON.stringify(await scan(orders)) === JSON.stringify(await scan(replica)), { timeoutMs: 20_000, message: 'replica equal to source' });
}

interface Outcome {
  status: string;
  summary: Record<string, any>;
  error?: string;
  arn: string;
}

async function runReconcile(input: Record<string, unknown>, timeoutMs = 90_000): Promise<Outcome> {
  const started = await env.clients.sfn.send(new StartExecutionCommand({ stateMachineArn: machine, name: `t-${randomUUID().slice(0, 8)}`, input: JSON.stringify(input) }));
  return waitExecution(started.executionArn!, timeoutMs);
}

async function waitExecution(arn: string, timeoutMs = 90_000): Promise<Outcome> {
  const done = await waitFor(
    async () => {
      const d = await env.clients.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      return d.status !== 'RUNNING' ? d : undefined;
    },
    { timeoutMs, intervalMs: 200, message: `execution ${arn}` },
  );
  return { status: done.status!, summary: done.output ? JSON.parse(done.output) : {}, error: done.error, arn };
}

async function auditOfRun(runId: string) {
  const rows: Array<Record<string, any>> = [];
  let start: Record<string, any> | undefined;
  do {
    const page = await docs().send(new QueryCommand({ TableName: audit, IndexName: 'byRun', KeyConditionExpression: 'runId = :r', ExpressionAttributeValues: { ':r': runId }, ExclusiveStartKey: start }));
    rows.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return rows;
}

const lifecycleOf = (rows: Array<Record<string, any>>, entity: string) => rows.filter((r) => r.entityId === entity).map((r) => r.lifecycle).sort();

describe('reconciliation on the local cloud', () => {
  it('finds changed, deleted and extra replica items as the right types; report mode changes nothing; digest finds the same; repair converges', async () => {
    await converged();
    await put({ ...order('o-03', 1), amount: 1 }, replica);
    await remove('o-07', replica);
    await put(order('ghost-1', 1), replica);
    await quiet();
    const before = await scan(replica);

    const report = await runReconcile({ mode: 'report', strategy: 'full', segments: 3, settleSeconds: 0, runId: `report-${randomUUID().slice(0, 6)}` });
    expect(report.status).toBe('SUCCEEDED');
    expect(report.summary).toMatchObject({ compared: 81, discrepancies: { MISMATCH: 1, MISSING_IN_REPLICA: 1, EXTRA_IN_REPLICA: 1 }, repaired: 0, escalated: 3 });
    expect(await scan(replica)).toEqual(before);
    const reportRows = await auditOfRun(report.summary.runId);
    expect(lifecycleOf(reportRows, 'order#o-03')).toEqual(['DETECTED', 'ESCALATED', 'RECHECKING']);
    expect(reportRows.find((r) => r.entityId === 'order#ghost-1')?.discrepancyType).toBe('EXTRA_IN_REPLICA');

    const digest = await runReconcile({ mode: 'report', strategy: 'digest', settleSeconds: 0 });
    expect(digest.status).toBe('SUCCEEDED');
    expect(digest.summary.discrepancies).toEqual(report.summary.discrepancies);
    expect(digest.summary.itemsRead.source + digest.summary.itemsRead.replica).toBe(0);
    const digestRows = await auditOfRun(digest.summary.runId);
    expect(new Set(digestRows.filter((r) => r.lifecycle === 'DETECTED').map((r) => r.entityId))).toEqual(new Set(['order#o-03', 'order#o-07', 'order#ghost-1']));

    const repair = await runReconcile({ mode: 'repair', strategy: 'full', segments: 2, settleSeconds: 0 });
    expect(repair.status).toBe('SUCCEEDED');
    expect(repair.summary).toMatchObject({ repaired: 3, escalated: 0, breakerTripped: false });
    expect(await scan(replica)).toEqual(await scan(orders));
    const rows = await auditOfRun(repair.summary.runId);
    for (const id of ['o-03', 'o-07', 'ghost-1']) expect(lifecycleOf(rows, `order#${id}`)).toEqual(['DETECTED', 'RECHECKING', 'REPAIRED']);
    // A repair is reproducible from its row: what the replica held, and what it was given.
    const fixed = rows.find((r) => r.entityId === 'order#o-03' && r.lifecycle === 'REPAIRED')!;
    expect(fixed.before.amount).toEqual({ N: '1' });
    expect(fixed.after.amount).toEqual({ N: '1250' });
    expect(fixed).toMatchObject({ runId: repair.summary.runId, actor: expect.any(String), discrepancyType: 'MISMATCH', timestamp: expect.any(String) });
    // The repair's own writes reached the digests: a digest run is clean again.
    await quiet();
    const clean = await runReconcile({ mode: 'report', strategy: 'digest', settleSeconds: 0 });
    expect(clean.summary.discrepancies).toEqual({ MISSING_IN_REPLICA: 0, EXTRA_IN_REPLICA: 0, MISMATCH: 0, COMPENSATION_INCOMPLETE: 0 });
  });

  it('calls a write in flight a FALSE_POSITIVE and never clobbers it', async () => {
    await converged();
    // The sync is slow: the source moves to v2 before the replica does.
    await env.setFaults({ rules: [{ id: 'slow-sync', service: 'streams', table: orders, kind: 'latency', latencyMs: 3_000, times: 1 }] });
    await put(order('o-11', 2, 9999));
    const out = await runReconcile({ mode: 'repair', strategy: 'full', settleSeconds: 6 });
    expect(out.status).toBe('SUCCEEDED');
    expect(out.summary).toMatchObject({ repaired: 0, falsePositives: 1 });
    expect(out.summary.candidates.MISMATCH).toBe(1);
    expect(lifecycleOf(await auditOfRun(out.summary.runId), 'order#o-11')).toEqual(['DETECTED', 'FALSE_POSITIVE', 'RECHECKING']);
    expect(await get('o-11', replica)).toMatchObject({ version: 2, amount: 9999 });
  });

  it('resumes a stopped run from its checkpoints without rereading done segments', async () => {
    await converged();
    const runId = `resume-${randomUUID().slice(0, 6)}`;
    // The first two segment compares succeed, then the worker fails: the run stops half-way.
    await env.setFaults({ rules: [{ id: 'crash', service: 'lambda', function: '*ReconcilerSegment*', kind: 'error', errorName: 'InjectedCrash', after: 2, times: 100 }] });
    const first = await runReconcile({ mode: 'report', strategy: 'full', segments: 4, settleSeconds: 0, runId });
    expect(first.status).toBe('FAILED');
    await env.setFaults({ rules: [] });
    const second = await runReconcile({ mode: 'report', strategy: 'full', segments: 4, settleSeconds: 0, runId });
    expect(second.status).toBe('SUCCEEDED');
    expect(second.summary).toMatchObject({ runId, resumed: true, compared: 80 });
    const total = second.summary.itemsRead.source + second.summary.itemsRead.replica;
    expect(total).toBe(160);
    // Two segments were done before the stop: this execution read only the other two.
    expect(second.summary.itemsReadThisExecution).toBeLessThan(total);
    expect(second.summary.itemsReadThisExecution).toBeGreaterThan(0);
  });

  it('trips the breaker above the drift threshold: nothing repaired, drift escalated', async () => {
    await converged();
    const ids = ['o-20', 'o-21', 'o-22', 'o-23', 'o-24'];
    for (const id of ids) await put({ ...order(id, 1), amount: 3 }, replica);
    await quiet();
    const out = await runReconcile({ mode: 'repair', strategy: 'full', settleSeconds: 0 });
    expect(out.status).toBe('SUCCEEDED');
    expect(out.summary).toMatchObject({ breakerTripped: true, repaired: 0, escalated: 5 });
    for (const id of ids) expect((await get(id, replica))!.amount).toBe(3);
    const rows = await auditOfRun(out.summary.runId);
    expect(rows.filter((r) => r.lifecycle === 'ESCALATED').every((r) => /circuit breaker/.test(r.reason))).toBe(true);
    // Put things right by hand, as the escalation asks.
    for (const id of ids) await put((await get(id, orders))!, replica);
  });

  it('keeps digests exact under duplicate stream delivery', async () => {
    await converged();
    await env.setFaults({ rules: [{ id: 'dup', service: 'streams', kind: 'duplicate' }] });
    for (let i = 0; i < 8; i++) await put(order(`d-${i}`, 1));
    for (let i = 0; i < 8; i += 2) await put(order(`d-${i}`, 2, 777));
    await remove('d-7');
    await converged();
    const fired = (env.cloud.stats().faults as Array<{ rule: string; fired: number }>).find((f) => f.rule === 'dup')?.fired ?? 0;
    expect(fired).toBeGreaterThan(0);
    // Every bucket's digest equals the one recomputed from the table itself.
    const expected = new Map<number, { sum: bigint; count: number }>();
    const raw = await env.clients.dynamodb.send(new RawScan({ TableName: orders, ConsistentRead: true }));
    for (const item of raw.Items ?? []) {
      const b = bucketOf(item.orderId!.S!, 16_384);
      const cur = expected.get(b) ?? { sum: 0n, count: 0 };
      expected.set(b, { sum: cur.sum + digestValue(itemHash(item as Record<string, AttributeValue> as never)), count: cur.count + 1 });
    }
    const pages = await env.clients.dynamodb.send(new RawScan({ TableName: env.outputs.DigestTableName!, ConsistentRead: true }));
    for (const side of ['source', 'replica']) {
      const actual = new Map<number, { sum: bigint; count: number }>();
      for (const p of pages.Items ?? []) {
        const pk = p.pk!.S!;
        if (!pk.startsWith(`page#order#${side}#`)) continue;
        const page = Number(pk.split('#').at(-1));
        for (const [name, v] of Object.entries(p)) {
          if (!/^d\d+$/.test(name)) continue;
          const slot = Number(name.slice(1));
          const count = Number(p[`c${slot}`]?.N ?? 0);
          if (count !== 0 || BigInt(v.N!) !== 0n) actual.set(page * 64 + slot, { sum: BigInt(v.N!), count });
        }
      }
      expect(actual).toEqual(expected);
    }
    const out = await runReconcile({ mode: 'report', strategy: 'digest', settleSeconds: 0 });
    expect(out.summary.candidates).toEqual({ MISSING_IN_REPLICA: 0, EXTRA_IN_REPLICA: 0, MISMATCH: 0 });
    expect(out.summary.compared).toBe((raw.Items ?? []).length);
  });

  it('flags a compensated saga with a leftover reservation as COMPENSATION_INCOMPLETE, escalated with its id', async () => {
    const ledger = env.outputs.SagaLedgerTableName!;
    const sagaId = `saga-${randomUUID().slice(0, 8)}`;
    const now = new Date().toISOString();
    // The ledger says the saga ended COMPENSATED, but its reservation was never released.
    await put({ sagaId, sk: 'SAGA', sagaName: 'PlaceOrder', orderId: `order-${sagaId}`, customerId: 'c-9', status: 'COMPENSATED', startedAt: now, updatedAt: now, executionArn: 'arn:aws:states:us-east-1:000000000000:execution:x:y' }, ledger);
    await put({ sagaId, sk: 'EFFECT#ReserveInventory', step: 'ReserveInventory', state: 'APPLIED', details: {}, appliedAt: now }, ledger);
    await put({ sagaId, sk: 'EFFECT#ChargePayment', step: 'ChargePayment', state: 'COMPENSATED', details: {}, settledAt: now }, ledger);
    const out = await runReconcile({ mode: 'repair', strategy: 'digest', settleSeconds: 0 });
    expect(out.status).toBe('SUCCEEDED');
    expect(out.summary.sagasFlagged).toContain(sagaId);
    expect(out.summary.discrepancies.COMPENSATION_INCOMPLETE).toBeGreaterThanOrEqual(1);
    const rows = (await auditOfRun(out.summary.runId)).filter((r) => r.entityId === `saga#${sagaId}`);
    expect(rows.map((r) => r.lifecycle).sort()).toEqual(['DETECTED', 'ESCALATED']);
    expect(rows.every((r) => r.discrepancyType === 'COMPENSATION_INCOMPLETE' && r.details.sagaId === sagaId)).toBe(true);
  });

  it('starts scheduled runs when the local clock advances', async () => {
    const list = async () => (await env.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: machine }))).executions ?? [];
    const before = (await list()).length;
    await env.advanceClock(61 * 60 * 1000);
    const started = await waitFor(async () => ((await list()).length > before ? await list() : undefined), { timeoutMs: 20_000, message: 'a scheduled execution' });
    const scheduled = started.slice(0, started.length - before);
    expect(scheduled.length).toBeGreaterThanOrEqual(1);
    const out = await waitExecution(scheduled[0]!.executionArn!);
    expect(out.status).toBe('SUCCEEDED');
    expect(['digest', 'full']).toContain(out.summary.strategy);
    expect(out.summary.mode).toBe('repair');
  });
});
