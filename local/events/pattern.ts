/**
 * The EventBridge content-filtering language: validation of event patterns (with the error
 * texts EventBridge reports) and matching of events against them.
 *
 * It is independent of the bus on purpose: Lambda event-source-mapping FilterCriteria use the
 * same language, so the stream poller imports this module too.
 *
 * Semantics, as documented by AWS ("Content filtering in Amazon EventBridge event patterns"):
 * - fields of one object are ANDed, the values of a leaf array are ORed;
 * - pattern leaves must be arrays (the leaf-only rule);
 * - an event array matches when any of its elements matches; nested pattern objects matched
 *   against an array of objects must match within one element;
 * - `exists` asks whether the field reaches a leaf: `null` is a leaf, an object, an empty array
 *   or an absent key is not;
 * - `$or` takes at least two objects, each matched against the same level.
 *
 * Known difference: AWS expands `$or` at compile time, so a leaf constrained both inside and
 * outside a `$or` keeps only the last write; this evaluator ANDs both constraints instead.
 */
import { AwsError } from '../core/aws.js';

/** A scalar match value of a pattern leaf. */
export type PatternScalar = string | number | boolean | null;

/** One element of a pattern leaf: a scalar or a match expression such as `{prefix: 'a'}`. */
export type PatternMatcher = PatternScalar | { readonly [operator: string]: unknown };

/**
 * A validated event pattern: fields map to leaf arrays of matchers, nested patterns, or (for
 * `$or`) a list of alternative patterns.
 */
export interface EventPattern {
  readonly [field: string]: readonly PatternMatcher[] | EventPattern | readonly EventPattern[];
}

const OPERATORS = new Set(['prefix', 'suffix', 'equals-ignore-case', 'anything-but', 'numeric', 'exists', 'cidr', 'wildcard']);
const NUMERIC_OPS = new Set(['=', '<', '<=', '>', '>=']);
const MAX_DEPTH = 100;
const MAX_OR_COMBINATIONS = 1000;

