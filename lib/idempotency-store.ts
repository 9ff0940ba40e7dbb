import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { secureTableDefaults } from './table-defaults.js';

/** Props of {@link IdempotencyStore}. */
export interface IdempotencyStoreProps {
  /** Idempotency records are disposable, so the table is destroyed with the stack. @default RemovalPolicy.DESTROY */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The Powertools idempotency table: key `id`, TTL on `expiration`, the attribute names the
 * Powertools DynamoDB persistence layer uses by default.
 */
export class IdempotencyStore extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: IdempotencyStoreProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Idempotency', {
      ...secureTableDefaults(props.removalPolicy ?? RemovalPolicy.DESTROY),
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expiration',
    });
  }

  /** The item-level actions the persistence layer needs, and nothing else. */
  grantUse(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'],
        resources: [this.table.tableArn],
      }),
    );
  }
}
