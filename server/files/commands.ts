/**
 * The file commands of protocol v1: `LIST`, `GET`, `DEL` (ordinary handlers) and `PUT` (a stream
 * handler). Each is a plain verb handler, so a permission gate in the session's dispatch can wrap
 * it. Downloads stream file → socket paced by the outbox; uploads stream socket → temporary file,
 * each piece awaited on disk before the next is read (pausing only that client).
 *
 * @module
 */

import { encodeLine, encodeTextFrame } from "../../lib/protocol/encoder.ts";
import { ErrorCode } from "../../lib/protocol/errors.ts";
import type { Frame, StreamStart } from "../../lib/protocol/frame.ts";
import { FileError, type FileStore, type OpenedFile } from "./store.ts";
import { DEFAULT_LIMITS } from "../../lib/protocol/limits.ts";
import type { CommandContext, Handler, StreamHandler, StreamSink } from "../core/handler.ts";
import type { Logger } from "../core/logger.ts";
import type { Metrics } from "../core/metrics.ts";

/** The handlers to register with the server. */
export interface FileHandlers {
  /** `LIST`, `GET`, `DEL`, and `PUT` without a byte count (answered with its usage). */
  readonly handlers: ReadonlyMap<string, Handler>;
  /** `PUT`. */
  readonly streamHandlers: ReadonlyMap<string, StreamHandler>;
}

/** Options of {@linkcode createFileHandlers}. */
export interface FileHandlerOptions {
  /**
   * Bytes read from a file at a time for a download (each piece is one outbox write).
   * @default {1048576}
   */
  chunkSize?: number;
  /**
   * Most bytes of one download queued to its client at once. Pushes held behind a download
   * share `max_pending` with these bytes, so it is capped at half of `max_pending`.
   * @default {4194304}
   */
  window?: number;
  /**
   * Bytes of file data all downloads together may hold in memory beyond two pieces each. Pieces
   * shrink (down to 32 KiB) as more downloads run, so many slow downloads at once cannot exhaust
   * the server's memory.
   * @default {67108864}
   */
  budget?: number;
  /**
   * Bytes queued to one client before it is cut (`max_pending`): downloads stay under half.
   * @default {8388608}
   */
  maxPending?: number;
  /**
   * Largest message payload (`max_payload`): a refused upload up to this size is skipped.
   * @default {1048576}
   */
  maxPayload?: number;
  /** Where server-side failures are logged. */
  log?: Logger;
  /** Where file bytes are counted. */
  metrics?: Pick<Metrics, "fileBytesIn" | "fileBytesOut">;
}

const CRLF = new Uint8Array([13, 10]);
/** The smallest piece a download reads and queues, however many downloads run. */
const MIN_CHUNK = 32 * 1024;
const PUT_USAGE = "Usage: PUT path N, or PUT path sha256 N";
const SHA256_RE = /^[0-9A-Fa-f]{64}$/;
const OFFSET_RE = /^[0-9]{1,16}$/;

/**
 * The `ERR` for a failed file command, logging server-side failures (the cause stays in the log,
 * never in the reply).
 */
function failure(
  s: CommandContext,
  log: Logger,
  e: unknown,
  action: string,
): [code: number, text: string] {
  if (e instanceof FileError) {
    if (e.code >= 500) {
      log.error("file error", {
        peer: s.peer,
        nick: s.nick,
        error: e.message,
        cause: String(e.cause),
      });
    }
    return [e.code, e.message];
  }
  log.error("file error", { peer: s.peer, nick: s.nick, action, error: String(e) });
  return [ErrorCode.Internal, `Cannot ${action}: internal error`];
}

/** Replies to a failed file command: its `ERR`, and a log line for server-side failures. */
function fail(s: CommandContext, log: Logger, e: unknown, action: string): void {
  s.replyError(...failure(s, log, e, action));
}

/**
 * Queues a large reply in pieces, paced so the queue stays under `window` bytes (pushes wait
 * behind it and `max_pending` is never passed by the reply alone).
 */
