/**
 * The command line on protocol 2, as spawned processes against real servers: `switchboard
 * history`, `listen --json` with ids that resumes across a reconnect without gaps or duplicates
 * (and says when messages are gone), and chat showing a room's last messages, renames, and what
 * was missed or lost while away.
 */

import assert from "node:assert/strict";
import { connect } from "../client/client.ts";
import { addressArgs, runCli, spawnCli } from "./helpers/cli.ts";
import { startProxy } from "./helpers/proxy.ts";
import { startTestServer } from "./helpers/servers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

function jsonLines(text: string): Record<string, unknown>[] {
  return text.trim().split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

Deno.test(
  "history prints a room's last messages, --after pages on, --json gives the log",
  opts,
  async () => {
    await using server = await startTestServer({ historySize: 8 });
    await using bob = await connect({ port: server.port, nick: "bob" });
    await bob.join("ops");
    for (let i = 1; i <= 12; i++) await bob.say("ops", `m${i}`);
    const at = addressArgs(server.port);

    const last = await runCli(["history", "ops", "--limit", "3", ...at]);
    assert.equal(last.code, 0, last.stderr);
    assert.equal(last.stdout, "#10 [ops] <bob> m10\n#11 [ops] <bob> m11\n#12 [ops] <bob> m12\n");

    // --after older than the log reaches: what is kept, and a note that the rest is gone.
    const after = await runCli(["history", "ops", "--after", "2", "--limit", "2", ...at]);
    assert.equal(after.code, 0, after.stderr);
    assert.equal(after.stdout, "#5 [ops] <bob> m5\n#6 [ops] <bob> m6\n");
    assert.match(after.stderr, /messages of ops before #5 are no longer kept/);

    const json = await runCli(["history", "ops", "--after", "10", "--json", ...at]);
    assert.equal(json.code, 0, json.stderr);
    const page = JSON.parse(json.stdout);
    assert.match(page.epoch, /^[A-Za-z0-9_-]{1,32}$/);
    assert.deepEqual({ ...page, epoch: "" }, {
      room: "ops",
      epoch: "",
      first: 5,
      last: 12,
      messages: [{ id: 11, from: "bob", text: "m11" }, { id: 12, from: "bob", text: "m12" }],
    });
    // It read without staying in the room, and bob saw it come and go.
    assert.deepEqual((await bob.who("ops")).map((w) => w.nick), ["bob"]);

    const missing = await runCli(["history", "nope", ...at]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^switchboard: Cannot read nope: no such room \(404\)\n$/);
    assert.deepEqual((await bob.rooms()).map((r) => r.room).sort(), ["lobby", "ops"], "none made");

    const empty = await runCli(["history", "lobby", ...at]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout, "");
    assert.match(empty.stderr, /\(no messages in lobby\)/);

    for (
      const [args, re] of [
        [["history"], /Cannot read history: no room given/],
        [
          ["history", "ops", "--limit", "0"],
          /Cannot use --limit 0: it must be a whole number from 1/,
        ],
        [
          ["history", "ops", "--after", "-1"],
          /Cannot parse the command line: Option '--after' argument is ambiguous/,
        ],
        [["history", "bad room"], /Cannot read the history of room "bad room"/],
        [
          ["listen", "--limit", "3"],
          /Cannot use --limit with "listen": it only applies to history/,
        ],
      ] as const
    ) {
      const r = await runCli([...args, ...at]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  },
);

Deno.test(
  "listen --json carries ids and resumes across a reconnect without gaps or duplicates",
  opts,
  async () => {
    await using server = await startTestServer();
    await using proxy = startProxy(server.port);
    await using listener = spawnCli([
      "listen",
      "ops",
      "--json",
      "--count",
      "10",
      ...addressArgs(proxy.port),
    ]);
    await listener.waitFor(/Listening on ops/, { stream: "stderr" });
    await using bob = await connect({ port: server.port, nick: "bob" });
    await bob.join("ops");
    for (let i = 1; i <= 3; i++) await bob.say("ops", `m${i}`);
    await listener.waitFor(/"text":"m3"/);
    // The network dies while 4 more are said; then the connection is cut.
    const first = await proxy.connection(0);
    first.hold();
    for (let i = 4; i <= 7; i++) await bob.say("ops", `m${i}`);
    first.close();
    await listener.waitFor(/Reconnected to 127\.0\.0\.1:\d+/, { stream: "stderr" });
    await listener.waitFor(/4 messages of ops sent while disconnected follow/, {
      stream: "stderr",
    });
    for (let i = 8; i <= 10; i++) await bob.say("ops", `m${i}`);
    assert.equal(await listener.exit(), 0, listener.stderr);
    const lines = jsonLines(listener.stdout).filter((o) => o.type === "msg");
    assert.deepEqual(
      lines.map(({ time: _, ...rest }) => rest),
      Array.from({ length: 10 }, (_, i) => ({
        type: "msg",
        room: "ops",
        from: "bob",
        id: i + 1,
        text: `m${i + 1}`,
      })),
    );
    assert.match(listener.stderr, /Disconnected from 127\.0\.0\.1:\d+ \(connection lost\)/);
  },
);

Deno.test(
  "listen says when messages are gone: a gap line, then what the log still has",
  opts,
  async () => {
    await using server = await startTestServer({ historySize: 3 });
    await using proxy = startProxy(server.port);
    await using listener = spawnCli([
      "listen",
      "ops",
      "--json",
      "--count",
      "4",
      ...addressArgs(proxy.port),
    ]);
    await listener.waitFor(/Listening on ops/, { stream: "stderr" });
    await using bob = await connect({ port: server.port, nick: "bob" });
    await bob.join("ops");
    await bob.say("ops", "m1");
    await listener.waitFor(/"text":"m1"/);
    const first = await proxy.connection(0);
    first.hold();
    for (let i = 2; i <= 6; i++) await bob.say("ops", `m${i}`);
    first.close();
    assert.equal(await listener.exit(), 0, listener.stderr);
    const seen = jsonLines(listener.stdout).filter((o) => o.type === "msg" || o.type === "gap")
      .map(({ time: _, ...rest }) => rest.type === "msg" ? rest.id : rest);
    assert.deepEqual(seen, [
      1,
      { type: "gap", room: "ops", expected: 2, first: 4, epoch_changed: false },
      4,
      5,
      6,
    ]);
  },
);

Deno.test("chat shows a room's last messages on join (--history N, 0 for none)", opts, async () => {
  await using server = await startTestServer();
  await using bob = await connect({ port: server.port, nick: "bob" });
  await bob.join("ops");
  for (let i = 1; i <= 4; i++) await bob.say("ops", `m${i}`);
  await using chat = spawnCli([
    "chat",
    "--nick",
    "alice",
    "--room",
    "ops",
    "--history",
    "3",
    ...addressArgs(server.port),
  ]);
  await chat.waitFor(/-- Connected to 127\.0\.0\.1:\d+ as alice; talking in ops/);
  await chat.waitFor(
    /-- 3 earlier messages in ops:\n\d\d:\d\d:\d\d \[ops\] <bob> m2\n.* <bob> m3\n.* <bob> m4\n/,
  );
  assert.ok(!chat.stdout.includes("m1"), chat.stdout);
  await bob.say("ops", "m5");
  await chat.waitFor(/\[ops\] <bob> m5$/m);
  // A room joined later shows its log too (the default: 20).
  await bob.join("dev");
  await bob.say("dev", "d1");
  await chat.write("/join dev\n");
  await chat.waitFor(/-- 1 earlier message in dev:\n.*\[dev\] <bob> d1\n/);
  await chat.write("/quit\n");
  assert.equal(await chat.exit(), 0, chat.stderr);

  await using quiet = spawnCli([
    "chat",
    "--room",
    "ops",
    "--history",
    "0",
    ...addressArgs(server.port),
  ]);
  await quiet.waitFor(/-- Connected to .* talking in ops/);
  await bob.say("ops", "m6");
  await quiet.waitFor(/\[ops\] <bob> m6$/m);
  await quiet.write("/quit\n");
  assert.equal(await quiet.exit(), 0, quiet.stderr);
  assert.ok(!/earlier message|<bob> m[1-5]/.test(quiet.stdout), quiet.stdout);
  const bad = await runCli(["chat", "--history", "x", ...addressArgs(server.port)]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Cannot use --history x: it must be a whole number from 0 to 1000/);
});

Deno.test(
  "chat shows renames, and after a reconnect what was missed, or that some was lost",
  opts,
  async () => {
    await using server = await startTestServer({ historySize: 4 });
    await using proxy = startProxy(server.port);
    await using chat = spawnCli([
      "chat",
      "--nick",
      "alice",
      "--room",
      "ops",
      ...addressArgs(proxy.port),
    ]);
    await chat.waitFor(/-- Connected to .* as alice; talking in ops/);
    await using bob = await connect({ port: server.port, nick: "bob" });
    await bob.join("ops");
    await bob.setNick("bob2");
    await chat.waitFor(/-- bob is now known as bob2$/m);

    // Away while 2 messages are said: both come back.
    let held = await proxy.connection(0);
    held.hold();
    await bob.say("ops", "while away 1");
    await bob.say("ops", "while away 2");
    held.close();
    let from = chat.stdout.length;
    await chat.waitFor(/-- Reconnected to .* as alice; rejoined ops/, { from, timeout: 15_000 });
    await chat.waitFor(
      /-- \(2 messages you missed in ops\)\n.*\[ops\] <bob2> while away 1\n.*\[ops\] <bob2> while away 2\n/,
      { from },
    );
    assert.doesNotMatch(chat.stdout.slice(from), /were lost/);

    // Away while 6 are said: the log keeps 4, so some are lost.
    held = await proxy.connection(1);
    held.hold();
    for (let i = 1; i <= 6; i++) await bob.say("ops", `gone ${i}`);
    held.close();
    from = chat.stdout.length;
    await chat.waitFor(
      /-- \(some messages were lost in ops\)\n.*-- \(4 messages you missed in ops\)\n(.*\n){3}.*<bob2> gone 6\n/,
      { from, timeout: 15_000 },
    );
    assert.doesNotMatch(chat.stdout.slice(from), /gone 2\n/);
    await chat.write("/quit\n");
    assert.equal(await chat.exit(), 0, chat.stderr);
  },
);

Deno.test("history reads page after page when the server's replies are smaller", opts, async () => {
  await using server = await startTestServer({ maxHistoryReply: 2 });
  await using bob = await connect({ port: server.port, nick: "bob" });
  await bob.join("ops");
  for (let i = 1; i <= 7; i++) await bob.say("ops", `m${i}`);
  const ids = async (...args: string[]) => {
    const r = await runCli(["history", "ops", "--json", ...args, ...addressArgs(server.port)]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).messages.map((m: { id: number }) => m.id);
  };
  assert.deepEqual(await ids("--limit", "5"), [3, 4, 5, 6, 7]);
  assert.deepEqual(await ids("--limit", "4", "--after", "1"), [2, 3, 4, 5]);
  assert.deepEqual(await ids("--limit", "100"), [1, 2, 3, 4, 5, 6, 7]);
});
