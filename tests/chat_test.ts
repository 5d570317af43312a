/**
 * Chat over real sockets with several raw clients: lobby, rooms, direct messages, nicks, WHO,
 * ROOMS, TIME, pipelining, and pushes interleaved with replies.
 */

import assert from "node:assert/strict";
import { decodeText, encodeText } from "./helpers/bytes.ts";
import {
  nextUnskipped,
  pingPong,
  RawClient,
  rawClient,
  readBytes,
  readLine,
} from "./helpers/raw_client.ts";
import { captureLog, startTestServer } from "./helpers/servers.ts";
import { sleep, waitFor } from "./helpers/wait.ts";

Deno.test("HELLO is the first line, CRLF-terminated, with the documented fields", async () => {
  await using server = await startTestServer();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const line = await readLine(conn);
    assert.match(line, /^HELLO \{.*\}\r\n$/);
    const hello = JSON.parse(line.slice(6, -2));
    assert.deepEqual(Object.keys(hello).sort(), [
      "auth_required",
      "max_file_size",
      "max_line",
      "max_payload",
      "nick",
      "node",
      "proto",
      "server",
      "tls",
      "version",
    ]);
    assert.equal(hello.server, "switchboard");
    assert.equal(hello.node, server.node, "the node it reached (protocol v2 §4)");
    assert.equal(hello.cluster, undefined, "no cluster without a shared engine");
    assert.equal(hello.proto, 2);
    assert.match(hello.nick, /^guest-\d+$/);
    assert.equal(hello.max_payload, 1048576);
    assert.equal(hello.max_line, 4096);
    assert.equal(hello.max_file_size, 8 * 1024 ** 3);
    assert.equal(hello.auth_required, false);
    assert.equal(hello.tls, false);
    assert.equal(typeof hello.version, "string");
  } finally {
    conn.close();
  }
});

Deno.test("every client gets its own guest nick", async () => {
  await using server = await startTestServer();
  const nicks = new Set<string>();
  const clients: RawClient[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const c = await RawClient.connect(server.port);
      clients.push(c);
      nicks.add((await c.hello()).nick as string);
    }
    assert.equal(nicks.size, 5);
    for (const n of nicks) assert.match(n, /^guest-\d+$/);
  } finally {
    for (const c of clients) c.close();
  }
});

Deno.test("a lobby message reaches every other client, byte for byte, and not the sender", async () => {
  await using server = await startTestServer();
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using bob = await rawClient(server.port, { nick: "bob" });
  const raw = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    assert.match(await readLine(raw), /^HELLO /);
    // A binary payload with CR, LF, NUL and bytes that are not UTF-8.
    const payload = new Uint8Array([104, 105, 13, 10, 0, 255, 254, 10, 13]);
    const frame = new Uint8Array([...encodeText(`SAY lobby ${payload.length}\n`), ...payload, 10]);
    await alice.send(frame);
    assert.equal(await alice.next(), "OK 2 1");
    const msg = await bob.frame();
    assert.equal(msg.verb, "MSG");
    assert.deepEqual(msg.args, ["lobby", "alice", "id", "1"]);
    assert.deepEqual(msg.payload, payload);
    const head = encodeText(`MSG lobby alice id 1 ${payload.length}\r\n`);
    const got = await readBytes(raw, head.length + payload.length + 2);
    assert.deepEqual(got, new Uint8Array([...head, ...payload, 13, 10]));
    await pingPong(alice);
  } finally {
    raw.close();
  }
});

Deno.test("inline SAY keeps the text after the colon, spaces included", async () => {
  await using server = await startTestServer();
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using bob = await rawClient(server.port, { nick: "bob" });
  await alice.line("say   lobby   :  hello: everyone  ");
  assert.equal(await alice.next(), "OK 1 1");
  const f = await bob.frame();
  assert.equal(f.verb, "MSG");
  assert.equal(decodeText(f.payload!), "  hello: everyone  ");
  await alice.line("SAY lobby :");
  assert.equal(await alice.next(), "OK 1 2");
  const empty = await bob.frame();
  assert.deepEqual(empty.payload, new Uint8Array(0));
});

