/**
 * The metrics sink: counters every part bumps, and a snapshot of them. Nothing is exposed over
 * the network yet (a later `/metrics` endpoint only reads {@linkcode MetricsSink.snapshot}).
 *
 * @module
 */

import type { Metrics } from "../core/metrics.ts";

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
    };
  }
}
