import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BatchWriteItemCommand, ConditionalCheckFailedException, QueryCommand, DeleteItemCommand, DescribeTableCommand, GetItemCommand, PutItemCommand,
  UpdateItemCommand, UpdateTableCommand, type StreamViewType,
} from '@aws-sdk/client-dynamodb';
import { createTable, readStream, startHarness, type Harness } from './harness.js';

let h: Harness;
beforeEach(async () => {
  h = await startHarness();
});
afterEach(async () => {
  await h.close();
});

const key = (pk: string) => ({ pk: { S: pk } });

/** Runs one of every write kind and returns the records of the stream. */
async function everyWriteKind(table: string) {
  await h.client.send(new PutItemCommand({ TableName: table, Item: { ...key('a'), v: { N: '1' } } }));
  await h.client.send(new PutItemCommand({ TableName: table, Item: { ...key('a'), v: { N: '2' } } }));
  await h.client.send(new UpdateItemCommand({ TableName: table, Key: key('a'), UpdateExpression: 'SET v = v + :one', ExpressionAttributeValues: { ':one': { N: '1' } } }));
  await h.client.send(new DeleteItemCommand({ TableName: table, Key: key('a') }));
  await h.client.send(new BatchWriteItemCommand({ RequestItems: { [table]: [{ PutRequest: { Item: { ...key('b'), v: { N: '9' } } } }] } }));
  return readStream(h, table);
}

