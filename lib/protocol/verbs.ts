/**
 * The one table of every verb of the protocol: who sends it, what payload it carries, which
 * permission it needs, whether the commands after it may overlap it, and its help line. The
 * decoder's payload maps, the server's dispatch and gate, `HELP` and the client read it.
 *
 * @module
 */

import type { PayloadKind } from "./frame.ts";

/** What a user may do beyond logging in: `chat`, `read` (files), `write` (files). */
export type Permission = "chat" | "read" | "write";

/** Every permission, in the order they are shown. */
export const PERMISSIONS: readonly Permission[] = ["chat", "read", "write"];

/** One row of the verb table. */
export interface VerbSpec {
  /** The verb, upper case. */
  readonly verb: string;
  /** `command`: a client sends it, the server answers; `push`: the server sends it on its own; `reply`: only as an answer. */
  readonly kind: "command" | "push" | "reply";
  /** The payload it carries (`none` for a plain line). */
  readonly payload: PayloadKind | "none";
  /**
   * Who may run a command when the server has accounts: a permission, `login` (any logged-in
   * user), or `anyone` (also before `AUTH`).
   */
  readonly permission?: Permission | "login" | "anyone";
  /**
   * `overlap`: the commands after it may start before its engine work ends (its replies still
   * come in order); `serial`: it runs alone (it changes the session, or streams).
   */
  readonly order?: "overlap" | "serial";
  /** The `HELP` line (commands) : usage, then what it does. */
  readonly usage?: string;
  /** What it does, for `HELP`. */
  readonly help?: string;
}

/** Every verb, commands in `HELP` order, then what only the server sends. */
export const VERBS: readonly VerbSpec[] = [
  {
    verb: "NICK",
    kind: "command",
    payload: "none",
    permission: "chat",
    order: "serial",
    usage: "NICK name",
    help: "pick a nick (1-32 of A-Z a-z 0-9 _ -)",
  },
  {
    verb: "JOIN",
    kind: "command",
    payload: "none",
    permission: "chat",
    order: "serial",
    usage: "JOIN room [quiet]",
    help: "join a room (1-64 of A-Z a-z 0-9 _ - .)",
  },
  {
    verb: "LEAVE",
    kind: "command",
    payload: "none",
    permission: "chat",
    order: "serial",
    usage: "LEAVE room",
    help: "leave a room (not lobby)",
  },
  {
    verb: "SAY",
    kind: "command",
    payload: "text",
    permission: "chat",
    order: "overlap",
    usage: "SAY room :text",
    help: "send text to a room (or SAY room N + N bytes)",
  },
  {
    verb: "TELL",
    kind: "command",
    payload: "text",
    permission: "chat",
    order: "overlap",
    usage: "TELL nick :text",
    help: "send a direct message (or TELL nick N + N bytes)",
  },
  {
    verb: "WHO",
    kind: "command",
    payload: "none",
    permission: "chat",
    order: "overlap",
    usage: "WHO [room]",
    help: "who is online (in a room)",
  },
  {
    verb: "ROOMS",
    kind: "command",
    payload: "none",
    permission: "chat",
    order: "overlap",
    usage: "ROOMS",
    help: "rooms and member counts",
  },
  {
    verb: "HISTORY",
    kind: "command",
    payload: "none",
    permission: "chat",
    order: "serial",
    usage: "HISTORY room [n] [after id]",
    help: "a room's last n messages (or the first n after id)",
  },
  {
    verb: "TIME",
    kind: "command",
    payload: "none",
    permission: "login",
    order: "overlap",
    usage: "TIME",
    help: "the server's clock",
  },
  {
    verb: "LIST",
    kind: "command",
    payload: "none",
    permission: "read",
    order: "serial",
    usage: "LIST [dir [offset [limit]]]",
    help: "list shared files",
  },
  {
    verb: "GET",
    kind: "command",
    payload: "none",
    permission: "read",
    order: "serial",
    usage: "GET path [offset]",
    help: "download a file",
  },
  {
    verb: "PUT",
    kind: "command",
    payload: "stream",
    permission: "write",
    order: "serial",
    usage: "PUT path [sha256] N",
    help: "upload N bytes (options before N: resume, from=OFFSET, new)",
  },
  {
    verb: "RESUME",
    kind: "command",
    payload: "none",
    permission: "write",
    order: "serial",
    usage: "RESUME path size [sha256]",
    help: "bytes the server kept of a cut upload, and their sha256",
  },
  {
    verb: "DEL",
    kind: "command",
    payload: "none",
    permission: "write",
    order: "serial",
    usage: "DEL path",
    help: "delete a file or empty folder",
  },
  {
    verb: "AUTH",
    kind: "command",
    payload: "none",
    permission: "anyone",
    order: "serial",
    usage: "AUTH user password",
    help: "log in (or AUTH token; when the server has accounts)",
  },
  {
    verb: "PING",
    kind: "command",
    payload: "none",
    permission: "anyone",
    order: "overlap",
    usage: "PING",
    help: "answered with PONG",
  },
  {
    verb: "PONG",
    kind: "command",
    payload: "none",
    permission: "anyone",
    order: "overlap",
  },
  {
    verb: "QUIT",
    kind: "command",
    payload: "none",
    permission: "anyone",
    order: "serial",
    usage: "QUIT",
    help: "say goodbye",
  },
  {
    verb: "HELP",
    kind: "command",
    payload: "none",
    permission: "anyone",
    order: "overlap",
    usage: "HELP",
    help: "this text",
  },
  { verb: "MSG", kind: "push", payload: "sized", usage: "MSG room from id N" },
  { verb: "DM", kind: "push", payload: "sized", usage: "DM from N" },
  { verb: "JOINED", kind: "push", payload: "none", usage: "JOINED room nick" },
  { verb: "LEFT", kind: "push", payload: "none", usage: "LEFT room nick" },
  { verb: "RENAMED", kind: "push", payload: "none", usage: "RENAMED old new" },
  { verb: "BYE", kind: "push", payload: "none", usage: "BYE reason" },
  { verb: "HELLO", kind: "reply", payload: "none" },
  { verb: "OK", kind: "reply", payload: "none" },
  { verb: "ERR", kind: "reply", payload: "none" },
  { verb: "FILE", kind: "reply", payload: "stream" },
];

