/**
 * What a target receives: the event itself, a constant `Input`, the part of the event an
 * `InputPath` selects, or an `InputTransformer` template filled from the event.
 */
import { AwsError } from '../core/aws.js';

/** Input options of one target, as PutTargets and AWS::Events::Rule carry them. */
export interface TargetInputOptions {
  readonly Input?: string;
  readonly InputPath?: string;
  readonly InputTransformer?: { readonly InputPathsMap?: Record<string, string>; readonly InputTemplate: string };
}

/** The reserved variables of an input template. */
const RESERVED = new Set(['aws.events.rule-arn', 'aws.events.rule-name', 'aws.events.event.ingestion-time', 'aws.events.event', 'aws.events.event.json']);

type Segment = { key: string } | { index: number } | { wildcard: true };

/** Parses the JSONPath subset EventBridge supports: dot names, ['quoted'] names, indices and `*`. */
function parsePath(path: string): Segment[] {
  if (typeof path !== 'string' || !path.startsWith('$')) throw new AwsError('ValidationException', `JSON path ${path} must start with $.`);
  const out: Segment[] = [];
  const re = /\.([^.[\]]+)|\[(\d+)\]|\[\*\]|\['([^']*)'\]|\["([^"]*)"\]/y;
  re.lastIndex = 1;
  while (re.lastIndex < path.length) {
    const at = re.lastIndex;
    const m = re.exec(path);
    if (!m || m.index !== at) throw new AwsError('ValidationException', `JSON path ${path} is not supported: only dot notation, array indices and wildcards are.`);
    if (m[1] !== undefined) out.push(m[1] === '*' ? { wildcard: true } : { key: m[1] });
    else if (m[2] !== undefined) out.push({ index: Number(m[2]) });
    else if (m[3] !== undefined || m[4] !== undefined) out.push({ key: (m[3] ?? m[4]) as string });
    else out.push({ wildcard: true });
  }
  return out;
}

/** Validates a JSON path (for PutTargets). */
export function validatePath(path: string): void {
  parsePath(path);
}

/** Evaluates a JSON path; a wildcard yields an array, a missing member yields undefined. */
export function evaluatePath(value: unknown, path: string): unknown {
  let current: unknown[] = [value];
  let multi = false;
  for (const seg of parsePath(path)) {
    const next: unknown[] = [];
    for (const v of current) {
      if ('wildcard' in seg) {
        multi = true;
        if (Array.isArray(v)) next.push(...v);
        else if (v && typeof v === 'object') next.push(...Object.values(v));
      } else if ('index' in seg) {
        if (Array.isArray(v) && seg.index < v.length) next.push(v[seg.index]);
      } else if (v && typeof v === 'object' && !Array.isArray(v) && Object.prototype.hasOwnProperty.call(v, seg.key)) {
        next.push((v as Record<string, unknown>)[seg.key]);
      }
    }
    current = next;
  }
  return multi ? current : current[0];
}

/** Validates the input options of a target the way PutTargets does. */
export function validateTargetInput(target: TargetInputOptions & { Id?: string }): void {
  const set = [target.Input, target.InputPath, target.InputTransformer].filter((v) => v !== undefined && v !== null);
  if (set.length > 1) throw new AwsError('ValidationException', `Target ${target.Id}: only one of Input, InputPath and InputTransformer may be set.`);
  if (target.Input !== undefined) {
    try {
      JSON.parse(target.Input);
    } catch {
      throw new AwsError('ValidationException', `Target ${target.Id}: Input is not valid JSON.`);
    }
  }
  if (target.InputPath !== undefined) parsePath(target.InputPath);
  const tr = target.InputTransformer;
  if (tr) {
    if (typeof tr.InputTemplate !== 'string') throw new AwsError('ValidationException', `Target ${target.Id}: InputTransformer.InputTemplate is required.`);
    if (tr.InputTemplate.length > 8192) throw new AwsError('ValidationException', `Target ${target.Id}: InputTemplate is longer than 8192 characters.`);
    const entries = Object.entries(tr.InputPathsMap ?? {});
    if (entries.length > 100) throw new AwsError('ValidationException', `Target ${target.Id}: InputPathsMap has more than 100 entries.`);
    for (const [name, path] of entries) {
      if (RESERVED.has(name)) throw new AwsError('ValidationException', `Target ${target.Id}: InputPathsMap key ${name} is a reserved variable name.`);
      parsePath(path);
    }
  }
}

/** What a template variable is filled from, beside the event. */
export interface TransformContext {
  readonly ruleArn: string;
  readonly ruleName: string;
  readonly ingestionTime: string;
}

/**
 * Fills an input template. Like AWS: a variable inside a JSON string literal is replaced by
 * its text (strings unquoted and escaped), one outside a string by its JSON value (strings
 * quoted); `aws.events.event` and `aws.events.event.json` are inserted as raw JSON; a path that
 * selects nothing gives `null` (or nothing inside a string).
 */
export function renderTemplate(template: string, pathsMap: Record<string, string>, event: Record<string, unknown>, ctx: TransformContext): string {
  const values = new Map<string, unknown>();
  for (const [name, path] of Object.entries(pathsMap)) values.set(name, evaluatePath(event, path));
  const reserved = (name: string): { raw: string } | { value: unknown } | undefined => {
    switch (name) {
      case 'aws.events.rule-arn':
        return { value: ctx.ruleArn };
      case 'aws.events.rule-name':
        return { value: ctx.ruleName };
      case 'aws.events.event.ingestion-time':
        return { value: ctx.ingestionTime };
      case 'aws.events.event': {
        const { detail: _detail, ...rest } = event;
        return { raw: JSON.stringify(rest) };
      }
      case 'aws.events.event.json':
        return { raw: JSON.stringify(event) };
      default:
        return undefined;
    }
  };
  let out = '';
  let inString = false;
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === '\\' && inString) {
      out += c + (template[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '"') {
      inString = !inString;
      out += c;
      continue;
    }
    if (c === '<') {
      const end = template.indexOf('>', i + 1);
      const name = end > i ? template.slice(i + 1, end) : '';
      const res = name ? (values.has(name) ? { value: values.get(name) } : reserved(name)) : undefined;
      if (res) {
        if ('raw' in res) out += res.raw;
        else if (inString) {
          const v = res.value;
          if (v !== undefined && v !== null) out += JSON.stringify(typeof v === 'string' ? v : JSON.stringify(v)).slice(1, -1);
        } else out += res.value === undefined ? 'null' : JSON.stringify(res.value);
        i = end;
        continue;
      }
    }
    out += c;
  }
  return out;
}

/** The payload a target receives for an event. */
export function targetPayload(target: TargetInputOptions, event: Record<string, unknown>, ctx: TransformContext): string {
  if (target.Input !== undefined) return target.Input;
  if (target.InputPath !== undefined) {
    const v = evaluatePath(event, target.InputPath);
    return JSON.stringify(v === undefined ? null : v);
  }
  if (target.InputTransformer) return renderTemplate(target.InputTransformer.InputTemplate, target.InputTransformer.InputPathsMap ?? {}, event, ctx);
  return JSON.stringify(event);
}
