/**
 * The poller of one DynamoDB-stream event-source mapping. It follows Lambda's documented
 * stream semantics: one shard, records in order, one batch in flight; a failing batch blocks
 * the shard and is retried until it succeeds, MaximumRetryAttempts is used up or its records
 * pass MaximumRecordAgeInSeconds; BisectBatchOnFunctionError splits a failing batch in two
 * without using up retries; ReportBatchItemFailures checkpoints before the lowest failed
 * sequence number; records that cannot be processed go to the on-failure destination with
 * Lambda's invocation-record shape, and the poller moves on.
 *
 * With a ParallelizationFactor above 1, each read of the shard is split into that many
 * batches by item key (so one item's records stay in order, in one batch) and the batches
 * run at once, each with its own retries. The checkpoint only moves past a record once
 * every record before it is done, so a restart redelivers, never skips.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AwsError } from '../../core/aws.js';
import type { FaultEffect } from '../../core/faults.js';
import type { Kernel, StreamRecord } from '../../core/kernel.js';
import { matchesPattern, parsePattern } from '../../events/pattern.js';
import type { LambdaRuntime, LocalInvokeResult } from '../runtime/runtime.js';
import type { MappingConfig } from './mapping.js';

/** The largest payload of a synchronous invocation: a batch stops growing before it. */
const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** Tuning of the pollers. */
export interface PollerOptions {
  /**
   * Delay before the n-th retry of a failed batch (n from 1). AWS backs off over seconds;
   * locally it is 10 ms doubling up to 500 ms, so retry tests run fast.
   */
  readonly retryDelayMs?: (attempt: number) => number;
}

/** One record as the function receives it: the stream record plus `eventSourceARN`. */
export interface StreamEventRecord extends StreamRecord {
  readonly eventSourceARN: string;
}

/** Counters of one mapping, for tests, benchmarks and the CLI. */
export interface MappingStats {
  readonly uuid: string;
  readonly functionName: string;
  readonly enabled: boolean;
  readonly checkpoint?: string;
  /** True when no batch is in flight and no record waits after the checkpoint. */
  readonly idle: boolean;
  readonly batches: number;
  readonly recordsDelivered: number;
  readonly recordsFiltered: number;
  readonly recordsDiscarded: number;
}

class Stopped extends Error {}

