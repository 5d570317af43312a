/**
 * The Redis engine's pub/sub: what nodes publish to each other and how a node hands it to its
 * members. Every room has one sharded channel (its base key, so it lives on the room's shard),
 * subscribed only by nodes with members in it; every node has one for direct messages and its
 * liveness probe.
 *
 * A message is one header line, `\n`, then the frames as members get them:
 * - `M<sender>` room messages (from the `SAY` script): to every member here but the sender;
 * - `P<origin>\t<except>` a push (`JOINED`, `LEFT`): to every member here but `except`, on every
 *   node but `origin` (which delivered it already; empty when a reaper speaks for a dead node);
 * - `O<origin>\t<except>\t<tag>\t<room>,<room>...` once to the members of any of the rooms
 *   (`RENAMED`), however many of the rooms' channels it comes through;
 * - `D<member>` a direct message (node channel); `Q<n>` a probe (node channel, no frames).
 *
 * @module
 */

import type { Broker, MemberInfo, NodeEvents } from "../../core/engine.ts";
import type { RedisLink } from "./link.ts";
import { AUDIENCE, PUSH } from "./scripts.ts";

/** Key and channel names, under one prefix. */
export class Keys {
  /** Presence (one hash slot). */
  readonly presence: string;
  readonly #prefix: string;

  constructor(prefix: string) {
    this.#prefix = prefix;
    this.presence = `${prefix}{p}`;
  }

  /** A room's base key and channel (`room` is its key, lower case). */
  room(room: string): string {
    return `${this.#prefix}{r:${room}}`;
  }

  /** A node's channel. */
  node(node: string): string {
    return `${this.#prefix}{n:${node}}`;
  }
}

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** `header` + `\n` + `bytes`, as one message. */
export function message(header: string, bytes: Uint8Array): Uint8Array {
  const head = utf8.encode(header);
  const out = new Uint8Array(head.length + 1 + bytes.length);
  out.set(head, 0);
  out[head.length] = 10;
  out.set(bytes, head.length + 1);
  return out;
}

/** Splits a message into its header line and its frames (a view, not a copy). */
export function split(m: Uint8Array): [string, Uint8Array] {
  let nl = m.indexOf(10);
  if (nl < 0) nl = m.length;
  return [text.decode(m.subarray(0, nl)), m.subarray(Math.min(nl + 1, m.length))];
}

/** How many `O` tags a node remembers to hand a message once. */
const SEEN = 512;

/**
 * Hands a node's members what comes through its channels; the node's {@linkcode Broker}.
 */
export class Channels implements Broker {
  readonly #link: RedisLink;
  readonly #keys: Keys;
  readonly #self: string;
  readonly #events: NodeEvents;
  readonly #seen = new Set<string>();
  #tag = 0;
  #open = false;
  readonly #missing = new Set<string>();
  /** Rooms (keys) this node is subscribed to. */
  readonly rooms = new Set<string>();
  /** Told of every probe that came back. */
  onProbe: (n: number) => void = () => {};

  constructor(link: RedisLink, keys: Keys, self: string, events: NodeEvents) {
    this.#link = link;
    this.#keys = keys;
    this.#self = self;
    this.#events = events;
  }

  /** Subscribes to the node's own channel (direct messages, probes). */
  async open(): Promise<void> {
    if (this.#open) return;
    await this.#link.subscribe(this.#keys.node(this.#self), (m) => this.#direct(m));
    this.#open = true;
  }

  async subscribe(room: string): Promise<void> {
    if (this.rooms.has(room)) return;
    this.rooms.add(room);
    try {
      await this.#link.subscribe(this.#keys.room(room), (m) => this.#room(room, m));
    } catch {
      // Redis is away: the node subscribes when it is back (see resubscribe).
      this.#missing.add(room);
    }
  }

  /** Subscribes to the rooms a failure left out (Redis is back). */
  async resubscribe(): Promise<void> {
    for (const room of [...this.#missing]) {
      this.#missing.delete(room);
      if (!this.rooms.has(room)) continue;
      try {
        await this.#link.subscribe(this.#keys.room(room), (m) => this.#room(room, m));
      } catch (e) {
        this.#missing.add(room);
        throw e;
      }
    }
  }

  async unsubscribe(room: string): Promise<void> {
    if (!this.rooms.delete(room)) return;
    if (this.#missing.delete(room)) return;
    await this.#link.unsubscribe(this.#keys.room(room));
  }

  async publish(room: string, bytes: Uint8Array, except: string | null): Promise<number> {
    const m = message(`P${this.#self}\t${except ?? ""}`, bytes);
    return Number(await this.#link.eval(PUSH, [this.#keys.room(room)], [m, this.#self]));
  }

  /** A push on behalf of a node that is gone (every node delivers it, this one too). */
  async publishFor(room: string, bytes: Uint8Array): Promise<void> {
    await this.#link.eval(PUSH, [this.#keys.room(room)], [message("P\t", bytes), this.#self]);
  }

  async publishOnce(rooms: readonly string[], bytes: Uint8Array, except: string | null) {
    const tag = `${this.#self}:${++this.#tag}`;
    const m = message(`O${this.#self}\t${except ?? ""}\t${tag}\t${rooms.join(",")}`, bytes);
    await Promise.all(rooms.map((r) => this.#link.publish(this.#keys.room(r), m)));
  }

  async audience(room: string, _except: string | null): Promise<number> {
    return Number(await this.#link.eval(AUDIENCE, [this.#keys.room(room)], [this.#self]));
  }

  async direct(to: MemberInfo, bytes: Uint8Array): Promise<boolean> {
    const reached = await this.#link.publish(this.#keys.node(to.node), message(`D${to.id}`, bytes));
    return reached > 0;
  }

  /** Sends a probe to the node's own channel. */
  async probe(n: number): Promise<void> {
    await this.#link.publish(this.#keys.node(this.#self), utf8.encode(`Q${n}`));
  }

  #room(room: string, m: Uint8Array): void {
    const kind = m[0];
    if (kind === 77 /* M */) {
      const [head, frames] = split(m);
      this.#events.room(room, frames, head.length > 1 ? head.slice(1) : null);
      return;
    }
    const [head, bytes] = split(m);
    const fields = head.slice(1).split("\t");
    if (fields[0] === this.#self) return;
    const except = fields[1] || null;
    if (kind === 80 /* P */) this.#events.room(room, bytes, except);
    else if (kind === 79 /* O */) {
      const tag = fields[2] ?? "";
      if (this.#seen.has(tag)) return;
      this.#seen.add(tag);
      if (this.#seen.size > SEEN) this.#seen.delete(this.#seen.values().next().value!);
      const mine = (fields[3] ?? "").split(",").filter((r) => this.rooms.has(r));
      if (mine.length > 0) this.#events.once(mine, bytes, except);
    }
  }

  #direct(m: Uint8Array): void {
    if (m[0] === 81 /* Q */) {
      this.onProbe(Number(text.decode(m.subarray(1))));
      return;
    }
    const [head, bytes] = split(m);
    if (head[0] === "D") this.#events.direct(head.slice(1), bytes);
  }
}
