/**
 * The version guard: what a replica write may do, given what the replica holds. The decision
 * is made by DynamoDB itself, atomically, through a condition expression that the replica
 * adapter derives from the same rules ({@link guardAllows} is their executable statement and
 * the in-memory replica of the tests uses it).
 *
 * | write \ replica          | absent | older (< v) | equal (= v)            | newer (> v) |
 * |--------------------------|--------|-------------|------------------------|-------------|
 * | put v (INSERT/MODIFY)    | apply  | apply       | skip                   | skip        |
 * | tombstone v (REMOVE)     | apply  | apply       | apply if live, else skip | skip      |
 * | delete v (REMOVE)        | skip   | apply       | apply                  | skip        |
 * | delete, no version       | skip   | apply       | apply                  | apply       |
 *
 * A replica item without a version attribute counts as older than anything: only the sync and
 * the reconciler write replicas, and both write versions, so such an item is damage to repair.
 */
import type { AttributeMap } from './attribute-values.js';
import type { Change, SyncOptions } from './change.js';

/** One write to one replica. */
export type ReplicaWrite =
  | { readonly kind: 'put'; readonly key: AttributeMap; readonly item: AttributeMap; readonly version: number; readonly tombstone: boolean }
  | { readonly kind: 'delete'; readonly key: AttributeMap; readonly version?: number };

/** What a replica holds for a key. */
export interface ReplicaState {
  readonly exists: boolean;
  readonly version?: number;
  readonly tombstone?: boolean;
}

/** The write a change makes on every replica. */
export function planWrite(change: Change, options: Pick<SyncOptions, 'deleteMode' | 'versionAttribute' | 'tombstoneAttribute'>): ReplicaWrite {
  if (change.kind !== 'REMOVE') return { kind: 'put', key: change.key, item: change.item!, version: change.version!, tombstone: false };
  if (options.deleteMode === 'tombstone' && change.version !== undefined) {
    const item: AttributeMap = { ...change.key, [options.versionAttribute]: { N: String(change.version) }, [options.tombstoneAttribute]: { BOOL: true } };
    return { kind: 'put', key: change.key, item, version: change.version, tombstone: true };
  }
  // Without a version there is nothing to guard with; the stream's per-key order still holds.
  return { kind: 'delete', key: change.key, version: change.version };
}

/** True when `write` may change a replica holding `current` (the table above). */
export function guardAllows(write: ReplicaWrite, current: ReplicaState): boolean {
  if (write.kind === 'put') {
    if (!current.exists || current.version === undefined) return true;
    if (current.version < write.version) return true;
    return write.tombstone && current.version === write.version && !current.tombstone;
  }
  if (!current.exists) return false;
  if (write.version === undefined || current.version === undefined) return true;
  return current.version <= write.version;
}

/** How a guarded write ended for one replica. */
export type GuardOutcome =
  | { readonly kind: 'applied' }
  /** The guard refused: the replica holds `replicaVersion` (undefined when it is absent). */
  | { readonly kind: 'skipped'; readonly replicaVersion?: number; readonly replicaExists: boolean };

/**
 * Whether a skip means the replica already reflects this change (equal version, e.g. our own
 * earlier attempt whose completion was lost) rather than a newer one.
 */
export function alreadyReflects(write: ReplicaWrite, outcome: GuardOutcome): boolean {
  if (outcome.kind !== 'skipped') return false;
  if (write.kind === 'delete') return !outcome.replicaExists;
  return outcome.replicaVersion === write.version;
}