Deno.test("connecting to and leaving the lobby pushes nothing", async () => {
  await using server = await startTestServer();
  await using alice = await rawClient(server.port, { nick: "alice" });
  const bob = await rawClient(server.port);
  await pingPong(alice);
  bob.close();
  // Wait for the server to see bob go (WHO stops listing him), then check alice got nothing.
  for (let i = 0; i < 100; i++) {
    await alice.line("WHO");
    const who = JSON.parse((await alice.next()).slice(4));
    if (who.length === 1) break;
    await sleep(20);
  }
  await pingPong(alice);
});

Deno.test("JOIN and LEAVE push JOINED and LEFT to the room's other members only", async () => {
  await using server = await startTestServer();
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using bob = await rawClient(server.port, { nick: "bob" });
  await using carol = await rawClient(server.port, { nick: "carol" });
  await alice.line("JOIN Ops");
  assert.equal(await alice.next(), "OK Ops");
  await bob.line("join ops");
  assert.equal(await bob.next(), "OK Ops", "the room keeps the case it was created with");
  assert.equal(await alice.next(), "JOINED Ops bob");
  // Joining again is OK and pushes nothing (JOIN lobby announces: tests/lobby_notices_test.ts).
  await bob.line("JOIN OPS");
  assert.equal(await bob.next(), "OK Ops");
  await pingPong(alice);
  // A message to the room reaches its members, not carol.
  await alice.line("SAY ops :standup");
  assert.equal(await alice.next(), "OK 1 1");
  assert.equal(await bob.next(), "MSG Ops alice id 1 standup");
  await bob.line("LEAVE OPS");
  assert.equal(await bob.next(), "OK Ops");
  assert.equal(await alice.next(), "LEFT Ops bob");
  await pingPong(bob);
  await pingPong(carol);
});

Deno.test("a disconnect pushes LEFT to the rooms the client had joined, not to the lobby", async () => {
  await using server = await startTestServer();
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using carol = await rawClient(server.port, { nick: "carol" });
  const bob = await rawClient(server.port, { nick: "bob" });
  for (const c of [alice, bob]) {
    await c.line("JOIN ops");
    assert.equal(await c.next(), "OK ops");
  }
  assert.equal(await alice.next(), "JOINED ops bob");
  await bob.line("JOIN dev");
  assert.equal(await bob.next(), "OK dev");
  bob.close();
  assert.equal(await alice.next(), "LEFT ops bob");
  await pingPong(alice);
  await pingPong(carol);
  // The empty room "dev" is gone; "ops" remains with alice.
  await alice.line("ROOMS");
  assert.deepEqual(JSON.parse((await alice.next()).slice(6)), [
    { room: "lobby", members: 2 },
    { room: "ops", members: 1 },
  ]);
});

Deno.test("an empty room disappears when its last member leaves", async () => {
  await using server = await startTestServer();
  await using alice = await rawClient(server.port, { nick: "alice" });
  await alice.line("JOIN tmp");
  assert.equal(await alice.next(), "OK tmp");
  await alice.line("LEAVE tmp");
  assert.equal(await alice.next(), "OK tmp");
  await alice.line("SAY tmp :anyone?");
  assert.match(await alice.next(), /^ERR 404 /);
  await alice.line("JOIN TMP");
  assert.equal(await alice.next(), "OK TMP", "recreated with the new case");
});

