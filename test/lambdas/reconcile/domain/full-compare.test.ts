/**
 * The full strategy end to end over real DynamoDB semantics (dynalite) with the production
 * adapters: compare, recheck, repair/escalate, checkpoints and the audit lifecycle.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeleteItemCommand, PutItemCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { DynamoAuditLog } from '../../../../lambdas/shared/adapters/audit-log.js';
import { DynamoPairReader, DynamoReplicaWriter } from '../../../../lambdas/reconcile/adapters/dynamo-pair.js';
import { DynamoRunStore } from '../../../../lambdas/reconcile/adapters/run-store.js';
import { compareSegmentFull, type CompareDeps } from '../../../../lambdas/reconcile/domain/full-compare.js';
import { finalizeSegment, recheckSegment, type ResolveDeps } from '../../../../lambdas/reconcile/domain/resolve.js';
import { TokenBucket } from '../../../../lambdas/reconcile/domain/token-bucket.js';
import type { SegmentWork, TablePair } from '../../../../lambdas/reconcile/domain/model.js';
import type { PairReader } from '../../../../lambdas/reconcile/domain/ports.js';
import { startDynalite, type Dynalite } from '../dynalite.js';

let db: Dynalite;
let n = 0;
let pair: TablePair;
let tables: { runs: string; audit: string };

beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => db.stop());

beforeEach(async () => {
  n += 1;
  pair = { name: 'order', sourceTable: `Orders${n}`, replicaTable: `Replica${n}`, keyAttributes: ['orderId'], ignoredFields: ['updatedAt'], versionAttribute: 'version' };
  tables = { runs: `Runs${n}`, audit: `Audit${n}` };
  await Promise.all([db.createTable(pair.sourceTable, 'orderId'), db.createTable(pair.replicaTable, 'orderId'), db.createTable(tables.runs, 'runId', 'entry'), db.createTable(tables.audit, 'auditId')]);
});

const order = (id: string, version = 1, amount = 100): Record<string, AttributeValue> => ({
  orderId: { S: id },
  version: { N: String(version) },
  status: { S: 'PENDING' },
  amount: { N: String(amount) },
  updatedAt: { S: new Date(1_700_000_000_000 + version).toISOString() },
});
const put = (table: string, item: Record<string, AttributeValue>) => db.client.send(new PutItemCommand({ TableName: table, Item: item }));
const del = (table: string, id: string) => db.client.send(new DeleteItemCommand({ TableName: table, Key: { orderId: { S: id } } }));
const scanAll = async (table: string) => (await db.client.send(new ScanCommand({ TableName: table }))).Items ?? [];

async function seed(count: number) {
  for (let i = 0; i < count; i++) {
    const item = order(`o-${String(i).padStart(3, '0')}`);
    await Promise.all([put(pair.sourceTable, item), put(pair.replicaTable, { ...item, updatedAt: { S: 'replica-clock' } })]);
  }
}

/** Tampering: 2 changed, 2 deleted, 2 extra. */
async function tamper() {
  await put(pair.replicaTable, order('o-003', 1, 999));
  await put(pair.replicaTable, order('o-017', 1, 1));
  await del(pair.replicaTable, 'o-008');
  await del(pair.replicaTable, 'o-021');
  await put(pair.replicaTable, order('x-1'));
  await put(pair.replicaTable, order('x-2'));
}

function deps(reader?: PairReader, shouldContinue = () => true): CompareDeps & ResolveDeps {
  return {
    pair,
    reader: reader ?? new DynamoPairReader(db.client, pair),
    writer: new DynamoReplicaWriter(db.client, pair),
    runs: new DynamoRunStore(db.documents, tables.runs),
    audit: new DynamoAuditLog({ tableName: tables.audit, client: db.documents }),
    limiter: new TokenBucket(Infinity),
    actor: 'test-reconciler',
    shouldContinue,
  };
}

const work = (runId: string, segment: number, totalSegments: number, mode: 'report' | 'repair' = 'repair'): SegmentWork => ({ runId, mode, strategy: 'full', segment, totalSegments, maxRcuPerSecond: 1e9, pageSize: 7 });

