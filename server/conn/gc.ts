/**
 * Memory: a big message is copied twice (out of the read buffer, then into the one MSG frame
 * fanned out) and is garbage once written. V8 collects ArrayBuffers only after about 64 MiB of
 * them pile up, which shows as that much more resident memory. A young-generation GC after every
 * {@linkcode BIG_GC_EVERY} bytes of big payloads keeps the pile small; it takes well under a
 * millisecond. Works in bundles and compiled binaries (`node:v8` + `node:vm`); a no-op where the
 * runtime refuses the flag.
 *
 * @module
 */

import v8 from "node:v8";
import vm from "node:vm";

/** Payloads of at least this many bytes count. */
export const BIG_PAYLOAD = 64 * 1024;
/** A minor GC runs after this many bytes of big payloads. */
export const BIG_GC_EVERY = 8 * 1024 * 1024;

const collectYoung = exposeGc();
let bigBytes = 0;

function exposeGc(): (() => void) | null {
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as unknown;
    if (typeof gc !== "function") return null;
    return () => gc({ type: "minor" });
  } catch {
    return null;
  }
}

/**
 * Counts a payload the server received; collects young garbage once enough big ones passed.
 *
 * @param size The payload's size in bytes.
 */
export function noteBigPayload(size: number): void {
  if (size < BIG_PAYLOAD || collectYoung === null) return;
  bigBytes += size;
  if (bigBytes < BIG_GC_EVERY) return;
  bigBytes = 0;
  collectYoung();
}
