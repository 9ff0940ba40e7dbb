/**
 * DynamoDB Streams: the record log of every streamed table (one shard per stream), persisted
 * as append-only JSONL, the DynamoDB Streams API over it, and the in-process StreamsPort that
 * event-source mappings poll.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { AwsError, arn as makeArn } from '../core/aws.js';
import type { Kernel, StreamRecord, StreamsPort } from '../core/kernel.js';
import type { AttributeMap, KeyElement } from './items.js';
import { itemSize } from './items.js';
import type { MetadataStore } from './metadata.js';

/** Records older than this are trimmed, as on AWS. */
export const RETENTION_MS = 24 * 60 * 60 * 1000;
/** A shard iterator expires this long after it was handed out, as on AWS. */
export const ITERATOR_TTL_MS = 15 * 60 * 1000;
/** Sequence numbers are 21-digit decimals, like AWS's (compare them as BigInt). */
const SEQUENCE_BASE = 10n ** 20n;

/** Persisted description of one stream. */
interface StreamInfo {
  arn: string;
  label: string;
  tableName: string;
  viewType: string;
  keySchema: KeyElement[];
  shardId: string;
  createdAt: number;
  status: 'ENABLED' | 'DISABLED';
  disabledAt?: number;
  startSeq: string;
  endSeq?: string;
  lastSeq?: string;
  /** Highest sequence number trimmed away, if any. */
  trimmedUpTo?: string;
}

interface StreamState {
  info: StreamInfo;
  records: StreamRecord[];
  fd?: number;
  listeners: Set<() => void>;
}

interface IteratorToken {
  a: string;
  s: string;
  /** Position: records with sequence > p; null means the trim horizon. */
  p: string | null;
  t: number;
}

const VIEW_TYPES = new Set(['KEYS_ONLY', 'NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES']);

/**
 * The API's Identity members are capitalized (`{PrincipalId, Type}`), while the Lambda event
 * (and so the port's StreamRecord) spells them `{principalId, type}`.
 */
function toApiRecord(record: StreamRecord): unknown {
  if (!record.userIdentity) return record;
  const { userIdentity, ...rest } = record;
  return { ...rest, userIdentity: { PrincipalId: userIdentity.principalId, Type: userIdentity.type } };
}

/** What a write hands the store to become a record. */
export interface ChangeInput {
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  keys: AttributeMap;
  oldImage?: AttributeMap;
  newImage?: AttributeMap;
  userIdentity?: { type: string; principalId: string };
}

/** The record log of every stream, with its API. */
export class StreamStore implements StreamsPort {
  private readonly streams = new Map<string, StreamState>();
  private counter = 0n;
  private readonly dir: string;

  constructor(
    private readonly kernel: Kernel,
    private readonly meta: MetadataStore,
    stateDir: string,
  ) {
    this.dir = join(stateDir, 'streams');
  }

  /** Loads the registry and records, drops what retention trimmed, and compacts the files. */
  load(): void {
    mkdirSync(this.dir, { recursive: true });
    this.counter = this.meta.sequence ? BigInt(this.meta.sequence) : 0n;
    for (const raw of this.meta.streamsState as StreamInfo[]) {
      const state: StreamState = { info: raw, records: [], listeners: new Set() };
      const file = this.fileOf(raw.arn);
      if (existsSync(file)) {
        for (const line of readFileSync(file, 'utf8').split('\n')) {
          if (!line.trim()) continue;
          try {
            state.records.push(JSON.parse(line) as StreamRecord);
          } catch {
            // A torn last line from a crash: everything before it is intact.
          }
        }
      }
      const last = state.records.at(-1)?.dynamodb.SequenceNumber;
      if (last && (!raw.lastSeq || BigInt(last) > BigInt(raw.lastSeq))) raw.lastSeq = last;
      if (raw.lastSeq && BigInt(raw.lastSeq) - SEQUENCE_BASE > this.counter) this.counter = BigInt(raw.lastSeq) - SEQUENCE_BASE;
      this.streams.set(raw.arn, state);
    }
    this.trim(true);
    for (const state of this.streams.values()) this.rewrite(state);
    this.persist();
  }

  /** Closes every file and saves the registry. */
  close(): void {
    for (const state of this.streams.values()) {
      if (state.fd !== undefined) closeSync(state.fd);
      state.fd = undefined;
    }
    this.persist();
  }

  private fileOf(streamArn: string): string {
    return join(this.dir, `${createHash('sha1').update(streamArn).digest('hex').slice(0, 16)}.jsonl`);
  }

  private persist(): void {
    this.meta.streamsState = [...this.streams.values()].map((s) => s.info);
    this.meta.sequence = this.counter.toString();
    this.meta.save();
  }

