/**
 * The hub: rooms, nicks and fan-out. Sessions and handlers only see the {@linkcode Hub}
 * interface; {@linkcode LocalHub} is the in-process implementation. A hub spread over several
 * server processes (Redis) may answer with promises: every method returns {@linkcode Awaitable}.
 *
 * @module
 */

import { encodeFrame, encodeLine } from "../../lib/protocol/encoder.ts";
import type { RoomEntry, WhoEntry } from "../../lib/protocol/rows.ts";
import { LOBBY } from "../../lib/protocol/limits.ts";

export type { RoomEntry, WhoEntry };

/** A value, or a promise of it. */
export type Awaitable<T> = T | Promise<T>;

/** A connected client as the hub sees it. */
export interface Member {
  /** Unique per server process. */
  readonly id: number;
  /** The current nick, as the client chose its case. */
  readonly nick: string;
  /** When it connected, unix milliseconds. */
  readonly since: number;
  /**
   * Queues encoded push frames to the client (one frame, or several back to back). The bytes are
   * shared with other members.
   * @returns `false` when the client is gone or was cut for it.
   */
  deliver(bytes: Uint8Array): boolean;
  /**
   * Whether pushes reach this member now (`deliver` would not refuse them). Lets a hub count the
   * recipients of a message before it delivers it. Absent means yes.
   */
  readonly acceptsPushes?: boolean;
}

/** Outcome of {@linkcode Hub.publish}: a recipient count, or why not. */
export type PublishResult = number | "no-room" | "not-member";

/** Outcome of {@linkcode Hub.leave}. */
export type LeaveResult = { room: string } | "lobby" | "not-member";

/** Rooms, nicks and fan-out, as sessions and handlers use them. */
export interface Hub {
  /**
   * Adds a member (in `lobby`, silently) under a fresh `guest-<n>` nick.
   * @returns The guest nick given.
   */
  attach(member: Member, setNick: (nick: string) => void): Awaitable<string>;
  /** Removes a member everywhere; pushes `LEFT` to the rooms it had joined (not `lobby`). */
  detach(member: Member): Awaitable<void>;
  /**
   * Gives `member` the nick `nick` if nobody else has it (case-insensitively).
   * @returns `true` on success, `false` when the nick is taken.
   */
  rename(member: Member, nick: string): Awaitable<boolean>;
  /**
   * Puts `member` in `room`, creating it; pushes `JOINED` to the others when it is new there.
   * @returns The room's display name.
   */
  join(member: Member, room: string): Awaitable<string>;
  /** Takes `member` out of `room`; pushes `LEFT` to those remaining. */
  leave(member: Member, room: string): Awaitable<LeaveResult>;
  /** Sends `MSG room from N` + payload to every other member of `room`. */
  publish(member: Member, room: string, payload: Uint8Array): Awaitable<PublishResult>;
  /**
   * Sends `DM from N` + payload to the member called `nick`.
   * @returns `false` when nobody has that nick, or its owner takes no pushes.
   */
  tell(member: Member, nick: string, payload: Uint8Array): Awaitable<boolean>;
  /** Lists members of `room` (everybody without one); `null` for an unknown room. */
  who(room?: string): Awaitable<WhoEntry[] | null>;
  /** Lists rooms with their member counts. */
  rooms(): Awaitable<RoomEntry[]>;
  /** The number of rooms `member` has joined, `lobby` included. */
  roomCount(member: Member): number;
}

interface Room {
  name: string;
  members: Set<Member>;
}

/**
 * Messages of one sender to one room, encoded back to back into one buffer and delivered to each
 * member once: the same bytes for everybody, one queue entry per member instead of one per message.
 */
interface Batch {
  room: Room;
  /** The room name as the sender wrote it. */
  name: string;
  sender: Member;
  /** `MSG room nick ` in bytes. */
  prefix: Uint8Array;
  /** Members it will reach, counted when the batch started (membership changes flush first). */
  recipients: number;
  buf: Uint8Array;
  length: number;
}

/** Payloads larger than this are not batched (encoded and fanned out on their own, as before). */
const BATCH_PAYLOAD = 16 * 1024;
/** A batch is delivered once it holds this many bytes. */
const BATCH_BYTES = 256 * 1024;
const text = new TextEncoder();

