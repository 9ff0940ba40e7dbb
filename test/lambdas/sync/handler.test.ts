/**
 * The handler's wiring: Powertools BatchProcessor + processPartialResponse over the production
 * adapters, against dynalite (AWS_ENDPOINT_URL, which the shared SDK clients honour). A record
 * whose replica write fails is reported in batchItemFailures by its sequence number; the others
 * are applied. Parking (SQS) is covered by the end-to-end suite, since dynalite has no SQS.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynalite, type TestDynamo } from './dynalite.js';
import { insert } from './records.js';

let db: TestDynamo;
let handler: (event: DynamoDBStreamEvent, context: Context) => Promise<DynamoDBBatchResponse>;
const saved = { ...process.env };

const context = { functionName: 'sync-test', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;

beforeAll(async () => {
  db = await startDynalite();
  for (const t of ['Orders', 'OrdersReplica']) await db.createTable(t, 'orderId');
  await db.createTable('Idempotency', 'id');
  await db.createTable('Audit', 'auditId');
  const endpoint = await db.client.config.endpoint!();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: `http://${endpoint.hostname}:${endpoint.port}`,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    POWERTOOLS_LOG_LEVEL: 'CRITICAL',
    POWERTOOLS_METRICS_DISABLED: 'true',
    SOURCE_TABLE_NAME: 'Orders',
    REPLICA_TABLE_NAMES: 'OrdersReplica',
    KEY_ATTRIBUTES: 'orderId',
    VERSION_ATTRIBUTE: 'version',
    IMAGE_CONTRACT: 'Order',
    IDEMPOTENCY_TABLE_NAME: 'Idempotency',
    AUDIT_TABLE_NAME: 'Audit',
    DEAD_LETTER_QUEUE_URL: 'http://127.0.0.1:1/unused',
  });
  ({ handler } = await import('../../../lambdas/sync/handler.js'));
});

afterAll(async () => {
  process.env = saved;
  await db?.stop();
});

describe('sync handler', () => {
  it('applies a batch and reports no failures', async () => {
    const records = [insert('h-1', 1), insert('h-2', 1)];
    const out = await handler({ Records: records } as unknown as DynamoDBStreamEvent, context);
    expect(out).toEqual({ batchItemFailures: [] });
    const item = await db.client.send(new GetItemCommand({ TableName: 'OrdersReplica', Key: { orderId: { S: 'h-2' } } }));
    expect(item.Item?.version).toEqual({ N: '1' });
  });

  it('reports only a record it could not finish, by sequence number, for the mapping to retry', async () => {
    const good = insert('h-3', 1);
    // A poison record (an empty string set is not a valid AttributeValue) whose parking fails,
    // because the DLQ is unreachable here: it must be retried, never dropped.
    const poison = insert('h-4', 1, { tags: { SS: [] } as never });
    const out = await handler({ Records: [good, poison] } as unknown as DynamoDBStreamEvent, context);
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: poison.dynamodb.SequenceNumber }]);
    const item = await db.client.send(new GetItemCommand({ TableName: 'OrdersReplica', Key: { orderId: { S: 'h-3' } } }));
    expect(item.Item?.version).toEqual({ N: '1' });
  });
});
