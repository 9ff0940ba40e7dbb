/**
 * Intrinsic functions and condition functions of CloudFormation templates, resolved against
 * what is already deployed. Anything the resolver does not implement is refused by name.
 */
import { ResolveError } from './errors.js';

/** Marker for `{"Ref": "AWS::NoValue"}`: the enclosing property or list element disappears. */
export const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

/** A deployed (or being-deployed) resource as intrinsics see it. */
export interface ResolvedResource {
  readonly type: string;
  readonly physicalId: string;
  readonly attributes: Record<string, unknown>;
}

/** Everything an expression may refer to. */
export interface ResolveScope {
  readonly stackName: string;
  readonly stackId: string;
  readonly region: string;
  readonly accountId: string;
  /** Resolved parameter values (strings, or string lists for list types). */
  readonly parameters: ReadonlyMap<string, unknown>;
  readonly mappings: Record<string, any>;
  /** Evaluates a named condition of the template; throws for an unknown name. */
  condition(name: string): boolean;
  /** The declared type of a logical id of the template, if it is a resource. */
  declaredType(logicalId: string): string | undefined;
  /** The deployed resource, or undefined when it was not created (false condition). */
  resource(logicalId: string): ResolvedResource | undefined;
  /** The value of an export of any stack; throws when none. */
  importValue(name: string): string;
}

/** Values every region answers for `Fn::GetAZs`. */
export function availabilityZones(region: string): string[] {
  return ['a', 'b', 'c'].map((s) => `${region}${s}`);
}

const PSEUDO = new Set(['AWS::Region', 'AWS::AccountId', 'AWS::Partition', 'AWS::StackName', 'AWS::StackId', 'AWS::URLSuffix', 'AWS::NotificationARNs', 'AWS::NoValue']);

function pseudo(name: string, scope: ResolveScope): unknown {
  switch (name) {
    case 'AWS::Region':
      return scope.region;
    case 'AWS::AccountId':
      return scope.accountId;
    case 'AWS::Partition':
      return 'aws';
    case 'AWS::StackName':
      return scope.stackName;
    case 'AWS::StackId':
      return scope.stackId;
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    case 'AWS::NotificationARNs':
      return [];
    case 'AWS::NoValue':
      return NO_VALUE;
    default:
      throw new ResolveError(`unsupported pseudo parameter ${name}`);
  }
}

/** True for `{"Ref": ...}` and `{"Fn::...": ...}`: a single-key object naming a function. */
export function intrinsicName(value: unknown): string | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const key = keys[0]!;
  return key === 'Ref' || key.startsWith('Fn::') ? key : undefined;
}

function refOf(name: unknown, scope: ResolveScope): unknown {
  if (typeof name !== 'string') throw new ResolveError(`Ref takes a string, got ${JSON.stringify(name)}`);
  if (PSEUDO.has(name)) return pseudo(name, scope);
  if (scope.parameters.has(name)) return scope.parameters.get(name);
  const type = scope.declaredType(name);
  if (type === undefined) throw new ResolveError(`unresolvable reference: Ref ${name} names no parameter, resource or pseudo parameter`);
  const res = scope.resource(name);
  if (!res) throw new ResolveError(`unresolvable reference: Ref ${name} (${type}) was not created (its condition is false)`);
  return res.physicalId;
}

function getAtt(logicalId: string, attribute: string, scope: ResolveScope): unknown {
  const type = scope.declaredType(logicalId);
  if (type === undefined) throw new ResolveError(`unresolvable reference: Fn::GetAtt ${logicalId}.${attribute} names no resource`);
  const res = scope.resource(logicalId);
  if (!res) throw new ResolveError(`unresolvable reference: Fn::GetAtt ${logicalId}.${attribute}: ${logicalId} (${type}) was not created (its condition is false)`);
  if (!(attribute in res.attributes) || res.attributes[attribute] === undefined) {
    throw new ResolveError(`unresolvable reference: Fn::GetAtt ${logicalId}.${attribute}: ${type} has no attribute ${attribute} in the local cloud (known: ${Object.keys(res.attributes).join(', ') || 'none'})`);
  }
  return res.attributes[attribute];
}

function asString(value: unknown, fn: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new ResolveError(`${fn} needs a string, got ${JSON.stringify(value)}`);
}

function asList(value: unknown, fn: string): unknown[] {
  if (Array.isArray(value)) return value;
  throw new ResolveError(`${fn} needs a list, got ${JSON.stringify(value)}`);
}

function args(value: unknown, fn: string, count: number | [number, number]): unknown[] {
  const [min, max] = typeof count === 'number' ? [count, count] : count;
  if (!Array.isArray(value) || value.length < min || value.length > max) throw new ResolveError(`${fn} takes ${min === max ? min : `${min} to ${max}`} arguments, got ${JSON.stringify(value)}`);
  return value;
}

const SUB_VAR = /\$\{([^}]*)\}/g;

