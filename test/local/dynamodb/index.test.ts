import { afterEach, describe, expect, it } from 'vitest';
import { DescribeTableCommand, DescribeTimeToLiveCommand, GetItemCommand, PutItemCommand, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { createTable, readStream, startHarness, type Harness } from './harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('createDynamoDb', () => {
  it('keeps items, table settings and stream records across a stop and start', async () => {
    h = await startHarness();
    const { stateDir } = h;
    await createTable(h, 'Orders', 'NEW_AND_OLD_IMAGES');
    await h.client.send(new UpdateTimeToLiveCommand({ TableName: 'Orders', TimeToLiveSpecification: { Enabled: true, AttributeName: 'ttl' } }));
    await h.client.send(new PutItemCommand({ TableName: 'Orders', Item: { pk: { S: 'o1' }, v: { N: '1' } } }));
    await h.client.send(new PutItemCommand({ TableName: 'Orders', Item: { pk: { S: 'o1' }, v: { N: '2' } } }));
    const before = await readStream(h, 'Orders');
    const streamArn = (await h.client.send(new DescribeTableCommand({ TableName: 'Orders' }))).Table!.LatestStreamArn;
    await h.close();

    h = await startHarness({ stateDir });
    expect((await h.client.send(new GetItemCommand({ TableName: 'Orders', Key: { pk: { S: 'o1' } } }))).Item).toEqual({ pk: { S: 'o1' }, v: { N: '2' } });
    const table = (await h.client.send(new DescribeTableCommand({ TableName: 'Orders' }))).Table!;
    expect(table.LatestStreamArn).toBe(streamArn);
    expect(table.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect((await h.client.send(new DescribeTimeToLiveCommand({ TableName: 'Orders' }))).TimeToLiveDescription?.TimeToLiveStatus).toBe('ENABLED');
    await h.client.send(new PutItemCommand({ TableName: 'Orders', Item: { pk: { S: 'o1' }, v: { N: '3' } } }));
    const after = await readStream(h, 'Orders');
    expect(after.slice(0, 2)).toEqual(before);
    expect(after).toHaveLength(3);
    expect(BigInt(after[2].dynamodb!.SequenceNumber!) > BigInt(after[1].dynamodb!.SequenceNumber!)).toBe(true);
    expect(after[2].dynamodb!.OldImage).toEqual({ pk: { S: 'o1' }, v: { N: '2' } });
  });

  it('applies a fault plan: an injected error on PutItem, then a throttle, then success', async () => {
    h = await startHarness();
    await createTable(h, 'Faulty');
    h.kernel.faults.load({
      rules: [
        { id: 'boom', service: 'dynamodb', table: 'Faulty', operation: 'PutItem', kind: 'error', errorName: 'InternalServerError', times: 1 },
        { id: 'slow-down', service: 'dynamodb', operation: 'PutItem', kind: 'throttle', after: 1, times: 1 },
      ],
    });
    const put = () => h!.client.send(new PutItemCommand({ TableName: 'Faulty', Item: { pk: { S: 'a' } } }));
    await expect(put()).rejects.toMatchObject({ name: 'InternalServerError', message: 'fault injected by boom' });
    await expect(put()).rejects.toMatchObject({ name: 'ProvisionedThroughputExceededException' });
    await put();
    expect(h.kernel.faults.stats()).toEqual([{ rule: 'boom', matched: 3, fired: 1 }, { rule: 'slow-down', matched: 3, fired: 1 }]);
    expect((await h.client.send(new GetItemCommand({ TableName: 'Faulty', Key: { pk: { S: 'a' } } }))).Item).toBeDefined();
    // A kind that means nothing for DynamoDB API calls is refused when the plan is loaded.
    expect(() => h!.kernel.faults.load({ rules: [{ id: 'dup', service: 'dynamodb', kind: 'duplicate' }] })).toThrow(/does not apply to service 'dynamodb'/);
  });
});
