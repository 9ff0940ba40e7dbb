/**
 * Standard SQS queues held in memory and persisted under the state directory: messages with
 * visibility timeouts, delays, retention, receive counts and redrive to a dead-letter queue.
 * Time comes from the local cloud's clock, so tests can expire visibility without sleeping.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ACCOUNT_ID, AwsError, arn } from '../core/aws.js';

/** A message attribute value as the JSON protocol carries it (BinaryValue is base64). */
export interface MessageAttributeValue {
  readonly DataType: string;
  readonly StringValue?: string;
  readonly BinaryValue?: string;
}

/** A stored message. */
export interface StoredMessage {
  readonly messageId: string;
  readonly body: string;
  readonly md5OfBody: string;
  readonly attributes: Record<string, MessageAttributeValue>;
  readonly md5OfAttributes?: string;
  readonly traceHeader?: string;
  readonly sentTimestamp: number;
  firstReceiveTimestamp?: number;
  receiveCount: number;
  /** Clock ms from which the message may be received (delay or visibility timeout). */
  visibleAt: number;
  /** The receipt handle of the latest receive, while the message is in flight. */
  receiptHandle?: string;
}

/** A queue and its messages. */
export interface StoredQueue {
  readonly name: string;
  readonly createdTimestamp: number;
  lastModifiedTimestamp: number;
  /** Settable attributes, as strings (the API's representation). */
  attributes: Record<string, string>;
  tags: Record<string, string>;
  messages: StoredMessage[];
  lastPurge?: number;
}

/** Attributes CreateQueue/SetQueueAttributes accept, with AWS's defaults. */
export const DEFAULT_ATTRIBUTES: Readonly<Record<string, string>> = {
  DelaySeconds: '0',
  MaximumMessageSize: '262144',
  MessageRetentionPeriod: '345600',
  ReceiveMessageWaitTimeSeconds: '0',
  VisibilityTimeout: '30',
  SqsManagedSseEnabled: 'true',
};
const SETTABLE = new Set([...Object.keys(DEFAULT_ATTRIBUTES), 'RedrivePolicy', 'RedriveAllowPolicy', 'Policy', 'KmsMasterKeyId', 'KmsDataKeyReusePeriodSeconds']);
const RANGES: Record<string, [number, number]> = {
  DelaySeconds: [0, 900],
  MaximumMessageSize: [1024, 1048576],
  MessageRetentionPeriod: [60, 1209600],
  ReceiveMessageWaitTimeSeconds: [0, 20],
  VisibilityTimeout: [0, 43200],
  KmsDataKeyReusePeriodSeconds: [60, 86400],
};
/** Attributes GetQueueAttributes can return. */
export const READABLE_ATTRIBUTES = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
  'QueueArn',
  ...SETTABLE,
];

/** An SQS error, with the query-compatible header SDK v3 uses to pick the exception class. */
export function sqsError(code: string, message: string, status = 400): AwsError {
  const err = new AwsError(code, message, status);
  err.headers = { 'x-amzn-query-error': `${code};${status >= 500 ? 'Receiver' : 'Sender'}` };
  return err;
}

/** The error for a queue that does not exist. */
export function nonExistentQueue(): AwsError {
  return sqsError('AWS.SimpleQueueService.NonExistentQueue', 'The specified queue does not exist.');
}

/** MD5 hex of a message body, as MD5OfBody carries it. */
export function md5Hex(data: string | Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/** MD5OfMessageAttributes, by AWS's documented encoding: sorted names, length-prefixed fields, transport byte. */
export function md5OfAttributes(attributes: Record<string, MessageAttributeValue>): string | undefined {
  const names = Object.keys(attributes).sort();
  if (names.length === 0) return undefined;
  const parts: Buffer[] = [];
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    parts.push(len, b);
  };
  for (const name of names) {
    const a = attributes[name]!;
    field(Buffer.from(name, 'utf8'));
    field(Buffer.from(a.DataType, 'utf8'));
    if (a.BinaryValue !== undefined && a.DataType.startsWith('Binary')) {
      parts.push(Buffer.from([2]));
      field(Buffer.from(a.BinaryValue, 'base64'));
    } else {
      parts.push(Buffer.from([1]));
      field(Buffer.from(a.StringValue ?? '', 'utf8'));
    }
  }
  return md5Hex(Buffer.concat(parts));
}