/** Substitutes `${...}` in an Fn::Sub string; `${!X}` is the literal `${X}`. */
function substitute(template: string, vars: Record<string, unknown>, scope: ResolveScope): string {
  return template.replace(SUB_VAR, (_all, inner: string) => {
    if (inner.startsWith('!')) return '${' + inner.slice(1) + '}';
    const name = inner.trim();
    let value: unknown;
    if (name in vars) value = vars[name];
    else if (PSEUDO.has(name) || scope.parameters.has(name) || (!name.includes('.') && scope.declaredType(name) !== undefined)) value = refOf(name, scope);
    else if (name.includes('.')) {
      const dot = name.indexOf('.');
      value = getAtt(name.slice(0, dot), name.slice(dot + 1), scope);
    } else throw new ResolveError(`unresolvable reference: Fn::Sub variable \${${name}} names no parameter, resource or variable`);
    if (value === NO_VALUE) throw new ResolveError(`Fn::Sub variable \${${name}} resolved to AWS::NoValue`);
    return asString(value, `Fn::Sub variable \${${name}}`);
  });
}

/** The names a `Fn::Sub` string refers to (resources or parameters), for dependency ordering. */
function subReferences(template: string, vars: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const m of template.matchAll(SUB_VAR)) {
    const inner = m[1]!;
    if (inner.startsWith('!')) continue;
    const name = inner.trim();
    if (name in vars || name.startsWith('AWS::')) continue;
    out.push(name.includes('.') ? name.slice(0, name.indexOf('.')) : name);
  }
  return out;
}

/** Every logical id or parameter name an expression refers to (Ref, GetAtt, Sub), in any branch. */
export function references(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const v of value) references(v, into);
    return into;
  }
  if (!value || typeof value !== 'object') return into;
  const fn = intrinsicName(value);
  const body = fn ? (value as Record<string, unknown>)[fn] : undefined;
  if (fn === 'Ref' && typeof body === 'string') {
    if (!body.startsWith('AWS::')) into.add(body);
    return into;
  }
  if (fn === 'Fn::GetAtt') {
    if (typeof body === 'string') into.add(body.split('.')[0]!);
    else if (Array.isArray(body) && typeof body[0] === 'string') into.add(body[0]);
    return into;
  }
  if (fn === 'Fn::Sub') {
    if (typeof body === 'string') for (const r of subReferences(body, {})) into.add(r);
    else if (Array.isArray(body) && typeof body[0] === 'string') {
      const vars = (body[1] ?? {}) as Record<string, unknown>;
      for (const r of subReferences(body[0], vars)) into.add(r);
      references(vars, into);
    }
    return into;
  }
  for (const v of Object.values(value)) references(v, into);
  return into;
}

