import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DescribeArchiveCommand,
  DescribeReplayCommand,
  EventBridgeClient,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  StartReplayCommand,
  TestEventPatternCommand,
} from '@aws-sdk/client-eventbridge';
import { arn, AwsError, type ProvisionRequest } from '../../../local/core/aws.js';
import { LocalClock } from '../../../local/core/clock.js';
import { FaultInjector } from '../../../local/core/faults.js';
import type { Kernel, LocalService } from '../../../local/core/kernel.js';
import { startFront, type Front } from '../../../local/core/server.js';
import { createEvents, type LocalEventsPort } from '../../../local/events/index.js';

const T0 = Date.UTC(2026, 0, 1, 0, 0, 30);
const FN = arn('lambda', 'function:orders-handler');
const SM = arn('states', 'stateMachine:PlaceOrder');
const QUEUE = arn('sqs', 'orders-queue');
const BROKEN = arn('sqs', 'broken-queue');
const DLQ = arn('sqs', 'dlq');

interface Calls {
  lambda: Array<{ fn: string; payload: string; type?: string }>;
  states: Array<{ stateMachineArn: string; input?: string; name?: string }>;
  sqs: Array<{ queue: string; body: string; attributes?: Record<string, { DataType: string; StringValue?: string }> }>;
  brokenAttempts: number;
}

function makeKernel(stateDir: string, calls: Calls): Kernel {
  return {
    clock: new LocalClock(T0),
    faults: new FaultInjector(),
    stateDir,
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:0',
    lambda: {
      invoke: async (fn, payload, options) => {
        calls.lambda.push({ fn, payload, type: options?.invocationType });
        return { statusCode: 202, payload: '', executedVersion: '$LATEST', requestId: 'r' };
      },
      aliasesOf: (fn) => [fn],
    },
    states: {
      startExecution: async (input) => {
        calls.states.push(input);
        return { executionArn: `${input.stateMachineArn}:${input.name}`, startDate: Date.now() };
      },
    },
    sqs: {
      sendMessage: async (queue, body, attributes) => {
        if (queue === BROKEN) {
          calls.brokenAttempts++;
          throw new AwsError('InternalError', 'queue unavailable', 500);
        }
        calls.sqs.push({ queue, body, attributes });
        return { MessageId: String(calls.sqs.length) };
      },
    },
    streams: undefined as never,
    events: undefined as never,
    dynamodb: undefined as never,
  };
}

function req(type: string, logicalId: string, properties: Record<string, any>): ProvisionRequest {
  return { stackName: 'Converge', logicalId, type, properties, metadata: {}, assemblyDir: '/tmp', assetPath: (k) => k };
}

async function provision(service: LocalService, type: string, logicalId: string, properties: Record<string, any>) {
  const provider = service.providers?.find((p) => p.types.includes(type));
  if (!provider) throw new Error(`no provider for ${type}`);
  return provider.create(req(type, logicalId, properties));
}

const entry = (detail: object, extra: Record<string, unknown> = {}) => ({ Source: 'shop.orders', DetailType: 'OrderPlaced', Detail: JSON.stringify(detail), EventBusName: 'shop', ...extra });

