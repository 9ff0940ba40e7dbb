import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import { beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../lib/audit-trail.js';
import { ConvergeStack } from '../../lib/converge-stack.js';
import { IdempotencyStore } from '../../lib/idempotency-store.js';
import { TableStreamToReplicas } from '../../lib/table-stream-to-replicas.js';
import { awsSolutionsFindings } from './nag.js';

/** An app that skips esbuild bundling: the template is what these tests read, not the bundle. */
const testApp = () => new App({ context: { 'aws:cdk:bundling-stacks': [] } });

/** A stack with one source, two replicas and the construct under test. */
function build(extra: Partial<ConstructorParameters<typeof TableStreamToReplicas>[2]> = {}) {
  const app = testApp();
  const stack = new Stack(app, 'SyncTest');
  const table = (id: string, stream?: dynamodb.StreamViewType) =>
    new dynamodb.Table(stack, id, { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING }, stream, removalPolicy: RemovalPolicy.DESTROY, pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true } });
  const source = table('Source', dynamodb.StreamViewType.NEW_AND_OLD_IMAGES);
  const replicaA = table('ReplicaA');
  const replicaB = table('ReplicaB');
  const audit = new AuditTrail(stack, 'Audit', { removalPolicy: RemovalPolicy.DESTROY });
  const idempotency = new IdempotencyStore(stack, 'Idem');
  const bus = new events.EventBus(stack, 'Bus');
  const sync = new TableStreamToReplicas(stack, 'Sync', { source, replicas: [replicaA, replicaB], keyAttributes: ['pk'], audit, idempotency, changeEvents: { bus, event: 'OrderChanged' }, ...extra });
  return { app, stack, sync, source, replicaA, replicaB, audit, idempotency, template: Template.fromStack(stack) };
}

/** Every statement of the sync function's role, flattened. */
function statementsOf(template: Template): Array<Record<string, any>> {
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^SyncRole') }] } });
  return Object.values(policies).flatMap((p) => p.Properties.PolicyDocument.Statement);
}
const actionsOf = (s: Record<string, any>) => (Array.isArray(s.Action) ? s.Action : [s.Action]) as string[];
const refersTo = (s: Record<string, any>, logicalIdPrefix: string) => JSON.stringify(s.Resource).includes(`"${logicalIdPrefix}`);