function encodeHandle(queue: string, messageId: string): string {
  return Buffer.from(`${queue}\n${messageId}\n${randomBytes(12).toString('hex')}`).toString('base64');
}

function decodeHandle(handle: string): { queue: string; messageId: string } | undefined {
  const parts = Buffer.from(String(handle), 'base64').toString('utf8').split('\n');
  if (parts.length !== 3 || !parts[0] || !parts[1]) return undefined;
  return { queue: parts[0], messageId: parts[1] };
}

/** The queue name of a queue URL (`.../<account>/<name>`) or ARN, or the name itself. */
export function queueNameOf(urlOrArn: string): string {
  const s = String(urlOrArn);
  if (s.startsWith('arn:')) return s.split(':').pop() ?? s;
  if (s.includes('/')) return s.replace(/\/+$/, '').split('/').pop() ?? s;
  return s;
}

/** Checks and normalizes settable attributes. */
export function validateAttributes(attributes: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(attributes)) {
    if (name === 'FifoQueue' || name === 'ContentBasedDeduplication' || name === 'DeduplicationScope' || name === 'FifoThroughputLimit') {
      if (name === 'FifoQueue' && String(raw) === 'false') continue;
      throw sqsError('AWS.SimpleQueueService.UnsupportedOperation', `FIFO queues (${name}) are not supported by the local cloud`);
    }
    if (!SETTABLE.has(name)) throw sqsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
    const value = typeof raw === 'string' ? raw : JSON.stringify(raw);
    const range = RANGES[name];
    if (range) {
      const n = Number(value);
      if (!Number.isInteger(n) || n < range[0] || n > range[1]) throw sqsError('InvalidAttributeValue', `Invalid value for the parameter ${name}.`);
    }
    if (name === 'RedrivePolicy' && value !== '') {
      let policy: any;
      try {
        policy = JSON.parse(value);
      } catch {
        throw sqsError('InvalidAttributeValue', 'Invalid value for the parameter RedrivePolicy. Reason: Redrive policy is not a valid JSON map.');
      }
      if (typeof policy?.deadLetterTargetArn !== 'string' || !(Number(policy.maxReceiveCount) >= 1 && Number(policy.maxReceiveCount) <= 1000)) {
        throw sqsError('InvalidAttributeValue', 'Invalid value for the parameter RedrivePolicy. Reason: deadLetterTargetArn and maxReceiveCount (1-1000) are required.');
      }
    }
    out[name] = value;
  }
  return out;
}

