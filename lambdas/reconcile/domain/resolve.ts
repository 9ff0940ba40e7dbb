/**
 * After the compare: recheck every candidate with consistent reads (after the settle delay the
 * state machine waits), then repair or escalate what was confirmed.
 */
import type { AuditLog } from '../../shared/ports.js';
import { itemHash, versionOf, type Item } from './canonical.js';
import { recheckVerdict } from './classify.js';
import { forEachLimited, recordLifecycle, type Actor } from './lifecycle.js';
import type { Candidate, CandidateStatus, Observation, SegmentWork, TablePair } from './model.js';
import type { PairReader, ReplicaWriter, RunStore } from './ports.js';
import type { TokenBucket } from './token-bucket.js';

export interface ResolveDeps {
  readonly pair: TablePair;
  readonly reader: PairReader;
  readonly writer: ReplicaWriter;
  readonly runs: RunStore;
  readonly audit: AuditLog;
  readonly limiter: TokenBucket;
  readonly actor: string;
  readonly shouldContinue: () => boolean;
  /** Candidates handled concurrently. @default 8 */
  readonly concurrency?: number;
}

/** Candidates of a segment by status, plus what this invocation read. */
export interface ResolveOutcome {
  readonly done: boolean;
  readonly byStatus: Record<CandidateStatus, number>;
  readonly byType: Record<string, number>;
  readonly itemsReadNow: number;
  readonly rcuNow: number;
}

function tally(candidates: readonly Candidate[]): Pick<ResolveOutcome, 'byStatus' | 'byType'> {
  const byStatus: Record<CandidateStatus, number> = { DETECTED: 0, CONFIRMED: 0, FALSE_POSITIVE: 0, REPAIRED: 0, ESCALATED: 0 };
  const byType: Record<string, number> = { MISSING_IN_REPLICA: 0, EXTRA_IN_REPLICA: 0, MISMATCH: 0 };
  for (const c of candidates) {
    byStatus[c.status] += 1;
    // Types count discrepancies that survived recheck.
    if (c.status !== 'DETECTED' && c.status !== 'FALSE_POSITIVE') byType[c.type] = (byType[c.type] ?? 0) + 1;
  }
  return { byStatus, byType };
}

const observe = (pair: TablePair, item?: Item): Observation => (item ? { hash: itemHash(item, pair.ignoredFields), version: versionOf(item, pair.versionAttribute) } : {});

async function batches(deps: ResolveDeps, todo: Candidate[], fn: (c: Candidate) => Promise<void>): Promise<boolean> {
  const size = (deps.concurrency ?? 8) * 4;
  for (let i = 0; i < todo.length; i += size) {
    if (i > 0 && !deps.shouldContinue()) return false;
    await forEachLimited(todo.slice(i, i + size), deps.concurrency ?? 8, fn);
  }
  return true;
}

/** Rechecks the DETECTED candidates of a segment: FALSE_POSITIVE or CONFIRMED. */
export async function recheckSegment(deps: ResolveDeps, work: SegmentWork): Promise<ResolveOutcome> {
  const { pair, reader, limiter } = deps;
  const who: Actor = { actor: deps.actor, runId: work.runId, pair };
  const all = await deps.runs.listCandidates(work.runId, work.segment);
  let itemsReadNow = 0;
  let rcuNow = 0;
  const read = async (side: 'source' | 'replica', key: Item) => {
    await limiter.acquire();
    const got = await reader.getConsistent(side, key);
    limiter.consume(got.rcu);
    rcuNow += got.rcu;
    if (got.item) itemsReadNow += 1;
    return got.item;
  };
  const done = await batches(deps, all.filter((c) => c.status === 'DETECTED'), async (c) => {
    await recordLifecycle(deps.audit, who, c, 'RECHECKING', { reason: 'consistent re-read of both sides after the settle delay' });
    const [source, replica] = await Promise.all([read('source', c.key), read('replica', c.key)]);
    const now = { source: observe(pair, source), replica: observe(pair, replica) };
    const verdict = recheckVerdict(c.detected, now);
    let next: Candidate;
    if (verdict.outcome === 'FALSE_POSITIVE') {
      next = { ...c, rechecked: now, status: 'FALSE_POSITIVE' };
      await recordLifecycle(deps.audit, who, next, 'FALSE_POSITIVE', { reason: verdict.reason, observed: now });
    } else {
      next = { ...c, type: verdict.type, rechecked: now, replicaImage: replica, status: 'CONFIRMED' };
    }
    await deps.runs.updateCandidate(work.runId, next);
    Object.assign(c, next);
  });
  return { done, ...tally(all), itemsReadNow, rcuNow };
}

/** What to do with confirmed candidates. */
export type FinalAction = 'repair' | 'escalate';

/**
 * Finalizes the CONFIRMED candidates of a segment. `repair` makes the replica equal to the
 * source as it is now (copy, overwrite or delete), conditional on the replica still being what
 * the recheck read; a failed condition means the sync got there first, so the candidate is a
 * FALSE_POSITIVE and nothing is clobbered. `escalate` records ESCALATED with `reason`.
 */
export async function finalizeSegment(deps: ResolveDeps, work: SegmentWork, action: FinalAction, reason: string): Promise<ResolveOutcome> {
  const { pair, reader, writer, limiter } = deps;
  const who: Actor = { actor: deps.actor, runId: work.runId, pair };
  const all = await deps.runs.listCandidates(work.runId, work.segment);
  let itemsReadNow = 0;
  let rcuNow = 0;
  const done = await batches(deps, all.filter((c) => c.status === 'CONFIRMED'), async (c) => {
    let next: Candidate;
    if (action === 'escalate') {
      next = { ...c, status: 'ESCALATED' };
      await recordLifecycle(deps.audit, who, next, 'ESCALATED', { reason });
    } else {
      await limiter.acquire();
      const got = await reader.getConsistent('source', c.key);
      limiter.consume(got.rcu);
      rcuNow += got.rcu;
      if (got.item) itemsReadNow += 1;
      const expected = c.replicaImage
        ? { exists: true as const, version: versionOf(c.replicaImage, pair.versionAttribute), image: c.replicaImage }
        : { exists: false as const };
      const result = got.item ? await writer.put(got.item, expected) : await writer.delete(c.key, expected);
      const written = { source: observe(pair, got.item), replica: observe(pair, got.item) };
      if (result === 'written') {
        next = { ...c, status: 'REPAIRED' };
        await recordLifecycle(deps.audit, who, next, 'REPAIRED', {
          reason: got.item ? (c.replicaImage ? 'replica overwritten with the source item' : 'source item copied to the replica') : 'replica item deleted (absent in the source)',
          before: c.replicaImage ?? null,
          after: got.item ?? null,
          details: { repairedFrom: c.rechecked, repairedTo: written.source },
        });
      } else {
        next = { ...c, status: 'FALSE_POSITIVE' };
        await recordLifecycle(deps.audit, who, next, 'FALSE_POSITIVE', { reason: 'replica changed before the repair (concurrent sync); left untouched' });
      }
    }
    await deps.runs.updateCandidate(work.runId, next);
    Object.assign(c, next);
  });
  return { done, ...tally(all), itemsReadNow, rcuNow };
}
