/**
 * Stream sync: applies each change to every replica, exactly once in effect.
 *
 * - Each (replica, change) pair is its own idempotent unit, keyed by replica, source table,
 *   key and version (the sequence number for a delete without a version). A replica that fails
 *   fails only its unit; on the retry the healthy replicas' units are duplicates and write
 *   nothing, so the failed record is retried for the failed replica only.
 * - Inside a unit, the replica write is version-guarded, so even a unit that runs again (its
 *   idempotency record expired, or a crash between write and completion) never regresses.
 * - The change event is published inside the unit of the first replica (the primary), after
 *   its write, so it shares that unit's idempotency: published once per applied change.
 * - Records of one key are applied in stream order within a batch; a later one waits for the
 *   earlier and fails if it failed, so a delete can never overtake its insert.
 * - Bad records are parked (audit row + DLQ message) and reported as processed.
 */
import type { AuditEntry, AuditLog, Clock, EventPublisher } from '../../shared/ports.js';
import { ParkingFailed, PoisonRecord, PredecessorFailed, ReplicasFailed } from '../errors.js';
import { parseChange, recordFacts, type Change, type SyncOptions } from './change.js';
import type { Once, PoisonQueue, SyncLog, SyncMetrics, ReplicaWriter } from './ports.js';
import { alreadyReflects, planWrite, type GuardOutcome, type ReplicaWrite } from './version-guard.js';

/** What the sync depends on. */
export interface SyncDeps {
  readonly options: SyncOptions;
  /** Replica table names; the first is the primary (the one whose unit publishes). */
  readonly replicas: readonly string[];
  readonly writer: ReplicaWriter;
  readonly once: Once;
  /** Where change events go; required when `options.changeEvent` is set. */
  readonly publisher?: EventPublisher;
  readonly audit: AuditLog;
  readonly poison: PoisonQueue;
  readonly metrics: SyncMetrics;
  readonly log: SyncLog;
  readonly clock: Clock;
  /** Who acts, for audit rows (the function name). */
  readonly actor: string;
}

/** Per replica, how a change ended. */
export type ReplicaResult = 'applied' | 'skipped-stale' | 'duplicate' | 'failed';

/** How a record ended. */
export type RecordResult =
  | { readonly status: 'synced'; readonly replicas: Readonly<Record<string, ReplicaResult>> }
  | { readonly status: 'parked'; readonly reason: string };

/** The value stored with a completed unit. */
interface UnitValue {
  readonly outcome: GuardOutcome['kind'];
  readonly published: boolean;
}

/** The idempotency key of one (replica, change) unit. */
export function unitKey(replica: string, change: Change, sourceTable: string): string {
  const op = change.kind === 'REMOVE' ? 'del' : 'put';
  const at = change.version !== undefined ? `v${change.version}` : `seq${change.sequenceNumber}`;
  return `${replica}|${sourceTable}|${change.keyText}|${op}|${at}`;
}

/** Applies stream records to replicas. Create one per container; call {@link StreamSync.batch} per invocation. */
export class StreamSync {
  constructor(private readonly deps: SyncDeps) {
    if (deps.replicas.length === 0) throw new Error('StreamSync needs at least one replica');
    if (deps.options.changeEvent && !deps.publisher) throw new Error('a change event is configured but no publisher');
  }

  /**
   * A record processor for one batch. Records of the same key are chained in the order they
   * are handed in (the stream order), so it must be called in record order, which the
   * Powertools BatchProcessor does even when it processes records concurrently.
   */
  batch(): (raw: unknown) => Promise<RecordResult> {
    const chains = new Map<string, Promise<unknown>>();
    return (raw) => {
      let change: Change;
      try {
        change = parseChange(raw, this.deps.options);
      } catch (err) {
        if (err instanceof PoisonRecord) return this.park(raw, err);
        return Promise.reject(err);
      }
      const previous = chains.get(change.keyText);
      const run = (async () => {
        if (previous && !(await previous.then(() => true, () => false))) throw new PredecessorFailed(change.keyText);
        return this.apply(change);
      })();
      chains.set(change.keyText, run);
      return run;
    };
  }

