/**
 * The Redis engine's room logs: per room an epoch and the last id (`:meta`) and the messages in a
 * Redis Stream (`:log`), one entry per batch a sender published in one step. The `SAY` script
 * gives the ids, encodes the frames, keeps them and publishes them at once, so ids are
 * contiguous and shared by every node, and a `HISTORY` reply is the bytes members got.
 *
 * Bounds: `--history-size` messages per room (trimmed as the log grows), `--history-ttl` (older
 * entries are dropped before a page is read; a room's keys expire that long after its last
 * message, or after its members left). `--history-memory` does not apply: Redis's own
 * `maxmemory` bounds what Redis holds.
 *
 * @module
 */

import type { HistoryPage, HistoryQuery, RoomLog, Said, SayBatch } from "../../core/engine.ts";
import type { Keys } from "./channels.ts";
import type { RedisLink } from "./link.ts";
import { HAS_LOG, HISTORY, LAST, NEXT, PUT, SAY } from "./scripts.ts";

/** How much history the logs keep. */
export interface RedisLogOptions {
  /** Messages per room (0: none). */
  readonly size: number;
  /** Milliseconds a message is kept. */
  readonly ttl: number;
}

/** A fresh epoch: the time and some randomness. */
function newEpoch(): string {
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `${Date.now().toString(36)}-${random[0]!.toString(36)}${random[1]!.toString(36)}`;
}

/** Room logs in Redis. */
export class RedisLog implements RoomLog {
  readonly #link: RedisLink;
  readonly #keys: Keys;
  readonly #size: string;
  readonly #ttl: string;
  readonly #node: string;

  constructor(link: RedisLink, keys: Keys, node: string, options: RedisLogOptions) {
    this.#link = link;
    this.#node = node;
    this.#keys = keys;
    this.#size = String(options.size);
    this.#ttl = String(Math.max(1, options.ttl));
  }

  /** Publishes and keeps one sender's messages (see {@linkcode EngineNode.say}). */
  async say(room: string, batch: SayBatch): Promise<Said> {
    const r = await this.#link.eval(SAY, [this.#keys.room(room)], [
      batch.head,
      batch.sender,
      batch.lengths.join(","),
      batch.payloads,
      this.#size,
      this.#ttl,
      newEpoch(),
      this.#node,
    ]) as unknown[];
    return { first: Number(r[0]), remote: Number(r[1]) };
  }

  async next(room: string): Promise<number> {
    return Number(await this.#link.eval(NEXT, [this.#keys.room(room)], [newEpoch(), this.#ttl]));
  }

  async put(room: string, id: number, frame: Uint8Array, start = 0, end = frame.length) {
    await this.#link.eval(PUT, [this.#keys.room(room)], [
      String(id),
      frame.slice(start, end),
      this.#size,
      this.#ttl,
    ]);
  }

  async has(room: string): Promise<boolean> {
    return Number(await this.#link.eval(HAS_LOG, [this.#keys.room(room)], [])) === 1;
  }

  async last(room: string): Promise<number> {
    return Number(await this.#link.eval(LAST, [this.#keys.room(room)], []));
  }

  async history(room: string, query: HistoryQuery): Promise<HistoryPage> {
    const after = query.after ?? -1;
    const r = await this.#link.eval(HISTORY, [this.#keys.room(room)], [
      String(query.limit),
      String(after),
      this.#size,
      this.#ttl,
      newEpoch(),
    ]) as unknown[];
    const epoch = String(r[0]);
    const last = Number(r[1]);
    const first = Number(r[2]);
    let frames: Uint8Array[] = [];
    for (let i = 3; i + 1 < r.length; i += 2) {
      let id = Number(r[i]);
      const b = r[i + 1] as Uint8Array;
      for (const frame of splitFrames(new Uint8Array(b.buffer, b.byteOffset, b.byteLength))) {
        if (id >= first && id > after) frames.push(frame);
        id++;
      }
    }
    if (frames.length > query.limit) {
      frames = after >= 0 ? frames.slice(0, query.limit) : frames.slice(-query.limit);
    }
    return { epoch, first, last, frames };
  }
}

/**
 * The frames of one log entry: `MSG room nick id N <length>\r\n<payload>\r\n` back to back.
 * @returns Views into `bytes`.
 */
export function splitFrames(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let p = 0;
  while (p < bytes.length) {
    const nl = bytes.indexOf(10, p);
    if (nl < 0) break;
    // The length is the last token of the head line (ASCII digits before "\r\n").
    let q = nl - 2;
    let length = 0;
    let scale = 1;
    while (q >= p && bytes[q]! >= 48 && bytes[q]! <= 57) {
      length += (bytes[q]! - 48) * scale;
      scale *= 10;
      q--;
    }
    const end = nl + 1 + length + 2;
    out.push(bytes.subarray(p, end));
    p = end;
  }
  return out;
}
