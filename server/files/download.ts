/**
 * Downloads: a file streamed to the socket in pieces, paced by the outbox so one download never
 * queues more than its window, with buffers drawn from a budget shared by all downloads (pieces
 * shrink as more run). Each read of the file has a deadline.
 *
 * @module
 */

import { Transfers } from "./transfers.ts";
import { encodeLine, encodePath } from "../../lib/protocol/encoder.ts";
import type { CommandContext } from "../core/handler.ts";
import type { Logger } from "../core/logger.ts";
import type { Metrics } from "../core/metrics.ts";
import { DeadlineError, withDeadline } from "./deadline.ts";
import type { OpenedFile } from "./store.ts";

const CRLF = new Uint8Array([13, 10]);
/** The smallest piece a download reads and queues, however many downloads run. */
const MIN_CHUNK = 32 * 1024;

/** Options of {@linkcode Downloads} (see `FileHandlerOptions` in commands.ts for each). */
export interface DownloadOptions {
  /** Bytes read from a file at a time. */
  chunkSize: number;
  /** Most bytes of one download queued to its client at once (capped at half `maxPending`). */
  window: number;
  /** Bytes of file data all downloads together may hold beyond two pieces each. */
  budget: number;
  /** Bytes queued to one client before it is cut (`max_pending`). */
  maxPending: number;
  /** Where cut downloads are logged. */
  log: Logger;
  /** Where file bytes sent are counted. */
  metrics: Pick<Metrics, "fileBytesOut">;
  /** Where downloads in flight are listed. */
  transfers?: Transfers;
  /** Deadline of each read of a file, ms (0 = none): past it the connection is closed. */
  readTimeout?: number;
}

/**
 * The downloads of one server: they share a memory budget.
 *
 * @example
 * ```ts ignore
 * const downloads = new Downloads({ chunkSize, window, budget, maxPending, log, metrics });
 * await downloads.sendFile(ctx, await store.open("a.txt"), 0);
 * ```
 */
export class Downloads {
  readonly #chunkSize: number;
  readonly #window: number;
  readonly #budget: number;
  readonly #maxPending: number;
  readonly #log: Logger;
  readonly #metrics: Pick<Metrics, "fileBytesOut">;
  readonly #transfers: Transfers;
  readonly #readTimeout: number;
  // Downloads running now, and the bytes of their buffers, across all sessions.
  #running = 0;
  #held = 0;

  /** @param options See {@linkcode DownloadOptions}. */
  constructor(options: DownloadOptions) {
    this.#chunkSize = options.chunkSize;
    this.#window = options.window;
    this.#budget = options.budget;
    this.#maxPending = options.maxPending;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#readTimeout = options.readTimeout ?? 0;
    this.#transfers = options.transfers ?? new Transfers();
  }

  /**
   * Sends `FILE path size sha256 n`, the file's bytes from `offset`, and CRLF. A file that shrinks
   * in place meanwhile closes the connection (the announced size cannot be met).
   *
   * @param s The command's context.
   * @param opened The open file (the caller closes it).
   * @param offset Where to start, at most the file's size.
   */
  async sendFile(s: CommandContext, opened: OpenedFile, offset: number): Promise<void> {
    this.#running++;
    try {
      await this.#stream(s, opened, offset);
    } finally {
      this.#running--;
    }
  }

  /**
   * The piece size and most buffers of one download: its window is bounded by its session's
   * `max_pending`, and pieces shrink as more downloads share the budget.
   */
  #pacing(): { chunk: number; maxBuffers: number } {
    const window = Math.max(2, Math.min(this.#window, Math.floor(this.#maxPending / 2)));
    const share = Math.max(MIN_CHUNK, Math.floor(this.#budget / (2 * Math.max(1, this.#running))));
    const chunk = Math.max(1, Math.min(this.#chunkSize, Math.floor(window / 2), share));
    return { chunk, maxBuffers: Math.max(2, Math.floor(window / chunk)) };
  }

  async #stream(s: CommandContext, opened: OpenedFile, offset: number): Promise<void> {
    const { file, size, sha256 } = opened;
    const outbox = s.stream;
    const { chunk, maxBuffers } = this.#pacing();
    // Buffers whose bytes are queued, oldest first; more are allocated while the shared budget
    // allows (two at least, so reading the next piece overlaps writing the last).
    const queued: Uint8Array[] = [];
    let mine = 0;
    let left = size - offset;
    // Hashing on first use moved the position: always seek.
    await file.seek(offset, Deno.SeekMode.Start);
    const transfer = this.#transfers.start(() => s.nick, opened.path, "down", left);
    outbox.begin();
    try {
      outbox.send(encodeLine(`FILE ${encodePath(opened.path)} ${size} ${sha256} ${left}`));
      while (left > 0) {
        let buf: Uint8Array;
        if (
          queued.length < 2 || (queued.length < maxBuffers && this.#held + chunk <= this.#budget)
        ) {
          buf = new Uint8Array(chunk);
          this.#held += chunk;
          mine += chunk;
        } else {
          // The oldest buffer may be reused once its bytes were written, that is when no more
          // than the bytes of the others are still queued.
          await outbox.drain((queued.length - 1) * chunk);
          buf = queued.shift()!;
        }
        if (outbox.closed) return;
        const want = Math.min(chunk, left);
        let got = 0;
        try {
          while (got < want) {
            const n = await withDeadline(
              file.read(buf.subarray(got, want)),
              this.#readTimeout,
              "read the file",
            );
            if (n === null) break;
            got += n;
          }
        } catch (e) {
          // The announced bytes cannot come: framing is lost. A late read still owns `buf`, which
          // is dropped with this download.
          if (!(e instanceof DeadlineError)) throw e;
          this.#log.warn("download cut", {
            peer: s.peer,
            nick: s.nick,
            path: opened.path,
            reason: "disk read timed out",
          });
          s.close("disk read timed out");
          return;
        }
        if (outbox.closed) return;
        if (got < want) {
          // The file shrank in place (not through PUT, which renames): the announced size cannot
          // be met, so framing is lost.
          this.#log.warn("download cut", {
            peer: s.peer,
            nick: s.nick,
            path: opened.path,
            reason: "file shrank",
          });
          s.close("file changed during download");
          return;
        }
        outbox.send(got === buf.length ? buf : buf.subarray(0, got));
        this.#metrics.fileBytesOut += got;
        transfer.bytes += got;
        queued.push(buf);
        left -= got;
      }
      outbox.send(CRLF);
    } finally {
      this.#transfers.end(transfer);
      outbox.end();
      this.#held -= mine;
    }
  }
}
