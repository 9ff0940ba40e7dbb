/**
 * The DynamoDB adapter of the {@link SagaStore} port. Each step is ONE TransactWriteItems: the
 * business change (guarded so stock and balances never go negative), the ledger's effect row
 * and the header's trail entry commit together or not at all.
 */
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SagaStateConflict, ServiceUnavailable } from '../errors.js';
import type { ApplyOutcome, EffectRecord, ResourceOp, SagaHeader, SagaStore } from '../domain/model.js';

/** Header sort key. */
export const HEADER_SK = 'SAGA';
/** Effect row sort key of a step. */
export const effectSk = (step: string) => `EFFECT#${step}`;

/** SDK error names that mean "try again": mapped to {@link ServiceUnavailable}, which the ASL retries. */
const TRANSIENT = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionConflictException',
  'TransactionInProgressException',
  'TimeoutError',
  'ECONNRESET',
  'ECONNREFUSED',
]);

/** Rethrows an SDK error, as ServiceUnavailable when it is transient. */
export function mapSdkError(err: unknown): never {
  const name = (err as Error)?.name ?? '';
  if (TRANSIENT.has(name) || (err as { $retryable?: unknown })?.$retryable) throw new ServiceUnavailable(`${name}: ${(err as Error).message}`, { cause: err });
  throw err;
}

/** Options of {@link DynamoSagaStore}. */
export interface DynamoSagaStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly ledgerTable: string;
  /** Physical table name of a logical one (`Orders`, `Inventory`…). */
  readonly tableName: (logical: string) => string;
}

type TransactItem = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>[number];

function opItem(op: ResourceOp, tableName: (l: string) => string, now: string): TransactItem {
  const TableName = tableName(op.table);
  switch (op.kind) {
    case 'adjust':
      return op.delta < 0
        ? { Update: { TableName, Key: op.key, UpdateExpression: 'SET #a = #a - :q, updatedAt = :now', ConditionExpression: '#a >= :q', ExpressionAttributeNames: { '#a': op.attribute }, ExpressionAttributeValues: { ':q': -op.delta, ':now': now } } }
        : { Update: { TableName, Key: op.key, UpdateExpression: 'ADD #a :q SET updatedAt = :now', ExpressionAttributeNames: { '#a': op.attribute }, ExpressionAttributeValues: { ':q': op.delta, ':now': now } } };
    case 'create':
      return { Put: { TableName, Item: op.item, ConditionExpression: 'attribute_not_exists(#k)', ExpressionAttributeNames: { '#k': op.keyName } } };
    case 'transition': {
      const names: Record<string, string> = { '#v': 'version', '#u': 'updatedAt' };
      const values: Record<string, unknown> = { ':one': 1, ':now': now };
      const sets = ['#v = #v + :one', '#u = :now'];
      const conds: string[] = [];
      Object.entries(op.set).forEach(([k, v], i) => {
        names[`#s${i}`] = k;
        values[`:s${i}`] = v;
        sets.push(`#s${i} = :s${i}`);
      });
      Object.entries(op.expect).forEach(([k, v], i) => {
        names[`#e${i}`] = k;
        values[`:e${i}`] = v;
        conds.push(`#e${i} = :e${i}`);
      });
      return { Update: { TableName, Key: op.key, UpdateExpression: `SET ${sets.join(', ')}`, ConditionExpression: conds.join(' AND '), ExpressionAttributeNames: names, ExpressionAttributeValues: values } };
    }
  }
}

/** Reasons of a cancelled transaction, by index (`None` where the item was fine). */
function cancellationCodes(err: unknown): string[] | undefined {
  if ((err as Error)?.name !== 'TransactionCanceledException') return undefined;
  const reasons = (err as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons;
  if (reasons) return reasons.map((r) => r.Code ?? 'None');
  // Some endpoints only put the reasons in the message: "... [None, ConditionalCheckFailed]".
  const m = /\[([^\]]*)\]/.exec((err as Error).message ?? '');
  return m ? m[1]!.split(',').map((s) => s.trim()) : undefined;
}

