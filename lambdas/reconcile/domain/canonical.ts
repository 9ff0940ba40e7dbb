/**
 * Canonical item hashing. Two items that DynamoDB considers equal hash the same, whatever the
 * attribute order, set element order, or number spelling (`1.50` = `1.5`), and fields a table
 * pair declares as ignored (e.g. the replica's own `updatedAt`) never count.
 *
 * Items are handled in DynamoDB's wire form (AttributeValue maps) so that number precision and
 * the S/N/B type distinctions survive; stream images and SDK responses are both in that form.
 */
import { createHash } from 'node:crypto';

/** A DynamoDB AttributeValue, structurally (SDK responses and stream images both fit). */
export interface AttributeValue {
  S?: string;
  N?: string;
  B?: Uint8Array | string;
  SS?: string[];
  NS?: string[];
  BS?: Array<Uint8Array | string>;
  M?: Record<string, AttributeValue>;
  L?: AttributeValue[];
  NULL?: boolean;
  BOOL?: boolean;
}

/** An item (or key) in wire form. */
export type Item = Record<string, AttributeValue>;

/** Normalizes a DynamoDB number string: no sign on zero, no leading or trailing zeros, no exponent. */
export function normalizeNumber(n: string): string {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(n.trim());
  if (!m) return n;
  const [, sign, intPart = '', fracPart = '', exp] = m;
  let digits = intPart + fracPart;
  let point = intPart.length + (exp ? Number(exp) : 0);
  const lead = digits.length - digits.replace(/^0+/, '').length;
  digits = digits.slice(lead);
  point -= lead;
  digits = digits.replace(/0+$/, '');
  if (digits === '') return '0';
  let out: string;
  if (point <= 0) out = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) out = digits + '0'.repeat(point - digits.length);
  else out = `${digits.slice(0, point)}.${digits.slice(point)}`;
  return sign === '-' ? `-${out}` : out;
}

function binary(b: Uint8Array | string): string {
  return typeof b === 'string' ? b : Buffer.from(b).toString('base64');
}

/** A JSON-serializable canonical form of one value: type-tagged, maps and sets sorted. */
function canonicalValue(v: AttributeValue): unknown {
  if (v.S !== undefined) return ['S', v.S];
  if (v.N !== undefined) return ['N', normalizeNumber(v.N)];
  if (v.B !== undefined) return ['B', binary(v.B)];
  if (v.BOOL !== undefined) return ['BOOL', v.BOOL];
  if (v.NULL !== undefined) return ['NULL'];
  if (v.SS) return ['SS', [...v.SS].sort()];
  if (v.NS) return ['NS', v.NS.map(normalizeNumber).sort()];
  if (v.BS) return ['BS', v.BS.map(binary).sort()];
  if (v.L) return ['L', v.L.map(canonicalValue)];
  if (v.M) return ['M', canonicalMap(v.M)];
  // An empty or unknown shape still hashes deterministically.
  return ['?', Object.keys(v).sort()];
}

function canonicalMap(m: Record<string, AttributeValue>, ignored?: ReadonlySet<string>): unknown[] {
  return Object.keys(m)
    .filter((k) => !ignored?.has(k) && m[k] !== undefined)
    .sort()
    .map((k) => [k, canonicalValue(m[k]!)]);
}

/** The canonical serialization of an item without its ignored top-level attributes. */
export function canonicalize(item: Item, ignoredFields: readonly string[] = []): string {
  return JSON.stringify(canonicalMap(item, new Set(ignoredFields)));
}

/** Bits of an item hash that go into bucket digests: sums of 2^48 values stay exact far below DynamoDB's 38 digits. */
export const DIGEST_HASH_BITS = 48;

/** The content hash of an item: 128 bits, hex. Equal items (per {@link canonicalize}) hash equal. */
export function itemHash(item: Item, ignoredFields: readonly string[] = []): string {
  return createHash('sha256').update(canonicalize(item, ignoredFields)).digest('hex').slice(0, 32);
}

/** The 48-bit digest contribution of an item hash (its leading 12 hex digits). */
export function digestValue(hash: string): bigint {
  return BigInt(`0x${hash.slice(0, DIGEST_HASH_BITS / 4)}`);
}

function scalar(v: AttributeValue | undefined): string {
  if (!v) return '';
  if (v.S !== undefined) return v.S;
  if (v.N !== undefined) return normalizeNumber(v.N);
  if (v.B !== undefined) return binary(v.B);
  return JSON.stringify(canonicalValue(v));
}

/** The key attributes of an item, in schema order. */
export function keyOf(item: Item, keyAttributes: readonly string[]): Item {
  const key: Item = {};
  for (const a of keyAttributes) if (item[a] !== undefined) key[a] = item[a]!;
  return key;
}

/**
 * A readable, unambiguous string for a key: the bare value for a single-attribute key
 * (`o-1`), a JSON array of values for a composite one.
 */
export function keyString(item: Item, keyAttributes: readonly string[]): string {
  if (keyAttributes.length === 1) return scalar(item[keyAttributes[0]!]);
  return JSON.stringify(keyAttributes.map((a) => scalar(item[a])));
}

/** The digest bucket of a key: a hash of its canonical form modulo `buckets`, independent of table layout. */
export function bucketOf(keyStr: string, buckets: number): number {
  const h = createHash('sha256').update(keyStr).digest();
  return h.readUInt32BE(0) % buckets;
}

/** The numeric `version` attribute of an item, if any (the version guard of stream sync). */
export function versionOf(item: Item | undefined, versionAttribute: string): number | undefined {
  const n = item?.[versionAttribute]?.N;
  return n === undefined ? undefined : Number(n);
}
