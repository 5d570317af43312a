/**
 * Uploads on top of the client library: {@linkcode uploadFile} streams a local file (never whole
 * in memory), hashed on the way and checked against the server's answer; with `resume` it asks the
 * server to keep what arrived if the upload is cut, and a later run sends only the rest, once the
 * kept bytes are checked against the local file's own first bytes. With `createOnly` the server
 * refuses (atomically) to replace a file. Re-exported by transfer.ts.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { encodePath } from "../lib/protocol/encoder.ts";
import { ServerError } from "../lib/protocol/errors.ts";
import type { Client } from "./client.ts";
import { ConnectionClosedError } from "./transport.ts";
import {
  aborted,
  CHUNK,
  hashPrefix,
  TransferError,
  type TransferProgress,
} from "./_transfer_common.ts";

/** Options of {@linkcode uploadFile}. */
export interface UploadOptions {
  /** Called as bytes are sent (once at the start, then after every piece read). */
  onProgress?: (p: TransferProgress) => void;
  /**
   * Stops the upload. Protocol v1 cannot abandon a payload half-way, so this closes the client's
   * connection; with `resume` the server keeps what arrived for a later run.
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
  /**
   * Resume what the server kept of an earlier cut upload of this file (`RESUME`, then
   * `PUT ... from=`), and ask it to keep what arrives if this one is cut (`PUT ... resume`).
   * Without it a cut upload leaves nothing on the server, as before (`switchboard put` turns it
   * on unless `--no-resume`). Older servers upload whole.
   * @default {false}
   */
  resume?: boolean;
  /**
   * Refuse to replace a file at `remote` (`PUT ... new`: the server checks it atomically when it
   * puts the file in place). An older server is asked with `LIST` first, which is not atomic.
   * Fails with `ServerError` 409, or `TransferError` reason `exists` on an older server.
   * @default {false}
   */
  createOnly?: boolean;
}

/** Result of {@linkcode uploadFile}. */
export interface UploadResult {
  /** The remote path written. */
  path: string;
  /** Size of the file. */
  size: number;
  /** sha256 of the file, as computed on both sides, lower-case hex. */
  sha256: string;
  /** Bytes the server had kept from an earlier cut upload and were not sent again. */
  resumedFrom: number;
}

/** What the server keeps of a cut resumable upload (`RESUME`). */
export interface ResumeInfo {
  /** Bytes kept (0 when none). */
  have: number;
  /** sha256 of those bytes, lower-case hex: compare it with the local file's first bytes. */
  sha256: string;
}

/**
 * Asks how much of a cut resumable upload the server kept: `RESUME path size [sha256]`.
 *
 * @param client A connected client.
 * @param remote The target path, plain.
 * @param size The whole file's size.
 * @param sha256 The whole file's sha256 when known (hex).
 * @returns The bytes kept and their sha256, or `null` when the server is older and cannot
 *   resume uploads (nor take `PUT ... new`).
 * @throws {ServerError} 403 read-only, 413 past max_file_size, 400 bad path.
 */
export async function resumeInfo(
  client: Client,
  remote: string,
  size: number,
  sha256?: string,
): Promise<ResumeInfo | null> {
  const sha = sha256 === undefined ? "" : ` ${sha256.toLowerCase()}`;
  try {
    const r = await client.command(`RESUME ${encodePath(remote)} ${size}${sha}`);
    return { have: Number(r.args[0]), sha256: r.args[1] ?? "" };
  } catch (e) {
    if (e instanceof ServerError && e.code === 400 && /^Unknown command/.test(e.message)) {
      return null;
    }
    throw e;
  }
}

