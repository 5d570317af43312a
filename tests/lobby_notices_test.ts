/**
 * Lobby notices over real sockets: `JOIN lobby` announces a client (`JOINED lobby`, `RENAMED`,
 * `LEFT lobby`) while the lobby has at most `--lobby-notices` members; a one-shot sender that does
 * not announce itself comes and goes unseen.
 */

import assert from "node:assert/strict";
import { pingPong, rawClient } from "./helpers/raw_client.ts";
import { startServerProcess, startTestServer } from "./helpers/servers.ts";

Deno.test("JOIN lobby announces a client to a small lobby: JOINED, RENAMED, LEFT; a quiet one-shot sender is not seen", async () => {
  await using server = await startTestServer({ lobbyNotices: 3 });
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using ops = await rawClient(server.port, { nick: "ops" });
  await ops.line("JOIN ops");
  assert.equal(await ops.next(), "OK ops");
  const bob = await rawClient(server.port, { nick: "bob" });
  await pingPong(alice); // connecting and NICK push nothing
  await bob.line("JOIN lobby");
  assert.equal(await bob.next(), "OK lobby");
  assert.equal(await alice.next(), "JOINED lobby bob");
  assert.equal(await ops.next(), "JOINED lobby bob");
  await bob.line("JOIN LOBBY");
  assert.equal(await bob.next(), "OK lobby", "once per connection");
  await bob.line("NICK robert");
  assert.equal(await bob.next(), "OK robert");
  assert.equal(await alice.next(), "RENAMED bob robert");
  assert.equal(await ops.next(), "RENAMED bob robert");
  await pingPong(bob); // nothing about itself
  // What `switchboard send ops TEXT` does: no announcement, a quiet JOIN, one SAY, gone.
  const once = await rawClient(server.port, { nick: "carol" });
  await once.line("JOIN ops quiet");
  assert.equal(await once.next(), "OK ops");
  await once.line("SAY ops :hi");
  assert.equal(await once.next(), "OK 1 1");
  once.close();
  assert.equal(await ops.next(), "MSG ops carol id 1 hi", "the message, and no JOINED or LEFT");
  await pingPong(alice);
  bob.close();
  assert.equal(await alice.next(), "LEFT lobby robert");
  assert.equal(await ops.next(), "LEFT lobby robert");
  await pingPong(alice);
});

Deno.test("past --lobby-notices members, JOIN lobby and the leave push nothing (no storm)", async () => {
  await using server = await startTestServer({ lobbyNotices: 2 });
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using bob = await rawClient(server.port, { nick: "bob" });
  const carol = await rawClient(server.port, { nick: "carol" });
  await carol.line("JOIN lobby");
  assert.equal(await carol.next(), "OK lobby");
  carol.close();
  await bob.line("JOIN lobby");
  assert.equal(await bob.next(), "OK lobby");
  // Three were in the lobby at carol's JOIN and at her leave (she counts): nothing; two at bob's.
  assert.equal(await alice.next(), "JOINED lobby bob");
  await pingPong(alice);
});

Deno.test("--lobby-notices 0 turns them off; the default (32) is in --help", async () => {
  await using server = await startServerProcess(["--lobby-notices", "0"]);
  await using alice = await rawClient(server.port, { nick: "alice" });
  const bob = await rawClient(server.port, { nick: "bob" });
  await bob.line("JOIN lobby");
  assert.equal(await bob.next(), "OK lobby");
  bob.close();
  await pingPong(alice);
  const help = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../main.ts", import.meta.url).pathname, "server", "--help"],
    stdout: "piped",
  }).output();
  assert.match(new TextDecoder().decode(help.stdout), /--lobby-notices .*\(default: 32;/);
});
