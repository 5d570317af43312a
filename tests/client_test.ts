/**
 * The client library against a real server: `connect()`, a typed method for every chat command,
 * pushes through `for await (const m of c.messages())`, errors as `ServerError`, pipelining, and
 * `await using`.
 */

import assert from "node:assert/strict";
import { ServerError } from "../lib/protocol/errors.ts";
import { type Client, connect, ConnectionClosedError, type Push } from "../client/client.ts";
import { startTestServer } from "./helpers/servers.ts";
import { sleep, waitFor } from "./helpers/wait.ts";

/** Takes the next push from an iterator, failing after `ms`. */
async function nextPush(it: AsyncIterator<Push>, ms = 5000): Promise<Push> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const r = await Promise.race([
    it.next(),
    new Promise<never>((_, reject) =>
      timer = setTimeout(() => reject(new Error("No push in time")), ms)
    ),
  ]);
  clearTimeout(timer);
  if (r.done) throw new Error("messages() ended");
  return r.value;
}

/** Asserts `p` rejects with a ServerError of `code`. */
async function rejectsWith(p: Promise<unknown>, code: number, re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof ServerError, `a ServerError, got ${e}`);
    assert.equal(e.code, code);
    if (re) assert.match(e.message, re);
    return true;
  });
}

Deno.test("connect() reads HELLO and can take a nick at once", async () => {
  await using server = await startTestServer();
  await using a = await connect({ port: server.port });
  assert.equal(a.hello.server, "switchboard");
  assert.equal(a.hello.proto, 2);
  assert.equal(a.hello.max_payload, 1048576);
  assert.match(a.nick, /^guest-\d+$/);
  assert.equal(a.nick, a.hello.nick);
  await using b = await connect({ port: server.port, nick: "bob" });
  assert.equal(b.nick, "bob");
  assert.deepEqual((await a.who()).map((w) => w.nick).sort(), [a.nick, "bob"].sort());
});

Deno.test("connect() with a nick in use rejects with ServerError 409", async () => {
  await using server = await startTestServer();
  await using _a = await connect({ port: server.port, nick: "alice" });
  await rejectsWith(connect({ port: server.port, nick: "ALICE" }), 409);
});

Deno.test("connect() to a full server rejects with ServerError 503", async () => {
  await using server = await startTestServer({ maxClients: 1 });
  await using _a = await connect({ port: server.port });
  await rejectsWith(connect({ port: server.port }), 503, /server full/);
});

Deno.test("connect() to a port nobody listens on rejects", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  await assert.rejects(connect({ port, timeout: 2000 }));
});

Deno.test("typed methods: join, say, who, rooms, leave, with pushes through messages()", async () => {
  await using server = await startTestServer();
  await using alice = await connect({ port: server.port, nick: "alice" });
  await using bob = await connect({ port: server.port, nick: "bob" });
  const pushes = alice.messages()[Symbol.asyncIterator]();

  assert.equal(await alice.join("Ops"), "Ops");
  assert.equal(await bob.join("ops"), "Ops");
  assert.deepEqual(await nextPush(pushes), { type: "joined", room: "Ops", nick: "bob" });

  assert.equal(await bob.say("ops", "standup in 5"), 1);
  const msg = await nextPush(pushes);
  assert.equal(msg.type, "msg");
  if (msg.type === "msg") {
    assert.equal(msg.room, "Ops");
    assert.equal(msg.from, "bob");
    assert.equal(msg.text, "standup in 5");
  }

  const who = await alice.who("ops");
  assert.deepEqual(who.map((w) => [w.nick, w.rooms]), [["alice", ["lobby", "Ops"]], ["bob", [
    "lobby",
    "Ops",
  ]]]);
  assert.ok(who.every((w) => Number.isInteger(w.since)));
  assert.deepEqual(await alice.rooms(), [{ room: "lobby", members: 2 }, {
    room: "Ops",
    members: 2,
  }]);

  assert.equal(await bob.leave("OPS"), "Ops");
  assert.deepEqual(await nextPush(pushes), { type: "left", room: "Ops", nick: "bob" });
  assert.equal(await alice.say("lobby", "hello"), 1);
});

Deno.test("tell() sends a DM, binary payloads arrive byte for byte", async () => {
  await using server = await startTestServer();
  await using alice = await connect({ port: server.port, nick: "alice" });
  await using bob = await connect({ port: server.port, nick: "Bob" });
  const pushes = bob.messages()[Symbol.asyncIterator]();
  await alice.tell("BOB", "psst");
  const dm = await nextPush(pushes);
  assert.deepEqual(dm.type === "dm" && [dm.from, dm.text], ["alice", "psst"]);
  const bin = new Uint8Array([0, 13, 10, 255, 254, 10]);
  assert.equal(await alice.say("lobby", bin), 1);
  const msg = await nextPush(pushes);
  assert.ok(msg.type === "msg");
  assert.deepEqual(msg.payload, bin);
});