/** The table by verb. */
export const VERB_TABLE: ReadonlyMap<string, VerbSpec> = new Map(VERBS.map((v) => [v.verb, v]));

/** Payload kinds of the verbs a client sends (the server decoder's view). */
export const CLIENT_PAYLOADS: ReadonlyMap<string, PayloadKind> = new Map(
  VERBS.filter((v) => v.kind === "command" && v.payload !== "none").map((v) => [
    v.verb,
    v.payload as PayloadKind,
  ]),
);

// The server answers WHO, ROOMS, LIST and HELP with a sized payload named like the command.
const SIZED_REPLIES = ["WHO", "ROOMS", "LIST", "HELP"];

/** Payload kinds of the frames the server sends (the client decoder's view). */
export const SERVER_PAYLOADS: ReadonlyMap<string, PayloadKind> = new Map<string, PayloadKind>([
  ...VERBS.filter((v) => v.kind === "push" && v.payload !== "none").map((v) =>
    [v.verb, v.payload as PayloadKind] as const
  ),
  ...SIZED_REPLIES.map((v) => [v, "sized"] as const),
  ...VERBS.filter((v) => v.kind === "reply" && v.payload !== "none").map((v) =>
    [v.verb, v.payload as PayloadKind] as const
  ),
]);

/** Verbs the server sends on its own, between replies (`PING` too: it asks for a `PONG`). */
export const PUSH_VERBS: ReadonlySet<string> = new Set([
  ...VERBS.filter((v) => v.kind === "push").map((v) => v.verb),
  "PING",
]);

/** The verbs a permission allows. */
export function verbsOf(permission: Permission | "login" | "anyone"): string[] {
  return VERBS.filter((v) => v.kind === "command" && v.permission === permission).map((v) =>
    v.verb
  );
}

/** The text of the `HELP` reply, lines ending in CRLF. */
export const HELP_TEXT: string = [
  "Switchboard protocol v2. Commands (verbs are case-insensitive):",
  ...VERBS.filter((v) => v.kind === "command" && v.help !== undefined).map((v) =>
    `  ${v.usage!.padEnd(22)} ${v.help}`
  ),
  `Pushes: ${
    [...VERBS.filter((v) => v.kind === "push").map((v) => v.usage!), "PING"].sort(pushOrder).join(
      ", ",
    )
  }.`,
  "Paths are percent-encoded (my%20notes.txt).",
  "",
].join("\r\n");

function pushOrder(a: string, b: string): number {
  const order = ["MSG", "DM", "JOINED", "LEFT", "RENAMED", "PING", "BYE"];
  return order.indexOf(a.split(" ")[0]!) - order.indexOf(b.split(" ")[0]!);
}
