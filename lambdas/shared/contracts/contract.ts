/**
 * Versioned event contracts. Each contract has a current `schemaVersion`, a zod schema per
 * version, and upcasters that lift version n to n+1, so new code reads every older event.
 * Unknown future versions are refused with {@link UnknownSchemaVersion}; extra fields are
 * tolerated (stripped), so old code reads newer events of the same version.
 */
import { z } from 'zod';
import { ContractViolation, PayloadTooLarge, UnknownSchemaVersion } from '../errors.js';

/** EventBridge's per-entry limit. */
export const MAX_EVENT_BYTES = 256 * 1024;

/** A function that lifts a detail of version n into version n+1. */
export type Upcaster = (detail: Record<string, unknown>) => Record<string, unknown>;

/** The definition of one contract. */
export interface ContractDefinition<S extends z.ZodType> {
  /** `source/DetailType`, e.g. `shop.orders/OrderPlaced`. */
  readonly name: string;
  readonly source: string;
  readonly detailType: string;
  /** Schema of the current version; must include `schemaVersion: z.literal(current)`. */
  readonly schema: S;
  readonly current: number;
  /** `upcasters[n]` lifts version n to n+1, for every n < current that was ever published. */
  readonly upcasters?: Readonly<Record<number, Upcaster>>;
}

/** A contract: parse (upcast + validate) and build outbound details. */
export interface Contract<S extends z.ZodType> extends ContractDefinition<S> {
  /**
   * Reads a detail of any known version into the current shape.
   * @throws UnknownSchemaVersion, ContractViolation (with the offending path), PayloadTooLarge
   */
  parse(detail: unknown): z.infer<S>;
  /** Validates an outbound detail of the current version (the same checks as `parse`). */
  build(detail: z.input<S>): z.infer<S>;
}

/** Formats a zod issue path as `a.b[0].c`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${String(part)}` : String(part)), '');
}

/** Validates with a schema and converts the first issue into a {@link ContractViolation}. */
export function validate<S extends z.ZodType>(name: string, schema: S, value: unknown, pathPrefix = ''): z.infer<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = formatPath(issue.path);
  throw new ContractViolation(name, pathPrefix && path ? `${pathPrefix}.${path}` : pathPrefix || path, issue.message, { cause: result.error });
}

/** Defines a contract. */
export function defineContract<S extends z.ZodType>(def: ContractDefinition<S>): Contract<S> {
  const parse = (detail: unknown): z.infer<S> => {
    const size = Buffer.byteLength(JSON.stringify(detail ?? null), 'utf8');
    if (size > MAX_EVENT_BYTES) throw new PayloadTooLarge(def.name, size, MAX_EVENT_BYTES);
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
      throw new ContractViolation(def.name, '', 'detail must be a JSON object');
    }
    let current = detail as Record<string, unknown>;
    const version = current.schemaVersion;
    if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
      throw new ContractViolation(def.name, 'schemaVersion', `expected a positive integer, got ${JSON.stringify(version)}`);
    }
    if (version > def.current) throw new UnknownSchemaVersion(def.name, version, def.current);
    for (let v = version; v < def.current; v++) {
      const up = def.upcasters?.[v];
      if (!up) throw new UnknownSchemaVersion(def.name, version, def.current);
      current = { ...up(current), schemaVersion: v + 1 };
    }
    return validate(def.name, def.schema, current);
  };
  return { ...def, parse, build: (detail) => parse(detail) };
}
