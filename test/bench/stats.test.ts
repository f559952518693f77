import { describe, expect, it } from 'vitest';
import { median, percentile, summarize } from '../../bench/stats';

const oneToHundred = Array.from({ length: 100 }, (_, i) => i + 1);

describe('percentile', () => {
  it('returns the nearest-rank value of ascending samples', () => {
    expect(percentile(oneToHundred, 50)).toBe(50);
    expect(percentile(oneToHundred, 95)).toBe(95);
    expect(percentile(oneToHundred, 99)).toBe(99);
    expect(percentile(oneToHundred, 100)).toBe(100);
    expect(percentile(oneToHundred, 0.5)).toBe(1);
  });

  it('rounds the rank up, so a small sample reports an observed value at or above the share', () => {
    expect(percentile([10, 20, 30, 40], 50)).toBe(20);
    expect(percentile([10, 20, 30, 40], 51)).toBe(30);
    expect(percentile([10, 20, 30, 40], 99)).toBe(40);
    expect(percentile([7], 99)).toBe(7);
  });

  it('refuses no samples and percentiles outside (0, 100]', () => {
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile([1], 0)).toThrow(/outside/);
    expect(() => percentile([1], 101)).toThrow(/outside/);
    expect(() => percentile([1], Number.NaN)).toThrow(/outside/);
  });
});

describe('median', () => {
  it('takes the middle of an odd count and the mean of the middle two of an even count, in any order', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });

  it('leaves its input unsorted', () => {
    const samples = [3, 1, 2];
    median(samples);
    expect(samples).toEqual([3, 1, 2]);
  });
});

describe('summarize', () => {
  it('reports count, extremes, mean and p50/p95/p99 of unsorted samples', () => {
    const shuffled = [...oneToHundred].reverse();
    expect(summarize(shuffled)).toEqual({ n: 100, min: 1, p50: 50, p95: 95, p99: 99, max: 100, mean: 50.5 });
  });

  it('lets one slow outlier in a hundred show at p99 only when it is beyond the 99th rank', () => {
    const samples = [...Array.from({ length: 98 }, () => 1), 2, 500];
    const summary = summarize(samples);
    expect(summary.p50).toBe(1);
    expect(summary.p99).toBe(2);
    expect(summary.max).toBe(500);
  });
});
