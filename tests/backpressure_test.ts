/**
 * Back-pressure over real sockets: a client that stops reading is cut as a slow consumer (by
 * `max_pending` or by `write_deadline`) without slowing anyone else, the server's memory stays
 * bounded, and a client that pipelines more than it reads is paused, not cut.
 */

import assert from "node:assert/strict";
import { encodeFrame } from "../lib/protocol/encoder.ts";
import { decodeText } from "./helpers/bytes.ts";
import { nextUnskipped, type RawClient, rawClient } from "./helpers/raw_client.ts";
import { captureLog, rssOf, startServerProcess, startTestServer } from "./helpers/servers.ts";
import { sleep, waitFor } from "./helpers/wait.ts";

const MiB = 1024 * 1024;

/** Skips pushes (`JOINED`, `LEFT`) until the next reply, and returns it as text. */
function reply(c: RawClient, timeoutMs = 10_000): Promise<string> {
  return nextUnskipped(c, /^(JOINED|LEFT) /, timeoutMs);
}

/** The nicks in a room, as `WHO room` lists them. */
async function whoIn(c: RawClient, room: string): Promise<string[]> {
  await c.line(`WHO ${room}`);
  let f = await c.frame();
  while (f.verb === "JOINED" || f.verb === "LEFT") f = await c.frame();
  if (f.verb !== "WHO") throw new Error(`Expected WHO, got ${f.verb}`);
  return (JSON.parse(decodeText(f.payload!)) as { nick: string }[]).map((e) => e.nick);
}

/** A message payload of `size` bytes whose first four bytes are `index`. */
function numbered(index: number, size: number): Uint8Array {
  const p = new Uint8Array(size).fill(0x61 + (index % 26));
  new DataView(p.buffer).setUint32(0, index);
  return p;
}

Deno.test({
  name:
    "a client that never reads while 64 MiB go to its room is cut; sender and reader go on; RSS grows < 48 MiB + the 8 MiB log",
  async fn() {
    // Default limits: max_payload 1 MiB, max_pending 8 MiB, write_deadline 10 s. The room's log
    // keeps what it is said (up to --history-memory, 256 MiB by default, asserted in
    // tests/history_test.ts): 8 MiB here, so that this bound is on the queues alone.
    await using server = await startServerProcess(["--history-memory", "8MiB"]);
    await using sender = await rawClient(server.port, { nick: "sender", room: "big" });
    await using reader = await rawClient(server.port, { nick: "reader", room: "big" });
    const stalled = await rawClient(server.port, { nick: "stalled", room: "big" });
    await sender.line("PING");
    assert.equal(await reply(sender), "PONG");
    const baseline = await rssOf(server.pid);
    let peak = baseline;

    const COUNT = 64; // 64 messages of 1 MiB: 64 MiB
    const WINDOW = 4; // the sender stays at most this many messages ahead of the reader
    let received = 0;
    const reading = (async () => {
      while (received < COUNT) {
        const f = await reader.frame(20_000);
        if (f.verb !== "MSG") continue; // JOINED/LEFT pushes
        assert.deepEqual(f.args, ["big", "sender", "id", String(received + 1)]);
        assert.equal(f.payload!.length, MiB);
        assert.equal(new DataView(f.payload!.buffer, f.payload!.byteOffset).getUint32(0), received);
        received++;
      }
    })();
    for (let i = 0; i < COUNT; i++) {
      await waitFor(() => received >= i - WINDOW, 20_000, `reader to get message ${i - WINDOW}`);
      await sender.send(encodeFrame("SAY big", numbered(i, MiB)));
      const ok = await reply(sender, 20_000);
      assert.match(ok, new RegExp(`^OK [12] ${i + 1}$`), `message ${i}`);
      peak = Math.max(peak, await rssOf(server.pid));
    }
    await reading;
    peak = Math.max(peak, await rssOf(server.pid));

    // The stalled client is gone: WHO no longer lists it, and its socket ends.
    await waitFor(
      async () => !(await whoIn(reader, "big")).includes("stalled"),
      10_000,
      "stalled to be cut",
    );
    assert.match(server.log(), /disconnect .*nick=stalled reason="slow consumer"/);
    let got = 0;
    const buf = new Uint8Array(MiB);
    for (;;) {
      const n = await stalled.conn.read(buf).catch(() => null);
      if (n === null) break;
      got += n;
    }
    stalled.close();
    assert.ok(
      got < 32 * MiB,
      `the stalled client got only what was written before the cut (${got} bytes)`,
    );

    // Sender and reader still work.
    await sender.line("SAY big :still here");
    assert.equal(await reply(sender), `OK 1 ${COUNT + 1}`);
    assert.equal(await reader.next(), `MSG big sender id ${COUNT + 1} still here`);
    const growth = peak - baseline;
    console.log(
      `server RSS ${(baseline / MiB).toFixed(1)} MiB before, peak growth ${
        (growth / MiB).toFixed(1)
      } MiB`,
    );
    assert.ok(growth < (48 + 8) * MiB, `server RSS grew by ${(growth / MiB).toFixed(1)} MiB`);
  },
});

