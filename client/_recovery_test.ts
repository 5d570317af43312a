import assert from "node:assert/strict";
import type { RoomMessage } from "./_push.ts";
import { type ReadHistory, recoverRoom, type RoomMark, RoomMarks } from "./_recovery.ts";
import type { HistoryOptions, HistoryPage } from "./types.ts";

function msg(id: number, room = "ops"): RoomMessage {
  return { type: "msg", room, from: "bob", id, payload: new Uint8Array(), text: `m${id}` };
}

/** A room log keeping ids `first..last` of `epoch`, answering at most `maxReply` per page. */
function fakeLog(epoch: string, first: number, last: number, maxReply = 1000) {
  const asked: string[] = [];
  const read: ReadHistory = (_room: string, o: HistoryOptions): Promise<HistoryPage> => {
    asked.push(`${o.limit} after ${o.after}`);
    const limit = Math.min(o.limit ?? 50, maxReply);
    const ids: number[] = [];
    if (first > 0) {
      for (let id = Math.max(first, (o.after ?? 0) + 1); id <= last && ids.length < limit; id++) {
        ids.push(id);
      }
    }
    return Promise.resolve({ room: "ops", epoch, first, last, messages: ids.map((id) => msg(id)) });
  };
  return { read, asked };
}

function mark(epoch: string | null, last: number, own: number[] = []): RoomMark {
  return { epoch, last, own: new Set(own), fromLog: null };
}

Deno.test("recoverRoom() hands out what came after the mark, in order, and moves the mark", async () => {
  const log = fakeLog("e1", 1, 12);
  const m = mark("e1", 9);
  const r = await recoverRoom(log.read, "ops", m, 10_000);
  assert.equal(r.gap, null);
  assert.deepEqual(r.messages.map((x) => x.id), [10, 11, 12]);
  assert.equal(m.last, 12);
  assert.deepEqual(log.asked, ["1000 after 9"]);
});

Deno.test("recoverRoom() pages on while a page stops short of the log's newest id", async () => {
  const log = fakeLog("e1", 1, 2500, 1000);
  const m = mark("e1", 0);
  const r = await recoverRoom(log.read, "ops", m, 10_000);
  assert.equal(r.gap, null);
  assert.equal(r.messages.length, 2500);
  assert.ok(r.messages.every((x, i) => x.id === i + 1));
  assert.deepEqual(log.asked, ["1000 after 0", "1000 after 1000", "1000 after 2000"]);
  // A server whose max_history_reply is below the page size is paged through too.
  const small = fakeLog("e1", 1, 25, 10);
  assert.equal((await recoverRoom(small.read, "ops", mark("e1", 3), 10_000)).messages.length, 22);
});

Deno.test("recoverRoom() reports a gap when the log no longer reaches back to the mark", async () => {
  const m = mark("e1", 4);
  const r = await recoverRoom(fakeLog("e1", 8, 10).read, "ops", m, 10_000);
  assert.deepEqual(r.gap, { expected: 5, first: 8, epochChanged: false });
  assert.deepEqual(r.messages.map((x) => x.id), [8, 9, 10]);
  // first = last_seen + 1 is no gap; an empty log is none either.
  assert.equal((await recoverRoom(fakeLog("e1", 5, 6).read, "ops", mark("e1", 4), 99)).gap, null);
  assert.equal((await recoverRoom(fakeLog("e1", 0, 0).read, "ops", mark("e1", 4), 99)).gap, null);
});

Deno.test("recoverRoom() after the epoch changed hands out the new log whole, as a gap", async () => {
  const log = fakeLog("e2", 1, 3);
  const m = mark("e1", 40, [42]);
  const r = await recoverRoom(log.read, "ops", m, 10_000);
  assert.deepEqual(r.gap, { expected: 41, first: 1, epochChanged: true });
  assert.deepEqual(r.messages.map((x) => x.id), [1, 2, 3]);
  assert.deepEqual(m, { epoch: "e2", last: 3, own: new Set(), fromLog: null });
  assert.deepEqual(log.asked, ["1000 after 40", "1000 after 0"]);
});

Deno.test("recoverRoom() past maxMissed keeps the newest and says the oldest are gone", async () => {
  const log = fakeLog("e1", 1, 100);
  const m = mark("e1", 10);
  const r = await recoverRoom(log.read, "ops", m, 30);
  assert.deepEqual(r.gap, { expected: 11, first: 71, epochChanged: false });
  assert.deepEqual(r.messages.map((x) => x.id), Array.from({ length: 30 }, (_, i) => 71 + i));
  assert.equal(m.last, 100);
});

Deno.test("recoverRoom() skips our own messages, and the mark passes them", async () => {
  const m = mark("e1", 5, [7, 9]);
  const r = await recoverRoom(fakeLog("e1", 1, 10).read, "ops", m, 99);
  assert.deepEqual(r.messages.map((x) => x.id), [6, 8, 10]);
  assert.equal(m.last, 10);
  assert.equal(m.own.size, 0);
});

Deno.test("recoverRoom() leaves the mark alone when the log cannot be read", async () => {
  const m = mark("e1", 5);
  const failing: ReadHistory = () => Promise.reject(new Error("Connection lost"));
  await assert.rejects(recoverRoom(failing, "ops", m, 99), /Connection lost/);
  assert.deepEqual(m, mark("e1", 5));
});

Deno.test("RoomMarks.accept() drops what was seen; after a join, late pushes are new", () => {
  const marks = new RoomMarks();
  assert.ok(marks.accept(msg(3)), "a room not followed passes everything");
  // Joined when the log's newest id was 5; 4 and 5 were shown from the log.
  marks.joined("Ops", { room: "ops", epoch: "e", first: 1, last: 5, messages: [] }, [
    msg(4),
    msg(5),
  ]);
  assert.equal(marks.accept(msg(5)), false, "shown from the log");
  assert.equal(marks.accept(msg(3)), true, "pushed after the JOIN, before the log was read");
  assert.equal(marks.accept(msg(3)), false, "but only once");
  assert.equal(marks.accept(msg(6)), true);
  assert.equal(marks.accept(msg(2)), false, "once past the join, older ids were seen");
  assert.equal(marks.accept(msg(6)), false);
  assert.equal(marks.get("OPS")?.last, 6);
  marks.forget("ops");
  assert.equal(marks.get("ops"), undefined);
});

Deno.test("RoomMarks.sent() counts our ids; a push of another's message before them still passes", () => {
  const marks = new RoomMarks();
  marks.joined("ops", { room: "ops", epoch: "e", first: 0, last: 0, messages: [] }, []);
  marks.sent("ops", 1);
  assert.equal(marks.get("ops")?.last, 1, "right after the mark: the mark moves");
  marks.sent("ops", 3); // 2 is somebody else's, its push still on the way
  assert.equal(marks.get("ops")?.last, 1);
  assert.equal(marks.accept(msg(2)), true);
  assert.equal(marks.get("ops")?.last, 3, "past 2 and our 3");
  assert.equal(marks.accept(msg(3)), false);
});
