/**
 * The shapes the client API takes and gives: connection options, time samples, listing pages,
 * `SAY` results, `HISTORY` pages, and the options and events of a reconnecting client.
 *
 * @module
 */

import type { BackoffOptions } from "../lib/backoff.ts";
import type { ServerError } from "../lib/protocol/errors.ts";
import type { ListEntry } from "../lib/protocol/rows.ts";
import type { Push, RoomMessage } from "./_push.ts";
import type { Gap } from "./_recovery.ts";

/** Options of `connect()`. */
export interface ConnectOptions {
  /**
   * Server host name or address.
   * @default {"127.0.0.1"}
   */
  host?: string;
  /**
   * Server port.
   * @default {7373}
   */
  port?: number;
  /**
   * Speak TLS.
   * @default {false}
   */
  tls?: boolean;
  /**
   * PEM certificates of private CAs to trust (TLS only).
   * @default {undefined}
   */
  caCerts?: string[];
  /**
   * A nick to take right after connecting.
   * @default {undefined}
   */
  nick?: string;
  /**
   * Largest reply payload accepted (`WHO`, `LIST` of big folders).
   * @default {268435456}
   */
  maxPayload?: number;
  /**
   * Most pushes kept while nobody reads `Client.messages`; older ones are dropped.
   * @default {100000}
   */
  maxBufferedPushes?: number;
  /**
   * Milliseconds to wait for the connection and `HELLO`.
   * @default {10000}
   */
  timeout?: number;
}

/** Result of `Client.time`. */
export interface TimeSample {
  /** The server's clock, as it sent it. */
  iso: string;
  /** The server's clock, unix milliseconds. */
  server: number;
  /** Round-trip time, milliseconds. */
  rtt: number;
  /** Estimated server clock minus local clock, milliseconds (positive: the server is ahead). */
  offset: number;
}

/** One row of `Client.list`: the `LIST` row type. */
export type FileEntry = ListEntry;

/** Options of `Client.listPage`. */
export interface ListPageOptions {
  /**
   * The first entry, 0-based (pass the `next` of the page before).
   * @default {0}
   */
  offset?: number;
  /**
   * Most entries the page covers; the server's `--list-page` when left out, and at most its
   * `--max-list-page`.
   * @default {undefined}
   */
  limit?: number;
}

/** One page of a listing: `LIST <total> <offset> <next> <N>`. */
export interface ListPage {
  /** The rows, sorted by name. */
  entries: FileEntry[];
  /** Entries in the folder (an upper bound: some may have no row). */
  total: number;
  /** Where this page starts. */
  offset: number;
  /** Where the next page starts; there is more exactly when `next < total`. */
  next: number;
}

/** Result of `Client.sayWithId`: the `OK <recipients> <id>` reply to `SAY`. */
export interface SayResult {
  /** How many other members the message was queued to. */
  recipients: number;
  /** The message's id in the room (0 from a protocol 1 server). */
  id: number;
}

/** Options of `Client.history`. */
export interface HistoryOptions {
  /**
   * Most messages to return, 0 to 100000 (0: only the epoch and the ids kept); the server gives
   * at most its `max_history_reply` (1000 by default).
   * @default {50}
   */
  limit?: number;
  /**
   * Return the oldest `limit` messages whose id is greater than this, instead of the newest.
   * @default {undefined}
   */
  after?: number;
}

/** A `HISTORY` reply: `HISTORY room epoch first last K` and its K messages. */
export interface HistoryPage {
  /** The room, as the server spells it. */
  room: string;
  /** The log's epoch: ids of another epoch are not comparable with these. */
  epoch: string;
  /** The oldest id the log still keeps (0 when it is empty). */
  first: number;
  /** The newest id the log keeps (0 when it is empty). */
  last: number;
  /** The messages, oldest first. */
  messages: RoomMessage[];
}

