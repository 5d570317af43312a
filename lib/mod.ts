/**
 * The Switchboard protocol, version 1: frame types, the pure decoder, the encoder, error codes
 * and limits. Nothing here does I/O.
 *
 * @example
 * ```ts
 * import { Decoder, encodeFrame } from "./mod.ts";
 * const d = new Decoder();
 * d.push(encodeFrame("SAY lobby", new TextEncoder().encode("hi")));
 * const f = d.next();
 * console.assert(f?.type === "frame" && f.verb === "SAY");
 * ```
 *
 * @module
 */

export * from "./backoff.ts";
export * from "./protocol/mod.ts";
export * from "./version.ts";
export * from "./write_behind.ts";
export * from "./slots.ts";
