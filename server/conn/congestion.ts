/**
 * Flow control between publishers and the members they feed (protocol 2 §5): the bounded
 * producer stall. An outbox that holds more than its high-water mark when a frame is queued
 * notes itself here; the session whose commands queued it (the one running: JavaScript runs one
 * session's read at a time) takes the list at the end of that read and waits, before it reads
 * its client again, until those members drain or `max_stall` passes. Its client's bytes then
 * wait in TCP, which pushes back on the publisher; nothing is dropped, and a member that never
 * reads holds each publisher's read back by `max_stall` at most, until it is cut (its queue
 * passes `max_pending`, or its writes make no progress for `write_deadline`).
 *
 * @module
 */

/** What the tracker needs of an outbox. */
export interface Backlog {
  /** Bytes queued. */
  readonly pending: number;
  /** True once it is cut or closed. */
  readonly closed: boolean;
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
 * const box = { pending: 9, closed: false, drain: () => Promise.resolve() };
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
   * Waits until every one of `boxes` (but `own`) holds at most `below` bytes, or `maxStall`
   * passes, whichever is first.
   *
   * @param boxes From {@linkcode Congestion.take}.
   * @param own The waiting session's own outbox (its own back-pressure is handled apart).
   * @param below The low-water mark.
   * @param maxStall The longest wait, in milliseconds.
   * @returns Whether it waited at all.
   */
  static async wait(
    boxes: readonly Backlog[],
    own: Backlog,
    below: number,
    maxStall: number,
  ): Promise<boolean> {
    const waits: Promise<void>[] = [];
    for (const box of boxes) {
      if (box !== own && !box.closed && box.pending > below) waits.push(box.drain(below));
    }
    if (waits.length === 0 || maxStall <= 0) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, maxStall));
    try {
      await Promise.race([Promise.all(waits), timeout]);
    } finally {
      clearTimeout(timer);
    }
    return true;
  }
}
