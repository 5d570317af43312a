/**
 * The file commands: `LIST`, `GET`, `DEL`, `RESUME` (ordinary handlers) and `PUT` (a stream
 * handler, with the `resume`, `from=` and `new` options). Each is a plain verb handler, so a permission gate in the session's dispatch can wrap
 * it. This is the protocol edge of the shared folder: paths are decoded here (wire.ts) and the
 * store's failures become `ERR` replies. Downloads stream file → socket paced by the outbox
 * (download.ts); uploads stream socket → temporary file, each piece awaited on disk before the
 * next is read (pausing only that client).
 *
 * @module
 */

import { Transfers } from "./transfers.ts";
import { encodeFrame, encodePath, utf8Length } from "../../lib/protocol/encoder.ts";
import { ErrorCode } from "../../lib/protocol/errors.ts";
import type { Frame, StreamStart } from "../../lib/protocol/frame.ts";
import { DEFAULT_LIMITS } from "../../lib/protocol/limits.ts";
import type { CommandContext, Handler, StreamHandler, StreamSink } from "../core/handler.ts";
import type { Logger } from "../core/logger.ts";
import type { Metrics } from "../core/metrics.ts";
import { Downloads } from "./download.ts";
import { FileError } from "./errors.ts";
import type { BeginOptions, FileStore, ListPage, OpenedFile, Upload } from "./store.ts";
import { decodeWirePath, toWireError, WireError } from "./wire.ts";

/** The handlers to register with the server. */
export interface FileHandlers {
  /** `LIST`, `GET`, `DEL`, `RESUME`, and `PUT` without a byte count (answered with its usage). */
  readonly handlers: ReadonlyMap<string, Handler>;
  /** `PUT`. */
  readonly streamHandlers: ReadonlyMap<string, StreamHandler>;
}

/** Options of {@linkcode createFileHandlers}. */
export interface FileHandlerOptions {
  /** Where transfers in flight are listed (status pages). */
  transfers?: Transfers;
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
  /**
   * Names a `LIST` page covers when the client gives no limit.
   * @default {1000}
   */
  listPage?: number;
  /**
   * Most names a `LIST` page covers whatever the client asks (a larger limit is served as this).
   * A page also ends before its JSON passes a quarter of `maxPending`.
   * @default {10000}
   */
  maxListPage?: number;
  /** Where server-side failures are logged. */
  log?: Logger;
  /** Where file bytes are counted. */
  metrics?: Pick<Metrics, "fileBytesIn" | "fileBytesOut">;
}

const PUT_USAGE = "Usage: PUT path N, or PUT path sha256 N";
const SHA256_RE = /^[0-9A-Fa-f]{64}$/;
const OFFSET_RE = /^[0-9]{1,16}$/;
const LIST_USAGE = "Usage: LIST [dir [offset [limit]]]";
const RESUME_USAGE = "Usage: RESUME path size [sha256]";
const FROM_RE = /^from=([0-9]{1,16})$/;

/** What a `PUT` line says after its path. */
interface PutArgs {
  /** The announced sha256, lower case. */
  sha: string | undefined;
  /** `resume`, `from=`, `new`. */
  options: BeginOptions;
}

/**
 * Reads `PUT path [sha256] [resume] [from=OFFSET] [new]` (the byte count taken off).
 *
 * @returns What it says, or the text of its `ERR 400`.
 */
function parsePut(args: readonly string[]): PutArgs | string {
  if (args.length < 1 || args.length > 5) return PUT_USAGE;
  let at = 1;
  let sha: string | undefined;
  const word = args[1];
  if (word !== undefined && SHA256_RE.test(word)) {
    sha = word.toLowerCase();
    at = 2;
  } else if (word !== undefined && !isPutOption(word)) {
    return args.length === 2 ? "Cannot upload: the sha256 must be 64 hex digits" : PUT_USAGE;
  }
  const options: BeginOptions = { from: 0 };
  const seen = new Set<string>();
  for (const w of args.slice(at)) {
    const key = w.startsWith("from=") ? "from" : w;
    if (!isPutOption(w) || seen.has(key)) return PUT_USAGE;
    seen.add(key);
    if (w === "resume") options.resumable = true;
    else if (w === "new") options.createOnly = true;
    else {
      options.from = Number(FROM_RE.exec(w)![1]);
      if (!Number.isSafeInteger(options.from)) return PUT_USAGE;
      options.resumable = true;
    }
  }
  return { sha, options };
}

