/**
 * The `HISTORY room [limit] [after id]` request behind `Client.history`: the command, checked up
 * front, and the reading of its reply (the head, then exactly K `MSG` frames), bounded by the
 * limit asked for.
 *
 * @module
 */

import { encodeLine } from "../lib/protocol/encoder.ts";
import type { Frame } from "../lib/protocol/frame.ts";
import { HISTORY_DEFAULT_COUNT, isValidRoom } from "../lib/protocol/limits.ts";
import { roomMessage } from "./_push.ts";
import type { ReplyWithFrames } from "./_replies.ts";
import type { HistoryOptions, HistoryPage } from "./types.ts";

/** The largest `limit` the client asks for (the server caps it lower, at `max_history_reply`). */
export const MAX_HISTORY_LIMIT = 100_000;

const EPOCH_RE = /^[A-Za-z0-9_-]{1,32}$/;
const COUNT_RE = /^[0-9]{1,15}$/;

function count(word: string | undefined, what: string): number {
  if (word === undefined || !COUNT_RE.test(word)) {
    throw new TypeError(
      `Cannot read HISTORY: ${what} "${(word ?? "").slice(0, 20)}" is not a count`,
    );
  }
  return Number(word);
}

/**
 * The command and the reply reader of one `HISTORY` request.
 *
 * @param room The room.
 * @param options The limit and where to start.
 * @returns The encoded command and how to read its reply.
 * @throws {RangeError} When the room name, `limit` or `after` is out of range (nothing is sent).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { historyRequest } from "./_history.ts";
 * const { bytes } = historyRequest("ops", { limit: 10, after: 41 });
 * assert.equal(new TextDecoder().decode(bytes), "HISTORY ops 10 after 41\r\n");
 * assert.throws(() => historyRequest("ops", { limit: -1 }), RangeError);
 * ```
 */
export function historyRequest(
  room: string,
  options: HistoryOptions = {},
): { bytes: Uint8Array; reply: ReplyWithFrames<HistoryPage> } {
  if (!isValidRoom(room)) {
    throw new RangeError(`Cannot read history of "${room}": not a room name`);
  }
  const limit = options.limit ?? HISTORY_DEFAULT_COUNT;
  if (!Number.isSafeInteger(limit) || limit < 0 || limit > MAX_HISTORY_LIMIT) {
    throw new RangeError(
      `Cannot read history of ${room}: limit must be a whole number from 0 to ${MAX_HISTORY_LIMIT}, got ${limit}`,
    );
  }
  const after = options.after;
  if (after !== undefined && (!Number.isSafeInteger(after) || after < 0)) {
    throw new RangeError(
      `Cannot read history of ${room}: after must be a whole number from 0, got ${after}`,
    );
  }
  const line = after === undefined
    ? `HISTORY ${room} ${limit}`
    : `HISTORY ${room} ${limit} after ${after}`;
  return {
    bytes: encodeLine(line),
    reply: {
      verb: "MSG",
      count(head: Frame): number {
        if (head.verb !== "HISTORY" || head.args.length !== 5) {
          throw new TypeError(`Cannot read HISTORY: expected "HISTORY room epoch first last K"`);
        }
        const k = count(head.args[4], "the count");
        // The only bound that matters before the frames are read: no more than was asked for.
        if (k > limit) {
          throw new RangeError(`Cannot read HISTORY: ${k} messages, ${limit} asked for`);
        }
        return k;
      },
      parse(head: Frame, frames: Frame[]): HistoryPage {
        const [name, epoch] = head.args;
        if (epoch === undefined || !EPOCH_RE.test(epoch)) {
          throw new TypeError(
            `Cannot read HISTORY: the epoch "${
              (epoch ?? "").slice(0, 40)
            }" is not 1-32 of A-Z a-z 0-9 _ -`,
          );
        }
        const first = count(head.args[2], "first");
        const last = count(head.args[3], "last");
        if (first > last) {
          throw new TypeError(`Cannot read HISTORY: first ${first} after last ${last}`);
        }
        const messages = frames.map(roomMessage);
        let previous = after ?? 0;
        for (const m of messages) {
          if (m.room.toLowerCase() !== room.toLowerCase()) {
            throw new TypeError(`Cannot read HISTORY of ${room}: a message of ${m.room} in it`);
          }
          if (m.id <= previous || m.id < first || m.id > last) {
            throw new TypeError(`Cannot read HISTORY of ${room}: id ${m.id} out of order or range`);
          }
          previous = m.id;
        }
        return { room: name ?? room, epoch, first, last, messages };
      },
    },
  };
}
