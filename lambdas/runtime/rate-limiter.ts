import type { Clock } from './clock';

/**
 * Spaces calls at least 1/rate s apart (so N calls take at least (N-1)/rate s), without bursts: an AWS quota
 * is shared with every other caller in the account, and a burst above it throttles them as well as us.
 */
export class RateLimiter {
  private next: number | undefined;
  private readonly intervalMs: number;

  constructor(
    readonly ratePerSecond: number,
    private readonly clock: Clock,
  ) {
    if (!(ratePerSecond > 0) || !Number.isFinite(ratePerSecond))
      throw new RangeError('ratePerSecond must be a positive number');
    this.intervalMs = 1000 / ratePerSecond;
  }

  /** Resolves when the next call may go out. */
  async acquire(): Promise<void> {
    const now = this.clock.now();
    const at = this.next === undefined ? now : Math.max(now, this.next);
    this.next = at + this.intervalMs;
    if (at > now) await this.clock.sleep(at - now);
  }
}
