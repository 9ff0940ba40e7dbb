/**
 * Audit rows of the discrepancy lifecycle (DETECTED → RECHECKING → REPAIRED | ESCALATED |
 * FALSE_POSITIVE). Each row is keyed `${runId}:${entityId}:${state}`, so a retried step never
 * writes a second row for the same decision, and carries both sides' versions and hashes.
 */
import type { AuditLog, DiscrepancyState } from '../../shared/ports.js';
import type { Candidate, Observation, TablePair } from './model.js';

/** Who acts, for the audit rows. */
export interface Actor {
  readonly actor: string;
  readonly runId: string;
  readonly pair: TablePair;
}

/** The entity id of a key of a pair, e.g. `order#o-1`. */
export function entityId(pair: TablePair, keyString: string): string {
  return `${pair.name}#${keyString}`;
}

function sides(o: { source: Observation; replica: Observation }) {
  return {
    sourceVersion: o.source.version ?? null,
    replicaVersion: o.replica.version ?? null,
    sourceHash: o.source.hash ?? null,
    replicaHash: o.replica.hash ?? null,
  };
}

/** Appends the lifecycle row `state` for a candidate. */
export async function recordLifecycle(
  audit: AuditLog,
  who: Actor,
  candidate: Candidate,
  state: DiscrepancyState,
  extra: { reason?: string; observed?: { source: Observation; replica: Observation }; before?: unknown; after?: unknown; details?: Record<string, unknown> } = {},
): Promise<void> {
  const entity = entityId(who.pair, candidate.keyString);
  await audit.append({
    entityId: entity,
    action: 'DISCREPANCY',
    actor: who.actor,
    reason: extra.reason,
    correlationId: who.runId,
    runId: who.runId,
    discrepancyType: candidate.type,
    lifecycle: state,
    before: extra.before,
    after: extra.after,
    details: {
      pair: who.pair.name,
      sourceTable: who.pair.sourceTable,
      replicaTable: who.pair.replicaTable,
      key: candidate.keyString,
      segment: candidate.segment,
      ...sides(extra.observed ?? candidate.rechecked ?? candidate.detected),
      ...extra.details,
    },
    idempotencyKey: `${who.runId}:${entity}:${state}`,
  });
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
