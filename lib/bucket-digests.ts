import { type CfnResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ConvergeFunction } from './converge-function.js';
import type { ReconcilePair } from './reconciler.js';
import { secureTableDefaults } from './table-defaults.js';

/** Props of {@link BucketDigests}. */
export interface BucketDigestsProps {
  /** The table pair whose digests are kept; both tables need a NEW_AND_OLD_IMAGES stream. */
  readonly pair: ReconcilePair;
  /** Buckets per table: more buckets make drill-down cheaper and detection reads more pages. @default 16384 */
  readonly buckets?: number;
  /** Buckets per digest item: detection reads `2 × buckets / bucketsPerPage` items; each item grows ~30 bytes per bucket. @default 64 */
  readonly bucketsPerPage?: number;
  /**
   * Records per invocation of the upkeep function, at most. Larger batches share page updates:
   * a batch's changes are grouped by digest page, so a page's ADD carries every change of the
   * batch that falls on it (up to the 100 items of a transaction).
   * @default 1000
   */
  readonly batchSize?: number;
  /** Retries of a failing batch before it goes to the dead-letter queue. @default 10 */
  readonly retryAttempts?: number;
  /** Digests can be rebuilt, so by default they go with the stack. @default RemovalPolicy.DESTROY */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Per-bucket digests of a table pair, kept current from both tables' streams (the digest
 * strategy of reconciliation, DESIGN §1): the digest table, the upkeep function, one
 * event-source mapping per stream and an encrypted dead-letter queue. Each change whose
 * canonical hash moved costs one TransactWriteItems of two items (the member row and the
 * bucket page); a change of ignored fields only costs nothing.
 */
export class BucketDigests extends Construct {
  /** Digest pages and members: key `pk` + `sk`, TTL `expiresAt` (tombstones only). */
  public readonly table: dynamodb.Table;
  /** The upkeep function. */
  public readonly handler: ConvergeFunction;
  /** The mappings: source stream first, replica stream second. */
  public readonly mappings: lambda.EventSourceMapping[];
  /** Batches that exhausted their retries. */
  public readonly deadLetterQueue: sqs.Queue;
  /** The digest layout, for the reconciler. */
  public readonly buckets: number;
  public readonly bucketsPerPage: number;
  /** The pair, for the reconciler (which must hash exactly as the digests do). */
  public readonly pair: ReconcilePair;

  constructor(scope: Construct, id: string, props: BucketDigestsProps) {
    super(scope, id);
    const { pair } = props;
    if (!pair.source.tableStreamArn || !pair.replica.tableStreamArn) throw new Error('BucketDigests: both tables of the pair need a stream (NEW_AND_OLD_IMAGES)');
    this.pair = pair;
    this.buckets = props.buckets ?? 16_384;
    this.bucketsPerPage = props.bucketsPerPage ?? 64;
    this.table = new dynamodb.Table(this, 'Digests', {
      ...secureTableDefaults(props.removalPolicy ?? RemovalPolicy.DESTROY),
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expiresAt',
    });
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });
    Validations.of(this.deadLetterQueue).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is itself the dead-letter queue of the digest upkeep.' });
    this.handler = new ConvergeFunction(this, 'Upkeep', {
      entry: 'lambdas/reconcile/digest-stream.ts',
      serviceName: 'converge-digests',
      environment: {
        RECONCILE_PAIR: pairEnvironment(pair),
        DIGEST_TABLE: this.table.tableName,
        DIGEST_BUCKETS: String(this.buckets),
        DIGEST_BUCKETS_PER_PAGE: String(this.bucketsPerPage),
      },
    });
    const fn = this.handler.function;
    pair.source.grantStreamRead(fn);
    pair.replica.grantStreamRead(fn);
    // TransactWriteItems is authorized per item action: a Put of the member, an Update of the page.
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:PutItem', 'dynamodb:UpdateItem'], resources: [this.table.tableArn] }));
    this.mappings = [pair.source, pair.replica].map(
      (table, i) =>
        new lambda.EventSourceMapping(this, i === 0 ? 'SourceStream' : 'ReplicaStream', {
          target: fn,
          eventSourceArn: table.tableStreamArn!,
          startingPosition: lambda.StartingPosition.TRIM_HORIZON,
          batchSize: props.batchSize ?? 1000,
          bisectBatchOnError: false,
          retryAttempts: props.retryAttempts ?? 10,
          reportBatchItemFailures: true,
          onFailure: new SqsDlq(this.deadLetterQueue),
        }),
    );
    for (const m of this.mappings) m.node.addDependency(fn.role!);
    const ref = (c: Construct) => `<${Stack.of(this).resolve((c.node.defaultChild as CfnResource).logicalId)}.Arn>`;
    Validations.of(fn.role!).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'dynamodb:ListStreams (granted by grantStreamRead) supports no resource-level permissions.' });
    Validations.of(fn.role!).acknowledge({ id: `AwsSolutions-IAM5[Resource::${ref(this.handler.logGroup)}:*]`, reason: 'Log streams of the function’s own log group: stream names are generated by Lambda.' });
  }
}

/** The pair as the reconciliation functions read it (`RECONCILE_PAIR`). */
export function pairEnvironment(pair: ReconcilePair): string {
  return JSON.stringify({
    name: pair.name,
    sourceTable: pair.source.tableName,
    replicaTable: pair.replica.tableName,
    keyAttributes: pair.keyAttributes,
    ignoredFields: pair.ignoredFields ?? [],
    versionAttribute: pair.versionAttribute ?? 'version',
  });
}
