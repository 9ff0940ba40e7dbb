/**
 * Digest upkeep: applies each stream record of the source or the replica to the bucket digests
 * (one transaction per record whose canonical hash changed, none otherwise). Records are applied
 * in order; on the first failure the rest of the batch is reported failed, so the mapping
 * retries from there and the per-key sequence condition skips what was already applied.
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { dynamodb } from '../shared/adapters/clients.js';
import { logger, metrics } from '../shared/observability.js';
import { loadDigestConfig } from './config.js';
import { DynamoDigestStore } from './adapters/digest-store.js';
import { digestMutation, type ChangeRecord } from './domain/digest.js';
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
  let applied = 0;
  let duplicates = 0;
  for (let i = 0; i < event.Records.length; i++) {
    const record = event.Records[i]!;
    const side = sideOf(record.eventSourceARN);
    const d = record.dynamodb;
    if (!side || !d?.Keys || !d.SequenceNumber || !record.eventName) {
      logger.warn('record skipped: not from a table of the pair', { eventSourceARN: record.eventSourceARN, eventID: record.eventID });
      continue;
    }
    const change: ChangeRecord = { eventName: record.eventName, keys: d.Keys, oldImage: d.OldImage, newImage: d.NewImage, sequenceNumber: d.SequenceNumber };
    const mutation = digestMutation(config.pair, config.layout, side, change);
    if (!mutation) continue;
    try {
      const outcome = await store.apply(config.pair, mutation, record.eventID ?? d.SequenceNumber, Math.floor(Date.now() / 1000));
      if (outcome === 'duplicate') duplicates += 1;
      else applied += 1;
    } catch (err) {
      logger.error('digest update failed; retrying from this record', { sequenceNumber: d.SequenceNumber, error: (err as Error).name });
      return { batchItemFailures: event.Records.slice(i).map((r) => ({ itemIdentifier: r.dynamodb!.SequenceNumber! })) };
    }
  }
  metrics.addMetric('DigestChangesApplied', MetricUnit.Count, applied);
  metrics.addMetric('DigestDuplicatesSkipped', MetricUnit.Count, duplicates);
  metrics.publishStoredMetrics();
  return { batchItemFailures: [] };
};
