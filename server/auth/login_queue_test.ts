import assert from "node:assert/strict";
import { LoginQueue, type Release } from "./login_queue.ts";

async function turn(queue: LoginQueue, key: string, gone?: () => boolean): Promise<Release> {
  const t = await queue.enter(key, gone);
  assert.equal(typeof t, "function", `a turn for ${key}, got ${JSON.stringify(t)}`);
  return t as Release;
}

/** Enters and records the order in which turns are handed out. */
function track(queue: LoginQueue, key: string, order: string[], label = key) {
  return queue.enter(key).then((t) => {
    if (typeof t === "string") {
      order.push(`${label}:refused`);
      return null;
    }
    order.push(label);
    return t;
  });
}

Deno.test("enter() gives at most perAddress turns to one address and maxRunning in all", async () => {
  const q = new LoginQueue({ maxRunning: 2, perAddress: 1, queuePerAddress: 4, maxQueued: 8 });
  const a = await turn(q, "a");
  const order: string[] = [];
  const a2 = track(q, "a", order, "a2");
  const b = await turn(q, "b");
  const c = track(q, "c", order);
  await Promise.resolve();
  assert.deepEqual(order, [], "a2 waits for a, c waits for a free turn");
  assert.equal(q.running, 2);
  assert.equal(q.queued, 2);
  a();
  a(); // a second release does nothing
  await Promise.resolve();
  assert.deepEqual(order, ["a2"]);
  b();
  await Promise.resolve();
  assert.deepEqual(order, ["a2", "c"]);
  (await a2)!();
  (await c)!();
  assert.equal(q.running, 0);
  assert.equal(q.queued, 0);
});

Deno.test("enter() takes turns round-robin between addresses, whatever order they queued in", async () => {
  const q = new LoginQueue({ maxRunning: 1, perAddress: 1, queuePerAddress: 8, maxQueued: 16 });
  const first = await turn(q, "flood");
  const order: string[] = [];
  const waits = [];
  // Each turn ends as soon as it is given.
  const release = (t: Release | null) => t?.();
  for (let i = 0; i < 4; i++) waits.push(track(q, "flood", order, `flood${i}`).then(release));
  waits.push(track(q, "alice", order).then(release));
  waits.push(track(q, "bob", order).then(release));
  first();
  await Promise.all(waits);
  assert.deepEqual(order, ["flood0", "alice", "bob", "flood1", "flood2", "flood3"]);
});

Deno.test("enter() refuses at once past queuePerAddress, naming --auth-queue-per-address", async () => {
  const q = new LoginQueue({ maxRunning: 2, perAddress: 1, queuePerAddress: 2, maxQueued: 10 });
  const a = await turn(q, "a");
  const waiting = [q.enter("a"), q.enter("a")];
  assert.equal(
    await q.enter("a"),
    "Too many logins at once from your address: over --auth-queue-per-address 2 waiting; try again in a moment",
  );
  // Another address is not affected.
  (await turn(q, "b"))();
  a();
  for (const w of waiting) {
    const t = await w;
    assert.equal(typeof t, "function");
    (t as Release)();
  }
});

Deno.test("enter() past maxQueued refuses the newest attempt of the longest queue, so a new address still gets in", async () => {
  const q = new LoginQueue({ maxRunning: 1, perAddress: 1, queuePerAddress: 8, maxQueued: 4 });
  const busy = await turn(q, "x");
  const flood = [0, 1, 2, 3].map(() => q.enter("flood"));
  const alice = q.enter("alice");
  const busyText =
    "Too many logins waiting on the server: over --auth-queue 4; try again in a moment";
  assert.equal(await flood[3], busyText, "the flood's newest gives its place to alice");
  assert.equal(q.queued, 4);
  // With one waiting each, nobody is evicted: the newcomer is refused.
  const q2 = new LoginQueue({ maxRunning: 1, perAddress: 1, queuePerAddress: 8, maxQueued: 2 });
  const busy2 = await turn(q2, "x");
  const one = q2.enter("one");
  const two = q2.enter("two");
  assert.equal(await q2.enter("three"), busyText.replace("4", "2"));
  busy2();
  (await one as Release)();
  (await two as Release)();
  busy();
  const next = await flood[0];
  assert.equal(typeof next, "function");
  (next as Release)();
  assert.equal(typeof await alice, "function", "alice comes right after the flood's first");
  (await alice as Release)();
  for (const w of flood.slice(1, 3)) (await w as Release)();
  assert.equal(q.running + q.queued, 0);
});

Deno.test("an attempt whose connection is gone gets no turn and frees its place", async () => {
  const q = new LoginQueue({ maxRunning: 1, perAddress: 1, queuePerAddress: 1, maxQueued: 4 });
  const a = await turn(q, "a");
  let closed = false;
  const dead = q.enter("a", () => closed);
  closed = true;
  // Its place in the queue of "a" is free again for a live attempt.
  const live = q.enter("a");
  assert.equal(await dead, "");
  a();
  const t = await live;
  assert.equal(typeof t, "function");
  (t as Release)();
  assert.equal(q.running + q.queued, 0);
});

Deno.test("LoginQueue refuses bounds that are not whole numbers, or no turns at all", () => {
  assert.throws(() => new LoginQueue({ perAddress: 0 }), RangeError);
  assert.throws(() => new LoginQueue({ maxRunning: 1.5 }), RangeError);
  assert.throws(() => new LoginQueue({ maxQueued: -1 }), /maxQueued must be a whole number/);
});
