import { type CfnResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { reconcileDefinition } from '../statemachines/reconcile.js';
import type { AuditTrail } from './audit-trail.js';
import { pairEnvironment, type BucketDigests } from './bucket-digests.js';
import { ConvergeFunction } from './converge-function.js';
import { secureTableDefaults } from './table-defaults.js';

/** A source table and the replica reconciliation converges to it. */
export interface ReconcilePair {
  /** Short name used in audit entity ids (`${name}#${key}`) and digest keys, e.g. `order`. */
  readonly name: string;
  readonly source: dynamodb.ITable;
  readonly replica: dynamodb.ITable;
  /** Key attribute names, partition key first. */
  readonly keyAttributes: readonly string[];
  /** Top-level attributes left out of the comparison on both sides. @default [] */
  readonly ignoredFields?: readonly string[];
  /** The version attribute that guards writes. @default 'version' */
  readonly versionAttribute?: string;
}

/** A recurring run: an EventBridge Scheduler schedule that starts the state machine with `input`. */
export interface ReconcileSchedule {
  /** Construct id of the schedule. */
  readonly id: string;
  /** `rate(...)`, `cron(...)` or `at(...)`, as EventBridge Scheduler accepts. */
  readonly expression: string;
  /** The execution input, e.g. `{ mode: 'repair', strategy: 'digest' }`. */
  readonly input: { readonly mode: 'report' | 'repair'; readonly strategy: 'full' | 'digest'; readonly segments?: number; readonly maxRcuPerSecond?: number };
  /** @default 'UTC' */
  readonly timezone?: string;
}

/** Props of {@link Reconciler}. */
export interface ReconcilerProps {
  /** The pair to reconcile. With `digests`, it must be the digests' pair. */
  readonly pair: ReconcilePair;
  /** Audit trail: every discrepancy's lifecycle and each run's summary. */
  readonly audit: AuditTrail;
  /** Bus for `converge.reconcile` events. @default no events */
  readonly bus?: events.IEventBus;
  /** Bucket digests of the pair, enabling the `digest` strategy. @default full strategy only */
  readonly digests?: BucketDigests;
  /**
   * Recurring runs. @default an hourly digest repair (when `digests` is given) and a daily full repair at 03:00 UTC
   */
  readonly schedules?: readonly ReconcileSchedule[];
  /** Segments compared at once (Map MaxConcurrency). @default 8 */
  readonly maxConcurrency?: number;
  /** Read budget of a run (RCU per second) unless its input says otherwise. @default 1000 */
  readonly maxRcuPerSecond?: number;
  /** Delay between compare and recheck, for in-flight writes to land. @default Duration.seconds(5) */
  readonly settleDelay?: Duration;
  /** Repairs stop and the run escalates above this confirmed drift, in percent of compared items. @default 5 */
  readonly breakerThresholdPercent?: number;
  /** Items per full-mode segment when the input gives no `segments`. @default 50000 */
  readonly itemsPerSegment?: number;
  /** Most segments a planned run gets. @default 64 */
  readonly maxSegments?: number;
  /** Segments of a digest run unless its input says otherwise. @default 4 */
  readonly digestSegments?: number;
  /** How long a run's checkpoints and candidates are kept (the window to resume it). @default Duration.days(7) */
  readonly runRetention?: Duration;
  /** Timeout of one segment-worker invocation (it checkpoints and returns before it). @default Duration.minutes(5) */
  readonly segmentTimeout?: Duration;
  /** `DISTRIBUTED` runs segments as child executions (AWS only; the local cloud runs INLINE). @default 'INLINE' */
  readonly mapMode?: 'INLINE' | 'DISTRIBUTED';
  /**
   * Check the declared post-conditions of sagas that ended recently (COMPENSATION_INCOMPLETE).
   * @default no saga checks
   */
  readonly sagaChecks?: {
    /** Which saga definition (from `statemachines/`) declares the post-conditions. */
    readonly definition: 'PlaceOrder';
    /** The tables its post-conditions name, by logical name; must include `SagaLedger` (with its `byStatus` GSI). */
    readonly tables: Readonly<Record<string, dynamodb.ITable>>;
    /** Sagas that ended within this window are checked. @default Duration.days(7) */
    readonly window?: Duration;
  };
}

/**
 * Scheduled and on-demand reconciliation of a table pair (DESIGN §1, issue 7): the
 * ReconcileStateMachine (Standard, logged and traced) with its run and segment functions, the
 * runs table (plans, checkpoints and candidates, TTL'd), and EventBridge Scheduler schedules.
 * The functions may read the source, write only the replica, and append to the audit trail.
 */
export class Reconciler extends Construct {
  /** Plans, checkpoints and candidates of runs; key `runId` + `entry`, TTL `expiresAt`. */
  public readonly runsTable: dynamodb.Table;
  /** Plan, decide and summarize. */
  public readonly runFunction: ConvergeFunction;
  /** Compare, recheck and finalize one segment. */
  public readonly segmentFunction: ConvergeFunction;
  public readonly stateMachine: sfn.StateMachine;
  public readonly stateMachineLogGroup: logs.LogGroup;
  /** Role EventBridge Scheduler starts executions with. */
  public readonly schedulerRole: iam.Role;
  public readonly schedules: scheduler.CfnSchedule[];

  constructor(scope: Construct, id: string, props: ReconcilerProps) {
    super(scope, id);
    const { pair } = props;
    if (props.digests && props.digests.pair !== pair) throw new Error('Reconciler: `digests` must be built for the same pair object');
    const maxConcurrency = props.maxConcurrency ?? 8;
    const retention = props.runRetention ?? Duration.days(7);

    this.runsTable = new dynamodb.Table(this, 'Runs', {
      ...secureTableDefaults(RemovalPolicy.DESTROY),
      partitionKey: { name: 'runId', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'entry', type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: 'expiresAt',
    });

    const environment: Record<string, string> = {
      RECONCILE_PAIR: pairEnvironment(pair),
      RUNS_TABLE: this.runsTable.tableName,
      AUDIT_TABLE: props.audit.table.tableName,
      MAX_RCU_PER_SECOND: String(props.maxRcuPerSecond ?? 1000),
      SETTLE_SECONDS: String((props.settleDelay ?? Duration.seconds(5)).toSeconds()),
      BREAKER_THRESHOLD_PERCENT: String(props.breakerThresholdPercent ?? 5),
      ITEMS_PER_SEGMENT: String(props.itemsPerSegment ?? 50_000),
      MAX_SEGMENTS: String(props.maxSegments ?? 64),
      MAX_CONCURRENCY: String(maxConcurrency),
      DIGEST_SEGMENTS: String(props.digestSegments ?? 4),
      RUN_RETENTION_DAYS: String(Math.max(1, Math.round(retention.toDays({ integral: false })))),
      ...(props.bus ? { EVENT_BUS_NAME: props.bus.eventBusName } : {}),
      ...(props.sagaChecks
        ? {
            SAGA_DEFINITION: props.sagaChecks.definition,
            SAGA_TABLES: JSON.stringify(Object.fromEntries(Object.entries(props.sagaChecks.tables).map(([k, t]) => [k, t.tableName]))),
            SAGA_WINDOW_DAYS: String(Math.max(1, Math.round((props.sagaChecks.window ?? Duration.days(7)).toDays({ integral: false })))),
          }
        : {}),
      ...(props.digests
        ? { DIGEST_TABLE: props.digests.table.tableName, DIGEST_BUCKETS: String(props.digests.buckets), DIGEST_BUCKETS_PER_PAGE: String(props.digests.bucketsPerPage) }
        : {}),
    };
    const segmentTimeout = props.segmentTimeout ?? Duration.minutes(5);
    this.runFunction = new ConvergeFunction(this, 'Run', { entry: 'lambdas/reconcile/run.ts', serviceName: 'converge-reconcile', environment, timeout: Duration.minutes(1) });
    this.segmentFunction = new ConvergeFunction(this, 'Segment', {
      entry: 'lambdas/reconcile/segment.ts',
      serviceName: 'converge-reconcile',
      memorySize: 1024,
      timeout: segmentTimeout,
      // Stop starting rounds with a fifth of the timeout left (at least 2 s) to checkpoint and return.
      environment: { ...environment, TIME_MARGIN_MS: String(Math.max(2_000, Math.floor(segmentTimeout.toMilliseconds() / 5))) },
    });

    // Least privilege: read the source, read and conditionally write the replica, never the reverse.
    const run = this.runFunction.function;
    const seg = this.segmentFunction.function;
    const tableOnly = (t: dynamodb.ITable) => [t.tableArn];
    run.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:DescribeTable'], resources: [...tableOnly(pair.source), ...tableOnly(pair.replica)] }));
    run.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:PutItem'], resources: [this.runsTable.tableArn] }));
    seg.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:Scan', 'dynamodb:GetItem', 'dynamodb:BatchGetItem'], resources: [...tableOnly(pair.source), ...tableOnly(pair.replica)] }));
    seg.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:PutItem', 'dynamodb:DeleteItem'], resources: tableOnly(pair.replica) }));
    seg.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'], resources: [this.runsTable.tableArn] }));
    if (props.digests) seg.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:BatchGetItem', 'dynamodb:Query'], resources: [props.digests.table.tableArn] }));
    if (props.sagaChecks) {
      const { tables } = props.sagaChecks;
      if (!tables.SagaLedger) throw new Error('Reconciler: sagaChecks.tables needs SagaLedger');
      run.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:GetItem'], resources: Object.values(tables).map((t) => t.tableArn) }));
      run.addToRolePolicy(new iam.PolicyStatement({ actions: ['dynamodb:Query'], resources: [`${tables.SagaLedger.tableArn}/index/byStatus`] }));
    }
    props.audit.grantAppend(run);
    props.audit.grantAppend(seg);
    props.bus?.grantPutEventsTo(run);

    this.stateMachineLogGroup = new logs.LogGroup(this, 'StateMachineLogs', { retention: logs.RetentionDays.ONE_MONTH });
    const definition = reconcileDefinition({ maxConcurrency, mapMode: props.mapMode, checkSagas: props.sagaChecks !== undefined });
    this.stateMachine = new sfn.StateMachine(this, 'ReconcileStateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(JSON.stringify(definition)),
      definitionSubstitutions: { RunFunctionArn: run.functionArn, SegmentFunctionArn: seg.functionArn },
      tracingEnabled: true,
      logs: { destination: this.stateMachineLogGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      timeout: Duration.days(1),
    });
    run.grantInvoke(this.stateMachine);
    seg.grantInvoke(this.stateMachine);
    if (props.mapMode === 'DISTRIBUTED') {
      // Child executions of a Distributed Map are started by the machine itself.
      this.stateMachine.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:StartExecution', 'states:DescribeExecution', 'states:StopExecution'], resources: ['*'] }));
    }

    this.schedulerRole = new iam.Role(this, 'SchedulerRole', { assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com') });
    this.stateMachine.grantStartExecution(this.schedulerRole);
    const schedules =
      props.schedules ??
      [
        ...(props.digests ? [{ id: 'HourlyDigest', expression: 'rate(1 hour)', input: { mode: 'repair', strategy: 'digest' } } as const] : []),
        { id: 'DailyFull', expression: 'cron(0 3 * * ? *)', input: { mode: 'repair', strategy: 'full' } } as const,
      ];
    this.schedules = schedules.map(
      (s) =>
        new scheduler.CfnSchedule(this, s.id, {
          description: `Converge reconciliation (${s.input.strategy}, ${s.input.mode})`,
          scheduleExpression: s.expression,
          scheduleExpressionTimezone: s.timezone ?? 'UTC',
          flexibleTimeWindow: { mode: 'OFF' },
          target: {
            arn: this.stateMachine.stateMachineArn,
            roleArn: this.schedulerRole.roleArn,
            input: JSON.stringify(s.input),
            retryPolicy: { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 },
          },
        }),
    );

    const ref = (c: Construct) => `<${Stack.of(this).resolve((c.node.defaultChild as CfnResource).logicalId)}.Arn>`;
    for (const f of [this.runFunction, this.segmentFunction]) {
      const role = f.function.role!;
      Validations.of(role).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray trace upload (active tracing) supports no resource-level permissions.' });
      Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${ref(f.logGroup)}:*]`, reason: 'Log streams of the function’s own log group: stream names are generated by Lambda.' });
      Validations.of(role).acknowledge({ id: `AwsSolutions-IAM5[Resource::${ref(props.audit.table)}/index/*]`, reason: 'Reads of the audit trail’s own GSIs (AuditTrail.grantAppend); writes are PutItem on the table only.' });
    }
    const smRole = this.stateMachine.role;
    for (const f of [run, seg]) {
      Validations.of(smRole).acknowledge({ id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).resolve((f.node.defaultChild as CfnResource).logicalId)}.Arn>:*]`, reason: 'Invoking any version or alias of the reconciliation functions (grantInvoke).' });
    }
    Validations.of(smRole).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'X-Ray and CloudWatch Logs delivery actions support no resource-level permissions; Distributed Map child executions are named at run time.' });
  }
}
