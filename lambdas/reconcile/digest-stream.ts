/**
 * Digest upkeep: applies the stream records of the source or the replica to the bucket digests,
 * batched into as few transactions as DynamoDB allows (a record whose canonical hash did not
 * change costs nothing). On a failure the batch is reported failed from the first record not
 * applied, so the mapping retries from there and the per-key sequence condition skips what was
 * already applied.
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { dynamodb } from '../shared/adapters/clients.js';
import { logger, metrics } from '../shared/observability.js';
import { loadDigestConfig } from './config.js';
import { DynamoDigestStore } from './adapters/digest-store.js';
import { digestMutation, type ChangeRecord, type DigestMutation } from './domain/digest.js';
import type { Side } from './domain/ports.js';

const config = loadDigestConfig();
const store = new DynamoDigestStore(dynamodb, config.tableName, config.layout.bucketsPerPage);

/** `arn:…:table/NAME/stream/LABEL` → the side of the pair NAME is. */
function sideOf(arn: string | undefined): Side | undefined {
  const table = /:table\/([^/]+)/.exec(arn ?? '')?.[1];
  if (table === config.pair.sourceTable) return 'source';
  if (table === config.pair.replicaTable) return 'replica';
  return undefined;
}

export const handler = async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
  const mutations: DigestMutation[] = [];
  const recordOf: number[] = [];
  event.Records.forEach((record, i) => {
    const side = sideOf(record.eventSourceARN);
    const d = record.dynamodb;
    if (!side || !d?.Keys || !d.SequenceNumber || !record.eventName) {
      logger.warn('record skipped: not from a table of the pair', { eventSourceARN: record.eventSourceARN, eventID: record.eventID });
      return;
    }
    const change: ChangeRecord = { eventName: record.eventName, keys: d.Keys, oldImage: d.OldImage, newImage: d.NewImage, sequenceNumber: d.SequenceNumber };
    const mutation = digestMutation(config.pair, config.layout, side, change);
    if (!mutation) return;
    mutations.push(mutation);
    recordOf.push(i);
  });
  let failedFrom: number | undefined;
  try {
    const outcomes = await store.applyAll(config.pair, mutations, Math.floor(Date.now() / 1000), (first) => (failedFrom = recordOf[first]));
    metrics.addMetric('DigestChangesApplied', MetricUnit.Count, outcomes.filter((o) => o === 'applied').length);
    metrics.addMetric('DigestDuplicatesSkipped', MetricUnit.Count, outcomes.filter((o) => o === 'duplicate').length);
  } catch (err) {
    const from = failedFrom ?? 0;
    logger.error('digest update failed; retrying from this record', { sequenceNumber: event.Records[from]?.dynamodb?.SequenceNumber, error: (err as Error).name });
    // Everything before this record is applied; the mapping resumes here and the member
    // sequence condition turns anything already applied into a no-op.
    return { batchItemFailures: event.Records.slice(from).map((r) => ({ itemIdentifier: r.dynamodb!.SequenceNumber! })) };
  } finally {
    metrics.publishStoredMetrics();
  }
  return { batchItemFailures: [] };
};