function looseEquals(a: unknown, b: unknown): boolean {
  const scalar = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
  if (scalar(a) && scalar(b)) return String(a) === String(b);
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Evaluates a condition expression: Fn::Equals/Not/And/Or, `{Condition: name}`, or a boolean. */
export function evaluateCondition(expr: unknown, scope: ResolveScope): boolean {
  if (typeof expr === 'boolean') return expr;
  if (expr === 'true' || expr === 'false') return expr === 'true';
  if (expr && typeof expr === 'object' && !Array.isArray(expr) && Object.keys(expr).length === 1 && 'Condition' in expr) {
    const name = (expr as { Condition: unknown }).Condition;
    if (typeof name !== 'string') throw new ResolveError(`Condition takes a condition name, got ${JSON.stringify(name)}`);
    return scope.condition(name);
  }
  const value = resolve(expr, scope);
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new ResolveError(`a condition must evaluate to a boolean, got ${JSON.stringify(value)}`);
}

/**
 * Resolves every intrinsic inside a value. Objects and lists drop members that resolve to
 * `AWS::NoValue`; the top-level value may itself be {@link NO_VALUE}.
 */
export function resolve(value: unknown, scope: ResolveScope): unknown {
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const v of value) {
      const r = resolve(v, scope);
      if (r !== NO_VALUE) out.push(r);
    }
    return out;
  }
  if (!value || typeof value !== 'object') return value;
  const fn = intrinsicName(value);
  if (!fn) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = resolve(v, scope);
      if (r !== NO_VALUE) out[k] = r;
    }
    return out;
  }
  const body = (value as Record<string, unknown>)[fn];
  switch (fn) {
    case 'Ref':
      return refOf(body, scope);
    case 'Fn::GetAtt': {
      let logicalId: unknown;
      let attribute: unknown;
      if (typeof body === 'string') {
        const dot = body.indexOf('.');
        if (dot < 1) throw new ResolveError(`Fn::GetAtt "${body}" must be "LogicalId.Attribute"`);
        [logicalId, attribute] = [body.slice(0, dot), body.slice(dot + 1)];
      } else {
        [logicalId, attribute] = args(body, fn, 2);
        attribute = resolve(attribute, scope);
      }
      if (typeof logicalId !== 'string' || typeof attribute !== 'string') throw new ResolveError(`Fn::GetAtt takes [LogicalId, Attribute], got ${JSON.stringify(body)}`);
      return getAtt(logicalId, attribute, scope);
    }
    case 'Fn::Join': {
      const [delimiter, list] = args(body, fn, 2);
      if (typeof delimiter !== 'string') throw new ResolveError(`Fn::Join delimiter must be a string, got ${JSON.stringify(delimiter)}`);
      return asList(resolve(list, scope), fn)
        .map((v) => asString(v, 'Fn::Join element'))
        .join(delimiter);
    }
    case 'Fn::Sub': {
      if (typeof body === 'string') return substitute(body, {}, scope);
      const [template, varMap] = args(body, fn, [1, 2]);
      if (typeof template !== 'string') throw new ResolveError(`Fn::Sub template must be a string, got ${JSON.stringify(template)}`);
      const vars = resolve(varMap ?? {}, scope);
      if (!vars || typeof vars !== 'object' || Array.isArray(vars)) throw new ResolveError(`Fn::Sub variables must be a map, got ${JSON.stringify(varMap)}`);
      return substitute(template, vars as Record<string, unknown>, scope);
    }
    case 'Fn::Select': {
      const [indexExpr, listExpr] = args(body, fn, 2);
      const index = Number(resolve(indexExpr, scope));
      const list = asList(resolve(listExpr, scope), fn);
      if (!Number.isInteger(index) || index < 0 || index >= list.length) throw new ResolveError(`Fn::Select index ${JSON.stringify(indexExpr)} is out of range for a list of ${list.length}`);
      return list[index];
    }
    case 'Fn::Split': {
      const [delimiter, source] = args(body, fn, 2);
      if (typeof delimiter !== 'string' || delimiter === '') throw new ResolveError(`Fn::Split delimiter must be a non-empty string, got ${JSON.stringify(delimiter)}`);
      return asString(resolve(source, scope), fn).split(delimiter);
    }
    case 'Fn::If': {
      const [name, whenTrue, whenFalse] = args(body, fn, 3);
      if (typeof name !== 'string') throw new ResolveError(`Fn::If takes a condition name first, got ${JSON.stringify(name)}`);
      // Only the chosen branch is resolved: the other may name resources its condition removed.
      return resolve(scope.condition(name) ? whenTrue : whenFalse, scope);
    }
    case 'Fn::Equals': {
      const [a, b] = args(body, fn, 2);
      return looseEquals(resolve(a, scope), resolve(b, scope));
    }
    case 'Fn::Not': {
      const [c] = args(body, fn, 1);
      return !evaluateCondition(c, scope);
    }
    case 'Fn::And': {
      const cs = args(body, fn, [2, 10]);
      return cs.every((c) => evaluateCondition(c, scope));
    }
    case 'Fn::Or': {
      const cs = args(body, fn, [2, 10]);
      return cs.some((c) => evaluateCondition(c, scope));
    }
    case 'Fn::FindInMap': {
      const [mapExpr, topExpr, secondExpr, defaults] = args(body, fn, [3, 4]);
      const [map, top, second] = [mapExpr, topExpr, secondExpr].map((e) => asString(resolve(e, scope), fn));
      const found = scope.mappings[map!]?.[top!]?.[second!];
      if (found !== undefined) return found;
      const fallback = (defaults as { DefaultValue?: unknown } | undefined)?.DefaultValue;
      if (fallback !== undefined) return resolve(fallback, scope);
      throw new ResolveError(`unresolvable reference: Fn::FindInMap [${map}, ${top}, ${second}] has no value in Mappings`);
    }
    case 'Fn::ImportValue':
      return scope.importValue(asString(resolve(body, scope), fn));
    case 'Fn::GetAZs': {
      const region = resolve(body, scope);
      return availabilityZones(typeof region === 'string' && region !== '' ? region : scope.region);
    }
    case 'Fn::Base64':
      return Buffer.from(asString(resolve(body, scope), fn), 'utf8').toString('base64');
    case 'Fn::Contains': {
      const [list, v] = args(body, fn, 2);
      const needle = resolve(v, scope);
      return asList(resolve(list, scope), fn).some((x) => looseEquals(x, needle));
    }
    case 'Fn::EachMemberEquals': {
      const [list, v] = args(body, fn, 2);
      const needle = resolve(v, scope);
      return asList(resolve(list, scope), fn).every((x) => looseEquals(x, needle));
    }
    case 'Fn::EachMemberIn': {
      const [list, allowed] = args(body, fn, 2);
      const pool = asList(resolve(allowed, scope), fn);
      return asList(resolve(list, scope), fn).every((x) => pool.some((p) => looseEquals(p, x)));
    }
    default:
      throw new ResolveError(`unsupported intrinsic function ${fn}`);
  }
}
