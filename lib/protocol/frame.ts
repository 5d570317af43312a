/**
 * Frame types of protocol v1: what the decoder yields and the encoder writes.
 *
 * @module
 */

import type { ProtocolError } from "./errors.ts";

/** A complete frame: a control line and, for payload verbs, its payload. */
export interface Frame {
  /** Discriminant. */
  readonly type: "frame";
  /** The verb, upper-cased (`SAY`). */
  readonly verb: string;
  /** The arguments after the verb; the byte count or inline payload is not among them. */
  readonly args: string[];
  /**
   * The payload, or `null` when the line carried none. It may be a view into the chunk
   * given to `push()`: use it (or copy it) before the next `push()`.
   */
  readonly payload: Uint8Array | null;
  /** True when the control line was not valid UTF-8 (framing was kept; answer `ERR 400`). */
  readonly badText: boolean;
}

/** The head of a frame whose payload is streamed (`PUT`, `FILE`): `data` events follow, then `end`. */
export interface StreamStart {
  /** Discriminant. */
  readonly type: "stream";
  /** The verb, upper-cased (`PUT`). */
  readonly verb: string;
  /** The arguments after the verb, without the byte count. */
  readonly args: string[];
  /** The number of payload bytes that follow. */
  readonly size: number;
  /** True when the control line was not valid UTF-8. */
  readonly badText: boolean;
}

/** A piece of a streamed payload: a view, valid until the next `push()`. */
export interface StreamData {
  /** Discriminant. */
  readonly type: "data";
  /** The bytes. */
  readonly bytes: Uint8Array;
}

/** The end of a streamed payload, after its trailing LF was checked. */
export interface StreamEnd {
  /** Discriminant. */
  readonly type: "end";
}

/** A malformed input. When `error.fatal` is true the decoder stops for good. */
export interface DecodeFailure {
  /** Discriminant. */
  readonly type: "error";
  /** What went wrong, with its `ERR` code. */
  readonly error: ProtocolError;
}

/** Everything `Decoder.next()` can return. */
export type DecodeEvent = Frame | StreamStart | StreamData | StreamEnd | DecodeFailure;

/**
 * How a verb carries a payload:
 * - `text`: sized, or inline after ` :` (client commands `SAY`, `TELL`);
 * - `sized`: sized only, buffered whole (server pushes and replies such as `MSG`, `WHO`);
 * - `stream`: sized only, handed out in pieces (`PUT`, `FILE`).
 */
export type PayloadKind = "text" | "sized" | "stream";
