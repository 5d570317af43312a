/**
 * The engine contracts: what the chat hub needs from the store that all server processes of one
 * service share. The memory engine (server/chat/memory/) keeps it in this process; a Redis engine
 * implements the same interfaces. Each server process is one **node** of the engine: it connects
 * once, with the callbacks through which the engine hands it traffic for its own members.
 *
 * Rules every engine keeps (tests/helpers/hub_conformance.ts checks them):
 * - Calls of one node take effect in the order they were made (answers may come back later, and
 *   in any order); bytes given to a call are copied or sent before it returns.
 * - Any call may reject when the engine cannot be reached; nothing then counts as done.
 *
 * @module
 */

import type { RoomEntry, WhoEntry } from "../../lib/protocol/rows.ts";
import type { Awaitable } from "./member.ts";

/** A member as every node sees it. */
export interface MemberInfo {
  /** Unique across nodes (see `Member.id`). */
  readonly id: string;
  /** The node it is connected to. */
  readonly node: string;
  /** The current nick. */
  readonly nick: string;
  /** Connected since, unix milliseconds. */
  readonly since: number;
}

/** What the engine calls on a node: traffic for that node's own members. */
export interface NodeEvents {
  /**
   * Frames for the node's members of `room` (the room's key, lower case), except `except`.
   * @returns How many members they reached.
   */
  room(room: string, bytes: Uint8Array, except: string | null): number;
  /**
   * Frames for one member of the node.
   * @returns `false` when it is gone or takes no pushes.
   */
  direct(member: string, bytes: Uint8Array): boolean;
  /** How many of the node's members of `room` a message would reach now, except `except`. */
  audience(room: string, except: string | null): number;
  /**
   * Frames for the node's members of any of `rooms`, once each however many they share, except
   * `except` (a `RENAMED`).
   */
  once(rooms: readonly string[], bytes: Uint8Array, except: string | null): number;
  /**
   * A member of the node has another nick now: the engine gave it a fresh one when it restored
   * the node's members and its own had been taken meanwhile. Optional for the caller to act on.
   */
  renamed?(member: string, nick: string): void;
}

/** Publish and subscribe between nodes: room traffic and direct messages. */
export interface Broker {
  /** Starts handing this node the traffic of `room` (its first local member joined). */
  subscribe(room: string): Awaitable<void>;
  /** Stops it (its last local member left). */
  unsubscribe(room: string): Awaitable<void>;
  /**
   * Hands frames to every other node subscribed to `room`.
   * @returns How many members they reached, as far as the engine can tell.
   */
  publish(room: string, bytes: Uint8Array, except: string | null): Awaitable<number>;
  /** Hands frames to the members of any of `rooms` on every other node, once each. */
  publishOnce(rooms: readonly string[], bytes: Uint8Array, except: string | null): Awaitable<void>;
  /** How many members on other nodes a message to `room` would reach now. */
  audience(room: string, except: string | null): Awaitable<number>;
  /**
   * Hands frames to one member on another node.
   * @returns `false` when it is not reachable.
   */
  direct(to: MemberInfo, bytes: Uint8Array): Awaitable<boolean>;
}

/** Outcome of {@linkcode Presence.join}. */
export interface Joined {
  /** The room's display name (as first created). */
  readonly room: string;
  /** False when the member was in it already. */
  readonly added: boolean;
}

/** Who is online, under which nick, in which rooms: shared by all nodes. */
export interface Presence {
  /**
   * Registers a member of this node under a fresh nick `guest-<n>`, in `lobby`.
   * @returns The nick.
   */
  attach(member: { readonly id: string; readonly since: number }): Awaitable<string>;
  /** Forgets a member: frees its nick, takes it out of every room. */
  detach(member: string): Awaitable<void>;
  /**
   * Claims `nick` for a member (case-insensitively unique), freeing its old one.
   * @returns `false` when another member has it.
   */
  rename(member: string, nick: string): Awaitable<boolean>;
  /** Whether `room` exists (any case). */
  hasRoom(room: string): Awaitable<boolean>;
  /** The member that has `nick` (any case), or `null`. */
  lookup(nick: string): Awaitable<MemberInfo | null>;
  /** Puts a member in a room, creating the room. */
  join(member: string, room: string): Awaitable<Joined>;
  /**
   * Takes a member out of a room; a room left empty is gone (`lobby` never is).
   * @returns The room's display name, or `null` when the member was not in it.
   */
  leave(member: string, room: string): Awaitable<string | null>;
  /** Members of `room` (everybody without one), oldest first; `null` for an unknown room. */
  who(room?: string): Awaitable<WhoEntry[] | null>;
  /** Rooms with their member counts, `lobby` first. */
  rooms(): Awaitable<RoomEntry[]>;
}

