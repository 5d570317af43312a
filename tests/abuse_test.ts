/**
 * Abuse limits from the outside, each tripping and recovering: failed logins per connection and
 * per address, new connections per address, commands per connection, rooms per client, and the
 * login timeout.
 */

import assert from "node:assert/strict";
import { connect } from "../client/client.ts";
import { ServerError } from "../lib/protocol/errors.ts";
import { RawClient, rawClient } from "./helpers/raw_client.ts";
import { startTestServer } from "./helpers/servers.ts";
import { usersFile } from "./helpers/users.ts";
import { sleep } from "./helpers/wait.ts";

Deno.test("after --max-auth-failures failed AUTH on one connection: ERR 401, then BYE too many failed logins", async () => {
  await using users = await usersFile([["erin", "right-password", ["chat"]]]);
  await using server = await startTestServer({ users: users.path });
  await using c = await rawClient(server.port);
  for (let i = 0; i < 3; i++) {
    await c.line(`AUTH erin wrong-${i}`);
    assert.equal(await c.next(), "ERR 401 Cannot log in: wrong user name or password");
  }
  assert.equal(await c.next(), "BYE too many failed logins");
  assert.equal(await c.closed(), true);
  // Others are not affected: the right password still works from a new connection.
  await using ok = await connect({ port: server.port });
  assert.equal(await ok.auth("erin", "right-password"), "erin");
});

Deno.test("more than --auth-failures-per-minute failures from one address: ERR 429 on AUTH and on connect, until --auth-ban passes", async () => {
  await using users = await usersFile([["erin", "right-password", ["chat"]]]);
  await using server = await startTestServer({
    users: users.path,
    maxAuthFailures: 2,
    authFailuresPerMinute: 4,
    authBan: 1000,
  });
  const open: RawClient[] = [];
  try {
    // Four failures are allowed within the minute; the fifth gets the address banned.
    for (let i = 0; i < 5; i++) {
      if (i % 2 === 0) open.push(await rawClient(server.port));
      const c = open[open.length - 1]!;
      await c.line(`AUTH erin wrong-${i}`);
      assert.equal(
        await c.next(),
        "ERR 401 Cannot log in: wrong user name or password",
        `attempt ${i + 1}`,
      );
    }
    // Even the right password is refused now, on a connection that is still open...
    const last = open[open.length - 1]!;
    await last.line("AUTH erin right-password");
    assert.match(
      await last.next(),
      /^ERR 429 Too many failed logins from your address: over --auth-failures-per-minute 4; refused for [01] s more$/,
    );
    // ...and new connections get ERR 429 instead of HELLO.
    await assert.rejects(
      connect({ port: server.port }),
      (e: Error) => e instanceof ServerError && e.code === 429,
    );
    await using refused = await RawClient.connect(server.port);
    assert.match(await refused.next(), /^ERR 429 Too many failed logins from your address/);
    assert.equal(await refused.closed(), true);
  } finally {
    for (const c of open) c.close();
  }
  await sleep(1100);
  await using again = await connect({ port: server.port });
  assert.equal(await again.auth("erin", "right-password"), "erin");
});

Deno.test("--conn-rate: the connection over the rate gets ERR 429 naming it; a second later connections are let in", async () => {
  await using server = await startTestServer({ connRate: 3 });
  const first: RawClient[] = [];
  try {
    for (let i = 0; i < 3; i++) first.push(await rawClient(server.port));
    await using over = await RawClient.connect(server.port);
    assert.equal(
      await over.next(),
      "ERR 429 Too many connections from your address: over --conn-rate 3/s",
    );
    assert.equal(await over.closed(), true);
    // Those already in are not affected.
    await first[0]!.line("PING");
    assert.equal(await first[0]!.next(), "PONG");
  } finally {
    for (const c of first) c.close();
  }
  await sleep(1100);
  await using later = await rawClient(server.port);
  await later.line("PING");
  assert.equal(await later.next(), "PONG");
});

