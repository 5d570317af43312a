/**
 * Room logs over the wire (protocol 2 §1): ids, `HISTORY`, trimming by size, age and memory.
 */

import assert from "node:assert/strict";
import { encodeFrame } from "../lib/protocol/encoder.ts";
import { rawClient } from "./helpers/raw_client.ts";
import { peakRss, startServerProcess, startTestServer } from "./helpers/servers.ts";
import { sleep } from "./helpers/wait.ts";

const utf8 = new TextEncoder();

/** Reads a HISTORY reply: its head's numbers and its K frames as text. */
async function history(c: Awaited<ReturnType<typeof rawClient>>, command: string) {
  await c.line(command);
  const head = await c.next();
  const m = /^HISTORY (\S+) ([A-Za-z0-9_-]{1,32}) (\d+) (\d+) (\d+)$/.exec(head);
  assert.ok(m, `a HISTORY head: ${head}`);
  const frames: string[] = [];
  for (let i = 0; i < Number(m[5]); i++) frames.push(await c.next());
  return { room: m[1]!, epoch: m[2]!, first: Number(m[3]), last: Number(m[4]), frames };
}

Deno.test("SAY answers OK <recipients> <id>; every member sees MSG room from id N with that id", async () => {
  await using server = await startTestServer();
  await using ann = await rawClient(server.port, { nick: "ann", room: "ops" });
  await using bob = await rawClient(server.port, { nick: "bob", room: "ops" });
  await using cid = await rawClient(server.port, { nick: "cid", room: "ops" });
  await ann.next(); // JOINED ops bob
  await ann.next(); // JOINED ops cid
  await bob.next();
  await ann.send("SAY ops :one\r\nSAY ops :two\r\n");
  assert.equal(await ann.next(), "OK 2 1");
  assert.equal(await ann.next(), "OK 2 2");
  for (const c of [bob, cid]) {
    assert.equal(await c.next(), "MSG ops ann id 1 one");
    assert.equal(await c.next(), "MSG ops ann id 2 two");
  }
  await bob.line("SAY lobby :elsewhere");
  assert.equal(await bob.next(), "OK 2 1", "ids are per room");
});

Deno.test("ids stay contiguous per room under 4 concurrent publishers, and OK ids are the MSG ids", async () => {
  await using server = await startTestServer();
  const pubs = await Promise.all(
    Array.from({ length: 4 }, (_, i) => rawClient(server.port, { nick: `p${i}`, room: "ops" })),
  );
  await using watcher = await rawClient(server.port, { nick: "watcher", room: "ops" });
  const each = 250;
  try {
    const acked = pubs.map(async (p, i) => {
      const batch = Array.from({ length: each }, (_, k) => `SAY ops :p${i}-${k}\r\n`).join("");
      await p.send(batch);
      const ids: number[] = [];
      while (ids.length < each) {
        const f = await p.frame();
        if (f.verb === "OK") ids.push(Number(f.args[1]));
      }
      return ids;
    });
    const seen = new Map<number, string>();
    while (seen.size < 4 * each) {
      const f = await watcher.frame();
      if (f.verb !== "MSG") continue;
      assert.equal(f.args[2], "id");
      const id = Number(f.args[3]);
      assert.equal(id, seen.size + 1, "contiguous, in order");
      seen.set(id, new TextDecoder().decode(f.payload!));
    }
    const okIds = await Promise.all(acked);
    for (const [i, ids] of okIds.entries()) {
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b), "a publisher's ids rise");
      for (const [k, id] of ids.entries()) assert.equal(seen.get(id), `p${i}-${k}`, `id ${id}`);
    }
  } finally {
    for (const p of pubs) p.close();
  }
});

