/**
 * Every bad input of the protocol's error section, sent over a real socket: its `ERR` code and
 * text, and whether the connection goes on (well-framed) or ends with `BYE` and a close (framing
 * lost).
 */

import assert from "node:assert/strict";
import { bytes } from "./helpers/bytes.ts";
import { pingPong, RawClient, rawClient } from "./helpers/raw_client.ts";
import { startTestServer } from "./helpers/servers.ts";
import { waitFor } from "./helpers/wait.ts";

/**
 * Asserts framing was lost: the `ERR` came (checked by the caller), then `BYE protocol error`,
 * then the server closed, and nothing sent after the bad frame was run.
 */
async function byeAndClose(c: RawClient): Promise<void> {
  assert.equal(await c.next(), "BYE protocol error");
  assert.equal(await c.event(), null, "the server closes the connection, nothing more is run");
}

// ---------------------------------------------------------------------------------------------
// Well-framed but wrong: ERR, and the connection goes on.

const GOES_ON: [name: string, input: string | Uint8Array, reply: string][] = [
  ["an unknown verb", "FOO bar\r\n", 'ERR 400 Unknown command "FOO": send HELP for the list'],
  [
    "a verb that is not valid UTF-8",
    bytes([0xff, 0xfe], "\r\n"),
    "ERR 400 Cannot read command: it is not valid UTF-8",
  ],
  [
    "an argument that is not valid UTF-8",
    bytes("NICK ", [0xc3, 0x28], "\n"),
    "ERR 400 Cannot read command: it is not valid UTF-8",
  ],
  [
    "an inline payload that is not valid UTF-8",
    bytes("SAY lobby :caf", [0xe9], "\n"),
    "ERR 400 Cannot read command: it is not valid UTF-8",
  ],
  [
    "SAY with no payload",
    "SAY lobby\r\n",
    "ERR 400 Usage: SAY room :text, or SAY room N + N bytes",
  ],
  ["SAY with no room", "SAY :hello\r\n", "ERR 400 Usage: SAY room :text, or SAY room N + N bytes"],
  [
    "TELL with no payload",
    "TELL bob\r\n",
    "ERR 400 Usage: TELL nick :text, or TELL nick N + N bytes",
  ],
  [
    "a nick with a bad character",
    "NICK a.b\r\n",
    'ERR 400 Cannot use nick "a.b": nicks are 1-32 of A-Z a-z 0-9 _ -',
  ],
  [
    "a nick of 33 characters",
    `NICK ${"n".repeat(33)}\r\n`,
    `ERR 400 Cannot use nick "${"n".repeat(33)}": nicks are 1-32 of A-Z a-z 0-9 _ -`,
  ],
  ["NICK with two names", "NICK a b\r\n", "ERR 400 Usage: NICK name"],
  [
    "a room with a bad character",
    "JOIN a/b\r\n",
    'ERR 400 Cannot use room "a/b": names are 1-64 of A-Z a-z 0-9 _ - .',
  ],
  [
    "a room of 65 characters",
    `JOIN ${"r".repeat(65)}\r\n`,
    `ERR 400 Cannot use room "${"r".repeat(65)}": names are 1-64 of A-Z a-z 0-9 _ - .`,
  ],
  ["JOIN with no room", "JOIN\r\n", "ERR 400 Usage: JOIN room"],
  ["LEAVE lobby", "LEAVE lobby\r\n", "ERR 403 Cannot leave lobby: everybody is in it"],
  ["LEAVE LOBBY in capitals", "LEAVE LOBBY\r\n", "ERR 403 Cannot leave lobby: everybody is in it"],
  ["LEAVE of a room not joined", "LEAVE ops\r\n", "ERR 404 Cannot leave ops: not in that room"],
  [
    "SAY to a room that does not exist",
    "SAY nowhere :hi\r\n",
    "ERR 404 Cannot say to nowhere: no such room",
  ],
  ["TELL to a nick nobody has", "TELL ghost :boo\r\n", "ERR 404 Cannot tell ghost: no such nick"],
  ["TELL to an invalid nick", "TELL a.b :boo\r\n", "ERR 404 Cannot tell a.b: no such nick"],
  [
    "WHO of a room that does not exist",
    "WHO nowhere\r\n",
    "ERR 404 Cannot list nowhere: no such room",
  ],
  ["WHO with two rooms", "WHO a b\r\n", "ERR 400 Usage: WHO [room]"],
  ["ROOMS with an argument", "ROOMS x\r\n", "ERR 400 Usage: ROOMS"],
  ["TIME with an argument", "TIME x\r\n", "ERR 400 Usage: TIME"],
  ["PING with an argument", "PING x\r\n", "ERR 400 Usage: PING"],
  [
    "AUTH on a server without accounts",
    "AUTH alice secret\r\n",
    "ERR 400 authentication is not enabled",
  ],
  [
    "a payload-looking number after a verb that carries no payload",
    "NICK bob 5\r\n",
    "ERR 400 Usage: NICK name",
  ],
];