function invalid(reason: string): AwsError {
  return new AwsError('InvalidEventPatternException', `Event pattern is not valid. Reason: ${reason}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isScalar(v: unknown): v is PatternScalar {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** `$or` is the operator only when it holds objects; otherwise AWS reads it as a field name. */
function isOrOperator(key: string, value: unknown): value is unknown[] {
  return key === '$or' && Array.isArray(value) && value.length > 0 && value.every(isObject);
}

/**
 * Parses and validates an event pattern (a JSON string or an already-parsed object).
 * @throws AwsError `InvalidEventPatternException` naming what is wrong
 */
export function parsePattern(json: string | object): EventPattern {
  let value: unknown = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (err) {
      throw invalid(`Filter is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (!isObject(value)) throw invalid('Filter is not an object');
  validateObject(value, 0, false);
  if (orCombinations(value, 0) > MAX_OR_COMBINATIONS) throw invalid(`Event pattern contains more than ${MAX_OR_COMBINATIONS} rule combinations`);
  return value as EventPattern;
}

function orCombinations(node: Record<string, unknown>, depth: number): number {
  let product = 1;
  for (const [key, value] of Object.entries(node)) {
    if (isOrOperator(key, value)) {
      product *= value.length;
      for (const member of value) product *= orCombinations(member as Record<string, unknown>, depth + 1);
    } else if (isObject(value)) product *= orCombinations(value, depth + 1);
    if (product > MAX_OR_COMBINATIONS) return product;
  }
  return product;
}

function validateObject(obj: Record<string, unknown>, depth: number, insideOr: boolean): void {
  if (depth > MAX_DEPTH) throw invalid('Event pattern is nested too deeply');
  const keys = Object.keys(obj);
  if (keys.length === 0) throw invalid('Empty objects are not allowed');
  for (const key of keys) {
    const value = obj[key];
    if (key === '$or' && Array.isArray(value) && value.some(isObject)) {
      if (!value.every(isObject)) throw invalid('Only JSON object is allowed in array of $or relationship.');
      if (value.length < 2) throw invalid('There must have at least 2 Objects in $or relationship.');
      for (const member of value) validateObject(member as Record<string, unknown>, depth + 1, true);
      continue;
    }
    if (insideOr && OPERATORS.has(key)) throw invalid(`${key} is Ruler reserved fieldName which cannot be used inside $or.`);
    if (isObject(value)) validateObject(value, depth + 1, insideOr);
    else if (Array.isArray(value)) validateLeaf(value);
    else throw invalid(`"${key}" must be an object or an array`);
  }
}

function validateLeaf(values: unknown[]): void {
  if (values.length === 0) throw invalid('Empty arrays are not allowed');
  for (const item of values) {
    if (isObject(item)) validateExpression(item);
    else if (!isScalar(item)) throw invalid('Match value must be String, number, true, false, or null');
  }
}

function validateExpression(expr: Record<string, unknown>): void {
  const keys = Object.keys(expr);
  if (keys.length === 0) throw invalid('Match expression name not found');
  const op = keys[0];
  if (!OPERATORS.has(op)) throw invalid(`Unrecognized match type ${op}`);
  const operand = expr[op];
  switch (op) {
    case 'prefix':
    case 'suffix':
      validateAffix(op, operand);
      break;
    case 'equals-ignore-case':
      if (typeof operand !== 'string') throw invalid('equals-ignore-case match pattern must be a string');
      break;
    case 'wildcard':
      validateWildcard(operand);
      break;
    case 'cidr':
      parseCidr(operand);
      break;
    case 'numeric':
      parseNumeric(operand);
      break;
    case 'exists':
      if (typeof operand !== 'boolean') throw invalid('exists match pattern must be either true or false.');
      break;
    case 'anything-but':
      validateAnythingBut(operand);
      break;
  }
  if (keys.length > 1) throw invalid(op === 'numeric' || op === 'anything-but' ? 'Too many elements in numeric expression' : 'Only one key allowed in match expression');
}

function validateAffix(op: string, operand: unknown): void {
  if (isObject(operand)) {
    const inner = Object.keys(operand);
    if (inner.length === 0) throw invalid(`${op[0].toUpperCase()}${op.slice(1)} expression name not found`);
    if (inner.length > 1) throw invalid('Only one key allowed in match expression');
    if (inner[0] !== 'equals-ignore-case') throw invalid(`Unsupported ${op} pattern: ${inner[0]}`);
    if (typeof operand[inner[0]] !== 'string') throw invalid('equals-ignore-case match pattern must be a string');
    return;
  }
  if (typeof operand !== 'string') throw invalid(`${op} match pattern must be a string`);
}

function checkNumber(name: string, value: unknown): number {
  if (typeof value !== 'number') throw invalid(`Value of ${name} must be numeric`);
  if (!Number.isFinite(value)) throw invalid(`Cannot compare number : ${value}`);
  return value;
}

function validateAnythingBut(operand: unknown): void {
  if (isObject(operand)) {
    const inner = Object.keys(operand);
    if (inner.length === 0) throw invalid('Anything-But expression name not found');
    if (inner.length > 1) throw invalid('Only one key allowed in match expression');
    const name = inner[0];
    if (!['prefix', 'suffix', 'equals-ignore-case', 'wildcard'].includes(name)) throw invalid(`Unsupported anything-but pattern: ${name}`);
    const raw = operand[name];
    const candidates = Array.isArray(raw) ? raw : [raw];
    if (candidates.length === 0) throw invalid('Empty arrays are not allowed');
    for (const c of candidates) {
      if (typeof c === 'boolean' || c === null) throw invalid('Value of anything-but must be an array or single string/number value.');
      if (name === 'prefix' || name === 'suffix') {
        if (typeof c !== 'string') throw invalid('prefix/suffix match pattern must be a string');
        if (c === '') throw invalid('Null prefix/suffix not allowed');
      } else if (name === 'equals-ignore-case') {
        if (typeof c !== 'string') throw invalid('Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.');
      } else validateWildcard(c);
    }
    return;
  }
  if (Array.isArray(operand)) {
    for (const v of operand) {
      if (typeof v !== 'string' && typeof v !== 'number') throw invalid('Inside anything but list, start|null|boolean is not supported.');
    }
    const hasNumber = operand.some((v) => typeof v === 'number');
    const hasString = operand.some((v) => typeof v === 'string');
    if (operand.length === 0 || (hasNumber && hasString)) throw invalid('Inside anything but list, either all values are number or string, mixed type is not supported');
    for (const v of operand) if (typeof v === 'number') checkNumber('anything-but', v);
    return;
  }
  if (typeof operand === 'number') checkNumber('anything-but', operand);
  else if (typeof operand !== 'string') throw invalid('Value of anything-but must be an array or single string/number value.');
}

/** Wildcard tokens: `*` is a wildcard; `\*` and `\\` are the literal characters. */
type WildcardToken = { star: true } | { star: false; ch: string };

function validateWildcard(operand: unknown): WildcardToken[] {
  if (typeof operand !== 'string') throw invalid('wildcard match pattern must be a string');
  const tokens: WildcardToken[] = [];
  // AWS reports positions 1-based into the quoted operand, counted in UTF-8 bytes.
  const pos = (i: number) => Buffer.byteLength(operand.slice(0, i), 'utf8') + 1;
  for (let i = 0; i < operand.length; i++) {
    const c = operand[i];
    if (c === '\\') {
      const next = operand[i + 1];
      if (next !== '*' && next !== '\\') throw invalid(`Invalid escape character at pos ${pos(i)}`);
      tokens.push({ star: false, ch: next });
      i++;
    } else if (c === '*') {
      if (operand[i + 1] === '*') throw invalid(`Consecutive wildcard characters at pos ${pos(i)}`);
      tokens.push({ star: true });
    } else tokens.push({ star: false, ch: c });
  }
  return tokens;
}

interface NumericRange {
  readonly checks: ReadonlyArray<{ readonly op: string; readonly value: number }>;
}

const NUMERIC_NAMES: Record<string, string> = { '=': 'equals', '<': '<', '<=': '<=', '>': '>', '>=': '>=' };

function parseNumeric(operand: unknown): NumericRange {
  if (!Array.isArray(operand)) throw invalid('Value of numeric must be an array.');
  if (operand.length === 0) throw invalid('Invalid member in numeric match: ]');
  const first = operand[0];
  if (typeof first !== 'string') throw invalid(`Invalid member in numeric match: ${JSON.stringify(first)}`);
  if (!NUMERIC_OPS.has(first)) throw invalid(`Unrecognized numeric range operator: ${first}`);
  if (operand.length < 2) throw invalid(`Value of ${NUMERIC_NAMES[first]} must be numeric`);
  const bottom = checkNumber(NUMERIC_NAMES[first], operand[1]);
  if (operand.length === 2) return { checks: [{ op: first, value: bottom }] };
  if (first !== '>' && first !== '>=') throw invalid('Too many elements in numeric expression');
  if (operand.length > 4) throw invalid('Too many terms in numeric range expression');
  const second = operand[2];
  if (typeof second !== 'string') throw invalid(`Bad value in numeric range: ${JSON.stringify(second)}`);
  if (second !== '<' && second !== '<=') throw invalid(`Bad numeric range operator: ${second}`);
  if (operand.length < 4) throw invalid(`Value of ${NUMERIC_NAMES[second]} must be numeric`);
  const top = checkNumber(NUMERIC_NAMES[second], operand[3]);
  if (!(bottom < top)) throw invalid('Bottom must be less than top');
  return { checks: [{ op: first, value: bottom }, { op: second, value: top }] };
}

interface Cidr {
  readonly v6: boolean;
  readonly network: bigint;
  readonly bits: number;
}

function parseIpv4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0n;
  for (const p of parts) {
    if (!/^[0-9]{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = (n << 8n) | BigInt(v);
  }
  return n;
}

function parseIpv6(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F:]+$/.test(s) || !s.includes(':')) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0].split(':');
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : halves[1].split(':')) : [];
  const groups = halves.length === 2 ? [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail] : head;
  if (groups.length !== 8 || (halves.length === 2 && head.length + tail.length > 7)) return undefined;
  let n = 0n;
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    n = (n << 16n) | BigInt(parseInt(g, 16));
  }
  return n;
}