async function compareAll(runId: string, total: number, d = deps()) {
  const outs = [];
  for (let s = 0; s < total; s++) {
    let out = await compareSegmentFull(d, work(runId, s, total));
    while (!out.done) out = await compareSegmentFull(d, work(runId, s, total));
    outs.push(out);
  }
  return outs;
}

async function auditRows() {
  return (await scanAll(tables.audit)).map((r) => ({ entity: r.entityId!.S!, lifecycle: r.lifecycle?.S, type: r.discrepancyType?.S, runId: r.runId?.S }));
}

describe('full strategy', () => {
  it('finds changed, deleted and extra replica items as the right types, and repairs them', async () => {
    await seed(30);
    await tamper();
    const outs = await compareAll('run-a', 3);
    const compared = outs.reduce((s, o) => s + o.stats.compared, 0);
    expect(compared).toBe(32);
    const total = (t: 'MISMATCH' | 'MISSING_IN_REPLICA' | 'EXTRA_IN_REPLICA') => outs.reduce((s, o) => s + o.stats.candidates[t], 0);
    expect([total('MISMATCH'), total('MISSING_IN_REPLICA'), total('EXTRA_IN_REPLICA')]).toEqual([2, 2, 2]);
    for (let s = 0; s < 3; s++) {
      const r = await recheckSegment(deps(), work('run-a', s, 3));
      expect(r.byStatus.DETECTED).toBe(0);
      await finalizeSegment(deps(), work('run-a', s, 3), 'repair', 'repair mode');
    }
    const src = (await scanAll(pair.sourceTable)).sort((a, b) => a.orderId!.S!.localeCompare(b.orderId!.S!));
    const rep = (await scanAll(pair.replicaTable)).sort((a, b) => a.orderId!.S!.localeCompare(b.orderId!.S!));
    expect(rep.map((i) => i.orderId!.S)).toEqual(src.map((i) => i.orderId!.S));
    expect(rep.find((i) => i.orderId!.S === 'o-003')!.amount!.N).toBe('100');
    // The lifecycle of every discrepancy, with its run id; untouched items have none.
    const rows = await auditRows();
    for (const id of ['o-003', 'o-017', 'o-008', 'o-021', 'x-1', 'x-2']) {
      const mine = rows.filter((r) => r.entity === `order#${id}`);
      expect(mine.map((r) => r.lifecycle).sort()).toEqual(['DETECTED', 'RECHECKING', 'REPAIRED']);
      expect(mine.every((r) => r.runId === 'run-a')).toBe(true);
    }
    expect(rows.filter((r) => r.entity === 'order#o-003')[0]!.type).toBe('MISMATCH');
    expect(rows.filter((r) => r.entity === 'order#x-1')[0]!.type).toBe('EXTRA_IN_REPLICA');
    expect(rows.filter((r) => r.entity === 'order#o-008')[0]!.type).toBe('MISSING_IN_REPLICA');
    expect(rows).toHaveLength(18);
    // A second pass finds nothing left.
    const again = await compareAll('run-b', 3);
    expect(again.reduce((s, o) => s + o.stats.candidates.MISMATCH + o.stats.candidates.MISSING_IN_REPLICA + o.stats.candidates.EXTRA_IN_REPLICA, 0)).toBe(0);
  });

  it('in report mode escalates and changes nothing', async () => {
    await seed(12);
    await tamper();
    const before = await scanAll(pair.replicaTable);
    await compareAll('run-r', 2);
    for (let s = 0; s < 2; s++) {
      await recheckSegment(deps(), work('run-r', s, 2, 'report'));
      const out = await finalizeSegment(deps(), work('run-r', s, 2, 'report'), 'escalate', 'report mode');
      expect(out.byStatus.REPAIRED).toBe(0);
    }
    expect(await scanAll(pair.replicaTable)).toEqual(before);
    const rows = await auditRows();
    // o-003 changed, o-008 deleted; o-017, x-1 and x-2 exist only in the replica (o-021 was never seeded).
    expect(rows.filter((r) => r.lifecycle === 'ESCALATED').map((r) => r.entity).sort()).toEqual(['order#o-003', 'order#o-008', 'order#o-017', 'order#x-1', 'order#x-2']);
  });

  it('ignores ignored fields, and calls a write in flight a FALSE_POSITIVE without clobbering it', async () => {
    await seed(10);
    // A source write the sync has not applied yet.
    await put(pair.sourceTable, order('o-004', 2, 555));
    await compareAll('run-f', 1);
    // The sync lands during the settle delay.
    await put(pair.replicaTable, order('o-004', 2, 555));
    const r = await recheckSegment(deps(), work('run-f', 0, 1));
    expect(r.byStatus).toMatchObject({ FALSE_POSITIVE: 1, CONFIRMED: 0 });
    const rows = await auditRows();
    expect(rows.filter((x) => x.entity === 'order#o-004').map((x) => x.lifecycle).sort()).toEqual(['DETECTED', 'FALSE_POSITIVE', 'RECHECKING']);
  });

  it('never clobbers a replica that moved between recheck and repair', async () => {
    await seed(5);
    await put(pair.replicaTable, order('o-002', 1, 7));
    await compareAll('run-c', 1);
    await recheckSegment(deps(), work('run-c', 0, 1));
    // A newer version arrives from the sync just before the repair.
    await put(pair.replicaTable, order('o-002', 5, 42));
    const out = await finalizeSegment(deps(), work('run-c', 0, 1), 'repair', 'repair mode');
    expect(out.byStatus).toMatchObject({ REPAIRED: 0, FALSE_POSITIVE: 1 });
    const rep = await scanAll(pair.replicaTable);
    expect(rep.find((i) => i.orderId!.S === 'o-002')!.version!.N).toBe('5');
  });

  it('resumes from its checkpoint without rereading, and a done segment reads nothing', async () => {
    await seed(40);
    await tamper();
    const single = await compareAll('run-one', 1);
    let calls = 0;
    const stopEachRound = deps(undefined, () => false);
    let out = await compareSegmentFull(stopEachRound, work('run-two', 0, 1));
    expect(out.done).toBe(false);
    let reads = out.itemsReadNow;
    while (!out.done) {
      out = await compareSegmentFull(stopEachRound, work('run-two', 0, 1));
      reads += out.itemsReadNow;
      calls += 1;
    }
    expect(calls).toBeGreaterThan(3);
    expect(out.stats.candidates).toEqual(single[0]!.stats.candidates);
    expect(out.stats.compared).toBe(single[0]!.stats.compared);
    // Every item read once overall, exactly like the uninterrupted run.
    expect(reads).toBe(single[0]!.itemsReadNow);
    const after = await compareSegmentFull(stopEachRound, work('run-two', 0, 1));
    expect(after).toMatchObject({ done: true, itemsReadNow: 0 });
  });

  it('is correct even when the two tables segment keys differently', async () => {
    await seed(30);
    await tamper();
    const real = new DynamoPairReader(db.client, pair);
    // The replica's segment i is the source's segment i+1: no key meets its counterpart by scan.
    const skewed: PairReader = {
      scan: (side, r) => real.scan(side, side === 'replica' ? { ...r, segment: (r.segment + 1) % r.totalSegments } : r),
      batchGet: (side, keys) => real.batchGet(side, keys),
      getConsistent: (side, key) => real.getConsistent(side, key),
    };
    const outs = await compareAll('run-s', 3, deps(skewed));
    const sum = (f: (o: (typeof outs)[number]) => number) => outs.reduce((s, o) => s + f(o), 0);
    expect(sum((o) => o.stats.compared)).toBe(32);
    expect(sum((o) => o.stats.candidates.MISMATCH)).toBe(2);
    expect(sum((o) => o.stats.candidates.MISSING_IN_REPLICA)).toBe(2);
    expect(sum((o) => o.stats.candidates.EXTRA_IN_REPLICA)).toBe(2);
  });

  it('writes each lifecycle row once when a step is retried', async () => {
    await seed(6);
    await put(pair.replicaTable, order('o-001', 1, 3));
    await compareAll('run-i', 1);
    // A retried compare of a fresh run id with the same audit keys would be new; the same run is not.
    await compareSegmentFull(deps(), work('run-i', 0, 1));
    await recheckSegment(deps(), work('run-i', 0, 1));
    await recheckSegment(deps(), work('run-i', 0, 1));
    const rows = (await auditRows()).filter((r) => r.entity === 'order#o-001');
    expect(rows.map((r) => r.lifecycle).sort()).toEqual(['DETECTED', 'RECHECKING']);
  });
});
