/**
 * The numbers of one benchmark run: every measure, per server, one value per run, with its unit,
 * and the number formats of the progress lines and the tables.
 *
 * @module
 */

import { type Spread, spread } from "./stats.ts";
import type { Workload } from "./options.ts";
import type { Proto } from "./wire.ts";

/** Prefix of the measures of bench/echo_floor.ts. */
export const FLOOR = "Deno echo floor";
/** The name of each server in the tables and the progress lines. */
export const NAMES: Record<Proto, string> = {
  switchboard: "switchboard",
  nats: "nats-server",
  redis: "redis-server",
};

/** One measured quantity, per server, one number per run. */
export interface Measure {
  workload: Workload;
  measure: string;
  unit: string;
  better: "higher" | "lower";
  values: Partial<Record<Proto | "reference", number[]>>;
}

const UNITS: Record<string, { unit: string; better: "higher" | "lower" }> = {
  "p50 latency": { unit: "ms", better: "lower" },
  "p99 latency": { unit: "ms", better: "lower" },
  "RSS per connection": { unit: "KiB", better: "lower" },
  "connects": { unit: "conn/s", better: "higher" },
  "server CPU per msg": { unit: "ns", better: "lower" },
  "server CPU per round trip": { unit: "ns", better: "lower" },
  "delivered": { unit: "msgs/s", better: "higher" },
  "GET": { unit: "MB/s", better: "higher" },
  "PUT": { unit: "MB/s", better: "higher" },
  "raw TCP pipe": { unit: "MB/s", better: "higher" },
  "sha256 (one core)": { unit: "MB/s", better: "higher" },
  "disk write + fsync": { unit: "MB/s", better: "higher" },
  "PUT (hash, no disk)": { unit: "MB/s", better: "higher" },
  "GET (from memory)": { unit: "MB/s", better: "higher" },
  "PUT, bytes sent": { unit: "MB/s", better: "higher" },
  "verified get (client library, to disk)": { unit: "MB/s", better: "higher" },
  "verified put (client library)": { unit: "MB/s", better: "higher" },
  // The burst workload's, each named `<scenario>: <measure>`.
  "least delivered": { unit: "%", better: "higher" },
  "connections cut": { unit: "conns", better: "lower" },
  "out of order": { unit: "msgs", better: "lower" },
  "publisher rate": { unit: "msgs/s", better: "higher" },
  "longest write stall": { unit: "ms", better: "lower" },
  // The cluster workload's, each named `<single-node|cross-node>: <measure>`.
  "CPU of node A": { unit: "% of a core", better: "lower" },
  "CPU of node B": { unit: "% of a core", better: "lower" },
  "CPU of redis-server": { unit: "% of a core", better: "lower" },
  "CPU of the load client": { unit: "% of a core", better: "lower" },
  "probe rate": { unit: "msgs/s", better: "higher" },
};

/** The unit of a measure and which way is better. */
export function unitOf(measure: string): { unit: string; better: "higher" | "lower" } {
  if (measure.startsWith(`${FLOOR} `)) return unitOf(measure.slice(FLOOR.length + 1));
  const scenario = measure.lastIndexOf(": ");
  if (scenario >= 0) return unitOf(measure.slice(scenario + 2));
  return UNITS[measure] ??
    (measure.includes(" p") ? { unit: "ms", better: "lower" } : { unit: "", better: "higher" });
}

/** Every measure of a run, and the runs that failed. */
export class Results {
  readonly measures: Measure[] = [];
  readonly failures: string[] = [];

  add(workload: Workload, who: Proto | "reference", values: Record<string, number>): void {
    for (const [name, value] of Object.entries(values)) {
      let m = this.measures.find((x) => x.workload === workload && x.measure === name);
      if (m === undefined) {
        m = { workload, measure: name, ...unitOf(name), values: {} };
        this.measures.push(m);
      }
      (m.values[who] ??= []).push(value);
    }
  }

  median(workload: Workload, measure: string, who: Proto | "reference"): number {
    const m = this.measures.find((x) => x.workload === workload && x.measure === measure);
    return spread(m?.values[who] ?? []).median;
  }
}

/** One number as the tables show it (`unit` "ms" picks µs or ms; others scale to k and M). */
export function fmt(v: number, unit: string): string {
  if (!Number.isFinite(v)) return "-";
  if ((unit === "conns" || unit === "msgs") && Number.isInteger(v)) return String(v);
  if (unit === "ms") {
    return v < 1 ? `${(v * 1000).toFixed(0)} µs` : `${v.toFixed(v < 10 ? 2 : 1)} ms`;
  }
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)} k`;
  if (v >= 100) return v.toFixed(0);
  return v.toFixed(v >= 10 ? 1 : 2);
}

/** A median with its min-max, as the tables show it (`-` when there is none). */
export function cell(s: Spread, unit: string): string {
  if (s.n === 0) return "-";
  if (s.n === 1) return fmt(s.median, unit);
  return `${fmt(s.median, unit)} (${fmt(s.min, unit)}-${fmt(s.max, unit)})`;
}