function isPutOption(word: string): boolean {
  return word === "resume" || word === "new" || FROM_RE.test(word);
}
const utf8 = new TextEncoder();

/** A whole number of at most 16 digits, or `null`. */
function wholeNumber(text: string): number | null {
  const n = Number(text);
  return OFFSET_RE.test(text) && Number.isSafeInteger(n) ? n : null;
}

/**
 * Encodes a `LIST` page, row by row, until its JSON would pass `maxBytes` (one row at least):
 * measured first, then written into one buffer.
 *
 * @returns The JSON bytes, and the position after the last row sent.
 */
function encodePage(page: ListPage, maxBytes: number): { json: Uint8Array; next: number } {
  const texts: string[] = [];
  let size = 2;
  let next = page.end;
  for (const row of page.rows) {
    const text = JSON.stringify(row.entry);
    const grown = size + utf8Length(text) + (texts.length > 0 ? 1 : 0);
    if (grown > maxBytes && texts.length > 0) {
      next = row.at;
      break;
    }
    texts.push(text);
    size = grown;
  }
  const json = new Uint8Array(size);
  json[0] = 0x5b; // [
  let at = 1;
  for (let i = 0; i < texts.length; i++) {
    if (i > 0) json[at++] = 0x2c; // ,
    at += utf8.encodeInto(texts[i]!, json.subarray(at)).written;
  }
  json[at] = 0x5d; // ]
  return { json, next };
}

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
  const w = e instanceof FileError ? toWireError(e) : e;
  if (w instanceof WireError) {
    if (w.code >= 500) {
      log.error("file error", {
        peer: s.peer,
        nick: s.nick,
        error: w.message,
        cause: String(w.cause),
      });
    }
    return [w.code, w.message];
  }
  log.error("file error", { peer: s.peer, nick: s.nick, action, error: String(e) });
  return [ErrorCode.Internal, `Cannot ${action}: internal error`];
}

/** Replies to a failed file command: its `ERR`, and a log line for server-side failures. */
function fail(s: CommandContext, log: Logger, e: unknown, action: string): void {
  s.replyError(...failure(s, log, e, action));
}

/**
 * Runs a check the store makes before any path is decoded (read-only, too large): its refusal
 * names the path as the client sent it.
 */
function beforeDecoding(wire: string, check: () => void): void {
  try {
    check();
  } catch (e) {
    throw e instanceof FileError ? toWireError(e, wire) : e;
  }
}

