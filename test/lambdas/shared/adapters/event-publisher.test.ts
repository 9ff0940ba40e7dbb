/**
 * The EventBridge publisher: the coalescing of concurrent publishes as a mechanism (over a
 * recording sender, where each call's per-entry answers can be chosen), and the adapter against
 * the local cloud's EventBridge, delivering through a rule to an SQS target.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBridgeClient, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { arn, type ProvisionRequest } from '../../../../local/core/aws.js';
import type { LocalService } from '../../../../local/core/kernel.js';
import { startFront, type Front } from '../../../../local/core/server.js';
import { createEvents } from '../../../../local/events/index.js';
import { CoalescingSender, EventBridgePublisher, PublishFailed, entrySize, type EntryResult } from '../../../../lambdas/shared/adapters/event-publisher.js';
import type { OutboundEvent } from '../../../../lambdas/shared/ports.js';
import { testKernel } from '../../../support/kernel.js';

const entry = (id: string, detailBytes = 20): PutEventsRequestEntry => ({ EventBusName: 'shop', Source: 'converge.test', DetailType: 'T', Detail: JSON.stringify({ id, pad: 'x'.repeat(detailBytes) }) });
const idOf = (e: PutEventsRequestEntry) => (JSON.parse(e.Detail!) as { id: string }).id;

/** A sender that records each call and answers per entry with `answer`. */
function recorder(answer: (e: PutEventsRequestEntry) => EntryResult | Error = () => ({})) {
  const calls: PutEventsRequestEntry[][] = [];
  const send = async (entries: readonly PutEventsRequestEntry[]) => {
    calls.push([...entries]);
    await new Promise((r) => setTimeout(r, 1));
    const results = entries.map(answer);
    const thrown = results.find((r): r is Error => r instanceof Error);
    if (thrown) throw thrown;
    return results as EntryResult[];
  };
  return { calls, send };
}

describe('CoalescingSender', () => {
  it('sends publishes made in the same turn in shared calls of at most 10 entries', async () => {
    const { calls, send } = recorder();
    const sender = new CoalescingSender(send);
    await Promise.all(Array.from({ length: 25 }, (_, i) => sender.put([entry(`e${i}`)])));
    expect(calls.map((c) => c.length)).toEqual([10, 10, 5]);
    expect(calls.flat().map(idOf)).toEqual(Array.from({ length: 25 }, (_, i) => `e${i}`));
  });

  it('keeps a call under 256 KB, and sends an oversized entry alone for EventBridge to refuse', async () => {
    const { calls, send } = recorder();
    const sender = new CoalescingSender(send);
    const big = Array.from({ length: 4 }, (_, i) => entry(`big${i}`, 100 * 1024));
    await Promise.all([...big.map((e) => sender.put([e])), sender.put([entry('huge', 300 * 1024)])]);
    for (const c of calls) expect(c.length === 1 || c.reduce((n, e) => n + entrySize(e), 0) <= 256 * 1024).toBe(true);
    expect(calls.map((c) => c.map(idOf))).toEqual([['big0', 'big1'], ['big2', 'big3'], ['huge']]);
  });

  it('fails only the publish whose entry failed, naming its error code', async () => {
    const { calls, send } = recorder((e) => (idOf(e) === 'bad' ? { code: 'ThrottlingException', message: 'slow down' } : {}));
    const sender = new CoalescingSender(send);
    const results = await Promise.allSettled([sender.put([entry('a')]), sender.put([entry('b'), entry('bad')]), sender.put([entry('c')])]);
    expect(calls).toHaveLength(1);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const err = (results[1] as PromiseRejectedResult).reason;
    expect(err).toBeInstanceOf(PublishFailed);
    expect(err).toMatchObject({ name: 'PublishFailed', failures: [{ code: 'ThrottlingException', message: 'slow down' }] });
  });

  it('fails every publish that took part in a call that failed as a whole, and only those', async () => {
    const { calls, send } = recorder((e) => (idOf(e).startsWith('second') ? Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }) : {}));
    const sender = new CoalescingSender(send);
    // 12 entries: the first call carries 10, the second 2 — and one publish spans both.
    const puts = [sender.put(Array.from({ length: 9 }, (_, i) => entry(`first${i}`))), sender.put([entry('spans'), entry('second-a')]), sender.put([entry('second-b')])];
    const results = await Promise.allSettled(puts);
    expect(calls.map((c) => c.length)).toEqual([10, 2]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ name: 'TimeoutError' });
  });

  it('waits lingerMs for more publishes when asked, and resolves an empty publish at once', async () => {
    const { calls, send } = recorder();
    const sender = new CoalescingSender(send, { lingerMs: 20 });
    const first = sender.put([entry('early')]);
    await new Promise((r) => setTimeout(r, 5));
    await Promise.all([first, sender.put([entry('late')]), sender.put([])]);
    expect(calls.map((c) => c.map(idOf))).toEqual([['early', 'late']]);
  });
});

