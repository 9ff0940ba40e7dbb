/**
 * A token bucket over consumed read capacity. A read is only known to cost what DynamoDB says
 * after it returns (ReturnConsumedCapacity), so the bucket is debited afterwards and may go
 * negative; the next read waits until the balance is back above zero. Over any window the
 * average stays at `ratePerSecond`, with bursts up to `burst`.
 */
export interface Sleeper {
  /** Milliseconds since an arbitrary origin. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realSleeper: Sleeper = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export class TokenBucket {
  private tokens: number;
  private last: number;
  /** Total milliseconds spent waiting for capacity (a metric). */
  waitedMs = 0;

  constructor(
    /** Capacity units per second; `Infinity` disables limiting. */
    private readonly ratePerSecond: number,
    private readonly sleeper: Sleeper = realSleeper,
    /** Largest balance; defaults to one second of rate. */
    private readonly burst: number = ratePerSecond,
  ) {
    this.tokens = burst;
    this.last = sleeper.now();
  }

  private refill(): void {
    const now = this.sleeper.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
    this.last = now;
  }

  /** Waits until a read may be issued. */
  async acquire(): Promise<void> {
    if (!Number.isFinite(this.ratePerSecond)) return;
    this.refill();
    if (this.tokens > 0) return;
    const waitMs = Math.ceil((-this.tokens / this.ratePerSecond) * 1000) + 1;
    this.waitedMs += waitMs;
    await this.sleeper.sleep(waitMs);
    this.refill();
  }

  /** Debits what a finished read consumed. */
  consume(units: number): void {
    if (!Number.isFinite(this.ratePerSecond)) return;
    this.refill();
    this.tokens -= units;
  }

  /** The current balance (for tests and metrics). */
  balance(): number {
    this.refill();
    return this.tokens;
  }
}

/** Exponential backoff with full jitter: the delay before retry `attempt` (1-based). */
export function backoffMs(attempt: number, baseMs = 50, capMs = 5_000, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling) + 1;
}
