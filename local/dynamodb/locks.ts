/**
 * Per-key mutual exclusion. Writes lock their item so that the old image read and the write
 * that follows are one step; transactions lock every item they touch, in a global order, so
 * two transactions can never wait on each other.
 */

/** A set of named mutexes, created on demand and dropped when free. */
export class KeyedLocks {
  private readonly tails = new Map<string, Promise<void>>();

  private acquire(key: string): Promise<() => void> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const tail = prev.then(() => held);
    this.tails.set(key, tail);
    return prev.then(() => () => {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
  }

  /** Runs `fn` while holding every key (deduplicated, taken in sorted order). */
  async run<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const releases: Array<() => void> = [];
    try {
      for (const key of sorted) releases.push(await this.acquire(key));
      return await fn();
    } finally {
      for (const release of releases.reverse()) release();
    }
  }

  /** Resolves once nobody holds `key` (readers wait out a transaction in flight). */
  async idle(key: string): Promise<void> {
    const tail = this.tails.get(key);
    if (tail) await tail;
  }

  /** True while some key is held or awaited. */
  get busy(): boolean {
    return this.tails.size > 0;
  }
}
