import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ArchivedEventBus } from './archived-event-bus.js';
import { AuditTrail } from './audit-trail.js';
import { IdempotencyStore } from './idempotency-store.js';
import { ShopTables } from './shop-tables.js';

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

  constructor(scope: Construct, id: string, props: ConvergeStackProps = {}) {
    super(scope, id, props);
    this.tables = new ShopTables(this, 'Tables', { removalPolicy: props.removalPolicy });
    this.audit = new AuditTrail(this, 'AuditTrail', { removalPolicy: props.removalPolicy });
    this.idempotency = new IdempotencyStore(this, 'IdempotencyStore');
    this.events = new ArchivedEventBus(this, 'Events');

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
  }
}
