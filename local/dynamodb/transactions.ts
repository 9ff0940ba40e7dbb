/**
 * TransactWriteItems and TransactGetItems, made atomic over dynalite (which has neither):
 * lock every item involved, snapshot them, check every condition without changing data,
 * apply the writes, and on the first failure restore the snapshot of what was applied.
 */
import { createHash } from 'node:crypto';
import { AwsError } from '../core/aws.js';
import type { DynamoFront } from './front.js';
import { type AttributeMap, keyOf, lockKey, pruneExpressionAttributes } from './items.js';
import type { TableMeta } from './metadata.js';

/** A ClientRequestToken seen recently. */
export interface IdempotencyEntry {
  readonly hash: string;
  readonly at: number;
  readonly response?: unknown;
  inFlight: boolean;
}

/** How long a ClientRequestToken makes a transaction idempotent, as on AWS. */
export const TOKEN_WINDOW_MS = 10 * 60 * 1000;
const MAX_ITEMS = 100;
const ACTIONS = ['ConditionCheck', 'Put', 'Delete', 'Update'] as const;
type Action = (typeof ACTIONS)[number];

interface Planned {
  readonly action: Action;
  readonly op: any;
  readonly meta: TableMeta;
  readonly key: AttributeMap;
  readonly lock: string;
}

/** dynalite messages of a request that is malformed as written, as opposed to one the data made fail. */
const STATIC_VALIDATION = /^(Invalid (Update|Condition|Projection)Expression|Value provided in ExpressionAttribute|ExpressionAttribute|\d+ validation errors? detected|One or more parameter values were invalid|The provided key element)/;

function validation(message: string): AwsError {
  return new AwsError('ValidationException', message);
}

function checkCount(items: unknown, field: string): any[] {
  if (!Array.isArray(items)) throw validation(`1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`);
  if (items.length < 1) throw validation(`1 validation error detected: Value '[]' at '${field}' failed to satisfy constraint: Member must have length greater than or equal to 1`);
  if (items.length > MAX_ITEMS) {
    throw validation(`1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must have length less than or equal to ${MAX_ITEMS}`);
  }
  return items;
}

async function plan(front: DynamoFront, entries: any[], allowed: readonly string[]): Promise<Planned[]> {
  const planned: Planned[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    const present = entry && typeof entry === 'object' ? Object.keys(entry).filter((k) => entry[k] !== undefined && entry[k] !== null) : [];
    if (present.length !== 1 || !allowed.includes(present[0])) {
      throw validation(`TransactItems can only contain one of ${allowed.join(', ')}`);
    }
    const action = present[0] as Action;
    const op = entry[action];
    if (typeof op.TableName !== 'string' || !op.TableName) throw validation(`1 validation error detected: Value null at 'transactItems.member.${action.toLowerCase()}.tableName' failed to satisfy constraint: Member must not be null`);
    if (action === 'ConditionCheck' && typeof op.ConditionExpression !== 'string') throw validation('The ConditionExpression of a ConditionCheck is required');
    if (action === 'Update' && typeof op.UpdateExpression !== 'string') throw validation('The UpdateExpression of an Update is required');
    const meta = await front.metaOf(op.TableName);
    if (!meta) throw new AwsError('ResourceNotFoundException', 'Requested resource not found');
    const source = action === 'Put' ? op.Item : op.Key;
    const key = keyOf(source, meta.keySchema);
    if (!key) throw validation(action === 'Put' ? 'One or more parameter values were invalid: Missing the key in the item' : 'The provided key element does not match the schema');
    if (action !== 'Put' && Object.keys(source).length !== meta.keySchema.length) throw validation('The provided key element does not match the schema');
    const lock = lockKey(meta.tableName, key, meta.keySchema);
    if (seen.has(lock)) throw validation('Transaction request cannot include multiple operations on one item');
    seen.add(lock);
    planned.push({ action, op, meta, key, lock });
  }
  return planned;
}

function reasonsMessage(reasons: Array<{ Code: string }>): string {
  return `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`;
}

function cancelled(reasons: Array<Record<string, unknown> & { Code: string }>): AwsError {
  return new AwsError('TransactionCanceledException', reasonsMessage(reasons), 400, { CancellationReasons: reasons });
}

