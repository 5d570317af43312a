/**
 * The protocol 2 client API against a real server: message ids in pushes and in `sayWithId`,
 * `history()` (newest, after an id, capped by the server, its errors), and `renamed` pushes.
 */

import assert from "node:assert/strict";
import { connect } from "../client/client.ts";
import { ServerError } from "../lib/protocol/errors.ts";
import { startTestServer } from "./helpers/servers.ts";

Deno.test("sayWithId() gives the id the members' MSG pushes carry", async () => {
  await using server = await startTestServer();
  await using alice = await connect({ port: server.port, nick: "alice" });
  await using bob = await connect({ port: server.port, nick: "bob" });
  await alice.join("ops");
  await bob.join("ops");
  const pushes = alice.messages();
  assert.deepEqual(await bob.sayWithId("ops", "one"), { recipients: 1, id: 1 });
  assert.deepEqual(await bob.sayWithId("ops", "two"), { recipients: 1, id: 2 });
  assert.deepEqual(await bob.sayWithId("lobby", "other room"), { recipients: 1, id: 1 });
  const got: string[] = [];
  while (got.length < 3) {
    const m = (await pushes.next()).value;
    if (m?.type === "msg") got.push(`${m.room} ${m.id} ${m.from} ${m.text}`);
  }
  assert.deepEqual(got, ["ops 1 bob one", "ops 2 bob two", "lobby 1 bob other room"]);
});

Deno.test("history() reads the newest messages, or those after an id, as replies", async () => {
  await using server = await startTestServer({ maxHistoryReply: 4 });
  await using alice = await connect({ port: server.port, nick: "alice" });
  await alice.join("ops");
  for (let i = 1; i <= 9; i++) await alice.say("ops", `m${i}`);
  const pushes = alice.messages();
  const newest = await alice.history("ops", { limit: 3 });
  assert.match(newest.epoch, /^[A-Za-z0-9_-]{1,32}$/);
  assert.deepEqual([newest.room, newest.first, newest.last], ["ops", 1, 9]);
  assert.deepEqual(newest.messages.map((m) => `${m.id} ${m.from} ${m.text}`), [
    "7 alice m7",
    "8 alice m8",
    "9 alice m9",
  ]);
  // The server caps a reply at max_history_reply.
  const after = await alice.history("ops", { limit: 50, after: 2 });
  assert.deepEqual(after.messages.map((m) => m.id), [3, 4, 5, 6]);
  assert.equal(after.epoch, newest.epoch);
  const none = await alice.history("ops", { limit: 0 });
  assert.deepEqual({ ...none, epoch: "" }, {
    room: "ops",
    epoch: "",
    first: 1,
    last: 9,
    messages: [],
  });
  // The frames of the replies never came out as pushes: the next push is the one that follows.
  await using bob = await connect({ port: server.port, nick: "bob" });
  await bob.join("ops");
  const next = (await pushes.next()).value;
  assert.deepEqual(next, { type: "joined", room: "ops", nick: "bob" });
  // History stays readable after LEAVE on this connection.
  await alice.leave("ops");
  assert.equal((await alice.history("ops", { limit: 1 })).messages[0]?.text, "m9");
});

Deno.test("history() rejects 404 for no room, 403 for a room never joined, RangeError unsent", async () => {
  await using server = await startTestServer();
  await using alice = await connect({ port: server.port, nick: "alice" });
  await using bob = await connect({ port: server.port, nick: "bob" });
  await bob.join("ops");
  await assert.rejects(alice.history("nope"), (e) => e instanceof ServerError && e.code === 404);
  await assert.rejects(alice.history("ops"), (e) => e instanceof ServerError && e.code === 403);
  await assert.rejects(alice.history("ops", { limit: -1 }), RangeError);
  await assert.rejects(alice.history("ops", { after: 1.5 }), RangeError);
  await assert.rejects(alice.history("bad room"), RangeError);
  assert.equal((await alice.history("lobby")).messages.length, 0);
});

Deno.test("a nick change in a shared room comes as a renamed push", async () => {
  await using server = await startTestServer();
  await using alice = await connect({ port: server.port, nick: "alice" });
  await using bob = await connect({ port: server.port, nick: "bob" });
  await alice.join("ops");
  await bob.join("ops");
  const pushes = alice.messages();
  await bob.setNick("robert");
  for (;;) {
    const m = (await pushes.next()).value;
    if (m?.type === "renamed") {
      assert.deepEqual(m, { type: "renamed", old: "bob", nick: "robert" });
      break;
    }
    assert.ok(m !== undefined, "pushes ended before the rename");
  }
});
