import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ScanCommand, DescribeContinuousBackupsCommand, DescribeTableCommand, DescribeTimeToLiveCommand, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { ProvisionRequest, ResourceProvider } from '../../../local/core/aws.js';
import { readStream, startHarness, type Harness } from './harness.js';

let h: Harness;
let provider: ResourceProvider;
beforeEach(async () => {
  h = await startHarness();
  provider = h.ddb.service.providers!.find((p) => p.types.includes('AWS::DynamoDB::Table'))!;
});
afterEach(async () => {
  await h.close();
});

/** Properties as CDK synthesizes them for a streamed, TTL'd, PITR table with a GSI. */
function cdkTable(extra: Record<string, any> = {}): Record<string, any> {
  return {
    AttributeDefinitions: [{ AttributeName: 'orderId', AttributeType: 'S' }, { AttributeName: 'customerId', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'orderId', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
    GlobalSecondaryIndexes: [{ IndexName: 'byCustomer', KeySchema: [{ AttributeName: 'customerId', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } }],
    StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
    TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    SSESpecification: { SSEEnabled: true },
    Tags: [{ Key: 'app', Value: 'converge' }],
    ...extra,
  };
}

const req = (properties: Record<string, any>, logicalId = 'OrdersTable1234'): ProvisionRequest => ({
  stackName: 'ConvergeStack', logicalId, type: 'AWS::DynamoDB::Table', properties, metadata: {}, assemblyDir: '/nowhere', assetPath: (k) => k,
});

describe('AWS::DynamoDB::Table provider', () => {
  it('creates a table with a generated name, its stream, TTL, PITR and GSI', async () => {
    const out = await provider.create(req(cdkTable()));
    expect(out.physicalId).toMatch(/^ConvergeStack-OrdersTable1234-[0-9A-F]{12}$/);
    const table = (await h.client.send(new DescribeTableCommand({ TableName: out.physicalId }))).Table!;
    expect(out.attributes.Arn).toBe(table.TableArn);
    expect(out.attributes.StreamArn).toBe(table.LatestStreamArn);
    expect(table.StreamSpecification?.StreamViewType).toBe('NEW_AND_OLD_IMAGES');
    expect(table.GlobalSecondaryIndexes?.map((g) => g.IndexName)).toEqual(['byCustomer']);
    expect(table.SSEDescription?.Status).toBe('ENABLED');
    expect((await h.client.send(new DescribeTimeToLiveCommand({ TableName: out.physicalId }))).TimeToLiveDescription)
      .toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
    expect((await h.client.send(new DescribeContinuousBackupsCommand({ TableName: out.physicalId }))).ContinuousBackupsDescription?.PointInTimeRecoveryDescription?.PointInTimeRecoveryStatus)
      .toBe('ENABLED');
  });

  it('adopts the table of a previous run with its data and stream', async () => {
    const first = await provider.create(req(cdkTable()));
    await h.client.send(new PutItemCommand({ TableName: first.physicalId, Item: { orderId: { S: 'o1' } } }));
    const again = await provider.create(req(cdkTable()));
    expect(again).toEqual(first);
    expect((await h.client.send(new GetItemCommand({ TableName: first.physicalId, Key: { orderId: { S: 'o1' } } }))).Item).toBeDefined();
  });

  it('updates streams, indexes and TTL in place, and replaces on a key schema change', async () => {
    const props = cdkTable({ TableName: 'Orders' });
    const first = await provider.create(req(props));
    await h.client.send(new PutItemCommand({ TableName: 'Orders', Item: { orderId: { S: 'o1' } } }));
    const changed = cdkTable({ TableName: 'Orders', StreamSpecification: { StreamViewType: 'KEYS_ONLY' }, GlobalSecondaryIndexes: undefined, TimeToLiveSpecification: undefined });
    delete changed.GlobalSecondaryIndexes;
    delete changed.TimeToLiveSpecification;
    const updated = await provider.update!(req(changed), { ...first, properties: props });
    expect(updated.attributes.StreamArn).not.toBe(first.attributes.StreamArn);
    const table = (await h.client.send(new DescribeTableCommand({ TableName: 'Orders' }))).Table!;
    expect(table.StreamSpecification?.StreamViewType).toBe('KEYS_ONLY');
    expect(table.GlobalSecondaryIndexes ?? []).toEqual([]);
    expect((await h.client.send(new DescribeTimeToLiveCommand({ TableName: 'Orders' }))).TimeToLiveDescription?.TimeToLiveStatus).toBe('DISABLED');
    expect((await h.client.send(new GetItemCommand({ TableName: 'Orders', Key: { orderId: { S: 'o1' } } }))).Item).toBeDefined();
    await h.client.send(new PutItemCommand({ TableName: 'Orders', Item: { orderId: { S: 'o2' } } }));
    expect((await readStream(h, 'Orders')).map((r) => r.dynamodb!.Keys)).toEqual([{ orderId: { S: 'o2' } }]);

    const rekeyed = { ...changed, AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }] };
    await provider.update!(req(rekeyed), { ...updated, properties: changed });
    const replaced = (await h.client.send(new DescribeTableCommand({ TableName: 'Orders' }))).Table!;
    expect(replaced.KeySchema).toEqual([{ AttributeName: 'id', KeyType: 'HASH' }]);
    expect((await h.client.send(new ScanCommand({ TableName: 'Orders' }))).Count).toBe(0);
  });

  it('refuses unknown properties by name and honours deletion protection', async () => {
    await expect(provider.create(req(cdkTable({ KinesisStreamSpecification: { StreamArn: 'x' } })))).rejects.toThrow(/KinesisStreamSpecification/);
    await expect(provider.create(req(cdkTable({ GlobalSecondaryIndexes: [{ IndexName: 'g', KeySchema: [], Projection: {}, WarmThroughput: {} }] })))).rejects.toThrow(/WarmThroughput/);
    const t = await provider.create(req(cdkTable({ TableName: 'Protected', DeletionProtectionEnabled: true })));
    await expect(provider.delete('AWS::DynamoDB::Table', t.physicalId, {})).rejects.toMatchObject({ code: 'ValidationException' });
    const off = await provider.update!(req(cdkTable({ TableName: 'Protected', DeletionProtectionEnabled: false })), { ...t, properties: cdkTable({ TableName: 'Protected', DeletionProtectionEnabled: true }) });
    await provider.delete('AWS::DynamoDB::Table', off.physicalId, {});
    await expect(h.client.send(new DescribeTableCommand({ TableName: 'Protected' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
