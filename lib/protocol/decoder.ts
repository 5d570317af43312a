/**
 * A pure, push-style decoder of protocol v1 frames: no I/O, every length bounded before a byte
 * is buffered, payloads handed out as `subarray` views and copied only when they span chunks.
 *
 * @module
 */

import { ErrorCode, ProtocolError } from "./errors.ts";
import type { DecodeEvent, Frame, PayloadKind, StreamStart } from "./frame.ts";
import { CLIENT_PAYLOADS } from "./verbs.ts";
import {
  asciiArgs,
  asciiText,
  decodeText,
  digitsValue,
  findInline,
  isDigits,
  knownVerb,
  splitArgs,
} from "./_bytes.ts";
import { DEFAULT_LIMITS } from "./limits.ts";

/** Options of {@linkcode Decoder}. */
export interface DecoderOptions {
  /**
   * Longest control line in bytes before the LF, a CR excluded.
   * @default {4096}
   */
  maxLine?: number;
  /**
   * Largest buffered payload (`text` and `sized` verbs).
   * @default {1048576}
   */
  maxPayload?: number;
  /**
   * Largest streamed payload (`stream` verbs). The server checks its own `max_file_size` itself,
   * so that it can refuse politely; this bound only keeps sizes exact integers.
   * @default {Number.MAX_SAFE_INTEGER}
   */
  maxStream?: number;
  /**
   * Which verbs carry payloads, and how.
   * @default {CLIENT_PAYLOADS} (the server's view: `SAY`, `TELL`, `PUT`)
   */
  payloads?: ReadonlyMap<string, PayloadKind>;
}

const LF = 10;
const CR = 13;
const SPACE = 32;
const MAX_DIGITS = 15;

const State = {
  Line: 0,
  Payload: 1,
  Stream: 2,
  Trailer: 3,
  TrailerCr: 4,
  Dead: 5,
} as const;
type State = typeof State[keyof typeof State];

const strictText = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const looseText = new TextDecoder("utf-8", { ignoreBOM: true });

function checkLimit(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(
      `Cannot create decoder: ${name} must be a non-negative integer, got ${value}`,
    );
  }
  return value;
}

/**
 * Decodes a byte stream into frames. Feed bytes with {@linkcode Decoder.push}, then call
 * {@linkcode Decoder.next} until it returns `undefined`; only then push the next chunk.
 * Views it hands out (payloads, stream data) are valid until that next push.
 *
 * Malformed input never throws: it yields `{ type: "error" }` events. A fatal one (framing
 * lost: a line past `maxLine`, a byte count that is not digits only or is past the limit, a payload
 * not followed by LF) ends the stream: `next()` returns `undefined` from then on.
 *
 * @example
 * ```ts
 * import { Decoder } from "./decoder.ts";
 * const d = new Decoder();
 * d.push(new TextEncoder().encode("SAY lobby 5\nhello\nSAY lobby :hi there\n"));
 * const a = d.next(), b = d.next();
 * console.assert(a?.type === "frame" && a.args[0] === "lobby");
 * console.assert(b?.type === "frame" && new TextDecoder().decode(b.payload!) === "hi there");
 * console.assert(d.next() === undefined);
 * ```
 */
export class Decoder {
  readonly #maxLine: number;
  readonly #maxPayload: number;
  readonly #maxStream: number;
  readonly #payloads: ReadonlyMap<string, PayloadKind>;

  #state: State = State.Line;
  #chunk: Uint8Array = new Uint8Array(0);
  #pos = 0;
  // A partial control line carried over from an earlier chunk.
  #lineBuf: Uint8Array | null = null;
  #lineLen = 0;
  // The frame whose payload is being read.
  #head: { verb: string; args: string[]; badText: boolean } | null = null;
  #remaining = 0;
  #payload: Uint8Array | null = null;
  #payloadFill = 0;
  #payloadIsView = false;
  #streaming = false;

