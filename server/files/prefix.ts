/**
 * The sha256 state of the first bytes of a file: what a resumed upload goes on hashing from when
 * this process did not keep it (a restart, a kept upload adopted from a node that is gone).
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { withDeadline } from "./deadline.ts";

/**
 * Hashes the first `size` bytes of `file` (each read under the deadline), leaving the position
 * at `size`.
 *
 * @param file The open file.
 * @param size Bytes to hash.
 * @param timeout Deadline of each read, ms (0 = none).
 * @returns The hash, not yet digested.
 * @throws {Error} When the file has fewer bytes, or a read fails or is late.
 * @example
 * ```ts
 * import { hashPrefix } from "./prefix.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "abcdef");
 * using file = await Deno.open(path);
 * const hash = await hashPrefix(file, 3, 0);
 * console.assert(hash.digest("hex").startsWith("ba7816bf"));
 * await Deno.remove(path);
 * ```
 */
export async function hashPrefix(file: Deno.FsFile, size: number, timeout: number): Promise<Hash> {
  const hash = createHash("sha256");
  await file.seek(0, Deno.SeekMode.Start);
  const buf = new Uint8Array(Math.min(4 * 1024 * 1024, Math.max(1, size)));
  for (let left = size; left > 0;) {
    const n = await withDeadline(
      file.read(left < buf.length ? buf.subarray(0, left) : buf),
      timeout,
      "read the file",
    );
    if (n === null) throw new Error("the kept upload is shorter than it was");
    hash.update(buf.subarray(0, n));
    left -= n;
  }
  return hash;
}
