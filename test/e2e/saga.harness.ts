/**
 * Drives PlaceOrder sagas on a test cloud (embedded local cloud, or any endpoint): seeds per-case
 * stock and wallets, publishes OrderPlaced on the bus, answers escalations like `converge resolve`
 * (SendTaskSuccess with the token from the ledger), and reads back what the generated cases assert.
 */
import { randomUUID } from 'node:crypto';
import { DescribeExecutionCommand, SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { TestCloud } from '../support/cloud.js';
import { waitFor } from '../support/wait.js';
import { placeOrderSaga } from '../../statemachines/place-order.js';
import { MANUAL_FIX, orderPlaced, type Holdings, type Observed, type OperatorDecision } from '../statemachines/place-order.cases.js';

export const STOCK = 100;
export const BALANCE = 100_000;

/** One isolated order: its own skus and customer, so invariants are per case. */
/** Suffix that keeps this run's keys apart from earlier runs against the same (persistent) cloud. */
const RUN = randomUUID().slice(0, 6);

export function fixture(name: string) {
  const id = `${name}-${RUN}`;
  const skus = [`${id}-sku-a`, `${id}-sku-b`];
  const customerId = `${id}-cust`;
  return { orderId: id, sagaId: `order#${id}`, skus, customerId, initial: { stock: Object.fromEntries(skus.map((s) => [s, STOCK])), balances: { [customerId]: BALANCE } } };
}
export type Fixture = ReturnType<typeof fixture>;

export class SagaDriver {
  constructor(private readonly t: TestCloud) {}
  private get o() {
    return this.t.outputs;
  }
  private get db() {
    return this.t.clients.documents;
  }

  async seed(f: Fixture): Promise<void> {
    await Promise.all([
      ...f.skus.map((sku) => this.db.send(new PutCommand({ TableName: this.o.InventoryTableName, Item: { sku, available: STOCK } }))),
      this.db.send(new PutCommand({ TableName: this.o.WalletsTableName, Item: { customerId: f.customerId, balance: BALANCE } })),
    ]);
  }

  async publish(detail: unknown): Promise<void> {
    const out = await this.t.clients.eventbridge.send(
      new PutEventsCommand({ Entries: [{ EventBusName: this.o.EventBusName, Source: 'shop.orders', DetailType: 'OrderPlaced', Detail: JSON.stringify(detail) }] }),
    );
    if (out.FailedEntryCount) throw new Error(`PutEvents failed: ${JSON.stringify(out.Entries)}`);
  }

  order = (f: Fixture) => orderPlaced(f.orderId, f.customerId, f.skus);

  async header(sagaId: string): Promise<any> {
    return (await this.db.send(new GetCommand({ TableName: this.o.SagaLedgerTableName, Key: { sagaId, sk: 'SAGA' }, ConsistentRead: true }))).Item;
  }

  /** Keeps the local clock moving so that retry backoffs pass quickly, until `predicate` holds. */
  async until<T>(predicate: () => Promise<T>, message: string, timeoutMs = 60_000): Promise<NonNullable<T>> {
    return waitFor(
      async () => {
        const v = await predicate();
        if (!v && !this.t.external) await this.t.advanceClock(1_000);
        return v;
      },
      { timeoutMs, intervalMs: 100, message },
    );
  }

  async executionOf(sagaId: string): Promise<string> {
    return (await this.until(async () => (await this.header(sagaId))?.executionArn as string | undefined, `saga ${sagaId} to start`)) as string;
  }

  async finished(executionArn: string) {
    return this.until(async () => {
      const d = await this.t.clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
      return d.status !== 'RUNNING' ? d : undefined;
    }, `execution ${executionArn} to finish`);
  }

  /** Answers the escalation of `compensation` once it is waiting. */
  async answer(f: Fixture, compensation: string, forStep: string, decision: OperatorDecision): Promise<void> {
    const h = await this.until(async () => {
      const x = await this.header(f.sagaId);
      return x?.status === 'NEEDS_HUMAN' && x.escalation?.compensation === compensation ? x : undefined;
    }, `escalation of ${compensation}`);
    if (decision === 'timeout') {
      await this.t.advanceClock((placeOrderSaga.escalationTimeoutSeconds + 60) * 1000);
      return;
    }
    if (decision === 'resolve') await this.manualFix(f, compensation, forStep);
    await this.t.clients.sfn.send(new SendTaskSuccessCommand({ taskToken: h.escalation.taskToken, output: JSON.stringify({ decision, reason: `e2e ${decision}`, actor: 'ops@example.com' }) }));
  }

  /** What an operator does by hand before answering `resolve`. */
  private async manualFix(f: Fixture, compensation: string, forStep: string): Promise<void> {
    const fix = MANUAL_FIX[compensation]!;
    const effect = (await this.db.send(new GetCommand({ TableName: this.o.SagaLedgerTableName, Key: { sagaId: f.sagaId, sk: `EFFECT#${forStep}` } }))).Item!;
    const table = this.o[`${fix.table}TableName`]!;
    if (fix.kind === 'credit-items') {
      for (const [sku, q] of Object.entries(effect.details.items as Record<string, number>)) await this.db.send(new UpdateCommand({ TableName: table, Key: { sku }, UpdateExpression: 'ADD available :q', ExpressionAttributeValues: { ':q': q } }));
    } else if (fix.kind === 'credit-amount') {
      await this.db.send(new UpdateCommand({ TableName: table, Key: { customerId: f.customerId }, UpdateExpression: 'ADD balance :q', ExpressionAttributeValues: { ':q': effect.details.amount } }));
    } else {
      await this.db.send(new UpdateCommand({ TableName: table, Key: { orderId: f.orderId }, UpdateExpression: 'SET #s = :c, version = version + :one', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':c': 'CANCELLED', ':one': 1 } }));
    }
  }

  async holdings(f: Fixture): Promise<Holdings> {
    const stock: Record<string, number> = {};
    for (const sku of f.skus) stock[sku] = (await this.db.send(new GetCommand({ TableName: this.o.InventoryTableName, Key: { sku }, ConsistentRead: true }))).Item!.available;
    const wallet = (await this.db.send(new GetCommand({ TableName: this.o.WalletsTableName, Key: { customerId: f.customerId }, ConsistentRead: true }))).Item!;
    const rows = (await this.db.send(new QueryCommand({ TableName: this.o.SagaLedgerTableName, KeyConditionExpression: 'sagaId = :s AND begins_with(sk, :e)', ExpressionAttributeValues: { ':s': f.sagaId, ':e': 'EFFECT#' }, ConsistentRead: true }))).Items ?? [];
    return { stock, balances: { [f.customerId]: wallet.balance }, effects: rows as any[] };
  }

  async audit(sagaId: string): Promise<any[]> {
    const out = await this.db.send(new QueryCommand({ TableName: this.o.AuditTableName, IndexName: 'byEntity', KeyConditionExpression: 'entityId = :e', ExpressionAttributeValues: { ':e': sagaId } }));
    return out.Items ?? [];
  }

  async observe(f: Fixture, d: { status?: string; error?: string }): Promise<Observed> {
    const h = await this.holdings(f);
    const effects = Object.fromEntries(placeOrderSaga.steps.map((s) => [s.name, h.effects.find((e) => e.step === s.name)]));
    const order = (await this.db.send(new GetCommand({ TableName: this.o.OrdersTableName, Key: { orderId: f.orderId }, ConsistentRead: true }))).Item;
    return { status: d.status ?? 'UNKNOWN', error: d.error, ledger: await this.header(f.sagaId), effects, order, audit: await this.audit(f.sagaId) };
  }
}
