/**
 * The metrics sink every part reports to (server/observe/metrics.ts makes the real one). Plain
 * counters that a part bumps on its hot path without a call, plus a few methods for the labelled
 * ones. Nothing here is exposed over the network: the HTTP endpoint only reads a snapshot.
 *
 * @module
 */

/** Takes one measurement into a histogram. */
export interface Observer {
  /** Records `ms` milliseconds. */
  observe(ms: number): void;
}

/** Counters of one server process. */
export interface Metrics {
  /** Bytes read from clients. */
  bytesIn: number;
  /** Bytes written to clients. */
  bytesOut: number;
  /** Room messages accepted (`SAY`). */
  messagesIn: number;
  /** Room messages and direct messages queued to recipients (one per recipient). */
  messagesDelivered: number;
  /** File bytes sent by `GET`. */
  fileBytesOut: number;
  /** File bytes received by `PUT` (committed or not). */
  fileBytesIn: number;
  /** Commands refused by `--cmd-rate`. */
  rateLimited: number;
  /** Framing errors (the connection ends). */
  protocolErrors: number;
  /** Handler failures that were not the engine's (`ERR 500`). */
  errors: number;
  /** Engine calls that failed (`ERR 503`, or a failed detach). */
  engineErrors: number;
  /** Failed logins. */
  authFailures: number;
  /** Reads of a publisher held back because a member it fed was behind (flow control). */
  stalls: number;
  /** Milliseconds those holds lasted, in total. */
  stallTime: number;
  /** Milliseconds from dispatch to reply of one command in 64 (sampled). */
  readonly commandLatency: Observer;
  /** Milliseconds the hub took to deliver one batch of room messages to this node's members. */
  readonly fanoutTime: Observer;
  /** A client connected. */
  connected(): void;
  /** A client is gone, for `reason` (`eof`, `quit`, `idle`, `slow consumer`, ...). */
  disconnected(reason: string): void;
  /** A command arrived; unknown verbs count as `unknown`. */
  count(verb: string): void;
  /**
   * The counter of one verb, to bump without a lookup on a hot path (`counter.value++` counts
   * like `count(verb)`).
   */
  counter(verb: string): { value: number };
}
