import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { secureTableDefaults } from './table-defaults.js';

/** Props of {@link AuditTrail}. */
export interface AuditTrailProps {
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** GSI giving an entity's trail in time order. */
export const AUDIT_BY_ENTITY_INDEX = 'byEntity';
/** GSI giving a reconciliation run's rows in time order. */
export const AUDIT_BY_RUN_INDEX = 'byRun';

/**
 * The append-only audit table: key `auditId`, TTL on `expiresAt`, GSIs by entity and by run.
 * {@link AuditTrail.grantAppend} gives a role PutItem and reads, and an explicit Deny of every
 * action that could change or remove a row, so no function can rewrite history even if
 * another statement allowed it.
 */
export class AuditTrail extends Construct {
  public readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: AuditTrailProps = {}) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Audit', {
      ...secureTableDefaults(props.removalPolicy),
      partitionKey: { name: 'auditId', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expiresAt',
    });
    this.table.addGlobalSecondaryIndex({
      indexName: AUDIT_BY_ENTITY_INDEX,
      partitionKey: { name: 'entityId', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'at', type: dynamodb.AttributeType.STRING },
    });
    this.table.addGlobalSecondaryIndex({
      indexName: AUDIT_BY_RUN_INDEX,
      partitionKey: { name: 'runId', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'at', type: dynamodb.AttributeType.STRING },
    });
  }

  /** Lets `grantee` append rows and read the trail; explicitly denies updates and deletes. */
  grantAppend(grantee: iam.IGrantable): void {
    const resources = [this.table.tableArn, `${this.table.tableArn}/index/*`];
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [this.table.tableArn] }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['dynamodb:Query', 'dynamodb:GetItem'], resources }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(AuditTrail.denyRewrite(this.table));
  }

  /** The explicit Deny that keeps the table append-only for a principal. */
  static denyRewrite(table: dynamodb.ITable): iam.PolicyStatement {
    return new iam.PolicyStatement({
      sid: 'AuditIsAppendOnly',
      effect: iam.Effect.DENY,
      actions: ['dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:PartiQLUpdate', 'dynamodb:PartiQLDelete', 'dynamodb:DeleteTable', 'dynamodb:UpdateTable'],
      resources: [table.tableArn],
    });
  }
}
