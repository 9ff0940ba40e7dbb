import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  PurgeQueueCommand,
  PurgeQueueInProgress,
  QueueDoesNotExist,
  QueueNameExists,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
  TooManyEntriesInBatchRequest,
  UnsupportedOperation,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalClock } from '../../../local/core/clock.js';
import { testKernel } from '../../support/kernel.js';
import type { Kernel } from '../../../local/core/kernel.js';
import { startFront, type Front } from '../../../local/core/server.js';
import { Deployer } from '../../../local/cloudformation/index.js';
import { createSqs, md5OfAttributes, type SqsParts } from '../../../local/sqs/index.js';

let stateDir: string;
let front: Front;
let kernel: Kernel;
let parts: SqsParts;
let sqs: SQSClient;

async function boot(clockStart?: number): Promise<void> {
  kernel = testKernel(stateDir, { clock: new LocalClock(clockStart) });
  parts = createSqs(kernel);
  kernel.sqs = parts.sqs;
  front = await startFront({ json: [parts.service.json!], routes: [], port: 0 });
  kernel.endpoint = front.endpoint;
  sqs = new SQSClient({ endpoint: front.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
}

async function shutdown(): Promise<void> {
  sqs.destroy();
  await front.close();
  await parts.service.stop!();
}

beforeAll(async () => {
  stateDir = mkdtempSync(path.join(tmpdir(), 'converge-sqs-'));
  await boot();
});
afterAll(async () => {
  await shutdown();
  rmSync(stateDir, { recursive: true, force: true });
});

function md5(b: Buffer): string {
  return createHash('md5').update(b).digest('hex');
}

async function queue(name: string, attributes: Record<string, string> = {}): Promise<string> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  return QueueUrl!;
}

describe('SQS over the JSON protocol', () => {
  it('round-trips messages with attributes, MD5s and system attributes', async () => {
    const url = await queue('roundtrip');
    expect(url).toBe(`${front.endpoint}/000000000000/roundtrip`);
    const attrs = { kind: { DataType: 'String', StringValue: 'order' }, n: { DataType: 'Number', StringValue: '42' }, bin: { DataType: 'Binary', BinaryValue: new Uint8Array([1, 2, 3]) } };
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'héllo', MessageAttributes: attrs }));
    expect(sent.MD5OfMessageBody).toBe(md5(Buffer.from('héllo')));
    expect(sent.MD5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, MessageAttributeNames: ['All'], MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'] }));
    expect(got.Messages).toHaveLength(1);
    const m = got.Messages![0]!;
    expect(m.Body).toBe('héllo');
    expect(m.MessageId).toBe(sent.MessageId);
    expect(m.Attributes).toEqual({ ApproximateReceiveCount: '1', SentTimestamp: expect.stringMatching(/^\d{13}$/) });
    expect(m.MessageAttributes!.kind).toEqual({ DataType: 'String', StringValue: 'order' });
    expect(Buffer.from(m.MessageAttributes!.bin!.BinaryValue!)).toEqual(Buffer.from([1, 2, 3]));
    expect(m.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes);
    await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: m.ReceiptHandle }));
    const after = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    expect(after.Attributes).toEqual({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
  });

  it('computes MD5OfMessageAttributes by the documented encoding', () => {
    // Independent computation of the documented layout for one String attribute.
    const field = (s: string) => {
      const b = Buffer.from(s);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      return Buffer.concat([len, b]);
    };
    const expected = md5(Buffer.concat([field('a'), field('String'), Buffer.from([1]), field('b')]));
    expect(md5OfAttributes({ a: { DataType: 'String', StringValue: 'b' } })).toBe(expected);
  });

  it('hides received messages for the visibility timeout, then redelivers with a higher receive count', async () => {
    const url = await queue('visibility', { VisibilityTimeout: '30' });
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'v' }));
    const first = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, AttributeNames: ['All'] }));
    expect(first.Messages![0]!.Attributes!.ApproximateReceiveCount).toBe('1');
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages).toBeUndefined();
    const counts = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
    expect(counts.Attributes).toMatchObject({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '1', QueueArn: 'arn:aws:sqs:us-east-1:000000000000:visibility', VisibilityTimeout: '30' });
    await kernel.clock.advance(31_000);
    const again = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MessageSystemAttributeNames: ['All'] }));
    expect(again.Messages![0]!.Attributes!.ApproximateReceiveCount).toBe('2');
    // ChangeMessageVisibility to 0 makes it visible at once.
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: again.Messages![0]!.ReceiptHandle, VisibilityTimeout: 0 }));
    const third = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, VisibilityTimeout: 5, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
    expect(third.Messages![0]!.Attributes!.ApproximateReceiveCount).toBe('3');
  });

  it('long-polls until a message arrives', async () => {
    const url = await queue('longpoll');
    const started = Date.now();
    const receiving = sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 5 }));
    setTimeout(() => void sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'late' })), 150);
    const got = await receiving;
    expect(got.Messages![0]!.Body).toBe('late');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('sends and deletes in batches, reporting per-entry failures', async () => {
    const url = await queue('batch');
    const sent = await sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: [{ Id: 'a', MessageBody: 'A' }, { Id: 'b', MessageBody: 'B', DelaySeconds: 1000 }, { Id: 'c', MessageBody: 'C' }] }));
    expect(sent.Successful!.map((s) => s.Id).sort()).toEqual(['a', 'c']);
    expect(sent.Failed).toEqual([expect.objectContaining({ Id: 'b', SenderFault: true, Code: 'InvalidParameterValue' })]);
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10 }));
    expect(got.Messages!.map((m) => m.Body).sort()).toEqual(['A', 'C']);
    const del = await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: url, Entries: [...got.Messages!.map((m, i) => ({ Id: `m${i}`, ReceiptHandle: m.ReceiptHandle })), { Id: 'bad', ReceiptHandle: 'garbage' }] }));
    expect(del.Successful).toHaveLength(2);
    expect(del.Failed).toEqual([expect.objectContaining({ Id: 'bad', Code: 'ReceiptHandleIsInvalid' })]);
    const entries = Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, MessageBody: 'x' }));
    await expect(sqs.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }))).rejects.toBeInstanceOf(TooManyEntriesInBatchRequest);
  });

  it('purges a queue once a minute', async () => {
    const url = await queue('purge');
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: '1' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: '2' }));
    await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
    expect((await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }))).Attributes!.ApproximateNumberOfMessages).toBe('0');
    await expect(sqs.send(new PurgeQueueCommand({ QueueUrl: url }))).rejects.toBeInstanceOf(PurgeQueueInProgress);
    await kernel.clock.advance(60_000);
    await sqs.send(new PurgeQueueCommand({ QueueUrl: url }));
  });

  it('moves a message past maxReceiveCount to the dead-letter queue', async () => {
    const dlq = await queue('redrive-dlq');
    const src = await queue('redrive-src', { VisibilityTimeout: '1', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:redrive-dlq', maxReceiveCount: 1 }) });
    await sqs.send(new SendMessageCommand({ QueueUrl: src, MessageBody: 'poison' }));
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: src }))).Messages).toHaveLength(1);
    await kernel.clock.advance(2000);
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: src }))).Messages).toBeUndefined();
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq }))).Messages![0]!.Body).toBe('poison');
  });

  it('answers AWS error codes the SDK maps to its exceptions', async () => {
    const missing = `${front.endpoint}/000000000000/nope`;
    const err = await sqs.send(new SendMessageCommand({ QueueUrl: missing, MessageBody: 'x' })).catch((e) => e);
    expect(err).toBeInstanceOf(QueueDoesNotExist);
    expect(err.name).toBe('QueueDoesNotExist');
    await expect(sqs.send(new GetQueueUrlCommand({ QueueName: 'nope' }))).rejects.toBeInstanceOf(QueueDoesNotExist);
    await queue('exists', { VisibilityTimeout: '10' });
    await expect(sqs.send(new CreateQueueCommand({ QueueName: 'exists', Attributes: { VisibilityTimeout: '20' } }))).rejects.toBeInstanceOf(QueueNameExists);
    await expect(sqs.send(new CreateQueueCommand({ QueueName: 'q.fifo', Attributes: { FifoQueue: 'true' } }))).rejects.toBeInstanceOf(UnsupportedOperation);
    const url = await queue('errors');
    await expect(sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: 'not-a-handle' }))).rejects.toBeInstanceOf(ReceiptHandleIsInvalid);
    await expect(sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 11 }))).rejects.toMatchObject({ name: 'InvalidParameterValue' });
    await expect(sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { Bogus: '1' } as any }))).rejects.toMatchObject({ name: 'InvalidAttributeName' });
    const unknown = await fetch(front.endpoint, { method: 'POST', headers: { 'x-amz-target': 'AmazonSQS.Frobnicate', 'content-type': 'application/x-amz-json-1.0' }, body: '{}' });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });

  it('lists and deletes queues, and the port sends by URL or ARN', async () => {
    const url = await queue('listed-1');
    await queue('listed-2');
    const listed = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'listed-' }));
    expect(listed.QueueUrls).toEqual([url, `${front.endpoint}/000000000000/listed-2`]);
    await kernel.sqs.sendMessage('arn:aws:sqs:us-east-1:000000000000:listed-2', 'via-arn');
    await kernel.sqs.sendMessage(url, 'via-url');
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: url }))).Messages![0]!.Body).toBe('via-url');
    await expect(kernel.sqs.sendMessage('arn:aws:sqs:us-east-1:000000000000:ghost', 'x')).rejects.toMatchObject({ code: 'AWS.SimpleQueueService.NonExistentQueue' });
    await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
    expect((await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'listed-' }))).QueueUrls).toEqual([`${front.endpoint}/000000000000/listed-2`]);
  });

  it('keeps queues and messages across a restart', async () => {
    const url = await queue('durable');
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'survives' }));
    // Earlier tests advanced the clock; the restarted kernel resumes from the same time.
    const now = kernel.clock.now();
    await shutdown();
    await boot(now);
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: `${front.endpoint}/000000000000/durable` }));
    expect(got.Messages![0]!.Body).toBe('survives');
  });
});

