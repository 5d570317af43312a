/**
 * Flow control (protocol 2 §5): a client that reads is never cut. Real server processes, real
 * sockets: publishers pipeline as fast as TCP takes their bytes, subscribers read as fast as
 * they can, pause, or never read.
 */

import assert from "node:assert/strict";
import { member, publish, receive } from "./helpers/burst.ts";
import { peakRss, startServerProcess } from "./helpers/servers.ts";

const SIZE = 128;

async function burst(
  port: number,
  count: number,
  options: { pauseOne?: number } = {},
) {
  const subs = await Promise.all(Array.from({ length: 10 }, () => member(port, "burst")));
  const pub = await member(port, "burst");
  try {
    const got = subs.map((c, i) =>
      receive(
        c,
        count,
        i === 0 && options.pauseOne ? { pauseAfter: 500, pauseMs: options.pauseOne } : {},
      )
    );
    const sent = await publish(pub, "burst", count, SIZE);
    return { sent, got: await Promise.all(got) };
  } finally {
    for (const c of [...subs, pub]) c.close();
  }
}

function assertEverybodyGotAll(got: Awaited<ReturnType<typeof receive>>[], count: number) {
  for (const [i, g] of got.entries()) {
    assert.equal(g.cut, false, `subscriber ${i} was cut (${g.bye})`);
    assert.equal(g.count, count, `subscriber ${i} got ${g.count} of ${count}`);
    assert.equal(g.outOfOrder, 0, `subscriber ${i}: ids in order, none missing`);
    assert.equal(g.lastId, count, `subscriber ${i}: the last id`);
  }
}

Deno.test("1 publisher pipelining 200,000 messages to 10 subscribers: every subscriber gets every one, in order, nobody is cut", async () => {
  await using server = await startServerProcess();
  const { sent, got } = await burst(server.port, 200_000);
  assert.equal(sent.cut, false);
  assert.equal(sent.acks, 200_000);
  assertEverybodyGotAll(got, 200_000);
});

Deno.test("a subscriber that stops reading for 500 ms is not cut: the publisher is slowed instead, and it gets everything", async () => {
  await using server = await startServerProcess();
  const { sent, got } = await burst(server.port, 200_000, { pauseOne: 500 });
  assert.equal(sent.acks, 200_000);
  assertEverybodyGotAll(got, 200_000);
});

Deno.test("with a small --max-pending (256 KiB) a reading subscriber is still never cut", async () => {
  await using server = await startServerProcess(["--max-pending", "256KiB"]);
  const { sent, got } = await burst(server.port, 100_000, { pauseOne: 100 });
  assert.equal(sent.acks, 100_000);
  assertEverybodyGotAll(got, 100_000);
});

Deno.test("3 publishers in a room of 5 subscribers (all members): nobody is cut, everybody gets the others' messages", async () => {
  await using server = await startServerProcess();
  const port = server.port;
  const subs = await Promise.all(Array.from({ length: 5 }, () => member(port, "burst")));
  const pubs = await Promise.all(Array.from({ length: 3 }, () => member(port, "burst")));
  const each = 70_000;
  try {
    // Publishers are members: each also receives the other two's messages on the same socket it
    // reads its replies from, so it counts MSG frames beside its OKs.
    const got = subs.map((c) => receive(c, 3 * each));
    const sent = await Promise.all(pubs.map((p) => publish(p, "burst", each, SIZE)));
    const cuts = server.log().split("\n").filter((l) => / reason=(?!eof)/.test(l));
    for (const s of sent) {
      assert.deepEqual([s.cut, s.acks], [false, each], `no publisher cut: ${cuts.join("; ")}`);
    }
    for (const [i, g] of (await Promise.all(got)).entries()) {
      assert.equal(g.cut, false, `subscriber ${i} was cut`);
      assert.equal(g.count, 3 * each, `subscriber ${i} got ${g.count}`);
      assert.equal(g.outOfOrder, 0, "one room, one sequence of ids");
    }
  } finally {
    for (const c of [...subs, ...pubs]) c.close();
  }
});

Deno.test("a member that never reads is cut within write_deadline + 1 s; the others keep receiving everything", async () => {
  await using server = await startServerProcess(["--write-deadline", "5s"]);
  const port = server.port;
  const stuck = await member(port, "burst");
  const subs = await Promise.all(Array.from({ length: 3 }, () => member(port, "burst")));
  const pub = await member(port, "burst");
  const count = 150_000; // 20 MB for each member: far past max_pending and the socket buffers
  try {
    const started = performance.now();
    const got = subs.map((c) => receive(c, count));
    const sent = await publish(pub, "burst", count, SIZE);
    assertEverybodyGotAll(await Promise.all(got), count);
    const elapsed = performance.now() - started;
    assert.equal(sent.acks, count);
    // Everything reached the others within the deadline plus a second: the stuck member held
    // the room back by max_stall per read at most, then was cut.
    assert.ok(elapsed < 5000 + 1000, `the others got everything after ${elapsed.toFixed(0)} ms`);
    const seen = await receive(stuck, count, { quietMs: 5000 });
    assert.ok(seen.count < count, "it could not have got everything");
    assert.equal(seen.bye, "BYE slow consumer");
    assert.equal(await stuck.read(new Uint8Array(1)).catch(() => null), null, "then closed");
  } finally {
    for (const c of [stuck, ...subs, pub]) c.close();
  }
});

Deno.test("a 1,000,000-message burst to 10 subscribers: nobody is cut and the server grows by under 128 MiB", async () => {
  await using server = await startServerProcess();
  const base = await server.rss();
  let result: Awaited<ReturnType<typeof burst>> | undefined;
  const peak = await peakRss(server.rss, async () => {
    result = await burst(server.port, 1_000_000);
  });
  assertEverybodyGotAll(result!.got, 1_000_000);
  const growth = peak - base;
  assert.ok(growth < 128 * 1024 * 1024, `grew by ${(growth / 1048576).toFixed(1)} MiB`);
});