describe('TableStreamToReplicas', () => {
  let built: ReturnType<typeof build>;
  beforeAll(() => {
    built = build();
  });

  it('maps the stream with safe defaults: TRIM_HORIZON, bisect, bounded retries and age, partial batch responses', () => {
    built.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Source'), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 100,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: 5,
      MaximumRecordAgeInSeconds: 3600,
      ParallelizationFactor: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SyncDeadLetterQueue'), 'Arn'] } } },
    });
  });

  it('honours batch settings', () => {
    const { template } = build({ batch: { batchSize: 10, maxBatchingWindow: Duration.seconds(2), retryAttempts: 2, maxRecordAge: Duration.minutes(5), parallelizationFactor: 4 } });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 10, MaximumBatchingWindowInSeconds: 2, MaximumRetryAttempts: 2, MaximumRecordAgeInSeconds: 300, ParallelizationFactor: 4 });
  });

  it('gives the CPU-bound sync function 1,024 MB by default, or what it is given', () => {
    built.template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ SOURCE_TABLE_NAME: Match.anyValue() }) }, MemorySize: 1024 });
    build({ memorySize: 1769 }).template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ SOURCE_TABLE_NAME: Match.anyValue() }) }, MemorySize: 1769 });
  });

  it('makes the dead-letter queue encrypted and TLS-only', () => {
    built.template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 });
    built.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: Match.stringLikeRegexp('^SyncDeadLetterQueue') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('alarms on IteratorAge and on the dead-letter queue depth', () => {
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Namespace: 'AWS/Lambda', Statistic: 'Maximum', Threshold: 60_000, ComparisonOperator: 'GreaterThanThreshold' });
    built.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Threshold: 0,
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SyncDeadLetterQueue'), 'QueueName'] } }],
    });
  });

  it('configures the function from its props', () => {
    built.template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Environment: {
        Variables: Match.objectLike({
          SOURCE_TABLE_NAME: { Ref: Match.stringLikeRegexp('^Source') },
          REPLICA_TABLE_NAMES: { 'Fn::Join': ['', [{ Ref: Match.stringLikeRegexp('^ReplicaA') }, ',', { Ref: Match.stringLikeRegexp('^ReplicaB') }]] },
          KEY_ATTRIBUTES: 'pk',
          VERSION_ATTRIBUTE: 'version',
          PROJECTION_MODE: 'all',
          DELETE_MODE: 'delete',
          CHANGE_EVENT: 'OrderChanged',
          EVENT_BUS_NAME: { Ref: Match.stringLikeRegexp('^Bus') },
          DEAD_LETTER_QUEUE_URL: { Ref: Match.stringLikeRegexp('^SyncDeadLetterQueue') },
          IDEMPOTENCY_TTL_SECONDS: '90000',
        }),
      },
    });
    const { template } = build({ projection: { exclude: ['updatedAt'] }, deleteMode: 'tombstone' });
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ PROJECTION_MODE: 'exclude', PROJECTION_ATTRIBUTES: 'updatedAt', DELETE_MODE: 'tombstone' }) } });
  });

  describe('least privilege', () => {
    it('reads the source stream and never writes the source table', () => {
      const statements = statementsOf(built.template).filter((s) => s.Effect === 'Allow');
      const onSource = statements.filter((s) => refersTo(s, 'Source'));
      expect(onSource.length).toBeGreaterThan(0);
      for (const s of onSource) {
        for (const a of actionsOf(s)) expect(a).toMatch(/^dynamodb:(DescribeStream|GetRecords|GetShardIterator|ListStreams)$/);
        expect(JSON.stringify(s.Resource)).toContain('StreamArn');
      }
      const writes = statements.filter((s) => actionsOf(s).some((a) => /^dynamodb:(PutItem|UpdateItem|DeleteItem|BatchWriteItem|\*)/.test(a)));
      for (const s of writes) expect(refersTo(s, 'Source')).toBe(false);
    });

    it('writes replicas with PutItem/DeleteItem only', () => {
      const statements = statementsOf(built.template).filter((s) => s.Effect === 'Allow' && refersTo(s, 'ReplicaA'));
      expect(statements).toHaveLength(1);
      expect(actionsOf(statements[0]!).sort()).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem']);
      expect(refersTo(statements[0]!, 'ReplicaB')).toBe(true);
    });

    it('may only PutItem on the audit table, with the explicit Deny of rewrites present', () => {
      const statements = statementsOf(built.template);
      const auditWrites = statements.filter((s) => s.Effect === 'Allow' && refersTo(s, 'Audit') && actionsOf(s).some((a) => /Put|Update|Delete|Write/.test(a)));
      expect(auditWrites.flatMap(actionsOf)).toEqual(['dynamodb:PutItem']);
      const deny = statements.find((s) => s.Effect === 'Deny' && refersTo(s, 'Audit'));
      expect(actionsOf(deny!)).toEqual(expect.arrayContaining(['dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']));
    });

    it('sends to its DLQ and puts events on its bus, nothing broader', () => {
      const statements = statementsOf(built.template).filter((s) => s.Effect === 'Allow');
      const sqs = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('sqs:')));
      for (const s of sqs) expect(refersTo(s, 'SyncDeadLetterQueue')).toBe(true);
      const put = statements.filter((s) => actionsOf(s).includes('events:PutEvents'));
      expect(put).toHaveLength(1);
      expect(refersTo(put[0]!, 'Bus')).toBe(true);
    });
  });

  it('exposes every resource it creates', () => {
    const { sync } = built;
    expect(sync.handler.function).toBeDefined();
    expect(sync.mapping.eventSourceMappingId).toBeDefined();
    expect(sync.deadLetterQueue.queueUrl).toBeDefined();
    expect(sync.iteratorAgeAlarm.alarmArn).toBeDefined();
    expect(sync.deadLetterAlarm.alarmArn).toBeDefined();
  });

  it('refuses a source without a stream, no replicas, or include and exclude together', () => {
    const app = testApp();
    const stack = new Stack(app, 'Bad');
    const plain = new dynamodb.Table(stack, 'Plain', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING } });
    const audit = new AuditTrail(stack, 'Audit');
    const idempotency = new IdempotencyStore(stack, 'Idem');
    expect(() => new TableStreamToReplicas(stack, 'A', { source: plain, replicas: [plain], audit, idempotency })).toThrow(/no stream/);
    const streamed = new dynamodb.Table(stack, 'Streamed', { partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING }, stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES });
    expect(() => new TableStreamToReplicas(stack, 'B', { source: streamed, replicas: [], audit, idempotency })).toThrow(/at least one replica/);
    expect(() => new TableStreamToReplicas(stack, 'C', { source: streamed, replicas: [plain], audit, idempotency, projection: { include: ['a'], exclude: ['b'] } as never })).toThrow(/not both/);
  });

  it('is clean under cdk-nag AwsSolutions on its own', () => {
    expect(awsSolutionsFindings(built.stack).filter((f) => f.includes('Sync'))).toEqual([]);
  });
});

describe('the reference stack', () => {
  let stack: ConvergeStack;
  let template: Template;
  beforeAll(() => {
    stack = new ConvergeStack(testApp(), 'Converge');
    template = Template.fromStack(stack);
  });

  it('syncs Orders → OrdersReplica, validating Order images and publishing OrderChanged', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^TablesOrders(?!Replica)'), 'StreamArn'] } });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ KEY_ATTRIBUTES: 'orderId', ENTITY_NAME: 'order', IMAGE_CONTRACT: 'Order', CHANGE_EVENT: 'OrderChanged', REPLICA_TABLE_NAMES: { Ref: Match.stringLikeRegexp('^TablesOrdersReplica') } }) },
    });
  });

  it.each(['SyncDeadLetterQueueUrl', 'SyncFunctionName'])('declares the output %s', (key) => {
    expect(Object.keys(template.findOutputs(key))).toEqual([key]);
  });

  it('stays clean under cdk-nag AwsSolutions', () => {
    expect(awsSolutionsFindings(stack)).toEqual([]);
  });
});
