/**
 * Option values as people write them: sizes in binary units (`64KiB`) and durations (`10s`), both
 * ways.
 *
 * @module
 */

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};
const TIME_UNITS: Record<string, number> = {
  "": 1,
  ms: 1,
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
};

/**
 * Parses a size such as `4096`, `64KiB`, `1MiB`, `8G` (binary units).
 *
 * @param text The size.
 * @returns Bytes.
 * @throws {RangeError} When it is not a size.
 * @example
 * ```ts
 * import { parseSize } from "./units.ts";
 * console.assert(parseSize("1MiB") === 1048576);
 * ```
 */
export function parseSize(text: string): number {
  return parseUnit(text, SIZE_UNITS, "size (like 4096, 64KiB, 1MiB, 8GiB)");
}

/**
 * Parses a duration such as `500ms`, `10s`, `1m`; a bare number is milliseconds.
 *
 * @param text The duration.
 * @returns Milliseconds.
 * @throws {RangeError} When it is not a duration.
 * @example
 * ```ts
 * import { parseDuration } from "./units.ts";
 * console.assert(parseDuration("10s") === 10000);
 * ```
 */
export function parseDuration(text: string): number {
  return parseUnit(text, TIME_UNITS, "duration (like 500ms, 10s, 1m)");
}

function parseUnit(text: string, units: Record<string, number>, what: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? units[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new RangeError(`"${text}" is not a ${what}`);
  const value = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(value)) throw new RangeError(`"${text}" is too large`);
  return value;
}

/** A size as `--help` shows it: `8MiB`, or bytes. */
export function formatSize(n: number): string {
  for (const [unit, size] of [["GiB", 1024 ** 3], ["MiB", 1024 ** 2], ["KiB", 1024]] as const) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return String(n);
}

/** A duration as `--help` shows it: `10s`, `5m`, or milliseconds. */
export function formatDuration(n: number): string {
  if (n >= 3_600_000 && n % 3_600_000 === 0) return `${n / 3_600_000}h`;
  if (n >= 60_000 && n % 60_000 === 0) return `${n / 60_000}m`;
  if (n >= 1000 && n % 1000 === 0) return `${n / 1000}s`;
  return `${n}ms`;
}
