/**
 * What the chat says about the events of its reconnecting client that only inform: the server's
 * goodbye, a room's earlier messages, messages missed or lost while away, retries, and the nick
 * being taken back. The events that change the session (disconnected, reconnected, a final
 * failure) are the session's own.
 *
 * @module
 */

import type { ReconnectEvent } from "../client/mod.ts";
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
    case "retrying":
      if (ev.attempt === 0) return null;
      return info(
        s.yellow(`Reconnecting in ${(ev.delay / 1000).toFixed(1)} s (attempt ${ev.attempt + 1})`),
      );
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