function parseCidr(operand: unknown): Cidr {
  // "prefix" in this message is EventBridge's own wording for a non-string cidr operand.
  if (typeof operand !== 'string') throw invalid('prefix match pattern must be a string');
  const parts = operand.split('/');
  if (parts.length !== 2 || parts[1] === '') throw invalid("Malformed CIDR, one '/' required");
  if (!/^[+-]?[0-9]+$/.test(parts[1])) throw invalid('Malformed CIDR, mask bits must be an integer');
  const bits = Number(parts[1]);
  if (bits < 0) throw invalid('Malformed CIDR, mask bits must not be negative');
  const v4 = parseIpv4(parts[0]);
  const v6 = v4 === undefined ? parseIpv6(parts[0]) : undefined;
  if (v4 === undefined && v6 === undefined) throw invalid(`Nonstandard IP address: ${parts[0]}`);
  if (v4 !== undefined && bits > 32) throw invalid('IPv4 mask bits must be < 32');
  if (v6 !== undefined && bits > 128) throw invalid('IPv6 mask bits must be < 128');
  const width = v4 !== undefined ? 32n : 128n;
  const address = (v4 ?? v6) as bigint;
  const shift = width - BigInt(bits);
  return { v6: v4 === undefined, network: (address >> shift) << shift, bits };
}

