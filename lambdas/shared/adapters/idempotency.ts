/**
 * The Powertools idempotency persistence layer on the Idempotency table, created once per
 * container and sharing the module's DynamoDB client (so it honours AWS_ENDPOINT_URL).
 */
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { IdempotencyConfig } from '@aws-lambda-powertools/idempotency';
import { dynamodb } from './clients.js';

/** A persistence layer on `tableName` (the `IdempotencyStore` construct's key/TTL attribute names). */
export function idempotencyPersistence(tableName: string): DynamoDBPersistenceLayer {
  return new DynamoDBPersistenceLayer({ tableName, awsSdkV3Client: dynamodb });
}

/**
 * An idempotency config keyed by a JMESPath expression over the idempotent function's first
 * argument. Records expire after `expiresAfterSeconds` (default one day), longer than any
 * stream retention or Step Functions retry window that could redeliver the same input.
 */
export function idempotencyConfig(eventKeyJmesPath: string, expiresAfterSeconds = 86_400): IdempotencyConfig {
  return new IdempotencyConfig({ eventKeyJmesPath, expiresAfterSeconds, throwOnNoIdempotencyKey: true });
}
