/**
 * The hub facade: what sessions and handlers call ({@linkcode Hub}), made of this node's local
 * fan-out and an engine node (broker, presence, log). The memory engine is the default; any
 * engine that implements server/core/engine.ts works the same way.
 *
 * Room messages are batched: the messages one sender publishes to one room in a row (the frames of
 * one read chunk) are encoded into one buffer and delivered to every member when the session
 * says its read is done ({@linkcode ChatHub.flush}), before anything else the hub does (so order is
 * kept), or at the latest within one macrotask.
 *
 * @module
 */

import { encodeFrame, encodeLine, FrameBatch } from "../../lib/protocol/encoder.ts";
import { LOBBY } from "../../lib/protocol/limits.ts";
import type { RoomEntry, WhoEntry } from "../../lib/protocol/rows.ts";
import type { Engine, EngineNode, HistoryQuery, NodeEvents } from "../core/engine.ts";
import type { HistoryResult, Hub, LeaveResult, Published, PublishResult } from "../core/hub.ts";
import { type Awaitable, type Member, then } from "../core/member.ts";
import type { Observer } from "../core/metrics.ts";
import { LocalFanout, type LocalRoom } from "./local_fanout.ts";
import { MemoryEngine } from "./memory/engine.ts";
import { SayQueue } from "./say_queue.ts";
import {
  headOf,
  historyFor,
  type LocalMember,
  remember,
  renamedWhileAway,
} from "./local_member.ts";
import { RoomOrder } from "./room_order.ts";
import { type Batch, BATCH_BYTES, BATCH_PAYLOAD, deliverBatch, newBatch } from "./batch.ts";
import { all, engineCall, engineError, Orphans, published } from "./engine_calls.ts";
import { LobbyNotices } from "./lobby_notices.ts";

export type {
  HistoryResult,
  Hub,
  LeaveResult,
  Member,
  Published,
  PublishResult,
  RoomEntry,
  WhoEntry,
};

/** Options of {@linkcode ChatHub}. */
export interface ChatHubOptions {
  /**
   * The engine; it must connect synchronously (use {@linkcode ChatHub.connect} otherwise).
   * @default {new MemoryEngine()}
   */
  engine?: Engine;
  /** Told about engine failures nobody waits for (a batch published after its replies). */
  onError?: (error: unknown) => void;
  /** Told how long each batch took to reach this node's members (milliseconds). */
  fanoutTime?: Observer;
  /**
   * Most lobby members (all nodes) for which an announced client's arrival, rename and leave are
   * pushed to the lobby (see server/chat/lobby_notices.ts); 0 = never.
   * @default {0}
   */
  lobbyNotices?: number;
}

/**
 * The hub of one server process.
 *
 * @example
 * ```ts
 * import { ChatHub, type Member } from "./hub.ts";
 * const hub = new ChatHub();
 * const got: Uint8Array[] = [];
 * function member(id: string): Member {
 *   const m = { id, since: 0, deliver: (b: Uint8Array) => got.push(b) > 0 };
 *   hub.attach(m);
 *   return m;
 * }
 * const a = member("n.1"), b = member("n.2");
 * const sent = hub.publish(a, "lobby", new Uint8Array([104, 105]));
 * console.assert(!(sent instanceof Promise) && typeof sent === "object" && sent.id === 1);
 * hub.flush(); // room messages are delivered at the end of a read, or now with flush()
 * console.assert(got.length === 1 && hub.nick(b) === "guest-2");
 * ```
 */