function ipInCidr(value: string, cidr: Cidr): boolean {
  const addr = cidr.v6 ? parseIpv6(value) : parseIpv4(value);
  if (addr === undefined) return false;
  const shift = (cidr.v6 ? 128n : 32n) - BigInt(cidr.bits);
  return (addr >> shift) << shift === cidr.network;
}

/** Glob match with only `*` special: O(n·m) worst case, never exponential. */
function wildcardMatch(tokens: readonly WildcardToken[], s: string): boolean {
  const chars = [...s];
  let t = 0;
  let c = 0;
  let starT = -1;
  let starC = 0;
  while (c < chars.length) {
    const tok = tokens[t];
    if (tok && !tok.star && tok.ch === chars[c]) {
      t++;
      c++;
    } else if (tok && tok.star) {
      starT = t++;
      starC = c;
    } else if (starT >= 0) {
      t = starT + 1;
      c = ++starC;
    } else return false;
  }
  while (t < tokens.length && tokens[t].star) t++;
  return t === tokens.length;
}

function lower(s: string): string {
  return s.toLowerCase();
}

/** JSON equality: a string never equals a number, and booleans equal only booleans. */
function jsonEqual(a: unknown, b: unknown): boolean {
  return typeof a === typeof b && a === b;
}

function matchesExpression(expr: Record<string, unknown>, value: unknown): boolean {
  const op = Object.keys(expr)[0];
  const operand = expr[op];
  switch (op) {
    case 'prefix':
    case 'suffix': {
      if (typeof value !== 'string') return false;
      const ignoreCase = isObject(operand);
      const needle = ignoreCase ? lower(String(operand['equals-ignore-case'])) : String(operand);
      const hay = ignoreCase ? lower(value) : value;
      return op === 'prefix' ? hay.startsWith(needle) : hay.endsWith(needle);
    }
    case 'equals-ignore-case':
      return typeof value === 'string' && lower(value) === lower(String(operand));
    case 'wildcard':
      return typeof value === 'string' && wildcardMatch(validateWildcard(operand), value);
    case 'cidr':
      return typeof value === 'string' && ipInCidr(value, parseCidr(operand));
    case 'numeric': {
      if (typeof value !== 'number') return false;
      return parseNumeric(operand).checks.every(({ op: o, value: v }) =>
        o === '=' ? value === v : o === '<' ? value < v : o === '<=' ? value <= v : o === '>' ? value > v : value >= v,
      );
    }
    case 'anything-but':
      return !excludedByAnythingBut(operand, value);
    default:
      return false;
  }
}

