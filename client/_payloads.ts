/**
 * The streamed payloads of the typed API, on a {@linkcode Connection}: `GET` into a sink that
 * sees each piece as it arrives, and `PUT` from a source written while every other write waits.
 * `Client.get()` and `Client.put()` are these.
 *
 * @module
 */

import { decodePath, encodeLine, encodePath } from "../lib/protocol/encoder.ts";
import { ServerError } from "../lib/protocol/errors.ts";
import type { Frame } from "../lib/protocol/frame.ts";
import type { Connection, ReplySink } from "./connection.ts";
import { ConnectionClosedError } from "./transport.ts";

/** The head of a `FILE` reply: what the server is about to send. */
export interface FileHead {
  /** The path (plain, decoded). */
  path: string;
  /** Size of the whole file. */
  size: number;
  /** sha256 of the whole file, lower-case hex. */
  sha256: string;
  /** Where the bytes sent start (the `GET` offset). */
  offset: number;
  /** How many bytes follow (`size - offset`). */
  length: number;
}

/** Options of {@linkcode Client.get}. */
export interface GetOptions {
  /**
   * Byte offset to start from (resuming a download).
   * @default {0}
   */
  offset?: number;
  /**
   * Called with the head once the server answered `FILE`; returns where the bytes go. If the sink
   * throws, `get()` rejects with that error and, when bytes were still to come, the connection is
   * closed (protocol v1 cannot abandon a payload half-way).
   */
  sink: (head: FileHead) => ReplySink | Promise<ReplySink>;
}

/** The bytes of an upload for {@linkcode Client.put}. */
export interface PutSource {
  /** Exactly how many bytes `chunks` yields. */
  size: number;
  /**
   * The bytes, in pieces. `put()` writes a piece while it asks for the next one, and only then
   * waits for the earlier write: a source may reuse a buffer two pieces later, not sooner. If the
   * source throws, or yields more or fewer than `size` bytes, the connection is closed before the
   * payload completes, so the server keeps nothing.
   */
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

/** Options of {@linkcode Client.put}. */
export interface PutOptions {
  /**
   * The sha256 of the bytes (hex): the server checks it and keeps nothing on a mismatch (409).
   * @default {undefined}
   */
  sha256?: string;
  /**
   * Ask the server to keep the bytes it received if the upload is cut, so it can be resumed
   * (`PUT ... resume`). Servers that do not know the option refuse the upload (400).
   * @default {false}
   */
  resume?: boolean;
  /**
   * Resume a kept upload: the server holds this many bytes of the file already (see
   * `resumeInfo()` in transfer.ts), and the source yields the rest (`PUT ... from=<offset>`; the whole
   * size is `from + size`).
   * @default {0}
   */
  from?: number;
  /**
   * Refuse to replace a file at the path: `ERR 409` (`PUT ... new`), checked atomically by the
   * server when it puts the file in place.
   * @default {false}
   */
  createOnly?: boolean;
}

/**
 * The words of a `PUT` line between the path and the byte count.
 *
 * @param options The upload's options.
 * @returns The words, each with a leading space.
 */
function putWords(options: PutOptions): string {
  const sha = options.sha256 === undefined ? "" : ` ${options.sha256.toLowerCase()}`;
  const from = options.from ?? 0;
  return sha + (options.resume && from === 0 ? " resume" : "") +
    (from > 0 ? ` from=${from}` : "") + (options.createOnly ? " new" : "");
}

const CRLF = new Uint8Array([13, 10]);

function firstArg(frame: Frame): string | undefined {
  return frame.args[0];
}

/**
 * `GET path [offset]` into the sink `options.sink` opens; see `Client.get()`.
 *
 * @param conn The connection.
 * @param path The path, plain.
 * @param options The offset and the sink.
 * @returns The head, once every byte went through the sink and its `end()` resolved.
 */
export function getFile(
  conn: Connection,
  path: string,
  options: GetOptions,
): Promise<FileHead> {
  const offset = options.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0) {
    return Promise.reject(
      new RangeError(`Cannot get ${path}: offset must be a whole number, got ${offset}`),
    );
  }
  return new Promise<FileHead>((resolve, reject) => {
    let failed = false;
    let left = 0;
    const fail = (e: unknown) => {
      if (failed) return;
      failed = true;
      reject(e);
      if (left > 0) conn.close();
    };
    const line = `GET ${encodePath(path)}${offset > 0 ? ` ${offset}` : ""}`;
    conn.requestStream(encodeLine(line), async (start): Promise<ReplySink> => {
      const size = Number(start.args[1]);
      const head: FileHead = {
        path: decodePath(start.args[0] ?? "") ?? path,
        size,
        sha256: start.args[2] ?? "",
        offset: size - start.size,
        length: start.size,
      };
      left = start.size;
      let inner: ReplySink;
      try {
        inner = await options.sink(head);
      } catch (e) {
        fail(e);
        return { data() {}, end() {}, abort() {} };
      }
      return {
        async data(bytes) {
          left -= bytes.length;
          if (failed) return;
          try {
            await inner.data(bytes);
          } catch (e) {
            fail(e);
          }
        },
        async end() {
          if (failed) return;
          try {
            await inner.end();
            resolve(head);
          } catch (e) {
            fail(e);
          }
        },
        abort(error) {
          if (failed) return;
          failed = true;
          try {
            inner.abort(error);
          } finally {
            reject(error);
          }
        },
      };
    }).catch(fail);
  });
}

