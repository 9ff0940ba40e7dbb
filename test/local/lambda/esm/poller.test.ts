import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GetEventSourceMappingCommand, ListEventSourceMappingsCommand, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LocalClock } from '../../../../local/core/clock.js';
import { compareSequence, laneOf, parseBatchResponse, ReadProgress, reorderAcrossKeys } from '../../../../local/lambda/esm/poller.js';
import { fixtureFunction, startHarness, type Harness } from '../helpers.js';

const QUEUE = 'arn:aws:sqs:us-east-1:000000000000:stream-dlq';

interface Delivery {
  seqs: string[];
  keys: string[];
  names: string[];
  source: string;
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Starts a harness with a `stream.mjs` function in the given MODE and a mapping on a fresh stream. */
async function setup(mode: string, mapping: Record<string, unknown>, options: { clock?: LocalClock; enabled?: boolean } = {}) {
  h = await startHarness({ retryDelayMs: () => 1, clock: options.clock });
  const recordFile = path.join(h.stateDir, 'deliveries.jsonl');
  writeFileSync(recordFile, '');
  const fn = await h.provision('AWS::Lambda::Function', 'SyncFunction', fixtureFunction('stream.handler', { FunctionName: 'sync-fn', Environment: { Variables: { MODE: mode, RECORD_FILE: recordFile } } }));
  const streamArn = h.streams.create('Orders');
  const esm = await h.provision('AWS::Lambda::EventSourceMapping', 'SyncMapping', { EventSourceArn: streamArn, FunctionName: fn.physicalId, StartingPosition: 'TRIM_HORIZON', ...mapping });
  const deliveries = (): Delivery[] =>
    readFileSync(recordFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  return { harness: h, streamArn, uuid: esm.physicalId, attributes: esm.attributes, deliveries, recordFile };
}

describe('DynamoDB stream event-source mapping', () => {
  it('delivers records in order, in batches of at most BatchSize, with the AWS event shape', async () => {
    const { harness, streamArn, deliveries, attributes, uuid } = await setup('record', { BatchSize: 3 });
    expect(attributes).toEqual({ Id: uuid, EventSourceMappingArn: `arn:aws:lambda:us-east-1:000000000000:event-source-mapping:${uuid}` });
    const seqs = [];
    for (let i = 0; i < 7; i++) seqs.push(harness.streams.append(streamArn, `k${i}`).dynamodb.SequenceNumber);
    await harness.lambda.mappingsIdle();
    const got = deliveries();
    expect(got.flatMap((d) => d.seqs)).toEqual(seqs);
    expect(Math.max(...got.map((d) => d.seqs.length))).toBeLessThanOrEqual(3);
    expect(got[0].source).toBe(streamArn);
    expect(harness.lambda.mappingStats()[0]).toMatchObject({ uuid, checkpoint: seqs[6], idle: true, recordsDelivered: 7 });
    expect(harness.service.stats?.()).toMatchObject({ invocations: { 'sync-fn': got.length }, mappings: [{ uuid, idle: true }] });
  });

  it('waits up to MaximumBatchingWindowInSeconds to fill a batch', async () => {
    const { harness, streamArn, deliveries } = await setup('record', { BatchSize: 10, MaximumBatchingWindowInSeconds: 1 });
    const a = harness.streams.append(streamArn, 'a').dynamodb.SequenceNumber;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(deliveries()).toEqual([]);
    const b = harness.streams.append(streamArn, 'b').dynamodb.SequenceNumber;
    await harness.lambda.mappingsIdle();
    expect(deliveries().map((d) => d.seqs)).toEqual([[a, b]]);
  });

  it('passes each record exactly as the stream has it, plus eventSourceARN', async () => {
    const { harness, streamArn } = await setup('record', {});
    await harness.provision('AWS::Lambda::Function', 'Echo', fixtureFunction('echo.handler', { FunctionName: 'echo-fn' }));
    const record = harness.streams.append(streamArn, 'x', { status: { S: 'PENDING' } });
    await harness.lambda.mappingsIdle();
    const res = await harness.lambda.invoke('echo-fn', JSON.stringify({ Records: [{ ...record, eventSourceARN: streamArn }] }));
    expect(JSON.parse(res.payload).event.Records[0]).toEqual({
      eventID: record.eventID,
      eventName: 'INSERT',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      dynamodb: record.dynamodb,
      eventSourceARN: streamArn,
    });
  });

  it('with ReportBatchItemFailures retries from exactly the failed record', async () => {
    const { harness, streamArn, deliveries } = await setup('report', { BatchSize: 10, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    const seqs = ['a', 'b', 'c', 'd', 'e'].map((k) => harness.streams.append(streamArn, k, k === 'c' ? { poison: { BOOL: true } } : {}).dynamodb.SequenceNumber);
    await harness.lambda.mappingsIdle();
    expect(deliveries().map((d) => d.seqs)).toEqual([seqs, seqs.slice(2)]);
  });

  it('treats an empty itemIdentifier as a failure of the whole batch', async () => {
    const { harness, streamArn, deliveries } = await setup('report-invalid', { BatchSize: 10, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    const seqs = ['a', 'b', 'c'].map((k) => harness.streams.append(streamArn, k, k === 'b' ? { poison: { BOOL: true } } : {}).dynamodb.SequenceNumber);
    await harness.lambda.mappingsIdle();
    expect(deliveries().map((d) => d.seqs)).toEqual([seqs, seqs]);
  });

  it('honours MaximumRetryAttempts exactly, then sends the batch to the on-failure destination and moves on', async () => {
    const { harness, streamArn, deliveries } = await setup('throw', { BatchSize: 2, MaximumRetryAttempts: 2, DestinationConfig: { OnFailure: { Destination: QUEUE } } });
    const seqs = [harness.streams.append(streamArn, 'p', { poison: { BOOL: true } }), harness.streams.append(streamArn, 'q')].map((r) => r.dynamodb.SequenceNumber);
    await harness.lambda.mappingsIdle();
    expect(harness.lambda.invocations('sync-fn')).toBe(3);
    const next = harness.streams.append(streamArn, 'r').dynamodb.SequenceNumber;
    await harness.lambda.mappingsIdle();
    expect(deliveries().map((d) => d.seqs)).toEqual([seqs, seqs, seqs, [next]]);
    const [failure] = harness.sqs.bodies(QUEUE);
    expect(failure).toMatchObject({
      requestContext: { requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:sync-fn', condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      DDBStreamBatchInfo: { shardId: 'shardId-00000001764201600000-0000abcd', startSequenceNumber: seqs[0], endSequenceNumber: seqs[1], batchSize: 2, streamArn },
    });
    expect(failure.DDBStreamBatchInfo.approximateArrivalOfFirstRecord).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(Date.parse(failure.timestamp)).not.toBeNaN();
  });

  it('bisects a failing batch to isolate a poison record, which alone reaches the on-failure destination', async () => {
    const { harness, streamArn, deliveries } = await setup('throw', { BatchSize: 4, BisectBatchOnFunctionError: true, MaximumRetryAttempts: 1, DestinationConfig: { OnFailure: { Destination: QUEUE } } });
    const seqs = ['a', 'b', 'c', 'd'].map((k) => harness.streams.append(streamArn, k, k === 'c' ? { poison: { BOOL: true } } : {}).dynamodb.SequenceNumber);
    await harness.lambda.mappingsIdle();
    const [a, b, c, d] = seqs;
    // [a b c d] fails → [a b] ok, [c d] fails → [c] fails, retried once → discarded; [d] ok.
    expect(deliveries().map((x) => x.seqs)).toEqual([[a, b, c, d], [a, b], [c, d], [c], [c], [d]]);
    const failures = harness.sqs.bodies(QUEUE);
    expect(failures).toHaveLength(1);
    expect(failures[0].requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 });
    expect(failures[0].DDBStreamBatchInfo).toMatchObject({ startSequenceNumber: c, endSequenceNumber: c, batchSize: 1 });
    expect(harness.lambda.mappingStats()[0]).toMatchObject({ checkpoint: d, recordsDiscarded: 1 });
  });

  it('drops records that do not match FilterCriteria, and checkpoints past them', async () => {
    const { harness, streamArn, deliveries } = await setup('record', {
      BatchSize: 10,
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ eventName: ['INSERT'], dynamodb: { NewImage: { status: { S: ['PENDING'] } } } }) }] },
    });
    const keep = harness.streams.append(streamArn, 'a', { status: { S: 'PENDING' } }).dynamodb.SequenceNumber;
    harness.streams.append(streamArn, 'b', { status: { S: 'CONFIRMED' } });
    harness.streams.append(streamArn, 'a', { status: { S: 'PENDING' } }, 'MODIFY');
    const last = harness.streams.append(streamArn, 'c', {}, 'REMOVE').dynamodb.SequenceNumber;
    await harness.lambda.mappingsIdle();
    expect(deliveries().map((d) => d.seqs)).toEqual([[keep]]);
    expect(harness.lambda.mappingStats()[0]).toMatchObject({ checkpoint: last, recordsFiltered: 3 });
  });

  it('delivers a batch twice under a duplicate fault, and reorders across keys (not within a key) under a reorder fault', async () => {
    const { harness, streamArn, deliveries } = await setup('record', { BatchSize: 10 });
    harness.kernel.faults.load({ rules: [{ service: 'streams', table: 'Orders', kind: 'duplicate', times: 1 }] });
    const first = ['a', 'b'].map((k) => harness.streams.append(streamArn, k).dynamodb.SequenceNumber);
    await harness.lambda.mappingsIdle();
    expect(deliveries().map((d) => d.seqs)).toEqual([first, first]);

    harness.kernel.faults.load({ rules: [{ service: 'streams', function: 'SyncFunction', kind: 'reorder', times: 1 }] });
    for (const k of ['x', 'y', 'x', 'z', 'y']) harness.streams.append(streamArn, k);
    await harness.lambda.mappingsIdle();
    const keys = deliveries()[2].keys;
    expect(keys).toEqual(['z', 'y', 'y', 'x', 'x']);
  });

  it('fails a batch through the invoke path under a streams error fault, then retries it', async () => {
    const { harness, streamArn, deliveries } = await setup('record', { BatchSize: 10 });
    harness.kernel.faults.load({ rules: [{ service: 'streams', kind: 'error', errorName: 'Boom', times: 1 }] });
    const seq = harness.streams.append(streamArn, 'a').dynamodb.SequenceNumber;
    await harness.lambda.mappingsIdle();
    expect(harness.lambda.invocations('sync-fn')).toBe(2);
    expect(deliveries().map((d) => d.seqs)).toEqual([[seq]]);
  });

  it('discards records older than MaximumRecordAgeInSeconds with RecordAgeExceeded', async () => {
    const clock = new LocalClock();
    const { harness, streamArn } = await setup('throw', { BatchSize: 10, MaximumRecordAgeInSeconds: 60, DestinationConfig: { OnFailure: { Destination: QUEUE } } }, { clock });
    const seq = harness.streams.append(streamArn, 'p', { poison: { BOOL: true } }).dynamodb.SequenceNumber;
    await clock.advance(61_000);
    await harness.lambda.mappingsIdle();
    const [failure] = harness.sqs.bodies(QUEUE);
    expect(failure.requestContext.condition).toBe('RecordAgeExceeded');
    expect(failure.DDBStreamBatchInfo).toMatchObject({ startSequenceNumber: seq, endSequenceNumber: seq, batchSize: 1 });
  });

  it('starts at LATEST when asked, and resumes after its persisted checkpoint on restart', async () => {
    h = await startHarness({ retryDelayMs: () => 1 });
    const recordFile = path.join(h.stateDir, 'deliveries.jsonl');
    writeFileSync(recordFile, '');
    const streams = h.streams;
    const streamArn = streams.create('Orders');
    const old = streams.append(streamArn, 'before').dynamodb.SequenceNumber;
    const fnProps = fixtureFunction('stream.handler', { FunctionName: 'sync-fn', Environment: { Variables: { MODE: 'record', RECORD_FILE: recordFile } } });
    await h.provision('AWS::Lambda::Function', 'SyncFunction', fnProps);
    const { physicalId: uuid } = await h.provision('AWS::Lambda::EventSourceMapping', 'SyncMapping', { EventSourceArn: streamArn, FunctionName: 'sync-fn', StartingPosition: 'LATEST' });
    const a = streams.append(streamArn, 'a').dynamodb.SequenceNumber;
    await h.lambda.mappingsIdle();
    const stateDir = h.stateDir;
    await h.close(false);

    const b = streams.append(streamArn, 'b').dynamodb.SequenceNumber;
    h = await startHarness({ stateDir, streams, retryDelayMs: () => 1 });
    await h.lambda.mappingsIdle();
    const lines = readFileSync(recordFile, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).seqs);
    expect(lines).toEqual([[a], [b]]);
    expect(lines.flat()).not.toContain(old);
    // Redeploying the same logical mapping keeps its UUID and checkpoint.
    const again = await h.provision('AWS::Lambda::EventSourceMapping', 'SyncMapping', { EventSourceArn: streamArn, FunctionName: 'sync-fn', StartingPosition: 'LATEST' });
    expect(again.physicalId).toBe(uuid);
    expect(h.lambda.mappingStats()[0].checkpoint).toBe(b);
    const got = await h.client.send(new GetEventSourceMappingCommand({ UUID: uuid }));
    expect(got).toMatchObject({ UUID: uuid, EventSourceArn: streamArn, BatchSize: 100, StartingPosition: 'LATEST', State: 'Enabled', MaximumRetryAttempts: -1 });
    const list = await h.client.send(new ListEventSourceMappingsCommand({ FunctionName: 'sync-fn' }));
    expect(list.EventSourceMappings?.map((m) => m.UUID)).toEqual([uuid]);
  });

  it('keeps a LATEST position taken on an empty stream across a restart', async () => {
    h = await startHarness({ retryDelayMs: () => 1 });
    const recordFile = path.join(h.stateDir, 'deliveries.jsonl');
    writeFileSync(recordFile, '');
    const streams = h.streams;
    const streamArn = streams.create('Orders');
    await h.provision('AWS::Lambda::Function', 'SyncFunction', fixtureFunction('stream.handler', { FunctionName: 'sync-fn', Environment: { Variables: { MODE: 'record', RECORD_FILE: recordFile } } }));
    await h.provision('AWS::Lambda::EventSourceMapping', 'SyncMapping', { EventSourceArn: streamArn, FunctionName: 'sync-fn', StartingPosition: 'LATEST' });
    const stateDir = h.stateDir;
    await h.close(false);
    const whileDown = streams.append(streamArn, 'down').dynamodb.SequenceNumber;
    h = await startHarness({ stateDir, streams, retryDelayMs: () => 1 });
    await h.lambda.mappingsIdle();
    expect(readFileSync(recordFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l).seqs)).toEqual([[whileDown]]);
  });

