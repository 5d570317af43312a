/**
 * Sessions and handlers over engines that are not the in-process one: an engine answering after
 * random delays (replies stay in order, pipelined commands overlap), and an engine that goes away
 * (`ERR 503`, the session goes on, nothing is left unhandled).
 */

import assert from "node:assert/strict";
import { ChatHub } from "../server/chat/hub.ts";
import { DelayedEngine, SwitchableEngine } from "./helpers/engines.ts";
import { pingPong, rawClient } from "./helpers/raw_client.ts";
import { startTestServer } from "./helpers/servers.ts";

Deno.test("an engine answering after random delays: 200 pipelined SAYs are answered and delivered in order", async () => {
  const engine = new DelayedEngine({ seed: 3, maxDelay: 2 });
  await using server = await startTestServer({}, { hub: await ChatHub.connect(engine) });
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using bob = await rawClient(server.port, { nick: "bob" });
  const lines = Array.from({ length: 200 }, (_, i) => `SAY lobby :m${i}\r\n`).join("");
  await alice.send(lines);
  for (let i = 0; i < 200; i++) assert.equal(await alice.next(), `OK 1 ${i + 1}`, `reply ${i}`);
  for (let i = 0; i < 200; i++) {
    assert.equal(await bob.next(), `MSG lobby alice id ${i + 1} m${i}`);
  }
  await pingPong(alice);
});

Deno.test("an engine answering after random delays: replies of mixed pipelined commands keep their order", async () => {
  const engine = new DelayedEngine({ seed: 5, maxDelay: 3 });
  await using server = await startTestServer({}, { hub: await ChatHub.connect(engine) });
  await using bob = await rawClient(server.port, { nick: "bob" });
  await using alice = await rawClient(server.port);
  await alice.send(
    "NICK alice\r\nSAY lobby :one\r\nWHO\r\nPING\r\nJOIN ops\r\nSAY ops :nobody\r\nTIME\r\n" +
      "TELL bob :psst\r\nROOMS\r\nTELL nobody :x\r\nLEAVE ops\r\nSAY ops :gone\r\nQUIT\r\n",
  );
  assert.equal(await alice.next(), "OK alice");
  assert.equal(await alice.next(), "OK 1 1");
  assert.match(await alice.next(), /^WHO \[\{"nick":"bob"/);
  assert.equal(await alice.next(), "PONG");
  assert.equal(await alice.next(), "OK ops");
  assert.equal(await alice.next(), "OK 0 1");
  assert.match(await alice.next(), /^TIME \d{4}-/);
  assert.equal(await alice.next(), "OK 1");
  assert.match(
    await alice.next(),
    /^ROOMS \[\{"room":"lobby","members":2\},\{"room":"ops","members":1\}\]$/,
  );
  assert.equal(await alice.next(), "ERR 404 Cannot tell nobody: no such nick");
  assert.equal(await alice.next(), "OK ops");
  assert.equal(await alice.next(), "ERR 404 Cannot say to ops: no such room");
  assert.equal(await alice.next(), "OK bye");
  assert.equal(await alice.closed(), true);
  assert.equal(await bob.next(), "MSG lobby alice id 1 one");
  assert.equal(await bob.next(), "DM alice psst");
});

Deno.test("an unreachable engine: chat commands get ERR 503, the session goes on, and comes back with the engine", async () => {
  const engine = new SwitchableEngine();
  await using server = await startTestServer({}, { hub: new ChatHub({ engine }) });
  await using alice = await rawClient(server.port, { nick: "alice", room: "ops" });
  await using bob = await rawClient(server.port, { nick: "bob", room: "ops" });
  assert.equal(await alice.next(), "JOINED ops bob");
  engine.down = true;
  for (
    const line of [
      "NICK carol",
      "JOIN dev",
      "LEAVE ops",
      "SAY lobby :x",
      "TELL bob :x",
      "HISTORY ops",
      "WHO",
      "ROOMS",
    ]
  ) {
    await alice.line(line);
    const got = await alice.next();
    assert.match(got, /^ERR 503 cluster unavailable: connection refused/, `${line}: ${got}`);
  }
  await pingPong(alice);
  await alice.line("TIME");
  assert.match(await alice.next(), /^TIME /);
  // A client that leaves while the engine is down: its detach fails, nothing crashes.
  bob.close();
  const deadline = Date.now() + 5000;
  while (server.clients > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(server.clients, 1);
  assert.equal(await alice.next(), "LEFT ops bob", "this node knows bob left");
  engine.down = false;
  // The SAY refused while the engine was down took no id.
  await alice.line("SAY lobby :back");
  assert.equal(await alice.next(), "OK 0 1");
  await alice.line("SAY ops :still here");
  assert.equal(await alice.next(), "OK 0 1", "bob is gone from ops too");
  await alice.line("NICK carol");
  assert.equal(await alice.next(), "OK carol");
  // bob's removal, refused while the engine was down, was retried: his nick is free again.
  await alice.line("WHO");
  assert.match(
    await alice.next(),
    /^WHO \[\{"nick":"carol","rooms":\["lobby","ops"\],"since":\d+\}\]$/,
  );
  await alice.line("NICK bob");
  assert.equal(await alice.next(), "OK bob");
  assert.ok(server.metrics().engineErrors >= 1, "the failed detach is counted");
});
