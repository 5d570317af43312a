import assert from "node:assert/strict";
import { type Backlog, Congestion, DANGER_STEPS, patience } from "./congestion.ts";

/** A member's queue, drained by hand: `take(n)` is its socket taking `n` bytes. */
class Queue implements Backlog {
  pending: number;
  closed = false;
  progressAt: number;
  #waiters: { below: number; resolve: () => void }[] = [];

  constructor(pending: number, progressAt = Date.now()) {
    this.pending = pending;
    this.progressAt = progressAt;
  }

  take(n: number): void {
    this.pending -= n;
    this.progressAt = Date.now();
    this.#waiters = this.#waiters.filter((w) => {
      if (this.pending > w.below) return true;
      w.resolve();
      return false;
    });
  }

  drain(below: number): Promise<void> {
    if (this.pending <= below) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ below, resolve }));
  }
}

const MARKS = { below: 100, danger: 1000 };
const own = new Queue(0);

Deno.test("patience: a tenth of write_deadline, at most 5 s, at least 4 x max_stall", () => {
  assert.equal(patience({ maxStall: 25, writeDeadline: 10_000 }), 1000, "the defaults");
  assert.equal(patience({ maxStall: 25, writeDeadline: 3_600_000 }), 5000);
  assert.equal(patience({ maxStall: 500, writeDeadline: 10_000 }), 2000);
});

Deno.test("Congestion.wait: a member near its cut whose socket takes bytes less often than each step (but within patience) is waited for until it is out of danger", async () => {
  const maxStall = 25; // steps of 25 ms, then 100 ms; patience 300 ms
  const member = new Queue(2000);
  // Its socket takes 200 bytes every 160 ms (TCP wakes a writer once much of its buffer is free):
  // never within the first step, often not within one step, always within patience. It is out
  // of danger after its fifth take.
  const reader = setInterval(() => member.take(200), 160);
  try {
    assert.equal(await Congestion.wait([member], own, MARKS, maxStall, 300), true);
    assert.ok(member.pending <= MARKS.danger, `waited until out of danger: ${member.pending}`);
  } finally {
    clearInterval(reader);
  }
});

Deno.test("Congestion.wait: a member near its cut whose socket took nothing for longer than patience holds the publisher one max_stall, not until it drains", async () => {
  const maxStall = 20;
  const member = new Queue(5000, Date.now() - 10_000);
  const started = performance.now();
  assert.equal(await Congestion.wait([member], own, MARKS, maxStall, 1000), true);
  assert.equal(member.pending, 5000, "given up on while still in danger");
  // Not waited for in steps of DANGER_STEPS x max_stall while it takes nothing (a loose bound:
  // it returned at all, long before any write deadline).
  assert.ok(performance.now() - started < 2000);
  assert.equal(DANGER_STEPS * maxStall, 80);
});

Deno.test("Congestion.wait: a member between the marks is waited for one max_stall at most; its own queue and a closed one are never waited for", async () => {
  const between = new Queue(500);
  assert.equal(await Congestion.wait([between], own, MARKS, 10), true);
  assert.equal(between.pending, 500);
  const mine = new Queue(5000);
  assert.equal(await Congestion.wait([mine], mine, MARKS, 10), false, "its own queue");
  const gone = new Queue(5000);
  gone.closed = true;
  assert.equal(await Congestion.wait([gone], own, MARKS, 10), false, "a closed one");
  assert.equal(await Congestion.wait([new Queue(50)], own, MARKS, 10), false, "under low water");
  assert.equal(await Congestion.wait([new Queue(5000)], own, MARKS, 0), false, "max_stall 0: off");
});

Deno.test("Congestion.wait: a member that drains below the low-water mark ends the wait at once", async () => {
  const member = new Queue(5000);
  setTimeout(() => member.take(4950), 5);
  const started = performance.now();
  assert.equal(await Congestion.wait([member], own, MARKS, 10_000), true);
  assert.ok(performance.now() - started < 5000, "long before max_stall");
  assert.equal(member.pending, 50);
});
