/**
 * The digest strategy's arithmetic and drill-down, with an in-memory digest store that applies
 * mutations exactly as the DynamoDB adapter's transaction does (member condition + page ADD).
 */
import { describe, expect, it } from 'vitest';
import type { AuditEntry, AuditLog } from '../../../../lambdas/shared/ports.js';
import { bucketOf, digestValue, itemHash, type Item } from '../../../../lambdas/reconcile/domain/canonical.js';
import { compareSegmentDigest, diffMembers, digestMutation, mismatchedBuckets, pagesOfSegment, pageCount, type ChangeRecord, type DigestMutation } from '../../../../lambdas/reconcile/domain/digest.js';
import type { Candidate, DigestLayout, TablePair } from '../../../../lambdas/reconcile/domain/model.js';
import type { BucketDigest, CompareCheckpoint, DigestMember, DigestReader, RunStore, Side } from '../../../../lambdas/reconcile/domain/ports.js';
import { TokenBucket } from '../../../../lambdas/reconcile/domain/token-bucket.js';

const pair: TablePair = { name: 'order', sourceTable: 'Orders', replicaTable: 'Replica', keyAttributes: ['orderId'], ignoredFields: ['updatedAt'], versionAttribute: 'version' };
const layout: DigestLayout = { buckets: 64, bucketsPerPage: 8 };
const order = (id: string, version: number, amount = 100): Item => ({ orderId: { S: id }, version: { N: String(version) }, amount: { N: String(amount) }, updatedAt: { S: `t${version}` } });

/** Applies mutations like the adapter: at most once per (key, sequence), atomically with the page. */
class MemoryDigests implements DigestReader {
  pages = new Map<string, Map<number, BucketDigest>>();
  members = new Map<string, Map<string, DigestMember & { seq: string }>>();
  apply(m: DigestMutation): 'applied' | 'duplicate' {
    const mk = `${m.side}#${m.bucket}`;
    const bucket = this.members.get(mk) ?? new Map();
    const prev = bucket.get(m.keyString);
    if (prev && !(prev.seq < m.sequence)) return 'duplicate';
    bucket.set(m.keyString, { keyString: m.keyString, key: m.key, hash: m.member.hash, version: m.member.version, seq: m.sequence });
    this.members.set(mk, bucket);
    const pk = `${m.side}#${m.page}`;
    const page = this.pages.get(pk) ?? new Map();
    const cur = page.get(m.bucket) ?? { sum: 0n, count: 0 };
    page.set(m.bucket, { sum: cur.sum + m.sumDelta, count: cur.count + m.countDelta });
    this.pages.set(pk, page);
    return 'applied';
  }
  async readPages(_p: TablePair, side: Side, pages: readonly number[]) {
    const buckets = new Map<number, BucketDigest>();
    let itemsRead = 0;
    for (const p of pages) {
      const page = this.pages.get(`${side}#${p}`);
      if (!page) continue;
      itemsRead += 1;
      for (const [b, d] of page) buckets.set(b, d);
    }
    return { buckets, itemsRead, rcu: itemsRead };
  }
  async readMembers(_p: TablePair, side: Side, bucket: number) {
    const members = [...(this.members.get(`${side}#${bucket}`)?.values() ?? [])];
    return { members, itemsRead: members.length, rcu: members.length / 2 };
  }
}

class MemoryRuns implements RunStore {
  checkpoints = new Map<string, CompareCheckpoint>();
  candidates = new Map<string, Candidate>();
  async recordPlan(plan: any) {
    return { plan, existed: false };
  }
  async loadCheckpoint(runId: string, s: number) {
    return this.checkpoints.get(`${runId}#${s}`);
  }
  async saveCheckpoint(runId: string, s: number, cp: CompareCheckpoint) {
    this.checkpoints.set(`${runId}#${s}`, structuredClone(cp));
  }
  async addCandidates(runId: string, cs: readonly Candidate[]) {
    for (const c of cs) if (!this.candidates.has(`${runId}#${c.keyString}`)) this.candidates.set(`${runId}#${c.keyString}`, c);
  }
  async listCandidates(runId: string, s: number) {
    return [...this.candidates.entries()].filter(([k, c]) => k.startsWith(`${runId}#`) && c.segment === s).map(([, c]) => c);
  }
  async updateCandidate(runId: string, c: Candidate) {
    this.candidates.set(`${runId}#${c.keyString}`, c);
  }
}