for (const [name, input, reply] of GOES_ON) {
  Deno.test(`${name} answers ${reply.slice(0, 7)} and the connection goes on`, async () => {
    await using server = await startTestServer();
    await using c = await rawClient(server.port);
    await c.send(input);
    assert.equal(await c.next(), reply);
    await pingPong(c);
  });
}

Deno.test("SAY to a room not joined answers ERR 403 and the connection goes on", async () => {
  await using server = await startTestServer();
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using bob = await rawClient(server.port, { nick: "bob" });
  await alice.line("JOIN ops");
  assert.equal(await alice.next(), "OK ops");
  await bob.line("SAY ops :let me in");
  assert.equal(await bob.next(), "ERR 403 Cannot say to ops: JOIN it first");
  await pingPong(bob);
  await pingPong(alice);
});

Deno.test("NICK taken by another client (any case) answers ERR 409 and the connection goes on", async () => {
  await using server = await startTestServer();
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using bob = await rawClient(server.port);
  await bob.line("NICK ALICE");
  assert.equal(await bob.next(), 'ERR 409 Cannot use nick "ALICE": it is in use');
  await pingPong(bob);
  await pingPong(alice);
});

Deno.test("empty lines, CR-only lines and blank lines get no reply", async () => {
  await using server = await startTestServer();
  await using c = await rawClient(server.port);
  await c.send("\n\r\n   \r\n\n");
  await c.line("PING");
  assert.equal(await c.next(), "PONG", "the first reply is the PING's: the empty lines got none");
});

Deno.test("verbs are case-insensitive and a bare LF ends a line as well as CRLF", async () => {
  await using server = await startTestServer();
  await using c = await rawClient(server.port);
  await c.send("ping\nPiNg\r\nnick Mixed\n");
  assert.equal(await c.next(), "PONG");
  assert.equal(await c.next(), "PONG");
  assert.equal(await c.next(), "OK Mixed");
});

Deno.test("several bad commands in a row each get their ERR, in order", async () => {
  await using server = await startTestServer();
  await using c = await rawClient(server.port);
  await c.send("FOO\r\nLEAVE lobby\r\nWHO x\r\nPING\r\n");
  assert.match(await c.next(), /^ERR 400 /);
  assert.match(await c.next(), /^ERR 403 /);
  assert.match(await c.next(), /^ERR 404 /);
  assert.equal(await c.next(), "PONG");
});

// ---------------------------------------------------------------------------------------------
// Framing lost: ERR, BYE, close; nothing after the bad frame runs.

Deno.test("a control line past max_line answers ERR 413, BYE, then closes", async () => {
  await using server = await startTestServer();
  await using c = await rawClient(server.port);
  await c.send(`${"X".repeat(4097)}\r\nPING\r\n`);
  assert.equal(
    await c.next(),
    "ERR 413 Cannot read command: line is longer than max_line (4096 bytes)",
  );
  await byeAndClose(c);
});

Deno.test("a control line past max_line with no LF at all is cut before it is buffered whole", async () => {
  await using server = await startTestServer();
  await using c = await rawClient(server.port);
  // 64 KiB with no line end: the server must not wait for the LF.
  await c.send("X".repeat(64 * 1024));
  assert.equal(
    await c.next(),
    "ERR 413 Cannot read command: line is longer than max_line (4096 bytes)",
  );
  await byeAndClose(c);
});

