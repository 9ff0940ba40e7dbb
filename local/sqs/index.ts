/**
 * SQS for the local cloud (standard queues: DLQs and on-failure destinations), spoken over the
 * awsJson1_0 protocol that SDK v3 uses (`X-Amz-Target: AmazonSQS.<Operation>`), with the
 * query-compatible error codes the SDK maps to its exception classes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { AwsError, arn, type JsonService, type ProvisionRequest, type Provisioned, type ResourceProvider } from '../core/aws.js';
import type { Kernel, LocalService, SqsPort } from '../core/kernel.js';
import { generatedName } from '../iam/index.js';
import { DEFAULT_ATTRIBUTES, QueueStore, READABLE_ATTRIBUTES, queueNameOf, sqsError, validateAttributes, type MessageAttributeValue, type StoredMessage, type StoredQueue } from './queues.js';

export { QueueStore, md5OfAttributes, md5Hex, queueNameOf } from './queues.js';

/** What {@link createSqs} returns. */
export interface SqsParts {
  readonly service: LocalService;
  readonly sqs: SqsPort;
  readonly store: QueueStore;
}

const SYSTEM_ATTRIBUTES = ['SenderId', 'SentTimestamp', 'ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp', 'AWSTraceHeader'];
const QUEUE_PROPERTIES = new Set([
  'QueueName',
  'FifoQueue',
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'FifoThroughputLimit',
  'DelaySeconds',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'VisibilityTimeout',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
  'SqsManagedSseEnabled',
  'RedrivePolicy',
  'RedriveAllowPolicy',
  'Tags',
]);

function intParam(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined || value === null) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw sqsError('InvalidParameterValue', `Value ${String(value)} for parameter ${name} is invalid. Reason: Must be between ${min} and ${max}.`);
  return n;
}

function requireString(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '') throw sqsError('MissingParameter', `The request must contain the parameter ${name}.`);
  return value;
}

function messageOut(m: StoredMessage, systemNames: string[], attributeNames: string[]): Record<string, unknown> {
  const all = systemNames.includes('All');
  const attrs: Record<string, string> = {};
  const system: Record<string, string | undefined> = {
    SenderId: 'AIDAIENQZJOLO23YVJ4VO',
    SentTimestamp: String(m.sentTimestamp),
    ApproximateReceiveCount: String(m.receiveCount),
    ApproximateFirstReceiveTimestamp: m.firstReceiveTimestamp === undefined ? undefined : String(m.firstReceiveTimestamp),
    AWSTraceHeader: m.traceHeader,
  };
  for (const name of SYSTEM_ATTRIBUTES) {
    if ((all || systemNames.includes(name)) && system[name] !== undefined) attrs[name] = system[name]!;
  }
  const wantAll = attributeNames.some((n) => n === 'All' || n === '.*');
  const userAttrs: Record<string, MessageAttributeValue> = {};
  for (const [name, v] of Object.entries(m.attributes)) {
    const prefixed = attributeNames.some((n) => n.endsWith('.*') && name.startsWith(n.slice(0, -2)));
    if (wantAll || prefixed || attributeNames.includes(name)) userAttrs[name] = v;
  }
  const hasUser = Object.keys(userAttrs).length > 0;
  return {
    MessageId: m.messageId,
    ReceiptHandle: m.receiptHandle,
    MD5OfBody: m.md5OfBody,
    Body: m.body,
    ...(Object.keys(attrs).length ? { Attributes: attrs } : {}),
    // The digest covers every attribute of the message, whichever were asked for, as on AWS.
    ...(hasUser ? { MD5OfMessageAttributes: m.md5OfAttributes, MessageAttributes: userAttrs } : {}),
  };
}