/** Whether a file is at `remote`, by listing its folder (older servers only: not atomic). */
async function remoteExists(client: Client, remote: string): Promise<boolean> {
  const at = remote.lastIndexOf("/");
  try {
    const entries = await client.list(at < 0 ? undefined : remote.slice(0, at));
    return entries.some((e) => e.name === remote.slice(at + 1));
  } catch (e) {
    if (e instanceof ServerError && e.code === 404) return false;
    throw e;
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
 * Where to start: the bytes the server kept, when the local file's first bytes hash the same
 * (the hash then holds them, and the file's position is after them); else 0.
 */
async function resumePoint(file: Deno.FsFile, kept: ResumeInfo | null, size: number, hash: Hash) {
  if (kept === null || kept.have <= 0 || kept.have > size) return 0;
  await hashPrefix(file, kept.have, hash);
  if (hash.copy().digest("hex") === kept.sha256) return kept.have;
  return -1; // The kept bytes are of another file: start over with a fresh hash.
}

/**
 * Uploads a local file: streams it in 1 MiB pieces (never whole in memory) with `PUT path N`,
 * hashing it on the way, then checks the server's `OK <sha256>` against the local hash. Before the
 * payload's last line ending is sent the file is checked for a change of size or mtime: if it
 * changed, the connection is closed instead, so the server keeps nothing. With `sha256` or
 * `hashFirst`, the hash goes on the `PUT` line and the server itself refuses a mismatch. With
 * `resume` it first asks what the server kept of an earlier cut upload and, when
 * those bytes hash like the local file's first ones, sends only the rest; if the kept bytes are
 * gone meanwhile (another client resumed them, they expired) it starts over once.
 *
 * @param client A connected client.
 * @param local The local file.
 * @param remote The shared path to write (plain); missing parent folders are created.
 * @param options See {@linkcode UploadOptions}.
 * @returns What was stored.
 * @throws {TransferError} `changed` (nothing kept), `mismatch` (the server's hash of what it
 *   stored differs from the local one; upload again), `aborted`, `connection`, `local`, `exists`
 *   (with `createOnly`, an older server).
 * @throws {ServerError} When the server refuses (403 read-only, 413 past max_file_size, 409 a
 *   folder or, with `createOnly`, a file is there, or the announced sha256 did not match, 400 bad
 *   path).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startServer } from "../server/mod.ts";
 * import { connect } from "./client.ts";
 * import { uploadFile } from "./upload.ts";
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
  const localError = (e: unknown) =>
    e instanceof TransferError
      ? e
      : new TransferError(`Cannot upload ${local}: ${(e as Error).message}`, "local", { cause: e });
  try {
    if (!info.isFile) throw new TransferError(`Cannot upload ${local}: it is not a file`, "local");
    const size = info.size;
    let announced = options.sha256?.toLowerCase();
    if (announced === undefined && options.hashFirst) {
      announced = await hashLocal(file, size).catch((e) => {
        throw localError(e);
      });
    }
    const resume = options.resume === true;
    const kept = resume || options.createOnly
      ? await resumeInfo(client, remote, size, announced)
      : null;
    // An older server knows neither option: ask it (not atomic) instead of sending `new`.
    const modern = kept !== null;
    if (options.createOnly && !modern && await remoteExists(client, remote)) {
      throw new TransferError(`Cannot upload ${local}: ${remote} exists on the server`, "exists");
    }
    let hash = createHash("sha256");
    let from = resume
      ? await resumePoint(file, kept, size, hash).catch((e) => {
        throw localError(e);
      })
      : 0;
    for (let attempt = 0;; attempt++) {
      if (from < 0) {
        from = 0;
        hash = createHash("sha256");
      }
      try {
        const stored = await send(client, file, info, remote, local, {
          from,
          hash,
          announced,
          resume: resume && modern,
          createOnly: (options.createOnly ?? false) && modern,
          onProgress,
        });
        const sha256 = hash.digest("hex");
        if (stored !== sha256) {
          throw new TransferError(
            `Cannot upload ${local}: sha256 mismatch (the server stored ${stored}, the local file hashes to ${sha256}); ` +
              `upload it again`,
            "mismatch",
          );
        }
        return { path: remote, size, sha256, resumedFrom: from };
      } catch (e) {
        // The kept bytes went away between RESUME and PUT: start over, once.
        if (
          from > 0 && attempt === 0 && e instanceof ServerError && e.code === 409 &&
          !client.closed && /send RESUME/.test(e.message)
        ) {
          from = -1;
          continue;
        }
        if (signal?.aborted) {
          throw aborted(
            "upload",
            local,
            signal,
            resume && modern
              ? "; the server keeps what it received for a resume"
              : "; nothing was stored",
          );
        }
        throw e;
      }
    }
  } finally {
    signal?.removeEventListener("abort", onAbort);
    file.close();
  }
}

interface SendOptions {
  from: number;
  hash: Hash;
  announced: string | undefined;
  resume: boolean;
  createOnly: boolean;
  onProgress: ((p: TransferProgress) => void) | undefined;
}

/** One `PUT` of the file from `from` (the hash holds the bytes before it). */
async function send(
  client: Client,
  file: Deno.FsFile,
  info: Deno.FileInfo,
  remote: string,
  local: string,
  o: SendOptions,
): Promise<string> {
  const size = info.size;
  await file.seek(o.from, Deno.SeekMode.Start);
  let sent = o.from;
  let changed: TransferError | null = null;
  const chunks = async function* (): AsyncGenerator<Uint8Array> {
    // Two buffers: put() writes one while this fills the other.
    const length = Math.min(CHUNK, Math.max(1, size - o.from));
    const buffers = [new Uint8Array(length), new Uint8Array(length)];
    o.onProgress?.({ done: sent, total: size });
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
      o.hash.update(piece);
      sent += got;
      yield piece;
      o.onProgress?.({ done: sent, total: size });
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
  try {
    return await client.put(remote, { size: size - o.from, chunks: chunks() }, {
      sha256: o.announced,
      resume: o.resume,
      from: o.from,
      createOnly: o.createOnly,
    });
  } catch (e) {
    if (changed !== null) throw changed;
    if (e instanceof ConnectionClosedError) {
      const kept = o.resume ? "the server keeps them: run again to resume" : "nothing was stored";
      throw new TransferError(
        `Cannot upload ${local}: the connection was lost after ${sent} of ${size} bytes; ${kept}`,
        "connection",
        { cause: e },
      );
    }
    throw e;
  }
}
