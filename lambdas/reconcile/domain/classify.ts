/**
 * Classification: what kind of discrepancy two observations of a key make, and what a recheck
 * concludes from them.
 */
import type { Observation, TableDiscrepancy } from './model.js';

/** The discrepancy type of a source/replica observation pair, or `undefined` when they agree. */
export function classify(source: Observation, replica: Observation): TableDiscrepancy | undefined {
  if (source.hash === undefined && replica.hash === undefined) return undefined;
  if (replica.hash === undefined) return 'MISSING_IN_REPLICA';
  if (source.hash === undefined) return 'EXTRA_IN_REPLICA';
  return source.hash === replica.hash ? undefined : 'MISMATCH';
}

/** What a recheck concluded about a candidate. */
export type RecheckVerdict =
  | { readonly outcome: 'FALSE_POSITIVE'; readonly reason: string }
  | { readonly outcome: 'CONFIRMED'; readonly type: TableDiscrepancy };

function same(a: Observation, b: Observation): boolean {
  return a.hash === b.hash && a.version === b.version;
}

/**
 * Compares what the compare saw with what the consistent recheck sees. If either side moved in
 * between (version or content), a write was in flight: the sync owns that key right now, so it
 * is a false positive, not drift. Otherwise a still-differing pair is confirmed.
 */
export function recheckVerdict(detected: { source: Observation; replica: Observation }, now: { source: Observation; replica: Observation }): RecheckVerdict {
  if (!same(detected.source, now.source)) return { outcome: 'FALSE_POSITIVE', reason: 'source changed since detection (write in flight)' };
  if (!same(detected.replica, now.replica)) return { outcome: 'FALSE_POSITIVE', reason: 'replica changed since detection (write in flight)' };
  const type = classify(now.source, now.replica);
  if (!type) return { outcome: 'FALSE_POSITIVE', reason: 'source and replica agree on recheck' };
  return { outcome: 'CONFIRMED', type };
}
