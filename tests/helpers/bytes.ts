/**
 * Byte helpers of the tests: text to bytes and back, joining and building byte arrays, random
 * bytes (crypto or seeded), and sha256 digests.
 *
 * @module
 */

import { createHash } from "node:crypto";

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/**
 * Encodes text as UTF-8.
 *
 * @param text The text.
 * @returns Its bytes.
 */
export function encodeText(text: string): Uint8Array {
  return utf8.encode(text);
}

/**
 * Decodes UTF-8 bytes (invalid sequences become U+FFFD).
 *
 * @param bytes The bytes.
 * @returns The text.
 */
export function decodeText(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

/**
 * Joins byte arrays into one new array.
 *
 * @param parts The pieces, in order.
 * @returns Their concatenation.
 */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Bytes of a mix of strings (UTF-8) and raw bytes.
 *
 * @param parts Strings, arrays of byte values, or byte arrays.
 * @returns Their concatenation.
 */
export function bytes(...parts: (string | number[] | Uint8Array)[]): Uint8Array {
  return concat(parts.map((p) => typeof p === "string" ? utf8.encode(p) : Uint8Array.from(p)));
}

/**
 * Cryptographically random bytes, any length (filled 64 KiB at a time, the most
 * `crypto.getRandomValues` takes at once).
 *
 * @param n How many.
 * @returns Fresh random bytes.
 */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) {
    crypto.getRandomValues(out.subarray(off, Math.min(n, off + 65536)));
  }
  return out;
}

/**
 * A small seeded PRNG (mulberry32): the same seed gives the same run.
 *
 * @param seed Any integer.
 * @returns A function giving numbers in [0, 1).
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * sha256 of bytes, lower-case hex.
 *
 * @param data The bytes.
 * @returns 64 hex digits.
 */
export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/**
 * sha256 of a file, read 1 MiB at a time, lower-case hex.
 *
 * @param path The file.
 * @returns 64 hex digits.
 */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path);
  const buf = new Uint8Array(1 << 20);
  for (let n = await file.read(buf); n !== null; n = await file.read(buf)) {
    hash.update(buf.subarray(0, n));
  }
  return hash.digest("hex");
}

/**
 * A byte count in MiB with one decimal, for messages.
 *
 * @param n Bytes.
 * @returns Such as `12.5 MiB`.
 */
export function mib(n: number): string {
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
