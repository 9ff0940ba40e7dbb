import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { secureTableDefaults } from './table-defaults.js';

/** Props of {@link ShopTables}. */
export interface ShopTablesProps {
  /** What happens to the tables when the stack is deleted. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The reference app's business tables (DESIGN §2): Orders is canonical and streams
 * NEW_AND_OLD_IMAGES; OrdersReplica is its read model; Inventory, Wallets and Shipments are
 * the saga's resources. Keys are exactly the documented ones, with no sort keys.
 */
export class ShopTables extends Construct {
  /** `orderId`; canonical; stream NEW_AND_OLD_IMAGES. */
  public readonly orders: dynamodb.Table;
  /** `orderId`; the read model kept by stream sync. */
  public readonly ordersReplica: dynamodb.Table;
  /** `sku`; `available` stock. */
  public readonly inventory: dynamodb.Table;
  /** `customerId`; `balance` in cents. */
  public readonly wallets: dynamodb.Table;
  /** `orderId`; one shipment per order. */
  public readonly shipments: dynamodb.Table;

  constructor(scope: Construct, id: string, props: ShopTablesProps = {}) {
    super(scope, id);
    const defaults = secureTableDefaults(props.removalPolicy);
    const key = (name: string) => ({ partitionKey: { name, type: dynamodb.AttributeType.STRING } });
    this.orders = new dynamodb.Table(this, 'Orders', { ...defaults, ...key('orderId'), stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES });
    this.ordersReplica = new dynamodb.Table(this, 'OrdersReplica', { ...defaults, ...key('orderId'), stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES });
    this.inventory = new dynamodb.Table(this, 'Inventory', { ...defaults, ...key('sku') });
    this.wallets = new dynamodb.Table(this, 'Wallets', { ...defaults, ...key('customerId') });
    this.shipments = new dynamodb.Table(this, 'Shipments', { ...defaults, ...key('orderId') });
  }
}