export class ChatHub implements Hub {
  readonly #fanout = new LocalFanout();
  readonly #members = new Map<Member, LocalMember>();
  readonly #byId = new Map<string, Member>();
  /** `<member id> <room key>` of rooms joined with `JOIN room quiet`: no JOINED, and no LEFT. */
  readonly #quiet = new Set<string>();
  readonly #onError: (error: unknown) => void;
  #fanoutTime: Observer | null;
  #node!: EngineNode;
  #batch: Batch | null = null;
  #fallbackArmed = false;
  /** Frames of rooms with nobody else in them, for the log only (see publish). */
  readonly #solo = new FrameBatch();
  /** Members gone from this node whose removal the engine refused: retried on later calls. */
  #orphans!: Orphans;
  /** Keeps each room's messages in order through an engine that gives ids asynchronously. */
  readonly #late = new RoomOrder();
  /** Room messages for an engine that publishes them itself (`EngineNode.say`), or `null`. */
  #says: SayQueue | null = null;
  /** Clients that announced themselves in the lobby (`JOIN lobby`). */
  readonly #lobby: LobbyNotices;

  /**
   * Connects a hub to an engine that may answer asynchronously (Redis).
   *
   * @param engine The engine.
   * @param options See {@linkcode ChatHubOptions} (`engine` is ignored).
   * @returns The hub, once its node is connected.
   */
  static async connect(engine: Engine, options: ChatHubOptions = {}): Promise<ChatHub> {
    connecting = true;
    let hub: ChatHub;
    try {
      hub = new ChatHub(options);
    } finally {
      connecting = false;
    }
    hub.#use(await engine.connect(hub.#events));
    return hub;
  }