function excludedByAnythingBut(operand: unknown, value: unknown): boolean {
  if (isObject(operand)) {
    const name = Object.keys(operand)[0];
    const raw = operand[name];
    const candidates = (Array.isArray(raw) ? raw : [raw]) as string[];
    if (typeof value !== 'string') return false;
    switch (name) {
      case 'prefix':
        return candidates.some((c) => value.startsWith(c));
      case 'suffix':
        return candidates.some((c) => value.endsWith(c));
      case 'equals-ignore-case':
        return candidates.some((c) => lower(c) === lower(value));
      case 'wildcard':
        return candidates.some((c) => wildcardMatch(validateWildcard(c), value));
      default:
        return false;
    }
  }
  const list = Array.isArray(operand) ? operand : [operand];
  return list.some((c) => jsonEqual(c, value));
}

/** The scalars an event value offers a leaf: arrays are flattened, objects offer nothing. */
function scalarsOf(value: unknown, out: unknown[] = [], depth = 0): unknown[] {
  if (Array.isArray(value)) {
    if (depth < 50) for (const v of value) scalarsOf(v, out, depth + 1);
  } else if (!isObject(value)) out.push(value);
  return out;
}

/** The objects an event value offers a nested pattern: arrays are flattened. */
function objectsOf(value: unknown, out: Record<string, unknown>[] = [], depth = 0): Record<string, unknown>[] {
  if (Array.isArray(value)) {
    if (depth < 50) for (const v of value) objectsOf(v, out, depth + 1);
  } else if (isObject(value)) out.push(value);
  return out;
}

function matchesLeaf(matchers: readonly unknown[], present: boolean, actual: unknown): boolean {
  const scalars = present ? scalarsOf(actual) : [];
  const hasLeaf = scalars.length > 0;
  for (const m of matchers) {
    if (isObject(m)) {
      if ('exists' in m) {
        if (m.exists === hasLeaf) return true;
        continue;
      }
      if (scalars.some((s) => matchesExpression(m, s))) return true;
    } else if (scalars.some((s) => jsonEqual(m, s))) return true;
  }
  return false;
}

function matchesObject(pattern: Record<string, unknown>, event: Record<string, unknown>): boolean {
  for (const [key, expected] of Object.entries(pattern)) {
    if (isOrOperator(key, expected)) {
      if (!expected.some((alt) => matchesObject(alt as Record<string, unknown>, event))) return false;
      continue;
    }
    const present = Object.prototype.hasOwnProperty.call(event, key);
    const actual = present ? event[key] : undefined;
    if (Array.isArray(expected)) {
      if (!matchesLeaf(expected, present, actual)) return false;
    } else if (isObject(expected)) {
      // A nested pattern against a non-object value is evaluated against nothing, so that
      // `exists: false` below it still holds, as on AWS.
      const candidates = present ? objectsOf(actual) : [];
      if (!(candidates.length ? candidates : [{}]).some((c) => matchesObject(expected, c))) return false;
    } else return false;
  }
  return true;
}

const stringCache = new Map<string, EventPattern>();
const objectCache = new WeakSet<object>();

/**
 * Whether an event matches a pattern. `pattern` is a parsed object or a JSON string; it is
 * validated (and cached) first, so an invalid pattern throws InvalidEventPatternException.
 * `event` is the event object (or its JSON text).
 */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  let parsed: EventPattern;
  if (typeof pattern === 'string') {
    const cached = stringCache.get(pattern);
    if (cached) parsed = cached;
    else {
      parsed = parsePattern(pattern);
      if (stringCache.size > 1000) stringCache.clear();
      stringCache.set(pattern, parsed);
    }
  } else if (isObject(pattern)) {
    if (!objectCache.has(pattern)) {
      parsePattern(pattern);
      objectCache.add(pattern);
    }
    parsed = pattern as EventPattern;
  } else throw invalid('Filter is not an object');
  let ev = event;
  if (typeof ev === 'string') {
    try {
      ev = JSON.parse(ev);
    } catch {
      return false;
    }
  }
  if (!isObject(ev)) return false;
  return matchesObject(parsed as Record<string, unknown>, ev);
}
