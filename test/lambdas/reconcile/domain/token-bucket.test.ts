import { describe, expect, it } from 'vitest';
import { backoffMs, TokenBucket, type Sleeper } from '../../../../lambdas/reconcile/domain/token-bucket.js';
import { evaluateBreaker } from '../../../../lambdas/reconcile/domain/breaker.js';

function fakeTime(): Sleeper & { t: number } {
  const s = { t: 0, now: () => s.t, sleep: async (ms: number) => void (s.t += ms) };
  return s;
}

describe('TokenBucket', () => {
  it('holds consumption to the rate over time, debiting after the fact', async () => {
    const time = fakeTime();
    const bucket = new TokenBucket(100, time);
    // 50 reads of 10 RCU = 500 RCU at 100 RCU/s: about 4 s beyond the first second's burst.
    for (let i = 0; i < 50; i++) {
      await bucket.acquire();
      bucket.consume(10);
    }
    expect(time.t).toBeGreaterThanOrEqual(3_900);
    expect(time.t).toBeLessThanOrEqual(4_200);
  });

  it('never waits when unlimited, and refills to at most the burst', async () => {
    const time = fakeTime();
    const free = new TokenBucket(Infinity, time);
    free.consume(1e9);
    await free.acquire();
    expect(time.t).toBe(0);
    const bucket = new TokenBucket(10, time);
    time.t += 60_000;
    expect(bucket.balance()).toBe(10);
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffMs(1, 50, 5000, () => 0.999)).toBeLessThanOrEqual(50);
    expect(backoffMs(4, 50, 5000, () => 0.999)).toBe(400);
    expect(backoffMs(20, 50, 5000, () => 0.999)).toBeGreaterThan(4900);
    expect(backoffMs(20, 50, 5000, () => 0.999)).toBeLessThanOrEqual(5000);
  });
});

describe('circuit breaker', () => {
  it('trips only above the threshold of compared items', () => {
    expect(evaluateBreaker({ compared: 1000, confirmed: 50, thresholdPercent: 5 }).tripped).toBe(false);
    expect(evaluateBreaker({ compared: 1000, confirmed: 51, thresholdPercent: 5 })).toEqual({ tripped: true, driftPercent: 5.1 });
    expect(evaluateBreaker({ compared: 0, confirmed: 0, thresholdPercent: 5 }).tripped).toBe(false);
    expect(evaluateBreaker({ compared: 0, confirmed: 1, thresholdPercent: 5 }).tripped).toBe(true);
  });
});
