/**
 * `switchboard chat` driven through its standard input (not a terminal): a whole conversation
 * between two chat processes, slash commands, and reconnecting after the server restarts.
 */

import assert from "node:assert/strict";
import { connect } from "../client/client.ts";
import { addressArgs, spawnCli } from "./helpers/cli.ts";
import { startProxy } from "./helpers/proxy.ts";
import { startTestServer } from "./helpers/servers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test("two chat processes hold a whole conversation through their stdin", opts, async () => {
  await using server = await startTestServer();
  await using alice = spawnCli([
    "chat",
    "--nick",
    "alice",
    "--room",
    "ops",
    ...addressArgs(server.port),
  ]);
  await alice.waitFor(/-- Connected to 127\.0\.0\.1:\d+ as alice; talking in ops\./);
  // bob comes once alice is there (else his arrival may come before hers, told to nobody).
  await using bob = spawnCli(["chat", "--nick", "bob", ...addressArgs(server.port)]);
  await bob.waitFor(/-- Connected to 127\.0\.0\.1:\d+ as bob; talking in lobby\./);
  // The lobby is small (under --lobby-notices): bob's arrival is told.
  await alice.waitFor(/-- bob joined lobby$/m);

  // A plain line goes to the current room (lobby for bob), and every member sees it.
  await bob.write("hello lobby\n");
  await alice.waitFor(/^\d\d:\d\d:\d\d \[lobby\] <bob> hello lobby$/m);
  await bob.waitFor(/^\d\d:\d\d:\d\d \[lobby\] <bob> hello lobby$/m);

  // bob joins ops: alice is told, and bob now talks in ops.
  await bob.write("/join ops\n");
  await bob.waitFor(/-- Joined ops; talking in it now/);
  await alice.waitFor(/-- bob joined ops$/m);
  await bob.write("hi alice\n");
  await alice.waitFor(/\[ops\] <bob> hi alice$/m);
  await alice.write("hi bob, // not a command\n//slash at the start\n");
  await bob.waitFor(/\[ops\] <alice> hi bob, \/\/ not a command$/m);
  await bob.waitFor(/\[ops\] <alice> \/slash at the start$/m);

  // Direct messages, who, rooms, time, nick.
  await alice.write("/msg BOB just between us\n");
  await alice.waitFor(/-> \*BOB\* just between us$/m);
  await bob.waitFor(/\*alice\* just between us$/m);
  await alice.write("/who ops\n");
  // Yourself marked, as in irssi's /names.
  await alice.waitFor(
    /-- 2 in ops:\n {3}alice \(you\) \(\d+s\) lobby ops\n {3}bob \(\d+s\) lobby ops\n/,
  );
  // The current room said, and the unread messages of the others (bob's "hello lobby").
  await alice.write("/rooms\n");
  await alice.waitFor(/-- 2 rooms:\n {3}lobby \(2\) 1 unread\n {3}ops \(2\) \(current\)\n/);
  await alice.write("/time\n");
  await alice.waitFor(/-- Server time \d{4}-\d\d-\d\dT[\d:.]+Z; offset [+-][\d.]+ ms/);
  await alice.write("/nick alice2\n");
  await alice.waitFor(/-- You are alice2 now/);
  await alice.write("/nick bob\n");
  await alice.waitFor(/!! Cannot take nick bob: it is in use/);
  await alice.write("as alice2\n");
  await bob.waitFor(/\[ops\] <alice2> as alice2$/m);

  // Mistakes are reported and the session goes on.
  await alice.write("/frob\n/leave lobby\n/join bad!room\n/msg bob\n");
  await alice.waitFor(/!! Unknown command \/frob: type \/help/);
  await alice.waitFor(/!! Cannot leave lobby: everybody is in it while connected/);
  await alice.waitFor(/!! Cannot join "bad!room": a room name is 1-64/);
  await alice.waitFor(/!! Cannot send a direct message: usage \/msg NICK TEXT/);
  await alice.write("/help\n");
  await alice.waitFor(/ {2}\/join ROOM {8}join a room/);

  // bob leaves ops, then quits; alice sees both and carries on.
  await bob.write("/leave\n");
  await bob.waitFor(/-- Left ops; talking in lobby/);
  await alice.waitFor(/-- bob left ops$/m);
  await bob.write("back in lobby\n/quit\n");
  await alice.waitFor(/\[lobby\] <bob> back in lobby$/m);
  assert.equal(await bob.exit(), 0, bob.stderr);
  await alice.waitFor(/-- bob left lobby$/m);
  // The end of input quits too.
  await alice.closeStdin();
  assert.equal(await alice.exit(), 0, alice.stderr);
  assert.equal(alice.stderr, "");
  assert.equal(bob.stderr, "");
  // Nothing the chat printed carries colour codes: stdout is not a terminal.
  assert.ok(!alice.stdout.includes("\x1b"), "no escape codes off a terminal");
});