Deno.test("with a small max_pending, a member that never reads is cut and the room goes on", async () => {
  await using server = await startTestServer({ maxPending: 256 * 1024 });
  await using sender = await rawClient(server.port, { nick: "sender", room: "room" });
  await using reader = await rawClient(server.port, { nick: "reader", room: "room" });
  const stalled = await rawClient(server.port, { nick: "stalled", room: "room" });
  try {
    const payload = new Uint8Array(64 * 1024);
    let received = 0;
    const reading = (async () => {
      while (received < 200) if ((await reader.frame(10_000)).verb === "MSG") received++;
    })();
    const counts: string[] = [];
    for (let i = 0; i < 200; i++) {
      await sender.send(encodeFrame("SAY room", payload));
      counts.push(await reply(sender));
      await waitFor(() => received >= i - 2, 10_000, "the reader");
    }
    await reading;
    // 200 x 64 KiB = 12.5 MiB: far past what the kernel buffers and 256 KiB hold for the stalled one.
    assert.equal(counts[0], "OK 2 1");
    assert.equal(counts.at(-1), "OK 1 200", "by the end only the reader is left to hear");
    assert.deepEqual(await whoIn(reader, "room"), ["sender", "reader"]);
  } finally {
    stalled.close();
  }
});

Deno.test("write_deadline cuts a client that stops reading even under max_pending", async () => {
  const { log, lines } = captureLog();
  await using server = await startTestServer({ maxPending: 256 * MiB, writeDeadline: 300 }, {
    log,
  });
  await using sender = await rawClient(server.port, { nick: "sender", room: "room" });
  await using reader = await rawClient(server.port, { nick: "reader", room: "room" });
  const stalled = await rawClient(server.port, { nick: "stalled", room: "room" });
  try {
    // 24 MiB: more than loopback socket buffers hold, far less than max_pending.
    const payload = new Uint8Array(MiB);
    let received = 0;
    const reading = (async () => {
      while (received < 24) if ((await reader.frame(10_000)).verb === "MSG") received++;
    })();
    for (let i = 0; i < 24; i++) {
      await sender.send(encodeFrame("SAY room", payload));
      assert.match(await reply(sender), new RegExp(`^OK [12] ${i + 1}$`));
    }
    await reading;
    const cutAt = Date.now();
    await waitFor(
      async () => !(await whoIn(reader, "room")).includes("stalled"),
      10_000,
      "the cut",
    );
    assert.ok(Date.now() - cutAt < 5000);
    assert.ok(
      lines.some((l) => /disconnect .*nick=stalled reason="slow consumer"/.test(l)),
      lines.join("\n"),
    );
    await sender.line("SAY room :after");
    assert.equal(await reply(sender), "OK 1 25");
    assert.equal(await reader.next(), "MSG room sender id 25 after");
  } finally {
    stalled.close();
  }
});

Deno.test("a client that pipelines far more replies than max_pending without reading is paused, not cut", async () => {
  await using server = await startTestServer({ maxPending: 256 * 1024 });
  await using c = await rawClient(server.port, { nick: "greedy" });
  // 5000 HELP commands in one write ask for about 6 MiB of replies, 24 times max_pending.
  await c.send("HELP\r\n".repeat(5000) + "PING\r\n");
  await sleep(300);
  for (let i = 0; i < 5000; i++) {
    const f = await c.frame(10_000);
    assert.equal(f.verb, "HELP", `reply ${i}`);
  }
  assert.equal(await c.next(), "PONG");
});

Deno.test("a slow consumer that reads again in time gets whole frames, then BYE slow consumer", async () => {
  await using server = await startTestServer({ maxPending: 64 * 1024 });
  await using sender = await rawClient(server.port, { nick: "sender", room: "room" });
  await using reader = await rawClient(server.port, { nick: "reader", room: "room" });
  await using slow = await rawClient(server.port, { nick: "slow", room: "room" });
  // `slow` stops reading; 16 KiB messages pile up past the kernel's buffers and max_pending.
  const payload = new Uint8Array(16 * 1024).fill(0x62);
  let sent = 0;
  for (; sent < 4000; sent++) {
    await sender.send(encodeFrame("SAY room", payload));
    const r = await reply(sender);
    if (r === `OK 1 ${sent + 1}`) break;
    assert.equal(r, `OK 2 ${sent + 1}`);
    await reader.frame();
  }
  assert.ok(sent < 4000, "the slow one was cut");
  // It reads again at once: every frame whole (the decoder would fail on a cut one), then BYE.
  let msgs = 0;
  let last = "";
  for (;;) {
    const ev = await slow.event(5000);
    if (ev === null) break;
    assert.equal(ev.type, "frame");
    if (ev.type !== "frame") break;
    if (ev.verb === "MSG") {
      assert.deepEqual(ev.args, ["room", "sender", "id", String(msgs + 1)]);
      assert.equal(ev.payload!.length, payload.length);
      msgs++;
    }
    last = [ev.verb, ...ev.args].join(" ");
  }
  assert.equal(last, "BYE slow consumer");
  assert.ok(msgs > 0 && msgs <= sent, `${msgs} whole messages of ${sent}`);
});
