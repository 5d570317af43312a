/**
 * The Redis engine's presence: nicks, rooms and who, one Lua script per change (server/chat/redis/
 * scripts.ts), plus this node's own copy of what its members hold, from which it restores them
 * when Redis comes back empty or the other nodes took it for dead.
 *
 * A member that connects while Redis cannot be reached still gets a nick (a guest nick made
 * unique by this node's id) and is registered when Redis is back.
 *
 * @module
 */

import type { RoomEntry, WhoEntry } from "../../../lib/protocol/rows.ts";
import type { Joined, MemberInfo, Presence } from "../../core/engine.ts";
import type { Keys } from "./channels.ts";
import type { RedisLink } from "./link.ts";
import { ATTACH, DETACH, JOIN, LEAVE, LOOKUP, RENAME, RESTORE, ROOMS, WHO } from "./scripts.ts";

/** What this node knows of one of its members. */
export interface Mirror {
  nick: string;
  readonly since: number;
  /** Display names of its rooms, lobby first. */
  readonly rooms: string[];
  /** Not registered in Redis yet (it connected while Redis was away). */
  pending: boolean;
}

/** Told when a restored member had to take another nick (its own was taken meanwhile). */
export type Renamed = (member: string, nick: string) => void;

/** Presence in Redis, with this node's copy. */
export class RedisPresence implements Presence {
  readonly #link: RedisLink;
  readonly #key: string;
  readonly #node: string;
  readonly #tag: string;
  #provisional = 0;
  /** This node's members, in the order they attached. */
  readonly mine = new Map<string, Mirror>();

  constructor(link: RedisLink, keys: Keys, node: string) {
    this.#link = link;
    this.#key = keys.presence;
    this.#node = node;
    this.#tag = node.replace(/[^A-Za-z0-9]/g, "").slice(-6);
  }

  #run(script: Parameters<RedisLink["eval"]>[0], args: string[]): Promise<unknown> {
    return this.#link.eval(script, [this.#key], args);
  }

  /** Resolves once the node's first attempt to reach Redis has an outcome. */
  settled: Promise<void> = Promise.resolve();

  async attach(member: { readonly id: string; readonly since: number }): Promise<string> {
    let nick: string;
    let pending = false;
    await this.settled;
    try {
      nick = String(await this.#run(ATTACH, [this.#node, member.id, String(member.since)]));
    } catch {
      // Redis is away: the member still gets in, under a nick only this node gives.
      nick = `guest-${this.#tag}-${++this.#provisional}`;
      pending = true;
    }
    this.mine.set(member.id, { nick, since: member.since, rooms: ["lobby"], pending });
    return nick;
  }

  async detach(member: string): Promise<void> {
    const mine = this.mine.get(member);
    this.mine.delete(member);
    if (mine?.pending) return;
    await this.#run(DETACH, [member]);
  }

  /** A member that connected while Redis was away cannot act before it is registered. */
  #registered(member: string): void {
    if (this.mine.get(member)?.pending) throw new Error("this connection is not registered yet");
  }

  async rename(member: string, nick: string): Promise<boolean> {
    this.#registered(member);
    const ok = Number(await this.#run(RENAME, [member, nick])) === 1;
    const mine = this.mine.get(member);
    if (ok && mine !== undefined) mine.nick = nick;
    return ok;
  }

  async hasRoom(room: string): Promise<boolean> {
    const key = room.toLowerCase();
    if (key === "lobby") return true;
    const n = await this.#link.send(this.#key, ["HEXISTS", `${this.#key}:names`, key]);
    return Number(n) === 1;
  }

  async lookup(nick: string): Promise<MemberInfo | null> {
    const r = await this.#run(LOOKUP, [nick]) as unknown[] | null;
    if (!Array.isArray(r)) return null;
    return {
      id: String(r[0]),
      node: String(r[1]),
      nick: String(r[2]),
      since: Number(String(r[3])),
    };
  }

  async join(member: string, room: string): Promise<Joined> {
    this.#registered(member);
    const r = await this.#run(JOIN, [member, room]) as unknown[];
    const joined = { room: String(r[0]), added: Number(r[1]) === 1 };
    const mine = this.mine.get(member);
    if (joined.added && mine !== undefined) mine.rooms.push(joined.room);
    return joined;
  }

  async leave(member: string, room: string): Promise<string | null> {
    this.#registered(member);
    const r = await this.#run(LEAVE, [member, room]);
    if (r === null || r === false || r === undefined) return null;
    const name = String(r);
    const mine = this.mine.get(member);
    if (mine !== undefined) {
      const i = mine.rooms.findIndex((n) => n.toLowerCase() === name.toLowerCase());
      if (i >= 0) mine.rooms.splice(i, 1);
    }
    return name;
  }

  async who(room?: string): Promise<WhoEntry[] | null> {
    const r = await this.#run(WHO, [room ?? ""]);
    if (!Array.isArray(r)) return null;
    const out: WhoEntry[] = [];
    for (let i = 0; i + 2 < r.length; i += 3) {
      out.push({
        nick: String(r[i]),
        since: Number(String(r[i + 1])),
        rooms: String(r[i + 2]).split("\n"),
      });
    }
    return out;
  }

  async rooms(): Promise<RoomEntry[]> {
    const r = await this.#run(ROOMS, []) as unknown[];
    const out: RoomEntry[] = [];
    for (let i = 0; i + 1 < r.length; i += 2) {
      out.push({ room: String(r[i]), members: Number(r[i + 1]) });
    }
    return out;
  }

  /**
   * Registers every member of this node again (Redis came back, or the other nodes took this
   * one for dead), in the order they attached.
   *
   * @param renamed Told of each member whose nick was taken meanwhile, with the one it has now.
   */
  async restore(renamed: Renamed, all = true): Promise<void> {
    const calls = [...this.mine].filter(([, m]) => all || m.pending).map(async ([id, m]) => {
      const nick = String(
        await this.#run(RESTORE, [this.#node, id, String(m.since), m.nick, ...m.rooms]),
      );
      m.pending = false;
      if (nick !== m.nick && this.mine.get(id) === m) {
        m.nick = nick;
        renamed(id, nick);
      }
    });
    await Promise.all(calls);
  }
}
