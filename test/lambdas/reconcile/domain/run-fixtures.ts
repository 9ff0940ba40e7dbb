/** Fixtures shared by the reconcile run's domain tests. */
import type { RunDefaults } from '../../../../lambdas/reconcile/domain/run.js';
import type { ResolveOutcome } from '../../../../lambdas/reconcile/domain/resolve.js';

/** Run defaults small enough to reason about: 1,000 items per segment, a 5 % breaker. */
export const defaults: RunDefaults = { maxRcuPerSecond: 800, settleSeconds: 5, breakerThresholdPercent: 5, itemsPerSegment: 1000, maxSegments: 16, maxConcurrency: 4, digestSegments: 2, layout: { buckets: 1024, bucketsPerPage: 64 } };

/** A finished resolve pass with the given counts by lifecycle status and by discrepancy type. */
export const resolved = (status: Partial<ResolveOutcome['byStatus']>, byType: Record<string, number> = {}): ResolveOutcome => ({
  done: true,
  byStatus: { DETECTED: 0, CONFIRMED: 0, FALSE_POSITIVE: 0, REPAIRED: 0, ESCALATED: 0, ...status },
  byType: { MISSING_IN_REPLICA: 0, EXTRA_IN_REPLICA: 0, MISMATCH: 0, ...byType },
  itemsReadNow: 0,
  rcuNow: 0,
});