Deno.test("a control line of exactly max_line bytes (CR not counted) is read", async () => {
  await using server = await startTestServer();
  await using c = await rawClient(server.port);
  await c.send(`${"Y".repeat(4096)}\r\n`);
  assert.equal(
    await c.next(),
    `ERR 400 Unknown command "${"Y".repeat(32)}…": send HELP for the list`,
  );
  await pingPong(c);
});

Deno.test("max_line is the server's option, sent in HELLO", async () => {
  await using server = await startTestServer({ maxLine: 100 });
  const c = await RawClient.connect(server.port);
  try {
    assert.equal((await c.hello()).max_line, 100);
    await c.send(`SAY lobby :${"z".repeat(89)}\r\n`);
    assert.equal(await c.next(), "OK 0 1", "100 bytes fit");
    await c.send(`SAY lobby :${"z".repeat(90)}\r\n`);
    assert.equal(
      await c.next(),
      "ERR 413 Cannot read command: line is longer than max_line (100 bytes)",
    );
    await byeAndClose(c);
  } finally {
    c.close();
  }
});

Deno.test("SAY or TELL with words where :text goes answers ERR 400 with the fix, and the connection goes on", async () => {
  await using server = await startTestServer();
  await using c = await rawClient(server.port);
  await c.send("SAY lobby hello world\r\nTELL bob hi 1.5\r\nSAY lobby 2\r\nok\r\nPING\r\n");
  assert.equal(
    await c.next(),
    "ERR 400 Cannot read SAY: put a colon before the text: SAY lobby :hello world",
  );
  assert.equal(
    await c.next(),
    "ERR 400 Cannot read TELL: put a colon before the text: TELL bob :hi 1.5",
  );
  assert.match(await c.next(), /^OK 0 1$/, "the next SAY is read as it should be");
  assert.equal(await c.next(), "PONG");
});

Deno.test("a byte count that is a number but not a count (+5) answers ERR 400, BYE, then closes", async () => {
  await using server = await startTestServer();
  await using c = await rawClient(server.port);
  await c.send("SAY lobby +5\r\nPING\r\n");
  assert.equal(
    await c.next(),
    'ERR 400 Cannot read SAY: byte count "+5" is not digits only (to type text, write SAY lobby :text)',
  );
  await byeAndClose(c);
});

Deno.test("a negative byte count answers ERR 400, BYE, then closes", async () => {
  await using server = await startTestServer();
  await using c = await rawClient(server.port);
  await c.send("TELL bob -1\r\n");
  assert.match(await c.next(), /^ERR 400 Cannot read TELL: byte count "-1" is not digits only/);
  await byeAndClose(c);
});

Deno.test("a byte count past max_payload answers ERR 413, BYE, then closes", async () => {
  await using server = await startTestServer();
  await using c = await rawClient(server.port);
  await c.send("SAY lobby 1048577\r\n");
  assert.equal(
    await c.next(),
    "ERR 413 Cannot read SAY: payload of 1048577 bytes is over max_payload (1048576 bytes)",
  );
  await byeAndClose(c);
});

Deno.test("a byte count of 30 digits answers ERR 413, BYE, then closes", async () => {
  await using server = await startTestServer();
  await using c = await rawClient(server.port);
  await c.send(`TELL bob ${"9".repeat(30)}\r\n`);
  assert.match(
    await c.next(),
    /^ERR 413 Cannot read TELL: payload of 9{20} bytes is over max_payload/,
  );
  await byeAndClose(c);
});

Deno.test("a payload of exactly max_payload bytes is read, one more is not", async () => {
  await using server = await startTestServer({ maxPayload: 1000 });
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using bob = await rawClient(server.port, { nick: "bob" });
  await alice.send(`SAY lobby 1000\r\n${"p".repeat(1000)}\r\n`);
  assert.equal(await alice.next(), "OK 1 1");
  assert.equal((await bob.frame()).payload!.length, 1000);
  await alice.send("SAY lobby 1001\r\n");
  assert.equal(
    await alice.next(),
    "ERR 413 Cannot read SAY: payload of 1001 bytes is over max_payload (1000 bytes)",
  );
  await byeAndClose(alice);
  await pingPong(bob);
});

