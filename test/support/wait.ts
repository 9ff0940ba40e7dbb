/**
 * Polling for eventually-consistent conditions in tests, with a clear message on timeout.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** @default 10000 */
  readonly timeoutMs?: number;
  /** @default 50 */
  readonly intervalMs?: number;
  /** What was awaited, for the timeout error. @default 'condition' */
  readonly message?: string;
}

/**
 * Calls `predicate` until it returns a truthy value (which is returned) or the timeout passes.
 * A predicate that throws counts as not yet; the last error is reported on timeout.
 */
export async function waitFor<T>(predicate: () => T | Promise<T>, options: WaitOptions = {}): Promise<NonNullable<T>> {
  const { timeoutMs = 10_000, intervalMs = 50, message = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value as NonNullable<T>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}${cause}`, { cause: lastError });
    }
    await sleep(intervalMs);
  }
}