  it('stops promptly while a batch is in flight, and redelivers that batch after a restart', async () => {
    const { harness, streamArn, deliveries } = await setup('slow', {});
    const streams = harness.streams;
    const seq = streams.append(streamArn, 'a').dynamodb.SequenceNumber;
    await vi.waitFor(() => expect(deliveries()).toHaveLength(1));
    const started = Date.now();
    const stateDir = harness.stateDir;
    await harness.close(false);
    expect(Date.now() - started).toBeLessThan(2000);
    h = await startHarness({ stateDir, streams, retryDelayMs: () => 1 });
    expect(h.lambda.mappingStats()[0].checkpoint).toBeUndefined();
    await h.provision('AWS::Lambda::Function', 'SyncFunction', fixtureFunction('stream.handler', { FunctionName: 'sync-fn', Environment: { Variables: { MODE: 'record', RECORD_FILE: path.join(stateDir, 'deliveries.jsonl') } } }));
    await h.lambda.mappingsIdle();
    // The restarted poller may have begun with the slow code before the redeploy replaced it.
    const got = deliveries().map((d) => d.seqs);
    expect(got.length).toBeGreaterThanOrEqual(2);
    expect(new Set(got.map((x) => x.join()))).toEqual(new Set([seq]));
    expect(h.lambda.mappingStats()[0].checkpoint).toBe(seq);
  });

