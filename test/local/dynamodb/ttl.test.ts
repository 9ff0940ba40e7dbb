import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type AttributeValue, DescribeTimeToLiveCommand, GetItemCommand, PutItemCommand, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { createTable, readStream, startHarness, type Harness } from './harness.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
  await createTable(h, 'Sessions', 'NEW_AND_OLD_IMAGES');
});
afterEach(async () => {
  await h.close();
});

describe('TTL', () => {
  it('is configured with UpdateTimeToLive and reported by DescribeTimeToLive', async () => {
    expect((await h.client.send(new DescribeTimeToLiveCommand({ TableName: 'Sessions' }))).TimeToLiveDescription).toEqual({ TimeToLiveStatus: 'DISABLED' });
    const out = await h.client.send(new UpdateTimeToLiveCommand({ TableName: 'Sessions', TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' } }));
    expect(out.TimeToLiveSpecification).toEqual({ Enabled: true, AttributeName: 'expiresAt' });
    expect((await h.client.send(new DescribeTimeToLiveCommand({ TableName: 'Sessions' }))).TimeToLiveDescription).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
    await expect(h.client.send(new UpdateTimeToLiveCommand({ TableName: 'Sessions', TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' } })))
      .rejects.toMatchObject({ name: 'ValidationException', message: 'TimeToLive is already enabled' });
    await expect(h.client.send(new DescribeTimeToLiveCommand({ TableName: 'Nope' }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('sweeps expired items when the clock advances and records a service REMOVE', async () => {
    await h.client.send(new UpdateTimeToLiveCommand({ TableName: 'Sessions', TimeToLiveSpecification: { Enabled: true, AttributeName: 'expiresAt' } }));
    const now = Math.floor(h.kernel.clock.now() / 1000);
    const item = (pk: string, expiresAt: AttributeValue): Record<string, AttributeValue> => ({ pk: { S: pk }, expiresAt });
    await h.client.send(new PutItemCommand({ TableName: 'Sessions', Item: item('soon', { N: String(now + 60) }) }));
    await h.client.send(new PutItemCommand({ TableName: 'Sessions', Item: item('later', { N: String(now + 7200) }) }));
    await h.client.send(new PutItemCommand({ TableName: 'Sessions', Item: item('text', { S: String(now - 10) }) }));
    await h.client.send(new PutItemCommand({ TableName: 'Sessions', Item: item('ancient', { N: String(now - 6 * 365 * 86400) }) }));
    await h.kernel.clock.advance(30 * 1000);
    expect((await h.client.send(new GetItemCommand({ TableName: 'Sessions', Key: { pk: { S: 'soon' } } }))).Item).toBeDefined();
    await h.kernel.clock.advance(61 * 1000);
    expect((await h.client.send(new GetItemCommand({ TableName: 'Sessions', Key: { pk: { S: 'soon' } } }))).Item).toBeUndefined();
    // Not a Number, or more than five years past: AWS's TTL leaves those alone.
    for (const pk of ['later', 'text', 'ancient']) {
      expect((await h.client.send(new GetItemCommand({ TableName: 'Sessions', Key: { pk: { S: pk } } }))).Item).toBeDefined();
    }
    const removes = (await readStream(h, 'Sessions')).filter((r) => r.eventName === 'REMOVE');
    expect(removes).toHaveLength(1);
    expect(removes[0].userIdentity).toEqual({ Type: 'Service', PrincipalId: 'dynamodb.amazonaws.com' });
    expect(removes[0].dynamodb).toMatchObject({ Keys: { pk: { S: 'soon' } }, OldImage: item('soon', { N: String(now + 60) }) });
    expect(h.ddb.dynamodb.counters().DeleteItem).toBeUndefined();
  });
});
