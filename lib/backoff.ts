/**
 * A pure backoff schedule for reconnects.
 *
 * @module
 */

/** Options of {@linkcode backoff}. */
export interface BackoffOptions {
  /**
   * First delay in milliseconds.
   * @default {250}
   */
  base?: number;
  /**
   * Longest delay in milliseconds.
   * @default {10000}
   */
  max?: number;
  /**
   * Random part of each delay, 0 to 1 (0.2 = up to 20% shorter).
   * @default {0.2}
   */
  jitter?: number;
  /**
   * The random source, for tests.
   * @default {Math.random}
   */
  random?: () => number;
}

/**
 * The delay before reconnect attempt `attempt` (0-based): exponential, capped, with jitter.
 *
 * @param attempt How many attempts failed before this one.
 * @param options See {@linkcode BackoffOptions}.
 * @returns Milliseconds to wait.
 * @example
 * ```ts
 * import { backoff } from "./backoff.ts";
 * console.assert(backoff(0, { jitter: 0 }) === 250);
 * console.assert(backoff(10, { jitter: 0 }) === 10000);
 * ```
 */
export function backoff(attempt: number, options: BackoffOptions = {}): number {
  const base = options.base ?? 250;
  const max = options.max ?? 10_000;
  const jitter = options.jitter ?? 0.2;
  const random = options.random ?? Math.random;
  const raw = Math.min(max, base * 2 ** Math.min(attempt, 30));
  return Math.round(raw * (1 - jitter * random()));
}
