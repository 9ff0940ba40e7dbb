/**
 * The digest store's batched upkeep against the local cloud's DynamoDB (dynalite has no
 * transactions): whatever the chunking and redelivery, the stored page digests equal a
 * straightforward fold of each record applied once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDigestStore } from '../../../../lambdas/reconcile/adapters/digest-store.js';
import { type Item } from '../../../../lambdas/reconcile/domain/canonical.js';
import { digestMutation, type ChangeRecord, type DigestMutation } from '../../../../lambdas/reconcile/domain/digest.js';
import type { DigestLayout, TablePair } from '../../../../lambdas/reconcile/domain/model.js';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { startHarness, type Harness } from '../../../local/dynamodb/harness.js';

const pair: TablePair = { name: 'order', sourceTable: 'Orders', replicaTable: 'Replica', keyAttributes: ['orderId'], ignoredFields: ['updatedAt'], versionAttribute: 'version' };
const layout: DigestLayout = { buckets: 64, bucketsPerPage: 8 };
const order = (id: string, version: number): Item => ({ orderId: { S: id }, version: { N: String(version) }, amount: { N: String(version * 100) } });

let seq = 0;
const record = (eventName: ChangeRecord['eventName'], id: string, oldImage?: Item, newImage?: Item): ChangeRecord => ({
  eventName,
  keys: { orderId: { S: id } },
  oldImage,
  newImage,
  sequenceNumber: String(1_000_000 + ++seq),
});

/** Folds each mutation once (the meaning of the digests) into bucket → {sum, count}. */
function fold(ms: readonly DigestMutation[]): Map<number, { sum: bigint; count: number }> {
  const out = new Map<number, { sum: bigint; count: number }>();
  for (const m of ms) {
    const cur = out.get(m.bucket) ?? { sum: 0n, count: 0 };
    out.set(m.bucket, { sum: cur.sum + m.sumDelta, count: cur.count + m.countDelta });
  }
  return out;
}

/** Counts the TransactWriteItems calls `store`'s client sends from now on (an SDK middleware, not a mock). */
function countTransactions(): () => number {
  let n = 0;
  const name = `count-${Math.random()}`;
  db.client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'TransactWriteItemsCommand') n += 1;
      return next(args);
    },
    { step: 'initialize', name },
  );
  return () => {
    db.client.middlewareStack.remove(name);
    return n;
  };
}

/** Transactions needed when a batch is packed in record order (members + distinct pages ≤ 100). */
function transactionsInOrder(ms: readonly DigestMutation[]): number {
  let n = 0;
  for (let i = 0; i < ms.length; n++) {
    const pages = new Set<number>();
    let members = 0;
    for (; i < ms.length && members + 1 + pages.size + (pages.has(ms[i]!.page) ? 0 : 1) <= 100; i++) {
      members += 1;
      pages.add(ms[i]!.page);
    }
  }
  return n;
}

let db: Harness;
let store: DynamoDigestStore;

