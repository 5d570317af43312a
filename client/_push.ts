/**
 * The pushes of protocol 2 as values: the {@linkcode Push} union, and the reading of a `MSG` frame
 * (a push, or one of a `HISTORY` reply's messages) into a {@linkcode RoomMessage}.
 *
 * @module
 */

import type { Frame } from "../lib/protocol/frame.ts";

/** A room message: a `MSG room from id <id> N` push, or one of the messages of a `HISTORY` reply. */
export interface RoomMessage {
  /** Discriminant. */
  type: "msg";
  /** The room, as the server spells it. */
  room: string;
  /** The sender's nick. */
  from: string;
  /** Its id in the room: 1, 2, 3 ... within the room's epoch (0 from a protocol 1 server). */
  id: number;
  /** The payload (a copy: it stays valid). */
  payload: Uint8Array;
  /** The payload as UTF-8 text. */
  text: string;
}

/** A push: a frame the server sent on its own. */
export type Push =
  | RoomMessage
  | { type: "dm"; from: string; payload: Uint8Array; text: string }
  | { type: "joined"; room: string; nick: string }
  | { type: "left"; room: string; nick: string }
  /** Somebody in a room shared with us (other than lobby) changed nick from `old` to `nick`. */
  | { type: "renamed"; old: string; nick: string }
  | { type: "bye"; reason: string };

const text = new TextDecoder();
const ID_RE = /^[0-9]{1,15}$/;

/**
 * Reads a room message frame: `MSG room from id <id>` as protocol 2 servers write it (the word
 * `id`, then the id; `MSG room from <id>` is read too), or `MSG room from` from a protocol 1 server
 * (id 0). The byte count is not among the frame's arguments.
 *
 * @param frame The frame; its payload is copied.
 * @returns The message.
 * @throws {TypeError} When the arguments are not a room, a nick and an id.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { roomMessage } from "./_push.ts";
 * const payload = new TextEncoder().encode("hi");
 * const args = ["ops", "bob", "id", "7"];
 * const m = roomMessage({ type: "frame", verb: "MSG", args, payload, badText: false });
 * assert.equal(m.id, 7);
 * assert.equal(m.text, "hi");
 * ```
 */
export function roomMessage(frame: Frame): RoomMessage {
  const a = frame.args;
  const [room, from] = a;
  let id: string | undefined;
  if (a.length === 4 && a[2] === "id") id = a[3];
  else if (a.length === 3) id = a[2];
  else if (a.length !== 2) {
    throw new TypeError(
      `Cannot read MSG: expected "MSG room from id <id> N", got ${a.length} words`,
    );
  }
  if (id !== undefined && !ID_RE.test(id)) {
    throw new TypeError(`Cannot read MSG: the id "${id.slice(0, 20)}" is not a whole number`);
  }
  const payload = frame.payload ?? new Uint8Array(0);
  return {
    type: "msg",
    room: room!,
    from: from!,
    id: id === undefined ? 0 : Number(id),
    payload: payload.slice(),
    text: text.decode(payload),
  };
}

/**
 * Turns a push frame into a {@linkcode Push} (`PING` is not one: the connection answers it).
 *
 * @param frame A frame whose verb is a push verb.
 * @returns The push.
 * @throws {TypeError} When a `MSG` frame is malformed.
 */
export function toPush(frame: Frame): Push {
  const a = frame.args;
  switch (frame.verb) {
    case "MSG":
      return roomMessage(frame);
    case "DM": {
      const payload = frame.payload ?? new Uint8Array(0);
      return { type: "dm", from: a[0] ?? "", payload: payload.slice(), text: text.decode(payload) };
    }
    case "JOINED":
      return { type: "joined", room: a[0] ?? "", nick: a[1] ?? "" };
    case "LEFT":
      return { type: "left", room: a[0] ?? "", nick: a[1] ?? "" };
    case "RENAMED":
      return { type: "renamed", old: a[0] ?? "", nick: a[1] ?? "" };
    default:
      return { type: "bye", reason: a.join(" ") };
  }
}