describe('local EventBridge', () => {
  let dir: string;
  let calls: Calls;
  let kernel: Kernel;
  let service: LocalService;
  let events: LocalEventsPort;
  let front: Front;
  let client: EventBridgeClient;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'events-'));
    calls = { lambda: [], states: [], sqs: [], brokenAttempts: 0 };
    kernel = makeKernel(dir, calls);
    ({ service, events } = createEvents(kernel, { retryBaseMs: 1, retryMaxMs: 5, tickMs: 0 }));
    await service.start?.();
    front = await startFront({ json: [service.json!], routes: [], port: 0 });
    client = new EventBridgeClient({ endpoint: front.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
    await provision(service, 'AWS::Events::EventBus', 'Bus', { Name: 'shop' });
  });

  afterEach(async () => {
    client.destroy();
    await front.close();
    await service.stop?.();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function orderRule(targets: object[], pattern: object = { source: ['shop.orders'], 'detail-type': ['OrderPlaced'] }) {
    return provision(service, 'AWS::Events::Rule', 'OrderRule', { EventBusName: 'shop', EventPattern: pattern, State: 'ENABLED', Targets: targets });
  }

  it('answers TestEventPattern, and InvalidEventPatternException for bad patterns', async () => {
    const event = JSON.stringify({ id: '1', account: '000000000000', source: 'shop.orders', time: '2026-01-01T00:00:00Z', region: 'us-east-1', resources: [], 'detail-type': 'OrderPlaced', detail: { amount: 150 } });
    const yes = await client.send(new TestEventPatternCommand({ EventPattern: '{"detail":{"amount":[{"numeric":[">",100]}]}}', Event: event }));
    expect(yes.Result).toBe(true);
    const no = await client.send(new TestEventPatternCommand({ EventPattern: '{"detail":{"amount":[{"numeric":["<",100]}]}}', Event: event }));
    expect(no.Result).toBe(false);
    for (const bad of ['{"source":"shop.orders"}', '{"source":[{"numeric":[">"]}]}', '{"source":[{"wildcard":"a**"}]}', 'not json']) {
      await expect(client.send(new TestEventPatternCommand({ EventPattern: bad, Event: event }))).rejects.toMatchObject({ name: 'InvalidEventPatternException' });
    }
    await expect(client.send(new TestEventPatternCommand({ EventPattern: '{"source":["a"]}', Event: '{"source":"a"}' }))).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(client.send(new PutRuleCommand({ Name: 'bad', EventPattern: '{"source":"x"}' }))).rejects.toMatchObject({ name: 'InvalidEventPatternException' });
  });

  it('refuses an unknown operation with UnknownOperationException', async () => {
    const res = await fetch(front.endpoint, { method: 'POST', headers: { 'x-amz-target': 'AWSEvents.CreateConnection', 'content-type': 'application/x-amz-json-1.1' }, body: '{}' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { __type: string }).__type).toBe('UnknownOperationException');
  });

  it('delivers a matching event to Lambda, Step Functions and SQS targets, and a non-matching one nowhere', async () => {
    const { attributes } = await orderRule([
      { Id: 'fn', Arn: FN },
      { Id: 'saga', Arn: SM, RoleArn: arn('iam', 'role/events') },
      { Id: 'q', Arn: QUEUE },
    ]);
    expect(attributes.Arn).toBe(arn('events', 'rule/shop/Converge-OrderRule-' + String(attributes.Arn).split('-').pop()));
    const out = await client.send(new PutEventsCommand({ Entries: [entry({ orderId: 'o-1', amount: 100 })] }));
    expect(out.FailedEntryCount).toBe(0);
    await events.idle();
    expect(calls.lambda).toHaveLength(1);
    expect(calls.lambda[0].type).toBe('Event');
    const delivered = JSON.parse(calls.lambda[0].payload);
    expect(delivered).toMatchObject({ version: '0', id: out.Entries![0].EventId, 'detail-type': 'OrderPlaced', source: 'shop.orders', account: '000000000000', region: 'us-east-1', resources: [], detail: { orderId: 'o-1', amount: 100 } });
    expect(delivered.time).toBe('2026-01-01T00:00:30Z');
    expect(calls.states).toHaveLength(1);
    expect(JSON.parse(calls.states[0].input!).detail.orderId).toBe('o-1');
    expect(calls.sqs.map((c) => c.queue)).toEqual([QUEUE]);
    // Asynchronous: nothing has been delivered when PutEvents returns.
    await events.putEvents([entry({ orderId: 'o-4' })]);
    expect(calls.lambda).toHaveLength(1);
    await events.idle();
    expect(calls.lambda).toHaveLength(2);
    calls.lambda.length = 1;
    calls.states.length = 1;

    await client.send(new PutEventsCommand({ Entries: [entry({ orderId: 'o-2' }, { DetailType: 'OrderShipped' }), entry({ orderId: 'o-3' }, { EventBusName: 'default' })] }));
    await events.idle();
    expect(calls.lambda).toHaveLength(1);
    expect(calls.states).toHaveLength(1);

    const rules = await client.send(new ListRulesCommand({ EventBusName: 'shop' }));
    expect(rules.Rules?.map((r) => r.State)).toEqual(['ENABLED']);
    const targets = await client.send(new ListTargetsByRuleCommand({ Rule: rules.Rules![0].Name, EventBusName: 'shop' }));
    expect(targets.Targets?.map((t) => t.Id)).toEqual(['fn', 'saga', 'q']);
  });

  it('starts a new execution for each duplicate event (generated names)', async () => {
    await orderRule([{ Id: 'saga', Arn: SM }]);
    await client.send(new PutEventsCommand({ Entries: [entry({ orderId: 'o-1' }), entry({ orderId: 'o-1' })] }));
    await events.idle();
    expect(calls.states).toHaveLength(2);
    expect(calls.states[0].name).not.toBe(calls.states[1].name);
  });

  it('honours the caller Time and refuses unsupported targets by name', async () => {
    await orderRule([{ Id: 'fn', Arn: FN }]);
    await client.send(new PutEventsCommand({ Entries: [entry({ a: 1 }, { Time: new Date('2025-06-01T12:34:56.789Z') })] }));
    await events.idle();
    expect(JSON.parse(calls.lambda[0].payload).time).toBe('2025-06-01T12:34:56Z');
    await expect(orderRule([{ Id: 'sns', Arn: arn('sns', 'topic') }])).rejects.toThrow(/arn:aws:sns:us-east-1:000000000000:topic is not a supported target/);
    await client.send(new PutRuleCommand({ Name: 'r2', EventBusName: 'shop', EventPattern: '{"source":["x"]}' }));
    await expect(client.send(new PutTargetsCommand({ Rule: 'r2', EventBusName: 'shop', Targets: [{ Id: 'k', Arn: arn('kinesis', 'stream/s') }] }))).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('applies InputPath, Input and InputTransformer', async () => {
    const { attributes } = await orderRule([
      { Id: 'path', Arn: arn('sqs', 'path'), InputPath: '$.detail' },
      { Id: 'const', Arn: arn('sqs', 'const'), Input: '{"fixed":true}' },
      {
        Id: 'json',
        Arn: arn('sqs', 'json'),
        InputTransformer: {
          InputPathsMap: { order: '$.detail.orderId', amount: '$.detail.amount', items: '$.detail.items', sku: '$.detail.items[0].sku', missing: '$.detail.nope' },
          InputTemplate: '{"order": <order>, "amount": <amount>, "items": <items>, "text": "order <order> costs <amount>", "first": "<sku>", "none": <missing>, "rule": <aws.events.rule-arn>, "event": <aws.events.event.json>}',
        },
      },
      { Id: 'text', Arn: arn('sqs', 'text'), InputTransformer: { InputPathsMap: { order: '$.detail.orderId' }, InputTemplate: '"Order <order> was placed"' } },
    ]);
    await client.send(new PutEventsCommand({ Entries: [entry({ orderId: 'o-"7"', amount: 250, items: [{ sku: 'A', quantity: 2 }] })] }));
    await events.idle();
    const body = (q: string) => calls.sqs.find((c) => c.queue === arn('sqs', q))!.body;
    expect(JSON.parse(body('path'))).toEqual({ orderId: 'o-"7"', amount: 250, items: [{ sku: 'A', quantity: 2 }] });
    expect(body('const')).toBe('{"fixed":true}');
    const json = JSON.parse(body('json'));
    expect(json).toMatchObject({ order: 'o-"7"', amount: 250, items: [{ sku: 'A', quantity: 2 }], text: 'order o-"7" costs 250', first: 'A', none: null, rule: attributes.Arn });
    expect(json.event.detail.orderId).toBe('o-"7"');
    expect(JSON.parse(body('text'))).toBe('Order o-"7" was placed');
  });

  it('reports a malformed PutEvents entry per entry without failing the batch', async () => {
    await orderRule([{ Id: 'fn', Arn: FN }]);
    const out = await client.send(
      new PutEventsCommand({
        Entries: [entry({ ok: 1 }), { Source: 'shop.orders', DetailType: 'OrderPlaced', Detail: '[1,2]', EventBusName: 'shop' }, { DetailType: 'x', Detail: '{}' }, { Source: 's', Detail: '{}' }, { Source: 's', DetailType: 'x', Detail: '{not json' }, entry({ ok: 2 }, { EventBusName: 'nope' })],
      }),
    );
    expect(out.FailedEntryCount).toBe(5);
    expect(out.Entries![0].EventId).toBeTruthy();
    expect(out.Entries!.slice(1).map((e) => e.ErrorCode)).toEqual(['MalformedDetail', 'InvalidArgument', 'InvalidArgument', 'MalformedDetail', 'InvalidArgument']);
    expect(out.Entries![2].ErrorMessage).toMatch(/Source is a required argument/);
    await events.idle();
    expect(calls.lambda).toHaveLength(1);
    const many = Array.from({ length: 11 }, () => entry({}));
    await expect(client.send(new PutEventsCommand({ Entries: many }))).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('retries a failing target up to the policy, then dead-letters with the AWS attributes', async () => {
    const { attributes } = await orderRule([{ Id: 'broken', Arn: BROKEN, RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 }, DeadLetterConfig: { Arn: DLQ } }]);
    const out = await client.send(new PutEventsCommand({ Entries: [entry({ orderId: 'o-9' })] }));
    await events.idle();
    expect(calls.brokenAttempts).toBe(3);
    expect(calls.sqs).toHaveLength(1);
    const dead = calls.sqs[0];
    expect(dead.queue).toBe(DLQ);
    expect(JSON.parse(dead.body).id).toBe(out.Entries![0].EventId);
    const attr = (k: string) => dead.attributes?.[k]?.StringValue;
    expect(attr('RULE_ARN')).toBe(attributes.Arn);
    expect(attr('TARGET_ARN')).toBe(BROKEN);
    expect(attr('ERROR_CODE')).toBe('InternalError');
    expect(attr('ERROR_MESSAGE')).toBe('queue unavailable');
    expect(attr('EXHAUSTED_RETRY_CONDITION')).toBe('MaximumRetryAttempts');
    expect(attr('RETRY_ATTEMPTS')).toBe('2');
  });

  it('archives matching events and replays a window with replay-name, without re-archiving', async () => {
    const busArn = arn('events', 'event-bus/shop');
    const { attributes: archive } = await provision(service, 'AWS::Events::Archive', 'Archive', { ArchiveName: 'shop-archive', SourceArn: busArn, EventPattern: { source: ['shop.orders'] }, RetentionDays: 7 });
    const { attributes: rule } = await orderRule([{ Id: 'fn', Arn: FN }]);
    await client.send(new PutEventsCommand({ Entries: [entry({ n: 1 }), entry({ n: 2 }), entry({ n: 3 }, { Source: 'other' })] }));
    await events.idle();
    expect(events.archivedCount('shop-archive')).toBe(2);
    expect((await client.send(new DescribeArchiveCommand({ ArchiveName: 'shop-archive' }))).EventCount).toBe(2);
    calls.lambda.length = 0;
    await kernel.clock.advance(60_000);
    const started = await client.send(
      new StartReplayCommand({ ReplayName: 'r1', EventSourceArn: String(archive.Arn), EventStartTime: new Date(T0 - 60_000), EventEndTime: new Date(kernel.clock.now()), Destination: { Arn: busArn, FilterArns: [String(rule.Arn)] } }),
    );
    expect(started.State).toBe('STARTING');
    await events.idle();
    const described = await client.send(new DescribeReplayCommand({ ReplayName: 'r1' }));
    expect(described.State).toBe('COMPLETED');
    expect(calls.lambda.map((c) => JSON.parse(c.payload))).toMatchObject([
      { 'replay-name': 'r1', detail: { n: 1 } },
      { 'replay-name': 'r1', detail: { n: 2 } },
    ]);
    expect(events.archivedCount('shop-archive')).toBe(2);
    await expect(client.send(new StartReplayCommand({ ReplayName: 'r1', EventSourceArn: String(archive.Arn), EventStartTime: new Date(T0 - 60_000), EventEndTime: new Date(T0), Destination: { Arn: busArn } }))).rejects.toMatchObject({ name: 'ResourceAlreadyExistsException' });
    // A replay of an empty window delivers nothing.
    calls.lambda.length = 0;
    await client.send(new StartReplayCommand({ ReplayName: 'r2', EventSourceArn: String(archive.Arn), EventStartTime: new Date(T0 - 600_000), EventEndTime: new Date(T0 - 60_000), Destination: { Arn: busArn } }));
    await events.idle();
    expect(calls.lambda).toHaveLength(0);
  });

  it('fires a rate() rule when the clock advances, and not before', async () => {
    const { attributes } = await provision(service, 'AWS::Events::Rule', 'Tick', { ScheduleExpression: 'rate(5 minutes)', State: 'ENABLED', Targets: [{ Id: 'fn', Arn: FN }] });
    await kernel.clock.advance(4 * 60_000);
    await events.idle();
    expect(calls.lambda).toHaveLength(0);
    await kernel.clock.advance(60_000);
    await events.idle();
    expect(calls.lambda).toHaveLength(1);
    expect(JSON.parse(calls.lambda[0].payload)).toMatchObject({ source: 'aws.events', 'detail-type': 'Scheduled Event', resources: [attributes.Arn], detail: {}, time: '2026-01-01T00:05:30Z' });
    await kernel.clock.advance(15 * 60_000);
    await events.idle();
    expect(calls.lambda).toHaveLength(4);
  });

  it('fires a Scheduler schedule (cron) with its Input as is, and refuses unsupported settings', async () => {
    await provision(service, 'AWS::Scheduler::Schedule', 'Reconcile', {
      ScheduleExpression: 'cron(0/15 * * * ? *)',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 5 },
      Target: { Arn: SM, RoleArn: arn('iam', 'role/scheduler'), Input: '{"mode":"repair"}' },
    });
    await kernel.clock.advance(14 * 60_000);
    await events.idle();
    expect(calls.states).toHaveLength(0);
    await kernel.clock.advance(60_000);
    await events.idle();
    expect(calls.states.map((c) => c.input)).toEqual(['{"mode":"repair"}']);
    await expect(provision(service, 'AWS::Scheduler::Schedule', 'Tz', { ScheduleExpression: 'rate(1 hour)', ScheduleExpressionTimezone: 'Europe/Paris', FlexibleTimeWindow: { Mode: 'OFF' }, Target: { Arn: SM } })).rejects.toThrow(/ScheduleExpressionTimezone Europe\/Paris/);
    await expect(provision(service, 'AWS::Scheduler::Schedule', 'Sdk', { ScheduleExpression: 'rate(1 hour)', FlexibleTimeWindow: { Mode: 'OFF' }, Target: { Arn: 'arn:aws:scheduler:::aws-sdk:sqs:sendMessage' } })).rejects.toThrow(/universal targets/);
    await expect(provision(service, 'AWS::Scheduler::Schedule', 'Bad', { ScheduleExpression: 'rate(1 hours)', FlexibleTimeWindow: { Mode: 'OFF' }, Target: { Arn: SM } })).rejects.toMatchObject({ code: 'ValidationException' });
  });

  it('delivers twice under a duplicate fault, and fails PutEvents under an error fault', async () => {
    await orderRule([{ Id: 'fn', Arn: FN }]);
    kernel.faults.load({ rules: [{ service: 'events', operation: 'PutEvents', kind: 'duplicate', times: 1 }] });
    await client.send(new PutEventsCommand({ Entries: [entry({ orderId: 'dup' })] }));
    await events.idle();
    expect(calls.lambda).toHaveLength(2);
    expect(JSON.parse(calls.lambda[0].payload).id).toBe(JSON.parse(calls.lambda[1].payload).id);
    kernel.faults.load({ rules: [{ service: 'events', kind: 'error', errorName: 'InternalException', times: 1 }] });
    await expect(client.send(new PutEventsCommand({ Entries: [entry({ orderId: 'x' })] }))).rejects.toMatchObject({ name: 'InternalException' });
    await events.idle();
    expect(calls.lambda).toHaveLength(2);
  });

  it('keeps rules, archives and schedule cursors across a restart', async () => {
    await provision(service, 'AWS::Events::Archive', 'Archive', { ArchiveName: 'keep', SourceArn: arn('events', 'event-bus/shop') });
    await orderRule([{ Id: 'fn', Arn: FN }]);
    await provision(service, 'AWS::Events::Rule', 'Tick', { ScheduleExpression: 'rate(1 minute)', Targets: [{ Id: 'fn', Arn: FN }] });
    await client.send(new PutEventsCommand({ Entries: [entry({ n: 1 })] }));
    await kernel.clock.advance(60_000);
    await events.idle();
    const fired = calls.lambda.length;
    await service.stop?.();
    // A fresh engine over the same directory, with a clock that has not moved.
    const again = createEvents(kernel, { tickMs: 0 });
    await again.service.start?.();
    expect(again.events.archivedCount('keep')).toBe(1);
    await kernel.clock.advance(0);
    await again.events.idle();
    expect(calls.lambda.length).toBe(fired);
    const out = await again.events.putEvents([entry({ n: 2 })]);
    expect(out.FailedEntryCount).toBe(0);
    await again.events.idle();
    expect(calls.lambda.length).toBe(fired + 1);
    await again.service.stop?.();
  });
});