Deno.test(
  "chat reconnects after the server restarts, rejoins its rooms and takes its nick back",
  opts,
  async () => {
    let server = await startTestServer();
    const port = server.port;
    const files = server.files;
    await using chat = spawnCli(["chat", "--nick", "alice", "--room", "ops", ...addressArgs(port)]);
    try {
      await chat.waitFor(/Connected to 127\.0\.0\.1:\d+ as alice; talking in ops/);
      await server.shutdown(1000);
      await chat.waitFor(/-- The server says goodbye: shutdown/);
      await chat.waitFor(/-- Disconnected from 127\.0\.0\.1:\d+ \(shutdown\)\. Reconnecting\.\.\./);
      // While the server is down: a line typed is refused, not lost silently.
      await chat.write("while down\n");
      await chat.waitFor(
        /!! Cannot send to ops: not connected to 127\.0\.0\.1:\d+ \(reconnecting\)/,
      );
      await chat.waitFor(/connection refused/);
      server = await startTestServer({ port, files });
      const from = chat.stdout.length;
      await chat.waitFor(/-- Reconnected to 127\.0\.0\.1:\d+ as alice; rejoined ops/, {
        from,
        timeout: 15_000,
      });
      // One line per attempt: why the last one failed, and when the next comes.
      const attempts = chat.stdout.split("\n").filter((l) =>
        /connection refused|Reconnecting in/.test(l)
      );
      assert.ok(attempts.length > 0, chat.stdout);
      for (const l of attempts) {
        assert.match(
          l,
          /^\d\d:\d\d:\d\d -- Cannot connect to 127\.0\.0\.1:\d+: connection refused\. Is switchboard-server running\?; retrying in \d+\.\d s \(attempt \d+\)$/,
        );
      }
      await using bob = await connect({ port, nick: "bob" });
      await bob.join("ops");
      const who = await bob.who("ops");
      assert.deepEqual(who.map((w) => w.nick).sort(), ["alice", "bob"]);
      await bob.say("ops", "welcome back");
      await chat.waitFor(/\[ops\] <bob> welcome back$/m, { from });
      const it = bob.messages();
      await chat.write("glad to be back\n");
      for (;;) {
        const m = (await it.next()).value;
        if (m?.type === "msg") {
          assert.equal(m.room, "ops");
          assert.equal(m.from, "alice");
          assert.equal(m.text, "glad to be back");
          break;
        }
      }
      await chat.write("/quit\n");
      assert.equal(await chat.exit(), 0, chat.stderr);
    } finally {
      await server[Symbol.asyncDispose]();
      await Deno.remove(files, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test(
  "after a network drop chat waits for its lingering nick and takes it back",
  opts,
  async () => {
    await using server = await startTestServer();
    await using proxy = startProxy(server.port);
    await using chat = spawnCli([
      "chat",
      "--nick",
      "alice",
      "--room",
      "ops",
      ...addressArgs(proxy.port),
    ]);
    await chat.waitFor(/Connected to 127\.0\.0\.1:\d+ as alice; talking in ops/);
    // The network drops: chat sees its connection close, but to the server alice is still online.
    proxy.connections[0]!.dropClient();
    await chat.waitFor(/-- Disconnected from .*\(connection lost\)\. Reconnecting/);
    await chat.waitFor(/-- Reconnected to 127\.0\.0\.1:\d+ as guest-\d+; rejoined ops/);
    await chat.waitFor(/-- Nick alice is still taken \(the old connection lingers\); retrying/);
    await using bob = await connect({ port: server.port, nick: "bob" });
    const guest = chat.stdout.match(/as (guest-\d+); rejoined/)![1]!;
    assert.deepEqual((await bob.who("ops")).map((w) => w.nick).sort(), ["alice", guest]);
    // The server notices the old connection is gone: the nick is free, and chat takes it back.
    proxy.connections[0]!.close();
    await chat.waitFor(/-- You are alice again/, { timeout: 15_000 });
    await bob.join("ops");
    const who = (await bob.who("ops")).map((w) => w.nick).sort();
    assert.deepEqual(who, ["alice", "bob"]);
    await chat.write("/quit\n");
    assert.equal(await chat.exit(), 0, chat.stderr);
  },
);