  /** @param options Limits and the payload verbs; see {@linkcode DecoderOptions}. */
  constructor(options: DecoderOptions = {}) {
    this.#maxLine = checkLimit("maxLine", options.maxLine ?? DEFAULT_LIMITS.maxLine);
    this.#maxPayload = checkLimit("maxPayload", options.maxPayload ?? DEFAULT_LIMITS.maxPayload);
    this.#maxStream = checkLimit("maxStream", options.maxStream ?? Number.MAX_SAFE_INTEGER);
    this.#payloads = options.payloads ?? CLIENT_PAYLOADS;
  }

  /** True after a fatal error: the decoder yields nothing more. */
  get dead(): boolean {
    return this.#state === State.Dead;
  }

  /** True while part of a control line is held, waiting for its end (its LF). */
  get inLine(): boolean {
    return this.#state === State.Line && this.#lineLen > 0;
  }

  /** Bytes of the current chunk not yet decoded. */
  get buffered(): number {
    return this.#chunk.length - this.#pos + this.#lineLen;
  }

  /**
   * Gives the decoder the next chunk of bytes. The previous chunk must be used up
   * (`next()` returned `undefined`).
   *
   * @param chunk Bytes read from the stream; the decoder keeps views into it until the next push.
   * @throws {Error} When the previous chunk was not fully decoded (a programming error).
   */
  push(chunk: Uint8Array): void {
    if (this.#pos < this.#chunk.length && this.#state !== State.Dead) {
      throw new Error("Cannot push: call next() until it returns undefined first");
    }
    this.#chunk = chunk;
    this.#pos = 0;
  }

  /**
   * Decodes the next event from the bytes pushed so far.
   *
   * @returns The next event, or `undefined` when more bytes are needed (or after a fatal error).
   */
  next(): DecodeEvent | undefined {
    for (;;) {
      switch (this.#state) {
        case State.Line: {
          const event = this.#line();
          if (event !== null) return event;
          break;
        }
        case State.Payload: {
          const chunk = this.#chunk;
          const avail = chunk.length - this.#pos;
          if (avail === 0) return undefined;
          if (this.#payload === null) {
            if (avail >= this.#remaining) {
              this.#payload = chunk.subarray(this.#pos, this.#pos + this.#remaining);
              this.#payloadIsView = true;
              this.#pos += this.#remaining;
              this.#remaining = 0;
              this.#state = State.Trailer;
              break;
            }
            this.#payload = new Uint8Array(this.#remaining);
            this.#payloadFill = 0;
            this.#payloadIsView = false;
          }
          const take = Math.min(avail, this.#remaining);
          this.#payload.set(chunk.subarray(this.#pos, this.#pos + take), this.#payloadFill);
          this.#payloadFill += take;
          this.#pos += take;
          this.#remaining -= take;
          if (this.#remaining === 0) this.#state = State.Trailer;
          break;
        }
        case State.Stream: {
          if (this.#remaining === 0) {
            this.#state = State.Trailer;
            break;
          }
          const chunk = this.#chunk;
          const avail = chunk.length - this.#pos;
          if (avail === 0) return undefined;
          const take = Math.min(avail, this.#remaining);
          const bytes = chunk.subarray(this.#pos, this.#pos + take);
          this.#pos += take;
          this.#remaining -= take;
          return { type: "data", bytes };
        }
        case State.Trailer:
        case State.TrailerCr: {
          const chunk = this.#chunk;
          if (this.#pos >= chunk.length) {
            // The payload is complete but its LF is in the next chunk: a view would not survive.
            if (this.#payloadIsView && this.#payload !== null) {
              this.#payload = this.#payload.slice();
              this.#payloadIsView = false;
            }
            return undefined;
          }
          const byte = chunk[this.#pos++];
          if (byte === CR && this.#state === State.Trailer) {
            this.#state = State.TrailerCr;
            break;
          }
          if (byte !== LF) {
            return this.#fail(
              ErrorCode.BadRequest,
              "Cannot read payload: its bytes must be followed by LF; check the byte count",
            );
          }
          return this.#finishPayload();
        }
        default:
          return undefined;
      }
    }
  }

  #finishPayload(): DecodeEvent {
    this.#state = State.Line;
    const head = this.#head!;
    this.#head = null;
    if (this.#streaming) {
      this.#streaming = false;
      return { type: "end" };
    }
    const payload = this.#payload!;
    this.#payload = null;
    this.#payloadIsView = false;
    return { type: "frame", verb: head.verb, args: head.args, payload, badText: head.badText };
  }

  #fail(code: ErrorCode, message: string): DecodeEvent {
    this.#state = State.Dead;
    this.#lineBuf = null;
    this.#lineLen = 0;
    this.#payload = null;
    this.#head = null;
    this.#chunk = new Uint8Array(0);
    this.#pos = 0;
    return { type: "error", error: new ProtocolError(code, message, true) };
  }

  #tooLong(): DecodeEvent {
    return this.#fail(
      ErrorCode.TooLarge,
      `Cannot read command: line is longer than max_line (${this.#maxLine} bytes)`,
    );
  }