/** Evaluates `op`'s condition against `snapshot` without changing data (a write of the same content, or a delete of nothing). */
async function checkCondition(front: DynamoFront, p: Planned, snapshot: AttributeMap | undefined): Promise<boolean> {
  const attrs = pruneExpressionAttributes(p.op.ExpressionAttributeNames, p.op.ExpressionAttributeValues, [p.op.ConditionExpression]);
  const request = { TableName: p.meta.tableName, ConditionExpression: p.op.ConditionExpression, ...attrs };
  try {
    if (snapshot) await front.backend.call('PutItem', { ...request, Item: snapshot });
    else await front.backend.call('DeleteItem', { ...request, Key: p.key });
    return true;
  } catch (err) {
    if (err instanceof AwsError && err.code === 'ConditionalCheckFailedException') return false;
    throw err;
  }
}

async function restore(front: DynamoFront, p: Planned, snapshot: AttributeMap | undefined): Promise<void> {
  if (snapshot) await front.backend.call('PutItem', { TableName: p.meta.tableName, Item: snapshot });
  else await front.backend.call('DeleteItem', { TableName: p.meta.tableName, Key: p.key });
}

function forwardable(op: any): any {
  const { ReturnValuesOnConditionCheckFailure: _r, ...rest } = op;
  return rest;
}

function consumed(input: any, planned: Planned[], unitsPerItem: number, kind: 'Write' | 'Read'): unknown {
  if (input.ReturnConsumedCapacity !== 'TOTAL' && input.ReturnConsumedCapacity !== 'INDEXES') return undefined;
  const perTable = new Map<string, number>();
  for (const p of planned) perTable.set(p.meta.tableName, (perTable.get(p.meta.tableName) ?? 0) + unitsPerItem);
  return [...perTable].map(([TableName, units]) => ({ TableName, CapacityUnits: units, [`${kind}CapacityUnits`]: units }));
}

/** TransactWriteItems over dynalite. */
export async function transactWriteItems(front: DynamoFront, input: any): Promise<unknown> {
  const entries = checkCount(input.TransactItems, 'transactItems');
  const planned = await plan(front, entries, ACTIONS);
  front.count('writeRequests', planned.filter((p) => p.action !== 'ConditionCheck').length);

  const token = input.ClientRequestToken;
  let hash: string | undefined;
  if (token !== undefined) {
    if (typeof token !== 'string' || token.length < 1 || token.length > 36) {
      throw validation("1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 1 and 36");
    }
    const now = front.kernel.clock.now();
    for (const [t, e] of front.tokens) if (now - e.at > TOKEN_WINDOW_MS && !e.inFlight) front.tokens.delete(t);
    const { ClientRequestToken: _t, ReturnConsumedCapacity: _c, ...params } = input;
    hash = createHash('sha256').update(JSON.stringify(params)).digest('hex');
    const previous = front.tokens.get(token);
    if (previous) {
      if (previous.hash !== hash) throw new AwsError('IdempotentParameterMismatchException', 'The request uses the same client token as a previous, but non-identical request.');
      if (previous.inFlight) throw new AwsError('TransactionInProgressException', 'The transaction with the given request token is already in progress.');
      return { ...(previous.response as object) };
    }
    front.tokens.set(token, { hash, at: now, inFlight: true });
  }

  try {
    const response = await front.locks.run(planned.map((p) => p.lock), () => applyAll(front, input, planned));
    if (token !== undefined) front.tokens.set(token, { hash: hash!, at: front.kernel.clock.now(), response, inFlight: false });
    return response;
  } catch (err) {
    // Only a successful transaction makes its token idempotent; a failed one may be retried.
    if (token !== undefined) front.tokens.delete(token);
    throw err;
  }
}

