/**
 * What the chat says besides messages: its lines about the events of its reconnecting client
 * that only inform (the server's goodbye, a room's earlier messages, messages missed or lost
 * while away, the nick being taken back), and the lists of `/who` and `/rooms`. The events that
 * change the session (disconnected, retries, reconnected, a final failure) are the session's own.
 *
 * @module
 */

import type { ReconnectEvent, RoomEntry, WhoEntry } from "../client/mod.ts";
import { ago } from "./commands.ts";
import { serverText } from "./connect.ts";
import { printable, type Styles } from "./term.ts";

/** A line of the chat about an event: `--` before it, or `!!` when it is an `error`. */
export interface ChatNote {
  /** The text. */
  text: string;
  /** True for a failure. */
  error: boolean;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

/**
 * The chat's line about an informing event.
 *
 * @param ev The event.
 * @param s The styles.
 * @returns The line, or null when the event says nothing worth a line (or is not of that kind).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chatNote } from "./chat_events.ts";
 * import { makeStyles } from "./term.ts";
 * const s = makeStyles(false);
 * assert.deepEqual(chatNote({ type: "missed", room: "ops", count: 3 }, s), {
 *   text: "(3 messages you missed in ops)",
 *   error: false,
 * });
 * ```
 */
export function chatNote(ev: ReconnectEvent, s: Styles): ChatNote | null {
  const info = (text: string): ChatNote => ({ text, error: false });
  const error = (text: string): ChatNote => ({ text, error: true });
  switch (ev.type) {
    case "bye":
      return info(`The server says goodbye: ${printable(ev.reason)}`);
    case "history":
      return info(`${plural(ev.count, "earlier message")} in ${s.cyan(ev.room)}:`);
    case "missed":
      if (ev.count === 0) return null;
      return info(`(${plural(ev.count, "message")} you missed in ${s.cyan(ev.room)})`);
    case "gap":
      return info(s.yellow(`(some messages were lost in ${ev.room})`));
    case "rejoinFailed":
      return error(`Cannot rejoin ${ev.room}: ${serverText(ev.error)}`);
    case "nickTaken":
      return info(`Nick ${ev.nick} is still taken (the old connection lingers); retrying`);
    case "nickBack":
      return info(`You are ${s.nick(ev.nick)} again`);
    case "nickRefused":
      return error(`Cannot take nick ${ev.nick} back: ${serverText(ev.error)}`);
    case "nickGaveUp":
      return error(
        `Cannot take nick ${ev.nick} back: still in use; you are ${ev.current} (use /nick to try again)`,
      );
    default:
      return null;
  }
}

function byName(a: string, b: string): number {
  return a.toLowerCase().localeCompare(b.toLowerCase());
}

/**
 * The lines of `/who`: each nick (yours marked `(you)`), how long online, and its rooms.
 *
 * @param entries The `WHO` answer.
 * @param self This client's nick.
 * @param s The styles.
 * @param now Unix milliseconds.
 * @returns The lines, by nick.
 * @example
 * ```ts
 * import { whoLines } from "./chat_events.ts";
 * import { makeStyles } from "./term.ts";
 * const lines = whoLines([{ nick: "ann", rooms: ["lobby"], since: 0 }], "Ann", makeStyles(false), 0);
 * console.assert(lines[0] === "   ann (you) (0s) lobby");
 * ```
 */
export function whoLines(
  entries: readonly WhoEntry[],
  self: string,
  s: Styles,
  now: number = Date.now(),
): string[] {
  const me = self.toLowerCase();
  return [...entries].sort((a, b) => byName(a.nick, b.nick)).map((e) => {
    const you = e.nick.toLowerCase() === me ? ` ${s.bold("(you)")}` : "";
    return `   ${s.nick(e.nick)}${you} (${ago(e.since, now)}) ${s.dim(e.rooms.join(" "))}`;
  });
}

/**
 * The lines of `/rooms`: each room, its members, `(current)`, and its unread messages.
 *
 * @param rooms The `ROOMS` answer.
 * @param current The current room.
 * @param unread Unread messages of a room.
 * @param s The styles.
 * @returns The lines, by room.
 */
export function roomLines(
  rooms: readonly RoomEntry[],
  current: string,
  unread: (room: string) => number,
  s: Styles,
): string[] {
  return [...rooms].sort((a, b) => byName(a.room, b.room)).map((r) => {
    const n = unread(r.room);
    const more = n === 0 ? "" : ` ${s.yellow(`${n} unread`)}`;
    const here = r.room.toLowerCase() === current.toLowerCase() ? " (current)" : "";
    return `   ${s.cyan(r.room)} (${r.members})${here}${more}`;
  });
}
