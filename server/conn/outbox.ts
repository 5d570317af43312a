/**
 * One outbox per connection: frames are appended, and a single loop writes whatever has
 * accumulated in one `write` (coalescing), handling partial writes. A client whose queue passes
 * `maxPending`, or whose socket makes no progress for `writeDeadline`, is cut; nobody else waits.
 *
 * @module
 */

import type { ReplyStream } from "../core/handler.ts";

/** The part of a connection the outbox needs. */
export interface Writer {
  /** Writes some bytes; resolves with how many were written. */
  write(bytes: Uint8Array): Promise<number>;
}

/** Options of {@linkcode Outbox}. */
export interface OutboxOptions {
  /**
   * Most bytes queued before the client is cut as a slow consumer.
   * @default {8388608}
   */
  maxPending?: number;
  /**
   * Largest single write, in bytes (coalescing stops there).
   * @default {1048576}
   */
  maxWrite?: number;
  /** Called once when the outbox gives up: `"slow consumer"` or `"write failed"`. */
  onCut?: (reason: string, lastWordSent: Promise<void> | null) => void;
  /**
   * The frame to send after a cut (`BYE slow consumer`), or `null` for none. It is sent only when
   * the stream is at a frame boundary: after the write in flight completes, never inside a file.
   */
  lastWord?: (reason: string) => Uint8Array | null;
  /** Told how many bytes each write handed to the socket (byte counters). */
  onWritten?: (bytes: number) => void;
  /**
   * Bytes queued past which every frame queued notes this outbox in `congestion` (the
   * publisher feeding it then waits, see server/conn/congestion.ts).
   * @default {Infinity}
   */
  highWater?: number;
  /** Where an outbox past `highWater` notes itself. */
  congestion?: { note(box: Outbox): void };
}

type Item = Uint8Array | (() => void);
interface Waiter {
  below: number;
  resolve: () => void;
}

/**
 * A per-connection write queue with coalesced writes and a pending-bytes bound.
 *
 * @example
 * ```ts
 * import { Outbox } from "./outbox.ts";
 * const written: Uint8Array[] = [];
 * const box = new Outbox({ write: (b) => { written.push(b.slice()); return Promise.resolve(b.length); } });
 * box.send(new TextEncoder().encode("PONG\r\n"));
 * box.send(new TextEncoder().encode("PONG\r\n"));
 * await box.flushed();
 * console.assert(written.length === 1 && written[0]!.length === 12);
 * ```
 */
export class Outbox {
  readonly #writer: Writer;
  readonly #onWritten: ((bytes: number) => void) | undefined;
  readonly #highWater: number;
  readonly #congestion: { note(box: Outbox): void } | undefined;
  #corked = false;
  readonly #maxPending: number;
  readonly #maxWrite: number;
  readonly #onCut: (reason: string, lastWordSent: Promise<void> | null) => void;
  readonly #lastWordOf: (reason: string) => Uint8Array | null;
  // Byte offsets in the output stream: all bytes ever queued for writing, the end of the last
  // streamed reply, the end of the write in flight. They tell whether a cut is at a frame boundary.
  #enqueued = 0;
  #streamUntil = 0;
  #inflightEnd = 0;
  #lastWord: Uint8Array | null = null;
  #lastWordDone: (() => void) | null = null;

  #queue: Item[] = [];
  #head = 0;
  #held: Item[] | null = null;
  // Bytes of frames held behind a stream: they cannot drain until `endStream()`.
  #heldBytes = 0;
  #pending = 0;
  #writing = false;
  #scheduled = false;
  #progressAt = 0;
  #written = 0;
  #closed = false;
  #waiters: Waiter[] = [];
  // The buffer frames are coalesced into: kept while the connection is busy (allocating one per
  // burst of writes left most of a busy server's memory to the allocator), dropped when idle.
  #scratch: Uint8Array | null = null;
  #scratchUsed = false;

  /**
   * @param writer Where bytes go (a `Deno.Conn`).
   * @param options See {@linkcode OutboxOptions}.
   */
  constructor(writer: Writer, options: OutboxOptions = {}) {
    this.#writer = writer;
    this.#onWritten = options.onWritten;
    this.#highWater = options.highWater ?? Infinity;
    this.#congestion = options.congestion;
    this.#maxPending = options.maxPending ?? 8 * 1024 * 1024;
    this.#maxWrite = options.maxWrite ?? 1024 * 1024;
    this.#onCut = options.onCut ?? (() => {});
    this.#lastWordOf = options.lastWord ?? (() => null);
  }

  /** Bytes queued (held frames and the unwritten part of the write in flight included). */
  get pending(): number {
    return this.#pending;
  }

  /** Total bytes written to the socket so far. */
  get written(): number {
    return this.#written;
  }

