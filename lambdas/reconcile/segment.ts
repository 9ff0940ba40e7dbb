/**
 * The segment worker: compares, rechecks or finalizes one segment of a run, for as long as the
 * invocation has time, and says whether the segment is done (the state machine loops until it is).
 */
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { dynamodb, documents } from '../shared/adapters/clients.js';
import { DynamoAuditLog } from '../shared/adapters/audit-log.js';
import { validate } from '../shared/contracts/contract.js';
import { logger } from '../shared/observability.js';
import { loadReconcileConfig } from './config.js';
import { DynamoPairReader, DynamoReplicaWriter } from './adapters/dynamo-pair.js';
import { DynamoRunStore } from './adapters/run-store.js';
import { DynamoDigestStore } from './adapters/digest-store.js';
import { compareSegmentFull } from './domain/full-compare.js';
import { compareSegmentDigest } from './domain/digest.js';
import { finalizeSegment, recheckSegment } from './domain/resolve.js';
import { TokenBucket } from './domain/token-bucket.js';
import { PairNotConfigured } from './errors.js';

const config = loadReconcileConfig();
const reader = new DynamoPairReader(dynamodb, config.pair);
const writer = new DynamoReplicaWriter(dynamodb, config.pair);
const runs = new DynamoRunStore(documents, config.RUNS_TABLE, config.RUN_RETENTION_DAYS);
const audit = new DynamoAuditLog({ tableName: config.AUDIT_TABLE, client: documents });
const digests = config.DIGEST_TABLE ? new DynamoDigestStore(dynamodb, config.DIGEST_TABLE, config.layout.bucketsPerPage) : undefined;

const Work = z.object({
  runId: z.string().min(1),
  mode: z.enum(['report', 'repair']),
  strategy: z.enum(['full', 'digest']),
  segment: z.number().int().nonnegative(),
  totalSegments: z.number().int().positive(),
  maxRcuPerSecond: z.number().positive(),
  pageSize: z.number().int().positive().optional(),
  /** Items this execution has read on this segment so far (carried across loop iterations). */
  session: z.number().int().nonnegative().default(0),
});
const SegmentEvent = z.discriminatedUnion('phase', [
  z.object({ phase: z.literal('compare'), work: Work }),
  z.object({ phase: z.literal('recheck'), work: Work }),
  z.object({ phase: z.literal('finalize'), work: Work.extend({ action: z.enum(['repair', 'escalate']), reason: z.string() }) }),
]);

export const handler = async (event: unknown, context: Context) => {
  const e = validate('converge.reconcile/SegmentTask', SegmentEvent, event);
  const { session, ...work } = e.work;
  const deps = {
    pair: config.pair,
    reader,
    writer,
    runs,
    audit,
    actor: context.functionName,
    limiter: new TokenBucket(work.maxRcuPerSecond),
    shouldContinue: () => context.getRemainingTimeInMillis() > config.TIME_MARGIN_MS,
  };
  if (e.phase === 'compare') {
    if (work.strategy === 'digest' && !digests) throw new PairNotConfigured('the digest strategy needs DIGEST_TABLE (deploy BucketDigests)');
    const out = work.strategy === 'digest' ? await compareSegmentDigest({ ...deps, digests: digests!, layout: config.layout }, work) : await compareSegmentFull(deps, work);
    const itemsRead = session + out.itemsReadNow;
    logger.info('segment compared', { runId: work.runId, segment: work.segment, done: out.done, compared: out.stats.compared, candidates: out.stats.candidates });
    return { ...work, session: itemsRead, done: out.done, result: { segment: work.segment, stats: out.stats, itemsReadThisExecution: itemsRead } };
  }
  const out = e.phase === 'recheck' ? await recheckSegment(deps, work) : await finalizeSegment(deps, work, e.work.action, e.work.reason);
  logger.info(`segment ${e.phase}`, { runId: work.runId, segment: work.segment, done: out.done, byStatus: out.byStatus });
  return { ...e.work, done: out.done, result: out };
};
