/**
 * The full strategy for one segment: scan the segment of the source and of the replica side by
 * side, hash every item canonically, and match keys.
 *
 * DynamoDB does not document which keys fall into a parallel-scan segment, only that the
 * segments of one table are disjoint and cover it. So the compare does not assume that segment
 * `i` of the source and segment `i` of the replica hold the same keys (they do on DynamoDB and
 * dynalite, which split the key-hash space evenly, and then this costs nothing extra). A key
 * seen on one side but not yet on the other waits in a pending set; leftovers are resolved by
 * keyed reads of the other table. Ownership keeps every key compared exactly once, whatever the
 * segmentation: a key present in the source belongs to its source segment; a key found only in
 * the replica belongs to its replica segment.
 */
import type { AuditLog } from '../../shared/ports.js';
import { itemHash, keyOf, keyString, versionOf, type Item } from './canonical.js';
import { recordLifecycle, forEachLimited, type Actor } from './lifecycle.js';
import { emptyCompareStats, type Candidate, type CompareStats, type Observation, type SegmentWork, type TableDiscrepancy, type TablePair } from './model.js';
import type { CompareCheckpoint, PairReader, PendingEntry, RunStore, ScanPage, Side } from './ports.js';
import type { TokenBucket } from './token-bucket.js';

/** What a segment compare needs. */
export interface CompareDeps {
  readonly pair: TablePair;
  readonly reader: PairReader;
  readonly runs: RunStore;
  readonly audit: AuditLog;
  readonly limiter: TokenBucket;
  /** The audit actor (function name). */
  readonly actor: string;
  /** Whether another round fits in this invocation (remaining time); one round always runs. */
  readonly shouldContinue: () => boolean;
  /** Pending keys that trigger resolution by keyed reads before the segment ends. @default 1000 */
  readonly maxPending?: number;
}

/** The outcome of one invocation on a segment. */
export interface CompareOutcome {
  readonly done: boolean;
  /** Cumulative over every invocation of this run on this segment. */
  readonly stats: CompareStats;
  /** Items read by this invocation (0 when the checkpoint said the segment was done). */
  readonly itemsReadNow: number;
}

export function initialCheckpoint(): CompareCheckpoint {
  return { done: false, source: { done: false }, replica: { done: false }, pendingSource: [], pendingReplica: [], stats: emptyCompareStats() };
}

function entry(pair: TablePair, item: Item): PendingEntry {
  return { keyString: keyString(item, pair.keyAttributes), key: keyOf(item, pair.keyAttributes), hash: itemHash(item, pair.ignoredFields), version: versionOf(item, pair.versionAttribute) };
}

const observe = (e?: PendingEntry): Observation => (e ? { hash: e.hash, version: e.version } : {});