describe('DynamoDB front', () => {
  it('round-trips an item and describes the stream on the table', async () => {
    await createTable(h, 'Orders', 'NEW_AND_OLD_IMAGES');
    await h.client.send(new PutItemCommand({ TableName: 'Orders', Item: { ...key('o1'), amount: { N: '100' }, tags: { SS: ['x', 'y'] } } }));
    const { Item } = await h.client.send(new GetItemCommand({ TableName: 'Orders', Key: key('o1') }));
    expect(Item).toEqual({ ...key('o1'), amount: { N: '100' }, tags: { SS: ['x', 'y'] } });
    const { Table } = await h.client.send(new DescribeTableCommand({ TableName: 'Orders' }));
    expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(Table?.LatestStreamArn).toMatch(/^arn:aws:dynamodb:us-east-1:000000000000:table\/Orders\/stream\/2026-01-01T00:00:\d\d\.\d{3}$/);
    expect(Table?.LatestStreamArn?.endsWith(`/stream/${Table?.LatestStreamLabel}`)).toBe(true);
  });

  it('records INSERT, MODIFY and REMOVE with exact images for NEW_AND_OLD_IMAGES', async () => {
    await createTable(h, 'Tab', 'NEW_AND_OLD_IMAGES');
    const records = await everyWriteKind('Tab');
    expect(records.map((r) => r.eventName)).toEqual(['INSERT', 'MODIFY', 'MODIFY', 'REMOVE', 'INSERT']);
    const d = records.map((r) => r.dynamodb!);
    expect(d[0]).toMatchObject({ Keys: key('a'), NewImage: { ...key('a'), v: { N: '1' } } });
    expect(d[0].OldImage).toBeUndefined();
    expect(d[1]).toMatchObject({ OldImage: { ...key('a'), v: { N: '1' } }, NewImage: { ...key('a'), v: { N: '2' } } });
    expect(d[2]).toMatchObject({ OldImage: { ...key('a'), v: { N: '2' } }, NewImage: { ...key('a'), v: { N: '3' } } });
    expect(d[3]).toMatchObject({ Keys: key('a'), OldImage: { ...key('a'), v: { N: '3' } } });
    expect(d[3].NewImage).toBeUndefined();
    expect(d[4]).toMatchObject({ Keys: key('b'), NewImage: { ...key('b'), v: { N: '9' } } });
    const seqs = d.map((x) => BigInt(x.SequenceNumber!));
    for (let i = 1; i < seqs.length; i += 1) expect(seqs[i] > seqs[i - 1]).toBe(true);
    expect(d[0].SequenceNumber!.length).toBeGreaterThanOrEqual(21);
    for (const r of records) {
      expect(r).toMatchObject({ eventVersion: '1.1', eventSource: 'aws:dynamodb', awsRegion: 'us-east-1' });
      expect(r.eventID).toMatch(/^[0-9a-f]{32}$/);
      expect(r.dynamodb!.StreamViewType).toBe('NEW_AND_OLD_IMAGES');
      expect(r.dynamodb!.SizeBytes).toBeGreaterThan(0);
      // Epoch seconds from the local clock (started at 2026-01-01, running at wall speed).
      const at = r.dynamodb!.ApproximateCreationDateTime!.getTime();
      expect(at % 1000).toBe(0);
      expect(at - Date.UTC(2026, 0, 1)).toBeGreaterThanOrEqual(0);
      expect(at - Date.UTC(2026, 0, 1)).toBeLessThan(60_000);
    }
  });

  it.each<[StreamViewType, boolean, boolean]>([
    ['KEYS_ONLY', false, false],
    ['NEW_IMAGE', true, false],
    ['OLD_IMAGE', false, true],
  ])('honours the %s view type', async (viewType, hasNew, hasOld) => {
    await createTable(h, 'Vws', viewType);
    const records = await everyWriteKind('Vws');
    expect(records.map((r) => r.eventName)).toEqual(['INSERT', 'MODIFY', 'MODIFY', 'REMOVE', 'INSERT']);
    const modify = records[1].dynamodb!;
    expect(modify.Keys).toEqual(key('a'));
    expect(modify.NewImage).toEqual(hasNew ? { ...key('a'), v: { N: '2' } } : undefined);
    expect(modify.OldImage).toEqual(hasOld ? { ...key('a'), v: { N: '1' } } : undefined);
    expect(records.every((r) => r.dynamodb!.StreamViewType === viewType)).toBe(true);
  });

  it('records nothing for a failed condition, an unchanged put or a delete of nothing', async () => {
    await createTable(h, 'Cond', 'NEW_AND_OLD_IMAGES');
    await h.client.send(new PutItemCommand({ TableName: 'Cond', Item: { ...key('a'), v: { N: '1' } } }));
    const failed = h.client.send(new PutItemCommand({
      TableName: 'Cond', Item: { ...key('a'), v: { N: '5' } }, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    }));
    await expect(failed).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    const err = (await failed.catch((e) => e)) as ConditionalCheckFailedException;
    expect(err.Item).toEqual({ ...key('a'), v: { N: '1' } });
    await expect(h.client.send(new UpdateItemCommand({
      TableName: 'Cond', Key: key('a'), UpdateExpression: 'SET v = :v', ConditionExpression: 'v = :other', ExpressionAttributeValues: { ':v': { N: '7' }, ':other': { N: '0' } },
    }))).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    await h.client.send(new PutItemCommand({ TableName: 'Cond', Item: { ...key('a'), v: { N: '1' } } }));
    await h.client.send(new DeleteItemCommand({ TableName: 'Cond', Key: key('nothing') }));
    const records = await readStream(h, 'Cond');
    expect(records.map((r) => r.eventName)).toEqual(['INSERT']);
    const { Item } = await h.client.send(new GetItemCommand({ TableName: 'Cond', Key: key('a') }));
    expect(Item).toEqual({ ...key('a'), v: { N: '1' } });
  });

  it.each([undefined, 'NEW_AND_OLD_IMAGES'] as const)('returns the refused item with every conditional write kind, reading it only on a refusal (stream %s)', async (viewType) => {
    await createTable(h, 'Refuse', viewType);
    await h.client.send(new PutItemCommand({ TableName: 'Refuse', Item: { ...key('a'), v: { N: '3' } } }));
    const reads = vi.spyOn(h.ddb.front.backend, 'call');
    const getItems = () => reads.mock.calls.filter(([op]) => op === 'GetItem').length;
    const guard = { ConditionExpression: 'v < :v', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const };

    await h.client.send(new PutItemCommand({ TableName: 'Refuse', Item: { ...key('b'), v: { N: '1' } }, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' }));
    await h.client.send(new DeleteItemCommand({ TableName: 'Refuse', Key: key('b'), ...guard, ExpressionAttributeValues: { ':v': { N: '2' } } }));
    expect(getItems()).toBe(0);

    const refusals = [
      h.client.send(new PutItemCommand({ TableName: 'Refuse', Item: { ...key('a'), v: { N: '2' } }, ...guard, ExpressionAttributeValues: { ':v': { N: '2' } } })),
      h.client.send(new UpdateItemCommand({ TableName: 'Refuse', Key: key('a'), UpdateExpression: 'SET w = :v', ...guard, ExpressionAttributeValues: { ':v': { N: '2' } } })),
      h.client.send(new DeleteItemCommand({ TableName: 'Refuse', Key: key('a'), ...guard, ExpressionAttributeValues: { ':v': { N: '2' } } })),
    ];
    for (const refused of refusals) {
      const err = (await refused.catch((e) => e)) as ConditionalCheckFailedException;
      expect(err).toBeInstanceOf(ConditionalCheckFailedException);
      expect(err.Item).toEqual({ ...key('a'), v: { N: '3' } });
    }
    reads.mockRestore();
  });

  it("honours the caller's ReturnValues while recording both images", async () => {
    await createTable(h, 'Ret', 'NEW_AND_OLD_IMAGES');
    const put = await h.client.send(new PutItemCommand({ TableName: 'Ret', Item: { ...key('a'), v: { N: '1' }, w: { S: 'x' } }, ReturnValues: 'ALL_OLD' }));
    expect(put.Attributes).toBeUndefined();
    const put2 = await h.client.send(new PutItemCommand({ TableName: 'Ret', Item: { ...key('a'), v: { N: '2' }, w: { S: 'x' } } }));
    expect(put2.Attributes).toBeUndefined();
    const upd = (rv: 'ALL_OLD' | 'ALL_NEW' | 'UPDATED_OLD' | 'UPDATED_NEW' | 'NONE', n: string) =>
      h.client.send(new UpdateItemCommand({ TableName: 'Ret', Key: key('a'), UpdateExpression: 'SET v = :v', ExpressionAttributeValues: { ':v': { N: n } }, ReturnValues: rv }));
    expect((await upd('UPDATED_OLD', '3')).Attributes).toEqual({ v: { N: '2' } });
    expect((await upd('UPDATED_NEW', '4')).Attributes).toEqual({ v: { N: '4' } });
    expect((await upd('ALL_OLD', '5')).Attributes).toEqual({ ...key('a'), v: { N: '4' }, w: { S: 'x' } });
    expect((await upd('ALL_NEW', '6')).Attributes).toEqual({ ...key('a'), v: { N: '6' }, w: { S: 'x' } });
    expect((await upd('NONE', '7')).Attributes).toBeUndefined();
    const del = await h.client.send(new DeleteItemCommand({ TableName: 'Ret', Key: key('a'), ReturnValues: 'ALL_OLD' }));
    expect(del.Attributes).toEqual({ ...key('a'), v: { N: '7' }, w: { S: 'x' } });
    const images = (await readStream(h, 'Ret')).map((r) => [r.eventName, r.dynamodb!.OldImage?.v?.N, r.dynamodb!.NewImage?.v?.N]);
    expect(images).toEqual([
      ['INSERT', undefined, '1'], ['MODIFY', '1', '2'], ['MODIFY', '2', '3'], ['MODIFY', '3', '4'], ['MODIFY', '4', '5'],
      ['MODIFY', '5', '6'], ['MODIFY', '6', '7'], ['REMOVE', '7', undefined],
    ]);
  });

  it('records every item of a batch with its old image, and keeps sequence order under concurrency', async () => {
    await createTable(h, 'Bat', 'NEW_AND_OLD_IMAGES');
    await h.client.send(new PutItemCommand({ TableName: 'Bat', Item: { ...key('k0'), v: { N: '0' } } }));
    await h.client.send(new BatchWriteItemCommand({
      RequestItems: { Bat: [
        { PutRequest: { Item: { ...key('k0'), v: { N: '1' } } } },
        { PutRequest: { Item: { ...key('k1'), v: { N: '1' } } } },
        { DeleteRequest: { Key: key('k9') } },
      ] },
    }));
    await Promise.all(Array.from({ length: 20 }, (_, i) => h.client.send(new UpdateItemCommand({
      TableName: 'Bat', Key: key(`c${i % 4}`), UpdateExpression: 'ADD n :one', ExpressionAttributeValues: { ':one': { N: '1' } },
    }))));
    const records = await readStream(h, 'Bat');
    expect(records.slice(0, 3).map((r) => [r.eventName, r.dynamodb!.Keys!.pk.S, r.dynamodb!.OldImage?.v?.N])).toEqual([
      ['INSERT', 'k0', undefined], ['MODIFY', 'k0', '0'], ['INSERT', 'k1', undefined],
    ]);
    // Per item, each record's old image is the previous record's new image: images are exact.
    for (let c = 0; c < 4; c += 1) {
      const mine = records.filter((r) => r.dynamodb!.Keys!.pk.S === `c${c}`);
      expect(mine.map((r) => r.dynamodb!.NewImage!.n.N)).toEqual(['1', '2', '3', '4', '5']);
      expect(mine.map((r) => r.dynamodb!.OldImage?.n?.N)).toEqual([undefined, '1', '2', '3', '4']);
    }
    expect(h.ddb.dynamodb.counters()).toMatchObject({ PutItem: 1, BatchWriteItem: 1, UpdateItem: 20, writeRequests: 24 });
  });

  it('passes dynalite errors through and refuses unknown operations and parameters', async () => {
    await expect(h.client.send(new GetItemCommand({ TableName: 'Missing', Key: key('a') }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(h.ddb.dynamodb.call('ExecuteStatement', { Statement: 'SELECT * FROM x' })).rejects.toMatchObject({ code: 'UnknownOperationException' });
    await expect(h.ddb.dynamodb.call('CreateTable', { TableName: 'x1', OnDemandThroughput: {} })).rejects.toMatchObject({ code: 'ValidationException', message: expect.stringContaining('OnDemandThroughput') });
    await createTable(h, 'Err');
    await expect(h.client.send(new BatchWriteItemCommand({
      RequestItems: { Err: Array.from({ length: 26 }, (_, i) => ({ PutRequest: { Item: key(`i${i}`) } })) },
    }))).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('enables and disables a stream with UpdateTable; the old stream stays readable', async () => {
    await createTable(h, 'Upd');
    await expect(h.client.send(new UpdateTableCommand({ TableName: 'Upd', StreamSpecification: { StreamEnabled: false } }))).rejects.toMatchObject({ name: 'ValidationException' });
    const on = await h.client.send(new UpdateTableCommand({ TableName: 'Upd', StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' } }));
    expect(on.TableDescription?.LatestStreamArn).toContain('table/Upd/stream/');
    await h.client.send(new PutItemCommand({ TableName: 'Upd', Item: key('a') }));
    await h.client.send(new UpdateTableCommand({ TableName: 'Upd', StreamSpecification: { StreamEnabled: false } }));
    await h.client.send(new PutItemCommand({ TableName: 'Upd', Item: key('b') }));
    const { Table } = await h.client.send(new DescribeTableCommand({ TableName: 'Upd' }));
    expect(Table?.StreamSpecification).toBeUndefined();
    expect(Table?.LatestStreamArn).toBe(on.TableDescription?.LatestStreamArn);
    expect((await readStream(h, 'Upd')).map((r) => r.dynamodb!.Keys!.pk.S)).toEqual(['a']);
  });

  it('creates and deletes a GSI with UpdateTable, keeping the data and the stream', async () => {
    await createTable(h, 'Gsi', 'NEW_IMAGE');
    await h.client.send(new PutItemCommand({ TableName: 'Gsi', Item: { ...key('a'), owner: { S: 'ann' } } }));
    await h.client.send(new UpdateTableCommand({
      TableName: 'Gsi',
      AttributeDefinitions: [{ AttributeName: 'owner', AttributeType: 'S' }],
      GlobalSecondaryIndexUpdates: [{ Create: { IndexName: 'byOwner', KeySchema: [{ AttributeName: 'owner', KeyType: 'HASH' }], Projection: { ProjectionType: 'ALL' } } }],
    }));
    const q = await h.client.send(new QueryCommand({ TableName: 'Gsi', IndexName: 'byOwner', KeyConditionExpression: '#o = :o', ExpressionAttributeNames: { '#o': 'owner' }, ExpressionAttributeValues: { ':o': { S: 'ann' } } }));
    expect(q.Items).toEqual([{ ...key('a'), owner: { S: 'ann' } }]);
    await h.client.send(new UpdateTableCommand({ TableName: 'Gsi', GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: 'byOwner' } }] }));
    const { Table } = await h.client.send(new DescribeTableCommand({ TableName: 'Gsi' }));
    expect(Table?.GlobalSecondaryIndexes ?? []).toEqual([]);
    expect((await h.client.send(new GetItemCommand({ TableName: 'Gsi', Key: key('a') }))).Item).toEqual({ ...key('a'), owner: { S: 'ann' } });
    await h.client.send(new PutItemCommand({ TableName: 'Gsi', Item: key('b') }));
    expect((await readStream(h, 'Gsi')).map((r) => r.dynamodb!.Keys!.pk.S)).toEqual(['a', 'b']);
  });
});
