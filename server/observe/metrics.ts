/**
 * The metrics sink: counters every part bumps, two histograms, and a snapshot of them
 * (server/observe/http.ts serves it as `/metrics` and `/api/status`).
 *
 * @module
 */

import type { Metrics, Observer } from "../core/metrics.ts";

/** A histogram as read: cumulative counts per upper bound (seconds), the sum and the count. */
export interface HistogramSnapshot {
  /** Upper bounds in seconds, ascending (`+Inf` is implied: it is `count`). */
  bounds: number[];
  /** Observations at or below each bound (cumulative). */
  buckets: number[];
  /** Sum of the observations, seconds. */
  sum: number;
  /** Number of observations. */
  count: number;
}

/**
 * A histogram with fixed bounds, observed in milliseconds, read in seconds.
 *
 * @example
 * ```ts
 * import { Histogram } from "./metrics.ts";
 * const h = new Histogram([0.001, 0.01]);
 * h.observe(0.5);
 * h.observe(5);
 * h.observe(50);
 * console.assert(h.snapshot().buckets.join() === "1,2" && h.snapshot().count === 3);
 * ```
 */
export class Histogram implements Observer {
  readonly #boundsMs: Float64Array;
  readonly #bounds: number[];
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;

  /** @param bounds Upper bounds in seconds, ascending. */
  constructor(bounds: readonly number[]) {
    this.#bounds = [...bounds];
    this.#boundsMs = Float64Array.from(bounds, (b) => b * 1000);
    this.#counts = new Float64Array(bounds.length);
  }

  observe(ms: number): void {
    this.#sum += ms;
    this.#count++;
    const bounds = this.#boundsMs;
    for (let i = 0; i < bounds.length; i++) {
      if (ms <= bounds[i]!) {
        this.#counts[i]!++;
        return;
      }
    }
  }

  /** The counts now, cumulative. */
  snapshot(): HistogramSnapshot {
    const buckets: number[] = [];
    let total = 0;
    for (const c of this.#counts) buckets.push(total += c);
    return { bounds: [...this.#bounds], buckets, sum: this.#sum / 1000, count: this.#count };
  }
}

/** Bounds of the command latency histogram, seconds. */
export const COMMAND_LATENCY_BOUNDS: readonly number[] = [
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
];

/** Bounds of the fan-out time histogram, seconds. */
export const FANOUT_TIME_BOUNDS: readonly number[] = [
  0.00001,
  0.000025,
  0.00005,
  0.0001,
  0.00025,
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
];

/** A copy of every counter at one moment. */
export interface MetricsSnapshot {
  /** Clients connected now. */
  connections: number;
  /** Clients that ever connected. */
  connects: number;
  /** Disconnects by reason. */
  disconnects: Record<string, number>;
  /** Commands by verb (unknown verbs as `unknown`). */
  commands: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesDelivered: number;
  fileBytesIn: number;
  fileBytesOut: number;
  rateLimited: number;
  protocolErrors: number;
  errors: number;
  engineErrors: number;
  authFailures: number;
  stalls: number;
  stallTime: number;
  /** Sampled command latency (one command in 64). */
  commandLatency: HistogramSnapshot;
  /** Time to deliver one batch of room messages to this node's members. */
  fanoutTime: HistogramSnapshot;
}

/**
 * The counters of one server process.
 *
 * @example
 * ```ts
 * import { MetricsSink } from "./metrics.ts";
 * const metrics = new MetricsSink();
 * metrics.connected();
 * metrics.count("SAY");
 * metrics.disconnected("quit");
 * const s = metrics.snapshot();
 * console.assert(s.connections === 0 && s.connects === 1 && s.commands.SAY === 1);
 * ```
 */
export class MetricsSink implements Metrics {
  bytesIn = 0;
  bytesOut = 0;
  messagesIn = 0;
  messagesDelivered = 0;
  fileBytesIn = 0;
  fileBytesOut = 0;
  rateLimited = 0;
  protocolErrors = 0;
  errors = 0;
  engineErrors = 0;
  authFailures = 0;
  stalls = 0;
  stallTime = 0;
  readonly commandLatency: Histogram = new Histogram(COMMAND_LATENCY_BOUNDS);
  readonly fanoutTime: Histogram = new Histogram(FANOUT_TIME_BOUNDS);
  #connections = 0;
  #connects = 0;
  readonly #disconnects = new Map<string, number>();
  readonly #commands = new Map<string, { value: number }>();

  connected(): void {
    this.#connections++;
    this.#connects++;
  }

  disconnected(reason: string): void {
    this.#connections--;
    this.#disconnects.set(reason, (this.#disconnects.get(reason) ?? 0) + 1);
  }

  count(verb: string): void {
    this.counter(verb).value++;
  }

  counter(verb: string): { value: number } {
    let c = this.#commands.get(verb);
    if (c === undefined) this.#commands.set(verb, c = { value: 0 });
    return c;
  }

  /** A copy of every counter now. */
  snapshot(): MetricsSnapshot {
    return {
      connections: this.#connections,
      connects: this.#connects,
      disconnects: Object.fromEntries(this.#disconnects),
      commands: Object.fromEntries(
        [...this.#commands].filter(([, c]) => c.value > 0).map(([verb, c]) => [verb, c.value]),
      ),
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      messagesIn: this.messagesIn,
      messagesDelivered: this.messagesDelivered,
      fileBytesIn: this.fileBytesIn,
      fileBytesOut: this.fileBytesOut,
      rateLimited: this.rateLimited,
      protocolErrors: this.protocolErrors,
      errors: this.errors,
      engineErrors: this.engineErrors,
      authFailures: this.authFailures,
      stalls: this.stalls,
      stallTime: Math.round(this.stallTime),
      commandLatency: this.commandLatency.snapshot(),
      fanoutTime: this.fanoutTime.snapshot(),
    };
  }
}
