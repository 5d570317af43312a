/**
 * Liveness over real sockets with a short `ping_interval`: the server pings silent clients,
 * `PONG` (or any byte) keeps them, two missed pings end in `BYE idle`, and clients that are busy
 * sending or receiving are never idle.
 */

import assert from "node:assert/strict";
import { encodeFrame } from "../lib/protocol/encoder.ts";
import { rawClient } from "./helpers/raw_client.ts";
import { startTestServer } from "./helpers/servers.ts";
import { sleep } from "./helpers/wait.ts";

const INTERVAL = 200;
const MiB = 1024 * 1024;

Deno.test("a silent client gets PING after ping_interval", async () => {
  await using server = await startTestServer({ pingInterval: INTERVAL });
  const t0 = Date.now();
  await using c = await rawClient(server.port);
  assert.equal(await c.next(3000), "PING");
  assert.ok(Date.now() - t0 >= INTERVAL - 20, `PING came after ${Date.now() - t0} ms`);
});

Deno.test("PONG gets no reply", async () => {
  await using server = await startTestServer({ pingInterval: 60_000 });
  await using c = await rawClient(server.port);
  await c.send("PONG\r\npong extra words\r\nPING\r\n");
  assert.equal(await c.next(), "PONG", "the first frame is the reply to PING");
});

Deno.test("a silent client that answers every PING with PONG stays connected", async () => {
  await using server = await startTestServer({ pingInterval: INTERVAL });
  await using c = await rawClient(server.port);
  const t0 = Date.now();
  // Eight pings answered: eight intervals, far past the three that drop a client that does not.
  for (let i = 0; i < 8; i++) {
    assert.equal(await c.next(3000), "PING");
    await c.line("PONG");
  }
  assert.ok(Date.now() - t0 >= 7 * INTERVAL);
  await c.line("TIME");
  let last = await c.next();
  while (last === "PING") {
    await c.line("PONG");
    last = await c.next();
  }
  assert.match(last, /^TIME /, `still connected, got ${last}`);
});

Deno.test("a client that never answers gets PING, PING, then BYE idle and a close", async () => {
  await using server = await startTestServer({ pingInterval: INTERVAL });
  const t0 = Date.now();
  await using silent = await rawClient(server.port);
  await using other = await rawClient(server.port, { nick: "other" });
  // Keep `other` alive meanwhile: it answers its pings.
  let otherAlive = true;
  const keeper = (async () => {
    while (otherAlive) {
      const f = await other.next(5000).catch(() => "");
      if (f === "PING") await other.line("PONG");
    }
  })();
  try {
    assert.equal(await silent.next(3000), "PING");
    assert.equal(await silent.next(3000), "PING");
    assert.equal(await silent.next(3000), "BYE idle");
    assert.equal(await silent.event(3000), null, "closed after BYE");
    const elapsed = Date.now() - t0;
    assert.ok(
      elapsed >= 3 * INTERVAL - 50,
      `dropped after ${elapsed} ms, three intervals at least`,
    );
  } finally {
    otherAlive = false;
    await other.line("PING");
    await keeper;
  }
});

Deno.test("any command counts as a sign of life: a client that keeps talking is never pinged", async () => {
  await using server = await startTestServer({ pingInterval: INTERVAL });
  await using c = await rawClient(server.port);
  const until = Date.now() + 6 * INTERVAL;
  while (Date.now() < until) {
    await c.line("TIME");
    assert.match(await c.next(), /^TIME /, "no PING in between");
    await sleep(INTERVAL / 3);
  }
});

Deno.test("a slow sender trickling a SAY payload byte by byte is not idle", async () => {
  await using server = await startTestServer({ pingInterval: INTERVAL });
  await using sender = await rawClient(server.port, { nick: "sender" });
  await using reader = await rawClient(server.port, { nick: "reader" });
  const readerPongs = (async () => {
    // The reader answers pings until it gets the message.
    for (;;) {
      const f = await reader.next(10_000);
      if (f === "PING") await reader.line("PONG");
      else return f;
    }
  })();
  const payload = "slow but alive";
  await sender.send(`SAY lobby ${payload.length}\r\n`);
  const t0 = Date.now();
  for (const ch of payload) {
    await sleep(INTERVAL * 0.6);
    await sender.send(ch);
  }
  await sender.send("\r\n");
  // 14 bytes 120 ms apart: over 8 intervals, so three intervals of silence would have cut it.
  assert.ok(Date.now() - t0 >= 6 * INTERVAL);
  assert.equal(await sender.next(), "OK 1 1", "answered: never pinged out, never cut");
  assert.equal(await readerPongs, `MSG lobby sender id 1 ${payload}`);
});

Deno.test("a client busy receiving a long backlog is not idle while its PING waits behind it", async () => {
  const interval = 300;
  await using server = await startTestServer({
    pingInterval: interval,
    maxPending: 256 * MiB,
    writeDeadline: 30_000,
  });
  await using sender = await rawClient(server.port, { nick: "sender" });
  await using busy = await rawClient(server.port, { nick: "busy" });
  for (const c of [sender, busy]) {
    await c.line("JOIN feed");
    assert.equal(await c.next(), "OK feed");
  }
  assert.equal(await sender.next(), "JOINED feed busy");
  // 24 MiB queued to `busy`, which does not read for five intervals.
  const COUNT = 24;
  const payload = new Uint8Array(MiB);
  const sending = (async () => {
    for (let i = 0; i < COUNT; i++) {
      await sender.send(encodeFrame("SAY feed", payload));
      for (;;) {
        const f = await sender.next(10_000);
        if (f === "PING") await sender.line("PONG");
        else {
          assert.equal(f, `OK 1 ${i + 1}`);
          break;
        }
      }
    }
  })();
  await sending;
  // The sender keeps talking (it is not under test); `busy` stays silent.
  for (let t = 0; t < 5; t++) {
    await sleep(interval);
    await sender.line("TIME");
    let f = await sender.next();
    while (f === "PING") f = await sender.next();
    assert.match(f, /^TIME /);
  }
  // Now read the backlog; answer the PING when it finally arrives.
  const seen: string[] = [];
  let messages = 0;
  while (messages < COUNT) {
    const f = await busy.frame(10_000);
    if (f.verb === "MSG") {
      assert.deepEqual(f.args, ["feed", "sender", "id", String(++messages)]);
    } else {
      seen.push([f.verb, ...f.args].join(" "));
      if (f.verb === "PING") await busy.line("PONG");
    }
  }
  assert.ok(!seen.some((l) => l.startsWith("BYE")), seen.join(", "));
  await busy.line("TIME");
  let f = await busy.next(5000);
  while (f === "PING") f = await busy.next(5000);
  assert.match(f, /^TIME /, `still connected, got ${f} after ${seen.join(", ")}`);
});
