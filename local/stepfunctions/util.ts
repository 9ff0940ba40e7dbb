/**
 * Small helpers of the local Step Functions service: sleeping on the controllable clock,
 * evaluating the simple JSONPath subset used by Wait and Map states, and JSON utilities.
 */
import type { LocalClock } from '../core/clock.js';

/** Raised when a clock wait is cancelled because its execution stopped. */
export class AbortedWait extends Error {
  constructor() {
    super('execution stopped');
    this.name = 'AbortedWait';
  }
}

/**
 * A deadline on the local clock: it fires when the clock reaches `dueMs`, whether by wall time
 * passing or by a test advancing the clock. `reset` moves it (heartbeats), `cancel` drops it.
 */
export interface ClockDeadline {
  readonly promise: Promise<void>;
  reset(dueMs: number): void;
  cancel(): void;
}

/** Creates a {@link ClockDeadline}; the promise rejects with {@link AbortedWait} when `signal` aborts. */
export function clockDeadline(clock: LocalClock, dueMs: number, signal?: AbortSignal): ClockDeadline {
  let due = dueMs;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let settled = false;
  let resolveFn!: () => void;
  let rejectFn!: (e: unknown) => void;
  const promise = new Promise<void>((resolve, reject) => {
    resolveFn = resolve;
    rejectFn = reject;
  });
  // A rejection nobody awaits (a cancelled deadline) must not become an unhandled rejection.
  promise.catch(() => undefined);
  const cleanup = () => {
    settled = true;
    if (timer) clearTimeout(timer);
    unsubscribe();
    signal?.removeEventListener('abort', onAbort);
  };
  const check = () => {
    if (settled) return;
    const left = due - clock.now();
    if (left <= 0) {
      cleanup();
      resolveFn();
      return;
    }
    if (timer) clearTimeout(timer);
    // setTimeout overflows past 2^31-1 ms; re-check periodically instead.
    timer = setTimeout(check, Math.min(left, 2 ** 31 - 1));
  };
  const onAbort = () => {
    if (settled) return;
    cleanup();
    rejectFn(new AbortedWait());
  };
  const unsubscribe = clock.onAdvance(() => check());
  if (signal?.aborted) onAbort();
  else {
    signal?.addEventListener('abort', onAbort);
    check();
  }
  return {
    promise,
    reset(newDue: number) {
      due = newDue;
      check();
    },
    cancel() {
      if (!settled) cleanup();
    },
  };
}

/** Sleeps `ms` on the local clock. */
export function clockSleep(clock: LocalClock, ms: number, signal?: AbortSignal): Promise<void> {
  return clockDeadline(clock, clock.now() + Math.max(0, ms), signal).promise;
}

/** Parses a reference path (`$`, `$.a.b`, `$['a'][0]`) into its steps; undefined when it is more than that. */
export function parseSimplePath(path: string): Array<string | number> | undefined {
  if (!path.startsWith('$') || path.startsWith('$$')) return undefined;
  const steps: Array<string | number> = [];
  let rest = path.slice(1);
  while (rest.length) {
    let m = /^\.([A-Za-z_$][\w$-]*)/.exec(rest);
    if (m) {
      steps.push(m[1]);
    } else if ((m = /^\[(\d+)\]/.exec(rest))) {
      steps.push(Number(m[1]));
    } else if ((m = /^\['([^']*)'\]/.exec(rest)) || (m = /^\["([^"]*)"\]/.exec(rest))) {
      steps.push(m[1]);
    } else return undefined;
    rest = rest.slice(m[0].length);
  }
  return steps;
}

/** Evaluates a simple reference path; undefined when it selects nothing. */
export function selectPath(value: unknown, path: string): unknown {
  const steps = parseSimplePath(path);
  if (!steps) return undefined;
  let cur: any = value;
  for (const s of steps) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = cur[s as any];
  }
  return cur;
}

/** Replaces `needle` by `replacement` inside every string of a JSON value (keys untouched). */
export function deepReplace(value: unknown, needle: string, replacement: string): unknown {
  if (typeof value === 'string') return value.includes(needle) ? value.split(needle).join(replacement) : value;
  if (Array.isArray(value)) return value.map((v) => deepReplace(v, needle, replacement));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deepReplace(v, needle, replacement)]));
  }
  return value;
}

/** JSON.stringify that never throws on undefined (AWS shows `null`). */
export function toJson(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

/** Waits until pending microtasks (the library's event stream) have run. */
export function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