  // Returns an event, or null to go on in the loop (state changed), or undefined for "need more".
  #line(): DecodeEvent | undefined | null {
    const chunk = this.#chunk;
    const start = this.#pos;
    if (start >= chunk.length) return undefined;
    const lf = chunk.indexOf(LF, start);
    if (lf < 0) {
      const add = chunk.length - start;
      // The line may still end in CR, which does not count: allow one byte more.
      if (this.#lineLen + add > this.#maxLine + 1) return this.#tooLong();
      this.#carry(chunk.subarray(start));
      this.#pos = chunk.length;
      return undefined;
    }
    this.#pos = lf + 1;
    let line = chunk;
    let from = start;
    let end = lf;
    if (this.#lineLen > 0) {
      if (this.#lineLen + (lf - start) > this.#maxLine + 1) return this.#tooLong();
      this.#carry(chunk.subarray(start, lf));
      line = this.#lineBuf!.slice(0, this.#lineLen);
      this.#lineBuf = null;
      this.#lineLen = 0;
      from = 0;
      end = line.length;
    }
    // The line is line[from, end): no view is made of it, only of an inline payload.
    if (end > from && line[end - 1] === CR) end--;
    if (end - from > this.#maxLine) return this.#tooLong();
    if (end === from) return null;
    return this.#parse(line, from, end);
  }

  #carry(bytes: Uint8Array): void {
    const need = this.#lineLen + bytes.length;
    let buf = this.#lineBuf;
    if (buf === null || buf.length < need) {
      const grown = new Uint8Array(
        Math.min(Math.max(need, (buf?.length ?? 64) * 2), this.#maxLine + 2),
      );
      if (buf !== null) grown.set(buf.subarray(0, this.#lineLen));
      buf = this.#lineBuf = grown;
    }
    buf.set(bytes, this.#lineLen);
    this.#lineLen = need;
  }

  #parse(line: Uint8Array, from: number, end: number): DecodeEvent | null {
    // The verb: skip leading spaces, read to the next space.
    let i = from;
    while (i < end && line[i] === SPACE) i++;
    if (i === end) return null;
    let verbEnd = line.indexOf(SPACE, i);
    if (verbEnd < 0 || verbEnd > end) verbEnd = end;
    let badText = false;
    let verb = knownVerb(line, i, verbEnd) ?? asciiText(line, i, verbEnd)?.toUpperCase() ?? null;
    if (verb === null) {
      try {
        verb = strictText.decode(line.subarray(i, verbEnd)).toUpperCase();
      } catch {
        verb = looseText.decode(line.subarray(i, verbEnd)).toUpperCase();
        badText = true;
      }
    }
    const kind = this.#payloads.get(verb);

    if (kind === "text") {
      const mark = findInline(line, verbEnd, end);
      if (mark >= 0) {
        let args = asciiArgs(line, verbEnd, mark);
        let bad = badText;
        if (args === null) {
          const argText = decodeText(line.subarray(verbEnd, mark));
          args = splitArgs(argText.text);
          bad ||= argText.bad;
        }
        const payload = line.subarray(mark + 2, end);
        try {
          strictText.decode(payload);
        } catch {
          bad = true;
        }
        return { type: "frame", verb, args, payload, badText: bad };
      }
    }

    // `SAY room N`, `PUT path N` need two arguments; server replies such as `WHO N` need one.
    const minArgs = kind === "sized" ? 1 : 2;
    let args: string[] | null = null;
    let count = "";
    let size = 0;
    let countAt = 0;
    if (kind !== undefined) {
      // Fast path for `VERB word... N` in ASCII: the byte count is read from its bytes.
      let e = end;
      while (e > verbEnd && line[e - 1] === SPACE) e--;
      let s = e;
      while (s > verbEnd && line[s - 1]! >= 48 && line[s - 1]! <= 57) s--;
      if (s < e && line[s - 1] === SPACE) {
        const rest = asciiArgs(line, verbEnd, s);
        if (rest !== null && rest.length + 1 >= minArgs) {
          args = rest;
          countAt = s;
          size = e - s > MAX_DIGITS ? Infinity : digitsValue(line, s, e);
        }
      }
    }
    if (args === null) {
      args = asciiArgs(line, verbEnd, end);
      if (args === null) {
        const rest = decodeText(line.subarray(verbEnd, end));
        badText ||= rest.bad;
        args = splitArgs(rest.text);
      }
      if (kind === undefined || args.length < minArgs) {
        return { type: "frame", verb, args, payload: null, badText };
      }

      // A payload verb with a byte count in the last position.
      count = args.pop()!;
      if (kind === "text" && !/^[+-]?[0-9]+$/.test(count)) {
        // Words where a count or `:text` should be (`SAY lobby hello`): no payload was announced,
        // so framing holds; the command gets its ERR 400 and the connection goes on.
        args.push(count);
        return { type: "frame", verb, args, payload: null, badText };
      }
      if (!isDigits(count)) {
        const hint = kind === "text"
          ? ` (to type text, write ${verb} ${args[0] ?? "room"} :text)`
          : "";
        return this.#fail(
          ErrorCode.BadRequest,
          `Cannot read ${verb}: byte count "${count.slice(0, 32)}" is not digits only${hint}`,
        );
      }
      size = count.length > MAX_DIGITS ? Infinity : Number(count);
    }
    const limit = kind === "stream" ? this.#maxStream : this.#maxPayload;
    if (size > limit) {
      // The fast path read the count from its bytes: its text, for the message (digits: ASCII).
      if (args !== null && count === "") {
        let e = countAt;
        while (e < end && line[e] !== SPACE && e - countAt < 20) e++;
        count = String.fromCharCode(...line.subarray(countAt, e));
      }
      const name = kind === "stream" ? "the largest size" : "max_payload";
      return this.#fail(
        ErrorCode.TooLarge,
        `Cannot read ${verb}: payload of ${
          count.slice(0, 20)
        } bytes is over ${name} (${limit} bytes)`,
      );
    }
    this.#head = { verb, args, badText };
    this.#remaining = size;
    if (kind === "stream") {
      this.#streaming = true;
      this.#state = State.Stream;
      const start: StreamStart = { type: "stream", verb, args, size, badText };
      return start;
    }
    this.#payload = null;
    this.#state = State.Payload;
    return null;
  }
}

/**
 * Decodes a whole byte string into its events: a convenience for tests and tools.
 *
 * @param bytes Complete input.
 * @param options Decoder options.
 * @returns Every event, payload views copied so they stay valid.
 * @example
 * ```ts
 * import { decodeAll } from "./decoder.ts";
 * const events = decodeAll(new TextEncoder().encode("PING\r\nWHO\n"));
 * console.assert(events.length === 2);
 * ```
 */
export function decodeAll(bytes: Uint8Array, options?: DecoderOptions): DecodeEvent[] {
  const decoder = new Decoder(options);
  decoder.push(bytes);
  const out: DecodeEvent[] = [];
  for (let e = decoder.next(); e !== undefined; e = decoder.next()) out.push(copyEvent(e));
  return out;
}

/**
 * Copies the views an event holds, so it outlives the chunk it came from.
 *
 * @param event An event from {@linkcode Decoder.next}.
 * @returns The same event with its bytes copied.
 */
export function copyEvent(event: DecodeEvent): DecodeEvent {
  if (event.type === "frame" && event.payload !== null) {
    const frame: Frame = { ...event, payload: event.payload.slice() };
    return frame;
  }
  if (event.type === "data") return { type: "data", bytes: event.bytes.slice() };
  return event;
}
