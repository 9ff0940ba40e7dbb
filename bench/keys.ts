/**
 * The keys `bench/results.json` always holds: a number, or `null` with the reason in
 * `skipped[key]` when the feature a figure measures is not deployed (or the phase failed).
 */
export const HEADLINE_KEYS = [
  'writesPerChange',
  'syncThroughputRatio',
  'digestReadRatio',
  'fullScanRateRatio',
  'extraTransitionsPerSaga',
  'deployToFirstEventMs',
] as const;

export const RAW_KEYS = [
  'streamFrontOverheadRatio',
  'rawFrontPutPerSecond',
  'rawStreamedFrontPutPerSecond',
  'bareDynalitePutPerSecond',
  'syncedChangesPerSecond',
  'syncBacklogDrainRatio',
  'lagP50Ms',
  'lagP99Ms',
  'sagaSteps',
  'sagaTransitionsHappyPath',
  'sagaLatencyP50Ms',
  'sagaLatencyP99Ms',
  'reconcileItems',
  'reconcileDriftItems',
  'fullModeItemsRead',
  'digestModeItemsRead',
  'fullComparedPerSecond',
  'fullComparedItemsPerSecond',
  'rawParallelScanItemsPerSecond',
  'rcuPerComparedItem',
  'costPerMillionSyncedChangesUsd',
  'costPerMillionSagasUsd',
  'costPerFullReconcile100MItemsUsd',
] as const;

export const RESULT_KEYS = [...HEADLINE_KEYS, ...RAW_KEYS] as const;
export type ResultKey = (typeof RESULT_KEYS)[number];

/** Targets of the headline figures (issue 9). */
export const TARGETS: Partial<Record<ResultKey, { op: '<=' | '>=' | '<'; value: number }>> = {
  writesPerChange: { op: '<=', value: 3 },
  syncThroughputRatio: { op: '>=', value: 0.6 },
  digestReadRatio: { op: '<=', value: 0.02 },
  fullScanRateRatio: { op: '>=', value: 0.5 },
  extraTransitionsPerSaga: { op: '<=', value: 3 },
  deployToFirstEventMs: { op: '<', value: 5000 },
};
