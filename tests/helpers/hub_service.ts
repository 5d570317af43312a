/**
 * The chat service as the hub conformance suite drives it: members that record what they are
 * sent, spread over the nodes of one setup, every call routed to the member's own node.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ChatHub } from "../../server/chat/hub.ts";
import type { Member } from "../../server/core/member.ts";

const text = new TextDecoder();

/** A member that records what it is sent. */
export interface FakeMember extends Member {
  /** Every delivery, decoded. */
  got: string[];
  /** Every delivery, as the very arrays handed over. */
  raw: Uint8Array[];
  /** When false, `deliver` refuses (a member being cut). */
  accepting: boolean;
  /** Mirrors `accepting` (hubs that count recipients before delivering read it). */
  readonly acceptsPushes?: boolean;
}

/** What a test asks of the hubs it gets: `lobbyNotices` for ChatHubOptions (0 unless told). */
export interface SetupOptions {
  lobbyNotices: number;
}

/** One way of building the service under test. */
export interface HubSetup {
  /** The nodes; members are attached to them in turn. */
  hubs: ChatHub[];
  /** Resolves once every engine call made so far has answered. */
  idle?: () => Promise<void>;
}

let nextId = 0;

/** The service as a test sees it: every call routed to the member's own node, and awaited. */
export class Service {
  readonly #setup: HubSetup;
  readonly #homes = new Map<Member, ChatHub>();
  #turn = 0;

  constructor(setup: HubSetup) {
    this.#setup = setup;
  }

  #home(m: Member): ChatHub {
    return this.#homes.get(m) ?? this.#setup.hubs[0]!;
  }

  // Reads go to each node in turn: they must agree.
  #any(): ChatHub {
    const hubs = this.#setup.hubs;
    return hubs[this.#turn++ % hubs.length]!;
  }

  async attach(since = 1000): Promise<FakeMember> {
    const hubs = this.#setup.hubs;
    const hub = hubs[this.#homes.size % hubs.length]!;
    const m: FakeMember = {
      id: `test-${++nextId}`,
      since,
      got: [],
      raw: [],
      accepting: true,
      get acceptsPushes() {
        return m.accepting;
      },
      deliver(bytes: Uint8Array): boolean {
        if (!m.accepting) return false;
        m.raw.push(bytes);
        m.got.push(text.decode(bytes));
        return true;
      },
    };
    this.#homes.set(m, hub);
    const given = await hub.attach(m);
    assert.equal(given, hub.nick(m), "attach() returns the nick it gave");
    return m;
  }

  sameNode(a: Member, b: Member): boolean {
    return this.#home(a) === this.#home(b);
  }

  nick(m: Member): string {
    return this.#home(m).nick(m);
  }

  get size(): number {
    return this.#setup.hubs.reduce((n, h) => n + h.size, 0);
  }

  async rename(m: Member, nick: string): Promise<void> {
    assert.equal(await this.#home(m).rename(m, nick), true, `rename to ${nick}`);
  }

  tryRename(m: Member, nick: string) {
    return this.#home(m).rename(m, nick);
  }
  join(m: Member, room: string, quiet = false) {
    return this.#home(m).join(m, room, quiet);
  }
  leave(m: Member, room: string) {
    return this.#home(m).leave(m, room);
  }
  publish(m: Member, room: string, payload: Uint8Array) {
    return this.#home(m).publish(m, room, payload);
  }
  /** Publishes and gives the recipient count, checking that an id came with it. */
  async count(m: Member, room: string, payload: Uint8Array): Promise<number | string> {
    const r = await this.publish(m, room, payload);
    if (typeof r === "string") return r;
    assert.ok(Number.isInteger(r.id) && r.id >= 1, `an id: ${r.id}`);
    return r.recipients;
  }
  history(m: Member, room: string, limit = 50, after?: number) {
    return this.#home(m).history(m, room, { limit, after });
  }
  tell(m: Member, nick: string, payload: Uint8Array) {
    return this.#home(m).tell(m, nick, payload);
  }
  detach(m: Member) {
    return this.#home(m).detach(m);
  }
  roomCount(m: Member): number {
    return this.#home(m).roomCount(m);
  }
  who(room?: string) {
    return this.#any().who(room);
  }
  rooms() {
    return this.#any().rooms();
  }

  /** Lets deliveries the hubs defer (a microtask) and the engine's answers happen. */
  async settle(): Promise<void> {
    await new Promise((r) => setTimeout(r, 0));
    await this.#setup.idle?.();
    await new Promise((r) => setTimeout(r, 0));
  }
}