/** Compares one segment until done or out of time; resumable from its checkpoint. */
export async function compareSegmentFull(deps: CompareDeps, work: SegmentWork): Promise<CompareOutcome> {
  const { pair, reader, runs, limiter } = deps;
  const cp = (await runs.loadCheckpoint(work.runId, work.segment)) ?? initialCheckpoint();
  if (cp.done) return { done: true, stats: cp.stats, itemsReadNow: 0 };
  const stats: CompareStats = structuredClone(cp.stats);
  const pending = {
    source: new Map(cp.pendingSource.map((e) => [e.keyString, e])),
    replica: new Map(cp.pendingReplica.map((e) => [e.keyString, e])),
  };
  const progress = { source: cp.source, replica: cp.replica };
  const who: Actor = { actor: deps.actor, runId: work.runId, pair };
  let readNow = 0;
  let found: Candidate[] = [];

  const candidate = (type: TableDiscrepancy, s: PendingEntry | undefined, r: PendingEntry | undefined) => {
    const e = (s ?? r)!;
    stats.candidates[type] += 1;
    found.push({ segment: work.segment, key: e.key, keyString: e.keyString, type, detected: { source: observe(s), replica: observe(r) }, status: 'DETECTED' });
  };
  const compare = (s: PendingEntry, r: PendingEntry) => {
    stats.compared += 1;
    if (s.hash !== r.hash) candidate('MISMATCH', s, r);
  };
  const count = (side: Side, n: number, rcu: number) => {
    stats.itemsRead[side] += n;
    stats.rcu += rcu;
    readNow += n;
    limiter.consume(rcu);
  };

  type Round = { source?: ScanPage; replica?: ScanPage };
  /** Reads the next page of each unfinished side, both at once. */
  const fetchRound = async (from: typeof progress): Promise<Round> => {
    await limiter.acquire();
    const read = (side: Side) =>
      from[side].done ? Promise.resolve(undefined) : reader.scan(side, { segment: work.segment, totalSegments: work.totalSegments, startKey: from[side].lastKey, limit: work.pageSize });
    const [source, replica] = await Promise.all([read('source'), read('replica')]);
    return { source, replica };
  };

  /** Resolves every pending key by reading its counterpart by key. */
  const drain = async () => {
    const src = [...pending.source.values()];
    pending.source.clear();
    for (let i = 0; i < src.length; i += 100) {
      const chunk = src.slice(i, i + 100);
      await limiter.acquire();
      const got = await reader.batchGet('replica', chunk.map((e) => e.key));
      count('replica', got.items.length, got.rcu);
      const byKey = new Map(got.items.map((it) => [keyString(it, pair.keyAttributes), entry(pair, it)]));
      for (const s of chunk) {
        const r = byKey.get(s.keyString);
        if (r) compare(s, r);
        else {
          stats.compared += 1;
          candidate('MISSING_IN_REPLICA', s, undefined);
        }
      }
    }
    const rep = [...pending.replica.values()];
    pending.replica.clear();
    for (let i = 0; i < rep.length; i += 100) {
      const chunk = rep.slice(i, i + 100);
      await limiter.acquire();
      const got = await reader.batchGet('source', chunk.map((e) => e.key));
      count('source', got.items.length, got.rcu);
      const inSource = new Set(got.items.map((it) => keyString(it, pair.keyAttributes)));
      for (const r of chunk) {
        // Present in the source: its source segment owns (and compares) it.
        if (inSource.has(r.keyString)) continue;
        stats.compared += 1;
        candidate('EXTRA_IN_REPLICA', undefined, r);
      }
    }
  };

  // Pipelined: the next pages are requested before this round is hashed and checkpointed, so
  // the tables serve reads while the worker computes (a checkpoint still covers only what was
  // processed; a prefetch is only issued when another round fits in this invocation).
  let next: Promise<Round> | undefined = progress.source.done && progress.replica.done ? undefined : fetchRound(progress);
  while (next) {
    const round: Round = await next;
    const advanced = { ...progress };
    for (const side of ['source', 'replica'] as const) {
      const page = round[side];
      if (page) advanced[side] = { lastKey: page.lastKey, done: !page.lastKey };
    }
    next = !(advanced.source.done && advanced.replica.done) && deps.shouldContinue() ? fetchRound(advanced) : undefined;
    progress.source = advanced.source;
    progress.replica = advanced.replica;
    if (round.source) count('source', round.source.items.length, round.source.rcu);
    if (round.replica) count('replica', round.replica.items.length, round.replica.rcu);
    const srcItems = round.source?.items ?? [];
    const repItems = round.replica?.items ?? [];
    for (const it of srcItems) {
      const s = entry(pair, it);
      const r = pending.replica.get(s.keyString);
      if (r) {
        pending.replica.delete(s.keyString);
        compare(s, r);
      } else pending.source.set(s.keyString, s);
    }
    for (const it of repItems) {
      const r = entry(pair, it);
      const s = pending.source.get(r.keyString);
      if (s) {
        pending.source.delete(r.keyString);
        compare(s, r);
      } else pending.replica.set(r.keyString, r);
    }
    const finished = progress.source.done && progress.replica.done;
    if (finished || pending.source.size + pending.replica.size > (deps.maxPending ?? 1000)) await drain();
    // Candidates and their DETECTED rows go first: if the checkpoint below is lost, the round is
    // redone and finds the same candidates, which both writes treat as already done.
    await runs.addCandidates(work.runId, found);
    await forEachLimited(found, 8, (c) => recordLifecycle(deps.audit, who, c, 'DETECTED', { reason: `${c.type} found by full compare` }));
    found = [];
    await runs.saveCheckpoint(work.runId, work.segment, {
      done: finished,
      source: progress.source,
      replica: progress.replica,
      pendingSource: [...pending.source.values()],
      pendingReplica: [...pending.replica.values()],
      stats,
    });
  }
  return { done: progress.source.done && progress.replica.done, stats, itemsReadNow: readNow };
}