Deno.test("TELL delivers a DM to a nick looked up case-insensitively", async () => {
  await using server = await startTestServer();
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using bob = await rawClient(server.port, { nick: "Bob" });
  await using carol = await rawClient(server.port, { nick: "carol" });
  await alice.line("TELL BOB :psst");
  assert.equal(await alice.next(), "OK 1");
  assert.equal(await bob.next(), "DM alice psst");
  await alice.send("tell bob 3\r\nabc\r\n");
  assert.equal(await alice.next(), "OK 1");
  assert.equal(await bob.next(), "DM alice abc");
  await alice.line("TELL nobody :hello");
  assert.equal(await alice.next(), "ERR 404 Cannot tell nobody: no such nick");
  await pingPong(carol);
  await pingPong(alice);
});

Deno.test("nicks: valid characters, 1-32 long, unique case-insensitively, display case kept", async () => {
  await using server = await startTestServer();
  await using alice = await rawClient(server.port);
  await using bob = await rawClient(server.port);
  const longest = "a".repeat(32);
  await alice.line(`NICK ${longest}`);
  assert.equal(await alice.next(), `OK ${longest}`);
  await alice.line(`NICK ${"a".repeat(33)}`);
  assert.match(await alice.next(), /^ERR 400 Cannot use nick "a{33}": nicks are 1-32 of/);
  for (const bad of ["a.b", "a/b", "é", "a+b", "a:b"]) {
    await alice.line(`NICK ${bad}`);
    assert.match(await alice.next(), /^ERR 400 Cannot use nick /, bad);
  }
  await alice.line("NICK Alice_1-X");
  assert.equal(await alice.next(), "OK Alice_1-X");
  await bob.line("NICK alice_1-x");
  assert.equal(await bob.next(), 'ERR 409 Cannot use nick "alice_1-x": it is in use');
  // Changing one's own nick's case is allowed.
  await alice.line("NICK ALICE_1-x");
  assert.equal(await alice.next(), "OK ALICE_1-x");
  // The old nick is free again once renamed.
  await alice.line("NICK alice");
  assert.equal(await alice.next(), "OK alice");
  await bob.line("NICK Alice_1-X");
  assert.equal(await bob.next(), "OK Alice_1-X");
  // Messages show the display case.
  await bob.line("SAY lobby :hi");
  assert.equal(await bob.next(), "OK 1 1");
  assert.equal(await alice.next(), "MSG lobby Alice_1-X id 1 hi");
  await alice.line("WHO");
  const who = JSON.parse((await alice.next()).slice(4)) as { nick: string }[];
  assert.deepEqual(who.map((w) => w.nick).sort(), ["Alice_1-X", "alice"]);
});

Deno.test("a nick is free again once its owner disconnects", async () => {
  await using server = await startTestServer();
  const first = await rawClient(server.port, { nick: "zed" });
  first.close();
  await using second = await rawClient(server.port);
  let reply = "";
  for (let i = 0; i < 100; i++) {
    await second.line("NICK ZED");
    reply = await second.next();
    if (reply === "OK ZED") break;
    await sleep(20);
  }
  assert.equal(reply, "OK ZED");
});

Deno.test("WHO lists everybody or one room, with nick, rooms and since", async () => {
  await using server = await startTestServer();
  const before = Date.now();
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using bob = await rawClient(server.port, { nick: "bob" });
  await bob.line("JOIN ops");
  assert.equal(await bob.next(), "OK ops");
  await alice.line("WHO");
  const f = await alice.frame();
  assert.equal(f.verb, "WHO");
  const all = JSON.parse(decodeText(f.payload!)) as {
    nick: string;
    rooms: string[];
    since: number;
  }[];
  all.sort((a, b) => a.nick.localeCompare(b.nick));
  assert.equal(all.length, 2);
  assert.deepEqual(all.map((e) => Object.keys(e).sort()), [
    ["nick", "rooms", "since"],
    ["nick", "rooms", "since"],
  ]);
  assert.deepEqual(all.map((e) => [e.nick, e.rooms]), [["alice", ["lobby"]], ["bob", [
    "lobby",
    "ops",
  ]]]);
  for (const e of all) {
    assert.ok(Number.isInteger(e.since) && e.since >= before - 1000 && e.since <= Date.now());
  }
  await alice.line("WHO OPS");
  const ops = JSON.parse((await alice.next()).slice(4));
  assert.deepEqual(ops.map((e: { nick: string }) => e.nick), ["bob"]);
  await alice.line("WHO lobby");
  assert.equal(JSON.parse((await alice.next()).slice(4)).length, 2);
});

