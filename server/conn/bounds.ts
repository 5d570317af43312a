/**
 * The bounds of one session, all made from `max_pending` (and `max_inflight`) in one place: its
 * outbox's high-water mark, its reads, the payloads of its commands in flight, and when a client
 * that does not read its replies stops being read.
 *
 * @module
 */

/** What a session derives from the configuration. */
export interface SessionBounds {
  /** Past it, a member's queue holds its publishers back (flow control): `max_pending / 8`. */
  highWater: number;
  /**
   * The smallest read buffer: what an idle client keeps waiting for its next bytes (a busy
   * one's doubles at each full read, 256 B to 256 KiB in ten reads).
   */
  minRead: number;
  /**
   * The largest read: what a publisher adds to each member's queue before it can be held back,
   * at most the high-water mark (16 KiB to 256 KiB).
   */
  maxRead: number;
  /** Most commands in flight (`max_inflight`). */
  inflight: number;
  /** Most payload bytes of the commands in flight (they wait in the engine's batches). */
  inflightBytes: number;
  /** Past this many bytes queued to it, a client is not read ... */
  unreadAbove: number;
  /** ... until its queue is down to this many. */
  readBelow: number;
}

/**
 * The bounds of a session under a configuration.
 *
 * @param config `maxPending` and `maxInflight`.
 * @returns The bounds.
 * @example
 * ```ts
 * import { sessionBounds } from "./bounds.ts";
 * const b = sessionBounds({ maxPending: 8 * 1024 * 1024, maxInflight: 1024 });
 * console.assert(b.highWater === 1024 * 1024 && b.maxRead === 256 * 1024);
 * ```
 */
export function sessionBounds(config: { maxPending: number; maxInflight: number }): SessionBounds {
  const highWater = config.maxPending / 8;
  return {
    highWater,
    minRead: 256,
    maxRead: Math.max(16 * 1024, Math.min(256 * 1024, highWater)),
    inflight: config.maxInflight,
    inflightBytes: highWater,
    unreadAbove: config.maxPending / 2,
    readBelow: config.maxPending / 4,
  };
}
