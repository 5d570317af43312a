/**
 * The memory engine: the embedded default. Everything lives in maps of this process; every call
 * answers synchronously. Several nodes (hubs) may connect to one `MemoryEngine`, which is how the
 * conformance suite proves that the hub works across nodes before a Redis engine exists.
 *
 * @module
 */

import { LOBBY } from "../../../lib/protocol/limits.ts";
import type { RoomEntry, WhoEntry } from "../../../lib/protocol/rows.ts";
import type {
  Broker,
  Engine,
  EngineNode,
  Joined,
  MemberInfo,
  NodeEvents,
  Presence,
  RoomLog,
} from "../../core/engine.ts";
import { MemoryLog, type MemoryLogOptions } from "./log.ts";

interface MemberRecord {
  readonly id: string;
  readonly node: string;
  nick: string;
  readonly since: number;
  /** Rooms joined, in the order joined (`lobby` first). */
  readonly rooms: Set<RoomRecord>;
}

interface RoomRecord {
  readonly name: string;
  /** Members, in the order they joined. */
  readonly members: Set<MemberRecord>;
}

interface NodeRecord {
  readonly events: NodeEvents;
  readonly subscriptions: Set<string>;
}

let engineCount = 0;

/**
 * State shared by the nodes of one process.
 *
 * @example
 * ```ts
 * import { MemoryEngine } from "./engine.ts";
 * const engine = new MemoryEngine();
 * const node = engine.connect({
 *   room: () => 0,
 *   direct: () => false,
 *   audience: () => 0,
 *   once: () => 0,
 * });
 * const nick = node.presence.attach({ id: `${node.id}.1`, since: Date.now() });
 * console.assert(nick === "guest-1");
 * ```
 */
export class MemoryEngine implements Engine {
  /** The room logs every node shares. */
  readonly log: MemoryLog;
  readonly #prefix = `m${++engineCount}-${crypto.randomUUID().slice(0, 8)}`;
  readonly #nodes = new Map<string, NodeRecord>();
  readonly #members = new Map<string, MemberRecord>();
  readonly #nicks = new Map<string, MemberRecord>();
  readonly #rooms = new Map<string, RoomRecord>();
  #guest = 0;
  #nodeCount = 0;

