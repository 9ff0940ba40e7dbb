/**
 * The DynamoDB adapter of {@link ReplicaWriter}: one conditional PutItem or DeleteItem per
 * change and replica, whose ConditionExpression is the version guard of
 * `domain/version-guard.ts`. DynamoDB evaluates it atomically with the write, so concurrent
 * writers (two sync containers, the reconciler) can never regress a version. A refused write
 * costs no second write: the replica's version is read (a read, not a write) only to tell
 * "already applied" from "newer", when the refusal did not carry the old item.
 */
import { ConditionalCheckFailedException, DeleteItemCommand, GetItemCommand, PutItemCommand, type AttributeValue as SdkAttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AttributeMap } from '../domain/attribute-values.js';
import type { ReplicaWriter } from '../domain/ports.js';
import type { GuardOutcome, ReplicaWrite } from '../domain/version-guard.js';
import { ReplicaWriteFailed } from '../errors.js';

/** Attribute names the guard reads. */
export interface GuardAttributes {
  /** The partition key name (its existence tells whether the item exists). */
  readonly partitionKey: string;
  readonly version: string;
  readonly tombstone: string;
}

/** The condition expression of a guarded write, with its names and values. */
export function guardCondition(write: ReplicaWrite, attrs: GuardAttributes): { ConditionExpression: string; ExpressionAttributeNames: Record<string, string>; ExpressionAttributeValues?: Record<string, SdkAttributeValue> } {
  const names: Record<string, string> = { '#k': attrs.partitionKey, '#v': attrs.version };
  if (write.kind === 'put') {
    let expression = 'attribute_not_exists(#k) OR attribute_not_exists(#v) OR #v < :v';
    if (write.tombstone) {
      names['#t'] = attrs.tombstone;
      expression += ' OR (#v = :v AND attribute_not_exists(#t))';
    }
    return { ConditionExpression: expression, ExpressionAttributeNames: names, ExpressionAttributeValues: { ':v': { N: String(write.version) } } };
  }
  if (write.version === undefined) return { ConditionExpression: 'attribute_exists(#k)', ExpressionAttributeNames: { '#k': attrs.partitionKey } };
  return {
    ConditionExpression: 'attribute_exists(#k) AND (attribute_not_exists(#v) OR #v <= :v)',
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: { ':v': { N: String(write.version) } },
  };
}

/** Writes replicas through the low-level client, so images stay in their exact wire form. */
export class DynamoReplicaWriter implements ReplicaWriter {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly attrs: GuardAttributes,
  ) {}

  async write(replica: string, write: ReplicaWrite): Promise<GuardOutcome> {
    const condition = guardCondition(write, this.attrs);
    try {
      if (write.kind === 'put') {
        await this.client.send(
          new PutItemCommand({ TableName: replica, Item: write.item as Record<string, SdkAttributeValue>, ...condition, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
        );
      } else {
        await this.client.send(
          new DeleteItemCommand({ TableName: replica, Key: write.key as Record<string, SdkAttributeValue>, ...condition, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }),
        );
      }
      return { kind: 'applied' };
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException || (err as Error)?.name === 'ConditionalCheckFailedException') {
        const old = (err as ConditionalCheckFailedException).Item ?? (await this.current(replica, write.key));
        return { kind: 'skipped', replicaExists: old !== undefined, replicaVersion: versionOf(old, this.attrs.version) };
      }
      throw new ReplicaWriteFailed(replica, { cause: err });
    }
  }

  private async current(replica: string, key: AttributeMap): Promise<Record<string, SdkAttributeValue> | undefined> {
    try {
      const out = await this.client.send(
        new GetItemCommand({ TableName: replica, Key: key as Record<string, SdkAttributeValue>, ConsistentRead: true, ProjectionExpression: '#k, #v', ExpressionAttributeNames: { '#k': this.attrs.partitionKey, '#v': this.attrs.version } }),
      );
      return out.Item;
    } catch {
      // The write was refused, which is settled; the version is only for reporting.
      return { [this.attrs.partitionKey]: { S: '?' } };
    }
  }
}

function versionOf(item: Record<string, SdkAttributeValue> | undefined, attribute: string): number | undefined {
  const n = item?.[attribute]?.N;
  return n === undefined ? undefined : Number(n);
}
