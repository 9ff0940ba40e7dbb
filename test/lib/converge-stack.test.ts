import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConvergeStack } from '../../lib/converge-stack.js';
import { awsSolutionsFindings } from './nag.js';

let app: App;
let stack: ConvergeStack;
let template: Template;

beforeAll(() => {
  app = new App();
  stack = new ConvergeStack(app, 'Converge');
  template = Template.fromStack(stack);
});

function tableWithKey(key: string) {
  const tables = template.findResources('AWS::DynamoDB::Table', {
    Properties: { KeySchema: [{ AttributeName: key, KeyType: 'HASH' }] },
  });
  return Object.values(tables).map((t) => t.Properties as Record<string, any>);
}

describe('ConvergeStack', () => {
  it.each([
    ['orderId', 2],
    ['sku', 1],
    ['customerId', 1],
    ['auditId', 1],
    ['id', 1],
  ])('has tables keyed by %s (count %i) with only a partition key', (key, count) => {
    const found = tableWithKey(key as string);
    // Shipments is keyed by orderId too.
    expect(found.length).toBeGreaterThanOrEqual(count as number);
    for (const t of found) expect(t.KeySchema).toHaveLength(1);
  });

  it('streams Orders with NEW_AND_OLD_IMAGES and no other business table', () => {
    const streamed = Object.values(template.findResources('AWS::DynamoDB::Table', { Properties: { StreamSpecification: Match.anyValue() } }));
    const keys = streamed.map((t) => t.Properties.KeySchema[0].AttributeName);
    expect(keys).toContain('orderId');
    const orders = template.findResources('AWS::DynamoDB::Table', { Properties: { StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' } } });
    expect(Object.keys(orders).some((id) => id.startsWith('TablesOrders') && !id.startsWith('TablesOrdersReplica'))).toBe(true);
  });

  it('turns on point-in-time recovery and encryption at rest for every table', () => {
    const tables = Object.values(template.findResources('AWS::DynamoDB::Table'));
    expect(tables.length).toBeGreaterThanOrEqual(7);
    for (const t of tables) {
      expect(t.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(t.Properties.SSESpecification).toMatchObject({ SSEEnabled: true });
    }
  });

  it('gives the Audit table a TTL and a GSI by entity, and the Idempotency table a TTL', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'auditId', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      GlobalSecondaryIndexes: Match.arrayWith([
        Match.objectLike({ IndexName: 'byEntity', KeySchema: [{ AttributeName: 'entityId', KeyType: 'HASH' }, { AttributeName: 'at', KeyType: 'RANGE' }] }),
      ]),
    });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
    });
  });

  it('creates the bus with an archive of its events', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^EventsBus'), 'Arn'] },
      RetentionDays: 30,
    });
  });

  it.each([
    'OrdersTableName',
    'OrdersReplicaTableName',
    'InventoryTableName',
    'WalletsTableName',
    'ShipmentsTableName',
    'AuditTableName',
    'EventBusName',
    'PlaceOrderStateMachineArn',
    'ReconcileStateMachineArn',
    'SagaLedgerTableName',
    'SyncDeadLetterQueueUrl',
  ])('declares the output %s', (key) => {
    expect(Object.keys(template.findOutputs(key))).toEqual([key]);
  });

  it('is clean under cdk-nag AwsSolutions', () => {
    expect(awsSolutionsFindings(stack)).toEqual([]);
  });
});