describe('EventBridgePublisher', () => {
  let dir: string;
  let service: LocalService;
  let front: Front;
  let client: EventBridgeClient;
  let delivered: string[];
  let putEventsCalls: number;
  const QUEUE = arn('sqs', 'sink');

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'publisher-'));
    delivered = [];
    const kernel = testKernel(dir, {
      sqs: {
        sendMessage: async (_queue: string, body: string) => {
          delivered.push(body);
          return { MessageId: String(delivered.length) };
        },
      } as never,
    });
    ({ service } = createEvents(kernel, { retryBaseMs: 1, retryMaxMs: 5, tickMs: 0 }));
    await service.start?.();
    front = await startFront({ json: [service.json!], routes: [], port: 0 });
    client = new EventBridgeClient({ endpoint: front.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
    putEventsCalls = 0;
    // Counts the real client's calls on their way out: a middleware, not a mock.
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'PutEventsCommand') putEventsCalls += 1;
        return next(args);
      },
      { step: 'initialize', name: 'countPutEvents' },
    );
    const provision = (type: string, logicalId: string, properties: Record<string, unknown>) =>
      service.providers!.find((p) => p.types.includes(type))!.create({ stackName: 'Converge', logicalId, type, properties, metadata: {}, assemblyDir: '/tmp', assetPath: (k: string) => k } as ProvisionRequest);
    await provision('AWS::Events::EventBus', 'Bus', { Name: 'shop' });
    await provision('AWS::Events::Rule', 'All', { EventBusName: 'shop', EventPattern: { source: ['converge.sync'] }, State: 'ENABLED', Targets: [{ Id: 'q', Arn: QUEUE }] });
  });

  afterEach(async () => {
    client.destroy();
    await front.close();
    await service.stop?.();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const changed = (n: number): OutboundEvent => ({ source: 'converge.sync', detailType: 'OrderChanged', detail: { schemaVersion: 1, orderId: `o-${n}` } });

  it('delivers every event of concurrent publishes through shared PutEvents calls', async () => {
    const publisher = new EventBridgePublisher(client, 'shop');
    await Promise.all(Array.from({ length: 30 }, (_, i) => publisher.publish([changed(i)])));
    expect(putEventsCalls).toBe(3);
    await expect.poll(() => delivered.length).toBe(30);
    const ids = delivered.map((b) => (JSON.parse(b) as { detail: { orderId: string } }).detail.orderId).sort();
    expect(ids).toEqual(Array.from({ length: 30 }, (_, i) => `o-${i}`).sort());
  });

  it('rejects each publish with PublishFailed when the bus refuses its entries', async () => {
    const publisher = new EventBridgePublisher(client, 'no-such-bus');
    const results = await Promise.allSettled([publisher.publish([changed(1)]), publisher.publish([changed(2), changed(3)])]);
    expect(putEventsCalls).toBe(1);
    for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: { name: 'PublishFailed' } });
    expect((results[1] as PromiseRejectedResult).reason.failures).toHaveLength(2);
    expect(delivered).toHaveLength(0);
  });
});