Deno.test("errors reject with ServerError and the connection goes on", async () => {
  await using server = await startTestServer();
  await using alice = await connect({ port: server.port, nick: "alice" });
  await using _bob = await connect({ port: server.port, nick: "bob" });
  await rejectsWith(alice.setNick("BOB"), 409, /in use/);
  assert.equal(alice.nick, "alice", "unchanged after a refusal");
  await rejectsWith(alice.setNick("no spaces"), 400);
  await rejectsWith(alice.join("a/b"), 400);
  await rejectsWith(alice.leave("lobby"), 403);
  await rejectsWith(alice.leave("ops"), 404);
  await rejectsWith(alice.say("nowhere", "x"), 404);
  await rejectsWith(alice.tell("ghost", "x"), 404);
  await rejectsWith(alice.who("nowhere"), 404);
  await rejectsWith(alice.command("FROB"), 400, /Unknown command/);
  assert.equal(await alice.setNick("Alice2"), "Alice2");
  assert.equal(alice.nick, "Alice2");
  assert.equal(typeof (await alice.ping()), "number");
});

Deno.test("time() is within 2 s of the local clock; help() lists the commands", async () => {
  await using server = await startTestServer();
  await using c = await connect({ port: server.port });
  const t = await c.time();
  assert.match(t.iso, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(Date.parse(t.iso), t.server);
  assert.ok(Math.abs(t.server - Date.now()) < 2000);
  assert.ok(Math.abs(t.offset) < 2000);
  assert.ok(t.rtt >= 0);
  const help = await c.help();
  for (const verb of ["NICK", "JOIN", "SAY", "TELL", "WHO", "ROOMS", "TIME", "QUIT"]) {
    assert.match(help, new RegExp(verb));
  }
});

Deno.test("200 concurrent calls are pipelined and each gets its own reply", async () => {
  await using server = await startTestServer();
  await using c = await connect({ port: server.port });
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < 50; i++) {
    calls.push(c.join(`r${i}`));
    calls.push(c.say(`r${i}`, `m${i}`));
    calls.push(c.who(`r${i}`));
    calls.push(c.leave(`r${i}`));
  }
  const results = await Promise.all(calls);
  for (let i = 0; i < 50; i++) {
    assert.equal(results[4 * i], `r${i}`);
    assert.equal(results[4 * i + 1], 0);
    const who = results[4 * i + 2] as { nick: string; rooms: string[] }[];
    assert.deepEqual(who.map((w) => w.rooms), [["lobby", `r${i}`]]);
    assert.equal(results[4 * i + 3], `r${i}`);
  }
});

Deno.test("for await over messages() sees pushes while commands are answered", async () => {
  await using server = await startTestServer();
  await using alice = await connect({ port: server.port, nick: "alice" });
  await using bob = await connect({ port: server.port, nick: "bob" });
  const got: string[] = [];
  const listening = (async () => {
    for await (const m of alice.messages()) {
      if (m.type === "msg") got.push(m.text);
      if (got.length === 20) break;
    }
  })();
  const sends: Promise<number>[] = [];
  const pings: Promise<number>[] = [];
  for (let i = 0; i < 20; i++) {
    sends.push(bob.say("lobby", `n${i}`));
    pings.push(alice.ping());
  }
  assert.deepEqual(await Promise.all(sends), new Array(20).fill(1));
  await Promise.all(pings);
  await listening;
  assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `n${i}`));
});

Deno.test("the client answers the server's PING by itself and stays connected", async () => {
  await using server = await startTestServer({ pingInterval: 100 });
  await using c = await connect({ port: server.port });
  await sleep(700); // seven intervals: twice what drops a mute client
  assert.equal(c.closed, false);
  assert.equal(typeof (await c.ping()), "number");
});

Deno.test("await using quits: the server sees the client leave", async () => {
  await using server = await startTestServer();
  await using watcher = await connect({ port: server.port, nick: "watcher" });
  await watcher.join("ops");
  {
    await using temp = await connect({ port: server.port, nick: "temp" });
    await temp.join("ops");
  }
  const pushes = watcher.messages()[Symbol.asyncIterator]();
  assert.deepEqual(await nextPush(pushes), { type: "joined", room: "ops", nick: "temp" });
  assert.deepEqual(await nextPush(pushes), { type: "left", room: "ops", nick: "temp" });
  await waitFor(() => server.clients === 1, 5000, "the server to drop temp");
});

Deno.test("quit() ends the connection; later calls reject with ConnectionClosedError", async () => {
  await using server = await startTestServer();
  const c = await connect({ port: server.port });
  await c.quit();
  assert.equal(c.closed, true);
  await assert.rejects(c.ping(), ConnectionClosedError);
  await c.quit(); // twice is fine
});

Deno.test("close() rejects commands still waiting for their reply", async () => {
  await using server = await startTestServer();
  const c = await connect({ port: server.port });
  const pending = c.who();
  c.close();
  await assert.rejects(pending, ConnectionClosedError);
  await c.done;
});

Deno.test("a server shutdown shows as a bye push, then messages() ends and calls reject", async () => {
  const server = await startTestServer();
  let c: Client | undefined;
  try {
    c = await connect({ port: server.port });
    const seen: Push[] = [];
    const listening = (async () => {
      for await (const m of c!.messages()) seen.push(m);
    })();
    await server.shutdown(1000);
    await listening;
    assert.deepEqual(seen, [{ type: "bye", reason: "shutdown" }]);
    await c.done;
    assert.equal(c.closed, true);
    await assert.rejects(c.ping(), ConnectionClosedError);
  } finally {
    c?.close();
    await server[Symbol.asyncDispose]();
  }
});
