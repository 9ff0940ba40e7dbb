/**
 * The {@link SagaReader} over the saga ledger (its `byStatus` GSI) and the tables the saga's
 * post-conditions name, by logical name (`SAGA_TABLES`, e.g. `{"Inventory":"Converge-…"}`).
 */
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { EndedSaga, SagaReader } from '../domain/saga-checks.js';
import { PairNotConfigured } from '../errors.js';

export class DynamoSagaReader implements SagaReader {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    /** Logical table name → physical name; must include `SagaLedger`. */
    private readonly tables: Readonly<Record<string, string>>,
    private readonly statusIndex = 'byStatus',
  ) {}

  private physical(table: string): string {
    const name = this.tables[table];
    if (!name) throw new PairNotConfigured(`saga checks: no physical table for the logical table ${table}`);
    return name;
  }

  async ended(status: EndedSaga['status'], sinceIso: string): Promise<EndedSaga[]> {
    const out: EndedSaga[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.physical('SagaLedger'),
          IndexName: this.statusIndex,
          KeyConditionExpression: '#s = :s AND updatedAt >= :since',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':s': status, ':since': sinceIso },
          ExclusiveStartKey: start,
        }),
      );
      for (const h of page.Items ?? []) out.push({ sagaId: String(h.sagaId), orderId: String(h.orderId), customerId: String(h.customerId), status });
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async read(table: string, key: Readonly<Record<string, string>>): Promise<Record<string, unknown> | undefined> {
    const got = await this.client.send(new GetCommand({ TableName: this.physical(table), Key: key, ConsistentRead: true }));
    return got.Item;
  }
}