/** Compares two DynamoDB sequence numbers (decimal strings of any length). */
export function compareSequence(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The order a `reorder` fault delivers: keys' groups reversed, each key's records kept in order. */
export function reorderAcrossKeys<T extends { dynamodb: { Keys: unknown } }>(records: readonly T[]): T[] {
  const groups = new Map<string, T[]>();
  for (const r of records) {
    const key = JSON.stringify(r.dynamodb.Keys);
    const g = groups.get(key);
    if (g) g.push(r);
    else groups.set(key, [r]);
  }
  return [...groups.values()].reverse().flat();
}

/** The batch of a read an item's records go to: a stable hash of its key, modulo the factor. */
export function laneOf(keys: unknown, lanes: number): number {
  if (lanes <= 1) return 0;
  return createHash('md5').update(JSON.stringify(keys)).digest().readUInt32BE(0) % lanes;
}

/**
 * Which records of one read are done (processed or discarded). The checkpoint advances over
 * the done prefix only: a record finished by one batch while an earlier one is still being
 * retried in another is not yet checkpointed.
 */
export class ReadProgress {
  private next = 0;
  private readonly done = new Set<string>();

  constructor(
    private readonly order: readonly string[],
    private readonly checkpoint: (seq: string) => void,
  ) {}

  /** Marks records done; checkpoints the last record of the done prefix when it grew. */
  finish(seqs: Iterable<string>): void {
    for (const seq of seqs) this.done.add(seq);
    const from = this.next;
    while (this.next < this.order.length && this.done.has(this.order[this.next])) this.next += 1;
    if (this.next > from) this.checkpoint(this.order[this.next - 1]);
  }
}

function isoSeconds(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

type PartialOutcome = { kind: 'success' } | { kind: 'invalid' } | { kind: 'partial'; index: number };

/** Reads a `{batchItemFailures: [{itemIdentifier}]}` response as Lambda does. */
export function parseBatchResponse(payload: string, batch: readonly StreamEventRecord[]): PartialOutcome {
  let body: unknown;
  try {
    body = JSON.parse(payload);
  } catch {
    return { kind: 'invalid' };
  }
  // A null or empty response, or a null or empty list, is a complete success.
  if (body === null || typeof body !== 'object') return { kind: 'success' };
  const failures = (body as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'success' };
  if (!Array.isArray(failures)) return { kind: 'invalid' };
  if (failures.length === 0) return { kind: 'success' };
  let lowest = -1;
  for (const f of failures) {
    const id = (f as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    // An empty, null or missing itemIdentifier, or one not in the batch, fails the whole batch.
    if (typeof id !== 'string' || id === '') return { kind: 'invalid' };
    const index = batch.findIndex((r) => r.dynamodb.SequenceNumber === id);
    if (index < 0) return { kind: 'invalid' };
    if (lowest < 0 || index < lowest) lowest = index;
  }
  return { kind: 'partial', index: lowest };
}

/** Polls one stream for one mapping. */
export class StreamPoller {
  private checkpoint?: string;
  private positioned: boolean;
  private stopped = true;
  private busy = false;
  private dirty = false;
  private wake?: () => void;
  private unsubscribe?: () => void;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly filters: unknown[];
  private windowStart?: number;
  private progress?: ReadProgress;
  private stats = { batches: 0, recordsDelivered: 0, recordsFiltered: 0, recordsDiscarded: 0 };

  constructor(
    readonly mapping: MappingConfig,
    private readonly kernel: Kernel,
    private readonly runtime: LambdaRuntime,
    initial: { checkpoint?: string; positioned: boolean },
    /** Persists a checkpoint, or (undefined) that the starting position was taken. */
    private readonly persist: (checkpoint: string | undefined) => void,
    private readonly options: PollerOptions = {},
  ) {
    this.checkpoint = initial.checkpoint;
    this.positioned = initial.positioned || initial.checkpoint !== undefined;
    this.filters = mapping.filterPatterns.map((p) => parsePattern(p));
  }

  /** Starts polling (no-op when the mapping is disabled). */
  start(): void {
    if (!this.stopped || !this.mapping.enabled) return;
    this.stopped = false;
    if (!this.positioned) {
      // The starting position applies once, when the mapping first starts; later starts resume.
      const latest = this.mapping.startingPosition === 'LATEST' ? this.kernel.streams.latestSequence(this.mapping.eventSourceArn) : undefined;
      if (latest !== undefined) this.setCheckpoint(latest);
      else this.persist(undefined);
      this.positioned = true;
    }
    this.unsubscribe = this.kernel.streams.onAppend(this.mapping.eventSourceArn, () => this.notify());
    this.loopDone = this.loop().catch((err) => {
      if (!(err instanceof Stopped)) console.error(`[local-lambda] poller of mapping ${this.mapping.uuid} stopped on an internal error:`, err);
    });
  }

  /** Stops polling; an in-flight batch is abandoned without checkpointing, so it is redelivered after a restart. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.notify();
    await this.loopDone;
  }

  private notify(): void {
    this.dirty = true;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private waitForRecords(timeoutMs?: number): Promise<void> {
    if (this.dirty || this.stopped) {
      this.dirty = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => this.notify(), timeoutMs);
      this.wake = () => {
        if (timer) clearTimeout(timer);
        this.dirty = false;
        resolve();
      };
    });
  }

  /** The last fully processed sequence number. */
  position(): string | undefined {
    return this.checkpoint;
  }

  /** True when caught up: nothing in flight and nothing after the checkpoint. */
  isIdle(): boolean {
    if (this.stopped || !this.mapping.enabled) return true;
    return !this.busy && this.kernel.streams.readAfter(this.mapping.eventSourceArn, this.checkpoint, 1).length === 0;
  }

  /** Counters of this mapping. */
  snapshot(): MappingStats {
    return { uuid: this.mapping.uuid, functionName: this.mapping.functionName, enabled: this.mapping.enabled, checkpoint: this.checkpoint, idle: this.isIdle(), ...this.stats };
  }

  private setCheckpoint(seq: string): void {
    if (this.checkpoint !== undefined && compareSequence(seq, this.checkpoint) <= 0) return;
    this.checkpoint = seq;
    this.persist(seq);
  }

  private toEvent(r: StreamRecord): StreamEventRecord {
    return { ...r, eventSourceARN: this.mapping.eventSourceArn };
  }

  /**
   * Reads after the checkpoint into up to ParallelizationFactor batches of at most BatchSize
   * matching records each, split by item key; filtered-out records are consumed too. The read
   * stops at the first record whose batch is full, so every record up to `cursor` is in `order`.
   */
  private collect(): { batches: StreamEventRecord[][]; order: string[]; filtered: string[]; cursor?: string; read: number; events: number } {
    const { batchSize, eventSourceArn } = this.mapping;
    const lanes = this.mapping.parallelizationFactor ?? 1;
    const batches: StreamEventRecord[][] = Array.from({ length: lanes }, () => []);
    const bytes = new Array<number>(lanes).fill(0);
    const order: string[] = [];
    const filtered: string[] = [];
    let cursor = this.checkpoint;
    let read = 0;
    let events = 0;
    const result = () => ({ batches: batches.filter((b) => b.length > 0), order, filtered, cursor, read, events });
    for (;;) {
      const chunk = this.kernel.streams.readAfter(eventSourceArn, cursor, batchSize);
      for (const r of chunk) {
        const event = this.toEvent(r);
        const seq = r.dynamodb.SequenceNumber;
        if (this.filters.length > 0 && !this.filters.some((f) => matchesPattern(f, event))) {
          cursor = seq;
          order.push(seq);
          filtered.push(seq);
          read += 1;
          this.stats.recordsFiltered += 1;
          continue;
        }
        const lane = laneOf(r.dynamodb.Keys, lanes);
        const size = Buffer.byteLength(JSON.stringify(event));
        if (batches[lane].length === batchSize) return result();
        if (batches[lane].length > 0 && bytes[lane] + size > MAX_PAYLOAD_BYTES - 1024) return result();
        batches[lane].push(event);
        bytes[lane] += size;
        cursor = seq;
        order.push(seq);
        read += 1;
        events += 1;
        if (events === batchSize * lanes) return result();
      }
      if (chunk.length < batchSize) return result();
    }
  }

  private async loop(): Promise<void> {
    const windowMs = this.mapping.maximumBatchingWindowInSeconds * 1000;
    while (!this.stopped) {
      const { batches, order, filtered, cursor, read, events } = this.collect();
      if (read === 0) {
        this.windowStart = undefined;
        await this.waitForRecords();
        continue;
      }
      if (events === 0) {
        // Every record read was filtered out: Lambda drops them and moves past them.
        if (cursor) this.setCheckpoint(cursor);
        continue;
      }
      if (windowMs > 0 && events < this.mapping.batchSize) {
        this.windowStart ??= Date.now();
        const left = this.windowStart + windowMs - Date.now();
        if (left > 0) {
          await this.waitForRecords(left);
          continue;
        }
      }
      this.windowStart = undefined;
      this.busy = true;
      this.progress = new ReadProgress(order, (seq) => this.setCheckpoint(seq));
      this.progress.finish(filtered);
      try {
        const settled = await Promise.allSettled(batches.map((batch) => this.deliverBatch(batch)));
        const failed = settled.find((o): o is PromiseRejectedResult => o.status === 'rejected');
        if (failed) throw failed.reason;
        if (cursor) this.setCheckpoint(cursor);
      } catch (err) {
        if (err instanceof Stopped) return;
        throw err;
      } finally {
        this.progress = undefined;
        this.busy = false;
      }
    }
  }

  private async deliverBatch(events: StreamEventRecord[]): Promise<void> {
    const tableName = this.kernel.streams.tableOf(this.mapping.eventSourceArn);
    const effects = this.kernel.faults.decide({ service: 'streams', tableName, functionNames: this.runtime.aliasesOf(this.mapping.functionName) });
    const latency = effects.filter((e) => e.kind === 'latency').reduce((sum, e) => sum + (e.latencyMs ?? 0), 0);
    if (latency > 0) await sleep(latency);
    const reorder = effects.some((e) => e.kind === 'reorder');
    const forwarded = effects.filter((e) => e.kind === 'error' || e.kind === 'timeout' || e.kind === 'throttle');
    this.stats.batches += 1;
    await this.resolveBatch(events, 0, reorder, forwarded);
    if (effects.some((e) => e.kind === 'duplicate')) {
      this.stats.batches += 1;
      await this.resolveBatch(events, 0, reorder, []);
    }
  }

  private retryDelay(attempt: number): number {
    return this.options.retryDelayMs ? this.options.retryDelayMs(attempt) : Math.min(10 * 2 ** (attempt - 1), 500);
  }

  /**
   * Delivers `batch` until it succeeds or is discarded. `retries` is what the records already
   * used: halves of a bisected batch inherit it, since splitting does not count as a retry.
   */
  private async resolveBatch(records: StreamEventRecord[], retriesSoFar: number, reorder: boolean, firstEffects: readonly FaultEffect[]): Promise<void> {
    let batch = records;
    let retries = retriesSoFar;
    let invokes = 0;
    let throttles = 0;
    let effects = firstEffects;
    let last: LocalInvokeResult | undefined;
    const m = this.mapping;
    while (batch.length > 0) {
      if (this.stopped) throw new Stopped();
      if (m.maximumRecordAgeInSeconds !== -1) {
        const now = this.kernel.clock.now() / 1000;
        let expired = 0;
        while (expired < batch.length && now - batch[expired].dynamodb.ApproximateCreationDateTime > m.maximumRecordAgeInSeconds) expired += 1;
        if (expired > 0) {
          await this.discard(batch.slice(0, expired), 'RecordAgeExceeded', invokes, last);
          batch = batch.slice(expired);
          continue;
        }
      }
      const delivered = reorder ? reorderAcrossKeys(batch) : batch;
      try {
        last = await this.runtime.invokeWith(m.functionName, JSON.stringify({ Records: delivered }), { whenBusy: 'wait', extraEffects: effects });
      } catch (err) {
        if (this.stopped) throw new Stopped();
        // Throttles and a missing function are errors before the invocation: retried until
        // the records expire, without using up MaximumRetryAttempts.
        if (err instanceof AwsError) {
          effects = [];
          throttles += 1;
          await sleep(this.retryDelay(Math.min(throttles, 6)));
          continue;
        }
        throw err;
      }
      if (this.stopped) throw new Stopped();
      effects = [];
      invokes += 1;
      this.stats.recordsDelivered += batch.length;
      let fullFailure = Boolean(last.functionError);
      if (!fullFailure) {
        if (!m.functionResponseTypes.includes('ReportBatchItemFailures')) return this.advance(batch);
        const outcome = parseBatchResponse(last.payload, batch);
        if (outcome.kind === 'success') return this.advance(batch);
        if (outcome.kind === 'invalid') fullFailure = true;
        else {
          // Checkpoint before the lowest failed record and retry from it.
          if (outcome.index > 0) this.advance(batch.slice(0, outcome.index));
          batch = batch.slice(outcome.index);
        }
      }
      if (fullFailure && m.bisectBatchOnFunctionError && batch.length > 1) {
        const half = Math.ceil(batch.length / 2);
        await this.resolveBatch(batch.slice(0, half), retries, reorder, []);
        await this.resolveBatch(batch.slice(half), retries, reorder, []);
        return;
      }
      retries += 1;
      if (m.maximumRetryAttempts !== -1 && retries > m.maximumRetryAttempts) {
        await this.discard(batch, 'RetryAttemptsExhausted', invokes, last);
        return;
      }
      await sleep(this.retryDelay(retries));
    }
  }

  private advance(batch: readonly StreamEventRecord[]): void {
    this.progress?.finish(batch.map((r) => r.dynamodb.SequenceNumber));
  }

  /** Sends the batch's description to the on-failure destination and skips its records. */
  private async discard(batch: StreamEventRecord[], condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded', invokes: number, last: LocalInvokeResult | undefined): Promise<void> {
    const m = this.mapping;
    const first = batch[0].dynamodb;
    const lastRecord = batch[batch.length - 1].dynamodb;
    this.stats.recordsDiscarded += batch.length;
    console.error(`[local-lambda] mapping ${m.uuid} (${m.functionName}): ${condition}, discarding ${batch.length} record(s) ${first.SequenceNumber}..${lastRecord.SequenceNumber}`);
    if (m.onFailure) {
      const record = {
        requestContext: { requestId: last?.requestId ?? '', functionArn: m.functionArn, condition, approximateInvokeCount: invokes },
        responseContext: { statusCode: last?.statusCode ?? 0, executedVersion: '$LATEST', functionError: last?.functionError ?? '' },
        version: '1.0',
        timestamp: new Date(this.kernel.clock.now()).toISOString(),
        DDBStreamBatchInfo: {
          shardId: this.kernel.streams.shardIdOf?.(m.eventSourceArn) ?? 'shardId-00000000000000000000-00000000',
          startSequenceNumber: first.SequenceNumber,
          endSequenceNumber: lastRecord.SequenceNumber,
          approximateArrivalOfFirstRecord: isoSeconds(first.ApproximateCreationDateTime),
          approximateArrivalOfLastRecord: isoSeconds(lastRecord.ApproximateCreationDateTime),
          batchSize: batch.length,
          streamArn: m.eventSourceArn,
        },
      };
      try {
        await this.kernel.sqs.sendMessage(m.onFailure, JSON.stringify(record));
      } catch (err) {
        console.error(`[local-lambda] mapping ${m.uuid}: could not send to on-failure destination ${m.onFailure}:`, err);
      }
    }
    this.advance(batch);
  }
}
