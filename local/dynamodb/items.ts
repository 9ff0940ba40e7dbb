/**
 * Helpers over DynamoDB JSON (AttributeValue maps): keys, canonical equality, sizes, and the
 * pruning of expression attributes when an expression is evaluated on its own.
 */

/** An item or key in DynamoDB JSON. */
export type AttributeMap = Record<string, any>;

/** One element of a table's KeySchema. */
export interface KeyElement {
  readonly AttributeName: string;
  readonly KeyType: 'HASH' | 'RANGE';
}

/** The key attributes of `item`, or undefined when one is missing (dynalite then reports the error). */
export function keyOf(item: AttributeMap | undefined, keySchema: readonly KeyElement[]): AttributeMap | undefined {
  if (!item || typeof item !== 'object') return undefined;
  const key: AttributeMap = {};
  for (const k of keySchema) {
    const v = item[k.AttributeName];
    if (!v || typeof v !== 'object') return undefined;
    key[k.AttributeName] = v;
  }
  return key;
}

/** Numbers that DynamoDB treats as equal (`1`, `1.0`, `01`) get the same spelling. */
function normalizeNumber(n: string): string {
  if (!/^[+-]?\d*\.?\d*$/.test(n)) return n;
  let sign = '';
  let s = n;
  if (s[0] === '-' || s[0] === '+') {
    sign = s[0] === '-' ? '-' : '';
    s = s.slice(1);
  }
  let [int = '', frac = ''] = s.split('.');
  int = int.replace(/^0+/, '') || '0';
  frac = frac.replace(/0+$/, '');
  if (int === '0' && !frac) return '0';
  return `${sign}${int}${frac ? `.${frac}` : ''}`;
}

/** A string that identifies one item of one table, for locks and duplicate detection. */
export function lockKey(tableName: string, key: AttributeMap, keySchema: readonly KeyElement[]): string {
  const parts = keySchema.map((k) => {
    const v = key[k.AttributeName] ?? {};
    if (v.N !== undefined) return `N:${normalizeNumber(String(v.N))}`;
    if (v.S !== undefined) return `S:${v.S}`;
    if (v.B !== undefined) return `B:${typeof v.B === 'string' ? v.B : Buffer.from(v.B).toString('base64')}`;
    return JSON.stringify(v);
  });
  return `${tableName}\u0000${JSON.stringify(parts)}`;
}

/** A canonical form where sets are sorted, map keys ordered and numbers normalized. */
function canonical(value: any): any {
  if (Array.isArray(value)) return value.map(canonical);
  if (!value || typeof value !== 'object') return value;
  const out: Record<string, any> = {};
  for (const k of Object.keys(value).sort()) {
    const v = value[k];
    if (k === 'N') out[k] = normalizeNumber(String(v));
    else if (k === 'NS') out[k] = [...v].map((x: string) => normalizeNumber(String(x))).sort();
    else if (k === 'SS' || k === 'BS') out[k] = [...v].map(String).sort();
    else out[k] = canonical(v);
  }
  return out;
}

/** True when two items hold the same data (AWS writes no stream record for such a write). */
export function sameItem(a: AttributeMap | undefined, b: AttributeMap | undefined): boolean {
  if (!a || !b) return a === b;
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function valueSize(v: any): number {
  if (!v || typeof v !== 'object') return 0;
  if (v.S !== undefined) return Buffer.byteLength(String(v.S));
  if (v.N !== undefined) return Math.ceil(String(v.N).replace(/[^0-9]/g, '').length / 2) + 1;
  if (v.B !== undefined) return typeof v.B === 'string' ? Buffer.from(v.B, 'base64').length : Buffer.from(v.B).length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS) return v.SS.reduce((n: number, s: string) => n + Buffer.byteLength(s), 0);
  if (v.NS) return v.NS.reduce((n: number, s: string) => n + valueSize({ N: s }), 0);
  if (v.BS) return v.BS.reduce((n: number, s: string) => n + valueSize({ B: s }), 0);
  if (v.L) return 3 + v.L.reduce((n: number, x: any) => n + 1 + valueSize(x), 0);
  if (v.M) return 3 + itemSize(v.M) + Object.keys(v.M).length;
  return 0;
}

/** Approximate DynamoDB size in bytes of an item (attribute names plus values), as AWS counts it. */
export function itemSize(item: AttributeMap | undefined): number {
  if (!item) return 0;
  let n = 0;
  for (const [k, v] of Object.entries(item)) n += Buffer.byteLength(k) + valueSize(v);
  return n;
}

/**
 * Keeps only the ExpressionAttributeNames/Values that `expressions` reference: dynalite, like
 * AWS, rejects unused ones, and a transaction evaluates a condition apart from its update.
 */
export function pruneExpressionAttributes(
  names: Record<string, string> | undefined,
  values: AttributeMap | undefined,
  expressions: ReadonlyArray<string | undefined>,
): { ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: AttributeMap } {
  const text = expressions.filter(Boolean).join(' ');
  const usedNames = new Set(text.match(/#[A-Za-z0-9_]+/g) ?? []);
  const usedValues = new Set(text.match(/:[A-Za-z0-9_]+/g) ?? []);
  const out: { ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: AttributeMap } = {};
  const n = Object.fromEntries(Object.entries(names ?? {}).filter(([k]) => usedNames.has(k)));
  const v = Object.fromEntries(Object.entries(values ?? {}).filter(([k]) => usedValues.has(k)));
  if (Object.keys(n).length) out.ExpressionAttributeNames = n;
  if (Object.keys(v).length) out.ExpressionAttributeValues = v;
  return out;
}