/**
 * The in-process hub: everything in maps, fan-out by queueing the same bytes to every member.
 *
 * Room messages are batched: the messages one sender publishes to one room in one synchronous run
 * (the frames of one read chunk) are encoded into one buffer, delivered to every member at the end
 * of that run (a microtask), or before anything else the hub does, so order is kept.
 *
 * @example
 * ```ts
 * import { LocalHub, type Member } from "./hub.ts";
 * const hub = new LocalHub();
 * const got: Uint8Array[] = [];
 * function member(id: number): Member {
 *   let nick = "";
 *   const m = { id, since: 0, get nick() { return nick; }, deliver: (b: Uint8Array) => got.push(b) > 0 };
 *   hub.attach(m, (n) => nick = n);
 *   return m;
 * }
 * const a = member(1), b = member(2);
 * console.assert(hub.publish(a, "lobby", new Uint8Array([104, 105])) === 1);
 * hub.flush(); // room messages are delivered in a microtask, or now with flush()
 * console.assert(got.length === 1 && b.nick === "guest-2");
 * ```
 */
export class LocalHub implements Hub {
  readonly #rooms = new Map<string, Room>();
  readonly #nicks = new Map<string, Member>();
  readonly #setters = new Map<Member, (nick: string) => void>();
  readonly #joined = new Map<Member, Set<Room>>();
  #guest = 0;
  #batch: Batch | null = null;

  constructor() {
    this.#rooms.set(LOBBY, { name: LOBBY, members: new Set() });
  }

  /** The number of members attached. */
  get size(): number {
    return this.#joined.size;
  }

