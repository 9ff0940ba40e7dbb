/**
 * The sync orchestration with in-memory ports: an in-memory replica store that applies the
 * domain's own guard, an in-memory Once with Powertools' semantics (a failed run leaves no
 * record), and recording publisher, audit log, DLQ and metrics.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntry, EventPublisher, OutboundEvent } from '../../../../lambdas/shared/ports.js';
import type { AttributeMap } from '../../../../lambdas/sync/domain/attribute-values.js';
import type { Once, PoisonMessage, ReplicaWriter, SyncMetric } from '../../../../lambdas/sync/domain/ports.js';
import { StreamSync, unitKey, type SyncDeps } from '../../../../lambdas/sync/domain/sync.js';
import { guardAllows, type GuardOutcome, type ReplicaWrite } from '../../../../lambdas/sync/domain/version-guard.js';
import { parseChange } from '../../../../lambdas/sync/domain/change.js';
import { ParkingFailed, PredecessorFailed, ReplicasFailed } from '../../../../lambdas/sync/errors.js';
import { insert, modify, orderOptions, remove } from '../records.js';

class MemoryReplicas implements ReplicaWriter {
  readonly tables = new Map<string, Map<string, AttributeMap>>();
  readonly writes: Array<{ replica: string; kind: string }> = [];
  readonly down = new Set<string>();
  /** Awaited before each write, so tests can interleave. */
  gate: (replica: string, write: ReplicaWrite) => Promise<void> = async () => {};

  async write(replica: string, write: ReplicaWrite): Promise<GuardOutcome> {
    await this.gate(replica, write);
    if (this.down.has(replica)) throw Object.assign(new Error('down'), { name: 'ResourceNotFoundException' });
    this.writes.push({ replica, kind: write.kind });
    const table = this.tables.get(replica) ?? new Map();
    this.tables.set(replica, table);
    const id = write.key.orderId && 'S' in write.key.orderId ? write.key.orderId.S : '?';
    const current = table.get(id);
    const state = { exists: !!current, version: current?.version ? Number((current.version as { N: string }).N) : undefined, tombstone: !!current?.tombstone };
    if (!guardAllows(write, state)) return { kind: 'skipped', replicaExists: state.exists, replicaVersion: state.version };
    if (write.kind === 'put') table.set(id, write.item);
    else table.delete(id);
    return { kind: 'applied' };
  }

  version(replica: string, id: string): number | undefined {
    const v = this.tables.get(replica)?.get(id)?.version;
    return v && 'N' in v ? Number(v.N) : undefined;
  }
}

class MemoryOnce implements Once {
  readonly done = new Map<string, object>();
  async run<T extends object>(key: string, work: () => Promise<T>) {
    if (this.done.has(key)) return { value: this.done.get(key) as T, duplicate: true };
    const value = await work();
    this.done.set(key, value);
    return { value, duplicate: false };
  }
}

class RecordingPublisher implements EventPublisher {
  readonly events: OutboundEvent[] = [];
  failNext = 0;
  async publish(events: readonly OutboundEvent[]) {
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('PutEvents throttled');
    }
    this.events.push(...events);
  }
}

let replicas: MemoryReplicas;
let once: MemoryOnce;
let publisher: RecordingPublisher;
let audit: AuditEntry[];
let dlq: PoisonMessage[];
let counts: Record<string, number>;
let lags: number[];
let logs: Array<{ level: string; message: string; fields: Record<string, unknown> }>;
let auditDown: boolean;

function makeSync(replicaNames: string[] = ['R1'], overrides: Partial<SyncDeps> = {}) {
  const log = (level: string) => (message: string, fields: Record<string, unknown>) => logs.push({ level, message, fields });
  return new StreamSync({
    options: orderOptions,
    replicas: replicaNames,
    writer: replicas,
    once,
    publisher,
    audit: {
      append: async (e) => {
        if (auditDown) throw new Error('audit down');
        audit.push(e);
      },
    },
    poison: { send: async (m) => void dlq.push(m) },
    metrics: { count: (m: SyncMetric, n = 1) => void (counts[m] = (counts[m] ?? 0) + n), lag: (ms) => void lags.push(ms) },
    log: { info: log('info'), warn: log('warn'), error: log('error') },
    clock: { now: () => new Date(1_795_766_401_500) },
    actor: 'sync-test',
    ...overrides,
  });
}

