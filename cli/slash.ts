/**
 * The chat's slash commands, once: the table (names, usage, what each does), the help text made
 * from it (`/help` in the chat, and `switchboard chat --help`), and the parser of an input line.
 *
 * @module
 */

/** The commands a chat line can be. */
export type SlashName =
  | "join"
  | "leave"
  | "msg"
  | "me"
  | "who"
  | "rooms"
  | "nick"
  | "time"
  | "help"
  | "quit";

/** One slash command. */
export interface SlashCommand {
  /** The name (the first) and its aliases. */
  names: readonly [SlashName, ...string[]];
  /** How to type it, as the help shows it. */
  usage: string;
  /** What it does, as the help shows it. */
  summary: string;
}

/** Every slash command, in the order the help lists them. */
export const SLASH_COMMANDS: readonly SlashCommand[] = [
  {
    names: ["join", "j"],
    usage: "/join ROOM",
    summary: "join a room and talk in it (also switches to a room already joined)",
  },
  {
    names: ["leave", "part"],
    usage: "/leave [ROOM]",
    summary: "leave a room (default: the current one)",
  },
  { names: ["msg", "tell"], usage: "/msg NICK TEXT", summary: "direct message" },
  {
    names: ["me", "action"],
    usage: "/me ACTION",
    summary: "an action in the current room, shown as * you ACTION",
  },
  { names: ["who"], usage: "/who [ROOM]", summary: "who is online, or in a room" },
  { names: ["rooms"], usage: "/rooms", summary: "rooms and member counts" },
  { names: ["nick"], usage: "/nick NAME", summary: "change nick" },
  { names: ["time"], usage: "/time", summary: "the server's time and this clock's offset" },
  { names: ["help", "h", "?"], usage: "/help", summary: "this list" },
  { names: ["quit", "exit", "q"], usage: "/quit", summary: "leave (Ctrl-D too)" },
];

/** The slash commands, one line each, as both help texts list them. */
export const SLASH_LINES: string = SLASH_COMMANDS.map((c) => `  ${c.usage.padEnd(18)}${c.summary}`)
  .join("\n");

/** The slash commands, as `/help` prints them. */
export const SLASH_HELP: string = `Commands:
${SLASH_LINES}
Anything else goes to the current room (start with // to send a line that begins with /).`;

/**
 * The payload convention of an action (`/me waves`): the message text is `/me ` then the
 * action. Clients that know it show `* alice waves`; others (and `nc`) show the text as sent,
 * which still reads as IRC users expect.
 */
export const ACTION_PREFIX = "/me ";

/**
 * The action in a message's text, or null when it is not one.
 *
 * @param text The message text.
 * @returns What comes after `/me `, when there is something.
 * @example
 * ```ts
 * import { actionOf } from "./slash.ts";
 * console.assert(actionOf("/me waves") === "waves" && actionOf("/meh") === null);
 * ```
 */
export function actionOf(text: string): string | null {
  if (!text.startsWith(ACTION_PREFIX)) return null;
  const action = text.slice(ACTION_PREFIX.length);
  return action.trim() === "" ? null : action;
}

const BY_NAME: ReadonlyMap<string, SlashName> = new Map(
  SLASH_COMMANDS.flatMap((c) => c.names.map((n) => [n, c.names[0]] as const)),
);

/** What a chat input line asks for. */
export type ChatLine =
  /** Nothing (a blank line). */
  | { kind: "blank" }
  /** Text for the current room (`//` at the start sends one `/`). */
  | { kind: "say"; text: string }
  /** A slash command: its words after the name, and the rest of the line as typed (trimmed). */
  | { kind: "command"; name: SlashName; args: string[]; rest: string }
  /** A slash command nobody knows, lower-cased. */
  | { kind: "unknown"; command: string };

/**
 * Reads one chat input line.
 *
 * @param raw The line (a trailing CR is dropped).
 * @returns What it asks for.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseChatLine } from "./slash.ts";
 * assert.deepEqual(parseChatLine("/J ops"), {
 *   kind: "command",
 *   name: "join",
 *   args: ["ops"],
 *   rest: "ops",
 * });
 * assert.deepEqual(parseChatLine("//etc/hosts"), { kind: "say", text: "/etc/hosts" });
 * ```
 */
export function parseChatLine(raw: string): ChatLine {
  const line = raw.replace(/\r$/, "");
  if (line.trim() === "") return { kind: "blank" };
  if (!line.startsWith("/") || line.startsWith("//")) {
    return { kind: "say", text: line.startsWith("//") ? line.slice(1) : line };
  }
  // A "/" followed by a space names no command (0.1.0 crashed the chat here).
  const m = /^\/(\S+)\s*(.*)$/.exec(line);
  if (m === null) return { kind: "unknown", command: "" };
  const command = m[1]!.toLowerCase();
  const rest = m[2]!.trim();
  const name = BY_NAME.get(command);
  if (name === undefined) return { kind: "unknown", command };
  return { kind: "command", name, args: rest === "" ? [] : rest.split(/\s+/), rest };
}

/**
 * The nick and text of `/msg NICK TEXT`, the text as typed after the nick.
 *
 * @param rest The rest of the line after `/msg`, trimmed.
 * @returns The nick (undefined when none) and the text ("" when none).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitMessage } from "./slash.ts";
 * assert.deepEqual(splitMessage("bob  see  you"), { nick: "bob", text: "see  you" });
 * ```
 */
export function splitMessage(rest: string): { nick: string | undefined; text: string } {
  const nick = rest === "" ? undefined : rest.split(/\s+/)[0];
  return { nick, text: rest.slice(nick?.length ?? 0).replace(/^\s+/, "") };
}
