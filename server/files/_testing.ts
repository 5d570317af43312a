/**
 * Helpers for the unit tests of this folder (private to it): a store over a fresh temporary root,
 * and the `ERR` code a failed operation would be answered with.
 *
 * @module
 */

import { FileError } from "./errors.ts";
import { FileStore } from "./store.ts";
import { FILE_ERROR_CODES, WireError } from "./wire.ts";

/**
 * Runs `fn` with a store over `<temp>/share`, then removes the temporary folder.
 *
 * @param fn Gets the root (as configured) and the store.
 */
export async function withRoot(
  fn: (root: string, store: FileStore) => Promise<void>,
): Promise<void> {
  const base = await Deno.makeTempDir({ prefix: "sb-store-" });
  try {
    await fn(`${base}/share`, FileStore.create(`${base}/share`));
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

/**
 * Awaits an operation that must fail.
 *
 * @param p The operation.
 * @returns The `ERR` code its failure is answered with (from its kind, for a {@linkcode FileError}).
 * @throws {Error} When it succeeds or fails otherwise.
 */
export async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FileError) return FILE_ERROR_CODES[e.kind];
    if (e instanceof WireError) return e.code;
    throw e;
  }
  throw new Error("expected a FileError");
}
