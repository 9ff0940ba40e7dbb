/**
 * The errors of the sync context. Two families, handled in opposite ways:
 * - {@link PoisonRecord} and its subclasses: the record itself is bad. Retrying cannot help, so
 *   it is parked (an audit row plus a message on the sync DLQ) and reported as processed, so it
 *   never blocks the shard.
 * - {@link TransientSyncError} and its subclasses: the world is unwell (a replica is down, the
 *   bus throttles). The record is reported in `batchItemFailures` and the event-source mapping
 *   retries it, bisects, and after its bounded retries sends the batch to the on-failure queue.
 *
 * Messages never contain item images: only attribute names, keys, versions and sizes.
 */
import { ConvergeError } from '../shared/errors.js';

/** Why a record was parked, as written to the audit row and the DLQ message. */
export type PoisonReason = 'UNPARSEABLE_RECORD' | 'CONTRACT_VIOLATION' | 'ITEM_TOO_LARGE' | 'UNKNOWN_SCHEMA_VERSION';

/** A stream record that can never be applied. Never retried: it is parked. */
export abstract class PoisonRecord extends ConvergeError {
  abstract readonly reason: PoisonReason;
}

/** The record or one of its images is not a well-formed DynamoDB stream record / AttributeValue map. */
export class UnparseableRecord extends PoisonRecord {
  // Spelled out so DLQ messages and audit rows name the error whatever the bundler does to class names.
  override readonly name = 'UnparseableRecord';
  readonly reason = 'UNPARSEABLE_RECORD' as const;
  constructor(
    /** Where in the record, e.g. `dynamodb.NewImage.amount`. */
    public readonly path: string,
    message: string,
  ) {
    super(`unparseable stream record at ${path || '(root)'}: ${message}`);
  }
}

/** The image breaks the sync contract: a key or the version is missing or of the wrong type, or the image contract fails. */
export class ImageContractViolation extends PoisonRecord {
  override readonly name = 'ImageContractViolation';
  readonly reason = 'CONTRACT_VIOLATION' as const;
  constructor(
    /** The contract, e.g. `sync` (keys and version) or `Order`. */
    public readonly contract: string,
    /** The offending attribute path, e.g. `version`. */
    public readonly path: string,
    message: string,
  ) {
    super(`${contract} contract: ${path || '(root)'}: ${message}`);
  }
}

/** The (projected) item exceeds DynamoDB's 400 KB item limit, so no replica could store it. */
export class ItemTooLarge extends PoisonRecord {
  override readonly name = 'ItemTooLarge';
  readonly reason = 'ITEM_TOO_LARGE' as const;
  constructor(
    public readonly sizeBytes: number,
    public readonly limitBytes: number,
  ) {
    super(`item of ${sizeBytes} bytes exceeds the DynamoDB item limit of ${limitBytes} bytes`);
  }
}

/** The image declares a schema version this code does not know. Parked, never guessed at. */
export class UnknownImageSchemaVersion extends PoisonRecord {
  override readonly name = 'UnknownImageSchemaVersion';
  readonly reason = 'UNKNOWN_SCHEMA_VERSION' as const;
  constructor(
    public readonly contract: string,
    public readonly schemaVersion: unknown,
    public readonly supported: number,
  ) {
    super(`${contract} image schemaVersion ${String(schemaVersion)} is not supported (this code reads up to ${supported})`);
  }
}

/** A failure the event-source mapping should retry. */
export abstract class TransientSyncError extends ConvergeError {}

/** Writing one replica failed (throttle, outage, network). Only that replica is retried. */
export class ReplicaWriteFailed extends TransientSyncError {
  override readonly name = 'ReplicaWriteFailed';
  constructor(
    public readonly replica: string,
    options?: { cause?: unknown },
  ) {
    super(`writing replica ${replica} failed: ${(options?.cause as Error | undefined)?.name ?? 'unknown error'}`, options);
  }
}

/** One or more replicas of a record failed; the record is reported as a batch item failure. */
export class ReplicasFailed extends TransientSyncError {
  override readonly name = 'ReplicasFailed';
  constructor(
    public readonly replicas: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`record not applied to replica(s) ${replicas.join(', ')}; it will be retried for them only`, options);
  }
}

/**
 * An earlier record of the same key in this batch failed. The later one must not be applied
 * before it (a delete overtaking its insert would let the retried insert resurrect the item),
 * so it fails too and is retried after it.
 */
export class PredecessorFailed extends TransientSyncError {
  override readonly name = 'PredecessorFailed';
  constructor(public readonly key: string) {
    super(`an earlier record of key ${key} in this batch failed; retrying in order`);
  }
}

/** Parking a poison record failed (audit table or DLQ unavailable): retried, so nothing is lost. */
export class ParkingFailed extends TransientSyncError {
  override readonly name = 'ParkingFailed';
  constructor(options?: { cause?: unknown }) {
    super(`could not park a poison record: ${(options?.cause as Error | undefined)?.name ?? 'unknown error'}`, options);
  }
}