Deno.test("--cmd-rate: commands past the bucket get ERR 429 naming it; PONG and QUIT pass; a pause refills it", async () => {
  await using server = await startTestServer({ cmdRate: 10, cmdBurst: 5 });
  await using c = await rawClient(server.port);
  await using other = await rawClient(server.port);
  // 20 pipelined PINGs in one write: the burst of 5 passes, nearly all the rest are refused.
  await c.send("PING\r\n".repeat(20));
  const replies: string[] = [];
  for (let i = 0; i < 20; i++) replies.push(await c.next());
  assert.deepEqual(replies.slice(0, 5), Array(5).fill("PONG"));
  const refused = replies.filter((r) => r === "ERR 429 Too many commands: over --cmd-rate 10/s");
  assert.ok(refused.length >= 12, `refused ${refused.length} of 20: ${replies.join(", ")}`);
  assert.equal(refused.length + replies.filter((r) => r === "PONG").length, 20);
  // Another connection has its own bucket.
  await other.line("PING");
  assert.equal(await other.next(), "PONG");
  // PONG over the limit gets no reply (it never does), so the next reply is the SAY's.
  await c.send("PONG\r\nSAY lobby :flood\r\n");
  assert.equal(await c.next(), "ERR 429 Too many commands: over --cmd-rate 10/s");
  // A pause refills the bucket.
  await sleep(600);
  await c.line("PING");
  assert.equal(await c.next(), "PONG");
  await c.send("PING\r\n".repeat(10) + "QUIT\r\n");
  const last: string[] = [];
  for (;;) {
    const r = await c.event();
    if (r === null) break;
    if (r.type === "frame") last.push([r.verb, ...r.args].join(" "));
  }
  assert.equal(last[last.length - 1], "OK bye", "QUIT passes even with the bucket empty");
});

Deno.test("--cmd-rate: a PUT past the bucket answers ERR 429 and its bytes are skipped", async () => {
  await using server = await startTestServer({ cmdRate: 1, cmdBurst: 1 });
  await using c = await rawClient(server.port);
  await c.send("PING\r\nPUT flood.txt 5\r\nabcde\r\n");
  assert.equal(await c.next(), "PONG");
  assert.equal(await c.next(), "ERR 429 Too many commands: over --cmd-rate 1/s");
  await sleep(1100);
  await c.line("PING");
  assert.equal(await c.next(), "PONG");
  await assert.rejects(Deno.stat(`${server.files}/flood.txt`), Deno.errors.NotFound);
});

Deno.test("without --cmd-rate, 20000 pipelined commands all pass", async () => {
  await using server = await startTestServer();
  await using c = await rawClient(server.port);
  await c.send("PING\r\n".repeat(20_000));
  for (let i = 0; i < 20_000; i++) assert.equal(await c.next(), "PONG");
});

Deno.test("--max-rooms: JOIN past the limit answers ERR 413 naming it; a joined room still answers OK; LEAVE makes room", async () => {
  await using server = await startTestServer({ maxRooms: 3 });
  await using c = await rawClient(server.port);
  for (const room of ["a", "b"]) {
    await c.line(`JOIN ${room}`);
    assert.equal(await c.next(), `OK ${room}`);
  }
  await c.line("JOIN c");
  assert.equal(
    await c.next(),
    "ERR 413 Cannot join c: over --max-rooms 3 (rooms per client, lobby included)",
  );
  await c.line("JOIN A");
  assert.equal(await c.next(), "OK a", "rejoining a room already joined is fine at the limit");
  await c.line("JOIN lobby");
  assert.equal(await c.next(), "OK lobby");
  await c.line("LEAVE a");
  assert.equal(await c.next(), "OK a");
  await c.line("JOIN c");
  assert.equal(await c.next(), "OK c");
  // The limit is per client: another client joins freely.
  await using d = await RawClient.connect(server.port);
  const dNick = (await d.hello()).nick;
  for (const room of ["b", "x", "y"]) {
    await d.line(`JOIN ${room}`);
    assert.equal(
      await d.next(),
      room === "y"
        ? "ERR 413 Cannot join y: over --max-rooms 3 (rooms per client, lobby included)"
        : `OK ${room}`,
    );
  }
  assert.equal(await c.next(), `JOINED b ${dNick}`);
});

Deno.test("--login-timeout: a connection that does not log in is closed with BYE login timeout, PINGs or not; a logged-in one stays", async () => {
  await using users = await usersFile([["erin", "right-password", ["chat"]]]);
  await using server = await startTestServer({ users: users.path, loginTimeout: 400 });
  await using idle = await rawClient(server.port);
  await using chatty = await rawClient(server.port);
  await using good = await rawClient(server.port);
  await good.line("AUTH erin right-password");
  assert.equal(await good.next(), "OK erin");
  const t0 = Date.now();
  // chatty keeps sending valid commands, but never AUTH.
  for (let i = 0; i < 3; i++) {
    await chatty.line("PING");
    assert.equal(await chatty.next(), "PONG");
    await sleep(100);
  }
  assert.equal(await chatty.next(2000), "BYE login timeout");
  assert.equal(await idle.next(2000), "BYE login timeout");
  assert.ok(Date.now() - t0 >= 350, "not before the timeout");
  assert.equal(await idle.closed(), true);
  await sleep(300);
  await good.line("PING");
  assert.equal(await good.next(), "PONG");
});

Deno.test("--login-timeout does not close anyone on a server without accounts", async () => {
  await using server = await startTestServer({ loginTimeout: 100 });
  await using c = await rawClient(server.port);
  await sleep(400);
  await c.line("PING");
  assert.equal(await c.next(), "PONG");
});