const audit: AuditLog & { rows: AuditEntry[] } = { rows: [], async append(e) { this.rows.push(e); } };

let seq = 0;
function record(eventName: ChangeRecord['eventName'], keys: Item, oldImage?: Item, newImage?: Item): ChangeRecord {
  seq += 1;
  return { eventName, keys, oldImage, newImage, sequenceNumber: String(1_000_000 + seq) };
}

/** Writes an item to one side's "table" and feeds the change to the digests; returns the record. */
function writer(digests: MemoryDigests, side: Side) {
  const table = new Map<string, Item>();
  return {
    table,
    put(item: Item) {
      const id = item.orderId!.S!;
      const old = table.get(id);
      table.set(id, item);
      const r = record(old ? 'MODIFY' : 'INSERT', { orderId: { S: id } }, old, item);
      const m = digestMutation(pair, layout, side, r);
      if (m) digests.apply(m);
      return r;
    },
    remove(id: string) {
      const old = table.get(id);
      table.delete(id);
      const r = record('REMOVE', { orderId: { S: id } }, old, undefined);
      const m = digestMutation(pair, layout, side, r);
      if (m) digests.apply(m);
      return r;
    },
  };
}

async function detect(digests: MemoryDigests, runs = new MemoryRuns(), segments = 2) {
  const deps = { pair, runs, audit, digests, layout, reader: undefined as never, limiter: new TokenBucket(Infinity), actor: 't', shouldContinue: () => true };
  const outs = [];
  for (let s = 0; s < segments; s++) outs.push(await compareSegmentDigest(deps, { runId: 'r', mode: 'report', strategy: 'digest', segment: s, totalSegments: segments, maxRcuPerSecond: 1 }));
  return { outs, runs };
}

describe('digest upkeep', () => {
  it('adds the new hash and subtracts the old one; writes nothing when only ignored fields change', () => {
    const ins = digestMutation(pair, layout, 'source', record('INSERT', { orderId: { S: 'a' } }, undefined, order('a', 1)))!;
    expect(ins).toMatchObject({ countDelta: 1, bucket: bucketOf('a', 64), sumDelta: digestValue(itemHash(order('a', 1), ['updatedAt'])) });
    const mod = digestMutation(pair, layout, 'source', record('MODIFY', { orderId: { S: 'a' } }, order('a', 1), order('a', 2)))!;
    expect(mod.countDelta).toBe(0);
    expect(mod.sumDelta).toBe(digestValue(itemHash(order('a', 2), ['updatedAt'])) - digestValue(itemHash(order('a', 1), ['updatedAt'])));
    const touch = { ...order('a', 2), updatedAt: { S: 'later' } };
    expect(digestMutation(pair, layout, 'source', record('MODIFY', { orderId: { S: 'a' } }, order('a', 2), touch))).toBeUndefined();
    const rem = digestMutation(pair, layout, 'source', record('REMOVE', { orderId: { S: 'a' } }, order('a', 2), undefined))!;
    expect(rem).toMatchObject({ countDelta: -1, member: {} });
  });

  it('is order-independent across keys and exact under duplicate delivery', () => {
    const a = new MemoryDigests();
    const b = new MemoryDigests();
    const wa = writer(a, 'source');
    const records = [];
    for (let i = 0; i < 40; i++) records.push(wa.put(order(`k${i}`, 1)));
    for (let i = 0; i < 40; i += 3) records.push(wa.put(order(`k${i}`, 2, 7)));
    for (let i = 0; i < 40; i += 5) records.push(wa.remove(`k${i}`));
    // b gets every batch twice, keys interleaved differently (each key's own order kept).
    const byKey = new Map<string, ChangeRecord[]>();
    for (const r of records) byKey.set(r.keys.orderId!.S!, [...(byKey.get(r.keys.orderId!.S!) ?? []), r]);
    const interleaved = [...byKey.values()].reverse().flat();
    let duplicates = 0;
    for (const batch of [interleaved.slice(0, 50), interleaved.slice(50)]) {
      for (let pass = 0; pass < 2; pass++) {
        for (const r of batch) {
          const m = digestMutation(pair, layout, 'source', r);
          if (m && b.apply(m) === 'duplicate') duplicates += 1;
        }
      }
    }
    expect(duplicates).toBeGreaterThan(0);
    expect(b.pages).toEqual(a.pages);
  });
});