  private rewrite(state: StreamState): void {
    if (state.fd !== undefined) closeSync(state.fd);
    state.fd = undefined;
    const file = this.fileOf(state.info.arn);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, state.records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    renameSync(tmp, file);
  }

  /** Creates a new stream for a table and returns its ARN and label. */
  create(tableName: string, viewType: string, keySchema: KeyElement[]): { arn: string; label: string } {
    if (!VIEW_TYPES.has(viewType)) throw new AwsError('ValidationException', `Unsupported StreamViewType: ${viewType}`);
    let ms = this.kernel.clock.now();
    let label = new Date(ms).toISOString().replace('Z', '');
    let streamArn = makeArn('dynamodb', `table/${tableName}/stream/${label}`, this.kernel.region);
    while (this.streams.has(streamArn)) {
      ms += 1;
      label = new Date(ms).toISOString().replace('Z', '');
      streamArn = makeArn('dynamodb', `table/${tableName}/stream/${label}`, this.kernel.region);
    }
    const shardId = `shardId-${String(ms).padStart(20, '0')}-${randomUUID().slice(0, 8)}`;
    const info: StreamInfo = {
      arn: streamArn, label, tableName, viewType, keySchema, shardId, createdAt: ms, status: 'ENABLED',
      startSeq: (SEQUENCE_BASE + this.counter + 1n).toString(),
    };
    this.streams.set(streamArn, { info, records: [], listeners: new Set() });
    this.persist();
    return { arn: streamArn, label };
  }

  /** Disables a stream: its shard closes, its records stay readable for 24 hours. */
  disable(streamArn: string): void {
    const state = this.streams.get(streamArn);
    if (!state || state.info.status === 'DISABLED') return;
    state.info.status = 'DISABLED';
    state.info.disabledAt = this.kernel.clock.now();
    state.info.endSeq = state.info.lastSeq ?? (BigInt(state.info.startSeq) - 1n).toString();
    this.persist();
    for (const l of state.listeners) this.notify(l);
  }

  /** View type of an enabled stream. */
  viewTypeOf(streamArn: string): string | undefined {
    return this.streams.get(streamArn)?.info.viewType;
  }

