/**
 * Liveness of one connection: when the client was last heard, whether our `PING` is answered.
 * Pure bookkeeping; the server's sweeper asks {@linkcode Liveness.check} what to do.
 *
 * @module
 */

/** What the sweeper should do for a connection now. */
export type LivenessAction = "ping" | "idle" | null;

/**
 * A connection's liveness state.
 *
 * @example
 * ```ts
 * import { Liveness } from "./liveness.ts";
 * const live = new Liveness(0);
 * console.assert(live.check(999, 1000) === null);
 * console.assert(live.check(1000, 1000) === "ping");
 * live.pinged(1000).written(1000);
 * console.assert(live.check(2000, 1000) === "ping"); // one missed answer: ask again
 * live.pinged(2000).written(2000);
 * console.assert(live.check(3000, 1000) === "idle"); // two: give up
 * ```
 */
export class Liveness {
  #lastRx: number;
  #ping: { enqueuedAt: number; writtenAt: number } | null = null;
  #missed = 0;
  #paused = 0;

  /** @param now When the connection started, `Date.now()`. */
  constructor(now: number = Date.now()) {
    this.#lastRx = now;
  }

  /** The client sent something. */
  heard(now: number = Date.now()): void {
    this.#lastRx = now;
  }

  /**
   * We stopped reading the client (a command runs, or its replies back up): its silence meanwhile
   * is not idleness. Pair with {@linkcode Liveness.resume}.
   */
  pause(): void {
    this.#paused++;
  }

  /** Reading again: the silence counts from now. */
  resume(now: number = Date.now()): void {
    this.#paused--;
    this.#lastRx = now;
  }

  /**
   * Says what to do now.
   *
   * @param now `Date.now()`.
   * @param interval The ping interval, ms.
   * @returns `ping` to send a `PING`, `idle` to give up on the client, `null` for nothing.
   */
  check(now: number, interval: number): LivenessAction {
    if (this.#paused > 0) this.#lastRx = now;
    if (this.#ping !== null && this.#lastRx >= this.#ping.enqueuedAt) {
      this.#ping = null;
      this.#missed = 0;
    }
    if (this.#ping === null) return now - this.#lastRx >= interval ? "ping" : null;
    if (this.#ping.writtenAt === 0) return null;
    if (now - this.#ping.writtenAt < interval) return null;
    return ++this.#missed >= 2 ? "idle" : "ping";
  }

  /**
   * A `PING` was queued.
   *
   * @param now `Date.now()`.
   * @returns Call `written()` once it left the server (its answer is awaited from then).
   */
  pinged(now: number): { written(at?: number): void } {
    const ping = { enqueuedAt: now, writtenAt: 0 };
    this.#ping = ping;
    return { written: (at = Date.now()) => void (ping.writtenAt = at) };
  }
}
