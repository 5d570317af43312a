/**
 * This node's half of every room: which local members are in it, and delivery of encoded frames
 * to them (the same bytes for everybody: encode once, fan out many).
 *
 * @module
 */

import type { Member } from "../core/member.ts";

/** A room as this node sees it: its display name and its local members. */
export interface LocalRoom {
  /** The display name (as first created). */
  readonly name: string;
  /** The room's key (lower case). */
  readonly key: string;
  /** This node's members in it, in the order they joined. */
  readonly members: Set<Member>;
}

/**
 * Local rooms and their members.
 *
 * @example
 * ```ts
 * import { LocalFanout } from "./local_fanout.ts";
 * const fanout = new LocalFanout();
 * const got: Uint8Array[] = [];
 * const member = { id: "n.1", since: 0, deliver: (b: Uint8Array) => got.push(b) > 0 };
 * fanout.add("Ops", member);
 * console.assert(fanout.deliver("ops", new Uint8Array([1]), null) === 1 && got.length === 1);
 * ```
 */
export class LocalFanout {
  readonly #rooms = new Map<string, LocalRoom>();

  /** The local room with this key, if any local member is in it. */
  room(key: string): LocalRoom | undefined {
    return this.#rooms.get(key);
  }

  /**
   * Adds a member to a room (creating the local room).
   *
   * @param name The room's display name.
   * @param member The member.
   * @returns The room, and whether it is new on this node (subscribe to it).
   */
  add(name: string, member: Member): { room: LocalRoom; first: boolean } {
    const key = name.toLowerCase();
    let room = this.#rooms.get(key);
    const first = room === undefined;
    if (room === undefined) {
      room = { name, key, members: new Set() };
      this.#rooms.set(key, room);
    }
    room.members.add(member);
    return { room, first };
  }

  /**
   * Takes a member out of a room.
   *
   * @returns `true` when the room has no local member left (it is gone here: unsubscribe).
   */
  remove(room: LocalRoom, member: Member): boolean {
    room.members.delete(member);
    if (room.members.size > 0 || this.#rooms.get(room.key) !== room) return false;
    this.#rooms.delete(room.key);
    return true;
  }

  /**
   * Queues frames to every local member of a room but one.
   *
   * @param key The room's key.
   * @param bytes The frames (shared: never changed).
   * @param except The member to skip (a local one, or the id of one on another node), or `null`.
   * @returns How many members took them.
   */
  deliver(key: string, bytes: Uint8Array, except: Member | string | null): number {
    const room = this.#rooms.get(key);
    if (room === undefined) return 0;
    let n = 0;
    // A member cut while we iterate is detached later (asynchronously), so the set is stable.
    if (typeof except === "string") {
      for (const m of room.members) if (m.id !== except && m.deliver(bytes)) n++;
    } else {
      for (const m of room.members) if (m !== except && m.deliver(bytes)) n++;
    }
    return n;
  }

  /**
   * Queues a batch of frames from several senders to every local member of a room, each member
   * getting the frames of the others, in order (views of `bytes`: encoded once for all).
   *
   * @param key The room's key.
   * @param bytes The frames (shared: never changed).
   * @param runs Who sent which bytes: `[start, end)` ranges of `bytes`, in order, covering it.
   */
  deliverRuns(
    key: string,
    bytes: Uint8Array,
    runs: readonly { sender: Member; start: number; end: number }[],
  ): void {
    const room = this.#rooms.get(key);
    if (room === undefined) return;
    if (runs.length === 1) {
      this.deliver(key, bytes, runs[0]!.sender);
      return;
    }
    const senders = new Set<Member>();
    for (const r of runs) senders.add(r.sender);
    for (const m of room.members) {
      if (!senders.has(m)) {
        m.deliver(bytes);
        continue;
      }
      // The bytes between this member's own runs.
      let from = 0;
      for (const r of runs) {
        if (r.sender !== m) continue;
        if (r.start > from) m.deliver(bytes.subarray(from, r.start));
        from = r.end;
      }
      if (from < bytes.length) m.deliver(bytes.subarray(from));
    }
  }

  /**
   * Queues frames to every local member of any of `keys`, once each, but `except`.
   *
   * @returns How many members took them.
   */
  deliverOnce(keys: readonly string[], bytes: Uint8Array, except: Member | string | null): number {
    const seen = new Set<Member>();
    let n = 0;
    for (const key of keys) {
      const room = this.#rooms.get(key);
      if (room === undefined) continue;
      for (const m of room.members) {
        if (seen.has(m) || m === except || m.id === except) continue;
        seen.add(m);
        if (m.deliver(bytes)) n++;
      }
    }
    return n;
  }

  /** How many local members of a room a message would reach now, but `except`. */
  audience(key: string, except: string | null): number {
    const room = this.#rooms.get(key);
    if (room === undefined) return 0;
    let n = 0;
    for (const m of room.members) if (m.id !== except && m.acceptsPushes !== false) n++;
    return n;
  }
}