Deno.test("ROOMS lists every room with an integer member count, lobby included", async () => {
  await using server = await startTestServer();
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using bob = await rawClient(server.port, { nick: "bob" });
  await alice.line("JOIN Dev.Team");
  assert.equal(await alice.next(), "OK Dev.Team");
  await bob.line("JOIN dev.team");
  assert.equal(await bob.next(), "OK Dev.Team");
  assert.equal(await alice.next(), "JOINED Dev.Team bob");
  await bob.line("JOIN ops");
  assert.equal(await bob.next(), "OK ops");
  await alice.line("ROOMS");
  const f = await alice.frame();
  assert.equal(f.verb, "ROOMS");
  assert.deepEqual(JSON.parse(decodeText(f.payload!)), [
    { room: "lobby", members: 2 },
    { room: "Dev.Team", members: 2 },
    { room: "ops", members: 1 },
  ]);
});

Deno.test("TIME answers ISO-8601 UTC with milliseconds and unix ms, within 2 s of the local clock", async () => {
  await using server = await startTestServer();
  await using alice = await rawClient(server.port);
  await alice.line("TIME");
  const reply = await alice.next();
  const m = /^TIME (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\d+)$/.exec(reply);
  assert.ok(m, reply);
  const iso = Date.parse(m[1]!);
  const ms = Number(m[2]);
  assert.equal(iso, ms, "both forms are the same instant");
  assert.ok(Math.abs(ms - Date.now()) < 2000, `server clock ${ms} vs local ${Date.now()}`);
});

Deno.test("PING is answered with PONG, HELP with a sized text, QUIT with OK bye then close", async () => {
  await using server = await startTestServer();
  await using alice = await rawClient(server.port);
  await alice.line("ping");
  assert.equal(await alice.next(), "PONG");
  await alice.line("HELP");
  const help = await alice.frame();
  assert.equal(help.verb, "HELP");
  const body = decodeText(help.payload!);
  for (
    const verb of [
      "NICK",
      "JOIN",
      "LEAVE",
      "SAY",
      "TELL",
      "WHO",
      "ROOMS",
      "TIME",
      "PING",
      "QUIT",
      "HELP",
    ]
  ) {
    assert.match(body, new RegExp(`^  ${verb} `, "m"), verb);
  }
  await alice.line("QUIT");
  assert.equal(await alice.next(), "OK bye");
  assert.equal(await alice.closed(), true);
});

Deno.test("200 pipelined commands in one write are answered in order", async () => {
  await using server = await startTestServer();
  await using alice = await rawClient(server.port);
  let batch = "";
  const expected: string[] = [];
  for (let i = 0; i < 40; i++) {
    batch += `JOIN room-${i}\r\n`;
    expected.push(`OK room-${i}`);
    batch += `SAY room-${i} :m${i}\n`;
    expected.push("OK 0 1");
    batch += `NICK n${i}\r\n`;
    expected.push(`OK n${i}`);
    batch += `WHO room-${i}\r\n`;
    // Odd rooms are left again right after their WHO.
    const rooms = ["lobby"];
    for (let k = 0; k <= i; k++) if (k % 2 === 0 || k === i) rooms.push(`room-${k}`);
    expected.push(`WHO ${JSON.stringify([{ nick: `n${i}`, rooms, since: 0 }])}`);
    batch += i % 2 === 0 ? "PING\r\n" : `LEAVE room-${i}\r\n`;
    expected.push(i % 2 === 0 ? "PONG" : `OK room-${i}`);
  }
  assert.equal(expected.length, 200);
  await alice.send(batch);
  const got: string[] = [];
  for (let i = 0; i < expected.length; i++) {
    got.push((await alice.next()).replace(/"since":\d+/, '"since":0'));
  }
  assert.deepEqual(got, expected);
  await pingPong(alice);
});

