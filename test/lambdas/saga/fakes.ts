/**
 * In-memory ports for the saga domain: a {@link SagaStore} with the same transactional semantics
 * as the DynamoDB adapter (all-or-nothing, guarded decrements, effect rows), an audit log and an
 * event publisher that keep what they were given.
 */
import type { AuditEntry } from '../../../lambdas/shared/ports.js';
import type { OutboundEvent } from '../../../lambdas/shared/ports.js';
import { SagaStateConflict } from '../../../lambdas/saga/errors.js';
import type { ApplyOutcome, EffectRecord, ResourceOp, SagaDeps, SagaHeader, SagaStore } from '../../../lambdas/saga/domain/model.js';

type Item = Record<string, any>;

/** Tables by logical name, items by their key values joined. */
export class MemoryTables {
  readonly tables = new Map<string, Map<string, Item>>();
  table(name: string): Map<string, Item> {
    if (!this.tables.has(name)) this.tables.set(name, new Map());
    return this.tables.get(name)!;
  }
  get(name: string, key: Record<string, string>): Item | undefined {
    return this.table(name).get(Object.values(key).join('|'));
  }
  put(name: string, key: Record<string, string>, item: Item): void {
    this.table(name).set(Object.values(key).join('|'), item);
  }
  snapshot(): Map<string, Map<string, Item>> {
    return new Map([...this.tables].map(([n, t]) => [n, new Map([...t].map(([k, v]) => [k, structuredClone(v)]))]));
  }
}

export class MemorySagaStore implements SagaStore {
  constructor(readonly db = new MemoryTables()) {}
  private headerKey = (sagaId: string) => ({ sagaId, sk: 'SAGA' });
  private effectKey = (sagaId: string, step: string) => ({ sagaId, sk: `EFFECT#${step}` });

  async claim(header: SagaHeader) {
    const existing = this.db.get('SagaLedger', this.headerKey(header.sagaId));
    if (existing) return { claimed: false as const, existing: structuredClone(existing) as SagaHeader };
    this.db.put('SagaLedger', this.headerKey(header.sagaId), structuredClone(header));
    return { claimed: true as const };
  }
  async header(sagaId: string) {
    return structuredClone(this.db.get('SagaLedger', this.headerKey(sagaId))) as SagaHeader | undefined;
  }
  async effect(sagaId: string, step: string) {
    return structuredClone(this.db.get('SagaLedger', this.effectKey(sagaId, step))) as EffectRecord | undefined;
  }

  /** Applies ops; throws the first conflict (the caller restores the snapshot). */
  private applyOps(ops: readonly ResourceOp[], now: string): void {
    for (const op of ops) {
      if (op.kind === 'adjust') {
        const item = this.db.get(op.table, op.key);
        if (op.delta < 0) {
          if (!item || typeof item[op.attribute] !== 'number' || item[op.attribute] < -op.delta) throw op.onConflict();
          item[op.attribute] += op.delta;
          item.updatedAt = now;
        } else {
          const next = item ?? { ...op.key };
          next[op.attribute] = (next[op.attribute] ?? 0) + op.delta;
          next.updatedAt = now;
          this.db.put(op.table, op.key, next);
        }
      } else if (op.kind === 'create') {
        const key = { [op.keyName]: String(op.item[op.keyName]) };
        if (this.db.get(op.table, key)) throw op.onConflict();
        this.db.put(op.table, key, structuredClone(op.item));
      } else {
        const item = this.db.get(op.table, op.key);
        if (!item || Object.entries(op.expect).some(([k, v]) => item[k] !== v)) throw op.onConflict();
        Object.assign(item, op.set, { version: item.version + 1, updatedAt: now });
      }
    }
  }

  private transact<T>(fn: () => T): T {
    const snapshot = this.db.snapshot();
    try {
      return fn();
    } catch (err) {
      this.db.tables.clear();
      for (const [k, v] of snapshot) this.db.tables.set(k, v);
      throw err;
    }
  }

  async apply(c: Parameters<SagaStore['apply']>[0]): Promise<ApplyOutcome> {
    if (this.db.get('SagaLedger', this.effectKey(c.sagaId, c.step))) return 'ALREADY_SETTLED';
    return this.transact(() => {
      const header = this.db.get('SagaLedger', this.headerKey(c.sagaId));
      if (!header || header.status !== 'RUNNING') throw new SagaStateConflict('not RUNNING');
      this.applyOps(c.ops, c.now);
      this.db.put('SagaLedger', this.effectKey(c.sagaId, c.step), { sagaId: c.sagaId, sk: `EFFECT#${c.step}`, step: c.step, state: 'APPLIED', details: structuredClone(c.details), appliedAt: c.now });
      header.trail = [...(header.trail ?? []), c.trail];
      header.updatedAt = c.now;
      if (c.final) Object.assign(header, { status: 'SUCCEEDED', completedAt: c.now });
      return 'APPLIED' as const;
    });
  }

  async settle(c: Parameters<SagaStore['settle']>[0]): Promise<boolean> {
    const effect = this.db.get('SagaLedger', this.effectKey(c.sagaId, c.step));
    if (c.from === 'ABSENT' ? effect !== undefined : effect?.state !== c.from) return false;
    return this.transact(() => {
      const header = this.db.get('SagaLedger', this.headerKey(c.sagaId));
      if (!header || header.status === 'SUCCEEDED') throw new SagaStateConflict('SUCCEEDED');
      this.applyOps(c.ops, c.now);
      const next = effect ?? { sagaId: c.sagaId, sk: `EFFECT#${c.step}`, step: c.step, details: {} };
      Object.assign(next, { state: c.to, settledAt: c.now }, c.note ?? {});
      this.db.put('SagaLedger', this.effectKey(c.sagaId, c.step), next);
      if (c.trail) header.trail = [...(header.trail ?? []), c.trail];
      header.updatedAt = c.now;
      return true;
    });
  }

  async update(sagaId: string, change: Parameters<SagaStore['update']>[1]): Promise<void> {
    const header = this.db.get('SagaLedger', this.headerKey(sagaId));
    if (!header || (change.expect?.length && !change.expect.includes(header.status))) throw new SagaStateConflict(`cannot move to ${change.status}`);
    if (change.status) header.status = change.status;
    Object.assign(header, structuredClone(change.set ?? {}), { updatedAt: change.now });
    for (const k of change.remove ?? []) delete header[k];
    if (change.appendDecision) header.decisions = [...(header.decisions ?? []), change.appendDecision];
  }
}

/** An audit log keeping rows, idempotent on the key like the DynamoDB adapter. */
export class MemoryAudit {
  readonly rows: Array<AuditEntry & { idempotencyKey?: string }> = [];
  async append(entry: AuditEntry & { idempotencyKey?: string }): Promise<void> {
    if (entry.idempotencyKey && this.rows.some((r) => r.idempotencyKey === entry.idempotencyKey)) return;
    this.rows.push(structuredClone(entry));
  }
}

export class MemoryEvents {
  readonly published: OutboundEvent[] = [];
  async publish(events: readonly OutboundEvent[]): Promise<void> {
    this.published.push(...events);
  }
}

/** A complete set of in-memory deps. */
export function memoryDeps(): SagaDeps & { store: MemorySagaStore; audit: MemoryAudit; events: MemoryEvents } {
  return { store: new MemorySagaStore(), audit: new MemoryAudit(), events: new MemoryEvents(), clock: { now: () => new Date() }, actor: 'test' };
}
