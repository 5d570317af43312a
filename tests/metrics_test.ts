/** The metrics sink, fed by real sessions over real sockets. */

import assert from "node:assert/strict";
import { rawClient } from "./helpers/raw_client.ts";
import { startTestServer } from "./helpers/servers.ts";
import { waitFor } from "./helpers/wait.ts";

Deno.test("the metrics sink counts connections, commands by verb, messages, bytes and disconnect reasons", async () => {
  await using server = await startTestServer();
  const alice = await rawClient(server.port, { nick: "alice" });
  const bob = await rawClient(server.port, { nick: "bob" });
  const carol = await rawClient(server.port, { nick: "carol" });
  assert.equal(server.metrics().connections, 3);
  await alice.line("SAY lobby :hello");
  assert.equal(await alice.next(), "OK 2 1");
  await alice.line("TELL bob :psst");
  assert.equal(await alice.next(), "OK 1");
  await alice.line("FROB");
  assert.match(await alice.next(), /^ERR 400 Unknown command "FROB"/);
  await alice.line("QUIT");
  assert.equal(await alice.next(), "OK bye");
  bob.close();
  await waitFor(() => server.metrics().connections === 1, 5000, "two clients to be gone");
  const m = server.metrics();
  assert.equal(m.connects, 3);
  assert.deepEqual(m.disconnects, { quit: 1, eof: 1 });
  assert.equal(m.commands.NICK, 3);
  assert.equal(m.commands.SAY, 1);
  assert.equal(m.commands.TELL, 1);
  assert.equal(m.commands.QUIT, 1);
  assert.equal(m.commands.unknown, 1, "an unknown verb is counted as unknown, not by its name");
  assert.equal(m.commands.FROB, undefined);
  assert.equal(m.messagesIn, 1);
  assert.equal(m.messagesDelivered, 3, "two for the room message, one for the DM");
  const sent = "NICK alice\r\nSAY lobby :hello\r\nTELL bob :psst\r\nFROB\r\nQUIT\r\n".length +
    "NICK bob\r\n".length + "NICK carol\r\n".length;
  assert.equal(m.bytesIn, sent);
  assert.ok(m.bytesOut > 0);
  carol.close();
});
