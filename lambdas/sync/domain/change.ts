/**
 * From a raw DynamoDB stream record to a {@link Change}: validated envelope, keys, version,
 * projection, size, image contract and (when configured) the change event, all decided before
 * anything is written, so a bad record is refused whole and never half-applied.
 */
import { z } from 'zod';
import { ContractViolation } from '../../shared/errors.js';
import type { OutboundEvent } from '../../shared/ports.js';
import { ImageContractViolation, ItemTooLarge, UnparseableRecord } from '../errors.js';
import { AttributeMapSchema, MAX_ITEM_BYTES, itemSizeBytes, mapToPlain, toPlain, type AttributeMap, type Plain } from './attribute-values.js';
import { CHANGE_EVENTS, IMAGE_CONTRACTS, type ChangeEventName, type ImageContractName } from './contracts.js';
import { formatPath } from '../../shared/contracts/contract.js';

/** Which attributes a replica receives. Keys and the version attribute are always kept. */
export type Projection =
  | { readonly mode: 'all' }
  | { readonly mode: 'include'; readonly attributes: readonly string[] }
  | { readonly mode: 'exclude'; readonly attributes: readonly string[] };

/** How a REMOVE reaches a replica (see README: delete semantics). */
export type DeleteMode = 'delete' | 'tombstone';

/** What the sync needs to know about its source and replicas. */
export interface SyncOptions {
  /** Source table name; part of every idempotency key. */
  readonly sourceTable: string;
  /** Entity name of audit rows, `${entityName}#${key values}` (e.g. `order#o-1`, as the saga and reconciler write). */
  readonly entityName: string;
  /** Key attribute names (partition key first). */
  readonly keyAttributes: readonly string[];
  /** The numeric version attribute that orders an item's states. */
  readonly versionAttribute: string;
  readonly projection: Projection;
  readonly deleteMode: DeleteMode;
  /** The boolean attribute that marks a tombstone (only with `deleteMode: 'tombstone'`). */
  readonly tombstoneAttribute: string;
  /** Optional schema the new image must satisfy (e.g. `Order`). */
  readonly imageContract?: ImageContractName;
  /** Optional change event published after applying (e.g. `OrderChanged`). */
  readonly changeEvent?: ChangeEventName;
}

/** The image attribute that, when present, carries the writer's correlation id. */
export const CORRELATION_ATTRIBUTE = 'correlationId';

/** The stream record envelope, as Lambda delivers it. */
export const StreamRecordSchema = z.object({
  eventID: z.string().min(1),
  eventName: z.enum(['INSERT', 'MODIFY', 'REMOVE']),
  eventSourceARN: z.string().optional(),
  userIdentity: z.object({ type: z.string(), principalId: z.string() }).partial().optional(),
  dynamodb: z.object({
    Keys: AttributeMapSchema,
    NewImage: AttributeMapSchema.optional(),
    OldImage: AttributeMapSchema.optional(),
    SequenceNumber: z.string().min(1),
    SizeBytes: z.number().optional(),
    ApproximateCreationDateTime: z.number().optional(),
    StreamViewType: z.string().optional(),
  }),
});

/** One change, ready to apply. Holds images: never log it whole. */
export interface Change {
  readonly eventId: string;
  readonly kind: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly sequenceNumber: string;
  /** The key attributes, in AttributeValue form. */
  readonly key: AttributeMap;
  /** The key as text, `orderId=o-1`: safe to log, used in idempotency keys. */
  readonly keyText: string;
  /** INSERT/MODIFY: the new version. REMOVE: the deleted item's version, if it had one. */
  readonly version?: number;
  /** The version before the change (from the old image), if known. */
  readonly beforeVersion?: number;
  /** INSERT/MODIFY: the projected new image. */
  readonly item?: AttributeMap;
  /** Epoch milliseconds the change was written, when the stream says. */
  readonly writtenAt?: number;
  /** Writer's correlation id, or the stream event id. */
  readonly correlationId: string;
  /** True when the record is a TTL expiry (userIdentity dynamodb.amazonaws.com). */
  readonly ttlExpiry: boolean;
  /** The event to publish after applying, when configured. */
  readonly event?: OutboundEvent;
}

/** Safe-to-log facts about a record, read leniently (even from a record that fails to parse). */
export interface RecordFacts {
  readonly eventId?: string;
  readonly eventName?: string;
  readonly sequenceNumber?: string;
  readonly eventSourceArn?: string;
  readonly keyText?: string;
  /** The key values alone, `#`-joined (`o-1`), for audit entity ids like `order#o-1`. */
  readonly entityKey?: string;
  readonly writtenAt?: number;
}

/** Reads the facts of a record without trusting it. */
export function recordFacts(raw: unknown, keyAttributes: readonly string[]): RecordFacts {
  const r = (raw ?? {}) as Record<string, any>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  let keyText: string | undefined;
  let entityKey: string | undefined;
  try {
    const keys = AttributeMapSchema.parse(r.dynamodb?.Keys);
    keyText = keyTextOf(keys, keyAttributes);
    entityKey = keyValuesOf(keys, keyAttributes).join('#');
  } catch {
    keyText = undefined;
  }
  const at = r.dynamodb?.ApproximateCreationDateTime;
  return {
    eventId: str(r.eventID),
    eventName: str(r.eventName),
    sequenceNumber: str(r.dynamodb?.SequenceNumber),
    eventSourceArn: str(r.eventSourceARN),
    keyText,
    entityKey,
    writtenAt: typeof at === 'number' ? at * 1000 : undefined,
  };
}

