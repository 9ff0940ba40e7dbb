/**
 * The digest table (key `pk` + `sk`, TTL `expiresAt` on tombstones):
 * - page items `page#${pair}#${side}#${page}` / `page`, with `d${slot}` (sum) and `c${slot}` (count) per bucket;
 * - member items `member#${pair}#${side}#${bucket}` / `${keyString}`, with the key's hash, version and the
 *   sequence number of the stream record that set them (a deletion leaves a tombstone, TTL'd
 *   after the stream's 24-hour retention so no redelivery can outlive it).
 * Numbers are read with the low-level client: sums exceed 2^53.
 */
import {
  BatchGetItemCommand,
  QueryCommand,
  TransactWriteItemsCommand,
  type AttributeValue as SdkAttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import type { Item } from '../domain/canonical.js';
import type { DigestMutation } from '../domain/digest.js';
import type { TablePair } from '../domain/model.js';
import type { BucketDigest, DigestMember, DigestReader, Side } from '../domain/ports.js';
import { backoffMs } from '../domain/token-bucket.js';
import { bodyCodec } from './run-store.js';
import { withThrottleBackoff } from './dynamo-pair.js';

type Sdk = Record<string, SdkAttributeValue>;

export const pageKey = (pair: string, side: Side, page: number) => ({ pk: { S: `page#${pair}#${side}#${String(page).padStart(5, '0')}` }, sk: { S: 'page' } });
export const memberPk = (pair: string, side: Side, bucket: number) => `member#${pair}#${side}#${bucket}`;

/** Tombstones outlive the stream retention (24 h) so a late duplicate still finds them. */
const TOMBSTONE_SECONDS = 2 * 86_400;

export class DynamoDigestStore implements DigestReader {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly bucketsPerPage: number,
  ) {}

  async readPages(pair: TablePair, side: Side, pages: readonly number[]): Promise<{ buckets: Map<number, BucketDigest>; itemsRead: number; rcu: number }> {
    const buckets = new Map<number, BucketDigest>();
    let itemsRead = 0;
    let rcu = 0;
    for (let i = 0; i < pages.length; i += 100) {
      let keys: Sdk[] | undefined = pages.slice(i, i + 100).map((p) => pageKey(pair.name, side, p));
      for (let attempt = 1; keys && keys.length; attempt++) {
        const req: Sdk[] = keys;
        const out = await withThrottleBackoff(this.tableName, () =>
          this.client.send(new BatchGetItemCommand({ RequestItems: { [this.tableName]: { Keys: req } }, ReturnConsumedCapacity: 'TOTAL' })),
        );
        rcu += (out.ConsumedCapacity ?? []).reduce((n, c) => n + (c.CapacityUnits ?? 0), 0);
        for (const item of out.Responses?.[this.tableName] ?? []) {
          itemsRead += 1;
          const page = Number(item.pk!.S!.split('#').at(-1));
          for (const [name, v] of Object.entries(item)) {
            if (!/^d\d+$/.test(name)) continue;
            const slot = Number(name.slice(1));
            buckets.set(page * this.bucketsPerPage + slot, { sum: BigInt(v.N!), count: Number(item[`c${slot}`]?.N ?? '0') });
          }
        }
        keys = out.UnprocessedKeys?.[this.tableName]?.Keys;
        if (keys?.length) await new Promise((r) => setTimeout(r, backoffMs(attempt)));
      }
    }
    return { buckets, itemsRead, rcu };
  }

  async readMembers(pair: TablePair, side: Side, bucket: number): Promise<{ members: DigestMember[]; itemsRead: number; rcu: number }> {
    const members: DigestMember[] = [];
    let rcu = 0;
    let start: Sdk | undefined;
    do {
      const out = await withThrottleBackoff(this.tableName, () =>
        this.client.send(
          new QueryCommand({
            TableName: this.tableName,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': { S: memberPk(pair.name, side, bucket) } },
            ExclusiveStartKey: start,
            ReturnConsumedCapacity: 'TOTAL',
          }),
        ),
      );
      rcu += out.ConsumedCapacity?.CapacityUnits ?? 0;
      for (const m of out.Items ?? []) {
        members.push({
          keyString: m.sk!.S!,
          key: bodyCodec.decode<Item>(m.key!.S!),
          hash: m.hash?.S,
          version: m.version?.N === undefined ? undefined : Number(m.version.N),
        });
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return { members, itemsRead: members.length, rcu };
  }

  /**
   * Applies one change: the member write (only if its stored sequence number is lower) and the
   * page's ADD, in one transaction, so the digest moves exactly once per stream record.
   * @returns `duplicate` when the record was applied before.
   */
  async apply(pair: TablePair, m: DigestMutation, requestToken: string, nowSeconds: number): Promise<'applied' | 'duplicate'> {
    const member: Sdk = {
      pk: { S: memberPk(pair.name, m.side, m.bucket) },
      sk: { S: m.keyString },
      key: { S: bodyCodec.encode(m.key) },
      seq: { S: m.sequence },
    };
    if (m.member.hash) member.hash = { S: m.member.hash };
    else member.expiresAt = { N: String(nowSeconds + TOMBSTONE_SECONDS) };
    if (m.member.version !== undefined) member.version = { N: String(m.member.version) };
    const command = new TransactWriteItemsCommand({
      ClientRequestToken: requestToken.slice(0, 36),
      TransactItems: [
        {
          Put: {
            TableName: this.tableName,
            Item: member,
            ConditionExpression: 'attribute_not_exists(pk) OR seq < :seq',
            ExpressionAttributeValues: { ':seq': { S: m.sequence } },
          },
        },
        {
          Update: {
            TableName: this.tableName,
            Key: pageKey(pair.name, m.side, m.page),
            UpdateExpression: 'ADD #d :d, #c :c',
            ExpressionAttributeNames: { '#d': `d${m.slot}`, '#c': `c${m.slot}` },
            ExpressionAttributeValues: { ':d': { N: m.sumDelta.toString() }, ':c': { N: String(m.countDelta) } },
          },
        },
      ],
    });
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(command);
        return 'applied';
      } catch (err) {
        const e = err as Error & { CancellationReasons?: Array<{ Code?: string }> };
        if (e.name === 'TransactionCanceledException') {
          const reasons = e.CancellationReasons ?? [];
          if (reasons[0]?.Code === 'ConditionalCheckFailed') return 'duplicate';
          // Another writer held the page item (concurrent shards): retry.
          if (!reasons.some((r) => r.Code === 'TransactionConflict' || r.Code === 'ThrottlingError') || attempt >= 10) throw err;
        } else if (!['TransactionConflictException', 'ProvisionedThroughputExceededException', 'ThrottlingException', 'TransactionInProgressException'].includes(e.name) || attempt >= 10) {
          throw err;
        }
        await new Promise((r) => setTimeout(r, backoffMs(attempt, 20, 1000)));
      }
    }
  }
}
