import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ArchivedEventBus } from './archived-event-bus.js';
import { AuditTrail } from './audit-trail.js';
import { IdempotencyStore } from './idempotency-store.js';
import { BucketDigests } from './bucket-digests.js';
import { PlaceOrderSaga } from './place-order-saga.js';
import { Reconciler, type ReconcilePair } from './reconciler.js';
import { ShopTables } from './shop-tables.js';
import { TableStreamToReplicas } from './table-stream-to-replicas.js';

/** Props of {@link ConvergeStack}. */
export interface ConvergeStackProps extends StackProps {
  /** Removal policy of the business and audit tables. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The reference app (DESIGN §2): the shop's tables, the audit trail, the idempotency store and
 * the archived bus, composed with the sync, saga and reconciliation constructs. It only
 * composes constructs and declares the outputs users and the CLI rely on.
 */
export class ConvergeStack extends Stack {
  public readonly tables: ShopTables;
  public readonly audit: AuditTrail;
  public readonly idempotency: IdempotencyStore;
  public readonly events: ArchivedEventBus;
  /** The PlaceOrder compensation saga, its ledger and its rule (issue 6). */
  public readonly placeOrder: PlaceOrderSaga;
  /** Stream sync Orders → OrdersReplica (issue 5). */
  public readonly ordersSync: TableStreamToReplicas;
  /** Bucket digests of Orders/OrdersReplica and the ReconcileStateMachine (issue 7). */
  public readonly orderDigests: BucketDigests;
  public readonly reconciler: Reconciler;

  constructor(scope: Construct, id: string, props: ConvergeStackProps = {}) {
    super(scope, id, props);
    this.tables = new ShopTables(this, 'Tables', { removalPolicy: props.removalPolicy });
    this.audit = new AuditTrail(this, 'AuditTrail', { removalPolicy: props.removalPolicy });
    this.idempotency = new IdempotencyStore(this, 'IdempotencyStore');
    this.events = new ArchivedEventBus(this, 'Events');

    // Stream sync (issue 5): Orders → OrdersReplica, validated as Order images, publishing OrderChanged.
    this.ordersSync = new TableStreamToReplicas(this, 'OrdersSync', {
      source: this.tables.orders,
      replicas: [this.tables.ordersReplica],
      keyAttributes: ['orderId'],
      versionAttribute: 'version',
      entityName: 'order',
      imageContract: 'Order',
      changeEvents: { bus: this.events.bus, event: 'OrderChanged' },
      audit: this.audit,
      idempotency: this.idempotency,
    });

    // Compensation saga (issue 6): PlaceOrder, started by shop.orders/OrderPlaced on the bus.
    this.placeOrder = new PlaceOrderSaga(this, 'PlaceOrderSaga', { tables: this.tables, audit: this.audit, idempotency: this.idempotency, events: this.events, removalPolicy: props.removalPolicy });
    new CfnOutput(this, 'PlaceOrderStateMachineArn', { key: 'PlaceOrderStateMachineArn', value: this.placeOrder.saga.stateMachine.stateMachineArn });
    new CfnOutput(this, 'SagaLedgerTableName', { key: 'SagaLedgerTableName', value: this.placeOrder.ledger.tableName });

    // Reconciliation (issue 7): digests kept from both streams, scheduled digest and full runs.
    const orderPair: ReconcilePair = { name: 'order', source: this.tables.orders, replica: this.tables.ordersReplica, keyAttributes: ['orderId'], versionAttribute: 'version' };
    this.orderDigests = new BucketDigests(this, 'OrderDigests', { pair: orderPair });
    this.reconciler = new Reconciler(this, 'Reconciler', {
      pair: orderPair,
      audit: this.audit,
      bus: this.events.bus,
      digests: this.orderDigests,
      sagaChecks: { definition: 'PlaceOrder', tables: { Orders: this.tables.orders, Inventory: this.tables.inventory, Wallets: this.tables.wallets, Shipments: this.tables.shipments, SagaLedger: this.placeOrder.ledger } },
    });
    new CfnOutput(this, 'ReconcileStateMachineArn', { key: 'ReconcileStateMachineArn', value: this.reconciler.stateMachine.stateMachineArn });
    new CfnOutput(this, 'ReconcileRunsTableName', { key: 'ReconcileRunsTableName', value: this.reconciler.runsTable.tableName });
    new CfnOutput(this, 'DigestTableName', { key: 'DigestTableName', value: this.orderDigests.table.tableName });

    const output = (key: string, value: string) => new CfnOutput(this, key, { key, value });
    output('OrdersTableName', this.tables.orders.tableName);
    output('OrdersReplicaTableName', this.tables.ordersReplica.tableName);
    output('InventoryTableName', this.tables.inventory.tableName);
    output('WalletsTableName', this.tables.wallets.tableName);
    output('ShipmentsTableName', this.tables.shipments.tableName);
    output('AuditTableName', this.audit.table.tableName);
    output('IdempotencyTableName', this.idempotency.table.tableName);
    output('EventBusName', this.events.bus.eventBusName);
    output('EventBusArn', this.events.bus.eventBusArn);
    output('EventArchiveName', this.events.archive.archiveName);
    output('SyncFunctionName', this.ordersSync.handler.function.functionName);
    output('SyncDeadLetterQueueUrl', this.ordersSync.deadLetterQueue.queueUrl);
  }
}
