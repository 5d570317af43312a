/**
 * The goals of issue 6, each a ratio of medians of the same run against its target; the result
 * table and the JSON output both check them.
 *
 * @module
 */

import type { Workload } from "./options.ts";
import type { Proto } from "./wire.ts";

/** The median of one measure of one server (or the reference) in this run. */
export type Median = (workload: Workload, measure: string, who: Proto | "reference") => number;

/** A goal of issue 6, checked on medians. */
export interface Goal {
  /** The workload whose measures it needs (checked only when that workload ran). */
  workload: Workload;
  /** What it says, as the table shows it. */
  text: string;
  /** The ratio that must reach `target` (or stay under it, for `at most`). */
  evaluate(m: Median): {
    ratio: number;
    target: number;
    atMost: boolean;
  };
}

function goal(
  workload: Workload,
  text: string,
  target: number,
  atMost: boolean,
  ratio: (m: Median) => number,
): Goal {
  return { workload, text, evaluate: (m) => ({ ratio: ratio(m), target, atMost }) };
}

/** Switchboard's median over the better peer's (`better`: `Math.max`, or `Math.min` for times). */
function overBetterPeer(
  m: Median,
  workload: Workload,
  measure: string,
  better: (a: number, b: number) => number,
): number {
  return m(workload, measure, "switchboard") /
    better(m(workload, measure, "nats"), m(workload, measure, "redis"));
}

/** Switchboard's median of `measure` over one peer's median of `theirs`. */
function over(
  m: Median,
  workload: Workload,
  measure: string,
  peer: Proto,
  theirs = measure,
): number {
  return m(workload, measure, "switchboard") / m(workload, theirs, peer);
}

/** Switchboard's PUT median over the least of the reference medians `refs` (all files measures). */
function putOver(m: Median, ...refs: string[]): number {
  return overLeast(m, "PUT", ...refs);
}

/** Switchboard's median of a files `measure` over the least of the reference medians `refs`. */
function overLeast(m: Median, measure: string, ...refs: string[]): number {
  return m("files", measure, "switchboard") /
    Math.min(...refs.map((r) => m("files", r, "reference")));
}

/** What a verified transfer can reach: the pipe, one core's sha256 or the disk, the least. */
const CEILINGS = ["raw TCP pipe", "sha256 (one core)", "disk write + fsync"];

/** Every goal, in the order the table lists them. */
export const GOALS: Goal[] = [
  goal(
    "fanout",
    "fan-out delivered msgs/s >= 1.5x the better peer",
    1.5,
    false,
    (m) => overBetterPeer(m, "fanout", "delivered", Math.max),
  ),
  goal(
    "chat",
    "chat delivered msgs/s >= 1.0x the better peer",
    1,
    false,
    (m) => overBetterPeer(m, "chat", "delivered", Math.max),
  ),
  goal(
    "chat",
    "chat p99 delivery latency <= the better peer's",
    1,
    true,
    (m) => overBetterPeer(m, "chat", "p99 latency", Math.min),
  ),
  ...(["TIME", "PING"] as const).flatMap((op) =>
    (["p50", "p99"] as const).map((p) =>
      goal(
        "latency",
        `${op} ${p} <= ${p === "p50" ? 1.1 : 1.5}x redis-server PING ${p}`,
        p === "p50" ? 1.1 : 1.5,
        true,
        (m) => over(m, "latency", `${op} ${p}`, "redis", `PING ${p}`),
      )
    )
  ),
  goal(
    "cluster",
    "cross-node delivered msgs/s >= the 2-node nats-server cluster's",
    1,
    false,
    (m) => over(m, "cluster", "cross-node: delivered", "nats"),
  ),
  goal(
    "cluster",
    "cross-node p50 latency <= 2x single-node's",
    2,
    true,
    (m) =>
      m("cluster", "cross-node: p50 latency", "switchboard") /
      m("cluster", "single-node: p50 latency", "switchboard"),
  ),
  goal(
    "idle",
    "RSS per idle connection <= nats-server's",
    1,
    true,
    (m) => over(m, "idle", "RSS per connection", "nats"),
  ),
  goal(
    "idle",
    "RSS per idle connection <= 1.5x redis-server's",
    1.5,
    true,
    (m) => over(m, "idle", "RSS per connection", "redis"),
  ),
  goal("idle", "connects/s >= nats-server's", 1, false, (m) => over(m, "idle", "connects", "nats")),
  goal(
    "files",
    "GET MB/s >= 90% of the raw TCP pipe",
    0.9,
    false,
    (m) => m("files", "GET", "switchboard") / m("files", "raw TCP pipe", "reference"),
  ),
  goal(
    "files",
    "verified get (client library, to disk) >= 80% of min(pipe, sha256, disk write + fsync)",
    0.8,
    false,
    (m) => overLeast(m, "verified get (client library, to disk)", ...CEILINGS),
  ),
  goal(
    "files",
    "verified put (client library) >= 80% of min(pipe, sha256, disk write + fsync)",
    0.8,
    false,
    (m) => overLeast(m, "verified put (client library)", ...CEILINGS),
  ),
  goal(
    "files",
    "PING p99 of another client during a download <= 5 ms (ratio to 5 ms)",
    1,
    true,
    (m) => m("files", "PING p99 during a download", "switchboard") / 5,
  ),
  goal(
    "files",
    "PUT MB/s >= 80% of min(raw TCP pipe, sha256 of one core)",
    0.8,
    false,
    (m) => putOver(m, "raw TCP pipe", "sha256 (one core)"),
  ),
  goal(
    "files",
    "(beside the goal) PUT MB/s vs min(raw TCP pipe, sha256, disk write + fsync)",
    0.8,
    false,
    (m) => putOver(m, ...CEILINGS),
  ),
];