describe('SQS resources from templates', () => {
  it('creates queues with generated or given names, Ref = URL, and refuses FIFO and unknown properties by name', async () => {
    const deployer = new Deployer({ providers: parts.service.providers! });
    const stack = await deployer.deployStack({
      stackName: 'QStack',
      template: {
        Resources: {
          Dlq: { Type: 'AWS::SQS::Queue', Properties: { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true } },
          Main: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'main-q', VisibilityTimeout: 45, RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] }, maxReceiveCount: 3 } } },
          Policy: { Type: 'AWS::SQS::QueuePolicy', Properties: { Queues: [{ Ref: 'Main' }], PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sqs:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }] } } },
        },
        Outputs: { Url: { Value: { Ref: 'Main' } }, Name: { Value: { 'Fn::GetAtt': ['Dlq', 'QueueName'] } } },
      },
    });
    const outputs = Object.fromEntries(stack.outputs.map((o) => [o.OutputKey, o.OutputValue]));
    expect(outputs.Url).toBe(`${front.endpoint}/000000000000/main-q`);
    expect(outputs.Name).toMatch(/^QStack-Dlq-[A-Z0-9]{12}$/);
    const attrs = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: outputs.Url, AttributeNames: ['All'] }))).Attributes!;
    expect(attrs.VisibilityTimeout).toBe('45');
    expect(JSON.parse(attrs.RedrivePolicy!)).toEqual({ deadLetterTargetArn: `arn:aws:sqs:us-east-1:000000000000:${outputs.Name}`, maxReceiveCount: 3 });
    expect(JSON.parse(attrs.Policy!).Statement[0].Effect).toBe('Deny');
    await expect(deployer.deployStack({ stackName: 'Fifo', template: { Resources: { F: { Type: 'AWS::SQS::Queue', Properties: { FifoQueue: true } } } } })).rejects.toThrow(/resource F \(AWS::SQS::Queue\): FIFO queues \(FifoQueue\) are not supported/);
    await expect(deployer.deployStack({ stackName: 'Odd', template: { Resources: { O: { Type: 'AWS::SQS::Queue', Properties: { Colour: 'red' } } } } })).rejects.toThrow(/resource O \(AWS::SQS::Queue\): property Colour of AWS::SQS::Queue is not supported/);
  });
});
