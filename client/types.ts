/**
 * The shapes the client API takes and gives: connection options, time samples, listing pages,
 * `SAY` results and `HISTORY` pages.
 *
 * @module
 */

import type { ListEntry } from "../lib/protocol/rows.ts";
import type { RoomMessage } from "./_push.ts";

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
