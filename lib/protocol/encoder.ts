/**
 * The encoder of protocol v1 frames: measure first, allocate once, fill with `set`.
 *
 * @module
 */

const encoder = new TextEncoder();

/**
 * Counts the UTF-8 bytes of a string without encoding it.
 *
 * @param text Any string.
 * @returns Its length in UTF-8 bytes (lone surrogates count as the 3 bytes of U+FFFD).
 * @example
 * ```ts
 * import { utf8Length } from "./encoder.ts";
 * console.assert(utf8Length("héllo") === 6);
 * ```
 */
export function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2;
        i++;
      } else n += 2;
    } else n += 2;
  }
  return n;
}

/**
 * Encodes a control line with no payload: `text` then CRLF.
 *
 * @param text The control line, without its line ending. Must not contain LF.
 * @returns The bytes to send.
 * @example
 * ```ts
 * import { encodeLine } from "./encoder.ts";
 * console.assert(new TextDecoder().decode(encodeLine("PONG")) === "PONG\r\n");
 * ```
 */
export function encodeLine(text: string): Uint8Array {
  // ASCII (nearly every line): one byte per UTF-16 unit, written without the encoder call.
  const n = text.length;
  const ascii = new Uint8Array(n + 2);
  let i = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) break;
    ascii[i] = c;
  }
  if (i === n) {
    ascii[n] = 13;
    ascii[n + 1] = 10;
    return ascii;
  }
  const size = utf8Length(text);
  const out = new Uint8Array(size + 2);
  encoder.encodeInto(text, out);
  out[size] = 13;
  out[size + 1] = 10;
  return out;
}

/**
 * Encodes a frame with a sized payload: `head N` CRLF, the N bytes, CRLF.
 *
 * @param head The control line before the byte count (`MSG lobby alice`).
 * @param payload The payload bytes.
 * @returns The bytes to send, in one allocation.
 * @example
 * ```ts
 * import { encodeFrame } from "./encoder.ts";
 * const bytes = encodeFrame("SAY lobby", new TextEncoder().encode("hi"));
 * console.assert(new TextDecoder().decode(bytes) === "SAY lobby 2\r\nhi\r\n");
 * ```
 */
export function encodeFrame(head: string, payload: Uint8Array): Uint8Array {
  const line = `${head} ${payload.length}\r\n`;
  const size = utf8Length(line);
  const out = new Uint8Array(size + payload.length + 2);
  if (size === line.length) {
    // ASCII: write the control line without the encoder call.
    for (let i = 0; i < size; i++) out[i] = line.charCodeAt(i);
  } else encoder.encodeInto(line, out);
  out.set(payload, size);
  out[size + payload.length] = 13;
  out[size + payload.length + 1] = 10;
  return out;
}

/**
 * Encodes a frame whose payload is UTF-8 text (JSON replies, help text).
 *
 * @param head The control line before the byte count (`WHO`).
 * @param text The payload text.
 * @returns The bytes to send.
 * @example
 * ```ts
 * import { encodeTextFrame } from "./encoder.ts";
 * console.assert(new TextDecoder().decode(encodeTextFrame("WHO", "[]")) === "WHO 2\r\n[]\r\n");
 * ```
 */
export function encodeTextFrame(head: string, text: string): Uint8Array {
  return encodeFrame(head, encoder.encode(text));
}

/**
 * Encodes an error reply: `ERR code text`. Line breaks in the text become spaces, other control
 * characters `\xNN` (the text may quote client input).
 *
 * @param code The error code.
 * @param text Human-readable text.
 * @returns The bytes to send.
 * @example
 * ```ts
 * import { encodeError } from "./encoder.ts";
 * console.assert(new TextDecoder().decode(encodeError(404, "No such room")) === "ERR 404 No such room\r\n");
 * ```
 */
export function encodeError(code: number, text: string): Uint8Array {
  return encodeLine(`ERR ${code} ${escapeControls(text.replace(/[\r\n]+/g, " "))}`);
}

// C0 controls but tab, DEL and C1 controls: what a terminal could act on.
// deno-lint-ignore no-control-regex
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/**
 * Writes control characters as `\xNN`, so text that quotes client input (an `ERR` reply) cannot
 * move a terminal's cursor or change its colours; everything else, tab included, stays.
 *
 * @param text Any text.
 * @returns The text with its control characters escaped.
 * @example
 * ```ts
 * import { escapeControls } from "./encoder.ts";
 * console.assert(escapeControls("a\x1b[31mb\x00") === "a\\x1b[31mb\\x00");
 * ```
 */