  /**
   * Appends one change as a record (sequence number assigned here, in commit order) and wakes
   * pollers. A write that commits after its table's stream was disabled records nothing, as on AWS.
   */
  append(streamArn: string, change: ChangeInput): StreamRecord | undefined {
    const state = this.streams.get(streamArn);
    if (!state || state.info.status !== 'ENABLED') return undefined;
    const view = state.info.viewType;
    this.counter += 1n;
    const seq = (SEQUENCE_BASE + this.counter).toString();
    const withNew = (view === 'NEW_IMAGE' || view === 'NEW_AND_OLD_IMAGES') && change.newImage;
    const withOld = (view === 'OLD_IMAGE' || view === 'NEW_AND_OLD_IMAGES') && change.oldImage;
    const record: StreamRecord = {
      eventID: randomUUID().replace(/-/g, ''),
      eventName: change.eventName,
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: this.kernel.region,
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(this.kernel.clock.now() / 1000),
        Keys: change.keys,
        ...(withNew ? { NewImage: change.newImage } : {}),
        ...(withOld ? { OldImage: change.oldImage } : {}),
        SequenceNumber: seq,
        SizeBytes: itemSize(change.keys) + (withNew ? itemSize(change.newImage) : 0) + (withOld ? itemSize(change.oldImage) : 0),
        StreamViewType: view,
      },
      ...(change.userIdentity ? { userIdentity: change.userIdentity } : {}),
    };
    state.records.push(record);
    state.info.lastSeq = seq;
    // Synchronous append: a record acknowledged to the writer is on disk before the response.
    if (state.fd === undefined) state.fd = openSync(this.fileOf(streamArn), 'a');
    writeSync(state.fd, `${JSON.stringify(record)}\n`);
    for (const l of state.listeners) this.notify(l);
    return record;
  }

  private notify(listener: () => void): void {
    queueMicrotask(() => {
      try {
        listener();
      } catch (err) {
        console.error('[local-cloud] stream listener failed:', err);
      }
    });
  }

  /** Drops records past retention, and streams disabled for longer than retention. */
  trim(force = false): void {
    const cutoff = Math.floor((this.kernel.clock.now() - RETENTION_MS) / 1000);
    for (const [streamArn, state] of this.streams) {
      if (state.info.status === 'DISABLED' && (state.info.disabledAt ?? 0) < this.kernel.clock.now() - RETENTION_MS) {
        if (state.fd !== undefined) closeSync(state.fd);
        rmSync(this.fileOf(streamArn), { force: true });
        this.streams.delete(streamArn);
        continue;
      }
      let n = 0;
      while (n < state.records.length && state.records[n].dynamodb.ApproximateCreationDateTime < cutoff) n += 1;
      if (n === 0) continue;
      state.info.trimmedUpTo = state.records[n - 1].dynamodb.SequenceNumber;
      state.records.splice(0, n);
      if (!force) {
        this.rewrite(state);
        this.persist();
      }
    }
  }

  // ---- StreamsPort ----

  /** @inheritdoc */
  readAfter(streamArn: string, afterSequence: string | undefined, limit: number): StreamRecord[] {
    const state = this.streams.get(streamArn);
    if (!state) return [];
    return this.slice(state, afterSequence, limit);
  }

  private slice(state: StreamState, after: string | undefined | null, limit: number): StreamRecord[] {
    const records = state.records;
    let start = 0;
    if (after !== undefined && after !== null) {
      const a = BigInt(after);
      // Binary search: records are in increasing sequence order.
      let lo = 0;
      let hi = records.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (BigInt(records[mid].dynamodb.SequenceNumber) <= a) lo = mid + 1;
        else hi = mid;
      }
      start = lo;
    }
    return records.slice(start, start + limit);
  }

  /** @inheritdoc */
  latestSequence(streamArn: string): string | undefined {
    return this.streams.get(streamArn)?.info.lastSeq;
  }

  /** @inheritdoc */
  onAppend(streamArn: string, listener: () => void): () => void {
    const state = this.streams.get(streamArn);
    if (!state) return () => undefined;
    state.listeners.add(listener);
    return () => state.listeners.delete(listener);
  }

  /** @inheritdoc */
  tableOf(streamArn: string): string | undefined {
    return this.streams.get(streamArn)?.info.tableName;
  }

  /** @inheritdoc */
  shardIdOf(streamArn: string): string | undefined {
    return this.streams.get(streamArn)?.info.shardId;
  }

  // ---- DynamoDB Streams API ----

  /** Runs one DynamoDB Streams operation. */
  async handle(operation: string, input: any): Promise<unknown> {
    switch (operation) {
      case 'ListStreams':
        return this.listStreams(input);
      case 'DescribeStream':
        return this.describeStream(input);
      case 'GetShardIterator':
        return this.getShardIterator(input);
      case 'GetRecords':
        return this.getRecords(input);
      default:
        throw new AwsError('UnknownOperationException', `DynamoDB Streams operation ${operation} is not supported by the local cloud`);
    }
  }

  private stateOf(streamArn: unknown): StreamState {
    if (typeof streamArn !== 'string' || !streamArn) throw new AwsError('ValidationException', "1 validation error detected: Value null at 'streamArn' failed to satisfy constraint: Member must not be null");
    const state = this.streams.get(streamArn);
    if (!state) throw new AwsError('ResourceNotFoundException', `Requested resource not found: Stream: ${streamArn} not found`);
    return state;
  }

  private checkLimit(limit: unknown, max: number, field: string): number | undefined {
    if (limit === undefined || limit === null) return undefined;
    if (typeof limit !== 'number' || !Number.isInteger(limit)) throw new AwsError('ValidationException', `1 validation error detected: Value '${String(limit)}' at '${field}' failed to satisfy constraint: Member must be an integer`);
    if (limit < 1) throw new AwsError('ValidationException', `1 validation error detected: Value '${limit}' at '${field}' failed to satisfy constraint: Member must have value greater than or equal to 1`);
    if (limit > max) throw new AwsError('ValidationException', `1 validation error detected: Value '${limit}' at '${field}' failed to satisfy constraint: Member must have value less than or equal to ${max}`);
    return limit;
  }

  private listStreams(input: any): unknown {
    this.trim();
    const limit = this.checkLimit(input.Limit, 100, 'limit') ?? 100;
    let all = [...this.streams.values()].map((s) => s.info).filter((i) => !input.TableName || i.tableName === input.TableName);
    all.sort((a, b) => (a.arn < b.arn ? -1 : a.arn > b.arn ? 1 : 0));
    if (input.ExclusiveStartStreamArn) {
      const i = all.findIndex((s) => s.arn === input.ExclusiveStartStreamArn);
      all = i >= 0 ? all.slice(i + 1) : all.filter((s) => s.arn > input.ExclusiveStartStreamArn);
    }
    const page = all.slice(0, limit);
    return {
      Streams: page.map((s) => ({ StreamArn: s.arn, TableName: s.tableName, StreamLabel: s.label })),
      ...(all.length > limit ? { LastEvaluatedStreamArn: page.at(-1)!.arn } : {}),
    };
  }

  private describeStream(input: any): unknown {
    this.trim();
    const state = this.stateOf(input.StreamArn);
    this.checkLimit(input.Limit, 100, 'limit');
    const i = state.info;
    const shards = input.ExclusiveStartShardId === i.shardId ? [] : [
      {
        ShardId: i.shardId,
        SequenceNumberRange: { StartingSequenceNumber: i.startSeq, ...(i.endSeq ? { EndingSequenceNumber: i.endSeq } : {}) },
      },
    ];
    return {
      StreamDescription: {
        StreamArn: i.arn,
        StreamLabel: i.label,
        StreamStatus: i.status,
        StreamViewType: i.viewType,
        CreationRequestDateTime: i.createdAt / 1000,
        TableName: i.tableName,
        KeySchema: i.keySchema,
        Shards: shards,
      },
    };
  }

  private getShardIterator(input: any): unknown {
    const state = this.stateOf(input.StreamArn);
    const i = state.info;
    if (typeof input.ShardId !== 'string' || !input.ShardId) throw new AwsError('ValidationException', "1 validation error detected: Value null at 'shardId' failed to satisfy constraint: Member must not be null");
    if (input.ShardId !== i.shardId) throw new AwsError('ResourceNotFoundException', `Requested resource not found: Shard does not exist`);
    const type = input.ShardIteratorType;
    const types = ['TRIM_HORIZON', 'LATEST', 'AT_SEQUENCE_NUMBER', 'AFTER_SEQUENCE_NUMBER'];
    if (!types.includes(type)) {
      throw new AwsError('ValidationException', `1 validation error detected: Value '${String(type)}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [${types.join(', ')}]`);
    }
    this.trim();
    let position: string | null;
    if (type === 'TRIM_HORIZON') position = null;
    else if (type === 'LATEST') position = i.lastSeq ?? (BigInt(i.startSeq) - 1n).toString();
    else {
      const seq = input.SequenceNumber;
      if (typeof seq !== 'string' || !/^\d{1,40}$/.test(seq)) {
        throw new AwsError('ValidationException', seq === undefined ? `SequenceNumber is required for ShardIteratorType ${type}` : `Invalid SequenceNumber: ${String(seq)}`);
      }
      const n = BigInt(seq);
      const last = i.lastSeq ? BigInt(i.lastSeq) : BigInt(i.startSeq) - 1n;
      if (n < BigInt(i.startSeq) || n > last) throw new AwsError('ValidationException', `Invalid SequenceNumber ${seq} for shard ${i.shardId} of ${i.arn}`);
      if (i.trimmedUpTo && n <= BigInt(i.trimmedUpTo)) throw new AwsError('TrimmedDataAccessException', `The sequence number ${seq} is beyond the trim horizon of the shard`);
      position = (type === 'AT_SEQUENCE_NUMBER' ? n - 1n : n).toString();
    }
    return { ShardIterator: this.encode({ a: i.arn, s: i.shardId, p: position, t: this.kernel.clock.now() }) };
  }

  private encode(token: IteratorToken): string {
    return `${token.a}|${Buffer.from(JSON.stringify(token)).toString('base64url')}`;
  }

  private decode(iterator: unknown): IteratorToken {
    if (typeof iterator !== 'string' || !iterator) throw new AwsError('ValidationException', "1 validation error detected: Value null at 'shardIterator' failed to satisfy constraint: Member must not be null");
    try {
      const token = JSON.parse(Buffer.from(iterator.slice(iterator.lastIndexOf('|') + 1), 'base64url').toString('utf8')) as IteratorToken;
      if (typeof token.a === 'string' && typeof token.s === 'string' && typeof token.t === 'number' && (token.p === null || typeof token.p === 'string')) return token;
    } catch {
      // Reported below, like any other malformed iterator.
    }
    throw new AwsError('ValidationException', 'Invalid ShardIterator');
  }

  private getRecords(input: any): unknown {
    const token = this.decode(input.ShardIterator);
    const limit = this.checkLimit(input.Limit, 1000, 'limit') ?? 1000;
    const now = this.kernel.clock.now();
    if (now - token.t > ITERATOR_TTL_MS) throw new AwsError('ExpiredIteratorException', 'Iterator expired. The iterator was created over 15 minutes ago.');
    this.trim();
    const state = this.streams.get(token.a);
    if (!state || state.info.shardId !== token.s) throw new AwsError('ResourceNotFoundException', `Requested resource not found: Stream: ${token.a} not found`);
    const i = state.info;
    if (token.p !== null && i.trimmedUpTo && BigInt(token.p) < BigInt(i.trimmedUpTo)) {
      throw new AwsError('TrimmedDataAccessException', 'The operation attempted to read past the oldest stream record in a shard.');
    }
    const records = this.slice(state, token.p, limit);
    const position = records.length ? records.at(-1)!.dynamodb.SequenceNumber : token.p;
    const closedAndDrained = i.status === 'DISABLED' && (position === null ? state.records.length === 0 : BigInt(position) >= BigInt(i.endSeq ?? '0'));
    return {
      Records: records.map(toApiRecord),
      ...(closedAndDrained ? {} : { NextShardIterator: this.encode({ a: i.arn, s: i.shardId, p: position, t: now }) }),
    };
  }
}
