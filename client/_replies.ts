/**
 * Reading replies: the parsers of one-frame replies, and replies that bring frames of their own
 * (`HISTORY room epoch first last K` and its K `MSG` frames): how a request says what follows its
 * head, and the collector of those frames.
 *
 * @module
 */

import type { Frame } from "../lib/protocol/frame.ts";

const text = new TextDecoder();

// Reply parsers: they run in the read loop, while a payload view is still valid.

/** The reply frame itself, its payload copied. */
export function ownFrame(frame: Frame): Frame {
  return frame.payload === null ? frame : { ...frame, payload: frame.payload.slice() };
}

/** The reply's first argument (`OK alice`). */
export function firstArg(frame: Frame): string | undefined {
  return frame.args[0];
}

/** The reply's payload as JSON (`WHO`, `ROOMS`, `LIST`). */
export function payloadJson(frame: Frame): unknown {
  return JSON.parse(text.decode(frame.payload ?? new Uint8Array(0)));
}

/** The reply's payload as text (`HELP`). */
export function payloadText(frame: Frame): string {
  return text.decode(frame.payload ?? new Uint8Array(0));
}

/**
 * A reply followed by frames of its own: those frames belong to the reply, not to the pushes.
 */
export interface ReplyWithFrames<T> {
  /** The verb of the frames that follow the head (`MSG`); any other frame there is a protocol error. */
  verb: string;
  /**
   * How many frames follow the head. It runs before any of them is read and must bound what it
   * accepts; when it throws, framing is lost and the connection closes.
   */
  count(head: Frame): number;
  /**
   * Turns the head and its frames (payloads copied) into the result; when it throws, the request
   * rejects with that error and the connection goes on.
   */
  parse(head: Frame, frames: Frame[]): T;
}

/** The frames of one {@linkcode ReplyWithFrames} as they arrive. */
export class FrameCollector<T> {
  readonly #head: Frame;
  readonly #reply: ReplyWithFrames<T>;
  readonly #maxBytes: number;
  readonly #frames: Frame[] = [];
  #left: number;
  #bytes = 0;

  /**
   * Starts collecting after a head.
   *
   * @param head The reply's first frame.
   * @param reply What follows it.
   * @param maxBytes Most payload bytes the frames may hold together.
   * @throws {Error} When `count` throws or gives no whole number: framing is lost.
   */
  constructor(head: Frame, reply: ReplyWithFrames<T>, maxBytes: number) {
    this.#head = head;
    this.#reply = reply;
    this.#maxBytes = maxBytes;
    const count = reply.count(head);
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(`${head.verb} announces ${count} frames`);
    }
    this.#left = count;
  }

  /** True once every frame arrived. */
  get done(): boolean {
    return this.#left === 0;
  }

  /**
   * Takes the next frame. Past `maxBytes` frames are still counted off (framing is kept) but no
   * longer kept.
   *
   * @param frame The frame (its payload is copied).
   * @throws {Error} When its verb is not the one expected: framing is lost.
   */
  add(frame: Frame): void {
    if (frame.verb !== this.#reply.verb) {
      throw new TypeError(
        `${frame.verb} among the ${this.#reply.verb} frames of a ${this.#head.verb} reply`,
      );
    }
    this.#left--;
    this.#bytes += frame.payload?.length ?? 0;
    if (this.#bytes <= this.#maxBytes) {
      this.#frames.push({ ...frame, payload: frame.payload?.slice() ?? null });
    }
  }

  /**
   * The result, once done.
   *
   * @returns What `parse` made of the frames.
   * @throws {RangeError} When the frames held more than `maxBytes`.
   * @throws {Error} Whatever `parse` threw.
   */
  result(): T {
    if (this.#bytes > this.#maxBytes) {
      throw new RangeError(
        `Cannot read the ${this.#head.verb} reply: its frames hold ${this.#bytes} bytes, over maxPayload ${this.#maxBytes}`,
      );
    }
    return this.#reply.parse(this.#head, this.#frames);
  }
}