Deno.test("pushes arrive between replies, and replies stay in order", async () => {
  await using server = await startTestServer();
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using bob = await rawClient(server.port, { nick: "bob" });
  // Deterministic: a push queued between two of alice's commands arrives between their replies.
  await alice.line("PING");
  assert.equal(await alice.next(), "PONG");
  await bob.line("SAY lobby :one");
  assert.equal(await bob.next(), "OK 1 1");
  await alice.line("TIME");
  assert.equal(await alice.next(), "MSG lobby bob id 1 one");
  assert.match(await alice.next(), /^TIME /);

  // Concurrent: bob sends 100 messages while alice pipelines 200 commands.
  let batch = "";
  for (let i = 0; i < 200; i++) batch += i % 2 ? "PING\r\n" : `NICK alice${i}\r\n`;
  let bobs = "";
  for (let i = 0; i < 100; i++) bobs += `SAY lobby :m${i}\r\n`;
  await Promise.all([alice.send(batch), bob.send(bobs)]);
  const replies: string[] = [];
  const pushes: string[] = [];
  while (replies.length < 200 || pushes.length < 100) {
    const f = await alice.next();
    if (f.startsWith("MSG ")) pushes.push(f);
    else replies.push(f);
  }
  assert.deepEqual(replies, Array.from({ length: 200 }, (_, i) => i % 2 ? "PONG" : `OK alice${i}`));
  assert.deepEqual(
    pushes,
    Array.from({ length: 100 }, (_, i) => `MSG lobby bob id ${i + 2} m${i}`),
  );
  for (let i = 0; i < 100; i++) assert.equal(await bob.next(), `OK 1 ${i + 2}`);
  await pingPong(alice);
});

Deno.test("the server logs every connect and disconnect with peer, nick and the reason", async () => {
  const { log, lines } = captureLog("json");
  await using server = await startTestServer({ pingInterval: 100 }, { log });
  const quitter = await rawClient(server.port, { nick: "quitter" });
  await quitter.line("QUIT");
  assert.equal(await quitter.next(), "OK bye");
  const dropper = await rawClient(server.port, { nick: "dropper" });
  dropper.close();
  const broken = await rawClient(server.port, { nick: "broken" });
  // Words where `:text` goes are answered and the connection goes on; a count that is a number
  // but not digits only loses framing.
  await broken.send("SAY lobby x\r\n");
  assert.equal(
    await nextUnskipped(broken, /^PING$/),
    "ERR 400 Cannot read SAY: put a colon before the text: SAY lobby :x",
  );
  await broken.send("SAY lobby -5\r\n");
  const idler = await rawClient(server.port, { nick: "idler" });
  for (const c of [quitter, broken, idler]) {
    await c.closed(3000);
    c.close();
  }
  await waitFor(
    () => lines.filter((l) => l.includes('"disconnect"')).length === 4,
    5000,
    "4 disconnects",
  );
  const events = lines.map((l) => JSON.parse(l));
  const reasons = Object.fromEntries(
    events.filter((e) => e.event === "disconnect").map((e) => [e.nick, e.reason]),
  );
  assert.deepEqual(reasons, {
    quitter: "quit",
    dropper: "eof",
    broken: "protocol error",
    idler: "idle",
  });
  for (const e of events.filter((e) => e.event === "connect" || e.event === "disconnect")) {
    assert.match(e.peer, /^127\.0\.0\.1:\d+$/);
    assert.equal(typeof e.ts, "string");
  }
  assert.equal(events.filter((e) => e.event === "connect").length, 4);
});
