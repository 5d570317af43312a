/**
 * Flow control between publishers and the members they feed (protocol 2 §5): the bounded
 * producer stall. An outbox that holds more than its high-water mark when a frame is queued
 * notes itself here; the session whose commands queued it (the one running: JavaScript runs one
 * session's read at a time) takes the list at the end of that read and waits, before it reads
 * its client again, until those members drain or `max_stall` passes. Its client's bytes then
 * wait in TCP, which pushes back on the publisher; nothing is dropped. A member past half of
 * `max_pending` is waited for as long as its socket keeps taking bytes (a client that reads is
 * never cut; the room then goes at its pace). A member that stops reading holds its publishers
 * for {@linkcode patience} once, then each publisher's read by `max_stall` at most, until it is
 * cut (its queue passes `max_pending`, or its writes make no progress for `write_deadline`).
 *
 * @module
 */

/** A step of the wait for a member past the danger mark lasts this many `max_stall`. */
export const DANGER_STEPS = 4;

/**
 * How recently a member near its cut must have taken bytes to be waited for: a tenth of
 * `write_deadline` (1 s by default) but at most 5 s, and at least one step (`DANGER_STEPS` x
 * `max_stall`). TCP wakes a
 * writer only once a good part of the socket's buffers is free, so a client that reads, but slowly
 * or from a busy machine, shows progress only every few hundred milliseconds.
 *
 * @param limits `maxStall` and `writeDeadline` of the configuration, in milliseconds.
 * @returns Milliseconds.
 */
export function patience(limits: { maxStall: number; writeDeadline: number }): number {
  return Math.max(limits.maxStall * DANGER_STEPS, Math.min(5000, limits.writeDeadline / 10));
}

/** What the tracker needs of an outbox. */
export interface Backlog {
  /** Bytes queued. */
  readonly pending: number;
  /** True once it is cut or closed. */
  readonly closed: boolean;
  /** When its socket last took bytes (`Date.now()`; now when nothing is waiting to be written). */
  readonly progressAt: number;
  /** Resolves once at most `below` bytes are queued, or it closed. */
  drain(below: number): Promise<void>;
}

/**
 * The members behind since a session last looked.
 *
 * @example
 * ```ts
 * import { Congestion } from "./congestion.ts";
 * const congestion = new Congestion();
 * const box = { pending: 9, closed: false, progressAt: 0, drain: () => Promise.resolve() };
 * congestion.note(box);
 * congestion.note(box);
 * console.assert(congestion.take()?.length === 1 && congestion.take() === null);
 * ```
 */
export class Congestion {
  #behind: Backlog[] = [];
  readonly #seen = new Set<Backlog>();

  /** Whether some outbox is noted (a cheap check before {@linkcode Congestion.take}). */
  get any(): boolean {
    return this.#behind.length > 0;
  }

  /**
   * Notes an outbox past its high-water mark (once until the next take).
   *
   * @param box The outbox.
   */
  note(box: Backlog): void {
    if (this.#seen.has(box)) return;
    this.#seen.add(box);
    this.#behind.push(box);
  }

  /** The outboxes noted since the last call, or `null` for none. */
  take(): Backlog[] | null {
    if (this.#behind.length === 0) return null;
    const behind = this.#behind;
    this.#behind = [];
    this.#seen.clear();
    return behind;
  }

  /**
   * Holds the session that is running back, before it reads its client again, for the members
   * its commands left behind: low-water `max_pending/16`, danger `max_pending/2` (see
   * {@linkcode Congestion.wait}); a wait is counted in `metrics`.
   *
   * @param own The session's own outbox.
   * @param limits `maxPending`, `maxStall` and `writeDeadline` of the configuration.
   * @param metrics Where stalls and their milliseconds are counted.
   */
  async hold(
    own: Backlog,
    limits: { maxPending: number; maxStall: number; writeDeadline: number },
    metrics: { stalls: number; stallTime: number },
  ): Promise<void> {
    const behind = this.take();
    if (behind === null) return;
    const started = performance.now();
    const marks = { below: limits.maxPending / 16, danger: limits.maxPending / 2 };
    if (await Congestion.wait(behind, own, marks, limits.maxStall, patience(limits))) {
      metrics.stalls++;
      metrics.stallTime += performance.now() - started;
    }
  }

  /**
   * Waits until every one of `boxes` (but `own`) holds at most `below` bytes, or `maxStall`
   * passes, whichever is first. A member past `danger` bytes (near its cut) whose socket took
   * bytes within the last `patience` is waited for again, in steps of `DANGER_STEPS` x `maxStall`,
   * as long as that stays true: a client that reads is never cut; one that stopped costs its
   * publishers `patience` once (counted from when it stopped), then `maxStall` per read until it
   * is cut.
   *
   * @param boxes From {@linkcode Congestion.take}.
   * @param own The waiting session's own outbox (its own back-pressure is handled apart).
   * @param marks `below`: the low-water mark; `danger`: past it, wait while it moves.
   * @param maxStall The longest wait of the first step, in milliseconds.
   * @param patience How recently a member past `danger` must have taken bytes to be waited for
   *   again, in milliseconds (see {@linkcode patience}).
   * @returns Whether it waited at all.
   */
  static async wait(
    boxes: readonly Backlog[],
    own: Backlog,
    marks: { below: number; danger: number },
    maxStall: number,
    patience = maxStall * DANGER_STEPS,
  ): Promise<boolean> {
    if (maxStall <= 0) return false;
    let behind = boxes.filter((b) => b !== own && !b.closed && b.pending > marks.below);
    if (behind.length === 0) return false;
    // Past danger, a member is waited for while its socket took bytes within the last
    // `patience` (judged at the end of each step, from when it last took bytes: a client busy for
    // a moment still reads, one that stopped long ago does not).
    let target = marks.below;
    while (behind.length > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      // Near its cut, a member gets longer steps: a busy client reads in bursts.
      const step = target === marks.below ? maxStall : maxStall * DANGER_STEPS;
      const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, step));
      try {
        await Promise.race([Promise.all(behind.map((b) => b.drain(target))), timeout]);
      } finally {
        clearTimeout(timer);
      }
      const now = Date.now();
      behind = behind.filter((b) =>
        !b.closed && b.pending > marks.danger && now - b.progressAt < patience
      );
      target = marks.danger;
    }
    return true;
  }
}
