/** Small pure helpers shared by the commands. */
import { setTimeout as sleepFor } from 'node:timers/promises';
import { InvalidArgumentError } from 'commander';

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => sleepFor(ms).then(() => undefined);

/** Parses JSON, or returns undefined for absent or malformed text (history payloads may be truncated). */
export function parseJson(text: string | undefined | null): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * A task's result, whether the state used the optimised Lambda integration
 * (`arn:aws:states:::lambda:invoke`, which wraps it as `{Payload, StatusCode…}`) or not.
 */
export function unwrapPayload(value: unknown): unknown {
  if (value && typeof value === 'object' && 'Payload' in value && 'StatusCode' in value) return (value as { Payload: unknown }).Payload;
  if (value && typeof value === 'object' && 'Payload' in value && Object.keys(value).length <= 4) return (value as { Payload: unknown }).Payload;
  return value;
}

/** True for a Step Functions execution ARN. */
export function isExecutionArn(s: string): boolean {
  return /^arn:aws[a-z-]*:states:[^:]*:[^:]*:execution:[^:]+:[^:]+$/.test(s);
}

/**
 * The orderId a PlaceOrder execution runs for, from its input: the raw EventBridge event
 * (`detail.orderId`), or an input-transformed one (`event.detail.orderId`), or a flat `orderId`.
 */
export function orderIdFromInput(input: unknown): string | undefined {
  const o = input as { orderId?: unknown; detail?: { orderId?: unknown }; event?: { detail?: { orderId?: unknown } } } | undefined;
  const candidates = [o?.detail?.orderId, o?.event?.detail?.orderId, o?.orderId];
  return candidates.find((c): c is string => typeof c === 'string' && c.length > 0);
}

/** Parses a number option, refusing what isn't a positive integer (commander gives strings). */
export function positiveInt(name: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer, got ${value}`);
    return n;
  };
}

/** Parses a positive number option (fractions allowed). */
export function positiveNumber(name: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got ${value}`);
    return n;
  };
}

/** Parses a time option: ISO 8601, epoch milliseconds, or relative like `-2h`, `-30m`, `now`. */
export function parseTime(value: string, now: number = Date.now()): Date | undefined {
  if (value === 'now') return new Date(now);
  const rel = /^-(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(value);
  if (rel) return new Date(now - Number(rel[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86_400e3 }[rel[2] as 's' | 'm' | 'h' | 'd']);
  if (/^\d{12,}$/.test(value)) return new Date(Number(value));
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