  it('pauses and resumes through UpdateEventSourceMapping', async () => {
    const { harness, streamArn, uuid, deliveries } = await setup('record', {});
    const paused = await harness.client.send(new UpdateEventSourceMappingCommand({ UUID: uuid, Enabled: false, BatchSize: 5 }));
    expect(paused).toMatchObject({ UUID: uuid, State: 'Disabled', BatchSize: 5 });
    const seq = harness.streams.append(streamArn, 'a').dynamodb.SequenceNumber;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(deliveries()).toEqual([]);
    await harness.client.send(new UpdateEventSourceMappingCommand({ UUID: uuid, Enabled: true }));
    await harness.lambda.mappingsIdle();
    expect(deliveries().map((d) => d.seqs)).toEqual([[seq]]);
    await expect(harness.client.send(new UpdateEventSourceMappingCommand({ UUID: uuid, ScalingConfig: { MaximumConcurrency: 2 } }))).rejects.toMatchObject({ name: 'InvalidParameterValueException' });
    await expect(harness.client.send(new UpdateEventSourceMappingCommand({ UUID: 'nope', Enabled: true }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('with a ParallelizationFactor, runs that many batches of a read at once, each item in one batch, in order', async () => {
    const { harness, streamArn, deliveries, uuid } = await setup('record', { BatchSize: 4, ParallelizationFactor: 3 });
    const items = ['a', 'b', 'c', 'd', 'e', 'f'];
    const seqs: Record<string, string[]> = {};
    for (let round = 0; round < 3; round++) {
      for (const k of items) (seqs[k] ??= []).push(harness.streams.append(streamArn, k, { round: { N: String(round) } }, round === 0 ? 'INSERT' : 'MODIFY').dynamodb.SequenceNumber);
    }
    await harness.lambda.mappingsIdle();
    const got = deliveries();
    const all = Object.values(seqs).flat().sort((x, y) => compareSequence(x, y));
    expect(got.flatMap((d) => d.seqs).sort((x, y) => compareSequence(x, y))).toEqual(all);
    for (const d of got) {
      expect(d.seqs.length).toBeLessThanOrEqual(4);
      expect(new Set(d.keys.map((k) => laneOf({ id: { S: k } }, 3))).size).toBe(1);
    }
    for (const k of items) {
      const delivered = got.flatMap((d) => d.seqs.filter((_, i) => d.keys[i] === k));
      expect(delivered).toEqual(seqs[k]);
    }
    expect((harness.service.stats?.() as { containers: Record<string, number> }).containers['sync-fn']).toBeGreaterThan(1);
    expect(harness.lambda.mappingStats()[0]).toMatchObject({ uuid, checkpoint: all.at(-1), idle: true, recordsDelivered: all.length });
    const described = await harness.client.send(new GetEventSourceMappingCommand({ UUID: uuid }));
    expect(described.ParallelizationFactor).toBe(3);
  });

  it('with a ParallelizationFactor, retries and discards a failing batch on its own while the other batches finish once', async () => {
    const { harness, streamArn, deliveries } = await setup('throw', { BatchSize: 10, ParallelizationFactor: 2, MaximumRetryAttempts: 1, DestinationConfig: { OnFailure: { Destination: QUEUE } } });
    const keys = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const poisonKey = keys[0];
    const seqs = keys.map((k) => harness.streams.append(streamArn, k, k === poisonKey ? { poison: { BOOL: true } } : {}).dynamodb.SequenceNumber);
    await harness.lambda.mappingsIdle();
    const lane = (k: string) => laneOf({ id: { S: k } }, 2);
    const poisoned = keys.filter((k) => lane(k) === lane(poisonKey));
    const healthy = keys.filter((k) => lane(k) !== lane(poisonKey));
    expect(healthy.length).toBeGreaterThan(0);
    const got = deliveries();
    // The poisoned batch: delivered, retried once, discarded; the other batch: delivered once.
    expect(got.filter((d) => d.keys.includes(poisonKey)).map((d) => d.keys)).toEqual([poisoned, poisoned]);
    expect(got.filter((d) => !d.keys.includes(poisonKey)).map((d) => d.keys)).toEqual([healthy]);
    const [failure] = harness.sqs.bodies(QUEUE);
    expect(failure.DDBStreamBatchInfo).toMatchObject({ batchSize: poisoned.length, startSequenceNumber: seqs[0] });
    expect(harness.lambda.mappingStats()[0]).toMatchObject({ checkpoint: seqs.at(-1), recordsDiscarded: poisoned.length });
  });

  it('refuses other sources and unsupported settings by name', async () => {
    h = await startHarness();
    await h.provision('AWS::Lambda::Function', 'Fn', fixtureFunction('echo.handler', { FunctionName: 'f' }));
    const streamArn = h.streams.create('T');
    const base = { EventSourceArn: streamArn, FunctionName: 'f', StartingPosition: 'TRIM_HORIZON' };
    await expect(h.provision('AWS::Lambda::EventSourceMapping', 'Q', { ...base, EventSourceArn: 'arn:aws:sqs:us-east-1:000000000000:q' })).rejects.toThrow(/\(sqs\) is not supported .*only DynamoDB streams/);
    await expect(h.provision('AWS::Lambda::EventSourceMapping', 'K', { ...base, EventSourceArn: 'arn:aws:kinesis:us-east-1:000000000000:stream/s' })).rejects.toThrow(/kinesis/);
    await expect(h.provision('AWS::Lambda::EventSourceMapping', 'P', { ...base, ParallelizationFactor: 11 })).rejects.toMatchObject({ code: 'InvalidParameterValueException' });
    await expect(h.provision('AWS::Lambda::EventSourceMapping', 'W', { ...base, TumblingWindowInSeconds: 30 })).rejects.toThrow(/TumblingWindowInSeconds/);
    await expect(h.provision('AWS::Lambda::EventSourceMapping', 'B', { ...base, BatchSize: 10001 })).rejects.toMatchObject({ code: 'InvalidParameterValueException' });
    await expect(h.provision('AWS::Lambda::EventSourceMapping', 'F', { ...base, FilterCriteria: { Filters: [{ Pattern: '{"eventName": "INSERT"}' }] } })).rejects.toThrow(/Invalid filter pattern/);
    await expect(h.provision('AWS::Lambda::EventSourceMapping', 'N', { ...base, FunctionName: 'ghost' })).rejects.toMatchObject({ code: 'ResourceNotFoundException' });
    await expect(h.provision('AWS::Lambda::EventSourceMapping', 'S', { ...base, EventSourceArn: 'arn:aws:dynamodb:us-east-1:000000000000:table/None/stream/x' })).rejects.toThrow(/Stream not found/);
  });
});

describe('poller building blocks', () => {
  it('compares sequence numbers numerically', () => {
    expect(compareSequence('900', '1000')).toBe(-1);
    expect(compareSequence('100000000000000000002', '100000000000000000001')).toBe(1);
  });

  it('reads partial batch responses as Lambda does', () => {
    const batch = ['1', '2', '3'].map((s) => ({ dynamodb: { SequenceNumber: s } })) as any;
    expect(parseBatchResponse('null', batch)).toEqual({ kind: 'success' });
    expect(parseBatchResponse('{"batchItemFailures":[]}', batch)).toEqual({ kind: 'success' });
    expect(parseBatchResponse('{"batchItemFailures":[{"itemIdentifier":"3"},{"itemIdentifier":"2"}]}', batch)).toEqual({ kind: 'partial', index: 1 });
    expect(parseBatchResponse('{"batchItemFailures":[{"itemIdentifier":null}]}', batch)).toEqual({ kind: 'invalid' });
    expect(parseBatchResponse('{"batchItemFailures":[{"id":"2"}]}', batch)).toEqual({ kind: 'invalid' });
  });

  it('checkpoints a read only over the prefix of records that are done', () => {
    const checkpoints: string[] = [];
    const progress = new ReadProgress(['1', '2', '3', '4'], (seq) => checkpoints.push(seq));
    progress.finish(['3']);
    expect(checkpoints).toEqual([]);
    progress.finish(['1']);
    expect(checkpoints).toEqual(['1']);
    progress.finish(['2', '4']);
    expect(checkpoints).toEqual(['1', '4']);
  });

  it('puts an item in the same batch every time and spreads items over every batch', () => {
    const lanes = Array.from({ length: 200 }, (_, i) => laneOf({ id: { S: `k${i}` } }, 4));
    expect(new Set(lanes)).toEqual(new Set([0, 1, 2, 3]));
    expect(laneOf({ id: { S: 'k7' } }, 4)).toBe(lanes[7]);
    expect(laneOf({ id: { S: 'k7' } }, 1)).toBe(0);
  });

  it('reorders across keys only', () => {
    const rec = (k: string, n: number) => ({ n, dynamodb: { Keys: { id: { S: k } } } });
    const out = reorderAcrossKeys([rec('a', 1), rec('b', 2), rec('a', 3)]);
    expect(out.map((r) => r.n)).toEqual([2, 1, 3]);
  });
});
