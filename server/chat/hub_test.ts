import assert from "node:assert/strict";
import { LocalHub, type Member } from "./hub.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** A member that records what it is sent. */
interface FakeMember extends Member {
  /** Every delivery, decoded. */
  got: string[];
  /** Every delivery, as the very arrays handed over. */
  raw: Uint8Array[];
  /** When false, `deliver` refuses (a member being cut). */
  accepting: boolean;
  /** Mirrors `accepting` (hubs that count recipients before delivering read it). */
  readonly acceptsPushes?: boolean;
}

let nextId = 0;

function attach(hub: LocalHub, since = 1000): FakeMember {
  let nick = "";
  const m: FakeMember = {
    id: ++nextId,
    since,
    get nick() {
      return nick;
    },
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
  const given = hub.attach(m, (n) => nick = n);
  assert.equal(given, nick, "attach() returns the nick it set");
  return m;
}

function rename(hub: LocalHub, m: Member, nick: string): void {
  assert.equal(hub.rename(m, nick), true, `rename to ${nick}`);
}

/** Lets deliveries the hub defers to a microtask happen. */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 0));
}

Deno.test("LocalHub.attach gives fresh guest nicks and puts members in lobby without a push", async () => {
  const hub = new LocalHub();
  const a = attach(hub);
  const b = attach(hub);
  assert.equal(a.nick, "guest-1");
  assert.equal(b.nick, "guest-2");
  assert.equal(hub.size, 2);
  assert.deepEqual(hub.rooms(), [{ room: "lobby", members: 2 }]);
  await settle();
  assert.deepEqual(a.got, []);
  assert.deepEqual(b.got, []);
  assert.equal(hub.roomCount(a), 1);
});

Deno.test("LocalHub.attach skips a guest nick somebody took by hand", () => {
  const hub = new LocalHub();
  const a = attach(hub);
  rename(hub, a, "GUEST-2");
  assert.equal(attach(hub).nick, "guest-3");
});

Deno.test("LocalHub.rename: unique case-insensitively, own case change allowed, old nick freed", () => {
  const hub = new LocalHub();
  const a = attach(hub);
  const b = attach(hub);
  rename(hub, a, "Alice");
  assert.equal(a.nick, "Alice");
  assert.equal(hub.rename(b, "alice"), false);
  assert.equal(hub.rename(b, "ALICE"), false);
  assert.equal(b.nick, "guest-2", "a refused rename changes nothing");
  rename(hub, a, "ALICE");
  assert.equal(a.nick, "ALICE");
  rename(hub, a, "al");
  rename(hub, b, "alice");
  assert.equal(b.nick, "alice");
  // The guest nick a had is free: tell() no longer finds it.
  assert.equal(hub.tell(b, "guest-1", utf8.encode("x")), false);
});

Deno.test("LocalHub.join creates a room, keeps its first case, pushes JOINED to the others only once", async () => {
  const hub = new LocalHub();
  const a = attach(hub);
  const b = attach(hub);
  const c = attach(hub);
  rename(hub, a, "alice");
  rename(hub, b, "bob");
  assert.equal(hub.join(a, "Ops"), "Ops");
  assert.equal(hub.join(b, "OPS"), "Ops");
  assert.equal(hub.join(b, "ops"), "Ops", "joining again is fine");
  assert.equal(hub.join(b, "LOBBY"), "lobby");
  await settle();
  assert.deepEqual(a.got, ["JOINED Ops bob\r\n"]);
  assert.deepEqual(b.got, []);
  assert.deepEqual(c.got, []);
  assert.deepEqual(hub.rooms(), [{ room: "lobby", members: 3 }, { room: "Ops", members: 2 }]);
  assert.equal(hub.roomCount(b), 2);
});

Deno.test("LocalHub.leave: lobby refused, not-member, LEFT to those remaining, empty rooms vanish", async () => {
  const hub = new LocalHub();
  const a = attach(hub);
  const b = attach(hub);
  rename(hub, a, "alice");
  rename(hub, b, "bob");
  assert.equal(hub.leave(a, "lobby"), "lobby");
  assert.equal(hub.leave(a, "Lobby"), "lobby");
  assert.equal(hub.leave(a, "nowhere"), "not-member");
  hub.join(a, "ops");
  assert.equal(hub.leave(b, "ops"), "not-member");
  hub.join(b, "ops");
  assert.deepEqual(hub.leave(b, "OPS"), { room: "ops" });
  await settle();
  assert.deepEqual(a.got, ["JOINED ops bob\r\n", "LEFT ops bob\r\n"]);
  assert.deepEqual(b.got, []);
  assert.deepEqual(hub.leave(a, "ops"), { room: "ops" });
  assert.deepEqual(hub.rooms(), [{ room: "lobby", members: 2 }]);
  assert.equal(hub.publish(a, "ops", utf8.encode("x")), "no-room");
  assert.equal(hub.who("ops"), null);
});

Deno.test("LocalHub.publish encodes MSG once and queues the same bytes to every other member", async () => {
  const hub = new LocalHub();
  const a = attach(hub);
  const b = attach(hub);
  const c = attach(hub);
  rename(hub, a, "alice");
  assert.equal(hub.publish(a, "LOBBY", utf8.encode("hi")), 2);
  await settle();
  assert.deepEqual(a.got, [], "not to the sender");
  assert.deepEqual(b.got, ["MSG lobby alice 2\r\nhi\r\n"]);
  assert.deepEqual(c.got, b.got);
  assert.equal(b.raw[0], c.raw[0], "the very same bytes, encoded once");
});