/** Creates the SQS service: its API, its port for other services, its CloudFormation providers. */
export function createSqs(kernel: Kernel): SqsParts {
  const store = new QueueStore(() => kernel.clock.now(), kernel.stateDir);
  const counters: Record<string, number> = {};
  let stopped = false;
  const urlOf = (name: string) => QueueStore.url(kernel.endpoint, name);

  const receive = async (q: StoredQueue, input: any): Promise<StoredMessage[]> => {
    const max = intParam(input.MaxNumberOfMessages, 'MaxNumberOfMessages', 1, 10) ?? 1;
    const visibility = intParam(input.VisibilityTimeout, 'VisibilityTimeout', 0, 43200) ?? Number(q.attributes.VisibilityTimeout);
    const wait = intParam(input.WaitTimeSeconds, 'WaitTimeSeconds', 0, 20) ?? Number(q.attributes.ReceiveMessageWaitTimeSeconds);
    const deadline = Date.now() + wait * 1000;
    for (;;) {
      const got = store.receive(store.get(q.name), max, visibility);
      if (got.length > 0 || Date.now() >= deadline || stopped) return got;
      // Wake on a send, or recheck soon: visibility timeouts expire without any event.
      let wake: () => void = () => {};
      const woken = new Promise<void>((resolve) => (wake = resolve));
      const off = store.onChange(wake);
      await Promise.race([woken, sleep(Math.min(100, Math.max(0, deadline - Date.now())))]);
      off();
    }
  };

  const batch = async (entries: unknown, each: (entry: any) => Promise<Record<string, unknown>>): Promise<{ Successful: unknown[]; Failed: unknown[] }> => {
    if (!Array.isArray(entries) || entries.length === 0) throw sqsError('AWS.SimpleQueueService.EmptyBatchRequest', 'There should be at least one entry in the request.');
    if (entries.length > 10) throw sqsError('AWS.SimpleQueueService.TooManyEntriesInBatchRequest', `Maximum number of entries per request are 10. You have sent ${entries.length}.`);
    const ids = new Set<string>();
    for (const e of entries) {
      if (typeof e?.Id !== 'string' || !/^[A-Za-z0-9_-]{1,80}$/.test(e.Id)) throw sqsError('AWS.SimpleQueueService.InvalidBatchEntryId', 'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.');
      if (ids.has(e.Id)) throw sqsError('AWS.SimpleQueueService.BatchEntryIdsNotDistinct', `Id ${e.Id} repeated.`);
      ids.add(e.Id);
    }
    const Successful: unknown[] = [];
    const Failed: unknown[] = [];
    for (const e of entries) {
      try {
        Successful.push({ Id: e.Id, ...(await each(e)) });
      } catch (err) {
        if (!(err instanceof AwsError)) throw err;
        Failed.push({ Id: e.Id, SenderFault: err.statusCode < 500, Code: err.code, Message: err.message });
      }
    }
    return { Successful, Failed };
  };

  const send = (q: StoredQueue, e: any): Record<string, unknown> => {
    const m = store.send(q, e.MessageBody, e.MessageAttributes ?? {}, intParam(e.DelaySeconds, 'DelaySeconds', 0, 900), e.MessageSystemAttributes?.AWSTraceHeader?.StringValue);
    return { MessageId: m.messageId, MD5OfMessageBody: m.md5OfBody, ...(m.md5OfAttributes ? { MD5OfMessageAttributes: m.md5OfAttributes } : {}) };
  };

  const operations: Record<string, (input: any) => Promise<unknown> | unknown> = {
    CreateQueue: (input) => {
      const name = requireString(input.QueueName, 'QueueName');
      const q = store.create(name, validateAttributes(input.Attributes ?? {}), input.tags ?? {});
      return { QueueUrl: urlOf(q.name) };
    },
    GetQueueUrl: (input) => ({ QueueUrl: urlOf(store.get(requireString(input.QueueName, 'QueueName')).name) }),
    ListQueues: (input) => {
      const prefix = typeof input.QueueNamePrefix === 'string' ? input.QueueNamePrefix : '';
      const max = intParam(input.MaxResults, 'MaxResults', 1, 1000);
      let names = store.names().filter((n) => n.startsWith(prefix));
      const start = typeof input.NextToken === 'string' ? Number(Buffer.from(input.NextToken, 'base64').toString('utf8')) || 0 : 0;
      names = names.slice(start);
      const page = max === undefined ? names.slice(0, 1000) : names.slice(0, max);
      const more = max !== undefined && names.length > max;
      return { ...(page.length ? { QueueUrls: page.map(urlOf) } : {}), ...(more ? { NextToken: Buffer.from(String(start + max!)).toString('base64') } : {}) };
    },
    DeleteQueue: (input) => {
      store.delete(store.get(requireString(input.QueueUrl, 'QueueUrl')).name);
      return {};
    },
    GetQueueAttributes: (input) => {
      const q = store.get(requireString(input.QueueUrl, 'QueueUrl'));
      const names: string[] = input.AttributeNames ?? [];
      const all = store.attributes(q);
      const wanted = names.includes('All') ? READABLE_ATTRIBUTES : names;
      const out: Record<string, string> = {};
      for (const n of wanted) {
        if (!READABLE_ATTRIBUTES.includes(n)) throw sqsError('InvalidAttributeName', `Unknown Attribute ${n}.`);
        if (all[n] !== undefined) out[n] = all[n];
      }
      return Object.keys(out).length ? { Attributes: out } : {};
    },
    SetQueueAttributes: (input) => {
      const q = store.get(requireString(input.QueueUrl, 'QueueUrl'));
      store.setAttributes(q, validateAttributes(input.Attributes ?? {}));
      return {};
    },
    SendMessage: (input) => send(store.get(requireString(input.QueueUrl, 'QueueUrl')), input),
    SendMessageBatch: (input) => {
      const q = store.get(requireString(input.QueueUrl, 'QueueUrl'));
      return batch(input.Entries, async (e) => send(q, e));
    },
    ReceiveMessage: async (input) => {
      const q = store.get(requireString(input.QueueUrl, 'QueueUrl'));
      const got = await receive(q, input);
      const systemNames: string[] = [...(input.MessageSystemAttributeNames ?? []), ...(input.AttributeNames ?? [])];
      const messages = got.map((m) => messageOut(m, systemNames, input.MessageAttributeNames ?? []));
      return messages.length ? { Messages: messages } : {};
    },
    DeleteMessage: (input) => {
      store.deleteMessage(store.get(requireString(input.QueueUrl, 'QueueUrl')), requireString(input.ReceiptHandle, 'ReceiptHandle'));
      return {};
    },
    DeleteMessageBatch: (input) => {
      const q = store.get(requireString(input.QueueUrl, 'QueueUrl'));
      return batch(input.Entries, async (e) => {
        store.deleteMessage(q, requireString(e.ReceiptHandle, 'ReceiptHandle'));
        return {};
      });
    },
    ChangeMessageVisibility: (input) => {
      const q = store.get(requireString(input.QueueUrl, 'QueueUrl'));
      store.changeVisibility(q, requireString(input.ReceiptHandle, 'ReceiptHandle'), Number(input.VisibilityTimeout));
      return {};
    },
    ChangeMessageVisibilityBatch: (input) => {
      const q = store.get(requireString(input.QueueUrl, 'QueueUrl'));
      return batch(input.Entries, async (e) => {
        store.changeVisibility(q, requireString(e.ReceiptHandle, 'ReceiptHandle'), Number(e.VisibilityTimeout));
        return {};
      });
    },
    PurgeQueue: (input) => {
      store.purge(store.get(requireString(input.QueueUrl, 'QueueUrl')));
      return {};
    },
    ListQueueTags: (input) => {
      const q = store.get(requireString(input.QueueUrl, 'QueueUrl'));
      return Object.keys(q.tags).length ? { Tags: q.tags } : {};
    },
  };

  const json: JsonService = {
    targetPrefixes: ['AmazonSQS'],
    async handle(operation, input) {
      const op = operations[operation];
      if (!op) throw new AwsError('UnknownOperationException', `The local cloud's SQS does not implement ${operation}`);
      counters[operation] = (counters[operation] ?? 0) + 1;
      for (const effect of kernel.faults.decide({ service: 'sqs', operation })) {
        if (effect.kind === 'latency') await sleep(effect.latencyMs ?? 0);
        else if (effect.kind === 'error' || effect.kind === 'throttle') throw sqsError(effect.errorName ?? 'InjectedFault', effect.errorMessage ?? 'injected fault');
      }
      return op(input ?? {});
    },
  };

  const sqs: SqsPort = {
    async sendMessage(queue, body, attributes) {
      const m = store.send(store.get(queue), body, attributes ?? {});
      return { MessageId: m.messageId };
    },
  };

  const attributesOf = (p: Record<string, any>): Record<string, string> => {
    for (const key of Object.keys(p)) if (!QUEUE_PROPERTIES.has(key)) throw new Error(`property ${key} of AWS::SQS::Queue is not supported by the local cloud`);
    const { QueueName: _n, Tags: _t, ...rest } = p;
    return validateAttributes(rest);
  };

  const queueProvider: ResourceProvider = {
    types: ['AWS::SQS::Queue'],
    async create(req: ProvisionRequest): Promise<Provisioned> {
      const attributes = attributesOf(req.properties);
      const name: string = req.properties.QueueName ?? generatedName(req.stackName, req.logicalId, 80);
      if (store.has(name)) throw new Error(`queue ${name} already exists`);
      const tags = Object.fromEntries(((req.properties.Tags ?? []) as Array<{ Key: string; Value: string }>).map((t) => [t.Key, t.Value]));
      store.create(name, attributes, tags);
      const url = urlOf(name);
      return { physicalId: url, attributes: { Arn: arn('sqs', name), QueueName: name, QueueUrl: url } };
    },
    async update(req, previous): Promise<Provisioned> {
      const name = queueNameOf(previous.physicalId);
      if (req.properties.QueueName !== previous.properties.QueueName) {
        await queueProvider.delete(req.type, previous.physicalId, previous.properties);
        return queueProvider.create(req);
      }
      const attributes = attributesOf(req.properties);
      // Attributes removed from the template go back to their defaults, as a CloudFormation update does;
      // the policy belongs to AWS::SQS::QueuePolicy, not to the queue's properties.
      const q = store.get(name);
      const policy = q.attributes.Policy;
      q.attributes = { ...DEFAULT_ATTRIBUTES, ...attributes, ...(policy ? { Policy: policy } : {}) };
      store.setAttributes(q, {});
      return { physicalId: previous.physicalId, attributes: { Arn: arn('sqs', name), QueueName: name, QueueUrl: urlOf(name) } };
    },
    async delete(_type, physicalId) {
      const name = queueNameOf(physicalId);
      if (store.has(name)) store.delete(name);
    },
  };

  const policyProvider: ResourceProvider = {
    types: ['AWS::SQS::QueuePolicy'],
    async create(req) {
      const queues: string[] = req.properties.Queues ?? [];
      if (!Array.isArray(queues) || queues.length === 0) throw new Error('Queues is required');
      if (!req.properties.PolicyDocument) throw new Error('PolicyDocument is required');
      for (const url of queues) store.setAttributes(store.get(url), { Policy: JSON.stringify(req.properties.PolicyDocument) });
      return { physicalId: generatedName(req.stackName, req.logicalId, 128), attributes: { Id: req.logicalId } };
    },
    async delete(_type, _physicalId, properties) {
      for (const url of properties.Queues ?? []) if (store.has(queueNameOf(url))) store.setAttributes(store.get(url), { Policy: '' });
    },
  };

  const service: LocalService & { stats(): Record<string, unknown>; resetStats(): void } = {
    name: 'sqs',
    json,
    providers: [queueProvider, policyProvider],
    async stop() {
      stopped = true;
      store.flush();
    },
    stats: () => ({ operations: { ...counters }, queues: store.names().length }),
    resetStats: () => {
      for (const k of Object.keys(counters)) delete counters[k];
    },
  };
  return { service, sqs, store };
}