/** Every queue of the local account. */
export class QueueStore {
  private readonly queues = new Map<string, StoredQueue>();
  private readonly file?: string;
  private saveTimer?: NodeJS.Timeout;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly now: () => number,
    stateDir?: string,
  ) {
    this.file = stateDir ? path.join(stateDir, 'sqs', 'queues.json') : undefined;
    if (this.file && existsSync(this.file)) {
      for (const q of JSON.parse(readFileSync(this.file, 'utf8')) as StoredQueue[]) this.queues.set(q.name, q);
    }
  }

  /** Writes every queue to disk now. */
  flush(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (!this.file) return;
    mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify([...this.queues.values()]));
    renameSync(tmp, this.file);
  }

  /** Schedules a write soon, so bursts of messages cost one write. */
  changed(): void {
    for (const w of [...this.waiters]) w();
    if (!this.file || this.saveTimer) return;
    this.saveTimer = setTimeout(() => this.flush(), 25);
    this.saveTimer.unref();
  }

  /** Wakes long-polling receivers on the next change; returns the unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.waiters.add(listener);
    return () => this.waiters.delete(listener);
  }

  names(): string[] {
    return [...this.queues.keys()].sort();
  }

  /** A queue by name, URL or ARN; throws NonExistentQueue. */
  get(urlOrArn: string): StoredQueue {
    const q = this.queues.get(queueNameOf(urlOrArn));
    if (!q) throw nonExistentQueue();
    return q;
  }

  has(name: string): boolean {
    return this.queues.has(name);
  }

  create(name: string, attributes: Record<string, string>, tags: Record<string, string> = {}): StoredQueue {
    if (name.endsWith('.fifo')) throw sqsError('AWS.SimpleQueueService.UnsupportedOperation', 'FIFO queues are not supported by the local cloud');
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw sqsError('InvalidParameterValue', 'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length');
    const existing = this.queues.get(name);
    const merged = { ...DEFAULT_ATTRIBUTES, ...attributes };
    if (existing) {
      const differs = Object.entries(attributes).some(([k, v]) => existing.attributes[k] !== v);
      if (differs) throw sqsError('QueueAlreadyExists', 'A queue already exists with the same name and a different value for attribute(s).');
      return existing;
    }
    const now = this.now();
    const q: StoredQueue = { name, createdTimestamp: now, lastModifiedTimestamp: now, attributes: merged, tags, messages: [] };
    this.queues.set(name, q);
    this.changed();
    return q;
  }

  setAttributes(q: StoredQueue, attributes: Record<string, string>): void {
    q.attributes = { ...q.attributes, ...attributes };
    for (const [k, v] of Object.entries(attributes)) if (v === '' && !(k in DEFAULT_ATTRIBUTES)) delete q.attributes[k];
    q.lastModifiedTimestamp = this.now();
    this.changed();
  }

  delete(name: string): void {
    this.queues.delete(name);
    this.changed();
  }

  send(q: StoredQueue, body: string, attributes: Record<string, MessageAttributeValue> = {}, delaySeconds?: number, traceHeader?: string): StoredMessage {
    if (typeof body !== 'string' || body.length === 0) throw sqsError('MissingParameter', 'The request must contain the parameter MessageBody.');
    const size = Buffer.byteLength(body) + Object.entries(attributes).reduce((n, [k, v]) => n + k.length + v.DataType.length + (v.StringValue?.length ?? 0) + (v.BinaryValue ? Buffer.from(v.BinaryValue, 'base64').length : 0), 0);
    if (size > Number(q.attributes.MaximumMessageSize)) throw sqsError('InvalidParameterValue', `One or more parameters are invalid. Reason: Message must be shorter than ${q.attributes.MaximumMessageSize} bytes.`);
    if (Object.keys(attributes).length > 10) throw sqsError('InvalidParameterValue', 'Number of message attributes [' + Object.keys(attributes).length + '] exceeds the allowed maximum [10].');
    for (const [name, a] of Object.entries(attributes)) {
      if (!a || typeof a.DataType !== 'string' || !/^(String|Number|Binary)(\..+)?$/.test(a.DataType)) throw sqsError('InvalidParameterValue', `The message attribute '${name}' has an invalid message attribute type.`);
      if (a.DataType.startsWith('Binary') ? a.BinaryValue === undefined : a.StringValue === undefined) throw sqsError('InvalidParameterValue', `The message attribute '${name}' must contain a non-empty message attribute value.`);
    }
    const delay = delaySeconds ?? Number(q.attributes.DelaySeconds);
    if (!Number.isInteger(delay) || delay < 0 || delay > 900) throw sqsError('InvalidParameterValue', 'Value for parameter DelaySeconds is invalid. Reason: must be between 0 and 900.');
    const now = this.now();
    const m: StoredMessage = {
      messageId: randomUUID(),
      body,
      md5OfBody: md5Hex(body),
      attributes,
      md5OfAttributes: md5OfAttributes(attributes),
      traceHeader,
      sentTimestamp: now,
      receiveCount: 0,
      visibleAt: now + delay * 1000,
    };
    q.messages.push(m);
    this.changed();
    return m;
  }

  /** Receives up to `max` visible messages, moving those past maxReceiveCount to the DLQ first. */
  receive(q: StoredQueue, max: number, visibilityTimeout: number): StoredMessage[] {
    const now = this.now();
    this.expire(q, now);
    const redrive = q.attributes.RedrivePolicy ? (JSON.parse(q.attributes.RedrivePolicy) as { deadLetterTargetArn: string; maxReceiveCount: number | string }) : undefined;
    const out: StoredMessage[] = [];
    for (const m of [...q.messages]) {
      if (out.length >= max) break;
      if (m.visibleAt > now) continue;
      if (redrive && m.receiveCount >= Number(redrive.maxReceiveCount)) {
        const dlq = this.queues.get(queueNameOf(redrive.deadLetterTargetArn));
        if (dlq) {
          q.messages.splice(q.messages.indexOf(m), 1);
          m.receiptHandle = undefined;
          m.visibleAt = now;
          dlq.messages.push(m);
          continue;
        }
      }
      m.receiveCount += 1;
      m.firstReceiveTimestamp ??= now;
      m.visibleAt = now + visibilityTimeout * 1000;
      m.receiptHandle = encodeHandle(q.name, m.messageId);
      out.push(m);
    }
    if (out.length > 0) this.changed();
    return out;
  }

  private expire(q: StoredQueue, now: number): void {
    const retentionMs = Number(q.attributes.MessageRetentionPeriod) * 1000;
    const before = q.messages.length;
    q.messages = q.messages.filter((m) => now - m.sentTimestamp < retentionMs);
    if (q.messages.length !== before) this.changed();
  }

  /** Finds the message a receipt handle names; undefined when it was already deleted. */
  private byHandle(q: StoredQueue, handle: string): StoredMessage | undefined {
    const decoded = typeof handle === 'string' ? decodeHandle(handle) : undefined;
    if (!decoded || decoded.queue !== q.name) throw sqsError('ReceiptHandleIsInvalid', `The input receipt handle "${handle}" is not a valid receipt handle.`, 404);
    return q.messages.find((m) => m.messageId === decoded.messageId);
  }

  deleteMessage(q: StoredQueue, handle: string): void {
    const m = this.byHandle(q, handle);
    // Deleting an already deleted message succeeds, as on AWS.
    if (!m) return;
    q.messages.splice(q.messages.indexOf(m), 1);
    this.changed();
  }

  changeVisibility(q: StoredQueue, handle: string, timeout: number): void {
    if (!Number.isInteger(timeout) || timeout < 0 || timeout > 43200) throw sqsError('InvalidParameterValue', `Value ${timeout} for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.`);
    const m = this.byHandle(q, handle);
    const now = this.now();
    if (!m || m.receiptHandle === undefined || m.visibleAt <= now) throw sqsError('AWS.SimpleQueueService.MessageNotInflight', 'Message does not exist or is not available for visibility timeout change.');
    m.visibleAt = now + timeout * 1000;
    this.changed();
  }

  purge(q: StoredQueue): void {
    const now = this.now();
    if (q.lastPurge !== undefined && now - q.lastPurge < 60_000) throw sqsError('AWS.SimpleQueueService.PurgeQueueInProgress', `Only one PurgeQueue operation on ${q.name} is allowed every 60 seconds.`, 403);
    q.lastPurge = now;
    q.messages = [];
    this.changed();
  }

  /** All readable attributes of a queue, as GetQueueAttributes returns them. */
  attributes(q: StoredQueue): Record<string, string> {
    const now = this.now();
    this.expire(q, now);
    let visible = 0;
    let inFlight = 0;
    let delayed = 0;
    for (const m of q.messages) {
      if (m.visibleAt <= now) visible++;
      else if (m.receiptHandle !== undefined) inFlight++;
      else delayed++;
    }
    return {
      ...q.attributes,
      QueueArn: arn('sqs', q.name),
      ApproximateNumberOfMessages: String(visible),
      ApproximateNumberOfMessagesNotVisible: String(inFlight),
      ApproximateNumberOfMessagesDelayed: String(delayed),
      CreatedTimestamp: String(Math.floor(q.createdTimestamp / 1000)),
      LastModifiedTimestamp: String(Math.floor(q.lastModifiedTimestamp / 1000)),
    };
  }

  /** The URL of a queue at an endpoint. */
  static url(endpoint: string, name: string): string {
    return `${endpoint.replace(/\/+$/, '')}/${ACCOUNT_ID}/${name}`;
  }
}
