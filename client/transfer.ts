/**
 * File transfers on top of the client library: {@linkcode downloadFile} (resumable, verified,
 * atomic, optionally never replacing a local file) here, and `uploadFile` (streamed, hashed on
 * the way, resumable, optionally create-only; upload.ts) re-exported. Neither ever holds a whole
 * file in memory.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { ServerError } from "../lib/protocol/errors.ts";
import { WriteBehind } from "../lib/write_behind.ts";
import type { Client, FileHead } from "./client.ts";
import { ConnectionClosedError } from "./transport.ts";
import {
  aborted,
  CHUNK,
  hashPrefix,
  syncQuietly,
  TransferError,
  type TransferProgress,
} from "./_transfer_common.ts";

export { TransferError, type TransferFailure, type TransferProgress } from "./_transfer_common.ts";
export {
  type ResumeInfo,
  resumeInfo,
  uploadFile,
  type UploadOptions,
  type UploadResult,
} from "./upload.ts";

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
  /**
   * Refuse to replace a file at `local`: checked before anything is fetched, and again, without
   * a race, when the verified file is put in place (a hard link, which fails if a file is
   * there; the complete `.part` is then kept). Fails with `TransferError` reason `exists`.
   * @default {false}
   */
  createOnly?: boolean;
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
 *   `.part` is kept), `local` (cannot write the local file), `exists` (with `createOnly`).
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
  if (options.createOnly && await Deno.lstat(local).then(() => true, () => false)) {
    throw existsLocally(remote, local);
  }
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
      if (options.createOnly) await createLocal(remote, part, local);
      else await Deno.rename(part, local);
    } catch (e) {
      if (e instanceof TransferError) throw e;
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

function existsLocally(remote: string, local: string): TransferError {
  return new TransferError(`Cannot download ${remote}: ${local} exists already`, "exists");
}

/** Puts the verified `.part` at `local` only if nothing is there (a hard link fails if it is). */
async function createLocal(remote: string, part: string, local: string): Promise<void> {
  try {
    await Deno.link(part, local);
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) throw existsLocally(remote, local);
    // No hard links on this file system: check, then rename (not atomic).
    if (await Deno.lstat(local).then(() => true, () => false)) throw existsLocally(remote, local);
    await Deno.rename(part, local);
    return;
  }
  await Deno.remove(part);
}
