/**
 * A concurrency limit: file system calls (each takes a thread of the runtime's blocking pool),
 * sha256 hashing, scrypt. No I/O of its own.
 *
 * @module
 */

/**
 * At most `max` tasks at once, the others in arrival order. A finishing task hands its slot to
 * the next in line directly, so no newcomer can slip in between and make it `max + 1`.
 *
 * @example
 * ```ts
 * import { Slots } from "./slots.ts";
 * const slots = new Slots(1);
 * console.assert(await slots.run(() => Promise.resolve(1)) === 1);
 * ```
 */
export class Slots {
  readonly #max: number;
  #running = 0;
  readonly #queue: (() => void)[] = [];

  /** @param max Tasks at once (at least 1). */
  constructor(max: number) {
    this.#max = Math.max(1, max);
  }

  /**
   * Runs `fn` in a slot.
   *
   * @param fn The task.
   * @returns Its value.
   */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#max) {
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    } else this.#running++;
    try {
      return await fn();
    } finally {
      const next = this.#queue.shift();
      if (next !== undefined) next();
      else this.#running--;
    }
  }
}
