import { type CfnResource, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { AuditTrail } from './audit-trail.js';
import { ConvergeFunction } from './converge-function.js';
import type { IdempotencyStore } from './idempotency-store.js';

/** Which attributes reach the replicas. Keys and the version attribute always do. */
export type ReplicaProjection =
  | { readonly include: readonly string[]; readonly exclude?: never }
  | { readonly exclude: readonly string[]; readonly include?: never };

/** Batch and retry settings of the stream event-source mapping. */
export interface StreamBatchSettings {
  /** Records per invocation. @default 100 */
  readonly batchSize?: number;
  /** How long to gather records before invoking. @default Duration.seconds(0) */
  readonly maxBatchingWindow?: Duration;
  /** Retries of a failing batch before it goes to the DLQ (bisected halves don't count). @default 5 */
  readonly retryAttempts?: number;
  /** Records older than this go to the DLQ instead of being retried. @default Duration.hours(1) */
  readonly maxRecordAge?: Duration;
  /** Concurrent batches per shard (ordering is kept per key). @default 1 */
  readonly parallelizationFactor?: number;
  /** Where to start reading a new stream. @default lambda.StartingPosition.TRIM_HORIZON */
  readonly startingPosition?: lambda.StartingPosition;
}

/** Props of {@link TableStreamToReplicas}. */
export interface TableStreamToReplicasProps {
  /** The canonical table; it must have a stream with NEW_AND_OLD_IMAGES (or NEW_IMAGE). */
  readonly source: dynamodb.ITable;
  /** The replicas, written with a version guard; the first one is the primary, whose write triggers the change event. */
  readonly replicas: readonly dynamodb.ITable[];
  /** Key attribute names, partition key first. @default ['id'] */
  readonly keyAttributes?: readonly string[];
  /** Entity name in audit rows: `${entityName}#${key}` (e.g. `order#o-1`), so `converge audit` finds them. @default 'item' */
  readonly entityName?: string;
  /** The numeric attribute that orders an item's states. @default 'version' */
  readonly versionAttribute?: string;
  /** Attributes to copy or to leave out. @default every attribute */
  readonly projection?: ReplicaProjection;
  /**
   * How a REMOVE reaches the replicas: `delete` is a version-guarded DeleteItem (the replica
   * mirrors the source exactly); `tombstone` keeps a versioned marker item so that a late,
   * older write can never resurrect the item. @default 'delete'
   */
  readonly deleteMode?: 'delete' | 'tombstone';
  /** Name of the tombstone marker attribute. @default 'tombstone' */
  readonly tombstoneAttribute?: string;
  /** An image contract every new image must satisfy, e.g. `Order`. @default none (keys and version only) */
  readonly imageContract?: 'Order';
  /** Publish a change event on this bus after applying. @default no events */
  readonly changeEvents?: {
    /** The bus. */
    readonly bus: events.IEventBus;
    /** The event contract. */
    readonly event: 'OrderChanged';
  };
  /** Event-source mapping settings. @default see {@link StreamBatchSettings} */
  readonly batch?: StreamBatchSettings;
  /** Audit trail for parked records. */
  readonly audit: AuditTrail;
  /** Powertools idempotency store. */
  readonly idempotency: IdempotencyStore;
  /** Idempotency records live this long: longer than the stream's 24 h retention. @default Duration.hours(25) */
  readonly idempotencyTtl?: Duration;
  /** Function timeout. @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /**
   * Memory of the sync function, in MB. Lambda gives CPU in proportion to memory (one vCPU at
   * 1,769 MB) and the function is CPU-bound: a record costs ≈ 1.2–1.5 ms of CPU warm, mostly its
   * three SDK calls, so at 256 MB (≈ 0.15 vCPU) a shard would sync about 100 records/s. At 1,024 MB
   * a batch of 100 needs ≈ 0.25 s; the GB-seconds of CPU-bound work stay about the same.
   * @default 1024
   */
  readonly memorySize?: number;
  /** IteratorAge (ms, maximum over a minute) above which the alarm fires. @default 60_000 */
  readonly iteratorAgeThresholdMs?: number;
}

/**
 * Keeps replicas of a DynamoDB table in sync from its stream: an event-source mapping with
 * safe defaults (TRIM_HORIZON, bisect on error, bounded retries and record age, partial batch
 * responses, an encrypted on-failure queue that also receives parked poison records), the
 * sync function with least-privilege access (it reads the stream, never writes the source),
 * and alarms on IteratorAge and on the dead-letter queue's depth.
 */
export class TableStreamToReplicas extends Construct {
  /** The sync function (and its role and log group). */
  public readonly handler: ConvergeFunction;
  /** The stream event-source mapping. */
  public readonly mapping: lambda.EventSourceMapping;
  /** On-failure destination of the mapping and the queue of parked poison records. */
  public readonly deadLetterQueue: sqs.Queue;
  /** Fires when the stream falls behind. */
  public readonly iteratorAgeAlarm: cloudwatch.Alarm;
  /** Fires when anything waits on the dead-letter queue. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: TableStreamToReplicasProps) {
    super(scope, id);
    if (props.replicas.length === 0) throw new Error('TableStreamToReplicas needs at least one replica');
    if (!props.source.tableStreamArn) throw new Error('TableStreamToReplicas: the source table has no stream');
    if (props.projection?.include && props.projection.exclude) throw new Error('TableStreamToReplicas: give include or exclude, not both');
    const keyAttributes = props.keyAttributes ?? ['id'];
    const batch = props.batch ?? {};

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'This queue is itself the dead-letter queue of the stream sync.' });

    const projectionMode = props.projection?.include ? 'include' : props.projection?.exclude ? 'exclude' : 'all';
    this.handler = new ConvergeFunction(this, 'Sync', {
      entry: 'lambdas/sync/handler.ts',
      serviceName: 'converge-sync',
      timeout: props.timeout,
      memorySize: props.memorySize ?? 1024,
      environment: {
        SOURCE_TABLE_NAME: props.source.tableName,
        ENTITY_NAME: props.entityName ?? 'item',
        REPLICA_TABLE_NAMES: props.replicas.map((r) => r.tableName).join(','),
        KEY_ATTRIBUTES: keyAttributes.join(','),
        VERSION_ATTRIBUTE: props.versionAttribute ?? 'version',
        PROJECTION_MODE: projectionMode,
        PROJECTION_ATTRIBUTES: (props.projection?.include ?? props.projection?.exclude ?? []).join(','),
        DELETE_MODE: props.deleteMode ?? 'delete',
        TOMBSTONE_ATTRIBUTE: props.tombstoneAttribute ?? 'tombstone',
        IDEMPOTENCY_TABLE_NAME: props.idempotency.table.tableName,
        IDEMPOTENCY_TTL_SECONDS: String((props.idempotencyTtl ?? Duration.hours(25)).toSeconds()),
        AUDIT_TABLE_NAME: props.audit.table.tableName,
        DEAD_LETTER_QUEUE_URL: this.deadLetterQueue.queueUrl,
        ...(props.imageContract ? { IMAGE_CONTRACT: props.imageContract } : {}),
        ...(props.changeEvents ? { CHANGE_EVENT: props.changeEvents.event, EVENT_BUS_NAME: props.changeEvents.bus.eventBusName } : {}),
      },
    });
    const fn = this.handler.function;

    // Least privilege: stream reads on the source (never a write), guarded writes on replicas,
    // append-only audit, the idempotency items, SendMessage on the DLQ and PutEvents on the bus.
    props.source.grantStreamRead(fn);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem'],
        resources: props.replicas.map((r) => r.tableArn),
      }),
    );
    props.audit.grantAppend(fn);
    props.idempotency.grantUse(fn);
    this.deadLetterQueue.grantSendMessages(fn);
    props.changeEvents?.bus.grantPutEventsTo(fn);

    this.mapping = new lambda.EventSourceMapping(this, 'StreamMapping', {
      target: fn,
      eventSourceArn: props.source.tableStreamArn,
      startingPosition: batch.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON,
      batchSize: batch.batchSize ?? 100,
      maxBatchingWindow: batch.maxBatchingWindow,
      bisectBatchOnError: true,
      retryAttempts: batch.retryAttempts ?? 5,
      maxRecordAge: batch.maxRecordAge ?? Duration.hours(1),
      parallelizationFactor: batch.parallelizationFactor ?? 1,
      reportBatchItemFailures: true,
      onFailure: new SqsDlq(this.deadLetterQueue),
    });
    // The mapping polls the stream with the function's role, so the grants must exist first.
    this.mapping.node.addDependency(fn.role!);

    this.iteratorAgeAlarm = new cloudwatch.Alarm(this, 'IteratorAgeAlarm', {
      alarmDescription: 'Stream sync is falling behind its source table stream',
      metric: fn.metric('IteratorAge', { statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1) }),
      threshold: props.iteratorAgeThresholdMs ?? 60_000,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.deadLetterAlarm = new cloudwatch.Alarm(this, 'DeadLetterAlarm', {
      alarmDescription: 'Stream sync parked records or gave up on a batch: see the dead-letter queue and the audit table',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1) }),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // The remaining wildcards, each the narrowest the service allows.
    const ref = (c: Construct) => `<${Stack.of(this).resolve((c.node.defaultChild as CfnResource).logicalId)}.Arn>`;
    const wildcards: Array<[string, string]> = [
      ['Resource::*', 'dynamodb:ListStreams (granted by grantStreamRead) supports no resource-level permissions.'],
      [`Resource::${ref(this.handler.logGroup)}:*`, 'Log streams of the function’s own log group: stream names are generated by Lambda.'],
      [`Resource::${ref(props.audit.table)}/index/*`, 'Reads of the audit trail’s own GSIs (AuditTrail.grantAppend); writes are PutItem on the table only.'],
    ];
    for (const [finding, reason] of wildcards) Validations.of(fn.role!).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
  }
}

