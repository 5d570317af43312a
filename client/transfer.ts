/**
 * File transfers on top of the client library: {@linkcode downloadFile} (resumable, verified,
 * atomic) and {@linkcode uploadFile} (streamed, hashed on the way, checked against the server's
 * answer). Neither ever holds a whole file in memory.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { ServerError } from "../lib/protocol/errors.ts";
import { WriteBehind } from "../lib/write_behind.ts";
import type { Client, FileHead } from "./client.ts";
import { ConnectionClosedError } from "./transport.ts";

/** Progress of a transfer, in bytes of the whole file. */
export interface TransferProgress {
  /** Bytes of the file in place so far (a resumed download starts at its offset). */
  done: number;
  /** Size of the whole file. */
  total: number;
}

/** Options of {@linkcode downloadFile}. */
export interface DownloadOptions {
  /** Called as bytes arrive (once at the start, then after every piece written). */
  onProgress?: (p: TransferProgress) => void;
  /**
   * Stops the download. Protocol v1 cannot abandon a payload half-way, so this closes the
   * client's connection; the `.part` file is kept for a later resume.
   */
  signal?: AbortSignal;
  /**
   * Resume from an existing `<local>.part` (`GET path offset`); `false` starts over.
   * @default {true}
   */
  resume?: boolean;
}

/** Result of {@linkcode downloadFile}. */
export interface DownloadResult {
  /** The local path written. */
  path: string;
  /** Size of the file. */
  size: number;
  /** sha256 of the file, verified, lower-case hex. */
  sha256: string;
  /** Bytes that were already in the `.part` file and were not fetched again (0 for a fresh start). */
  resumedFrom: number;
}

/** Options of {@linkcode uploadFile}. */
export interface UploadOptions {
  /** Called as bytes are sent (once at the start, then after every piece read). */
  onProgress?: (p: TransferProgress) => void;
  /**
   * Stops the upload. Protocol v1 cannot abandon a payload half-way, so this closes the client's
   * connection; the server keeps nothing.
   */
  signal?: AbortSignal;
  /**
   * The sha256 of the local file when already known (hex): sent with `PUT`, so the server refuses
   * a mismatch (409) and keeps nothing.
   */
  sha256?: string;
  /**
   * Read the file twice: hash it first, then send `PUT path sha256 N`, so that anything that
   * differs from the hash (the file changed between the passes, corruption) is refused by the
   * server and nothing is kept. Without it (the default) the file is read once, hashed while it
   * streams, and the server's `OK <sha256>` is compared with the local hash afterwards.
   * @default {false}
   */
  hashFirst?: boolean;
}

/** Result of {@linkcode uploadFile}. */
export interface UploadResult {
  /** The remote path written. */
  path: string;
  /** Size of the file. */
  size: number;
  /** sha256 of the file, as computed on both sides, lower-case hex. */
  sha256: string;
}

/** Why a transfer failed. */
export type TransferFailure =
  /** The sha256 of what arrived is not the one announced. */
  | "mismatch"
  /** The signal aborted it. */
  | "aborted"
  /** The connection was lost mid-way (a download can be resumed). */
  | "connection"
  /** The local file changed while it was read (an upload). */
  | "changed"
  /** A local file could not be read or written. */
  | "local";

/**
 * A transfer failed for a reason of its own (see {@linkcode TransferError.reason}). Refusals by
 * the server are not wrapped: they reject with the library's `ServerError` (404, 403, 409, 413...).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TransferError } from "./transfer.ts";
 * const e = new TransferError("Cannot download a.txt: aborted", "aborted");
 * assert.equal(e.reason, "aborted");
 * assert.equal(e.name, "TransferError");
 * ```
 */
export class TransferError extends Error {
  /** Why. */
  readonly reason: TransferFailure;

