import assert from "node:assert/strict";
import { ChatHub, type Member } from "./hub.ts";
import { MemoryEngine } from "./memory/engine.ts";
import { hubConformance } from "../../tests/helpers/hub_conformance.ts";
import { DelayedEngine } from "../../tests/helpers/engines.ts";

// One suite of the hub's contract, against every way of building it.
hubConformance("memory engine", (options) => ({ hubs: [new ChatHub(options)] }));

hubConformance("memory engine, two nodes", (options) => {
  const engine = new MemoryEngine();
  return { hubs: [new ChatHub({ ...options, engine }), new ChatHub({ ...options, engine })] };
});

hubConformance("engine answering after random delays", async (options) => {
  const engine = new DelayedEngine({ seed: 7 });
  return { hubs: [await ChatHub.connect(engine, options)], idle: () => engine.idle() };
});

hubConformance("engine answering after random delays, three nodes", async (options) => {
  const engine = new DelayedEngine({ seed: 11 });
  const hubs = [
    await ChatHub.connect(engine, options),
    await ChatHub.connect(engine, options),
    await ChatHub.connect(engine, options),
  ];
  return { hubs, idle: () => engine.idle() };
});

Deno.test("ChatHub over the memory engine answers every call synchronously (no promise on the hot path)", () => {
  const hub = new ChatHub();
  const got: Uint8Array[] = [];
  const member = (id: string): Member => ({ id, since: 0, deliver: (b) => got.push(b) > 0 });
  const a = member("n.1");
  const b = member("n.2");
  for (const r of [hub.attach(a), hub.attach(b), hub.rename(a, "alice"), hub.join(a, "ops")]) {
    assert.ok(!(r instanceof Promise));
  }
  assert.deepEqual(hub.publish(a, "lobby", new Uint8Array([1])), { recipients: 1, id: 1 });
  assert.ok(!(hub.history(a, "lobby", { limit: 1 }) instanceof Promise));
  assert.equal(hub.tell(a, "guest-2", new Uint8Array([1])), true);
  assert.ok(!(hub.who() instanceof Promise) && !(hub.rooms() instanceof Promise));
  assert.ok(!(hub.detach(b) instanceof Promise));
});

Deno.test("ChatHub gives member ids of one node a prefix no other node shares", () => {
  const engine = new MemoryEngine();
  const one = new ChatHub({ engine });
  const two = new ChatHub({ engine });
  assert.notEqual(one.node, two.node);
  assert.notEqual(new ChatHub().node, one.node, "another engine, another node id");
});