beforeAll(async () => {
  db = await startHarness();
  await db.client.send(
    new CreateTableCommand({
      TableName: 'Digests',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }, { AttributeName: 'sk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  store = new DynamoDigestStore(db.client, 'Digests', layout.bucketsPerPage);
});
afterAll(async () => db.close());

describe('DynamoDigestStore.applyAll', () => {
  it('applies a large batch in chunks, the same key twice in order, and redelivery as no-ops', async () => {
    const records: ChangeRecord[] = [];
    for (let i = 0; i < 150; i++) records.push(record('INSERT', `k${i}`, undefined, order(`k${i}`, 1)));
    for (let i = 0; i < 150; i += 4) records.push(record('MODIFY', `k${i}`, order(`k${i}`, 1), order(`k${i}`, 2)));
    for (let i = 0; i < 150; i += 10) records.push(record('REMOVE', `k${i}`, order(`k${i}`, i % 4 === 0 ? 2 : 1), undefined));
    const mutations = records.map((r) => digestMutation(pair, layout, 'source', r)!);

    const first = await store.applyAll(pair, mutations, 1_000);
    expect(first.every((o) => o === 'applied')).toBe(true);
    // The mapping redelivers the whole batch after a crash: nothing moves twice.
    const again = await store.applyAll(pair, mutations, 1_000);
    expect(again.every((o) => o === 'duplicate')).toBe(true);
    // And a partial redelivery mixed with one new record: only the new one applies.
    const extra = digestMutation(pair, layout, 'source', record('INSERT', 'new-1', undefined, order('new-1', 1)))!;
    const mixed = await store.applyAll(pair, [...mutations.slice(100, 140), extra], 1_000);
    expect(mixed.filter((o) => o === 'applied')).toHaveLength(1);
    expect(mixed.at(-1)).toBe('applied');

    const { buckets } = await store.readPages(pair, 'source', Array.from({ length: layout.buckets / layout.bucketsPerPage }, (_, p) => p));
    const expected = fold([...mutations, extra]);
    for (const [bucket, d] of expected) expect(buckets.get(bucket), `bucket ${bucket}`).toEqual(d);
    const live = [...buckets.values()].reduce((n, d) => n + d.count, 0);
    expect(live).toBe(150 - 15 + 1);
  });

  it('groups a batch by page, so a page update carries many changes', async () => {
    const wide: DigestLayout = { buckets: 1_024, bucketsPerPage: 8 };
    const grouped: TablePair = { ...pair, name: 'grouped' };
    const calls = countTransactions();
    // 600 keys over 128 pages: in record order a transaction of 100 items holds about as many
    // page updates as changes; grouped by page, most of it is changes.
    const ms = Array.from({ length: 600 }, (_, i) => digestMutation(grouped, wide, 'source', record('INSERT', `g${i}`, undefined, order(`g${i}`, 1)))!);
    const outcomes = await store.applyAll(grouped, ms, 1_000);
    expect(outcomes.every((o) => o === 'applied')).toBe(true);
    const inRecordOrder = transactionsInOrder(ms);
    expect(calls()).toBeLessThan(inRecordOrder * 0.8);
    const { buckets } = await store.readPages(grouped, 'source', Array.from({ length: wide.buckets / wide.bucketsPerPage }, (_, p) => p));
    for (const [bucket, d] of fold(ms)) expect(buckets.get(bucket), `bucket ${bucket}`).toEqual(d);
  });

  it('after a failed transaction mid-batch, reports the lowest record not applied, and a redelivery from there is exact', async () => {
    const side = 'replica';
    // Two changes of one key (kept in order), spread over every page: three transactions.
    const records = [
      ...Array.from({ length: 200 }, (_, i) => record('INSERT', `f${i}`, undefined, order(`f${i}`, 1))),
      ...Array.from({ length: 50 }, (_, i) => record('MODIFY', `f${i * 4}`, order(`f${i * 4}`, 1), order(`f${i * 4}`, 2))),
    ];
    const ms = records.map((r) => digestMutation(pair, layout, side, r)!);
    db.kernel.faults.load({ rules: [{ service: 'dynamodb', operation: 'TransactWriteItems', kind: 'error', errorName: 'InternalServerError', after: 1, times: 1 }] });
    let failedAt: number | undefined;
    try {
      await expect(store.applyAll(pair, ms, 1_000, (i) => (failedAt = i))).rejects.toMatchObject({ name: 'InternalServerError' });
    } finally {
      db.kernel.faults.clear();
    }
    expect(failedAt).toBeGreaterThanOrEqual(0);
    expect(failedAt).toBeLessThan(ms.length);
    // What the mapping does next: redeliver from the reported record to the end of the batch.
    const again = await store.applyAll(pair, ms.slice(failedAt), 1_000);
    expect(again.some((o) => o === 'applied')).toBe(true);
    expect(again.some((o) => o === 'duplicate')).toBe(true);
    const { buckets } = await store.readPages(pair, side, Array.from({ length: layout.buckets / layout.bucketsPerPage }, (_, p) => p));
    for (const [bucket, d] of fold(ms)) expect(buckets.get(bucket), `bucket ${bucket}`).toEqual(d);
  });

  it('reports the first mutation of a chunk that fails for a reason other than a duplicate', async () => {
    const broken = new DynamoDigestStore(db.client, 'NoSuchTable', layout.bucketsPerPage);
    const ms = [digestMutation(pair, layout, 'replica', record('INSERT', 'x', undefined, order('x', 1)))!];
    let failedAt: number | undefined;
    await expect(broken.applyAll(pair, ms, 1_000, (i) => (failedAt = i))).rejects.toThrow();
    expect(failedAt).toBe(0);
  });
});
