/**
 * The chat hub as sessions and handlers see it: rooms, nicks, messages. server/chat/hub.ts
 * implements it over a local fan-out and an engine (see ./engine.ts). Every call may answer with
 * a promise; a rejection means the engine failed (`ERR 503` for that command).
 *
 * @module
 */

import type { RoomEntry, WhoEntry } from "../../lib/protocol/rows.ts";
import type { HistoryPage, HistoryQuery } from "./engine.ts";
import type { Awaitable, Member } from "./member.ts";

/** A message accepted: how many members it reaches, and its id in the room. */
export interface Published {
  readonly recipients: number;
  readonly id: number;
}

/** Outcome of {@linkcode Hub.publish}: the message's reach and id, or why not. */
export type PublishResult = Published | "no-room" | "not-member";

/** Outcome of {@linkcode Hub.history}: a page of the room's log, or why not. */
export type HistoryResult = HistoryPage | "no-room" | "not-member";

/** Outcome of {@linkcode Hub.leave}. */
export type LeaveResult = { room: string } | "lobby" | "not-member";

/** Rooms, nicks and fan-out, as sessions and handlers use them. */
export interface Hub {
  /**
   * Adds a member (in `lobby`, silently) under a fresh `guest-<n>` nick.
   * @returns The guest nick given.
   */
  attach(member: Member): Awaitable<string>;
  /** Removes a member everywhere; pushes `LEFT` to the rooms it had joined (not `lobby`). */
  detach(member: Member): Awaitable<void>;
  /** The member's current nick (`""` when it is not attached): the one place a nick lives. */
  nick(member: Member): string;
  /**
   * Gives `member` the nick `nick` if nobody else has it (case-insensitively); pushes
   * `RENAMED old new` once to every client sharing a room other than `lobby` with it.
   * @returns `true` on success, `false` when the nick is taken.
   */
  rename(member: Member, nick: string): Awaitable<boolean>;
  /**
   * Puts `member` in `room`, creating it; pushes `JOINED` to the others when it is new there,
   * unless `quiet`: then neither that `JOINED` nor the `LEFT` of its leave or disconnect is pushed.
   * @returns The room's display name.
   */
  join(member: Member, room: string, quiet?: boolean): Awaitable<string>;
  /** Takes `member` out of `room`; pushes `LEFT` to those remaining. */
  leave(member: Member, room: string): Awaitable<LeaveResult>;
  /**
   * Gives the message the room's next id, keeps it in the room's log and sends
   * `MSG room from id N` + payload to every other member of `room`. The payload is copied
   * before the call returns.
   */
  publish(member: Member, room: string, payload: Uint8Array): Awaitable<PublishResult>;
  /**
   * A page of `room`'s log, for a member of it or one that joined it before on this connection
   * (it starts the room's log, a new epoch, when there is none). `not-member` for a room that
   * exists or still has a log; `no-room` for neither.
   */
  history(member: Member, room: string, query: HistoryQuery): Awaitable<HistoryResult>;
  /**
   * Sends `DM from N` + payload to the member called `nick`.
   * @returns `false` when nobody has that nick, or its owner takes no pushes.
   */
  tell(member: Member, nick: string, payload: Uint8Array): Awaitable<boolean>;
  /** Lists members of `room` (everybody without one); `null` for an unknown room. */
  who(room?: string): Awaitable<WhoEntry[] | null>;
  /** Lists rooms with their member counts. */
  rooms(): Awaitable<RoomEntry[]>;
  /**
   * Delivers the room messages batched so far. The hub batches the messages one sender publishes
   * in a row and delivers them before any other call, or within one macrotask; a session calls
   * this at the end of each read (its pipelined commands are all in) and before it waits.
   */
  flush(): void;
  /** Whether `member` is in `room` (this node knows its own members' rooms). */
  isIn(member: Member, room: string): boolean;
  /** The number of rooms `member` has joined, `lobby` included (known locally). */
  roomCount(member: Member): number;
  /** Why the engine cannot be used now (`HELLO` says so), or `null`; optional. */
  unavailable?(): string | null;
}
