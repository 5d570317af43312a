/** Replies that quote client input never carry its control bytes back (issue 16, item 6). */

import assert from "node:assert/strict";
import { RawClient, readLine as readRaw } from "./helpers/raw_client.ts";
import { startTestServer } from "./helpers/servers.ts";

/** One line from the server, without its CRLF. */
async function readLine(conn: Deno.Conn): Promise<string> {
  return (await readRaw(conn)).replace(/\r\n$/, "");
}

Deno.test("ERR replies write the control bytes they quote as \\xNN: a nick, a room, a verb, a byte count", async () => {
  await using server = await startTestServer();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    assert.match(await readLine(conn), /^HELLO /);
    const lines = [
      "NICK \x1b[31mred",
      "JOIN a\x00b",
      "\x1b]0;pwned\x07 x",
      "SAY lobby \x1b[31mred x",
    ];
    await conn.write(new TextEncoder().encode(lines.join("\r\n") + "\r\n"));
    assert.equal(
      await readLine(conn),
      'ERR 400 Cannot use nick "\\x1b[31mred": nicks are 1-32 of A-Z a-z 0-9 _ -',
    );
    assert.equal(
      await readLine(conn),
      'ERR 400 Cannot use room "a\\x00b": names are 1-64 of A-Z a-z 0-9 _ - .',
    );
    const unknown = await readLine(conn);
    assert.match(
      unknown,
      /^ERR 400 Unknown command "\\x1B\]0;PWNED\\x07": send HELP for the list$/i,
    );
    // deno-lint-ignore no-control-regex
    assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(unknown), unknown);
    // The hint of a SAY without a colon quotes the words it read.
    assert.equal(
      await readLine(conn),
      "ERR 400 Cannot read SAY: put a colon before the text: SAY lobby :\\x1b[31mred x",
    );
    // The connection goes on.
    await conn.write(new TextEncoder().encode("PING\r\n"));
    assert.equal(await readLine(conn), "PONG");
  } finally {
    conn.close();
  }
});

Deno.test("a tab in quoted input stays a tab (it moves no cursor), and plain text is untouched", async () => {
  await using server = await startTestServer();
  await using c = await RawClient.connect(server.port);
  await c.hello();
  await c.line("NICK a\tb");
  assert.equal(await c.next(), 'ERR 400 Cannot use nick "a\tb": nicks are 1-32 of A-Z a-z 0-9 _ -');
});