Deno.test("a sized payload not followed by LF answers ERR 400, BYE, then closes", async () => {
  await using server = await startTestServer();
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using bob = await rawClient(server.port, { nick: "bob" });
  // The count says 3, four bytes follow: the byte after the payload is "d", not LF.
  await alice.send("SAY lobby 3\r\nabcd\r\nPING\r\n");
  assert.equal(
    await alice.next(),
    "ERR 400 Cannot read payload: its bytes must be followed by LF; check the byte count",
  );
  await byeAndClose(alice);
  // The broken message was never delivered, and bob is unaffected.
  await pingPong(bob);
});

Deno.test("a sized payload followed by CR then something else than LF is refused", async () => {
  await using server = await startTestServer();
  await using c = await rawClient(server.port);
  await c.send("SAY lobby 2\r\nab\rX");
  assert.match(await c.next(), /^ERR 400 Cannot read payload: its bytes must be followed by LF/);
  await byeAndClose(c);
});

Deno.test("a fatal error of one client leaves the others connected", async () => {
  await using server = await startTestServer();
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using bob = await rawClient(server.port, { nick: "bob" });
  // Words where :text goes are answered and the connection goes on ...
  await alice.send("SAY lobby nope\r\n");
  assert.equal(
    await alice.next(),
    "ERR 400 Cannot read SAY: put a colon before the text: SAY lobby :nope",
  );
  await pingPong(alice);
  // ... a number that is not a byte count loses framing.
  await alice.send("SAY lobby -5\r\n");
  assert.equal(
    await alice.next(),
    'ERR 400 Cannot read SAY: byte count "-5" is not digits only (to type text, write SAY lobby :text)',
  );
  await byeAndClose(alice);
  await bob.line("SAY lobby :still here");
  assert.equal(await bob.next(), "OK 0 1", "alice is gone, nobody else to hear");
  await pingPong(bob);
});

// ---------------------------------------------------------------------------------------------
// max_clients

Deno.test("a client past max_clients gets ERR 503 server full then a close, others are unaffected", async () => {
  await using server = await startTestServer({ maxClients: 2 });
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using bob = await rawClient(server.port, { nick: "bob" });
  const extra = await RawClient.connect(server.port);
  try {
    assert.equal(await extra.next(), "ERR 503 server full");
    assert.equal(await extra.closed(), true);
  } finally {
    extra.close();
  }
  await alice.line("SAY lobby :hi");
  assert.equal(await alice.next(), "OK 1 1");
  assert.equal(await bob.next(), "MSG lobby alice id 1 hi");
  // Once someone leaves, a new client gets in.
  await bob.line("QUIT");
  assert.equal(await bob.next(), "OK bye");
  await waitFor(() => server.clients === 1, 5000, "bob to be gone");
  await using carol = await rawClient(server.port, { nick: "carol" });
  await pingPong(carol);
});

Deno.test("an inline payload past max_payload (max_line set above it) answers ERR 413 and the connection goes on", async () => {
  await using server = await startTestServer({ maxLine: 4096, maxPayload: 100 });
  await using c = await rawClient(server.port, { nick: "alice" });
  await using d = await rawClient(server.port, { nick: "dora" });
  await c.line(`SAY lobby :${"x".repeat(101)}`);
  assert.equal(
    await c.next(),
    "ERR 413 Cannot send message: 101 bytes is over max_payload (100 bytes)",
  );
  await c.line(`TELL dora :${"y".repeat(150)}`);
  assert.equal(
    await c.next(),
    "ERR 413 Cannot send message: 150 bytes is over max_payload (100 bytes)",
  );
  await c.line(`SAY lobby :${"z".repeat(100)}`);
  assert.equal(await c.next(), "OK 1 1");
  assert.equal(await d.next(), `MSG lobby alice id 1 ${"z".repeat(100)}`);
  await pingPong(c);
});
