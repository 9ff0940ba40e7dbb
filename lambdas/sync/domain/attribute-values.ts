/**
 * DynamoDB's AttributeValue wire format, as plain data. Stream images arrive in this form and
 * are copied to replicas in this form, untouched, so a replica item is byte-for-byte the
 * source's (no number re-formatting, no precision loss). The domain only reads a few values
 * out of it (keys, version, a contract's fields), through {@link toPlain}.
 */
import { z } from 'zod';
import { UnparseableRecord } from '../errors.js';

/** One AttributeValue. */
export type AttributeValue =
  | { S: string }
  | { N: string }
  | { B: string | Uint8Array }
  | { BOOL: boolean }
  | { NULL: true }
  | { SS: string[] }
  | { NS: string[] }
  | { BS: Array<string | Uint8Array> }
  | { L: AttributeValue[] }
  | { M: AttributeMap };

/** An item image: attribute name → AttributeValue. */
export type AttributeMap = { [name: string]: AttributeValue };

const numberString = z.string().regex(/^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/, 'not a DynamoDB number');
const binary = z.union([z.string(), z.instanceof(Uint8Array)]);

/** zod schema of one AttributeValue (exactly one type descriptor). */
export const AttributeValueSchema: z.ZodType<AttributeValue> = z.lazy(() =>
  z.union([
    z.object({ S: z.string() }).strict(),
    z.object({ N: numberString }).strict(),
    z.object({ B: binary }).strict(),
    z.object({ BOOL: z.boolean() }).strict(),
    z.object({ NULL: z.literal(true) }).strict(),
    z.object({ SS: z.array(z.string()).min(1) }).strict(),
    z.object({ NS: z.array(numberString).min(1) }).strict(),
    z.object({ BS: z.array(binary).min(1) }).strict(),
    z.object({ L: z.array(AttributeValueSchema) }).strict(),
    z.object({ M: AttributeMapSchema }).strict(),
  ]),
);

/** zod schema of an image. */
export const AttributeMapSchema: z.ZodType<AttributeMap> = z.lazy(() => z.record(z.string().min(1), AttributeValueSchema));

/** A plain JS value read from an AttributeValue (numbers as `number`, binary as base64 text, sets as arrays). */
export type Plain = string | number | boolean | null | Plain[] | { [k: string]: Plain };

/**
 * Reads an AttributeValue as plain JS, for validation and for the few fields the domain reads.
 * @throws UnparseableRecord when a number can't be represented exactly as a JS number.
 */
export function toPlain(value: AttributeValue, path = ''): Plain {
  if ('S' in value) return value.S;
  if ('N' in value) return toNumber(value.N, path);
  if ('B' in value) return binaryText(value.B);
  if ('BOOL' in value) return value.BOOL;
  if ('NULL' in value) return null;
  if ('SS' in value) return [...value.SS];
  if ('NS' in value) return value.NS.map((n, i) => toNumber(n, `${path}[${i}]`));
  if ('BS' in value) return value.BS.map(binaryText);
  if ('L' in value) return value.L.map((v, i) => toPlain(v, `${path}[${i}]`));
  return mapToPlain(value.M, path);
}

/** Reads a whole image as a plain object. */
export function mapToPlain(map: AttributeMap, path = ''): { [k: string]: Plain } {
  const out: { [k: string]: Plain } = {};
  for (const [name, v] of Object.entries(map)) out[name] = toPlain(v, path ? `${path}.${name}` : name);
  return out;
}

function toNumber(text: string, path: string): number {
  const n = Number(text);
  // Integers past 2^53 would silently change; refuse rather than publish a wrong value.
  if (!Number.isFinite(n) || (Number.isInteger(n) && !Number.isSafeInteger(n) && /^-?\d+$/.test(text))) {
    throw new UnparseableRecord(path, 'number is not exactly representable');
  }
  return n;
}

function binaryText(b: string | Uint8Array): string {
  return typeof b === 'string' ? b : Buffer.from(b).toString('base64');
}

/** DynamoDB's maximum item size. */
export const MAX_ITEM_BYTES = 400 * 1024;

/**
 * The size DynamoDB accounts for an item: attribute names plus values, following the
 * documented rules (strings and binary by length, numbers by about one byte per two
 * significant digits plus one, 3 bytes of overhead for lists and maps plus 1 per element).
 */
export function itemSizeBytes(map: AttributeMap): number {
  let size = 0;
  for (const [name, v] of Object.entries(map)) size += Buffer.byteLength(name, 'utf8') + valueSize(v);
  return size;
}

function numberSize(text: string): number {
  const digits = text.replace(/^-/, '').replace(/[eE].*$/, '').replace('.', '').replace(/^0+/, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}

function binarySize(b: string | Uint8Array): number {
  return typeof b === 'string' ? Buffer.byteLength(b, 'base64') : b.byteLength;
}

function valueSize(v: AttributeValue): number {
  if ('S' in v) return Buffer.byteLength(v.S, 'utf8');
  if ('N' in v) return numberSize(v.N);
  if ('B' in v) return binarySize(v.B);
  if ('BOOL' in v || 'NULL' in v) return 1;
  if ('SS' in v) return v.SS.reduce((s, x) => s + Buffer.byteLength(x, 'utf8'), 0);
  if ('NS' in v) return v.NS.reduce((s, x) => s + numberSize(x), 0);
  if ('BS' in v) return v.BS.reduce((s, x) => s + binarySize(x), 0);
  if ('L' in v) return 3 + v.L.reduce((s, x) => s + 1 + valueSize(x), 0);
  return 3 + Object.entries(v.M).reduce((s, [k, x]) => s + 1 + Buffer.byteLength(k, 'utf8') + valueSize(x), 0);
}