describe('digest detection', () => {
  it('finds the same drift as a full compare, reading only the pages and the mismatched buckets', async () => {
    const digests = new MemoryDigests();
    const src = writer(digests, 'source');
    const rep = writer(digests, 'replica');
    for (let i = 0; i < 200; i++) {
      src.put(order(`o${i}`, 1));
      rep.put({ ...order(`o${i}`, 1), updatedAt: { S: 'replica-clock' } });
    }
    rep.put(order('o7', 1, 999)); // changed
    rep.remove('o11'); // deleted
    rep.put(order('x1', 1)); // extra
    const { outs, runs } = await detect(digests);
    const found = [...runs.candidates.values()].map((c) => `${c.type}:${c.keyString}`).sort();
    expect(found).toEqual(['EXTRA_IN_REPLICA:x1', 'MISMATCH:o7', 'MISSING_IN_REPLICA:o11']);
    const reads = outs.reduce((n, o) => n + o.stats.itemsRead.digest, 0);
    const mismatched = new Set(['o7', 'o11', 'x1'].map((k) => bucketOf(k, 64))).size;
    // Both sides' pages, plus the members of the mismatched buckets only: far fewer than 2 × 200.
    expect(reads).toBeLessThanOrEqual(2 * pageCount(layout) + mismatched * 2 * 12);
    expect(outs.reduce((n, o) => n + o.stats.compared, 0)).toBe(201);
    expect(audit.rows.filter((r) => r.lifecycle === 'DETECTED' && r.runId === 'r')).toHaveLength(3);
  });

  it('splits pages over segments without gaps or overlap', () => {
    const covered: number[] = [];
    for (let s = 0; s < 3; s++) {
      const { from, to } = pagesOfSegment(layout, s, 3);
      for (let p = from; p < to; p++) covered.push(p);
    }
    expect(covered).toEqual(Array.from({ length: pageCount(layout) }, (_, i) => i));
  });

  it('compares buckets by sum and count, and members by hash, ignoring tombstones', () => {
    const s = new Map([[1, { sum: 5n, count: 1 }], [2, { sum: 3n, count: 1 }]]);
    const r = new Map([[1, { sum: 5n, count: 1 }], [3, { sum: 0n, count: 0 }]]);
    expect(mismatchedBuckets(s, r, [1, 2, 3])).toEqual([2]);
    const diffs = diffMembers(
      [{ keyString: 'a', key: {}, hash: 'h1' }, { keyString: 'b', key: {}, hash: 'h2' }],
      [{ keyString: 'a', key: {}, hash: 'h1' }, { keyString: 'b', key: {} }, { keyString: 'c', key: {}, hash: 'h3' }],
    );
    expect(diffs.map((d) => `${d.type}:${d.keyString}`)).toEqual(['MISSING_IN_REPLICA:b', 'EXTRA_IN_REPLICA:c']);
  });
});