beforeEach(() => {
  replicas = new MemoryReplicas();
  once = new MemoryOnce();
  publisher = new RecordingPublisher();
  audit = [];
  dlq = [];
  counts = {};
  lags = [];
  logs = [];
  auditDown = false;
});

/** Runs records through one batch the way the BatchProcessor does: all started in order, settled together. */
async function runBatch(sync: StreamSync, records: unknown[]) {
  const process = sync.batch();
  return Promise.allSettled(records.map((r) => process(r)));
}

describe('StreamSync', () => {
  it('applies a change, publishes its event, counts it and measures lag', async () => {
    const [result] = await runBatch(makeSync(), [insert('o-1', 1)]);
    expect(result).toEqual({ status: 'fulfilled', value: { status: 'synced', replicas: { R1: 'applied' } } });
    expect(replicas.version('R1', 'o-1')).toBe(1);
    expect(publisher.events.map((e) => e.detail)).toEqual([expect.objectContaining({ orderId: 'o-1', changeType: 'INSERT', afterVersion: 1 })]);
    expect(counts).toEqual({ Applied: 1, EventsPublished: 1 });
    expect(lags).toEqual([1500]);
  });

  it('applies a redelivered record once and counts the duplicate', async () => {
    const record = insert('o-1', 1);
    const sync = makeSync();
    await runBatch(sync, [record]);
    const [again] = await runBatch(sync, [record]);
    expect(again).toEqual({ status: 'fulfilled', value: { status: 'synced', replicas: { R1: 'duplicate' } } });
    expect(replicas.writes).toHaveLength(1);
    expect(publisher.events).toHaveLength(1);
    expect(counts).toMatchObject({ Applied: 1, Duplicates: 1 });
  });

  it('skips a stale change, counts it, and publishes nothing for it', async () => {
    const sync = makeSync();
    await runBatch(sync, [insert('o-1', 3)]);
    const [stale] = await runBatch(sync, [modify('o-1', 1, 2)]);
    expect(stale).toEqual({ status: 'fulfilled', value: { status: 'synced', replicas: { R1: 'skipped-stale' } } });
    expect(replicas.version('R1', 'o-1')).toBe(3);
    expect(publisher.events).toHaveLength(1);
    expect(counts.SkippedStale).toBe(1);
  });

  it('keeps going for a healthy replica while another is down, and retries only the failed one', async () => {
    const sync = makeSync(['R1', 'R2']);
    replicas.down.add('R2');
    const record = insert('o-1', 1);
    const [first] = await runBatch(sync, [record]);
    expect(first.status).toBe('rejected');
    expect((first as PromiseRejectedResult).reason).toBeInstanceOf(ReplicasFailed);
    expect((first as PromiseRejectedResult).reason.replicas).toEqual(['R2']);
    expect(replicas.version('R1', 'o-1')).toBe(1);
    expect(publisher.events).toHaveLength(1); // the primary applied it

    replicas.down.delete('R2');
    const [retry] = await runBatch(sync, [record]);
    expect(retry).toEqual({ status: 'fulfilled', value: { status: 'synced', replicas: { R1: 'duplicate', R2: 'applied' } } });
    // R1 was written once in all: the retry did not touch it.
    expect(replicas.writes.filter((w) => w.replica === 'R1')).toHaveLength(1);
    expect(replicas.version('R2', 'o-1')).toBe(1);
    expect(publisher.events).toHaveLength(1);
    expect(counts).toMatchObject({ Applied: 2, Duplicates: 1, Failures: 1 });
  });

  it('publishes on the retry when the write succeeded but publishing failed', async () => {
    const sync = makeSync();
    publisher.failNext = 1;
    const record = insert('o-1', 1);
    const [first] = await runBatch(sync, [record]);
    expect(first.status).toBe('rejected');
    const [retry] = await runBatch(sync, [record]);
    // The guard refuses the equal version; the unit knows the replica reflects it and publishes.
    expect(retry).toEqual({ status: 'fulfilled', value: { status: 'synced', replicas: { R1: 'skipped-stale' } } });
    expect(publisher.events).toHaveLength(1);
    expect(replicas.version('R1', 'o-1')).toBe(1);
  });

  it('keeps records of one key in stream order within a batch, even when the first is slow', async () => {
    const sync = makeSync();
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    replicas.gate = async (_replica, write) => {
      if (write.kind === 'put' && (write.key.orderId as { S: string }).S === 'o-1') await slow;
    };
    const pending = runBatch(sync, [insert('o-1', 1), remove('o-1', 1), insert('o-2', 1)]);
    await new Promise((r) => setTimeout(r, 20));
    // o-2 is independent and already done; the delete of o-1 waits for its insert.
    expect(replicas.version('R1', 'o-2')).toBe(1);
    expect(replicas.writes.filter((w) => w.kind === 'delete')).toHaveLength(0);
    release();
    const results = await pending;
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(replicas.tables.get('R1')?.has('o-1')).toBe(false);
  });

  it('fails a later record of a key whose earlier record failed, so a delete never overtakes its insert', async () => {
    const sync = makeSync();
    replicas.gate = async (_replica, write) => {
      if (write.kind === 'put' && write.version === 1 && !replicas.down.has('R1') && !replicas.writes.length) throw new Error('throttled');
    };
    const [ins, del] = await runBatch(sync, [insert('o-1', 1), remove('o-1', 1)]);
    expect(ins.status).toBe('rejected');
    expect((del as PromiseRejectedResult).reason).toBeInstanceOf(PredecessorFailed);
    expect(replicas.writes).toHaveLength(0);
  });

  it('converges whatever the delivery order across keys', async () => {
    const sync = makeSync();
    const records = [insert('a', 1), modify('a', 1, 2), insert('b', 1), modify('b', 1, 2), modify('a', 2, 3)];
    await runBatch(sync, [records[2], records[3], records[0], records[1], records[4]]);
    expect(replicas.version('R1', 'a')).toBe(3);
    expect(replicas.version('R1', 'b')).toBe(2);
  });

  it('parks a poison record in the audit log and on the DLQ, reports it processed, and applies the rest', async () => {
    const sync = makeSync();
    const bad = insert('o-bad', 1, { version: { S: 'one' } });
    const results = await runBatch(sync, [insert('o-1', 1), bad, insert('o-2', 1)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    expect((results[1] as PromiseFulfilledResult<unknown>).value).toEqual({ status: 'parked', reason: 'CONTRACT_VIOLATION' });
    expect(replicas.version('R1', 'o-1')).toBe(1);
    expect(replicas.version('R1', 'o-2')).toBe(1);
    expect(audit).toEqual([
      expect.objectContaining({
        entityId: 'order#o-bad',
        action: 'SYNC_RECORD_PARKED',
        actor: 'sync-test',
        correlationId: bad.eventID,
        reason: expect.stringMatching(/^CONTRACT_VIOLATION: sync contract: version: /),
        idempotencyKey: expect.stringContaining(bad.dynamodb.SequenceNumber),
      }),
    ]);
    expect(dlq).toEqual([expect.objectContaining({ kind: 'SyncPoisonRecord', reason: 'CONTRACT_VIOLATION', error: 'ImageContractViolation', key: 'orderId=o-bad', sequenceNumber: bad.dynamodb.SequenceNumber })]);
    expect(JSON.stringify([audit, dlq, logs])).not.toContain('sku-1');
    expect(counts.PoisonRecords).toBe(1);
  });

  it('retries a poison record whose parking failed, rather than dropping it', async () => {
    auditDown = true;
    const [result] = await runBatch(makeSync(), [insert('o-bad', 1, { amount: { S: 'x' } })]);
    expect((result as PromiseRejectedResult).reason).toBeInstanceOf(ParkingFailed);
    expect(dlq).toEqual([]);
  });

  it('logs keys, versions and the correlation id, never images', async () => {
    await runBatch(makeSync(), [insert('o-1', 1, { customerId: { S: 'alice@example.com' } })]);
    const line = logs.find((l) => l.message === 'change synced')!;
    expect(line.fields).toMatchObject({ key: 'orderId=o-1', version: 1, correlationId: expect.any(String) });
    expect(JSON.stringify(logs)).not.toContain('alice@example.com');
  });

  it('keys idempotency by replica, table, key, operation and version (or sequence number)', () => {
    expect(unitKey('R1', parseChange(insert('o-1', 4), orderOptions), 'Orders')).toBe('R1|Orders|orderId=o-1|put|v4');
    expect(unitKey('R1', parseChange(remove('o-1', 4), orderOptions), 'Orders')).toBe('R1|Orders|orderId=o-1|del|v4');
    const versionless = remove('o-1', 4);
    delete (versionless.dynamodb as { OldImage?: unknown }).OldImage;
    expect(unitKey('R1', parseChange(versionless, orderOptions), 'Orders')).toBe(`R1|Orders|orderId=o-1|del|seq${versionless.dynamodb.SequenceNumber}`);
  });
});
