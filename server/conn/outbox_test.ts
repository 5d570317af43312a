import assert from "node:assert/strict";
import { Outbox, type Writer } from "./outbox.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();

function bytes(s: string): Uint8Array {
  return utf8.encode(s);
}

/** Lets queued microtasks and timers run. */
function tick(ms = 0): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A writer that takes at most `perWrite` bytes per call and records every call. */
class FakeWriter implements Writer {
  readonly calls: string[] = [];
  readonly perWrite: number;
  constructor(perWrite = Infinity) {
    this.perWrite = perWrite;
  }
  write(b: Uint8Array): Promise<number> {
    const n = Math.min(b.length, this.perWrite);
    this.calls.push(text.decode(b.subarray(0, n)));
    return Promise.resolve(n);
  }
  get output(): string {
    return this.calls.join("");
  }
}

/** A writer whose writes complete only when the test says so. */
class GatedWriter implements Writer {
  readonly calls: Uint8Array[] = [];
  #open: ((n: number) => void)[] = [];
  write(b: Uint8Array): Promise<number> {
    this.calls.push(b.slice());
    return new Promise((resolve) => this.#open.push(resolve));
  }
  /** Completes the oldest write in flight, taking `n` bytes of it (all by default). */
  complete(n?: number): void {
    const resolve = this.#open.shift();
    if (resolve === undefined) throw new Error("No write in flight");
    resolve(n ?? this.calls.at(-1)!.length);
  }
  get inFlight(): number {
    return this.#open.length;
  }
}

Deno.test("Outbox coalesces frames queued together into one write", async () => {
  const w = new FakeWriter();
  const box = new Outbox(w);
  box.send(bytes("OK a\r\n"));
  box.send(bytes("OK b\r\n"));
  box.send(bytes("OK c\r\n"));
  await box.flushed();
  assert.deepEqual(w.calls, ["OK a\r\nOK b\r\nOK c\r\n"]);
  assert.equal(box.written, 18);
  assert.equal(box.pending, 0);
});

Deno.test("Outbox sends a single frame as it is, without copying", async () => {
  const seen: Uint8Array[] = [];
  const frame = bytes("PONG\r\n");
  const box = new Outbox({
    write: (b) => {
      seen.push(b);
      return Promise.resolve(b.length);
    },
  });
  box.send(frame);
  await box.flushed();
  assert.equal(seen.length, 1);
  assert.equal(seen[0], frame, "the same array, not a copy");
});

Deno.test("Outbox handles partial writes: a writer taking 1 byte at a time gets every byte in order", async () => {
  const w = new FakeWriter(1);
  const box = new Outbox(w);
  const frames = ["MSG lobby a 2\r\nhi\r\n", "OK 1\r\n", "PING\r\n"];
  for (const f of frames) box.send(bytes(f));
  await box.flushed();
  assert.equal(w.output, frames.join(""));
  assert.ok(w.calls.every((c) => c.length === 1));
  assert.equal(box.written, frames.join("").length);
  assert.equal(box.pending, 0);
});

Deno.test("Outbox frames sent while a write is in flight go out together in the next write", async () => {
  const w = new GatedWriter();
  const box = new Outbox(w);
  box.send(bytes("A\r\n"));
  await tick();
  assert.equal(w.inFlight, 1);
  box.send(bytes("B\r\n"));
  box.send(bytes("C\r\n"));
  assert.equal(box.pending, 9);
  w.complete();
  await tick();
  assert.deepEqual(w.calls.map((c) => text.decode(c)), ["A\r\n", "B\r\nC\r\n"]);
  w.complete();
  await box.flushed();
  assert.equal(box.pending, 0);
});

Deno.test("Outbox coalescing stops at maxWrite", async () => {
  const w = new FakeWriter();
  const box = new Outbox(w, { maxWrite: 10 });
  for (let i = 0; i < 6; i++) box.send(bytes("1234\r\n"));
  await box.flushed();
  // Items are whole: a write takes items until it reaches 10 bytes.
  assert.deepEqual(w.calls.map((c) => c.length), [12, 12, 12]);
  assert.equal(w.output, "1234\r\n".repeat(6));
});

Deno.test("Outbox cuts a slow consumer once more than maxPending bytes are queued", () => {
  const w = new GatedWriter(); // never completes: the client does not read
  const cuts: string[] = [];
  const box = new Outbox(w, { maxPending: 100, onCut: (r) => cuts.push(r) });
  const frame = new Uint8Array(30);
  assert.equal(box.send(frame), true);
  assert.equal(box.send(frame), true);
  assert.equal(box.send(frame), true);
  assert.equal(box.pending, 90);
  assert.equal(box.send(frame), false, "the frame that passes max_pending is refused");
  assert.deepEqual(cuts, ["slow consumer"]);
  assert.equal(box.closed, true);
  assert.equal(box.pending, 0, "the queue is dropped");
  assert.equal(box.send(frame), false, "a closed outbox takes nothing");
  assert.deepEqual(cuts, ["slow consumer"], "reported once");
});

Deno.test("Outbox exactly at maxPending is not cut", () => {
  const cuts: string[] = [];
  const box = new Outbox(new GatedWriter(), { maxPending: 64, onCut: (r) => cuts.push(r) });
  assert.equal(box.send(new Uint8Array(64)), true);
  assert.deepEqual(cuts, []);
});

Deno.test("Outbox mark() runs after every byte queued before it, and before those after it", async () => {
  const log: string[] = [];
  const box = new Outbox({
    write: (b) => {
      log.push(`write ${text.decode(b.subarray(0, 1))}`);
      return Promise.resolve(1);
    },
  });
  box.send(bytes("ab"));
  box.mark(() => log.push("mark 1"));
  box.send(bytes("c"));
  box.mark(() => log.push("mark 2"));
  box.mark(() => log.push("mark 3"));
  await box.flushed();
  await tick();
  assert.deepEqual(log, ["write a", "write b", "mark 1", "write c", "mark 2", "mark 3"]);
});

Deno.test("Outbox mark() on an empty outbox runs soon; on a closed one never", async () => {
  const box = new Outbox(new FakeWriter());
  let ran = 0;
  box.mark(() => ran++);
  await tick();
  assert.equal(ran, 1);
  box.close();
  box.mark(() => ran++);
  await tick();
  assert.equal(ran, 1);
});

Deno.test("Outbox holds frames sent during a stream until the stream ends", async () => {
  const w = new FakeWriter();
  const box = new Outbox(w);
  box.send(bytes("FILE a 0 x 6\r\n"));
  box.beginStream();
  box.send(bytes("MSG push\r\n")); // a push arriving mid-download
  box.mark(() => w.calls.push("<mark>"));
  box.sendStream(bytes("abc"));
  await tick();
  box.sendStream(bytes("def"));
  await tick();
  assert.equal(w.output, "FILE a 0 x 6\r\nabcdef", "the push waits behind the stream");
  box.sendStream(bytes("\r\n"));
  box.endStream();
  await box.flushed();
  await tick();
  assert.equal(w.output, "FILE a 0 x 6\r\nabcdef\r\nMSG push\r\n<mark>");
});

Deno.test("Outbox drain() resolves once pending is at or under the mark", async () => {
  const w = new GatedWriter();
  const box = new Outbox(w);
  box.send(new Uint8Array(100));
  await tick();
  box.send(new Uint8Array(50));
  let drained = false;
  const d = box.drain(60).then(() => drained = true);
  await tick();
  assert.equal(drained, false);
  w.complete(); // 100 bytes written: 50 left
  await d;
  assert.equal(drained, true);
  assert.equal(box.pending, 50);
  // Already under the mark: resolves at once.
  await box.drain(50);
  await tick();
  w.complete();
  await box.flushed();
});

Deno.test("Outbox drain() ignores frames held behind a stream", async () => {
  const box = new Outbox(new FakeWriter());
  box.beginStream();
  box.send(new Uint8Array(1000)); // held until endStream()
  await box.drain(0); // would wait forever if held bytes counted
  assert.equal(box.pending, 1000);
  box.endStream();
  await box.flushed();
  assert.equal(box.pending, 0);
});

Deno.test("Outbox close() drops the queue, wakes drain() and reports no cut", async () => {
  const cuts: string[] = [];
  const box = new Outbox(new GatedWriter(), { onCut: (r) => cuts.push(r) });
  box.send(new Uint8Array(10));
  const d = box.drain(0);
  box.close();
  await d;
  assert.equal(box.closed, true);
  assert.equal(box.pending, 0);
  assert.deepEqual(cuts, []);
});

Deno.test("Outbox reports a failed write as a cut", async () => {
  const cuts: string[] = [];
  const box = new Outbox({ write: () => Promise.reject(new Error("broken pipe")) }, {
    onCut: (r) => cuts.push(r),
  });
  box.send(bytes("x"));
  await box.flushed();
  await tick();
  assert.deepEqual(cuts, ["write failed"]);
  assert.equal(box.closed, true);
});

Deno.test("Outbox stalledFor() measures how long the write in flight made no progress", async () => {
  const w = new GatedWriter();
  const box = new Outbox(w);
  assert.equal(box.stalledFor(Date.now() + 5000), 0, "idle: not stalled");
  box.send(bytes("x"));
  await tick();
  const now = Date.now();
  assert.ok(box.stalledFor(now + 1000) >= 1000);
  w.complete();
  await box.flushed();
  await tick();
  assert.equal(box.stalledFor(now + 1000), 0);
});

Deno.test("Outbox finishes the write in flight after a cut, then sends the last word", async () => {
  const w = new GatedWriter();
  let sent: Promise<void> | null = null;
  const cuts: string[] = [];
  const box = new Outbox(w, {
    maxPending: 16,
    onCut: (reason, lastWordSent) => {
      cuts.push(reason);
      sent = lastWordSent;
    },
    lastWord: (reason) => bytes(`BYE ${reason}\r\n`),
  });
  box.send(bytes("MSG a 3\r\nabc\r\n")); // 14 bytes, in flight
  await tick();
  assert.equal(w.inFlight, 1);
  box.send(bytes("MSG b 3\r\nxyz\r\n")); // past 16: cut
  assert.deepEqual(cuts, ["slow consumer"]);
  assert.ok(sent !== null, "a last word is on its way");
  w.complete(5); // a partial write: the rest of the frame must still go out
  await tick();
  assert.equal(text.decode(w.calls.at(-1)!), " 3\r\nabc\r\n");
  w.complete();
  await tick();
  assert.equal(text.decode(w.calls.at(-1)!), "BYE slow consumer\r\n");
  w.complete();
  await sent;
  assert.equal(box.send(bytes("late\r\n")), false);
});

Deno.test("Outbox sends no last word when a cut falls inside a streamed reply", async () => {
  const w = new GatedWriter();
  let sent: Promise<void> | null | undefined;
  const box = new Outbox(w, {
    maxPending: 16,
    onCut: (_reason, lastWordSent) => sent = lastWordSent,
    lastWord: (reason) => bytes(`BYE ${reason}\r\n`),
  });
  box.beginStream();
  box.sendStream(bytes("FILE a 10 x 10\r\n01234"));
  await tick();
  box.send(bytes("MSG held behind the file, past max_pending\r\n"));
  assert.equal(sent, null, "no BYE inside a FILE payload");
  w.complete();
  await tick();
  assert.equal(w.calls.length, 1);
});