  /** True once the outbox was cut or closed: it accepts nothing more. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues a frame (reply or push). While a stream runs, it waits behind the stream.
   *
   * @param bytes An encoded frame; it must not be changed afterwards (it may be shared).
   * @returns `false` when the outbox is closed, or was just cut because of this frame.
   */
  send(bytes: Uint8Array): boolean {
    if (this.#closed) return false;
    this.#pending += bytes.length;
    // While a stream runs, its own bytes are paced by the streamer (drain), so only the frames
    // held behind it count against max_pending.
    const queued = this.#held !== null ? this.#heldBytes + bytes.length : this.#pending;
    if (queued > this.#maxPending) {
      this.cut("slow consumer");
      return false;
    }
    if (this.#pending > this.#highWater) this.#congestion?.note(this);
    if (this.#held !== null) {
      this.#held.push(bytes);
      this.#heldBytes += bytes.length;
    } else {
      this.#queue.push(bytes);
      this.#enqueued += bytes.length;
      this.#schedule();
    }
    return true;
  }

  /**
   * Calls `fn` once every byte queued before it is written (or never, if the outbox closes first).
   *
   * @param fn The callback.
   */
  mark(fn: () => void): void {
    if (this.#closed) return;
    if (this.#held !== null) this.#held.push(fn);
    else {
      this.#queue.push(fn);
      this.#schedule();
    }
  }

  /** Starts a streamed reply (`FILE`): frames sent until `endStream()` wait behind it. */
  beginStream(): void {
    if (this.#held === null) this.#held = [];
  }

  /**
   * Queues bytes of the streamed reply; they do not count against `maxPending` (the streamer
   * paces itself with {@linkcode Outbox.drain}).
   *
   * @param bytes Bytes of the stream; they must not be changed afterwards.
   */
  sendStream(bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#pending += bytes.length;
    this.#queue.push(bytes);
    this.#enqueued += bytes.length;
    this.#streamUntil = this.#enqueued;
    this.#schedule();
  }

  /** Ends the streamed reply: the frames held meanwhile follow it. */
  endStream(): void {
    const held = this.#held;
    this.#held = null;
    this.#heldBytes = 0;
    if (held === null || this.#closed) return;
    for (const item of held) {
      this.#queue.push(item);
      if (typeof item !== "function") this.#enqueued += item.length;
    }
    this.#schedule();
  }

  /** This outbox as the stream of a large reply (see `ReplyStream` in server/core/handler.ts). */
  replyStream(): ReplyStream {
    return new OutboxStream(this);
  }

  /**
   * Resolves once at most `below` bytes are pending, or the outbox closed. Frames held behind a
   * stream do not count (they cannot drain before `endStream()`, so a streamer waiting for them
   * would wait forever).
   *
   * @param below The low-water mark in bytes.
   * @returns A promise that never rejects.
   */
  drain(below: number): Promise<void> {
    if (this.#pending - this.#heldBytes <= below || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ below, resolve }));
  }

  /** Resolves once everything queued is written, or the outbox closed. */
  flushed(): Promise<void> {
    return this.drain(0);
  }

  /**
   * When the socket last took bytes (`Date.now()`): the start of the write in flight or its last
   * partial write; the current time when no write is in flight (nothing is waiting on the client).
   */
  get progressAt(): number {
    return this.#writing && this.#progressAt > 0 ? this.#progressAt : Date.now();
  }

  /**
   * How long the write in flight has made no progress, in milliseconds (0 when idle).
   *
   * @param now The current time, `Date.now()`.
   * @returns Milliseconds since the last progress of a pending write.
   */
  stalledFor(now: number): number {
    return this.#writing && this.#progressAt > 0 ? now - this.#progressAt : 0;
  }

  /**
   * Gives up: drops everything queued and reports `reason` once through `onCut`.
   *
   * @param reason Why (`slow consumer`, `write failed`).
   */
  cut(reason: string): void {
    if (this.#closed) return;
    // The last word goes out only at a frame boundary: no stream running, and the write in
    // flight (which always holds whole frames, apart from streamed bytes) ends past any stream.
    const word = this.#lastWordOf(reason);
    const boundary = this.#writing ? this.#inflightEnd : this.#written;
    const safe = word !== null && this.#held === null && boundary >= this.#streamUntil;
    this.close();
    let sent: Promise<void> | null = null;
    if (safe) {
      this.#lastWord = word;
      sent = new Promise<void>((resolve) => this.#lastWordDone = resolve);
      if (!this.#writing) void this.#sendLastWord();
    }
    this.#onCut(reason, sent);
  }

  async #sendLastWord(): Promise<void> {
    const word = this.#lastWord;
    const done = this.#lastWordDone;
    this.#lastWord = null;
    this.#lastWordDone = null;
    if (word === null) return;
    try {
      for (let off = 0; off < word.length;) {
        const n = await this.#writer.write(off === 0 ? word : word.subarray(off));
        this.#onWritten?.(n);
        off += n;
      }
    } catch {
      // The connection is gone: nothing more to say.
    } finally {
      done?.();
    }
  }

  /** Stops accepting frames and drops what is queued, without reporting a cut. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
    this.#held = null;
    this.#heldBytes = 0;
    this.#pending = 0;
    this.#wake();
  }

  /**
   * Holds writes back until {@linkcode Outbox.uncork}: the session corks while it runs the
   * commands of one read, so their replies leave in one write (its `for await` yields to other
   * microtasks between commands, where an uncorked outbox would write each reply alone).
   */
  cork(): void {
    this.#corked = true;
  }

  /** Lets held writes go. */
  uncork(): void {
    if (!this.#corked) return;
    this.#corked = false;
    if (this.#head < this.#queue.length) this.#schedule();
  }

  #schedule(): void {
    if (this.#writing || this.#scheduled || this.#corked) return;
    this.#scheduled = true;
    // Let the frames of the current batch (one read chunk) accumulate, then write them at once.
    queueMicrotask(() => {
      this.#scheduled = false;
      if (!this.#writing) this.#pump();
    });
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    // The buffer frames are coalesced into, reused (a write is complete, so its bytes are free,
    // before the next one is built); see releaseIdle().
    let scratch: Uint8Array | null = this.#scratch;
    try {
      while (!this.#closed && this.#head < this.#queue.length) {
        const queue = this.#queue;
        const start = this.#head;
        let end = start;
        let total = 0;
        while (end < queue.length && total < this.#maxWrite) {
          const item = queue[end]!;
          if (typeof item === "function") break;
          total += item.length;
          end++;
        }
        this.#head = end;
        if (total > 0) {
          let buf: Uint8Array;
          if (end - start === 1) buf = queue[start] as Uint8Array;
          else {
            if (scratch === null || scratch.length < total) {
              scratch = new Uint8Array(Math.max(total, 16 * 1024));
              this.#scratch = scratch;
            }
            this.#scratchUsed = true;
            buf = scratch.length === total ? scratch : scratch.subarray(0, total);
            let at = 0;
            for (let i = start; i < end; i++) {
              const part = queue[i] as Uint8Array;
              // A loop beats set() for tiny frames (replies such as OK 10 at message rates).
              if (part.length <= 16) {
                for (let j = 0; j < part.length; j++) buf[at + j] = part[j]!;
              } else buf.set(part, at);
              at += part.length;
            }
          }
          for (let i = start; i < end; i++) queue[i] = EMPTY;
          let off = 0;
          this.#inflightEnd = this.#written + buf.length;
          while (off < buf.length) {
            this.#progressAt = Date.now();
            const n = await this.#writer.write(off === 0 ? buf : buf.subarray(off));
            this.#onWritten?.(n);
            // Cut meanwhile: finish this buffer only if a last word waits for a frame boundary.
            if (this.#closed && this.#lastWord === null) return;
            off += n;
            this.#written += n;
            if (!this.#closed) this.#pending -= n;
          }
          this.#wake();
        }
        while (this.#head < this.#queue.length) {
          const item = this.#queue[this.#head]!;
          if (typeof item !== "function") break;
          this.#queue[this.#head++] = EMPTY;
          item();
          if (this.#closed) return;
        }
        if (this.#head === this.#queue.length) {
          this.#queue = [];
          this.#head = 0;
        } else if (this.#head > 4096 && this.#head * 2 > this.#queue.length) {
          this.#queue = this.#queue.slice(this.#head);
          this.#head = 0;
        }
      }
    } catch {
      this.cut("write failed");
      this.#lastWord = null;
      this.#lastWordDone?.();
    } finally {
      this.#writing = false;
      this.#progressAt = 0;
      this.#wake();
      if (this.#lastWord !== null) void this.#sendLastWord();
    }
  }

  /**
   * Drops the coalescing buffer if it was not used since the last call (the session calls this
   * from its periodic sweep: an idle connection holds no buffer).
   */
  releaseIdle(): void {
    if (!this.#scratchUsed && !this.#writing) this.#scratch = null;
    this.#scratchUsed = false;
  }

  #wake(): void {
    if (this.#waiters.length === 0) return;
    const keep: Waiter[] = [];
    for (const w of this.#waiters) {
      if (this.#closed || this.#pending - this.#heldBytes <= w.below) w.resolve();
      else keep.push(w);
    }
    this.#waiters = keep;
  }
}

const EMPTY = new Uint8Array(0);

/** A handler's view of an outbox for a streamed reply (one small object: no closures to keep). */
class OutboxStream implements ReplyStream {
  readonly #outbox: Outbox;

  constructor(outbox: Outbox) {
    this.#outbox = outbox;
  }

  get closed(): boolean {
    return this.#outbox.closed;
  }
  begin(): void {
    this.#outbox.beginStream();
  }
  send(bytes: Uint8Array): void {
    this.#outbox.sendStream(bytes);
  }
  drain(below: number): Promise<void> {
    return this.#outbox.drain(below);
  }
  end(): void {
    this.#outbox.endStream();
  }
}