Deno.test("LocalHub.publish of a large binary payload keeps every byte", async () => {
  const hub = new LocalHub();
  const a = attach(hub);
  const b = attach(hub);
  const c = attach(hub);
  const payload = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
  assert.equal(hub.publish(a, "lobby", payload), 2);
  await settle();
  const head = utf8.encode(`MSG lobby ${a.nick} 200000\r\n`);
  assert.deepEqual(b.raw[0], new Uint8Array([...head, ...payload, 13, 10]));
  assert.equal(b.raw[0], c.raw[0]);
});

Deno.test("LocalHub.publish keeps a sender's messages in order", async () => {
  const hub = new LocalHub();
  const a = attach(hub);
  const b = attach(hub);
  for (let i = 0; i < 100; i++) hub.publish(a, "lobby", utf8.encode(`m${i}`));
  hub.join(a, "ops"); // something else in between
  hub.publish(a, "lobby", utf8.encode("last"));
  await settle();
  const all = b.got.join("");
  const expected = Array.from({ length: 100 }, (_, i) => {
    const p = `m${i}`;
    return `MSG lobby ${a.nick} ${p.length}\r\n${p}\r\n`;
  }).join("") + `MSG lobby ${a.nick} 4\r\nlast\r\n`;
  assert.equal(all, expected);
});

Deno.test("LocalHub.publish: unknown room, room not joined, and the count leaves out refusing members", async () => {
  const hub = new LocalHub();
  const a = attach(hub);
  const b = attach(hub);
  const c = attach(hub);
  assert.equal(hub.publish(a, "ops", utf8.encode("x")), "no-room");
  hub.join(b, "ops");
  assert.equal(hub.publish(a, "ops", utf8.encode("x")), "not-member");
  c.accepting = false;
  const n = hub.publish(a, "lobby", utf8.encode("x"));
  await settle();
  assert.equal(n, 1, "only b took it");
  assert.equal(b.got.at(-1), `MSG lobby ${a.nick} 1\r\nx\r\n`);
});

Deno.test("LocalHub.tell finds a nick case-insensitively and sends DM", async () => {
  const hub = new LocalHub();
  const a = attach(hub);
  const b = attach(hub);
  rename(hub, a, "alice");
  rename(hub, b, "Bob");
  assert.equal(hub.tell(a, "BOB", utf8.encode("psst")), true);
  assert.equal(hub.tell(a, "nobody", utf8.encode("psst")), false);
  assert.equal(hub.tell(a, "alice", utf8.encode("me")), true, "telling oneself works");
  await settle();
  assert.deepEqual(b.got, ["DM alice 4\r\npsst\r\n"]);
  assert.deepEqual(a.got, ["DM alice 2\r\nme\r\n"]);
});

Deno.test("LocalHub.who lists everybody or a room's members with their rooms and since", () => {
  const hub = new LocalHub();
  const a = attach(hub, 111);
  const b = attach(hub, 222);
  rename(hub, a, "alice");
  rename(hub, b, "bob");
  hub.join(b, "Ops");
  hub.join(b, "dev");
  assert.deepEqual(hub.who(), [
    { nick: "alice", rooms: ["lobby"], since: 111 },
    { nick: "bob", rooms: ["lobby", "Ops", "dev"], since: 222 },
  ]);
  assert.deepEqual(hub.who("ops"), [{ nick: "bob", rooms: ["lobby", "Ops", "dev"], since: 222 }]);
  assert.equal(hub.who("lobby")?.length, 2);
  assert.equal(hub.who("nowhere"), null);
});

Deno.test("LocalHub.detach pushes LEFT to explicit rooms only, frees the nick, drops empty rooms", async () => {
  const hub = new LocalHub();
  const a = attach(hub);
  const b = attach(hub);
  const c = attach(hub);
  rename(hub, a, "alice");
  rename(hub, b, "bob");
  hub.join(a, "ops");
  hub.join(b, "ops");
  hub.join(b, "solo");
  await settle();
  a.got.length = 0;
  hub.detach(b);
  await settle();
  assert.deepEqual(a.got, ["LEFT ops bob\r\n"]);
  assert.deepEqual(c.got, [], "nothing for leaving the lobby");
  assert.equal(hub.size, 2);
  assert.deepEqual(hub.rooms(), [{ room: "lobby", members: 2 }, { room: "ops", members: 1 }]);
  assert.equal(hub.roomCount(b), 0);
  assert.equal(hub.rename(c, "BOB"), true, "the nick is free");
  hub.detach(b); // idempotent
  assert.equal(hub.size, 2);
});

Deno.test("LocalHub.detach of a renamed member frees its current nick, not a later owner's", () => {
  const hub = new LocalHub();
  const a = attach(hub);
  const b = attach(hub);
  rename(hub, a, "first");
  rename(hub, a, "second");
  rename(hub, b, "first");
  hub.detach(a);
  assert.equal(hub.tell(b, "first", utf8.encode("x")), true, "b keeps its nick");
  assert.equal(hub.tell(b, "second", utf8.encode("x")), false);
});
