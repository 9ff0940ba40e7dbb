/**
 * The digest strategy (Riak active anti-entropy, on DynamoDB). Keys are spread over `buckets`
 * buckets by a hash of the key. For each table of a pair, a bucket's digest is the sum of the
 * 48-bit hashes of its items and their count; a sum is order-independent, so stream records of
 * different keys may apply in any order, and a change is applied as `+ new − old` from the
 * stream's NewImage/OldImage without reading anything. (The sum is exact: DynamoDB numbers hold
 * 38 digits, far above 2^48 times any item count, so it is a modular sum whose modulus is never
 * reached.) Buckets are packed `bucketsPerPage` to a digest item, so detection reads
 * 2 × buckets / bucketsPerPage items plus the members of mismatched buckets only.
 *
 * Exactness under duplicate delivery: each key also has a member row holding its current hash
 * and the stream sequence number that set it. A change is one transaction of the member write
 * (conditional on the stored sequence number being lower) and the page's atomic ADD, so a
 * redelivered record fails the condition and changes nothing. Stream records of one key are
 * strictly ordered by sequence number, which is what makes the per-key condition sound.
 */
import { bucketOf, digestValue, itemHash, keyOf, keyString, versionOf, type Item } from './canonical.js';
import { forEachLimited, recordLifecycle, type Actor } from './lifecycle.js';
import { emptyCompareStats, type Candidate, type CompareStats, type DigestLayout, type Observation, type SegmentWork, type TableDiscrepancy, type TablePair } from './model.js';
import { classify } from './classify.js';
import type { CompareOutcome, CompareDeps } from './full-compare.js';
import { initialCheckpoint } from './full-compare.js';
import type { BucketDigest, DigestMember, DigestReader, Side } from './ports.js';

/** The default layout: 16,384 buckets, 64 per digest item (256 items per side, about 2 KB each). */
export const DEFAULT_DIGEST_LAYOUT: DigestLayout = { buckets: 16_384, bucketsPerPage: 64 };

/** Number of digest pages per side. */
export function pageCount(layout: DigestLayout): number {
  return Math.ceil(layout.buckets / layout.bucketsPerPage);
}

/** Sequence numbers compare as equal-length decimal strings (DynamoDB's are up to 40 digits). */
export function padSequence(seq: string): string {
  return seq.padStart(40, '0');
}

/** A stream record, reduced to what digest upkeep needs. */
export interface ChangeRecord {
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly keys: Item;
  readonly oldImage?: Item;
  readonly newImage?: Item;
  readonly sequenceNumber: string;
}

/** The digest writes one change needs: a member row and a page increment. */
export interface DigestMutation {
  readonly side: Side;
  readonly bucket: number;
  readonly page: number;
  /** Position of the bucket in its page (attribute `d${slot}` / `c${slot}`). */
  readonly slot: number;
  readonly keyString: string;
  readonly key: Item;
  /** Padded sequence number: the member's idempotency condition. */
  readonly sequence: string;
  /** The member's new state; `hash` absent = a tombstone. */
  readonly member: { readonly hash?: string; readonly version?: number };
  readonly sumDelta: bigint;
  readonly countDelta: -1 | 0 | 1;
}

/**
 * What a stream record changes in the digests of `side`, or `undefined` when nothing does (the
 * canonical hash did not change, e.g. only ignored fields were written: zero writes).
 */
export function digestMutation(pair: TablePair, layout: DigestLayout, side: Side, record: ChangeRecord): DigestMutation | undefined {
  const oldHash = record.oldImage && record.eventName !== 'INSERT' ? itemHash(record.oldImage, pair.ignoredFields) : undefined;
  const newHash = record.newImage && record.eventName !== 'REMOVE' ? itemHash(record.newImage, pair.ignoredFields) : undefined;
  if (oldHash === newHash) return undefined;
  const key = keyOf(record.keys, pair.keyAttributes);
  const ks = keyString(key, pair.keyAttributes);
  const bucket = bucketOf(ks, layout.buckets);
  const sumDelta = (newHash ? digestValue(newHash) : 0n) - (oldHash ? digestValue(oldHash) : 0n);
  const countDelta = oldHash && !newHash ? -1 : !oldHash && newHash ? 1 : 0;
  return {
    side,
    bucket,
    page: Math.floor(bucket / layout.bucketsPerPage),
    slot: bucket % layout.bucketsPerPage,
    keyString: ks,
    key,
    sequence: padSequence(record.sequenceNumber),
    member: newHash ? { hash: newHash, version: versionOf(record.newImage, pair.versionAttribute) } : {},
    sumDelta,
    countDelta,
  };
}

/** The digest pages segment `segment` of `totalSegments` covers: [from, to). */
export function pagesOfSegment(layout: DigestLayout, segment: number, totalSegments: number): { from: number; to: number } {
  const pages = pageCount(layout);
  return { from: Math.floor((segment * pages) / totalSegments), to: Math.floor(((segment + 1) * pages) / totalSegments) };
}

const EMPTY: BucketDigest = { sum: 0n, count: 0 };