  /** @param options See {@linkcode ChatHubOptions}. */
  constructor(options: ChatHubOptions = {}) {
    this.#onError = options.onError ?? (() => {});
    this.#fanoutTime = options.fanoutTime ?? null;
    this.#lobby = new LobbyNotices(options.lobbyNotices ?? 0, this.#fanout, () => this.#node);
    if (connecting) return;
    const node = (options.engine ?? new MemoryEngine()).connect(this.#events);
    if (node instanceof Promise) {
      throw new TypeError("Cannot connect the hub synchronously: use ChatHub.connect()");
    }
    this.#use(node);
  }

  #use(node: EngineNode): void {
    this.#node = node;
    this.#orphans = new Orphans(node.presence);
    const say = node.say;
    if (say === undefined) return;
    this.#says = new SayQueue(
      (r, b) => say.call(node, r, b),
      (room, except) => this.#fanout.audience(room, except.id),
      engineError,
    );
  }

  /** This node's id in the engine. */
  get node(): string {
    return this.#node.id;
  }

  /** This node's handle on the engine (for status and tests). */
  get engineNode(): EngineNode {
    return this.#node;
  }

  /** The number of members attached to this node. */
  get size(): number {
    return this.#members.size;
  }

  /**
   * Times the delivery of every batch from now on (a hub made before the metrics sink).
   *
   * @param observer Told the milliseconds of each batch's local delivery.
   */
  observeFanout(observer: Observer): void {
    this.#fanoutTime = observer;
  }

  /**
   * The rooms a member of this node is in (read-only, for status pages).
   *
   * @param member A member.
   * @returns Room display names, `lobby` first; none when it is not attached.
   */
  roomsOf(member: Member): string[] {
    const local = this.#members.get(member);
    return local === undefined ? [] : [...local.rooms.values()].map((r) => r.name);
  }

  /** Why the engine cannot be used now, or `null` when it can (or does not tell). */
  unavailable(): string | null {
    return this.#node.unavailable?.() ?? null;
  }

  readonly #events: NodeEvents = {
    room: (room, bytes, except) => this.#fanout.deliver(room, bytes, except),
    direct: (member, bytes) => this.#byId.get(member)?.deliver(bytes) ?? false,
    audience: (room, except) => this.#fanout.audience(room, except),
    once: (rooms, bytes, except) => this.#fanout.deliverOnce(rooms, bytes, except),
    renamed: (id, nick) => {
      const member = this.#byId.get(id);
      const local = member && this.#members.get(member);
      if (member && local) renamedWhileAway(local, member, nick, this.#fanout);
    },
  };

  attach(member: Member): Awaitable<string> {
    this.flush();
    this.#orphans.retry();
    return then(engineCall(this.#node.presence.attach(member)), (nick) => {
      const local: LocalMember = { nick, head: null, rooms: new Map(), joined: new Set() };
      this.#members.set(member, local);
      this.#byId.set(member.id, member);
      // Pushes reach it once its node hears the lobby (the first member subscribes).
      return then(this.#addTo(local, LOBBY, member), () => nick);
    });
  }

  detach(member: Member): Awaitable<void> {
    this.flush();
    const local = this.#members.get(member);
    if (local === undefined) return;
    this.#members.delete(member);
    this.#byId.delete(member.id);
    const calls: Awaitable<unknown>[] = [];
    for (const room of local.rooms.values()) {
      if (this.#fanout.remove(room, member)) calls.push(this.#node.broker.unsubscribe(room.key));
      calls.push(this.#node.touched?.(room.key));
      const quiet = this.#quiet.delete(`${member.id} ${room.key}`);
      if (room.key === LOBBY) calls.push(this.#lobby.gone(member, local.nick));
      else if (!quiet) calls.push(this.#push(room, `LEFT ${room.name} ${local.nick}`));
    }
    calls.push(this.#orphans.forget(member.id));
    return all(calls);
  }

  nick(member: Member): string {
    return this.#members.get(member)?.nick ?? "";
  }

  rename(member: Member, nick: string): Awaitable<boolean> {
    this.flush();
    this.#orphans.retry();
    return then(engineCall(this.#node.presence.rename(member.id, nick)), (ok) => {
      const local = this.#members.get(member);
      if (!ok || local === undefined) return ok;
      const old = local.nick;
      local.nick = nick;
      if (old === nick) return ok;
      // RENAMED once to everybody sharing a room (other than lobby, unless it announced itself
      // there and the lobby is small) with it, on every node.
      return then(this.#lobby.renamedToLobby(member), (lobby) => {
        const keys = [...local.rooms.keys()].filter((k) => lobby || k !== LOBBY);
        if (keys.length === 0) return ok;
        const bytes = encodeLine(`RENAMED ${old} ${nick}`);
        this.#fanout.deliverOnce(keys, bytes, member);
        return then(engineCall(this.#node.broker.publishOnce(keys, bytes, member.id)), () => ok);
      });
    });
  }

  join(member: Member, name: string, quiet = false): Awaitable<string> {
    this.flush();
    this.#orphans.retry();
    const self = this.#members.get(member);
    if (name.toLowerCase() === LOBBY && self !== undefined) {
      // Everybody is in it: a loud JOIN announces the client (see server/chat/lobby_notices.ts).
      return quiet ? LOBBY : then(this.#lobby.arrived(member, self.nick), () => LOBBY);
    }
    return then(engineCall(this.#node.presence.join(member.id, name)), (joined) => {
      const local = this.#members.get(member);
      if (local === undefined) return joined.room;
      const key = joined.room.toLowerCase();
      if (local.rooms.has(key)) return joined.room;
      remember(local, key);
      // JOINED to the room's members: here (before the joiner is among them) and elsewhere.
      const line = `JOINED ${joined.room} ${local.nick}`;
      const room = this.#fanout.room(key);
      const calls: Awaitable<unknown>[] = [];
      if (quiet) this.#quiet.add(`${member.id} ${key}`);
      else if (room !== undefined) calls.push(this.#push(room, line));
      else calls.push(this.#node.broker.publish(key, encodeLine(line), null));
      calls.push(this.#addTo(local, joined.room, member));
      return then(all(calls), () => joined.room);
    });
  }

  leave(member: Member, name: string): Awaitable<LeaveResult> {
    this.flush();
    const key = name.toLowerCase();
    if (key === LOBBY) return "lobby";
    const local = this.#members.get(member);
    const room = local?.rooms.get(key);
    if (local === undefined || room === undefined) return "not-member";
    return then(
      engineCall(this.#node.presence.leave(member.id, name)),
      (): Awaitable<LeaveResult> => {
        local.rooms.delete(key);
        const calls: Awaitable<unknown>[] = [];
        if (this.#fanout.remove(room, member)) calls.push(this.#node.broker.unsubscribe(key));
        calls.push(this.#node.touched?.(key));
        if (!this.#quiet.delete(`${member.id} ${key}`)) {
          calls.push(this.#push(room, `LEFT ${room.name} ${local.nick}`));
        }
        return then(all(calls), () => ({ room: room.name }));
      },
    );
  }

  publish(member: Member, name: string, payload: Uint8Array): Awaitable<PublishResult> {
    const current = this.#batch;
    const run = current?.runs[current.runs.length - 1];
    if (
      run !== undefined && run.sender === member && current!.name === name &&
      payload.length <= BATCH_PAYLOAD && current!.frames.length < BATCH_BYTES
    ) {
      // The usual case within one read chunk: the same sender to the same room as the run being
      // built. Membership cannot have changed since it started (changes flush), so no lookups.
      const key = current!.room.key;
      const id = this.#node.log.next(key);
      if (typeof id === "number") {
        const frames = current!.frames;
        frames.append(run.head, payload, id);
        this.#keep(key, id, frames.buffer, frames.lastStart, frames.length);
        run.end = frames.length;
        return published(run.recipients, id);
      }
      return this.#publishLater(current!.room, member, payload, id);
    }
    const local = this.#members.get(member);
    const room = local?.rooms.get(name.toLowerCase());
    if (local === undefined || room === undefined) {
      return then(
        engineCall(this.#node.presence.hasRoom(name)),
        (exists): PublishResult => exists ? "not-member" : "no-room",
      );
    }
    if (this.#says !== null) {
      return this.#says.push(room.key, member, `MSG ${room.name} ${local.nick}`, payload);
    }
    const id = this.#node.log.next(room.key);
    if (typeof id !== "number") return this.#publishLater(room, member, payload, id);
    if (payload.length > BATCH_PAYLOAD) {
      this.flush();
      const bytes = encodeFrame(`MSG ${room.name} ${local.nick} id ${id}`, payload);
      this.#keep(room.key, id, bytes);
      const here = this.#fanout.deliver(room.key, bytes, member);
      return then(
        engineCall(this.#node.broker.publish(room.key, bytes, member.id)),
        (n) => ({ recipients: here + n, id }),
      );
    }
    if (this.#batch?.room !== room && room.members.size === 1) {
      // Alone in the room here: when nobody elsewhere hears it either, the frame is for the log
      // only, encoded in a scratch batch it copies (no buffer per message for the collector).
      const remote = this.#node.broker.audience(room.key, member.id);
      if (remote === 0) {
        const solo = this.#solo;
        solo.reset();
        solo.append(headOf(local, room), payload, id);
        this.#keep(room.key, id, solo.buffer, solo.lastStart, solo.length);
        return { recipients: 0, id };
      }
    }
    let batch = this.#batch;
    if (batch !== null && (batch.room !== room || batch.frames.length >= BATCH_BYTES)) {
      this.flush();
      batch = null;
    }
    batch ??= this.#startBatch(room, name);
    let last = batch.runs[batch.runs.length - 1];
    if (last?.sender !== member) {
      const self = member.acceptsPushes === false ? 0 : 1;
      const here = batch.accepting - self;
      const remote = batch.remote;
      last = {
        sender: member,
        head: headOf(local, room),
        recipients: typeof remote === "number" ? here + remote : then(remote, (n) => here + n),
        start: batch.frames.length,
        end: batch.frames.length,
      };
      batch.runs.push(last);
    }
    batch.frames.append(last.head, payload, id);
    this.#keep(room.key, id, batch.frames.buffer, batch.frames.lastStart, batch.frames.length);
    last.end = batch.frames.length;
    return published(last.recipients, id);
  }

  /** Stores a message in the room's log; a failure there is reported, not the sender's. */
  #keep(key: string, id: number, frame: Uint8Array, start = 0, end = frame.length): void {
    const kept = this.#node.log.put(key, id, frame, start, end);
    if (kept instanceof Promise) kept.catch(this.#onError);
  }

  /**
   * Publishes through an engine that gives ids asynchronously: the frame is encoded once the id
   * is known, and the messages of one room go out in the order they were published.
   */
  #publishLater(
    room: LocalRoom,
    member: Member,
    payload: Uint8Array,
    id: Promise<number>,
  ): Promise<PublishResult> {
    this.flush();
    const copy = payload.slice();
    const nick = this.nick(member);
    return this.#late.after(room.key, engineCall(id), async (n): Promise<PublishResult> => {
      const bytes = encodeFrame(`MSG ${room.name} ${nick} id ${n}`, copy);
      this.#keep(room.key, n, bytes);
      const here = this.#fanout.deliver(room.key, bytes, member);
      const there = await engineCall(this.#node.broker.publish(room.key, bytes, member.id));
      return { recipients: here + there, id: n };
    });
  }

  history(member: Member, name: string, query: HistoryQuery): Awaitable<HistoryResult> {
    this.flush();
    return historyFor(this.#node, this.#members.get(member), name, query);
  }

  /** Delivers the pending batch of room messages now. */
  flush(): void {
    this.#says?.flush();
    const batch = this.#batch;
    if (batch === null) return;
    this.#batch = null; // before delivering: a member cut by it detaches, which flushes again
    deliverBatch(batch, this.#fanout, this.#fanoutTime, this.#node.broker, this.#onError);
  }

  #startBatch(room: LocalRoom, name: string): Batch {
    const batch = newBatch(
      room,
      name,
      this.#fanout.audience(room.key, null),
      engineCall(this.#node.broker.audience(room.key, null)),
    );
    this.#batch = batch;
    // A fallback for callers that never flush (a session flushes at the end of each read): one
    // timer at a time, not one per batch (a timer per batch cost a fifth of the fan-out rate).
    if (!this.#fallbackArmed) {
      this.#fallbackArmed = true;
      setTimeout(() => {
        this.#fallbackArmed = false;
        this.flush();
      }, 0);
    }
    return batch;
  }

  tell(member: Member, nick: string, payload: Uint8Array): Awaitable<boolean> {
    this.flush();
    const bytes = encodeFrame(`DM ${this.nick(member)}`, payload);
    return then(engineCall(this.#node.presence.lookup(nick)), (to): Awaitable<boolean> => {
      if (to === null) return false;
      // A member that takes no pushes (not logged in, no chat permission) is not reachable.
      if (to.node === this.#node.id) return this.#byId.get(to.id)?.deliver(bytes) ?? false;
      return engineCall(this.#node.broker.direct(to, bytes));
    });
  }

  who(room?: string): Awaitable<WhoEntry[] | null> {
    return engineCall(this.#node.presence.who(room));
  }

  rooms(): Awaitable<RoomEntry[]> {
    return engineCall(this.#node.presence.rooms());
  }

  isIn(member: Member, room: string): boolean {
    return this.#members.get(member)?.rooms.has(room.toLowerCase()) ?? false;
  }

  roomCount(member: Member): number {
    return this.#members.get(member)?.rooms.size ?? 0;
  }

  /** Leaves the engine (the node's members are forgotten by the other nodes). */
  close(): Awaitable<void> {
    return this.#node.close();
  }

  #addTo(local: LocalMember, name: string, member: Member): Awaitable<void> {
    const { room, first } = this.#fanout.add(name, member);
    local.rooms.set(room.key, room);
    const counted = this.#node.touched?.(room.key);
    if (first) return all([this.#node.broker.subscribe(room.key), counted]);
    return counted;
  }

  /** A line to the room's members here and on the other nodes. */
  #push(room: LocalRoom, line: string): Awaitable<number> {
    const bytes = encodeLine(line);
    this.#fanout.deliver(room.key, bytes, null);
    return this.#node.broker.publish(room.key, bytes, null);
  }
}

/** Set while {@linkcode ChatHub.connect} builds a hub whose node it connects itself. */
let connecting = false;
