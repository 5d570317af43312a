/**
 * What the transfers of transfer.ts and upload.ts share: progress, the error they fail with, and
 * the helpers both use.
 *
 * @module
 */

import type { Hash } from "node:crypto";

/** Progress of a transfer, in bytes of the whole file. */
export interface TransferProgress {
  /** Bytes of the file in place so far (a resumed download starts at its offset). */
  done: number;
  /** Size of the whole file. */
  total: number;
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
  | "local"
  /** A file is at the destination and the transfer was told not to replace it. */
  | "exists";

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

/** Bytes read or written at a time. */
export const CHUNK = 1024 * 1024;

/** The error of an aborted transfer. */
export function aborted(
  action: string,
  what: string,
  signal: AbortSignal,
  kept: string,
): TransferError {
  return new TransferError(`Cannot ${action} ${what}: aborted${kept}`, "aborted", {
    cause: signal.reason,
  });
}

/** Hashes the first `size` bytes of `file` into `hash`, leaving the position at `size`. */
export async function hashPrefix(file: Deno.FsFile, size: number, hash: Hash): Promise<void> {
  await file.seek(0, Deno.SeekMode.Start);
  const buf = new Uint8Array(Math.min(CHUNK, Math.max(1, size)));
  for (let left = size; left > 0;) {
    const n = await file.read(left < buf.length ? buf.subarray(0, left) : buf);
    if (n === null) throw new Error("the partial file shrank while it was read");
    hash.update(n === buf.length ? buf : buf.subarray(0, n));
    left -= n;
  }
}

/** Syncs a file, ignoring file systems that cannot. */
export async function syncQuietly(file: Deno.FsFile): Promise<void> {
  try {
    await file.sync();
  } catch {
    // Some file systems cannot sync; the rename below is still atomic.
  }
}