  /**
   * Makes the error.
   *
   * @param message What happened, and what to do.
   * @param reason Why.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, reason: TransferFailure = "local", options?: ErrorOptions) {
    super(message, options);
    this.name = "TransferError";
    this.reason = reason;
  }
}

const CHUNK = 1024 * 1024;

function aborted(action: string, what: string, signal: AbortSignal, kept: string): TransferError {
  return new TransferError(`Cannot ${action} ${what}: aborted${kept}`, "aborted", {
    cause: signal.reason,
  });
}

/** Hashes the first `size` bytes of `file` into `hash`, leaving the position at `size`. */
async function hashPrefix(file: Deno.FsFile, size: number, hash: Hash): Promise<void> {
  await file.seek(0, Deno.SeekMode.Start);
  const buf = new Uint8Array(Math.min(CHUNK, Math.max(1, size)));
  for (let left = size; left > 0;) {
    const n = await file.read(left < buf.length ? buf.subarray(0, left) : buf);
    if (n === null) throw new Error("the partial file shrank while it was read");
    hash.update(n === buf.length ? buf : buf.subarray(0, n));
    left -= n;
  }
}

async function syncQuietly(file: Deno.FsFile): Promise<void> {
  try {
    await file.sync();
  } catch {
    // Some file systems cannot sync; the rename below is still atomic.
  }
}

/**
 * Downloads a shared file to `local`, resumably and verified: bytes go to `<local>.part`; an
 * existing `.part` is resumed from its size with `GET path offset` (restarting from 0 when the
 * server says the offset is past the end of the file); the sha256 of the whole assembled file is
 * checked against the server's before the `.part` is renamed to `local`. On a mismatch the
 * `.part` is deleted and a {@linkcode TransferError} says so: a corrupt file is never left at
 * `local`. If the connection drops, the `.part` stays for the next run.
 *
 * @param client A connected client.
 * @param remote The shared path (plain, not percent-encoded).
 * @param local Where to write it; any existing file there is replaced at the end.
 * @param options See {@linkcode DownloadOptions}.
 * @returns What was written.
 * @throws {TransferError} `mismatch` (the `.part` was deleted), `aborted`, `connection` (the
 *   `.part` is kept), `local` (cannot write the local file).
 * @throws {ServerError} When the server refuses (404 missing, 400 a folder, 403 forbidden).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startServer } from "../server/mod.ts";
 * import { connect } from "./client.ts";
 * import { downloadFile } from "./transfer.ts";
 * const quiet = { info() {}, warn() {}, error() {} };
 * const files = await Deno.makeTempDir();
 * await Deno.mkdir(`${files}/docs`);
 * await Deno.writeTextFile(`${files}/docs/report.txt`, "quarterly numbers");
 * await using server = startServer({ port: 0, files }, { log: quiet });
 * await using client = await connect({ port: server.port });
 * const local = `${await Deno.makeTempDir()}/report.txt`;
 * const seen: number[] = [];
 * const r = await downloadFile(client, "docs/report.txt", local, {
 *   onProgress: (p) => seen.push(p.done),
 * });
 * assert.equal(await Deno.readTextFile(local), "quarterly numbers");
 * assert.equal(r.size, 17);
 * assert.equal(r.resumedFrom, 0);
 * assert.equal(seen.at(-1), 17);
 * ```
 */
export async function downloadFile(
  client: Client,
  remote: string,
  local: string,
  options: DownloadOptions = {},
): Promise<DownloadResult> {
  const { signal, onProgress } = options;
  const part = `${local}.part`;
  if (signal?.aborted) throw aborted("download", remote, signal, "");
  let file: Deno.FsFile;
  try {
    file = await Deno.open(part, { read: true, write: true, create: true });
  } catch (e) {
    throw new TransferError(
      `Cannot download ${remote}: cannot write ${part}: ${(e as Error).message}`,
      "local",
      {
        cause: e,
      },
    );
  }
  const onAbort = () => client.close();
  signal?.addEventListener("abort", onAbort, { once: true });
  let written = 0;
  let total = 0;
  let closed = false;
  const closeFile = () => {
    if (closed) return;
    closed = true;
    file.close();
  };
  try {
    let offset = options.resume === false ? 0 : (await file.stat()).size;
    let hash = createHash("sha256");
    try {
      if (offset > 0) await hashPrefix(file, offset, hash);
    } catch (e) {
      throw new TransferError(
        `Cannot download ${remote}: cannot read ${part}: ${(e as Error).message}`,
        "local",
        {
          cause: e,
        },
      );
    }
    const localError = (e: unknown) =>
      new TransferError(
        `Cannot download ${remote}: cannot write ${part}: ${(e as Error).message}`,
        "local",
        { cause: e },
      );
    let behind = new WriteBehind(file, CHUNK);
    const sink = async (head: FileHead) => {
      if (head.offset !== offset) {
        throw new TransferError(`Cannot download ${remote}: the server sent another range`);
      }
      total = head.size;
      written = offset;
      try {
        await file.truncate(offset);
        await file.seek(offset, Deno.SeekMode.Start);
      } catch (e) {
        throw new TransferError(
          `Cannot download ${remote}: cannot write ${part}: ${(e as Error).message}`,
          "local",
          {
            cause: e,
          },
        );
      }
      onProgress?.({ done: written, total });
      return {
        async data(bytes: Uint8Array) {
          hash.update(bytes);
          try {
            await behind.write(bytes);
          } catch (e) {
            throw localError(e);
          }
          written += bytes.length;
          onProgress?.({ done: written, total });
        },
        end() {},
        abort() {},
      };
    };
    let head: FileHead;
    try {
      try {
        head = await client.get(remote, { offset, sink });
      } catch (e) {
        // The file shrank or changed since the .part was started: start over from the beginning.
        if (!(e instanceof ServerError && e.code === 400 && offset > 0 && written === 0)) throw e;
        offset = 0;
        hash = createHash("sha256");
        behind = new WriteBehind(file, CHUNK);
        head = await client.get(remote, { offset, sink });
      }
      await behind.finish().catch((e) => {
        throw localError(e);
      });
    } catch (e) {
      // What arrived is kept for a resume.
      await behind.finish().catch(() => {});
      if (signal?.aborted) {
        // What is on disk, not what was counted: a piece may be written but not yet counted.
        const kept = await file.stat().then((i) => i.size, () => written);
        throw aborted("download", remote, signal, `; ${kept} bytes kept in ${part} for a resume`);
      }
      if (e instanceof ConnectionClosedError) {
        throw new TransferError(
          `Cannot download ${remote}: the connection was lost after ${written} of ${
            total || "?"
          } bytes; ` +
            `run again to resume from ${part}`,
          "connection",
          { cause: e },
        );
      }
      throw e;
    }
    const sha256 = hash.digest("hex");
    if (sha256 !== head.sha256) {
      closeFile();
      await Deno.remove(part).catch(() => {});
      throw new TransferError(
        `Cannot download ${remote}: sha256 mismatch (the server announced ${head.sha256}, the bytes received ` +
          `hash to ${sha256}${
            offset > 0 ? `, resumed at byte ${offset}` : ""
          }); the partial file was deleted, ` +
          `run again`,
        "mismatch",
      );
    }
    try {
      await syncQuietly(file);
      closeFile();
      await Deno.rename(part, local);
    } catch (e) {
      throw new TransferError(
        `Cannot download ${remote}: cannot move ${part} to ${local}: ${(e as Error).message}`,
        "local",
        {
          cause: e,
        },
      );
    }
    return { path: local, size: head.size, sha256, resumedFrom: offset };
  } finally {
    signal?.removeEventListener("abort", onAbort);
    closeFile();
  }
}

/** Hashes a whole local file (the first pass of `hashFirst`). */
async function hashLocal(file: Deno.FsFile, size: number): Promise<string> {
  const hash = createHash("sha256");
  await hashPrefix(file, size, hash);
  await file.seek(0, Deno.SeekMode.Start);
  return hash.digest("hex");
}

/**
 * Uploads a local file: streams it in 1 MiB pieces (never whole in memory) with `PUT path N`,
 * hashing it on the way, then checks the server's `OK <sha256>` against the local hash. Before the
 * payload's last line ending is sent the file is checked for a change of size or mtime: if it
 * changed, the connection is closed instead, so the server keeps nothing. With `sha256` or
 * `hashFirst`, the hash goes on the `PUT` line and the server itself refuses a mismatch.
 *
 * @param client A connected client.
 * @param local The local file.
 * @param remote The shared path to write (plain); missing parent folders are created.
 * @param options See {@linkcode UploadOptions}.
 * @returns What was stored.
 * @throws {TransferError} `changed` (nothing kept), `mismatch` (the server's hash of what it
 *   stored differs from the local one; upload again), `aborted`, `connection`, `local`.
 * @throws {ServerError} When the server refuses (403 read-only, 413 past max_file_size, 409 a
 *   folder is there or the announced sha256 did not match, 400 bad path).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startServer } from "../server/mod.ts";
 * import { connect } from "./client.ts";
 * import { uploadFile } from "./transfer.ts";
 * const quiet = { info() {}, warn() {}, error() {} };
 * const files = await Deno.makeTempDir();
 * await using server = startServer({ port: 0, files }, { log: quiet });
 * await using client = await connect({ port: server.port });
 * const local = await Deno.makeTempFile();
 * await Deno.writeTextFile(local, "meeting notes");
 * const r = await uploadFile(client, local, "docs/notes.txt");
 * assert.equal(r.size, 13);
 * assert.equal(await Deno.readTextFile(`${files}/docs/notes.txt`), "meeting notes");
 * ```
 */
export async function uploadFile(
  client: Client,
  local: string,
  remote: string,
  options: UploadOptions = {},
): Promise<UploadResult> {
  const { signal, onProgress } = options;
  if (signal?.aborted) throw aborted("upload", local, signal, "");
  let file: Deno.FsFile;
  let info: Deno.FileInfo;
  try {
    file = await Deno.open(local, { read: true });
    info = await file.stat();
  } catch (e) {
    throw new TransferError(`Cannot upload ${local}: ${(e as Error).message}`, "local", {
      cause: e,
    });
  }
  const onAbort = () => client.close();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    if (!info.isFile) throw new TransferError(`Cannot upload ${local}: it is not a file`, "local");
    const size = info.size;
    let announced = options.sha256?.toLowerCase();
    if (announced === undefined && options.hashFirst) {
      try {
        announced = await hashLocal(file, size);
      } catch (e) {
        throw new TransferError(`Cannot upload ${local}: ${(e as Error).message}`, "local", {
          cause: e,
        });
      }
    }
    const hash = createHash("sha256");
    let sent = 0;
    let changed: TransferError | null = null;
    const chunks = async function* (): AsyncGenerator<Uint8Array> {
      // Two buffers: put() writes one while this fills the other.
      const buffers = [
        new Uint8Array(Math.min(CHUNK, Math.max(1, size))),
        new Uint8Array(Math.min(CHUNK, Math.max(1, size))),
      ];
      onProgress?.({ done: 0, total: size });
      for (let i = 0; sent < size; i ^= 1) {
        const buf = buffers[i]!;
        const want = Math.min(buf.length, size - sent);
        let got = 0;
        while (got < want) {
          const n = await file.read(buf.subarray(got, want));
          if (n === null) break;
          got += n;
        }
        if (got < want) {
          changed = new TransferError(
            `Cannot upload ${local}: it shrank while being sent; nothing was stored`,
            "changed",
          );
          throw changed;
        }
        const piece = got === buf.length ? buf : buf.subarray(0, got);
        hash.update(piece);
        sent += got;
        yield piece;
        onProgress?.({ done: sent, total: size });
      }
      // Last chance to keep the server from storing a mix: the payload is not complete yet.
      const after = await file.stat();
      if (after.size !== size || after.mtime?.getTime() !== info.mtime?.getTime()) {
        changed = new TransferError(
          `Cannot upload ${local}: it changed while being sent; nothing was stored`,
          "changed",
        );
        throw changed;
      }
    };
    let stored: string;
    try {
      stored = await client.put(remote, { size, chunks: chunks() }, { sha256: announced });
    } catch (e) {
      if (changed !== null) throw changed;
      if (signal?.aborted) throw aborted("upload", local, signal, "; nothing was stored");
      if (e instanceof ConnectionClosedError) {
        throw new TransferError(
          `Cannot upload ${local}: the connection was lost after ${sent} of ${size} bytes; nothing was stored`,
          "connection",
          { cause: e },
        );
      }
      throw e;
    }
    const sha256 = hash.digest("hex");
    if (stored !== sha256) {
      throw new TransferError(
        `Cannot upload ${local}: sha256 mismatch (the server stored ${stored}, the local file hashes to ${sha256}); ` +
          `upload it again`,
        "mismatch",
      );
    }
    return { path: remote, size, sha256 };
  } finally {
    signal?.removeEventListener("abort", onAbort);
    file.close();
  }
}
