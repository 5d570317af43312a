/**
 * Flow control between publishers and the members they feed (protocol 2 §5): the bounded
 * producer stall. An outbox that holds more than its high-water mark when a frame is queued
 * notes itself here; the session whose commands queued it (the one running: JavaScript runs one
 * session's read at a time) takes the list at the end of that read and waits, before it reads
 * its client again, until those members drain or `max_stall` passes. Its client's bytes then
 * wait in TCP, which pushes back on the publisher; nothing is dropped. A member past half of
 * `max_pending` is waited for as long as it keeps making progress (a client that reads is never
 * cut; the room then goes at its pace). A member that never reads holds each publisher's read
 * back by `max_stall` at most, until it is cut (its queue passes `max_pending`, or its writes make
 * no progress for `write_deadline`).
 *
 * @module
 */

/** A step of the wait for a member past the danger mark lasts this many `max_stall`. */
export const DANGER_STEPS = 4;

/** What the tracker needs of an outbox. */
export interface Backlog {
  /** Bytes queued. */
  readonly pending: number;
  /** True once it is cut or closed. */
  readonly closed: boolean;
  /** Bytes written so far (progress). */
  readonly written: number;
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
 * const box = { pending: 9, closed: false, written: 0, drain: () => Promise.resolve() };
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
   * @param limits `maxPending` and `maxStall` of the configuration.
   * @param metrics Where stalls and their milliseconds are counted.
   */
  async hold(
    own: Backlog,
    limits: { maxPending: number; maxStall: number },
    metrics: { stalls: number; stallTime: number },
  ): Promise<void> {
    const behind = this.take();
    if (behind === null) return;
    const started = performance.now();
    const marks = { below: limits.maxPending / 16, danger: limits.maxPending / 2 };
    if (await Congestion.wait(behind, own, marks, limits.maxStall)) {
      metrics.stalls++;
      metrics.stallTime += performance.now() - started;
    }
  }

  /**
   * Waits until every one of `boxes` (but `own`) holds at most `below` bytes, or `maxStall`
   * passes, whichever is first. A member past `danger` bytes (near its cut) that made progress
   * in that time is waited for again, in steps of `DANGER_STEPS` x `maxStall`, as long as it keeps
   * making progress: a client that reads is never cut; one that does not costs `maxStall` per read
   * (and one step more per read once past `danger`) until it is cut.
   *
   * @param boxes From {@linkcode Congestion.take}.
   * @param own The waiting session's own outbox (its own back-pressure is handled apart).
   * @param marks `below`: the low-water mark; `danger`: past it, wait while it moves.
   * @param maxStall The longest wait of one step, in milliseconds.
   * @returns Whether it waited at all.
   */
  static async wait(
    boxes: readonly Backlog[],
    own: Backlog,
    marks: { below: number; danger: number },
    maxStall: number,
  ): Promise<boolean> {
    if (maxStall <= 0) return false;
    let behind = boxes.filter((b) => b !== own && !b.closed && b.pending > marks.below);
    if (behind.length === 0) return false;
    let target = marks.below;
    while (behind.length > 0) {
      const before = behind.map((b) => b.written);
      let timer: ReturnType<typeof setTimeout> | undefined;
      // Near its cut, a member gets longer steps: a busy client reads in bursts.
      const step = target === marks.below ? maxStall : maxStall * DANGER_STEPS;
      const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, step));
      try {
        await Promise.race([Promise.all(behind.map((b) => b.drain(target))), timeout]);
      } finally {
        clearTimeout(timer);
      }
      behind = behind.filter((b, i) =>
        !b.closed && b.pending > marks.danger && b.written > before[i]!
      );
      target = marks.danger;
    }
    return true;
  }
}