Deno.test("HISTORY: the newest n, the first n after an id, first/last after trimming by size, limits and errors", async () => {
  await using server = await startTestServer({ historySize: 5, maxHistoryReply: 3 });
  await using ann = await rawClient(server.port, { nick: "ann", room: "ops" });
  await using eve = await rawClient(server.port, { nick: "eve" });
  const empty = await history(ann, "HISTORY ops");
  assert.deepEqual([empty.room, empty.first, empty.last, empty.frames.length], ["ops", 0, 0, 0]);
  for (let i = 1; i <= 8; i++) await ann.line(`SAY ops :m${i}`);
  for (let i = 1; i <= 8; i++) assert.equal(await ann.next(), `OK 0 ${i}`);
  const newest = await history(ann, "HISTORY ops 2");
  assert.equal(newest.epoch, empty.epoch);
  assert.deepEqual([newest.first, newest.last], [4, 8], "5 kept: 4..8");
  assert.deepEqual(newest.frames, ["MSG ops ann id 7 m7", "MSG ops ann id 8 m8"]);
  const after = await history(ann, "HISTORY ops 2 after 4");
  assert.deepEqual(after.frames, ["MSG ops ann id 5 m5", "MSG ops ann id 6 m6"]);
  const old = await history(ann, "history OPS after 1");
  assert.deepEqual(old.frames.length, 3, "default 50, at most --max-history-reply 3");
  assert.equal(old.frames[0], "MSG ops ann id 4 m4", "after an id no longer kept: the oldest kept");
  const none = await history(ann, "HISTORY ops 10 after 8");
  assert.deepEqual([none.frames.length, none.last], [0, 8]);
  await eve.line("HISTORY ops");
  assert.equal(await eve.next(), "ERR 403 Cannot read ops: JOIN it first");
  await eve.line("HISTORY nowhere");
  assert.equal(await eve.next(), "ERR 404 Cannot read nowhere: no such room");
  for (
    const bad of [
      "HISTORY",
      "HISTORY ops -1",
      "HISTORY ops x",
      "HISTORY ops 2 before 3",
      "HISTORY ops after",
    ]
  ) {
    await ann.line(bad);
    assert.equal(await ann.next(), "ERR 400 Usage: HISTORY room [n] [after id]", bad);
  }
  await ann.line("HISTORY bad/room");
  assert.match(await ann.next(), /^ERR 400 Cannot use room "bad\/room"/);
});

Deno.test("HISTORY after LEAVE still reads the room; the log outlives its members; a restart is a new epoch", async () => {
  const port = await (async () => {
    await using first = await startTestServer();
    await using ann = await rawClient(first.port, { nick: "ann", room: "ops" });
    await ann.line("SAY ops :kept");
    assert.equal(await ann.next(), "OK 0 1");
    await ann.line("LEAVE ops");
    assert.equal(await ann.next(), "OK ops");
    const h = await history(ann, "HISTORY ops");
    assert.deepEqual(h.frames, ["MSG ops ann id 1 kept"], "joined before on this connection");
    await using bob = await rawClient(first.port, { nick: "bob" });
    await bob.line("HISTORY ops");
    assert.equal(await bob.next(), "ERR 403 Cannot read ops: JOIN it first", "a log, no members");
    await bob.line("JOIN ops");
    assert.equal(await bob.next(), "OK ops");
    const again = await history(bob, "HISTORY ops");
    assert.deepEqual([again.epoch, again.frames.length], [h.epoch, 1], "nobody was in it: kept");
    await bob.line("SAY ops :more");
    assert.equal(await bob.next(), "OK 0 2", "ids go on");
    return { epoch: h.epoch };
  })();
  await using second = await startTestServer();
  await using ann = await rawClient(second.port, { nick: "ann", room: "ops" });
  const fresh = await history(ann, "HISTORY ops");
  assert.notEqual(fresh.epoch, port.epoch, "a new process, a new epoch");
  assert.deepEqual([fresh.first, fresh.last], [0, 0]);
});

Deno.test("HISTORY after --history-ttl: the messages are gone, first = last + 1 says how far ids went", async () => {
  await using server = await startTestServer({ historyTtl: 1000 });
  await using ann = await rawClient(server.port, { nick: "ann", room: "ops" });
  await ann.send("SAY ops :a\r\nSAY ops :b\r\n");
  await ann.next();
  await ann.next();
  assert.equal((await history(ann, "HISTORY ops")).frames.length, 2);
  await sleep(1100);
  const h = await history(ann, "HISTORY ops");
  assert.deepEqual([h.first, h.last, h.frames.length], [3, 2, 0]);
});