function keyValuesOf(keys: AttributeMap, keyAttributes: readonly string[]): string[] {
  return keyAttributes.map((name) => {
    const v = keys[name];
    if (!v) throw new ImageContractViolation('sync', name, 'key attribute is missing');
    if ('S' in v) return v.S;
    if ('N' in v) return v.N;
    if ('B' in v) return toPlain(v) as string;
    throw new ImageContractViolation('sync', name, 'key attribute must be of type S, N or B');
  });
}

function keyTextOf(keys: AttributeMap, keyAttributes: readonly string[]): string {
  const values = keyValuesOf(keys, keyAttributes);
  return keyAttributes.map((name, i) => `${name}=${values[i]}`).join(',');
}

function readVersion(image: AttributeMap, versionAttribute: string, required: boolean): number | undefined {
  const v = image[versionAttribute];
  if (!v) {
    if (required) throw new ImageContractViolation('sync', versionAttribute, 'version attribute is missing');
    return undefined;
  }
  if (!('N' in v)) throw new ImageContractViolation('sync', versionAttribute, 'version attribute must be of type N');
  const n = Number(v.N);
  if (!Number.isSafeInteger(n) || n < 0) throw new ImageContractViolation('sync', versionAttribute, 'version must be a non-negative integer');
  return n;
}

/** Applies the projection; keys and the version attribute always survive it. */
export function project(image: AttributeMap, options: Pick<SyncOptions, 'projection' | 'keyAttributes' | 'versionAttribute'>): AttributeMap {
  const { projection } = options;
  if (projection.mode === 'all') return { ...image };
  const always = new Set([...options.keyAttributes, options.versionAttribute]);
  const listed = new Set(projection.attributes);
  const keep = (name: string) => always.has(name) || (projection.mode === 'include' ? listed.has(name) : !listed.has(name));
  return Object.fromEntries(Object.entries(image).filter(([name]) => keep(name)));
}

/**
 * Validates a raw stream record and prepares its change.
 * @throws UnparseableRecord, ImageContractViolation, ItemTooLarge (all {@link PoisonRecord}s)
 */
export function parseChange(raw: unknown, options: SyncOptions): Change {
  const parsed = StreamRecordSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UnparseableRecord(formatPath(issue.path), issue.message);
  }
  const record = parsed.data;
  const { Keys, NewImage, OldImage, SequenceNumber, ApproximateCreationDateTime } = record.dynamodb;
  const keyText = keyTextOf(Keys, options.keyAttributes);
  const key = Object.fromEntries(options.keyAttributes.map((name) => [name, Keys[name]!]));
  const beforeVersion = OldImage ? readVersion(OldImage, options.versionAttribute, false) : undefined;
  const base = {
    eventId: record.eventID,
    kind: record.eventName,
    sequenceNumber: SequenceNumber,
    key,
    keyText,
    beforeVersion,
    writtenAt: ApproximateCreationDateTime !== undefined ? ApproximateCreationDateTime * 1000 : undefined,
    ttlExpiry: record.userIdentity?.principalId === 'dynamodb.amazonaws.com',
  };
  let change: Omit<Change, 'event' | 'correlationId'>;
  let plain: { [k: string]: Plain } | undefined;
  if (record.eventName === 'REMOVE') {
    change = { ...base, version: beforeVersion };
    plain = OldImage ? mapToPlain(OldImage, 'dynamodb.OldImage') : undefined;
  } else {
    if (!NewImage) throw new ImageContractViolation('sync', 'dynamodb.NewImage', 'INSERT/MODIFY without a new image (the stream must include NEW_IMAGE)');
    const version = readVersion(NewImage, options.versionAttribute, true);
    for (const name of options.keyAttributes) {
      if (JSON.stringify(NewImage[name]) !== JSON.stringify(Keys[name])) throw new ImageContractViolation('sync', name, 'new image key differs from the record key');
    }
    plain = mapToPlain(NewImage, 'dynamodb.NewImage');
    if (options.imageContract) validateImage(options.imageContract, plain);
    const item = project(NewImage, options);
    const size = itemSizeBytes(item);
    if (size > MAX_ITEM_BYTES) throw new ItemTooLarge(size, MAX_ITEM_BYTES);
    change = { ...base, version, item };
  }
  const writerCorrelation = plain?.[CORRELATION_ATTRIBUTE];
  const correlationId = typeof writerCorrelation === 'string' && writerCorrelation.length > 0 && writerCorrelation.length <= 256 ? writerCorrelation : record.eventID;
  const event = options.changeEvent ? buildEvent(options.changeEvent, { ...change, correlationId }, plain ?? {}) : undefined;
  return { ...change, correlationId, event };
}

function validateImage(name: ImageContractName, plain: { [k: string]: Plain }): void {
  const result = IMAGE_CONTRACTS[name].safeParse(plain);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    // zod messages name expected types, never the offending value, so they are safe to keep.
    throw new ImageContractViolation(name, formatPath(issue.path), issue.message);
  }
}

function buildEvent(name: ChangeEventName, change: Omit<Change, 'event'>, plain: { [k: string]: Plain }): OutboundEvent {
  try {
    return CHANGE_EVENTS[name](change, plain);
  } catch (err) {
    if (err instanceof ContractViolation) throw new ImageContractViolation(err.contract, err.path, 'the change event cannot be built from this image');
    throw err;
  }
}
