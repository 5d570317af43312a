/**
 * The Switchboard wire protocol: frame and row types, the pure decoder, the encoder, error codes,
 * limits and the verb table. Nothing here does I/O.
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

export * from "./decoder.ts";
export * from "./encoder.ts";
export * from "./errors.ts";
export * from "./frame.ts";
export * from "./limits.ts";
export * from "./frames.ts";
export * from "./rows.ts";
export * from "./verbs.ts";
