/**
 * A bounded queue read by one `for await` loop at a time: the pushes of a connection, the events
 * of a reconnecting client. When nobody reads, the oldest items are dropped past the bound.
 *
 * @module
 */

/** Items in arrival order, for one consumer; drops the oldest past `max`. */
export class BoundedQueue<T> {
  readonly #items: T[] = [];
  readonly #max: number;
  readonly #what: string;
  #waiter: (() => void) | null = null;
  #consuming = false;
  #ended = false;
  #dropped = 0;

  /**
   * @param max Most items kept.
   * @param what The reading method, for the error of a second loop (`messages()`).
   */
  constructor(max: number, what: string) {
    this.#max = max;
    this.#what = what;
  }

  /** Items dropped because nobody read them in time. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Adds an item (after `end()` too: a loop still reading gets it). */
  push(item: T): void {
    if (this.#items.length >= this.#max) {
      this.#items.shift();
      this.#dropped++;
    }
    this.#items.push(item);
    this.#waiter?.();
  }

  /** No more items: the loop ends once it has read what is queued. */
  end(): void {
    this.#ended = true;
    this.#waiter?.();
  }

  /** The items; throws when another loop is already reading. */
  read(): AsyncIterableIterator<T> {
    if (this.#consuming) {
      throw new Error(`Cannot read ${this.#what}: another loop is already reading them`);
    }
    this.#consuming = true;
    return this.#iterate();
  }

  async *#iterate(): AsyncIterableIterator<T> {
    try {
      for (;;) {
        while (this.#items.length > 0) yield this.#items.shift()!;
        if (this.#ended) return;
        await new Promise<void>((resolve) => this.#waiter = resolve);
        this.#waiter = null;
      }
    } finally {
      this.#consuming = false;
    }
  }
}
