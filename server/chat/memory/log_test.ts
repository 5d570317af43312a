import assert from "node:assert/strict";
import { MemoryLog } from "./log.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();

function say(log: MemoryLog, room: string, body: string | number): number {
  const payload = typeof body === "number" ? "x".repeat(body) : body;
  const id = log.next(room);
  log.put(room, id, utf8.encode(`MSG ${room} ann id ${id} ${payload.length}\r\n${payload}\r\n`));
  return id;
}

function bodies(log: MemoryLog, room: string, limit = 1000, after?: number): string[] {
  return log.history(room, { limit, after }).frames.map((f) => text.decode(f).split("\r\n")[1]!);
}

Deno.test("MemoryLog gives ids 1, 2, 3 per room and keeps the last `size` messages", () => {
  const log = new MemoryLog({ size: 3 });
  for (let i = 1; i <= 5; i++) assert.equal(say(log, "ops", `m${i}`), i);
  assert.equal(say(log, "dev", "other room"), 1);
  const page = log.history("ops", { limit: 10 });
  assert.deepEqual([page.first, page.last], [3, 5]);
  assert.deepEqual(bodies(log, "ops"), ["m3", "m4", "m5"]);
  assert.deepEqual(bodies(log, "ops", 2), ["m4", "m5"], "the newest n");
  assert.deepEqual(bodies(log, "ops", 1, 3), ["m4"], "the first n after an id");
  assert.deepEqual(bodies(log, "ops", 10, 1), ["m3", "m4", "m5"], "after an id no longer kept");
});

Deno.test("MemoryLog: an empty log says 0 0; one whose messages are all gone says last+1 last", () => {
  let now = 1_000_000;
  const log = new MemoryLog({ ttl: 60_000, now: () => now });
  log.watch(() => true); // the room has members: its log stays
  const fresh = log.history("ops", { limit: 10 });
  assert.deepEqual([fresh.first, fresh.last, fresh.frames.length], [0, 0, 0]);
  say(log, "ops", "a");
  say(log, "ops", "b");
  now += 61_000;
  const later = log.history("ops", { limit: 10 });
  assert.deepEqual([later.first, later.last, later.frames.length], [3, 2, 0], "expired by ttl");
  assert.equal(later.epoch, fresh.epoch);
  const off = new MemoryLog({ size: 0 });
  say(off, "ops", "a");
  const none = off.history("ops", { limit: 10 });
  assert.deepEqual(
    [none.first, none.last, none.frames.length],
    [2, 1, 0],
    "history off: ids go on",
  );
});

Deno.test("MemoryLog forgets the log of a room nobody is in once its messages expire: a new epoch", () => {
  let now = 1_000_000;
  const log = new MemoryLog({ ttl: 5_000, now: () => now });
  let members = true;
  log.watch(() => members);
  say(log, "ops", "a");
  const epoch = log.history("ops", { limit: 1 }).epoch;
  now += 6_000;
  log.history("other", { limit: 1 }); // sweeps (at most once a second; next() every 1024 ids)
  assert.equal(log.history("ops", { limit: 1 }).epoch, epoch, "members: the log stays");
  members = false;
  now += 6_000;
  log.history("other", { limit: 1 });
  const after = log.history("ops", { limit: 1 });
  assert.notEqual(after.epoch, epoch, "a new log, a new epoch");
  assert.deepEqual([after.first, after.last], [0, 0]);
});

Deno.test("MemoryLog keeps its total bytes under the memory bound, trimming the largest logs first", () => {
  const memory = 1024 * 1024;
  const log = new MemoryLog({ memory });
  for (let i = 0; i < 20; i++) say(log, "small", 100);
  for (let i = 0; i < 4000; i++) {
    say(log, "big", 1000);
    assert.ok(log.bytes <= memory, `bytes ${log.bytes} over ${memory}`);
  }
  assert.equal(bodies(log, "small").length, 20, "the small room kept everything");
  const big = log.history("big", { limit: 1000 });
  assert.equal(big.last, 4000);
  assert.ok(big.frames.length > 100 && big.frames.length < 1000, `${big.frames.length} kept`);
  assert.equal(big.first, 4000 - big.frames.length + 1, "the newest, without a gap");
});

Deno.test("MemoryLog keeps large frames whole and frees them as they go", () => {
  const log = new MemoryLog({ size: 2 });
  const ids = [say(log, "ops", 100_000), say(log, "ops", "small"), say(log, "ops", 50_000)];
  assert.deepEqual(ids, [1, 2, 3]);
  const page = log.history("ops", { limit: 10 });
  assert.deepEqual(page.frames.map((f) => f.length), [
    `MSG ops ann id 2 5\r\nsmall\r\n`.length,
    `MSG ops ann id 3 50000\r\n`.length + 50_002,
  ]);
  assert.ok(log.bytes < 100_000, `the 100 kB frame is freed: ${log.bytes}`);
});

Deno.test("MemoryLog stores frames that come out of order (an engine answering late) in id order", () => {
  const log = new MemoryLog();
  const [a, b, c] = [log.next("ops"), log.next("ops"), log.next("ops")];
  const frame = (id: number) => utf8.encode(`MSG ops ann id ${id} 1\r\n${id}\r\n`);
  log.put("ops", c, frame(c));
  log.put("ops", a, frame(a));
  assert.deepEqual(bodies(log, "ops"), ["1"], "3 waits for 2");
  log.put("ops", b, frame(b));
  assert.deepEqual(bodies(log, "ops"), ["1", "2", "3"]);
  log.put("ops", b, frame(b));
  assert.deepEqual(bodies(log, "ops"), ["1", "2", "3"], "a repeat is ignored");
});