  private async apply(change: Change): Promise<RecordResult> {
    const { options, replicas, metrics, log, clock } = this.deps;
    const write = planWrite(change, options);
    const fields = { correlationId: change.correlationId, eventId: change.eventId, key: change.keyText, version: change.version, kind: change.kind, sequenceNumber: change.sequenceNumber };
    const settled = await Promise.allSettled(replicas.map((replica, i) => this.applyToReplica(replica, i === 0, change, write)));
    const results: Record<string, ReplicaResult> = {};
    const failed: string[] = [];
    settled.forEach((s, i) => {
      const replica = replicas[i]!;
      if (s.status === 'rejected') {
        results[replica] = 'failed';
        failed.push(replica);
        metrics.count('Failures');
        log.warn('replica write failed; the record will be retried for this replica', { ...fields, replica, error: (s.reason as Error)?.name });
        return;
      }
      results[replica] = s.value;
      if (s.value === 'applied') metrics.count('Applied');
      else if (s.value === 'skipped-stale') metrics.count('SkippedStale');
      else metrics.count('Duplicates');
    });
    if (change.writtenAt !== undefined && Object.values(results).includes('applied')) metrics.lag(Math.max(0, clock.now().getTime() - change.writtenAt));
    log.info('change synced', { ...fields, replicas: results });
    if (failed.length > 0) throw new ReplicasFailed(failed, { cause: settled.find((s): s is PromiseRejectedResult => s.status === 'rejected')?.reason });
    return { status: 'synced', replicas: results };
  }

  private async applyToReplica(replica: string, primary: boolean, change: Change, write: ReplicaWrite): Promise<ReplicaResult> {
    const { once, writer, publisher, options, metrics } = this.deps;
    const { value, duplicate } = await once.run<UnitValue>(unitKey(replica, change, options.sourceTable), async () => {
      const outcome = await writer.write(replica, write);
      // Publish when this change is now what the replica reflects: applied now, or applied by an
      // earlier attempt of this unit that failed before completing (e.g. PutEvents failed).
      let published = false;
      if (primary && change.event && publisher && (outcome.kind === 'applied' || alreadyReflects(write, outcome))) {
        await publisher.publish([change.event]);
        metrics.count('EventsPublished');
        published = true;
      }
      return { outcome: outcome.kind, published };
    });
    if (duplicate) return 'duplicate';
    return value.outcome === 'applied' ? 'applied' : 'skipped-stale';
  }

  /** Parks a poison record: an audit row with the reason, and a message on the DLQ. */
  private async park(raw: unknown, err: PoisonRecord): Promise<RecordResult> {
    const { options, audit, poison, metrics, log, clock, actor } = this.deps;
    const facts = recordFacts(raw, options.keyAttributes);
    const correlationId = facts.eventId ?? facts.sequenceNumber ?? 'unknown';
    const fields = { correlationId, eventId: facts.eventId, key: facts.keyText, sequenceNumber: facts.sequenceNumber, reason: err.reason, error: err.name };
    try {
      // The audit adapter turns `idempotencyKey` into the row id, so a redelivered record adds no second row.
      const row: AuditEntry & { idempotencyKey: string } = {
        entityId: `${options.entityName}#${facts.entityKey ?? 'unknown'}`,
        action: 'SYNC_RECORD_PARKED',
        actor,
        reason: `${err.reason}: ${err.message}`,
        correlationId,
        details: { sourceTable: options.sourceTable, key: facts.keyText, sequenceNumber: facts.sequenceNumber, eventName: facts.eventName, error: err.name, eventSourceArn: facts.eventSourceArn },
        idempotencyKey: `sync-parked|${facts.eventSourceArn ?? options.sourceTable}|${facts.sequenceNumber ?? facts.eventId ?? 'unknown'}`,
      };
      await audit.append(row);
      await poison.send({
        kind: 'SyncPoisonRecord',
        sourceTable: options.sourceTable,
        reason: err.reason,
        error: err.name,
        message: err.message,
        eventId: facts.eventId,
        eventName: facts.eventName,
        sequenceNumber: facts.sequenceNumber,
        eventSourceArn: facts.eventSourceArn,
        key: facts.keyText,
        parkedAt: clock.now().toISOString(),
      });
    } catch (cause) {
      metrics.count('Failures');
      log.error('could not park a poison record; it will be retried', { ...fields, cause: (cause as Error)?.name });
      throw new ParkingFailed({ cause });
    }
    metrics.count('PoisonRecords');
    log.warn('poison record parked', fields);
    return { status: 'parked', reason: err.reason };
  }
}
