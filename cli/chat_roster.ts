/**
 * What the chat knows of the rooms: who was seen in each (for Tab completion, the current room's
 * nicks first), the rooms known, and the unread activity of the rooms not being looked at.
 * Kept from the pushes, and from `WHO`/`ROOMS` answers.
 *
 * @module
 */

import type { Client, RoomEntry, WhoEntry } from "../client/mod.ts";
import type { CompletionState } from "./chat_input.ts";

/** An event the roster learns from (the chat's pushes). */
export type RosterEvent =
  | { type: "msg"; room: string; from: string }
  | { type: "dm"; from: string }
  | { type: "joined" | "left"; room: string; nick: string }
  | { type: "renamed"; old: string; nick: string };

/**
 * Nicks per room, rooms, and unread counts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Roster } from "./chat_roster.ts";
 * const r = new Roster();
 * r.note({ type: "msg", room: "ops", from: "bob" }, "lobby");
 * assert.equal(r.unread("ops"), 1);
 * assert.deepEqual(r.completion("ops", "me").here, ["bob"]);
 * assert.equal(r.markRead("ops"), 1);
 * assert.equal(r.unread("ops"), 0);
 * ```
 */
export class Roster {
  /** Room key → (nick key → nick). */
  readonly #nicks = new Map<string, Map<string, string>>();
  /** Nicks of direct messages. */
  readonly #direct = new Map<string, string>();
  /** Room key → name. */
  readonly #rooms = new Map<string, string>();
  /** Room key → messages not seen in it as the current room. */
  readonly #unread = new Map<string, number>();
  #whoAt = new Map<string, number>();
  #roomsAt = 0;

  #room(name: string): Map<string, string> {
    const key = name.toLowerCase();
    if (!this.#rooms.has(key)) this.#rooms.set(key, name);
    let m = this.#nicks.get(key);
    if (m === undefined) this.#nicks.set(key, m = new Map());
    return m;
  }

  /**
   * Learns from a push.
   *
   * @param ev The push.
   * @param current The room being looked at (its messages are read).
   */
  note(ev: RosterEvent, current: string): void {
    switch (ev.type) {
      case "msg":
        this.#room(ev.room).set(ev.from.toLowerCase(), ev.from);
        if (ev.room.toLowerCase() !== current.toLowerCase()) {
          const key = ev.room.toLowerCase();
          this.#unread.set(key, (this.#unread.get(key) ?? 0) + 1);
        }
        return;
      case "dm":
        this.#direct.set(ev.from.toLowerCase(), ev.from);
        return;
      case "joined":
        this.#room(ev.room).set(ev.nick.toLowerCase(), ev.nick);
        return;
      case "left":
        this.#room(ev.room).delete(ev.nick.toLowerCase());
        return;
      case "renamed":
        for (const m of [...this.#nicks.values(), this.#direct]) {
          if (m.delete(ev.old.toLowerCase())) m.set(ev.nick.toLowerCase(), ev.nick);
        }
    }
  }

  /**
   * Takes in a `WHO room` answer: the room's members now.
   *
   * @param room The room.
   * @param entries Its members.
   */
  setMembers(room: string, entries: readonly WhoEntry[]): void {
    const m = this.#room(room);
    m.clear();
    for (const e of entries) m.set(e.nick.toLowerCase(), e.nick);
    this.#whoAt.set(room.toLowerCase(), Date.now());
  }

  /**
   * Takes in a `ROOMS` answer.
   *
   * @param rooms The rooms.
   */
  setRooms(rooms: readonly RoomEntry[]): void {
    for (const r of rooms) this.#room(r.room);
    this.#roomsAt = Date.now();
  }

  /**
   * Asks the server again for a room's members (when last asked over 2 s ago) and for the room
   * list (over 10 s ago), waiting at most 500 ms for either: Tab must answer at once.
   *
   * @param client The connection, or null when offline (nothing is asked).
   * @param room The current room.
   */
  async refresh(client: Client | null, room: string): Promise<void> {
    if (client === null || client.closed) return;
    const quick = <T>(p: Promise<T>) =>
      Promise.race([p, new Promise<null>((r) => setTimeout(() => r(null), 500))]).catch(() => null);
    const now = Date.now();
    const [who, rooms] = await Promise.all([
      now - (this.#whoAt.get(room.toLowerCase()) ?? 0) > 2000 ? quick(client.who(room)) : null,
      now - this.#roomsAt > 10_000 ? quick(client.rooms()) : null,
    ]);
    if (who !== null) this.setMembers(room, who);
    if (rooms !== null) this.setRooms(rooms);
  }

  /**
   * Messages of a room not seen as the current room.
   *
   * @param room The room.
   * @returns The count.
   */
  unread(room: string): number {
    return this.#unread.get(room.toLowerCase()) ?? 0;
  }

  /**
   * The rooms with unread messages, in the order they got their first one.
   *
   * @returns Names and counts.
   */
  unreadRooms(): { room: string; count: number }[] {
    return [...this.#unread].map(([key, count]) => ({ room: this.#rooms.get(key) ?? key, count }));
  }

  /**
   * Marks a room read (it became the current one).
   *
   * @param room The room.
   * @returns How many messages were unread in it.
   */
  markRead(room: string): number {
    const key = room.toLowerCase();
    const n = this.#unread.get(key) ?? 0;
    this.#unread.delete(key);
    return n;
  }

  /**
   * Forgets a room's unread count and members (it was left).
   *
   * @param room The room.
   */
  forget(room: string): void {
    this.#unread.delete(room.toLowerCase());
    this.#nicks.delete(room.toLowerCase());
    this.#whoAt.delete(room.toLowerCase());
  }

  /**
   * What Tab completes from.
   *
   * @param current The current room (its nicks come first).
   * @param self This client's nick (left out).
   * @param joined The rooms joined (first among the rooms).
   * @returns The completion state.
   */
  completion(current: string, self: string, joined: readonly string[] = []): CompletionState {
    const me = self.toLowerCase();
    const here = [...(this.#nicks.get(current.toLowerCase())?.values() ?? [])]
      .filter((n) => n.toLowerCase() !== me).sort(byName);
    const elsewhere = new Set<string>();
    for (const [key, m] of this.#nicks) {
      if (key === current.toLowerCase()) continue;
      for (const n of m.values()) if (n.toLowerCase() !== me) elsewhere.add(n);
    }
    for (const n of this.#direct.values()) if (n.toLowerCase() !== me) elsewhere.add(n);
    const rooms = [...joined, ...[...this.#rooms.values()].sort(byName)];
    return { here, elsewhere: [...elsewhere].sort(byName), rooms };
  }
}

function byName(a: string, b: string): number {
  return a.toLowerCase().localeCompare(b.toLowerCase());
}
