import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand, ExpiredIteratorException, GetRecordsCommand, GetShardIteratorCommand, ListStreamsCommand,
  TrimmedDataAccessException, type ShardIteratorType,
} from '@aws-sdk/client-dynamodb-streams';
import { createTable, startHarness, type Harness } from './harness.js';

let h: Harness;
let streamArn: string;
let shardId: string;

beforeEach(async () => {
  h = await startHarness();
  await createTable(h, 'Events', 'NEW_IMAGE');
  await createTable(h, 'Plain');
  const { Streams } = await h.streams.send(new ListStreamsCommand({}));
  streamArn = Streams![0].StreamArn!;
  const d = await h.streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
  shardId = d.StreamDescription!.Shards![0].ShardId!;
});
afterEach(async () => {
  await h.close();
});

const put = (pk: string) => h.client.send(new PutItemCommand({ TableName: 'Events', Item: { pk: { S: pk } } }));
const iterator = async (type: ShardIteratorType, SequenceNumber?: string) =>
  (await h.streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: shardId, ShardIteratorType: type, SequenceNumber }))).ShardIterator!;
const keysOf = async (it: string, Limit?: number) => {
  const out = await h.streams.send(new GetRecordsCommand({ ShardIterator: it, Limit }));
  return { keys: (out.Records ?? []).map((r) => r.dynamodb!.Keys!.pk.S), next: out.NextShardIterator, records: out.Records ?? [] };
};

describe('DynamoDB Streams API', () => {
  it('lists and describes only streamed tables', async () => {
    const { Streams } = await h.streams.send(new ListStreamsCommand({}));
    expect(Streams).toEqual([{ StreamArn: streamArn, TableName: 'Events', StreamLabel: streamArn.split('/stream/')[1] }]);
    expect((await h.streams.send(new ListStreamsCommand({ TableName: 'Plain' }))).Streams).toEqual([]);
    const d = (await h.streams.send(new DescribeStreamCommand({ StreamArn: streamArn }))).StreamDescription!;
    expect(d).toMatchObject({ StreamArn: streamArn, StreamStatus: 'ENABLED', StreamViewType: 'NEW_IMAGE', TableName: 'Events', KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] });
    expect(d.Shards![0].SequenceNumberRange!.StartingSequenceNumber).toMatch(/^\d{21,}$/);
    expect(d.Shards![0].SequenceNumberRange!.EndingSequenceNumber).toBeUndefined();
    await expect(h.streams.send(new DescribeStreamCommand({ StreamArn: `${streamArn}x` }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('positions iterators at TRIM_HORIZON, LATEST, AT_ and AFTER_SEQUENCE_NUMBER', async () => {
    await put('a');
    await put('b');
    const latest = await iterator('LATEST');
    await put('c');
    const all = await keysOf(await iterator('TRIM_HORIZON'));
    expect(all.keys).toEqual(['a', 'b', 'c']);
    const [, b] = all.records.map((r) => r.dynamodb!.SequenceNumber!);
    expect((await keysOf(latest)).keys).toEqual(['c']);
    expect((await keysOf(await iterator('AT_SEQUENCE_NUMBER', b))).keys).toEqual(['b', 'c']);
    expect((await keysOf(await iterator('AFTER_SEQUENCE_NUMBER', b))).keys).toEqual(['c']);
    const page = await keysOf(await iterator('TRIM_HORIZON'), 2);
    expect(page.keys).toEqual(['a', 'b']);
    const rest = await keysOf(page.next!);
    expect(rest.keys).toEqual(['c']);
    const empty = await keysOf(rest.next!);
    expect(empty.keys).toEqual([]);
    expect(empty.next).toBeDefined();
    await put('d');
    expect((await keysOf(empty.next!)).keys).toEqual(['d']);
  });

  it('validates requests as AWS does', async () => {
    await put('a');
    await expect(iterator('AT_SEQUENCE_NUMBER')).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(iterator('BOGUS' as ShardIteratorType)).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(iterator('AT_SEQUENCE_NUMBER', '999999999999999999999999')).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(h.streams.send(new GetShardIteratorCommand({ StreamArn: streamArn, ShardId: 'shardId-nope', ShardIteratorType: 'LATEST' })))
      .rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await expect(h.streams.send(new GetRecordsCommand({ ShardIterator: 'garbage' }))).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(h.streams.send(new GetRecordsCommand({ ShardIterator: await iterator('LATEST'), Limit: 1001 }))).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('expires iterators after 15 minutes and trims records after 24 hours of clock', async () => {
    await put('old');
    const [old] = (await keysOf(await iterator('TRIM_HORIZON'))).records;
    const stale = await iterator('TRIM_HORIZON');
    await h.kernel.clock.advance(16 * 60 * 1000);
    await expect(h.streams.send(new GetRecordsCommand({ ShardIterator: stale }))).rejects.toBeInstanceOf(ExpiredIteratorException);
    const atOld = await iterator('AT_SEQUENCE_NUMBER', old.dynamodb!.SequenceNumber!);
    await h.kernel.clock.advance(24 * 60 * 60 * 1000);
    await put('new');
    expect((await keysOf(await iterator('TRIM_HORIZON'))).keys).toEqual(['new']);
    await expect(iterator('AT_SEQUENCE_NUMBER', old.dynamodb!.SequenceNumber!)).rejects.toBeInstanceOf(TrimmedDataAccessException);
    // An iterator handed out before the trim is expired by now as well; AWS reports the expiry first.
    await expect(h.streams.send(new GetRecordsCommand({ ShardIterator: atOld }))).rejects.toMatchObject({ name: 'ExpiredIteratorException' });
  });

  it('serves the in-process StreamsPort for the mapping poller', async () => {
    const port = h.ddb.streams;
    expect(port.tableOf(streamArn)).toBe('Events');
    expect(port.latestSequence(streamArn)).toBeUndefined();
    let woken = 0;
    const off = port.onAppend(streamArn, () => { woken += 1; });
    await put('a');
    await put('b');
    await new Promise((r) => setImmediate(r));
    expect(woken).toBe(2);
    off();
    await put('c');
    await new Promise((r) => setImmediate(r));
    expect(woken).toBe(2);
    const all = port.readAfter(streamArn, undefined, 10);
    expect(all.map((r) => r.dynamodb.Keys.pk)).toEqual([{ S: 'a' }, { S: 'b' }, { S: 'c' }]);
    expect(port.readAfter(streamArn, all[0].dynamodb.SequenceNumber, 1).map((r) => r.dynamodb.Keys.pk)).toEqual([{ S: 'b' }]);
    expect(port.latestSequence(streamArn)).toBe(all[2].dynamodb.SequenceNumber);
  });
});
