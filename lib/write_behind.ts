/**
 * Write-behind: pieces are copied into a buffer that is written while the next pieces arrive (one
 * write in flight, two buffers). Used for upload temporaries on the server and `.part` files on
 * the client. No I/O of its own: it writes through a {@linkcode ByteSink}.
 *
 * @module
 */

/** Where the bytes go (a `Deno.FsFile`). */
export interface ByteSink {
  /** Writes some bytes; resolves with how many were written. */
  write(bytes: Uint8Array): Promise<number>;
}

/**
 * Writes all of `bytes`, looping over partial writes.
 *
 * @param sink Where to write.
 * @param bytes What to write.
 */
export async function writeAll(sink: ByteSink, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) {
    off += await sink.write(off === 0 ? bytes : bytes.subarray(off));
  }
}

/**
 * Writes a stream of pieces behind the caller. The sink always holds a prefix of what was given,
 * in order. With a buffer size of 0 every piece is written directly (no extra memory).
 *
 * @example
 * ```ts
 * import { WriteBehind } from "./write_behind.ts";
 * const out: number[] = [];
 * const w = new WriteBehind({ write: (b) => (out.push(...b), Promise.resolve(b.length)) }, 4);
 * await w.write(new Uint8Array([1, 2, 3, 4, 5]));
 * await w.finish();
 * console.assert(out.join() === "1,2,3,4,5");
 * ```
 */
export class WriteBehind {
  readonly #sink: ByteSink;
  readonly #size: number;
  #buf: Uint8Array | null = null;
  #spare: Uint8Array | null = null;
  #fill = 0;
  #inFlight: Promise<void> | null = null;

  /**
   * @param sink Where the bytes go.
   * @param bufferSize Size of each of the two buffers; 0 writes every piece directly.
   */
  constructor(sink: ByteSink, bufferSize: number) {
    this.#sink = sink;
    this.#size = bufferSize;
  }

  /**
   * Copies `bytes` in; resolves once at most one buffer of earlier bytes is still being written.
   * Rejects with the error of an earlier write.
   *
   * @param bytes The piece; not kept after the promise settles.
   */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.#size === 0) {
      if (this.#inFlight !== null) await this.#inFlight;
      return writeAll(this.#sink, bytes);
    }
    for (let off = 0; off < bytes.length;) {
      if (this.#buf === null) {
        this.#buf = this.#spare ?? new Uint8Array(this.#size);
        this.#spare = null;
      }
      const n = Math.min(bytes.length - off, this.#buf.length - this.#fill);
      this.#buf.set(n === bytes.length ? bytes : bytes.subarray(off, off + n), this.#fill);
      this.#fill += n;
      off += n;
      if (this.#fill === this.#buf.length) await this.#flush();
    }
  }

  /** Writes everything given so far; rejects with the first write error. */
  async finish(): Promise<void> {
    await this.#flush();
    if (this.#inFlight !== null) await this.#inFlight;
  }

  /** Waits for the write in flight, if any, ignoring its outcome (before closing the sink). */
  async settle(): Promise<void> {
    await this.#inFlight?.catch(() => {});
  }

  async #flush(): Promise<void> {
    if (this.#inFlight !== null) await this.#inFlight;
    const buf = this.#buf;
    const n = this.#fill;
    this.#buf = null;
    this.#fill = 0;
    this.#inFlight = null;
    if (buf === null || n === 0) return;
    const writing = writeAll(this.#sink, buf.subarray(0, n)).then(() => void (this.#spare = buf));
    writing.catch(() => {}); // Seen by the next write, flush or finish.
    this.#inFlight = writing;
  }
}