async function applyAll(front: DynamoFront, input: any, planned: Planned[]): Promise<unknown> {
  // Every item is locked, so an item read now is the item its write will see. Reads are only
  // needed where the write can't return the old image itself: a ConditionCheck, and an Update of
  // a streamed table (whose record needs both images). Everything else learns its old image from
  // the write (ReturnValues ALL_OLD), which is what a rollback restores.
  const needsRead = (p: Planned) => p.action === 'ConditionCheck' || (p.action === 'Update' && p.meta.stream !== undefined);
  const snapshots: Array<AttributeMap | undefined> = await Promise.all(planned.map((p) => (needsRead(p) ? front.read(p.meta.tableName, p.key) : undefined)));
  const known = planned.map(needsRead);

  const rollback = async (appliedUpTo: number): Promise<void> => {
    for (let j = appliedUpTo - 1; j >= 0; j -= 1) if (planned[j].action !== 'ConditionCheck') await restore(front, planned[j], snapshots[j]);
  };
  // Each condition is evaluated by the write that carries it; only a cancelled transaction pays
  // for a pass over every item, so that CancellationReasons name every failing condition as AWS does.
  const conditionFailed = async (appliedUpTo: number): Promise<AwsError> => {
    await rollback(appliedUpTo);
    const reasons: Array<Record<string, unknown> & { Code: string }> = planned.map(() => ({ Code: 'None' }));
    for (let k = 0; k < planned.length; k += 1) {
      const p = planned[k];
      if (typeof p.op.ConditionExpression !== 'string') continue;
      const snapshot = known[k] ? snapshots[k] : await front.read(p.meta.tableName, p.key);
      if (await checkCondition(front, p, snapshot)) continue;
      reasons[k] = {
        Code: 'ConditionalCheckFailed',
        Message: 'The conditional request failed',
        ...(p.op.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && snapshot ? { Item: snapshot } : {}),
      };
    }
    return cancelled(reasons);
  };

  const results: Array<AttributeMap | undefined> = [];
  for (let i = 0; i < planned.length; i += 1) {
    const p = planned[i];
    if (p.action === 'ConditionCheck') {
      if (typeof p.op.ConditionExpression === 'string' && !(await checkCondition(front, p, snapshots[i]))) throw await conditionFailed(i);
      results.push(snapshots[i]);
      continue;
    }
    try {
      if (p.action === 'Put') {
        snapshots[i] = (await front.backend.call('PutItem', { ...forwardable(p.op), ReturnValues: 'ALL_OLD' })).Attributes;
        results.push(p.op.Item);
      } else if (p.action === 'Update' && known[i]) {
        results.push((await front.backend.call('UpdateItem', { ...forwardable(p.op), ReturnValues: 'ALL_NEW' })).Attributes);
      } else if (p.action === 'Update') {
        // Not streamed: no record needs the new image.
        snapshots[i] = (await front.backend.call('UpdateItem', { ...forwardable(p.op), ReturnValues: 'ALL_OLD' })).Attributes;
        results.push(undefined);
      } else {
        snapshots[i] = (await front.backend.call('DeleteItem', { ...forwardable(p.op), ReturnValues: 'ALL_OLD' })).Attributes;
        results.push(undefined);
      }
      known[i] = true;
    } catch (err) {
      if (err instanceof AwsError && err.code === 'ConditionalCheckFailedException') throw await conditionFailed(i);
      await rollback(i);
      if (!(err instanceof AwsError)) throw err;
      // A malformed request (expression syntax...) fails as a whole; a data-dependent error cancels.
      if (err.code === 'ValidationException' && STATIC_VALIDATION.test(err.message)) throw err;
      const code = err.code === 'ValidationException' ? 'ValidationError' : err.code;
      const failure = planned.map(() => ({ Code: 'None' }) as Record<string, unknown> & { Code: string });
      failure[i] = { Code: code, Message: err.message };
      throw cancelled(failure);
    }
  }

  planned.forEach((p, i) => {
    if (p.action !== 'ConditionCheck' && p.meta.stream) front.record({ meta: p.meta, key: p.key, oldImage: snapshots[i], newImage: results[i] });
  });
  const capacity = consumed(input, planned, 2, 'Write');
  return capacity ? { ConsumedCapacity: capacity } : {};
}

/** TransactGetItems: every item read under its lock, so the set is one consistent snapshot. */
export async function transactGetItems(front: DynamoFront, input: any): Promise<unknown> {
  const entries = checkCount(input.TransactItems, 'transactItems');
  const planned = await plan(front, entries, ['Get']);
  return front.locks.run(planned.map((p) => p.lock), async () => {
    const responses = await Promise.all(
      planned.map(async (p) => {
        const { TableName, Key, ProjectionExpression, ExpressionAttributeNames } = p.op;
        const out = await front.backend.call('GetItem', {
          TableName, Key, ConsistentRead: true,
          ...(ProjectionExpression !== undefined ? { ProjectionExpression } : {}),
          ...(ExpressionAttributeNames !== undefined ? { ExpressionAttributeNames } : {}),
        });
        return out.Item ? { Item: out.Item } : {};
      }),
    );
    const capacity = consumed(input, planned, 2, 'Read');
    return { Responses: responses, ...(capacity ? { ConsumedCapacity: capacity } : {}) };
  });
}
