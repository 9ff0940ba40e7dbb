/**
 * The stream sync function: a thin adapter from a DynamoDB stream batch to {@link StreamSync}.
 * Powertools' BatchProcessor reports per-record failures (`batchItemFailures`), so the
 * event-source mapping retries only from the first failed record; poison records are parked
 * by the domain and count as processed. Everything expensive lives at module scope.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { DynamoAuditLog } from '../shared/adapters/audit-log.js';
import { documents, dynamodb, eventbridge } from '../shared/adapters/clients.js';
import { EventBridgePublisher } from '../shared/adapters/event-publisher.js';
import { idempotencyConfig, idempotencyPersistence } from '../shared/adapters/idempotency.js';
import { logger, metrics } from '../shared/observability.js';
import { systemClock } from '../shared/ports.js';
import { DynamoReplicaWriter } from './adapters/dynamo-replica-writer.js';
import { EmfSyncMetrics } from './adapters/emf-metrics.js';
import { PowertoolsOnce, UNIT_KEY_PATH } from './adapters/powertools-once.js';
import { SqsPoisonQueue } from './adapters/sqs-poison-queue.js';
import { loadSyncConfig } from './config.js';
import { StreamSync } from './domain/sync.js';

const config = loadSyncConfig();
const idempotency = idempotencyConfig(UNIT_KEY_PATH, config.IDEMPOTENCY_TTL_SECONDS);
const sync = new StreamSync({
  options: config.options,
  replicas: config.REPLICA_TABLE_NAMES,
  writer: new DynamoReplicaWriter(dynamodb, { partitionKey: config.options.keyAttributes[0]!, version: config.VERSION_ATTRIBUTE, tombstone: config.TOMBSTONE_ATTRIBUTE }),
  once: new PowertoolsOnce(idempotencyPersistence(config.IDEMPOTENCY_TABLE_NAME), idempotency),
  publisher: config.EVENT_BUS_NAME ? new EventBridgePublisher(eventbridge, config.EVENT_BUS_NAME) : undefined,
  audit: new DynamoAuditLog({ tableName: config.AUDIT_TABLE_NAME, client: documents }),
  poison: new SqsPoisonQueue(new SQSClient({}), config.DEAD_LETTER_QUEUE_URL),
  metrics: new EmfSyncMetrics(metrics),
  log: logger,
  clock: systemClock,
  actor: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'sync',
});
const processor = new BatchProcessor(EventType.DynamoDBStreams);

/** Applies a batch of stream records to every replica; returns the records to retry. */
export const handler = async (event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> => {
  // Lets idempotency expire an in-progress unit at this invocation's deadline if it is killed.
  idempotency.registerLambdaContext(context);
  logger.addContext(context);
  try {
    return await processPartialResponse(event, sync.batch(), processor, { context });
  } finally {
    metrics.publishStoredMetrics();
  }
};
