/**
 * Small statistics for the benchmark: percentiles of samples, a compact latency histogram, and the
 * median with min-max of repeated runs.
 *
 * @module
 */

/** Percentiles of a set of latencies, in milliseconds. */
export interface LatencySummary {
  /** Number of samples. */
  count: number;
  /** Median. */
  p50: number;
  /** 99th percentile. */
  p99: number;
  /** 99.9th percentile. */
  p999: number;
  /** Largest sample. */
  max: number;
  /** Mean. */
  mean: number;
}

/**
 * Summarizes samples (sorted in place).
 *
 * @param samples Latencies in milliseconds.
 * @returns Percentiles (nearest rank).
 * @example
 * ```ts
 * import { summarize } from "./stats.ts";
 * const s = summarize(new Float64Array([3, 1, 2]));
 * console.assert(s.p50 === 2 && s.max === 3);
 * ```
 */
export function summarize(samples: Float64Array): LatencySummary {
  samples.sort();
  const n = samples.length;
  const at = (q: number) =>
    n === 0 ? NaN : samples[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  let sum = 0;
  for (const v of samples) sum += v;
  return {
    count: n,
    p50: at(0.5),
    p99: at(0.99),
    p999: at(0.999),
    max: n ? samples[n - 1]! : NaN,
    mean: sum / n,
  };
}

const SUB = 1024;

/**
 * A log-linear histogram of latencies in milliseconds: 1 µs steps below 2 ms, then 1024 steps per
 * power of two (under 0.1% error), so that millions of samples cost a few kilobytes.
 *
 * @example
 * ```ts
 * import { Histogram } from "./stats.ts";
 * const h = new Histogram();
 * for (let i = 1; i <= 100; i++) h.record(i / 1000);
 * console.assert(Math.abs(h.summary().p99 - 0.099) < 0.0015);
 * ```
 */
export class Histogram {
  #counts = new Float64Array(2 * SUB + 40 * SUB);
  #count = 0;
  #sum = 0;
  #max = 0;

  /** Adds one sample, in milliseconds. */
  record(ms: number): void {
    const us = ms <= 0 ? 0 : Math.floor(ms * 1000);
    let index: number;
    if (us < 2 * SUB) index = us;
    else {
      const e = Math.min(39, 31 - Math.clz32(us) - 10); // us in [2^(e+10), 2^(e+11))
      index = 2 * SUB + (e - 1) * SUB + ((us >>> e) - SUB);
      if (index >= this.#counts.length) index = this.#counts.length - 1;
    }
    this.#counts[index]!++;
    this.#count++;
    this.#sum += ms;
    if (ms > this.#max) this.#max = ms;
  }

  #valueAt(index: number): number {
    if (index < 2 * SUB) return index / 1000;
    const e = Math.floor((index - 2 * SUB) / SUB) + 1;
    const sub = (index - 2 * SUB) % SUB + SUB;
    return (sub * 2 ** e) / 1000;
  }

  #quantile(q: number): number {
    if (this.#count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(this.#valueAt(i), this.#max);
    }
    return this.#max;
  }

  /** Percentiles of what was recorded. */
  summary(): LatencySummary {
    return {
      count: this.#count,
      p50: this.#quantile(0.5),
      p99: this.#quantile(0.99),
      p999: this.#quantile(0.999),
      max: this.#max,
      mean: this.#count ? this.#sum / this.#count : NaN,
    };
  }
}

/** Median, min and max of repeated runs. */
export interface Spread {
  /** The median (mean of the middle two for an even count). */
  median: number;
  /** The smallest. */
  min: number;
  /** The largest. */
  max: number;
  /** How many runs gave a number. */
  n: number;
}

/**
 * The median with min-max of run results, ignoring failed runs (`NaN`).
 *
 * @param values One value per run.
 * @returns The spread; all `NaN` when no run gave a number.
 * @example
 * ```ts
 * import { spread } from "./stats.ts";
 * const s = spread([5, 1, 3, NaN]);
 * console.assert(s.median === 3 && s.min === 1 && s.max === 5 && s.n === 3);
 * ```
 */
export function spread(values: number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const mid = v.length >> 1;
  const median = v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return { median, min: v[0]!, max: v[v.length - 1]!, n: v.length };
}
