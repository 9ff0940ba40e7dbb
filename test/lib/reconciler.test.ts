import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import { beforeAll, describe, expect, it } from 'vitest';
import { AuditTrail } from '../../lib/audit-trail.js';
import { ConvergeStack } from '../../lib/converge-stack.js';
import { BucketDigests } from '../../lib/bucket-digests.js';
import { Reconciler, type ReconcilePair } from '../../lib/reconciler.js';
import { awsSolutionsFindings } from './nag.js';

let stack: Stack;
let template: Template;
let reconciler: Reconciler;

beforeAll(() => {
  const app = new App();
  stack = new Stack(app, 'ReconcilerTest');
  const table = (id: string) => new dynamodb.Table(stack, id, { partitionKey: { name: 'orderId', type: dynamodb.AttributeType.STRING }, stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES, pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true } });
  const pair: ReconcilePair = { name: 'order', source: table('Src'), replica: table('Rep'), keyAttributes: ['orderId'], ignoredFields: ['updatedAt'] };
  const audit = new AuditTrail(stack, 'Audit');
  const digests = new BucketDigests(stack, 'Digests', { pair });
  reconciler = new Reconciler(stack, 'Reconciler', { pair, audit, digests, bus: new events.EventBus(stack, 'Bus'), maxConcurrency: 4, settleDelay: undefined });
  template = Template.fromStack(stack);
});

function policyOf(fn: { role: { node: { defaultChild?: unknown } } } | any): any[] {
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: stack.getLogicalId(fn.role.node.defaultChild) }] } });
  return Object.values(policies).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

describe('Reconciler', () => {
  it('deploys a Standard state machine with full logging and tracing', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: true }),
      DefinitionSubstitutions: { RunFunctionArn: Match.anyValue(), SegmentFunctionArn: Match.anyValue() },
    });
  });

  it('loads the definition from statemachines/reconcile.ts with the configured MaxConcurrency', () => {
    const sm = Object.values(template.findResources('AWS::StepFunctions::StateMachine'))[0] as any;
    const text = JSON.stringify(sm.Properties.DefinitionString);
    expect(text).toContain('\\"MaxConcurrency\\":4');
    expect(text).toContain('SettleDelay');
  });

  it('schedules an hourly digest run and a daily full run through EventBridge Scheduler', () => {
    const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule')).map((s: any) => s.Properties);
    expect(schedules.map((s) => s.ScheduleExpression).sort()).toEqual(['cron(0 3 * * ? *)', 'rate(1 hour)']);
    const inputs = schedules.map((s) => JSON.parse(s.Target.Input));
    expect(inputs).toContainEqual({ mode: 'repair', strategy: 'digest' });
    expect(inputs).toContainEqual({ mode: 'repair', strategy: 'full' });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: 'states:StartExecution', Resource: { Ref: Match.stringLikeRegexp('ReconcileStateMachine') } })]) },
    });
  });

  it('keeps run state in a TTL table keyed by run and entry', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'runId', KeyType: 'HASH' }, { AttributeName: 'entry', KeyType: 'RANGE' }],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
  });

  it('lets the segment worker write only the replica, and never the source', () => {
    const statements = policyOf(reconciler.segmentFunction.function);
    const writes = statements.filter((s) => s.Effect === 'Allow' && [s.Action].flat().some((a: string) => /PutItem|DeleteItem|UpdateItem/.test(a)));
    const resources = JSON.stringify(writes.map((s) => s.Resource));
    expect(resources).toContain(stack.getLogicalId(stack.node.findChild('Rep').node.defaultChild as any));
    expect(resources).not.toContain(stack.getLogicalId(stack.node.findChild('Src').node.defaultChild as any));
  });

  it('is clean under cdk-nag AwsSolutions', () => {
    expect(awsSolutionsFindings(stack)).toEqual([]);
  });
});

describe('Reconciler in the reference stack', () => {
  it('declares ReconcileStateMachineArn and the tables it adds, and checks saga post-conditions', () => {
    const t = Template.fromStack(new ConvergeStack(new App(), 'Converge'));
    for (const key of ['ReconcileStateMachineArn', 'ReconcileRunsTableName', 'DigestTableName']) expect(Object.keys(t.findOutputs(key))).toEqual([key]);
    const env = Object.values(t.findResources('AWS::Lambda::Function')).map((f: any) => f.Properties.Environment?.Variables ?? {}).find((v: any) => v.SAGA_DEFINITION);
    expect(env).toMatchObject({ SAGA_DEFINITION: 'PlaceOrder' });
    // OrdersReplica streams too, for its digests.
    const replica = Object.entries(t.findResources('AWS::DynamoDB::Table')).find(([id]) => id.startsWith('TablesOrdersReplica'))![1] as any;
    expect(replica.Properties.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
  });
});