async function sendPaced(
  s: CommandContext,
  bytes: Uint8Array,
  piece: number,
  window: number,
): Promise<void> {
  const outbox = s.stream;
  outbox.begin();
  try {
    for (let off = 0; off < bytes.length && !outbox.closed; off += piece) {
      await outbox.drain(Math.max(0, window - piece));
      outbox.send(bytes.subarray(off, Math.min(off + piece, bytes.length)));
    }
  } finally {
    outbox.end();
  }
}

/**
 * Makes the file command handlers over a store.
 *
 * @param store The shared folder.
 * @param options See {@linkcode FileHandlerOptions}.
 * @returns Handlers by verb.
 * @example
 * ```ts ignore
 * import { createFileHandlers } from "./commands.ts";
 * import { FileStore } from "./store.ts";
 * import { startServer } from "../server.ts";
 * const { handlers, streamHandlers } = createFileHandlers(FileStore.create("./files"));
 * startServer({ port: 0 }, { handlers, streamHandlers });
 * ```
 */
export function createFileHandlers(
  store: FileStore,
  options: FileHandlerOptions = {},
): FileHandlers {
  const chunkOption = options.chunkSize ?? 1024 * 1024;
  const windowOption = options.window ?? 4 * 1024 * 1024;
  const budget = options.budget ?? 64 * 1024 * 1024;
  const maxPending = options.maxPending ?? DEFAULT_LIMITS.maxPending;
  const maxPayload = options.maxPayload ?? DEFAULT_LIMITS.maxPayload;
  const log = options.log ?? { info() {}, warn() {}, error() {} };
  const metrics = options.metrics ?? { fileBytesIn: 0, fileBytesOut: 0 };
  // Downloads running now, and the bytes of their buffers, across all sessions.
  let downloads = 0;
  let held = 0;
  if (!Number.isSafeInteger(chunkOption) || chunkOption < 1) {
    throw new RangeError(
      `Cannot create file handlers: chunkSize must be at least 1, got ${chunkOption}`,
    );
  }

  /**
   * The piece size and most buffers of one download: its window is bounded by its session's
   * `max_pending`, and pieces shrink as more downloads share the budget.
   */
  function pacing(): { chunk: number; maxBuffers: number } {
    const window = Math.max(2, Math.min(windowOption, Math.floor(maxPending / 2)));
    const share = Math.max(MIN_CHUNK, Math.floor(budget / (2 * Math.max(1, downloads))));
    const chunk = Math.max(1, Math.min(chunkOption, Math.floor(window / 2), share));
    return { chunk, maxBuffers: Math.max(2, Math.floor(window / chunk)) };
  }

  async function list(s: CommandContext, f: Frame): Promise<void> {
    if (f.args.length > 1) return s.replyError(ErrorCode.BadRequest, "Usage: LIST [dir]");
    let bytes: Uint8Array;
    try {
      bytes = encodeTextFrame("LIST", JSON.stringify(await store.list(f.args[0] ?? "")));
    } catch (e) {
      return fail(s, log, e, "list");
    }
    // The listing is in memory already: it is only queued in pieces, under half of max_pending.
    const window = Math.max(2, Math.min(windowOption, Math.floor(maxPending / 2)));
    const piece = Math.max(1, Math.min(chunkOption, Math.floor(window / 2)));
    if (bytes.length <= piece) s.reply(bytes);
    else await sendPaced(s, bytes, piece, window);
  }

  async function get(s: CommandContext, f: Frame): Promise<void> {
    if (f.args.length < 1 || f.args.length > 2) {
      return s.replyError(ErrorCode.BadRequest, "Usage: GET path [offset]");
    }
    let offset = 0;
    if (f.args.length === 2) {
      const text = f.args[1]!;
      offset = Number(text);
      if (!OFFSET_RE.test(text) || !Number.isSafeInteger(offset)) {
        return s.replyError(
          ErrorCode.BadRequest,
          `Cannot get: offset "${text.slice(0, 20)}" is not a whole number of bytes`,
        );
      }
    }
    let opened: OpenedFile;
    try {
      opened = await store.open(f.args[0]!);
    } catch (e) {
      return fail(s, log, e, "get");
    }
    try {
      if (offset > opened.size) {
        return s.replyError(
          ErrorCode.BadRequest,
          `Cannot get "${opened.wire}": offset ${offset} is past the end (the file has ${opened.size} bytes)`,
        );
      }
      downloads++;
      try {
        await streamFile(s, opened, offset);
      } finally {
        downloads--;
      }
    } finally {
      opened.file.close();
    }
  }

  async function streamFile(s: CommandContext, opened: OpenedFile, offset: number): Promise<void> {
    const { file, size, sha256, wire } = opened;
    const outbox = s.stream;
    const { chunk, maxBuffers } = pacing();
    // Buffers whose bytes are queued, oldest first; more are allocated while the shared budget
    // allows (two at least, so reading the next piece overlaps writing the last).
    const queued: Uint8Array[] = [];
    let mine = 0;
    let left = size - offset;
    // Hashing on first use moved the position: always seek.
    await file.seek(offset, Deno.SeekMode.Start);
    outbox.begin();
    try {
      outbox.send(encodeLine(`FILE ${wire} ${size} ${sha256} ${left}`));
      while (left > 0) {
        let buf: Uint8Array;
        if (queued.length < 2 || (queued.length < maxBuffers && held + chunk <= budget)) {
          buf = new Uint8Array(chunk);
          held += chunk;
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
        while (got < want) {
          const n = await file.read(buf.subarray(got, want));
          if (n === null) break;
          got += n;
        }
        if (outbox.closed) return;
        if (got < want) {
          // The file shrank in place (not through PUT, which renames): the announced size cannot
          // be met, so framing is lost.
          log.warn("download cut", {
            peer: s.peer,
            nick: s.nick,
            path: opened.path,
            reason: "file shrank",
          });
          s.close("file changed during download");
          return;
        }
        outbox.send(got === buf.length ? buf : buf.subarray(0, got));
        metrics.fileBytesOut += got;
        queued.push(buf);
        left -= got;
      }
      outbox.send(CRLF);
    } finally {
      outbox.end();
      held -= mine;
    }
  }

  async function del(s: CommandContext, f: Frame): Promise<void> {
    if (f.args.length !== 1) return s.replyError(ErrorCode.BadRequest, "Usage: DEL path");
    try {
      s.replyLine(`OK ${await store.remove(f.args[0]!)}`);
    } catch (e) {
      fail(s, log, e, "delete");
    }
  }

  function refuse(s: CommandContext, start: StreamStart, e: unknown): StreamSink {
    return s.refuseStream(start, ...failure(s, log, e, "upload"));
  }

  function put(s: CommandContext, start: StreamStart): StreamSink | Promise<StreamSink> {
    const args = start.args;
    if (args.length < 1 || args.length > 2) {
      return s.refuseStream(start, ErrorCode.BadRequest, PUT_USAGE);
    }
    const sha = args[1];
    if (sha !== undefined && !SHA256_RE.test(sha)) {
      return s.refuseStream(
        start,
        ErrorCode.BadRequest,
        "Cannot upload: the sha256 must be 64 hex digits",
      );
    }
    // beginUpload checks read-only and max_file_size before anything touches the disk.
    return store.beginUpload(args[0]!, start.size, sha?.toLowerCase()).then(
      (upload): StreamSink => {
        let failed = false;
        let received = 0;
        return {
          async data(bytes) {
            received += bytes.length;
            if (failed) return;
            metrics.fileBytesIn += bytes.length;
            try {
              await upload.write(bytes);
            } catch (e) {
              failed = true;
              fail(s, log, e, "upload");
              // The rest of the bytes are skipped if that is cheap, else the connection closes.
              if (start.size - received > maxPayload) s.end("upload failed");
            }
          },
          async end() {
            if (failed) return;
            try {
              s.replyLine(`OK ${await upload.commit()}`);
            } catch (e) {
              fail(s, log, e, "upload");
            }
          },
          abort() {
            return upload.abort();
          },
        };
      },
      (e) => refuse(s, start, e),
    );
  }

  /** `PUT` without a byte count is not an upload: the decoder hands it over as a plain command. */
  function putUsage(s: CommandContext): void {
    s.replyError(ErrorCode.BadRequest, PUT_USAGE);
  }

  return {
    handlers: new Map<string, Handler>([["LIST", list], ["GET", get], ["DEL", del], [
      "PUT",
      putUsage,
    ]]),
    streamHandlers: new Map<string, StreamHandler>([["PUT", put]]),
  };
}