/**
 * `PUT path [sha256] N` and the bytes, then the `OK`; see `Client.put()`.
 *
 * @param conn The connection.
 * @param path The target path, plain.
 * @param data The bytes, or a source to stream them.
 * @param options The sha256 to announce.
 * @returns The sha256 the server computed.
 */
export async function putFile(
  conn: Connection,
  path: string,
  data: Uint8Array | PutSource,
  options: PutOptions,
): Promise<string> {
  const source: PutSource = data instanceof Uint8Array
    ? { size: data.length, chunks: [data] }
    : data;
  if (!Number.isSafeInteger(source.size) || source.size < 0) {
    throw new RangeError(
      `Cannot upload ${path}: size must be a whole number, got ${source.size}`,
    );
  }
  const from = options.from ?? 0;
  if (!Number.isSafeInteger(from) || from < 0) {
    throw new RangeError(`Cannot upload ${path}: from must be a whole number, got ${from}`);
  }
  if (options.sha256 !== undefined && !/^[0-9A-Fa-f]{64}$/.test(options.sha256)) {
    throw new RangeError(`Cannot upload ${path}: sha256 must be 64 hex digits`);
  }
  // One upload at a time, and nothing else written while its payload goes out.
  // The reply is awaited after the section: the next upload and held commands go meanwhile.
  const { reply } = await conn.exclusive(async (section) => {
    let reply: Promise<string | undefined> | undefined;
    try {
      reply = section.request(
        encodeLine(`PUT ${encodePath(path)}${putWords(options)} ${source.size}`),
        firstArg,
      );
      reply.catch(() => {});
      let sent = 0;
      let previous: Promise<void> = Promise.resolve();
      try {
        for await (const chunk of source.chunks) {
          sent += chunk.length;
          if (sent > source.size) {
            throw new RangeError(`the source yielded more than ${source.size} bytes`);
          }
          if (chunk.length === 0) continue;
          const writing = section.write(chunk);
          writing.catch(() => {});
          await previous;
          previous = writing;
        }
        await previous;
        if (sent !== source.size) {
          throw new RangeError(`the source yielded ${sent} of ${source.size} bytes`);
        }
      } catch (e) {
        if (conn.closed) throw e;
        // The payload cannot be completed: close before its end, so the server keeps nothing.
        const error = new ConnectionClosedError(
          `Cannot upload ${path}: ${(e as Error).message}`,
          { cause: e },
        );
        conn.close(error);
        throw error;
      }
      await section.write(CRLF);
    } catch (e) {
      // An ERR that arrived before the connection failed says more than the closed socket (once
      // closed, every pending reply is settled).
      if (reply !== undefined && conn.closed) {
        const early = await reply.then(() => null, (r) => r);
        if (early instanceof ServerError) throw early;
      }
      throw e;
    }
    return { reply };
  });
  return await reply ?? "";
}
