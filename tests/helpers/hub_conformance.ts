/**
 * The hub's contract, as one suite run against every way of building the chat service: one hub
 * over the memory engine, hubs whose engine answers asynchronously after random delays, and
 * several hubs (nodes) sharing one engine, members spread over them. Every call is awaited, so
 * the same assertions hold whether the engine answers at once or later.
 *
 * @module
 */

import assert from "node:assert/strict";
import { lobbyNoticeTests } from "./hub_conformance_lobby.ts";
import { type FakeMember, type HubSetup, Service, type SetupOptions } from "./hub_service.ts";

export type { FakeMember, HubSetup, SetupOptions } from "./hub_service.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();

/**
 * Registers the hub contract's tests.
 *
 * @param label Names the setup in each test name.
 * @param make Builds a fresh service for one test, its hubs made with the options given.
 * @param options `ignore` skips them (a component is missing); `sanitize: false` for engines
 *   whose client keeps timers and sockets between tests (Redis).
 */
export function hubConformance(
  label: string,
  make: (options: SetupOptions) => Promise<HubSetup> | HubSetup,
  options: { ignore?: boolean; sanitize?: boolean } = {},
): void {
  function test(
    name: string,
    fn: (svc: Service) => Promise<void>,
    given: SetupOptions = { lobbyNotices: 0 },
  ): void {
    const sanitize = options.sanitize ?? true;
    Deno.test({
      name: `hub (${label}): ${name}`,
      ignore: options.ignore ?? false,
      sanitizeOps: sanitize,
      sanitizeResources: sanitize,
    }, async () => {
      const setup = await make(given);
      try {
        await fn(new Service(setup));
      } finally {
        for (const hub of setup.hubs) await hub.close();
      }
    });
  }

  test("attach gives fresh guest nicks and puts members in lobby without a push", async (svc) => {
    const a = await svc.attach();
    const b = await svc.attach();
    assert.equal(svc.nick(a), "guest-1");
    assert.equal(svc.nick(b), "guest-2");
    assert.equal(svc.size, 2);
    assert.deepEqual(await svc.rooms(), [{ room: "lobby", members: 2 }]);
    await svc.settle();
    assert.deepEqual(a.got, []);
    assert.deepEqual(b.got, []);
    assert.equal(svc.roomCount(a), 1);
  });

  test("attach skips a guest nick somebody took by hand", async (svc) => {
    const a = await svc.attach();
    await svc.rename(a, "GUEST-2");
    assert.equal(svc.nick(await svc.attach()), "guest-3");
  });

  test("rename: unique case-insensitively, own case change allowed, old nick freed", async (svc) => {
    const a = await svc.attach();
    const b = await svc.attach();
    await svc.rename(a, "Alice");
    assert.equal(svc.nick(a), "Alice");
    assert.equal(await svc.tryRename(b, "alice"), false);
    assert.equal(await svc.tryRename(b, "ALICE"), false);
    assert.equal(svc.nick(b), "guest-2", "a refused rename changes nothing");
    await svc.rename(a, "ALICE");
    assert.equal(svc.nick(a), "ALICE");
    await svc.rename(a, "al");
    await svc.rename(b, "alice");
    assert.equal(svc.nick(b), "alice");
    // The guest nick a had is free: tell() no longer finds it.
    assert.equal(await svc.tell(b, "guest-1", utf8.encode("x")), false);
  });

  test("join creates a room, keeps its first case, pushes JOINED to the others only once", async (svc) => {
    const a = await svc.attach();
    const b = await svc.attach();
    const c = await svc.attach();
    await svc.rename(a, "alice");
    await svc.rename(b, "bob");
    assert.equal(await svc.join(a, "Ops"), "Ops");
    assert.equal(await svc.join(b, "OPS"), "Ops");
    assert.equal(await svc.join(b, "ops"), "Ops", "joining again is fine");
    assert.equal(await svc.join(b, "LOBBY"), "lobby");
    await svc.settle();
    assert.deepEqual(a.got, ["JOINED Ops bob\r\n"]);
    assert.deepEqual(b.got, []);
    assert.deepEqual(c.got, []);
    assert.deepEqual(await svc.rooms(), [{ room: "lobby", members: 3 }, {
      room: "Ops",
      members: 2,
    }]);
    assert.equal(svc.roomCount(b), 2);
  });

  test("leave: lobby refused, not-member, LEFT to those remaining, empty rooms vanish", async (svc) => {
    const a = await svc.attach();
    const b = await svc.attach();
    await svc.rename(a, "alice");
    await svc.rename(b, "bob");
    assert.equal(await svc.leave(a, "lobby"), "lobby");
    assert.equal(await svc.leave(a, "Lobby"), "lobby");
    assert.equal(await svc.leave(a, "nowhere"), "not-member");
    await svc.join(a, "ops");
    assert.equal(await svc.leave(b, "ops"), "not-member");
    await svc.join(b, "ops");
    assert.deepEqual(await svc.leave(b, "OPS"), { room: "ops" });
    await svc.settle();
    assert.deepEqual(a.got, ["JOINED ops bob\r\n", "LEFT ops bob\r\n"]);
    assert.deepEqual(b.got, []);
    assert.deepEqual(await svc.leave(a, "ops"), { room: "ops" });
    assert.deepEqual(await svc.rooms(), [{ room: "lobby", members: 2 }]);
    assert.equal(await svc.count(a, "ops", utf8.encode("x")), "no-room");
    assert.equal(await svc.who("ops"), null);
  });

  test("publish encodes MSG once per node and queues the same bytes to every other member", async (svc) => {
    const a = await svc.attach();
    const b = await svc.attach();
    const c = await svc.attach();
    await svc.rename(a, "alice");
    assert.deepEqual(await svc.publish(a, "LOBBY", utf8.encode("hi")), { recipients: 2, id: 1 });
    await svc.settle();
    assert.deepEqual(a.got, [], "not to the sender");
    assert.deepEqual(b.got, ["MSG lobby alice id 1 2\r\nhi\r\n"]);
    assert.deepEqual(c.got, b.got);
    if (svc.sameNode(b, c)) assert.equal(b.raw[0], c.raw[0], "the very same bytes, encoded once");
  });

  test("publish of a large binary payload keeps every byte", async (svc) => {
    const a = await svc.attach();
    const b = await svc.attach();
    const c = await svc.attach();
    const payload = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
    assert.deepEqual(await svc.publish(a, "lobby", payload), { recipients: 2, id: 1 });
    await svc.settle();
    const head = utf8.encode(`MSG lobby ${svc.nick(a)} id 1 200000\r\n`);
    assert.deepEqual(b.raw[0], new Uint8Array([...head, ...payload, 13, 10]));
    assert.deepEqual(c.raw[0], b.raw[0]);
    if (svc.sameNode(b, c)) assert.equal(b.raw[0], c.raw[0]);
  });

  test("publish keeps a sender's messages in order, even when they are not awaited one by one", async (svc) => {
    const a = await svc.attach();
    const b = await svc.attach();
    const sent: unknown[] = [];
    for (let i = 0; i < 100; i++) sent.push(svc.publish(a, "lobby", utf8.encode(`m${i}`)));
    sent.push(svc.join(a, "ops")); // something else in between
    sent.push(svc.publish(a, "lobby", utf8.encode("last")));
    await Promise.all(sent);
    await svc.settle();
    const all = b.got.join("");
    const nick = svc.nick(a);
    const expected = Array.from({ length: 100 }, (_, i) => {
      const p = `m${i}`;
      return `MSG lobby ${nick} id ${i + 1} ${p.length}\r\n${p}\r\n`;
    }).join("") + `MSG lobby ${nick} id 101 4\r\nlast\r\n`;
    assert.equal(all, expected);
    const ids = (await Promise.all(sent)).flatMap((r) =>
      typeof r === "object" && r !== null && "id" in r ? [r.id] : []
    );
    assert.deepEqual(ids, Array.from({ length: 101 }, (_, i) => i + 1), "OK ids = MSG ids");
  });

  test("publish from several senders, interleaved: everybody gets the others' messages, never their own, in order (in publish order on one node)", async (svc) => {
    const a = await svc.attach();
    const b = await svc.attach();
    const c = await svc.attach();
    const order: [FakeMember, string][] = [];
    for (let i = 0; i < 30; i++) order.push([[a, b, c][(i * 7) % 3]!, `p${i}`]);
    const results = await Promise.all(
      order.map(([from, text]) => svc.publish(from, "lobby", utf8.encode(text))),
    );
    await svc.settle();
    // Every message has its own id, 1..30 without a gap, and each member saw each with that id.
    const idOf = new Map<string, number>();
    results.forEach((r, i) => {
      assert.ok(typeof r === "object");
      idOf.set(order[i]![1], r.id);
    });
    assert.deepEqual(
      [...idOf.values()].sort((x, y) => x - y),
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    const frame = ([from, text]: [FakeMember, string]) =>
      `MSG lobby ${svc.nick(from)} id ${idOf.get(text)} ${text.length}\r\n${text}\r\n`;
    const oneNode = svc.sameNode(a, b) && svc.sameNode(b, c);
    for (const m of [a, b, c]) {
      const others = order.filter(([from]) => from !== m);
      if (oneNode) {
        assert.equal(m.got.join(""), others.map(frame).join(""), `what ${svc.nick(m)} got`);
        continue;
      }
      // Across nodes, each sender's messages keep their order; senders may interleave.
      const got = m.got.join("");
      for (const sender of [a, b, c]) {
        if (sender === m) continue;
        const mine = others.filter(([from]) => from === sender).map(frame);
        const seen = mine.map((f) => got.indexOf(f));
        assert.ok(seen.every((at) => at >= 0), `${svc.nick(m)} got all of ${svc.nick(sender)}'s`);
        assert.deepEqual(seen, [...seen].sort((x, y) => x - y), "in the sender's order");
      }
      assert.equal(got.length, others.map(frame).join("").length, "and nothing else");
    }
  });

  test("publish: unknown room, room not joined, and the count leaves out refusing members", async (svc) => {
    const a = await svc.attach();
    const b = await svc.attach();
    const c = await svc.attach();
    assert.equal(await svc.count(a, "ops", utf8.encode("x")), "no-room");
    await svc.join(b, "ops");
    assert.equal(await svc.count(a, "ops", utf8.encode("x")), "not-member");
    c.accepting = false;
    await svc.settle(); // an engine across processes may learn of it with a delay
    const n = await svc.count(a, "lobby", utf8.encode("x"));
    await svc.settle();
    assert.equal(n, 1, "only b took it");
    assert.equal(b.got.at(-1), `MSG lobby ${svc.nick(a)} id 1 1\r\nx\r\n`);
  });

  test("tell finds a nick case-insensitively and sends DM", async (svc) => {
    const a = await svc.attach();
    const b = await svc.attach();
    await svc.rename(a, "alice");
    await svc.rename(b, "Bob");
    assert.equal(await svc.tell(a, "BOB", utf8.encode("psst")), true);
    assert.equal(await svc.tell(a, "nobody", utf8.encode("psst")), false);
    assert.equal(await svc.tell(a, "alice", utf8.encode("me")), true, "telling oneself works");
    await svc.settle();
    assert.deepEqual(b.got, ["DM alice 4\r\npsst\r\n"]);
    assert.deepEqual(a.got, ["DM alice 2\r\nme\r\n"]);
  });

  test("who lists everybody or a room's members with their rooms and since", async (svc) => {
    const a = await svc.attach(111);
    const b = await svc.attach(222);
    await svc.rename(a, "alice");
    await svc.rename(b, "bob");
    await svc.join(b, "Ops");
    await svc.join(b, "dev");
    assert.deepEqual(await svc.who(), [
      { nick: "alice", rooms: ["lobby"], since: 111 },
      { nick: "bob", rooms: ["lobby", "Ops", "dev"], since: 222 },
    ]);
    assert.deepEqual(await svc.who("ops"), [{
      nick: "bob",
      rooms: ["lobby", "Ops", "dev"],
      since: 222,
    }]);
    assert.equal((await svc.who("lobby"))?.length, 2);
    assert.equal(await svc.who("nowhere"), null);
  });

  test("detach pushes LEFT to explicit rooms only, frees the nick, drops empty rooms", async (svc) => {
    const a = await svc.attach();
    const b = await svc.attach();
    const c = await svc.attach();
    await svc.rename(a, "alice");
    await svc.rename(b, "bob");
    await svc.join(a, "ops");
    await svc.join(b, "ops");
    await svc.join(b, "solo");
    await svc.settle();
    a.got.length = 0;
    await svc.detach(b);
    await svc.settle();
    assert.deepEqual(a.got, ["LEFT ops bob\r\n"]);
    assert.deepEqual(c.got, [], "nothing for leaving the lobby");
    assert.equal(svc.size, 2);
    assert.deepEqual(await svc.rooms(), [{ room: "lobby", members: 2 }, {
      room: "ops",
      members: 1,
    }]);
    assert.equal(svc.roomCount(b), 0);
    assert.equal(await svc.tryRename(c, "BOB"), true, "the nick is free");
    await svc.detach(b); // idempotent
    assert.equal(svc.size, 2);
  });

  test("detach of a renamed member frees its current nick, not a later owner's", async (svc) => {
    const a = await svc.attach();
    const b = await svc.attach();
    await svc.rename(a, "first");
    await svc.rename(a, "second");
    await svc.rename(b, "first");
    await svc.detach(a);
    assert.equal(await svc.tell(b, "first", utf8.encode("x")), true, "b keeps its nick");
    assert.equal(await svc.tell(b, "second", utf8.encode("x")), false);
  });

  test("history gives the room's frames as members got them: newest n, or the first n after an id", async (svc) => {
    const a = await svc.attach();
    const b = await svc.attach();
    await svc.rename(a, "ann");
    await svc.join(a, "ops");
    await svc.join(b, "ops");
    const empty = await svc.history(b, "ops");
    assert.ok(typeof empty === "object");
    assert.match(empty.epoch, /^[A-Za-z0-9_-]{1,32}$/);
    assert.deepEqual([empty.first, empty.last, empty.frames.length], [0, 0, 0], "empty log: 0 0");
    for (let i = 1; i <= 5; i++) await svc.publish(a, "ops", utf8.encode(`m${i}`));
    await svc.settle();
    const all = await svc.history(b, "OPS", 50);
    assert.ok(typeof all === "object");
    assert.equal(all.epoch, empty.epoch, "the same log");
    assert.deepEqual([all.first, all.last], [1, 5]);
    assert.equal(all.frames.map((f) => text.decode(f)).join(""), b.got.join(""));
    const newest = await svc.history(b, "ops", 2);
    assert.ok(typeof newest === "object");
    assert.deepEqual(newest.frames.map((f) => text.decode(f)), [
      "MSG ops ann id 4 2\r\nm4\r\n",
      "MSG ops ann id 5 2\r\nm5\r\n",
    ]);
    const after = await svc.history(b, "ops", 2, 1);
    assert.ok(typeof after === "object");
    assert.deepEqual(after.frames.map((f) => text.decode(f).split("\r\n")[1]), ["m2", "m3"]);
    const past = await svc.history(b, "ops", 2, 5);
    assert.ok(typeof past === "object" && past.frames.length === 0 && past.last === 5);
  });

  test("history: 404 for an unknown room, 403 for one never joined, readable after LEAVE; the log outlives its members", async (svc) => {
    const a = await svc.attach();
    const b = await svc.attach();
    assert.equal(await svc.history(a, "ops"), "no-room");
    await svc.join(a, "ops");
    await svc.publish(a, "ops", utf8.encode("kept"));
    assert.equal(await svc.history(b, "ops"), "not-member");
    await svc.leave(a, "ops");
    const later = await svc.history(a, "ops");
    assert.ok(typeof later === "object" && later.frames.length === 1, "joined before: readable");
    await svc.join(b, "ops");
    const again = await svc.history(b, "ops");
    assert.ok(typeof again === "object");
    assert.deepEqual([again.epoch, again.first, again.last], [later.epoch, 1, 1], "same epoch");
    const next = await svc.publish(b, "ops", utf8.encode("more"));
    assert.ok(typeof next === "object" && next.id === 2, "ids go on");
  });

  test("rename pushes RENAMED once to everybody sharing a room other than lobby", async (svc) => {
    const a = await svc.attach();
    const b = await svc.attach();
    const c = await svc.attach();
    const d = await svc.attach();
    await svc.rename(a, "ann");
    for (const room of ["ops", "dev"]) {
      await svc.join(a, room);
      await svc.join(b, room);
    }
    await svc.join(c, "dev");
    await svc.settle();
    for (const m of [a, b, c, d]) m.got.length = 0;
    await svc.rename(a, "anna");
    await svc.settle();
    assert.deepEqual(b.got, ["RENAMED ann anna\r\n"], "once, though two rooms are shared");
    assert.deepEqual(c.got, ["RENAMED ann anna\r\n"]);
    assert.deepEqual(d.got, [], "lobby alone is not shared");
    assert.deepEqual(a.got, [], "not to itself");
    await svc.rename(a, "anna");
    await svc.settle();
    assert.equal(b.got.length, 1, "the same nick again: nothing");
  });

  lobbyNoticeTests(test);
}
