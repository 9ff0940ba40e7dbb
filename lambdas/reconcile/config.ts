/**
 * The reconciliation functions' configuration, read once at cold start from the environment
 * the `Reconciler` and `BucketDigests` constructs set.
 */
import { z } from 'zod';
import { loadConfig, positiveInt, required } from '../shared/config.js';
import type { DigestLayout, TablePair } from './domain/model.js';
import type { RunDefaults } from './domain/run.js';

/** A table pair as the constructs serialize it into `RECONCILE_PAIR`. */
export const TablePairSchema = z.object({
  name: z.string().min(1),
  sourceTable: z.string().min(1),
  replicaTable: z.string().min(1),
  keyAttributes: z.array(z.string().min(1)).min(1).max(2),
  ignoredFields: z.array(z.string()).default([]),
  versionAttribute: z.string().default('version'),
});

const pairJson = z.string().transform((s, ctx) => {
  try {
    return TablePairSchema.parse(JSON.parse(s)) as TablePair;
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a table pair: ${(err as Error).message}` });
    return z.NEVER;
  }
});

const number = (fallback: number) => z.coerce.number().positive().default(fallback);

/** Settings shared by the run and segment functions. */
export function loadReconcileConfig(env: Record<string, string | undefined> = process.env) {
  const c = loadConfig(
    {
      RECONCILE_PAIR: pairJson,
      RUNS_TABLE: required(),
      AUDIT_TABLE: required(),
      DIGEST_TABLE: z.string().optional(),
      EVENT_BUS_NAME: z.string().optional(),
      MAX_RCU_PER_SECOND: number(1000),
      SETTLE_SECONDS: z.coerce.number().nonnegative().default(5),
      BREAKER_THRESHOLD_PERCENT: number(5),
      ITEMS_PER_SEGMENT: positiveInt(50_000),
      MAX_SEGMENTS: positiveInt(64),
      MAX_CONCURRENCY: positiveInt(8),
      DIGEST_SEGMENTS: positiveInt(4),
      DIGEST_BUCKETS: positiveInt(16_384),
      DIGEST_BUCKETS_PER_PAGE: positiveInt(64),
      /** Stop starting new rounds when less than this is left of the invocation. */
      TIME_MARGIN_MS: positiveInt(20_000),
      RUN_RETENTION_DAYS: positiveInt(7),
      /** Saga post-condition checks: logical → physical table names (JSON), the definition, the window. */
      SAGA_TABLES: z
        .string()
        .optional()
        .transform((s) => (s ? (z.record(z.string(), z.string()).parse(JSON.parse(s)) as Record<string, string>) : undefined)),
      SAGA_DEFINITION: z.enum(['PlaceOrder']).optional(),
      SAGA_WINDOW_DAYS: positiveInt(7),
    },
    env,
  );
  const layout: DigestLayout = { buckets: c.DIGEST_BUCKETS, bucketsPerPage: c.DIGEST_BUCKETS_PER_PAGE };
  const defaults: RunDefaults = {
    maxRcuPerSecond: c.MAX_RCU_PER_SECOND,
    settleSeconds: c.SETTLE_SECONDS,
    breakerThresholdPercent: c.BREAKER_THRESHOLD_PERCENT,
    itemsPerSegment: c.ITEMS_PER_SEGMENT,
    maxSegments: c.MAX_SEGMENTS,
    maxConcurrency: c.MAX_CONCURRENCY,
    digestSegments: c.DIGEST_SEGMENTS,
    layout,
  };
  return { ...c, pair: c.RECONCILE_PAIR, layout, defaults };
}

/** Settings of the digest upkeep function: the pair, the table and the layout. */
export function loadDigestConfig(env: Record<string, string | undefined> = process.env) {
  const c = loadConfig(
    { RECONCILE_PAIR: pairJson, DIGEST_TABLE: required(), DIGEST_BUCKETS: positiveInt(16_384), DIGEST_BUCKETS_PER_PAGE: positiveInt(64) },
    env,
  );
  return { pair: c.RECONCILE_PAIR, tableName: c.DIGEST_TABLE, layout: { buckets: c.DIGEST_BUCKETS, bucketsPerPage: c.DIGEST_BUCKETS_PER_PAGE } as DigestLayout };
}
