/**
 * DynamoDB adapters of {@link PairReader} and {@link ReplicaWriter}. Every read asks for
 * ReturnConsumedCapacity so the domain's token bucket is debited with what DynamoDB actually
 * charged, and throttling is retried with jittered exponential backoff before it surfaces as
 * {@link ReadThrottled} (which the state machine retries later).
 */
import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  type AttributeValue as SdkAttributeValue,
  type ConsumedCapacity,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { Item } from '../domain/canonical.js';
import type { TablePair } from '../domain/model.js';
import type { PairReader, ReplicaExpectation, ReplicaWriter, ScanPage, Side } from '../domain/ports.js';
import { backoffMs } from '../domain/token-bucket.js';
import { ReadThrottled } from '../errors.js';

type Sdk = Record<string, SdkAttributeValue>;
const toSdk = (i: Item) => i as unknown as Sdk;
const fromSdk = (i: Sdk) => i as unknown as Item;

const THROTTLES = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'TooManyRequestsException']);

/** Retries `fn` while DynamoDB throttles, up to `attempts`. */
export async function withThrottleBackoff<T>(table: string, fn: () => Promise<T>, attempts = 8, sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!THROTTLES.has((err as Error).name)) throw err;
      if (attempt >= attempts) throw new ReadThrottled(table, attempt);
      await sleep(backoffMs(attempt));
    }
  }
}

function units(c: ConsumedCapacity | ConsumedCapacity[] | undefined): number {
  if (!c) return 0;
  return (Array.isArray(c) ? c : [c]).reduce((n, x) => n + (x.CapacityUnits ?? 0), 0);
}

export class DynamoPairReader implements PairReader {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly pair: TablePair,
  ) {}

  private table(side: Side): string {
    return side === 'source' ? this.pair.sourceTable : this.pair.replicaTable;
  }

  async scan(side: Side, r: { segment: number; totalSegments: number; startKey?: Item; limit?: number }): Promise<ScanPage> {
    const table = this.table(side);
    const out = await withThrottleBackoff(table, () =>
      this.client.send(
        new ScanCommand({
          TableName: table,
          Segment: r.segment,
          TotalSegments: r.totalSegments,
          ExclusiveStartKey: r.startKey ? toSdk(r.startKey) : undefined,
          Limit: r.limit,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      ),
    );
    return { items: (out.Items ?? []).map(fromSdk), lastKey: out.LastEvaluatedKey ? fromSdk(out.LastEvaluatedKey) : undefined, rcu: units(out.ConsumedCapacity) };
  }

  async batchGet(side: Side, keys: readonly Item[]): Promise<{ items: Item[]; rcu: number }> {
    const table = this.table(side);
    const items: Item[] = [];
    let rcu = 0;
    for (let i = 0; i < keys.length; i += 100) {
      let request: Sdk[] | undefined = keys.slice(i, i + 100).map(toSdk);
      for (let attempt = 1; request && request.length > 0; attempt++) {
        const keysNow: Sdk[] = request;
        const out = await withThrottleBackoff(table, () =>
          this.client.send(new BatchGetItemCommand({ RequestItems: { [table]: { Keys: keysNow } }, ReturnConsumedCapacity: 'TOTAL' })),
        );
        rcu += units(out.ConsumedCapacity);
        items.push(...(out.Responses?.[table] ?? []).map(fromSdk));
        request = out.UnprocessedKeys?.[table]?.Keys;
        if (request?.length) {
          if (attempt >= 8) throw new ReadThrottled(table, attempt);
          await new Promise((r) => setTimeout(r, backoffMs(attempt)));
        }
      }
    }
    return { items, rcu };
  }

  async getConsistent(side: Side, key: Item): Promise<{ item?: Item; rcu: number }> {
    const table = this.table(side);
    const out = await withThrottleBackoff(table, () =>
      this.client.send(new GetItemCommand({ TableName: table, Key: toSdk(key), ConsistentRead: true, ReturnConsumedCapacity: 'TOTAL' })),
    );
    return { item: out.Item ? fromSdk(out.Item) : undefined, rcu: units(out.ConsumedCapacity) };
  }
}

/**
 * The condition that the replica item is still what was read: absent; or at the same version;
 * or, for items without a version attribute, equal in every attribute that was read.
 */
export function expectationCondition(pair: TablePair, expected: ReplicaExpectation): { ConditionExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues?: Sdk } {
  const k = pair.keyAttributes[0]!;
  if (!expected.exists) return { ConditionExpression: 'attribute_not_exists(#k)', ExpressionAttributeNames: { '#k': k } };
  if (expected.version !== undefined) {
    return {
      ConditionExpression: '#v = :v',
      ExpressionAttributeNames: { '#v': pair.versionAttribute },
      ExpressionAttributeValues: { ':v': { N: String(expected.version) } },
    };
  }
  const names: Record<string, string> = {};
  const values: Sdk = {};
  const parts = Object.entries(expected.image).map(([name, value], i) => {
    names[`#a${i}`] = name;
    values[`:a${i}`] = value as SdkAttributeValue;
    return `#a${i} = :a${i}`;
  });
  return { ConditionExpression: parts.join(' AND '), ExpressionAttributeNames: names, ExpressionAttributeValues: values };
}

export class DynamoReplicaWriter implements ReplicaWriter {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly pair: TablePair,
  ) {}

  async put(item: Item, expected: ReplicaExpectation): Promise<'written' | 'conflict'> {
    return this.conditional(() => this.client.send(new PutItemCommand({ TableName: this.pair.replicaTable, Item: toSdk(item), ...expectationCondition(this.pair, expected) })));
  }

  async delete(key: Item, expected: ReplicaExpectation): Promise<'written' | 'conflict'> {
    if (!expected.exists) return 'written';
    return this.conditional(() => this.client.send(new DeleteItemCommand({ TableName: this.pair.replicaTable, Key: toSdk(key), ...expectationCondition(this.pair, expected) })));
  }

  private async conditional(fn: () => Promise<unknown>): Promise<'written' | 'conflict'> {
    try {
      await withThrottleBackoff(this.pair.replicaTable, fn);
      return 'written';
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException || (err as Error).name === 'ConditionalCheckFailedException') return 'conflict';
      throw err;
    }
  }
}