export function escapeControls(text: string): string {
  CONTROLS.lastIndex = 0;
  if (!CONTROLS.test(text)) return text;
  return text.replace(CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/**
 * Percent-encodes a path for a control line: space, `%`, control characters and non-ASCII
 * are escaped; `/` and other printable ASCII stay as they are.
 *
 * @param path A plain path (`my notes.txt`).
 * @returns The encoded path (`my%20notes.txt`).
 * @example
 * ```ts
 * import { encodePath } from "./encoder.ts";
 * console.assert(encodePath("a b/é%.txt") === "a%20b/%C3%A9%25.txt");
 * ```
 */
export function encodePath(path: string): string {
  let out = "";
  for (const byte of encoder.encode(path)) {
    if (byte <= 0x20 || byte >= 0x7f || byte === 0x25) {
      out += "%" + byte.toString(16).toUpperCase().padStart(2, "0");
    } else out += String.fromCharCode(byte);
  }
  return out;
}

/**
 * Decodes a percent-encoded path, once.
 *
 * @param text The path as it appeared on the wire.
 * @returns The plain path, or `null` for a bad escape or bytes that are not UTF-8.
 * @example
 * ```ts
 * import { decodePath } from "./encoder.ts";
 * console.assert(decodePath("my%20notes.txt") === "my notes.txt");
 * console.assert(decodePath("bad%zz") === null);
 * ```
 */
export function decodePath(text: string): string | null {
  if (!text.includes("%")) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      // A whole code point: indexing one UTF-16 unit would split a surrogate pair.
      const char = String.fromCodePoint(text.codePointAt(i)!);
      bytes.push(...encoder.encode(char));
      i += char.length - 1;
    }
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
  } catch {
    return null;
  }
}

/**
 * Sized frames encoded back to back into one growing buffer: `append(head, p)` adds the bytes of
 * `encodeFrame(head, p)`. Heads are given as bytes (see {@linkcode FrameBatch.head}), so a head
 * used many times (`MSG room nick`) is encoded once. Used for room fan-out: one buffer delivered
 * to every member.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameBatch } from "./encoder.ts";
 * const batch = new FrameBatch();
 * const ann = FrameBatch.head("MSG lobby ann");
 * batch.append(ann, new Uint8Array([104, 105]));
 * batch.append(FrameBatch.head("MSG lobby bob"), new Uint8Array([33]));
 * const one = [...encodeFrame("MSG lobby ann", new Uint8Array([104, 105])),
 *   ...encodeFrame("MSG lobby bob", new Uint8Array([33]))];
 * console.assert(batch.bytes().join() === one.join());
 * ```
 */
export class FrameBatch {
  #buf: Uint8Array = new Uint8Array(0);
  #length = 0;
  #start = 0;

  /**
   * Encodes a frame's head for {@linkcode FrameBatch.append}.
   *
   * @param head The verb and arguments, without the byte count.
   * @returns The head's bytes and the space after it.
   */
  static head(head: string): Uint8Array {
    return encoder.encode(`${head} `);
  }

  /** Bytes encoded so far. */
  get length(): number {
    return this.#length;
  }

  /**
   * Appends one frame.
   *
   * @param head From {@linkcode FrameBatch.head}.
   * @param payload The frame's payload (copied).
   * @param id A room message's id, written as `id <id> ` between the head and the byte count
   *   (`MSG room from id 7 2`); none when negative.
   */
  append(head: Uint8Array, payload: Uint8Array, id = -1): void {
    const n = payload.length;
    const need = this.#length + head.length + 36 + n;
    if (need > this.#buf.length) {
      const grown = new Uint8Array(Math.max(need, 4096, this.#buf.length * 2));
      grown.set(this.#buf.subarray(0, this.#length));
      this.#buf = grown;
    }
    const buf = this.#buf;
    let at = this.#length;
    this.#start = at;
    buf.set(head, at);
    at += head.length;
    if (id >= 0) {
      buf[at++] = 105; // "id "
      buf[at++] = 100;
      buf[at++] = 32;
      at = writeDecimal(buf, at, id);
      buf[at++] = 32;
    }
    // The byte count in decimal, then CRLF, the payload, CRLF.
    at = writeDecimal(buf, at, n);
    buf[at++] = 13;
    buf[at++] = 10;
    buf.set(payload, at);
    at += n;
    buf[at++] = 13;
    buf[at++] = 10;
    this.#length = at;
  }

  /** The bytes of the frame appended last (a view: copy it to keep it past the next append). */
  last(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#length);
  }

  /** Where the frame appended last starts in {@linkcode FrameBatch.buffer} (it ends at `length`). */
  get lastStart(): number {
    return this.#start;
  }

  /** The buffer frames are written into (valid until the next append; bytes past `length` are not frames). */
  get buffer(): Uint8Array {
    return this.#buf;
  }

  /**
   * Empties the batch, keeping its buffer for the next frames: only for bytes nobody kept (a
   * scratch batch whose frames were copied).
   */
  reset(): void {
    this.#length = 0;
    this.#start = 0;
  }

  /** The frames so far: a view of the buffer (do not append after handing it out). */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.#length);
  }
}

/** Writes a non-negative integer in decimal at `at`; returns the offset after it. */
function writeDecimal(buf: Uint8Array, at: number, value: number): number {
  if (value > 0x7fffffff) {
    const text = String(value);
    for (let i = 0; i < text.length; i++) buf[at + i] = text.charCodeAt(i);
    return at + text.length;
  }
  // Integer arithmetic: `| 0` instead of Math.floor (a fifth of a publish's time otherwise).
  let digits = 1;
  for (let v = value; v >= 10; v = (v / 10) | 0) digits++;
  for (let i = digits - 1, v = value; i >= 0; i--) {
    const q = (v / 10) | 0;
    buf[at + i] = 48 + v - q * 10;
    v = q;
  }
  return at + digits;
}