  /** @param options How much history the room logs keep (see {@linkcode MemoryLogOptions}). */
  constructor(options: { history?: MemoryLogOptions } = {}) {
    this.#rooms.set(LOBBY, { name: LOBBY, members: new Set() });
    this.log = new MemoryLog(options.history);
    this.log.watch((room) => this.#rooms.has(room));
  }

  /**
   * Joins as a new node.
   *
   * @param events How this engine hands the node its members' traffic.
   * @returns The node's handle; every call on it answers synchronously.
   */
  connect(events: NodeEvents): MemoryNode {
    const id = `${this.#prefix}-${++this.#nodeCount}`;
    const node: NodeRecord = { events, subscriptions: new Set() };
    this.#nodes.set(id, node);
    return new MemoryNode(
      id,
      this.#broker(id, node),
      this.#presence(id),
      this.log,
      () => this.#leave(id),
    );
  }

  #leave(node: string): void {
    this.#nodes.delete(node);
    for (const m of [...this.#members.values()]) if (m.node === node) this.#detach(m.id);
  }

  #broker(self: string, mine: NodeRecord): Broker {
    const nodes = this.#nodes;
    return {
      subscribe(room: string): void {
        mine.subscriptions.add(room);
      },
      unsubscribe(room: string): void {
        mine.subscriptions.delete(room);
      },
      publish(room: string, bytes: Uint8Array, except: string | null): number {
        let n = 0;
        if (nodes.size === 1) return 0;
        for (const [id, node] of nodes) {
          if (id !== self && node.subscriptions.has(room)) {
            n += node.events.room(room, bytes, except);
          }
        }
        return n;
      },
      publishOnce(rooms: readonly string[], bytes: Uint8Array, except: string | null): void {
        if (nodes.size === 1) return;
        for (const [id, node] of nodes) {
          if (id === self) continue;
          const theirs = rooms.filter((r) => node.subscriptions.has(r));
          if (theirs.length > 0) node.events.once(theirs, bytes, except);
        }
      },
      audience(room: string, except: string | null): number {
        let n = 0;
        if (nodes.size === 1) return 0;
        for (const [id, node] of nodes) {
          if (id !== self && node.subscriptions.has(room)) n += node.events.audience(room, except);
        }
        return n;
      },
      direct(to: MemberInfo, bytes: Uint8Array): boolean {
        return nodes.get(to.node)?.events.direct(to.id, bytes) ?? false;
      },
    };
  }

  #presence(node: string): Presence {
    return {
      attach: (member) => {
        let nick: string;
        do nick = `guest-${++this.#guest}`; while (this.#nicks.has(nick));
        const lobby = this.#rooms.get(LOBBY)!;
        const record: MemberRecord = {
          id: member.id,
          node,
          nick,
          since: member.since,
          rooms: new Set([lobby]),
        };
        this.#members.set(member.id, record);
        this.#nicks.set(nick, record);
        lobby.members.add(record);
        return nick;
      },
      detach: (member) => this.#detach(member),
      rename: (member, nick) => {
        const record = this.#members.get(member);
        if (record === undefined) return false;
        const key = nick.toLowerCase();
        const owner = this.#nicks.get(key);
        if (owner !== undefined && owner !== record) return false;
        this.#nicks.delete(record.nick.toLowerCase());
        this.#nicks.set(key, record);
        record.nick = nick;
        return true;
      },
      hasRoom: (room) => this.#rooms.has(room.toLowerCase()),
      lookup: (nick) => {
        const r = this.#nicks.get(nick.toLowerCase());
        return r === undefined ? null : { id: r.id, node: r.node, nick: r.nick, since: r.since };
      },
      join: (member, name): Joined => {
        const key = name.toLowerCase();
        let room = this.#rooms.get(key);
        if (room === undefined) {
          room = { name, members: new Set() };
          this.#rooms.set(key, room);
        }
        const record = this.#members.get(member);
        if (record === undefined || room.members.has(record)) {
          return { room: room.name, added: false };
        }
        room.members.add(record);
        record.rooms.add(room);
        return { room: room.name, added: true };
      },
      leave: (member, name) => {
        const key = name.toLowerCase();
        const room = this.#rooms.get(key);
        const record = this.#members.get(member);
        if (room === undefined || record === undefined || !room.members.has(record)) return null;
        room.members.delete(record);
        record.rooms.delete(room);
        if (room.members.size === 0 && key !== LOBBY) this.#rooms.delete(key);
        return room.name;
      },
      who: (name) => {
        let members: Iterable<MemberRecord> = this.#members.values();
        if (name !== undefined) {
          const room = this.#rooms.get(name.toLowerCase());
          if (room === undefined) return null;
          members = room.members;
        }
        const out: WhoEntry[] = [];
        for (const m of members) {
          out.push({ nick: m.nick, rooms: [...m.rooms].map((r) => r.name), since: m.since });
        }
        return out;
      },
      rooms: (): RoomEntry[] =>
        [...this.#rooms.values()].map((r) => ({ room: r.name, members: r.members.size })),
    };
  }

  #detach(member: string): void {
    const record = this.#members.get(member);
    if (record === undefined) return;
    this.#members.delete(member);
    const key = record.nick.toLowerCase();
    if (this.#nicks.get(key) === record) this.#nicks.delete(key);
    for (const room of record.rooms) {
      room.members.delete(record);
      const roomKey = room.name.toLowerCase();
      if (room.members.size === 0 && roomKey !== LOBBY) this.#rooms.delete(roomKey);
    }
  }
}

/** One node of a {@linkcode MemoryEngine}. */
export class MemoryNode implements EngineNode {
  readonly id: string;
  readonly broker: Broker;
  readonly presence: Presence;
  readonly log: RoomLog;
  readonly #leave: () => void;

  /**
   * @param id The node id.
   * @param broker Its broker.
   * @param presence Its presence.
   * @param log The room logs.
   * @param leave Called by `close()`.
   */
  constructor(id: string, broker: Broker, presence: Presence, log: RoomLog, leave: () => void) {
    this.id = id;
    this.broker = broker;
    this.presence = presence;
    this.log = log;
    this.#leave = leave;
  }

  close(): void {
    this.#leave();
  }
}
