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

/** Orders mutations by side, then page. */
const pageRank = (m: DigestMutation): number => (m.side === 'source' ? 0 : 1_000_000_000) + m.page;

/** DynamoDB's limit of items per TransactWriteItems. */
const MAX_TRANSACTION_ITEMS = 100;

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
   * Applies a batch of changes in as few transactions as possible. Each transaction holds one
   * member write per change (conditional on the member's stored sequence number being lower, so a
   * redelivered record is a no-op) and one ADD per touched page carrying the summed deltas of its
   * slots, so the digests move exactly once per stream record.
   *
   * The changes are applied grouped by page, so that a page's ADD carries as many changes as
   * its transaction has room for: sums commute across keys, and the sort is stable, so the changes
   * of one key (always on one page) keep their stream order. A transaction never holds the same
   * key twice, since its two changes would need ordering. Transactions go one after the other
   * and the first failure stops the batch.
   * @returns for each mutation (in input order), `applied` or `duplicate`; throws on the first
   *          transaction that fails for another reason, after `onFailed(i)` where `i` is the
   *          lowest input index not applied: every mutation before it is applied, and the ones
   *          after it that were are no-ops when redelivered.
   */
  async applyAll(pair: TablePair, mutations: readonly DigestMutation[], nowSeconds: number, onFailed?: (firstUnapplied: number) => void): Promise<Array<'applied' | 'duplicate'>> {
    const outcomes: Array<'applied' | 'duplicate'> = mutations.map(() => 'applied');
    const order = mutations.map((_, i) => i).sort((a, b) => pageRank(mutations[a]!) - pageRank(mutations[b]!) || a - b);
    let i = 0;
    while (i < order.length) {
      const chunk: number[] = [];
      const keys = new Set<string>();
      const pages = new Set<string>();
      for (; i < order.length; i++) {
        const m = mutations[order[i]!]!;
        const memberId = `${m.side}|${m.keyString}`;
        const pageId = `${m.side}|${m.page}`;
        if (keys.has(memberId)) break;
        if (chunk.length + 1 + pages.size + (pages.has(pageId) ? 0 : 1) > MAX_TRANSACTION_ITEMS) break;
        chunk.push(order[i]!);
        keys.add(memberId);
        pages.add(pageId);
      }
      try {
        const applied = await this.applyChunk(pair, chunk.map((k) => mutations[k]!), nowSeconds);
        chunk.forEach((k, j) => (outcomes[k] = applied[j]!));
      } catch (err) {
        onFailed?.(Math.min(...chunk, ...order.slice(i)));
        throw err;
      }
    }
    return outcomes;
  }

  private memberPut(pair: TablePair, m: DigestMutation, nowSeconds: number) {
    const member: Sdk = {
      pk: { S: memberPk(pair.name, m.side, m.bucket) },
      sk: { S: m.keyString },
      key: { S: bodyCodec.encode(m.key) },
      seq: { S: m.sequence },
    };
    if (m.member.hash) member.hash = { S: m.member.hash };
    else member.expiresAt = { N: String(nowSeconds + TOMBSTONE_SECONDS) };
    if (m.member.version !== undefined) member.version = { N: String(m.member.version) };
    return {
      Put: {
        TableName: this.tableName,
        Item: member,
        ConditionExpression: 'attribute_not_exists(pk) OR seq < :seq',
        ExpressionAttributeValues: { ':seq': { S: m.sequence } },
      },
    };
  }

  private pageUpdates(pair: TablePair, ms: readonly DigestMutation[]) {
    const byPage = new Map<string, { side: Side; page: number; slots: Map<number, { sum: bigint; count: number }> }>();
    for (const m of ms) {
      const id = `${m.side}|${m.page}`;
      const entry = byPage.get(id) ?? { side: m.side, page: m.page, slots: new Map() };
      const slot = entry.slots.get(m.slot) ?? { sum: 0n, count: 0 };
      slot.sum += m.sumDelta;
      slot.count += m.countDelta;
      entry.slots.set(m.slot, slot);
      byPage.set(id, entry);
    }
    return [...byPage.values()].map((p) => {
      const names: Record<string, string> = {};
      const values: Sdk = {};
      const adds: string[] = [];
      for (const [slot, delta] of p.slots) {
        names[`#d${slot}`] = `d${slot}`;
        names[`#c${slot}`] = `c${slot}`;
        values[`:d${slot}`] = { N: delta.sum.toString() };
        values[`:c${slot}`] = { N: String(delta.count) };
        adds.push(`#d${slot} :d${slot}`, `#c${slot} :c${slot}`);
      }
      return { Update: { TableName: this.tableName, Key: pageKey(pair.name, p.side, p.page), UpdateExpression: `ADD ${adds.join(', ')}`, ExpressionAttributeNames: names, ExpressionAttributeValues: values } };
    });
  }

  /** One transaction for a chunk; members that turn out to be duplicates are dropped and the rest retried. */
  private async applyChunk(pair: TablePair, chunk: readonly DigestMutation[], nowSeconds: number): Promise<Array<'applied' | 'duplicate'>> {
    const outcome: Array<'applied' | 'duplicate'> = chunk.map(() => 'applied');
    let live = chunk.map((_, k) => k);
    for (let attempt = 1; live.length > 0; attempt++) {
      const ms = live.map((k) => chunk[k]!);
      try {
        await this.client.send(new TransactWriteItemsCommand({ TransactItems: [...ms.map((m) => this.memberPut(pair, m, nowSeconds)), ...this.pageUpdates(pair, ms)] }));
        return outcome;
      } catch (err) {
        const e = err as Error & { CancellationReasons?: Array<{ Code?: string }> };
        if (e.name === 'TransactionCanceledException') {
          const reasons = e.CancellationReasons ?? [];
          const duplicates = live.filter((_, j) => reasons[j]?.Code === 'ConditionalCheckFailed');
          if (duplicates.length > 0) {
            for (const k of duplicates) outcome[k] = 'duplicate';
            live = live.filter((k) => !duplicates.includes(k));
            continue;
          }
          // Another writer held a page item (concurrent shards): retry.
          if (!reasons.some((r) => r.Code === 'TransactionConflict' || r.Code === 'ThrottlingError') || attempt >= 10) throw err;
        } else if (!['TransactionConflictException', 'ProvisionedThroughputExceededException', 'ThrottlingException', 'TransactionInProgressException'].includes(e.name) || attempt >= 10) {
          throw err;
        }
        await new Promise((r) => setTimeout(r, backoffMs(attempt, 20, 1000)));
      }
    }
    return outcome;
  }
}
