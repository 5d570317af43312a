/**
 * Server processes on a real 3-master Redis Cluster while the cluster changes under them: the
 * slot of a room's keys and channel is migrated to another master (what `redis-cli --cluster
 * reshard` does, one slot) while the room's members on two nodes talk. Sharded pub/sub follows
 * the slot, the room's log moves with it, and ids go on where they were.
 *
 * @module
 */

import assert from "node:assert/strict";
import { HAVE_REDIS, REDIS_SKIP, RedisCluster } from "./helpers/redis.ts";
import { rawClient } from "./helpers/raw_client.ts";
import { startServerProcess } from "./helpers/servers.ts";

async function cli(port: number, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("redis-cli", {
    args: ["-p", String(port), ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success || text.startsWith("ERR")) {
    throw new Error(`redis-cli ${args.join(" ")}: ${text}`);
  }
  return text;
}

/** Which of `ports` serves `slot` now, by its own CLUSTER NODES line. */
async function ownerOf(ports: number[], slot: number): Promise<number> {
  for (let i = 0; i < ports.length; i++) {
    const me = (await cli(ports[i]!, "CLUSTER", "NODES")).split("\n").find((l) =>
      l.includes("myself")
    )!;
    for (const range of me.split(" ").slice(8)) {
      const [lo, hi] = range.split("-").map(Number);
      if (slot >= lo! && slot <= (hi ?? lo!)) return i;
    }
  }
  throw new Error(`no master serves slot ${slot}`);
}

/** Moves `slot` with its keys from master `from` to master `to`, as redis-cli's reshard does. */
async function migrate(ports: number[], slot: number, from: number, to: number): Promise<void> {
  const ids = await Promise.all(ports.map((p) => cli(p, "CLUSTER", "MYID")));
  const s = String(slot);
  await cli(ports[to]!, "CLUSTER", "SETSLOT", s, "IMPORTING", ids[from]!);
  await cli(ports[from]!, "CLUSTER", "SETSLOT", s, "MIGRATING", ids[to]!);
  const keys = (await cli(ports[from]!, "CLUSTER", "GETKEYSINSLOT", s, "1000")).split("\n")
    .filter(Boolean);
  if (keys.length > 0) {
    await cli(
      ports[from]!,
      "MIGRATE",
      "127.0.0.1",
      String(ports[to]),
      "",
      "0",
      "5000",
      "KEYS",
      ...keys,
    );
  }
  for (const p of ports) await cli(p, "CLUSTER", "SETSLOT", s, "NODE", ids[to]!);
}

Deno.test({
  name:
    `redis cluster: a room's slot migrated to another master while two nodes talk in it: messages still arrive, ids go on${REDIS_SKIP}`,
  ignore: !HAVE_REDIS,
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  await using cluster = await RedisCluster.start(3);
  const ports = cluster.nodes.map((n) => n.port);
  await using a = await startServerProcess(["--redis", cluster.url, "--redis-cluster"]);
  await using b = await startServerProcess(["--redis", cluster.url, "--redis-cluster"]);
  await using alice = await rawClient(a.port, { nick: "alice" });
  await using bob = await rawClient(b.port, { nick: "bob" });
  for (const c of [alice, bob]) {
    await c.line("JOIN ops");
    assert.equal(await c.next(), "OK ops");
  }
  assert.equal(await alice.next(), "JOINED ops bob");
  await alice.line("SAY ops :before");
  assert.equal(await alice.next(), "OK 1 1");
  assert.equal(await bob.next(), "MSG ops alice id 1 before");

  const slot = Number(await cli(ports[0]!, "CLUSTER", "KEYSLOT", "sb:{r:ops}"));
  const from = await ownerOf(ports, slot);
  const to = (from + 1) % ports.length;
  await migrate(ports, slot, from, to);
  assert.equal(await ownerOf(ports, slot), to, "the slot moved");
  assert.notEqual(await cli(ports[to]!, "EXISTS", "sb:{r:ops}:log"), "0", "the log moved with it");

  // Both ways, from each node, right after the move: nothing lost, ids where they were.
  await alice.line("SAY ops :after");
  assert.equal(await alice.next(10_000), "OK 1 2");
  assert.equal(await bob.next(10_000), "MSG ops alice id 2 after");
  await bob.line("SAY ops :back");
  assert.equal(await bob.next(10_000), "OK 1 3");
  assert.equal(await alice.next(10_000), "MSG ops bob id 3 back");
  await bob.line("HISTORY ops 10");
  assert.match(await bob.next(), /^HISTORY ops \S+ 1 3 3$/);
});
