/**
 * Read access to the saga ledger (output `SagaLedgerTableName`; pk `sagaId`, sk `SAGA` for the
 * header and `EFFECT#<Step>` for each step's effect), and finding a saga by order or execution.
 */
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { GetCommand, QueryCommand, ScanCommand, type QueryCommandOutput, type ScanCommandOutput } from '@aws-sdk/lib-dynamodb';
import type { SagaHeader, EffectRecord } from '../lambdas/saga/domain/model.js';
import { sagaIdOf } from '../lambdas/saga/domain/place-order.js';
import type { CliContext } from './context.js';
import { UsageError } from './errors.js';
import { isExecutionArn, orderIdFromInput, parseJson } from './util.js';

export type { SagaHeader, EffectRecord };
export { sagaIdOf };

/** Header sort key (as written by `lambdas/saga/adapters/dynamo-saga-store.ts`). */
export const HEADER_SK = 'SAGA';

/** The ledger table's name, or undefined when the saga ledger is not deployed. */
export async function ledgerTable(ctx: CliContext): Promise<string | undefined> {
  return ctx.optionalOutput('SagaLedgerTableName');
}

/** A saga's header, read consistently. */
export async function readHeader(ctx: CliContext, table: string, sagaId: string): Promise<SagaHeader | undefined> {
  const out = await ctx.documents.send(new GetCommand({ TableName: table, Key: { sagaId, sk: HEADER_SK }, ConsistentRead: true }));
  return out.Item as SagaHeader | undefined;
}

/** Every effect row of a saga. */
export async function readEffects(ctx: CliContext, table: string, sagaId: string): Promise<EffectRecord[]> {
  const effects: EffectRecord[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page: QueryCommandOutput = await ctx.documents.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'sagaId = :s AND begins_with(sk, :e)',
        ExpressionAttributeValues: { ':s': sagaId, ':e': 'EFFECT#' },
        ConsistentRead: true,
        ExclusiveStartKey: startKey,
      }),
    );
    effects.push(...((page.Items ?? []) as EffectRecord[]));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return effects;
}

/** Scans ledger headers, optionally only those with one of `statuses`. */
export async function scanHeaders(ctx: CliContext, table: string, filter: { statuses?: readonly string[]; executionArn?: string } = {}): Promise<SagaHeader[]> {
  const names: Record<string, string> = { '#sk': 'sk' };
  const values: Record<string, unknown> = { ':h': HEADER_SK };
  const conditions = ['#sk = :h'];
  if (filter.statuses?.length) {
    names['#st'] = 'status';
    filter.statuses.forEach((s, i) => (values[`:s${i}`] = s));
    conditions.push(`#st IN (${filter.statuses.map((_, i) => `:s${i}`).join(', ')})`);
  }
  if (filter.executionArn) {
    values[':arn'] = filter.executionArn;
    conditions.push('executionArn = :arn');
  }
  const headers: SagaHeader[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page: ScanCommandOutput = await ctx.documents.send(
      new ScanCommand({ TableName: table, FilterExpression: conditions.join(' AND '), ExpressionAttributeNames: names, ExpressionAttributeValues: values, ExclusiveStartKey: startKey }),
    );
    headers.push(...((page.Items ?? []) as SagaHeader[]));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return headers;
}

/** What a saga reference resolved to. */
export interface SagaRef {
  readonly orderId: string;
  readonly sagaId: string;
  /** The execution named, or the ledger's (the one that claimed the saga). */
  readonly executionArn?: string;
  /** Whether the execution still exists in Step Functions (history retention is 90 days). */
  readonly executionFound: boolean;
}

/**
 * Resolves `<orderId|executionArn>`. An ARN is described for its input's orderId; when its
 * history has expired, the ledger is searched for it. An orderId needs no call at all.
 */
export async function resolveSagaRef(ctx: CliContext, ref: string): Promise<SagaRef> {
  if (!isExecutionArn(ref)) {
    if (ref.startsWith('arn:')) throw new UsageError(`${ref} is not a Step Functions execution ARN`, 'pass an orderId or an arn:aws:states:…:execution:… ARN');
    const orderId = ref.startsWith('order#') ? ref.slice('order#'.length) : ref;
    return { orderId, sagaId: sagaIdOf(orderId), executionFound: false };
  }
  try {
    const d = await ctx.sfn.send(new DescribeExecutionCommand({ executionArn: ref }));
    const orderId = orderIdFromInput(parseJson(d.input));
    if (!orderId) throw new UsageError(`execution ${ref} has no orderId in its input`, 'is it a PlaceOrder execution?');
    return { orderId, sagaId: sagaIdOf(orderId), executionArn: ref, executionFound: true };
  } catch (err) {
    if ((err as Error).name !== 'ExecutionDoesNotExist') throw err;
  }
  const table = await ledgerTable(ctx);
  const found = table ? (await scanHeaders(ctx, table, { executionArn: ref }))[0] : undefined;
  if (!found) throw new UsageError(`execution ${ref} was not found, and no saga ledger entry names it`, 'check the ARN, or look the saga up by its orderId');
  return { orderId: found.orderId, sagaId: found.sagaId, executionArn: ref, executionFound: false };
}
