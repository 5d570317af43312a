/**
 * The file transfers in flight, for status pages: who moves which file, which way, how far.
 *
 * @module
 */

/** One transfer in flight. */
export interface Transfer {
  /** The client's nick, read when listed (it may change meanwhile). */
  readonly nick: () => string;
  /** The shared path. */
  readonly path: string;
  /** `down`: a `GET`; `up`: a `PUT`. */
  readonly direction: "up" | "down";
  /** Bytes this transfer moves (a resumed `GET` counts from its offset). */
  readonly size: number;
  /** Bytes moved so far. */
  bytes: number;
}

/**
 * The registry: downloads and uploads add themselves while they run.
 *
 * @example
 * ```ts
 * import { Transfers } from "./transfers.ts";
 * const transfers = new Transfers();
 * const t = transfers.start(() => "ann", "a.txt", "up", 10);
 * t.bytes += 4;
 * console.assert(transfers.list()[0]!.bytes === 4);
 * transfers.end(t);
 * console.assert(transfers.list().length === 0);
 * ```
 */
export class Transfers {
  readonly #live = new Set<Transfer>();

  /** Registers a transfer; call {@linkcode Transfers.end} when it is over, however it ends. */
  start(nick: () => string, path: string, direction: "up" | "down", size: number): Transfer {
    const t: Transfer = { nick, path, direction, size, bytes: 0 };
    this.#live.add(t);
    return t;
  }

  /** Forgets a transfer (idempotent). */
  end(t: Transfer): void {
    this.#live.delete(t);
  }

  /** The transfers in flight, oldest first. */
  list(): { nick: string; path: string; direction: "up" | "down"; bytes: number; size: number }[] {
    return [...this.#live].map((t) => ({
      nick: t.nick(),
      path: t.path,
      direction: t.direction,
      bytes: t.bytes,
      size: t.size,
    }));
  }
}
