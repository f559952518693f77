// Time, as every core sees it: injected, so that tests run deadlines, rate limits and time budgets on a fake.

/** Milliseconds since the epoch: all a core needs that only stamps and measures. */
export type Now = () => number;

/** Now, and a way to wait: for a core that paces itself (the reconcile's rate limiter and time budget). */
export interface Clock {
  now: Now;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
