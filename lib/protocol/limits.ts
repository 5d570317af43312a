/**
 * Protocol constants and the default limits of protocol v2.
 *
 * @module
 */

/** The protocol version this code speaks (sent in `HELLO` as `proto`). */
export const PROTOCOL_VERSION = 2;

/** The default TCP port of a Switchboard server. */
export const DEFAULT_PORT = 7373;

/** The default bind address: loopback only; `--host 0.0.0.0` exposes it. */
export const DEFAULT_HOST = "127.0.0.1";

/** The room every client is in from the moment it connects. */
export const LOBBY = "lobby";

/** Default limits; every one is a server option. Sizes in bytes, times in milliseconds. */
export const DEFAULT_LIMITS = {
  /** Longest control line, in bytes before the LF (a CR excluded). */
  maxLine: 4096,
  /** Largest message payload (`SAY`, `TELL`). */
  maxPayload: 1024 * 1024,
  /** Largest file a `PUT` may announce. */
  maxFileSize: 8 * 1024 * 1024 * 1024,
  /** Most clients connected at once. */
  maxClients: 10_000,
  /** Most bytes queued to one client before it is cut as a slow consumer. */
  maxPending: 8 * 1024 * 1024,
  /** Longest time one write to a client may make no progress. */
  writeDeadline: 10_000,
  /** Silence from a client after which the server sends `PING`. */
  pingInterval: 60_000,
  /** Messages a room's log keeps (0: no history; ids are still given). */
  historySize: 1000,
  /** How long a room's log keeps a message (and an empty room its log). */
  historyTtl: 24 * 60 * 60 * 1000,
  /** Most messages one `HISTORY` reply carries. */
  maxHistoryReply: 1000,
  /** Total bytes all room logs of a server may hold (oldest entries of the largest go first). */
  historyMemory: 256 * 1024 * 1024,
} as const;

/** Messages a `HISTORY` reply carries when the command names no count. */
export const HISTORY_DEFAULT_COUNT = 50;

/** Longest nick, in characters. */
export const MAX_NICK = 32;
/** Longest room name, in characters. */
export const MAX_ROOM = 64;
/** Longest path, in bytes of UTF-8 after percent-decoding. */
export const MAX_PATH_BYTES = 1024;

const NICK_RE = /^[A-Za-z0-9_-]{1,32}$/;
const ROOM_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * Tells whether a string is a valid nick: 1-32 of `A-Z a-z 0-9 _ -`.
 *
 * @param nick The candidate nick.
 * @returns `true` when it is valid.
 * @example
 * ```ts
 * import { isValidNick } from "./limits.ts";
 * console.assert(isValidNick("alice_2"));
 * console.assert(!isValidNick("a b"));
 * ```
 */
export function isValidNick(nick: string): boolean {
  return NICK_RE.test(nick);
}

/**
 * Tells whether a string is a valid room name: 1-64 of `A-Z a-z 0-9 _ - .`.
 *
 * @param room The candidate room name.
 * @returns `true` when it is valid.
 * @example
 * ```ts
 * import { isValidRoom } from "./limits.ts";
 * console.assert(isValidRoom("team.ops"));
 * console.assert(!isValidRoom(""));
 * ```
 */
export function isValidRoom(room: string): boolean {
  return ROOM_RE.test(room);
}