Deno.test("a HISTORY reply is its K frames and nothing else, even while live messages flow into the room", async () => {
  await using server = await startTestServer();
  await using talker = await rawClient(server.port, { nick: "talker", room: "ops" });
  await using reader = await rawClient(server.port, { nick: "reader", room: "ops" });
  await talker.next(); // JOINED
  // Big enough to be streamed (over 256 KiB): 300 messages of 2 KiB.
  const body = "y".repeat(2048);
  for (let i = 0; i < 300; i++) await talker.send(encodeFrame("SAY ops", utf8.encode(body)));
  for (let i = 0; i < 300; i++) assert.equal(await talker.next(), `OK 1 ${i + 1}`);
  const live = (async () => {
    for (let i = 0; i < 300; i++) await talker.send(encodeFrame("SAY ops", utf8.encode("live")));
  })();
  await reader.line("HISTORY ops 300 after 0");
  let head = "";
  let liveBefore = 0;
  for (;;) {
    const f = await reader.frame();
    if (f.verb === "HISTORY") {
      head = [f.verb, ...f.args].join(" ");
      break;
    }
    liveBefore++;
  }
  const [, , , first, last, k] = head.split(" ").map((x, i) => i >= 3 ? Number(x) : x);
  assert.equal(k, 300, head);
  let expect = first as number;
  assert.ok((last as number) >= 300);
  for (let i = 0; i < 300; i++) {
    const f = await reader.frame();
    assert.equal(f.verb, "MSG", `frame ${i} of the reply`);
    assert.equal(Number(f.args[3]), expect++, "the reply's ids, in order, nothing in between");
    assert.equal(f.payload!.length, 2048);
  }
  await live;
  assert.ok(liveBefore <= 600);
});

/** Says 1,000 messages of 1 KiB into each of 1,000 rooms; returns the server's RSS growth. */
async function sayEverywhere(args: string[]): Promise<number> {
  await using server = await startServerProcess(["--max-rooms", "0", ...args]);
  await using c = await rawClient(server.port);
  const ROOMS = 1000, EACH = 1000;
  await c.send(Array.from({ length: ROOMS }, (_, r) => `JOIN r${r}\r\n`).join(""));
  for (let r = 0; r < ROOMS; r++) assert.equal(await c.next(), `OK r${r}`);
  const base = await server.rss();
  const payload = new Uint8Array(1024).fill(122);
  const peak = await peakRss(server.rss, async () => {
    const reading = (async () => {
      for (let n = 0; n < ROOMS * EACH; n++) assert.equal((await c.frame(30_000)).verb, "OK");
    })();
    for (let r = 0; r < ROOMS; r++) {
      const one = encodeFrame(`SAY r${r}`, payload);
      const chunk = new Uint8Array(one.length * EACH);
      for (let i = 0; i < EACH; i++) chunk.set(one, i * one.length);
      await c.send(chunk);
    }
    await reading;
  }, 50);
  // The newest messages of the last room are still there.
  await c.line("HISTORY r999 5");
  assert.match(await c.next(), /^HISTORY r999 \S+ \d+ 1000 \d+$/);
  return peak - base;
}

Deno.test("1,000 rooms x 1,000 messages of 1 KiB (1 GB said) with --history-memory 64MiB: the server's RSS stays within the cap plus its base", async () => {
  const MiB = 1024 * 1024;
  // Its base: the same traffic with no history at all. One run of either varies by +-15 MiB (when
  // the allocator returns memory, when the collector runs), so each runs three times, one after
  // the other in turn, and their medians are compared.
  const runs: { without: number[]; with: number[] } = { without: [], with: [] };
  for (let i = 0; i < 3; i++) {
    runs.without.push(await sayEverywhere(["--history-size", "0"]));
    runs.with.push(await sayEverywhere(["--history-memory", "64MiB"]));
  }
  const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[1]!;
  const without = median(runs.without), withLogs = median(runs.with);
  console.log(
    `RSS growth: ${(without / MiB).toFixed(1)} MiB without history, ${
      (withLogs / MiB).toFixed(1)
    } MiB with 64 MiB of logs (medians of ${runs.without.map((b) => (b / MiB).toFixed(0))} and ${
      runs.with.map((b) => (b / MiB).toFixed(0))
    })`,
  );
  // The logs hold at most 64 MiB (server/chat/memory/log_test.ts counts it exactly); what the
  // allocator and the JavaScript heap keep around them is the slack.
  assert.ok(withLogs < without + 64 * MiB + 32 * MiB, `grew by ${(withLogs / MiB).toFixed(1)} MiB`);
});
