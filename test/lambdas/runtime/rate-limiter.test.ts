import { beforeEach, describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../lambdas/runtime/rate-limiter';
import { FakeClock, START } from '../reconcile/fake-pool';

let clock: FakeClock;

beforeEach(() => {
  clock = new FakeClock();
});

describe('RateLimiter', () => {
  it('spaces N calls so that they take at least (N-1)/rate seconds', async () => {
    const limiter = new RateLimiter(5, clock);
    const times: number[] = [];
    for (let i = 0; i < 11; i += 1) {
      await limiter.acquire();
      times.push(clock.now() - START);
    }
    expect(times.at(-1)).toBeGreaterThanOrEqual(((11 - 1) / 5) * 1000);
    expect(times.slice(1).map((t, i) => t - (times[i] ?? 0))).toEqual(Array(10).fill(200));
  });

  it('does not wait when the caller is already slower than the rate', async () => {
    const limiter = new RateLimiter(5, clock);
    await limiter.acquire();
    clock.advance(1000);
    await limiter.acquire();
    expect(clock.sleeps).toEqual([]);
  });

  it('refuses a rate that is not a positive number', () => {
    expect(() => new RateLimiter(0, clock)).toThrow(RangeError);
    expect(() => new RateLimiter(Number.NaN, clock)).toThrow(RangeError);
  });
});
