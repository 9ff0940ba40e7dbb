/**
 * The circuit breaker: when confirmed drift exceeds a share of what was compared, something is
 * systematically wrong (a broken sync, a restore, a bad deploy), and mass-rewriting the replica
 * would hide it or make it worse. The run then repairs nothing and escalates.
 */
export interface BreakerInput {
  /** Keys compared by the run. */
  readonly compared: number;
  /** Discrepancies that survived recheck. */
  readonly confirmed: number;
  /** Trip above this percentage of compared items (0..100). */
  readonly thresholdPercent: number;
}

export interface BreakerVerdict {
  readonly tripped: boolean;
  /** Confirmed drift as a percentage of compared items. */
  readonly driftPercent: number;
}

export function evaluateBreaker({ compared, confirmed, thresholdPercent }: BreakerInput): BreakerVerdict {
  if (confirmed === 0) return { tripped: false, driftPercent: 0 };
  // Nothing compared but something confirmed (e.g. the source emptied): maximal drift.
  const driftPercent = compared === 0 ? 100 : (confirmed / compared) * 100;
  return { tripped: driftPercent > thresholdPercent, driftPercent };
}