/** {@link SagaStore} on the ledger table and the business tables. */
export class DynamoSagaStore implements SagaStore {
  constructor(private readonly options: DynamoSagaStoreOptions) {}

  private get db() {
    return this.options.client;
  }

  async claim(header: SagaHeader): Promise<{ claimed: true } | { claimed: false; existing: SagaHeader }> {
    try {
      await this.db.send(new PutCommand({ TableName: this.options.ledgerTable, Item: { ...header, sk: HEADER_SK }, ConditionExpression: 'attribute_not_exists(sagaId)' }));
      return { claimed: true };
    } catch (err) {
      if ((err as Error).name !== 'ConditionalCheckFailedException') mapSdkError(err);
      const existing = await this.header(header.sagaId);
      if (!existing) throw new ServiceUnavailable(`ledger entry ${header.sagaId} vanished while claiming`);
      return { claimed: false, existing };
    }
  }

  async header(sagaId: string): Promise<SagaHeader | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.options.ledgerTable, Key: { sagaId, sk: HEADER_SK }, ConsistentRead: true })).catch(mapSdkError);
    return out.Item as SagaHeader | undefined;
  }

  async effect(sagaId: string, step: string): Promise<EffectRecord | undefined> {
    const out = await this.db.send(new GetCommand({ TableName: this.options.ledgerTable, Key: { sagaId, sk: effectSk(step) }, ConsistentRead: true })).catch(mapSdkError);
    return out.Item as EffectRecord | undefined;
  }

  async apply(c: Parameters<SagaStore['apply']>[0]): Promise<ApplyOutcome> {
    const ledger = this.options.ledgerTable;
    const items: TransactItem[] = c.ops.map((op) => opItem(op, this.options.tableName, c.now));
    items.push({ Put: { TableName: ledger, Item: { sagaId: c.sagaId, sk: effectSk(c.step), step: c.step, state: 'APPLIED', details: c.details, appliedAt: c.now }, ConditionExpression: 'attribute_not_exists(sk)' } });
    items.push({
      Update: {
        TableName: ledger,
        Key: { sagaId: c.sagaId, sk: HEADER_SK },
        UpdateExpression: `SET #t = list_append(if_not_exists(#t, :empty), :entry), updatedAt = :now${c.final ? ', #s = :succeeded, completedAt = :now' : ''}`,
        ConditionExpression: '#s = :running',
        ExpressionAttributeNames: { '#t': 'trail', '#s': 'status' },
        ExpressionAttributeValues: { ':empty': [], ':entry': [c.trail], ':now': c.now, ':running': 'RUNNING', ...(c.final ? { ':succeeded': 'SUCCEEDED' } : {}) },
      },
    });
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
      return 'APPLIED';
    } catch (err) {
      const codes = cancellationCodes(err);
      if (!codes) return mapSdkError(err);
      const effectAt = c.ops.length;
      // The effect row exists: applied by an earlier attempt, or voided by a compensation. Nothing to do.
      if (codes[effectAt] === 'ConditionalCheckFailed') return 'ALREADY_SETTLED';
      if (codes[effectAt + 1] === 'ConditionalCheckFailed') throw new SagaStateConflict(`saga ${c.sagaId} is not RUNNING; ${c.step} may not apply`);
      const failed = codes.findIndex((code) => code === 'ConditionalCheckFailed');
      if (failed >= 0 && failed < effectAt) throw c.ops[failed]!.onConflict();
      throw new ServiceUnavailable(`transaction cancelled: ${codes.join(', ')}`, { cause: err });
    }
  }

  async settle(c: Parameters<SagaStore['settle']>[0]): Promise<boolean> {
    const ledger = this.options.ledgerTable;
    const items: TransactItem[] = c.ops.map((op) => opItem(op, this.options.tableName, c.now));
    const note = c.note ?? {};
    if (c.from === 'ABSENT') {
      items.push({ Put: { TableName: ledger, Item: { sagaId: c.sagaId, sk: effectSk(c.step), step: c.step, state: c.to, details: {}, settledAt: c.now, ...note }, ConditionExpression: 'attribute_not_exists(sk)' } });
    } else {
      const noteNames: Record<string, string> = {};
      const noteValues: Record<string, unknown> = {};
      const noteSets = Object.entries(note).map(([k, v], i) => {
        noteNames[`#n${i}`] = k;
        noteValues[`:n${i}`] = v;
        return `, #n${i} = :n${i}`;
      });
      items.push({
        Update: {
          TableName: ledger,
          Key: { sagaId: c.sagaId, sk: effectSk(c.step) },
          UpdateExpression: `SET #st = :to, settledAt = :now${noteSets.join('')}`,
          ConditionExpression: '#st = :from',
          ExpressionAttributeNames: { '#st': 'state', ...noteNames },
          ExpressionAttributeValues: { ':to': c.to, ':from': c.from, ':now': c.now, ...noteValues },
        },
      });
    }
    items.push({
      Update: {
        TableName: ledger,
        Key: { sagaId: c.sagaId, sk: HEADER_SK },
        UpdateExpression: c.trail ? 'SET #t = list_append(if_not_exists(#t, :empty), :entry), updatedAt = :now' : 'SET updatedAt = :now',
        // A passed pivot is never undone, whatever a compensation was asked to do.
        ConditionExpression: 'attribute_exists(sagaId) AND #s <> :succeeded',
        ExpressionAttributeNames: { '#s': 'status', ...(c.trail ? { '#t': 'trail' } : {}) },
        ExpressionAttributeValues: { ':succeeded': 'SUCCEEDED', ':now': c.now, ...(c.trail ? { ':empty': [], ':entry': [c.trail] } : {}) },
      },
    });
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
      return true;
    } catch (err) {
      const codes = cancellationCodes(err);
      if (!codes) return mapSdkError(err);
      const effectAt = c.ops.length;
      if (codes[effectAt] === 'ConditionalCheckFailed') return false;
      if (codes[effectAt + 1] === 'ConditionalCheckFailed') throw new SagaStateConflict(`saga ${c.sagaId} has SUCCEEDED (or has no ledger entry); ${c.step} is not undone`);
      const failed = codes.findIndex((code) => code === 'ConditionalCheckFailed');
      if (failed >= 0 && failed < effectAt) throw c.ops[failed]!.onConflict();
      throw new ServiceUnavailable(`transaction cancelled: ${codes.join(', ')}`, { cause: err });
    }
  }

  async update(sagaId: string, change: Parameters<SagaStore['update']>[1]): Promise<void> {
    const names: Record<string, string> = { '#u': 'updatedAt' };
    const values: Record<string, unknown> = { ':now': change.now };
    const sets = ['#u = :now'];
    if (change.status) {
      names['#s'] = 'status';
      values[':status'] = change.status;
      sets.push('#s = :status');
    }
    Object.entries(change.set ?? {}).forEach(([k, v], i) => {
      names[`#f${i}`] = k;
      values[`:f${i}`] = v;
      sets.push(`#f${i} = :f${i}`);
    });
    if (change.appendDecision) {
      names['#d'] = 'decisions';
      values[':empty'] = [];
      values[':decision'] = [change.appendDecision];
      sets.push('#d = list_append(if_not_exists(#d, :empty), :decision)');
    }
    const removes = (change.remove ?? []).map((k, i) => {
      names[`#r${i}`] = k;
      return `#r${i}`;
    });
    let condition = 'attribute_exists(sagaId)';
    if (change.expect?.length) {
      names['#s'] = 'status';
      change.expect.forEach((s, i) => (values[`:x${i}`] = s));
      condition += ` AND #s IN (${change.expect.map((_, i) => `:x${i}`).join(', ')})`;
    }
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.options.ledgerTable,
          Key: { sagaId, sk: HEADER_SK },
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (err) {
      if ((err as Error).name === 'ConditionalCheckFailedException') {
        throw new SagaStateConflict(`saga ${sagaId} cannot move to ${change.status ?? '(same)'} from its current status (allowed from ${change.expect?.join('|') ?? 'any'})`);
      }
      mapSdkError(err);
    }
  }
}