/**
 * Makes the file command handlers over a store.
 *
 * @param store The shared folder.
 * @param options See {@linkcode FileHandlerOptions}.
 * @returns Handlers by verb.
 * @throws {RangeError} When `chunkSize` is not a whole number of at least 1.
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
  const maxListPage = options.maxListPage ?? 10_000;
  const listPage = Math.min(options.listPage ?? 1000, maxListPage);
  // A page is one reply that counts against max_pending: it stays well under it.
  const maxListBytes = Math.max(4096, Math.floor(maxPending / 4));
  if (!Number.isSafeInteger(chunkOption) || chunkOption < 1) {
    throw new RangeError(
      `Cannot create file handlers: chunkSize must be at least 1, got ${chunkOption}`,
    );
  }
  if (!Number.isSafeInteger(listPage) || listPage < 1) {
    throw new RangeError(
      `Cannot create file handlers: listPage and maxListPage must be at least 1, got ${listPage}`,
    );
  }
  const transfers = options.transfers ?? new Transfers();
  const downloads = new Downloads({
    transfers,
    chunkSize: chunkOption,
    window: windowOption,
    budget,
    maxPending,
    log,
    metrics,
    readTimeout: store.timeout,
  });

  async function list(s: CommandContext, f: Frame): Promise<void> {
    if (f.args.length > 3) return s.replyError(ErrorCode.BadRequest, LIST_USAGE);
    const wire = f.args[0] ?? "";
    const paged = f.args.length >= 2;
    const offset = paged ? wholeNumber(f.args[1]!) : 0;
    if (offset === null) {
      return s.replyError(
        ErrorCode.BadRequest,
        `Cannot list: offset "${f.args[1]!.slice(0, 20)}" is not a whole number`,
      );
    }
    let limit = listPage;
    if (f.args.length === 3) {
      const asked = wholeNumber(f.args[2]!);
      if (asked === null || asked < 1) {
        return s.replyError(
          ErrorCode.BadRequest,
          `Cannot list: limit "${f.args[2]!.slice(0, 20)}" is not a whole number of at least 1`,
        );
      }
      limit = Math.min(asked, maxListPage);
    }
    let bytes: Uint8Array;
    try {
      // `.` names the shared folder itself (the root has no path to send before an offset).
      const dir = wire === "." ? "" : decodeWirePath(wire, "list");
      const page = await store.listPage(dir, offset, limit);
      const { json, next } = encodePage(page, maxListBytes);
      bytes = encodeFrame(paged ? `LIST ${page.total} ${offset} ${next}` : "LIST", json);
    } catch (e) {
      return fail(s, log, e, "list");
    }
    s.reply(bytes);
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
      opened = await store.open(decodeWirePath(f.args[0]!, "get"));
    } catch (e) {
      return fail(s, log, e, "get");
    }
    try {
      if (offset > opened.size) {
        return s.replyError(
          ErrorCode.BadRequest,
          `Cannot get "${
            encodePath(opened.path)
          }": offset ${offset} is past the end (the file has ${opened.size} bytes)`,
        );
      }
      await downloads.sendFile(s, opened, offset);
    } finally {
      opened.file.close();
    }
  }

  async function del(s: CommandContext, f: Frame): Promise<void> {
    if (f.args.length !== 1) return s.replyError(ErrorCode.BadRequest, "Usage: DEL path");
    const wire = f.args[0]!;
    try {
      beforeDecoding(wire, () => store.checkDelete());
      const path = await store.remove(decodeWirePath(wire, "delete"));
      s.replyLine(`OK ${encodePath(path)}`);
    } catch (e) {
      fail(s, log, e, "delete");
    }
  }

  function refuse(s: CommandContext, start: StreamStart, e: unknown): StreamSink {
    return s.refuseStream(start, ...failure(s, log, e, "upload"));
  }

  /** Starts an upload: read-only and max_file_size are checked before anything else. */
  async function begin(wire: string, size: number, line: PutArgs): Promise<Upload> {
    const whole = size + line.options.from!;
    beforeDecoding(wire, () => store.checkUpload(whole));
    return await store.beginUpload(decodeWirePath(wire, "upload"), whole, line.sha, line.options);
  }

  async function resume(s: CommandContext, f: Frame): Promise<void> {
    if (f.args.length < 2 || f.args.length > 3) {
      return s.replyError(ErrorCode.BadRequest, RESUME_USAGE);
    }
    const [wire, sizeText, sha] = f.args as [string, string, string | undefined];
    const size = wholeNumber(sizeText);
    if (size === null) {
      return s.replyError(
        ErrorCode.BadRequest,
        `Cannot resume: size "${sizeText.slice(0, 20)}" is not a whole number of bytes`,
      );
    }
    if (sha !== undefined && !SHA256_RE.test(sha)) {
      return s.replyError(ErrorCode.BadRequest, "Cannot resume: the sha256 must be 64 hex digits");
    }
    try {
      beforeDecoding(wire, () => store.checkUpload(size));
      const kept = await store.resumeInfo(
        decodeWirePath(wire, "upload"),
        size,
        sha?.toLowerCase() ?? "",
      );
      s.replyLine(`OK ${kept.have} ${kept.sha256}`);
    } catch (e) {
      fail(s, log, e, "upload");
    }
  }

  function put(s: CommandContext, start: StreamStart): StreamSink | Promise<StreamSink> {
    const parsed = parsePut(start.args);
    if (typeof parsed === "string") return s.refuseStream(start, ErrorCode.BadRequest, parsed);
    return begin(start.args[0]!, start.size, parsed).then(
      (upload): StreamSink => {
        let failed = false;
        let received = 0;
        const transfer = transfers.start(() => s.nick, upload.path, "up", start.size);
        return {
          async data(bytes) {
            received += bytes.length;
            transfer.bytes = received;
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
            transfers.end(transfer);
            if (failed) return;
            try {
              s.replyLine(`OK ${await upload.commit()}`);
            } catch (e) {
              fail(s, log, e, "upload");
            }
          },
          abort() {
            transfers.end(transfer);
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
    handlers: new Map<string, Handler>([
      ["LIST", list],
      ["GET", get],
      ["DEL", del],
      ["PUT", putUsage],
      ["RESUME", resume],
    ]),
    streamHandlers: new Map<string, StreamHandler>([["PUT", put]]),
  };
}