/** Options of `reconnecting()`. */
export interface ReconnectOptions {
  /**
   * The nick to hold: taken at start, and taken back after every reconnect.
   * @default {the nick the server gives the first connection}
   */
  nick?: string;
  /**
   * Rooms to join at start, besides lobby (everybody is in lobby while connected).
   * @default {[]}
   */
  rooms?: string[];
  /**
   * Announce this client in the lobby (`JOIN lobby`, after the nick) at start and after every
   * reconnect: while the lobby is small (the server's `--lobby-notices`) its members are told of
   * its arrival, renames and leave. A chat does; a one-shot sender or a listener had better not.
   * @default {false}
   */
  announce?: boolean;
  /**
   * The delays between reconnect attempts.
   * @default {{ base: 250, max: 10000 }}
   */
  backoff?: BackoffOptions;
  /**
   * The delays between attempts to take the nick back while it is still in use.
   * @default {{ base: 500, max: 8000 }}
   */
  nickBackoff?: BackoffOptions;
  /**
   * Attempts to take the nick back before giving up.
   * @default {8}
   */
  nickAttempts?: number;
  /**
   * Says whether a failure to connect is final: reconnecting stops after it.
   * @default {() => false}
   */
  isFatal?: (error: unknown) => boolean;
  /**
   * Says whether a `BYE` reason is final: no reconnect follows it (`access revoked`: trying again
   * would be one more failed login on the server).
   * @default {(reason) => reason === "access revoked" || reason === "too many failed logins"}
   */
  isFinalBye?: (reason: string) => boolean;
  /**
   * Most events kept while nobody reads `ReconnectingClient.events`; older ones are
   * dropped.
   * @default {100000}
   */
  maxBufferedEvents?: number;
  /**
   * Messages of a room's log to hand out when it is joined (the rooms of `rooms`, lobby too when
   * named there, and `ReconnectingClient.join`): a `history` event, then they come as
   * `msg` events before the live ones. 0 to 1000.
   * @default {0}
   */
  history?: number;
  /**
   * Most messages of a room recovered after a reconnect: past it the oldest are skipped, and a
   * `gap` event says so.
   * @default {10000}
   */
  maxMissed?: number;
}

/** What happens to the connection, in between the pushes of `ReconnectingClient.events`. */
export type ReconnectStatus =
  /**
   * The connection closed: `reason` is what `BYE` said, or `connection lost`; when `final`, no
   * reconnect follows (see `isFinalBye`).
   */
  | { type: "disconnected"; reason: string; final: boolean }
  /** Attempt `attempt` (0-based) starts after `delay` milliseconds. */
  | { type: "retrying"; attempt: number; delay: number }
  /** Attempt `attempt` failed; when `final`, no more attempts are made. */
  | { type: "connectFailed"; attempt: number; error: unknown; final: boolean }
  /** A room could not be joined again: it is no longer held. */
  | { type: "rejoinFailed"; room: string; error: ServerError }
  /** Connected again as `nick`, in lobby and the rooms `rejoined`. */
  | { type: "reconnected"; nick: string; rejoined: string[] }
  /** The nick is still in use (the old connection lingers on the server): retrying. */
  | { type: "nickTaken"; nick: string }
  /** The nick is ours again. */
  | { type: "nickBack"; nick: string }
  /** The server refused the nick for another reason than being in use. */
  | { type: "nickRefused"; nick: string; error: ServerError }
  /** The nick stayed in use through every attempt: the connection goes on as `current`. */
  | { type: "nickGaveUp"; nick: string; current: string }
  /** `room` was joined: `count` earlier messages of its log follow as `msg` events (option `history`). */
  | { type: "history"; room: string; count: number }
  /**
   * After a reconnect, once per room held (lobby too): `count` messages sent while away follow as
   * `msg` events, oldest first; the live ones come after them, none twice.
   */
  | { type: "missed"; room: string; count: number }
  /**
   * After a reconnect, before `missed`: some messages of `room` are gone (the log no longer has
   * them, or it started over: `epochChanged`), from id `expected` up to before `first`.
   */
  | ({ type: "gap"; room: string } & Gap);

/** An item of `ReconnectingClient.events`: a push, or a change of the connection. */
export type ReconnectEvent = Push | ReconnectStatus;