  attach(member: Member, setNick: (nick: string) => void): string {
    this.flush();
    let nick: string;
    do nick = `guest-${++this.#guest}`; while (this.#nicks.has(nick));
    this.#nicks.set(nick, member);
    this.#setters.set(member, setNick);
    setNick(nick);
    const lobby = this.#rooms.get(LOBBY)!;
    lobby.members.add(member);
    this.#joined.set(member, new Set([lobby]));
    return nick;
  }

  detach(member: Member): void {
    this.flush();
    const rooms = this.#joined.get(member);
    if (rooms === undefined) return;
    this.#joined.delete(member);
    this.#setters.delete(member);
    const key = member.nick.toLowerCase();
    if (this.#nicks.get(key) === member) this.#nicks.delete(key);
    for (const room of rooms) {
      room.members.delete(member);
      if (room.name === LOBBY) continue;
      if (room.members.size === 0) this.#rooms.delete(room.name.toLowerCase());
      else this.#fanout(room, encodeLine(`LEFT ${room.name} ${member.nick}`), null);
    }
  }

  rename(member: Member, nick: string): boolean {
    this.flush();
    const key = nick.toLowerCase();
    const owner = this.#nicks.get(key);
    if (owner !== undefined && owner !== member) return false;
    this.#nicks.delete(member.nick.toLowerCase());
    this.#nicks.set(key, member);
    this.#setters.get(member)?.(nick);
    return true;
  }

  join(member: Member, name: string): string {
    this.flush();
    const key = name.toLowerCase();
    let room = this.#rooms.get(key);
    if (room === undefined) {
      room = { name, members: new Set() };
      this.#rooms.set(key, room);
    }
    if (!room.members.has(member)) {
      this.#fanout(room, encodeLine(`JOINED ${room.name} ${member.nick}`), null);
      room.members.add(member);
      this.#joined.get(member)?.add(room);
    }
    return room.name;
  }

  leave(member: Member, name: string): LeaveResult {
    this.flush();
    const key = name.toLowerCase();
    if (key === LOBBY) return "lobby";
    const room = this.#rooms.get(key);
    if (room === undefined || !room.members.has(member)) return "not-member";
    room.members.delete(member);
    this.#joined.get(member)?.delete(room);
    if (room.members.size === 0) this.#rooms.delete(key);
    else this.#fanout(room, encodeLine(`LEFT ${room.name} ${member.nick}`), null);
    return { room: room.name };
  }

  publish(member: Member, name: string, payload: Uint8Array): PublishResult {
    const current = this.#batch;
    if (
      current !== null && current.sender === member && current.name === name &&
      payload.length <= BATCH_PAYLOAD && current.length < BATCH_BYTES
    ) {
      // The usual case within one read chunk: the same sender to the same room as the batch being
      // built. Membership cannot have changed since it started (changes flush), so no lookups.
      if (current.recipients > 0) this.#append(current, payload);
      return current.recipients;
    }
    const room = this.#rooms.get(name.toLowerCase());
    if (room === undefined) return "no-room";
    if (!room.members.has(member)) return "not-member";
    if (payload.length > BATCH_PAYLOAD) {
      this.flush();
      return this.#fanout(room, encodeFrame(`MSG ${room.name} ${member.nick}`, payload), member);
    }
    let batch = this.#batch;
    if (
      batch !== null &&
      (batch.room !== room || batch.sender !== member || batch.length >= BATCH_BYTES)
    ) {
      this.flush();
      batch = null;
    }
    if (batch === null) batch = this.#startBatch(room, member, name);
    if (batch.recipients === 0) return 0;
    this.#append(batch, payload);
    return batch.recipients;
  }

  /** Delivers the pending batch of room messages now (it is otherwise delivered in a microtask). */
  flush(): void {
    const batch = this.#batch;
    if (batch === null) return;
    this.#batch = null; // before delivering: a member cut by it detaches, which flushes again
    if (batch.length > 0) {
      this.#fanout(batch.room, batch.buf.subarray(0, batch.length), batch.sender);
    }
  }

  #startBatch(room: Room, sender: Member, name: string): Batch {
    let recipients = 0;
    for (const m of room.members) if (m !== sender && m.acceptsPushes !== false) recipients++;
    const prefix = text.encode(`MSG ${room.name} ${sender.nick} `);
    const batch: Batch = { room, name, sender, prefix, recipients, buf: EMPTY, length: 0 };
    this.#batch = batch;
    queueMicrotask(() => {
      if (this.#batch === batch) this.flush();
    });
    return batch;
  }

  #append(batch: Batch, payload: Uint8Array): void {
    const n = payload.length;
    const need = batch.length + batch.prefix.length + 12 + n;
    if (need > batch.buf.length) {
      const grown = new Uint8Array(Math.max(need, 4096, batch.buf.length * 2));
      grown.set(batch.buf.subarray(0, batch.length));
      batch.buf = grown;
    }
    const buf = batch.buf;
    let at = batch.length;
    buf.set(batch.prefix, at);
    at += batch.prefix.length;
    // The byte count in decimal, then CRLF, the payload, CRLF.
    let digits = 1;
    for (let v = n; v >= 10; v = Math.floor(v / 10)) digits++;
    for (let i = digits - 1, v = n; i >= 0; i--, v = Math.floor(v / 10)) {
      buf[at + i] = 48 + (v % 10);
    }
    at += digits;
    buf[at++] = 13;
    buf[at++] = 10;
    buf.set(payload, at);
    at += n;
    buf[at++] = 13;
    buf[at++] = 10;
    batch.length = at;
  }

  tell(member: Member, nick: string, payload: Uint8Array): boolean {
    this.flush();
    const target = this.#nicks.get(nick.toLowerCase());
    if (target === undefined) return false;
    // A member that takes no pushes (not logged in, no chat permission) is not reachable.
    return target.deliver(encodeFrame(`DM ${member.nick}`, payload));
  }

  who(name?: string): WhoEntry[] | null {
    let members: Iterable<Member> = this.#joined.keys();
    if (name !== undefined) {
      const room = this.#rooms.get(name.toLowerCase());
      if (room === undefined) return null;
      members = room.members;
    }
    const out: WhoEntry[] = [];
    for (const m of members) {
      const rooms = [...(this.#joined.get(m) ?? [])].map((r) => r.name);
      out.push({ nick: m.nick, rooms, since: m.since });
    }
    return out;
  }

  rooms(): RoomEntry[] {
    return [...this.#rooms.values()].map((r) => ({ room: r.name, members: r.members.size }));
  }

  roomCount(member: Member): number {
    return this.#joined.get(member)?.size ?? 0;
  }

  #fanout(room: Room, bytes: Uint8Array, except: Member | null): number {
    let n = 0;
    // A member cut while we iterate is detached later (asynchronously), so the set is stable.
    for (const m of room.members) {
      if (m !== except && m.deliver(bytes)) n++;
    }
    return n;
  }
}

const EMPTY = new Uint8Array(0);