/** What {@linkcode RoomLog.history} asks for. */
export interface HistoryQuery {
  /** Most messages to give. */
  readonly limit: number;
  /** Only messages with a greater id, oldest first; without it, the newest `limit`. */
  readonly after?: number;
}

/** A page of a room's log: `HISTORY room epoch first last K` and its K frames. */
export interface HistoryPage {
  /** The log's epoch (ids of another epoch mean nothing here). */
  readonly epoch: string;
  /**
   * The oldest id still kept; `last + 1` when none is (all trimmed, or history off), `0` with
   * `last` `0` when no id was ever given in this epoch.
   */
  readonly first: number;
  /** The newest id given in this epoch (`0` for none). */
  readonly last: number;
  /** The encoded `MSG room from id N` frames, oldest first (shared: never changed). */
  readonly frames: readonly Uint8Array[];
}

/**
 * Room logs: the ids of room messages (1, 2, 3 ... per room, within the room's epoch) and the
 * last messages of every room, trimmed by count, age and the logs' total memory. A room's log
 * outlives its members until its messages expire.
 */
export interface RoomLog {
  /**
   * Gives the next id of `room` (its key, lower case) to a message about to be published, starting
   * the room's log (a new epoch) when it has none.
   */
  next(room: string): Awaitable<number>;
  /**
   * Keeps a message's encoded `MSG` frame, `frame[start, end)` (copied before the call returns),
   * under its id. Ignored when the id is no longer within what the log keeps.
   */
  put(room: string, id: number, frame: Uint8Array, start?: number, end?: number): Awaitable<void>;
  /** Whether `room` has a log (it outlives the room's members until its messages expire). */
  has(room: string): Awaitable<boolean>;
  /** A page of `room`'s log; starts the log (a new epoch) when the room has none. */
  history(room: string, query: HistoryQuery): Awaitable<HistoryPage>;
  /**
   * The last id given in `room` (`0` for none yet), for status pages; optional: an engine for
   * which it is not cheap leaves it out.
   */
  last?(room: string): Awaitable<number>;
  /** What the logs hold now, for metrics; optional like `last`. */
  stats?(): LogStats;
}

/** What room logs hold, for metrics. */
export interface LogStats {
  /** Rooms with a log. */
  readonly rooms: number;
  /** Messages kept, all logs together. */
  readonly messages: number;
  /** Bytes kept, as counted against the memory bound. */
  readonly bytes: number;
}

/** Most messages in one {@linkcode SayBatch} (the hub cuts longer runs). */
export const MAX_SAY_MESSAGES = 1024;

/** One sender's messages to one room, for {@linkcode EngineNode.say}. */
export interface SayBatch {
  /** `MSG <room> <nick>`: each frame's head without its id and length. */
  readonly head: string;
  /** The sender's member id (its own node does not hand them back to it). */
  readonly sender: string;
  /** Each payload's length. */
  readonly lengths: readonly number[];
  /** The payloads back to back. */
  readonly payloads: Uint8Array;
}

/** What {@linkcode EngineNode.say} answers. */
export interface Said {
  /** The first message's id (the others follow one by one). */
  readonly first: number;
  /** The room's members on the other nodes (as far as the engine can tell). */
  readonly remote: number;
}

/** One node's connection to an engine. */
export interface EngineNode {
  /** The node id (unique per process start). */
  readonly id: string;
  /** Room traffic and direct messages. */
  readonly broker: Broker;
  /** Nicks, rooms, who. */
  readonly presence: Presence;
  /** Room logs. */
  readonly log: RoomLog;
  /** Leaves the engine: the node's members are forgotten by the others. */
  close(): Awaitable<void>;
  /**
   * Why the engine cannot be used now (`/healthz` answers 503 with it), or `null`; optional: the
   * memory engine is always there.
   */
  unavailable?(): string | null;
  /**
   * Gives ids to, keeps and publishes one sender's messages to a room in one step, to every
   * member of every node (this node's members too, through {@linkcode NodeEvents.room}, in the
   * room's order); optional: an engine whose every step is a round trip has it, and the hub then
   * uses it instead of `log.next`, `log.put` and `broker.publish`.
   */
  say?(room: string, batch: SayBatch): Promise<Said>;
  /**
   * The node's members in `room` changed (the hub calls it after its own fan-out changed, and
   * answers the command once it resolves); optional.
   */
  touched?(room: string): Awaitable<void>;
}

/** A shared store that server processes join as nodes. */
export interface Engine {
  /**
   * Joins the engine as a new node.
   *
   * @param events How the engine hands the node its members' traffic.
   * @returns The node's handle.
   */
  connect(events: NodeEvents): Awaitable<EngineNode>;
}