/** Buckets whose digests differ between the two sides. */
export function mismatchedBuckets(source: Map<number, BucketDigest>, replica: Map<number, BucketDigest>, buckets: Iterable<number>): number[] {
  const out: number[] = [];
  for (const b of buckets) {
    const s = source.get(b) ?? EMPTY;
    const r = replica.get(b) ?? EMPTY;
    if (s.sum !== r.sum || s.count !== r.count) out.push(b);
  }
  return out;
}

/** The per-key differences between the members of one bucket on both sides. */
export function diffMembers(source: readonly DigestMember[], replica: readonly DigestMember[]): Array<{ type: TableDiscrepancy; key: Item; keyString: string; source: Observation; replica: Observation }> {
  const live = (ms: readonly DigestMember[]) => new Map(ms.filter((m) => m.hash !== undefined).map((m) => [m.keyString, m]));
  const s = live(source);
  const r = live(replica);
  const out: Array<{ type: TableDiscrepancy; key: Item; keyString: string; source: Observation; replica: Observation }> = [];
  for (const k of new Set([...s.keys(), ...r.keys()])) {
    const sm = s.get(k);
    const rm = r.get(k);
    const so: Observation = sm ? { hash: sm.hash, version: sm.version } : {};
    const ro: Observation = rm ? { hash: rm.hash, version: rm.version } : {};
    const type = classify(so, ro);
    if (type) out.push({ type, key: (sm ?? rm)!.key, keyString: k, source: so, replica: ro });
  }
  return out.sort((a, b) => a.keyString.localeCompare(b.keyString));
}

/** Digest pages compared per round (one checkpoint per round). */
const PAGES_PER_ROUND = 32;

/** Compares one segment's digest pages, drilling into mismatched buckets; resumable. */
export async function compareSegmentDigest(deps: CompareDeps & { readonly digests: DigestReader; readonly layout: DigestLayout }, work: SegmentWork): Promise<CompareOutcome> {
  const { pair, runs, digests, layout, limiter } = deps;
  const cp = (await runs.loadCheckpoint(work.runId, work.segment)) ?? initialCheckpoint();
  if (cp.done) return { done: true, stats: cp.stats, itemsReadNow: 0 };
  const stats: CompareStats = cp.stats ? structuredClone(cp.stats) : emptyCompareStats();
  const { from, to } = pagesOfSegment(layout, work.segment, work.totalSegments);
  const who: Actor = { actor: deps.actor, runId: work.runId, pair };
  let next = cp.nextPage ?? from;
  let readNow = 0;
  let rounds = 0;
  const count = (n: number, rcu: number) => {
    stats.itemsRead.digest += n;
    stats.rcu += rcu;
    readNow += n;
    limiter.consume(rcu);
  };
  while (next < to) {
    if (rounds > 0 && !deps.shouldContinue()) break;
    rounds += 1;
    const pages = Array.from({ length: Math.min(PAGES_PER_ROUND, to - next) }, (_, i) => next + i);
    await limiter.acquire();
    const [s, r] = await Promise.all([digests.readPages(pair, 'source', pages), digests.readPages(pair, 'replica', pages)]);
    count(s.itemsRead + r.itemsRead, s.rcu + r.rcu);
    const bucketIds = pages.flatMap((p) => Array.from({ length: layout.bucketsPerPage }, (_, i) => p * layout.bucketsPerPage + i)).filter((b) => b < layout.buckets);
    for (const b of bucketIds) stats.compared += (s.buckets.get(b) ?? EMPTY).count;
    const found: Candidate[] = [];
    for (const b of mismatchedBuckets(s.buckets, r.buckets, bucketIds)) {
      await limiter.acquire();
      const [sm, rm] = await Promise.all([digests.readMembers(pair, 'source', b), digests.readMembers(pair, 'replica', b)]);
      count(sm.itemsRead + rm.itemsRead, sm.rcu + rm.rcu);
      for (const d of diffMembers(sm.members, rm.members)) {
        // Replica-only keys are not in the source counts: count them as compared too.
        if (d.type === 'EXTRA_IN_REPLICA') stats.compared += 1;
        stats.candidates[d.type] += 1;
        found.push({ segment: work.segment, key: d.key, keyString: d.keyString, type: d.type, detected: { source: d.source, replica: d.replica }, status: 'DETECTED' });
      }
    }
    await runs.addCandidates(work.runId, found);
    await forEachLimited(found, 8, (c) => recordLifecycle(deps.audit, who, c, 'DETECTED', { reason: `${c.type} found by digest compare`, details: { bucket: bucketOfCandidate(c, layout) } }));
    next = pages.at(-1)! + 1;
    await runs.saveCheckpoint(work.runId, work.segment, { ...initialCheckpoint(), done: next >= to, nextPage: next, stats });
  }
  return { done: next >= to, stats, itemsReadNow: readNow };
}

function bucketOfCandidate(c: Candidate, layout: DigestLayout): number {
  return bucketOf(c.keyString, layout.buckets);
}
