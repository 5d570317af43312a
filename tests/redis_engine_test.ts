/**
 * The hub's contract (tests/helpers/hub_conformance.ts) against the Redis engine: a real
 * `redis-server` with one node and with three, and a real 3-master Redis Cluster with three
 * nodes. Every test gets its own key prefix, so tests share the servers without seeing each
 * other's keys.
 *
 * @module
 */

import { ChatHub } from "../server/chat/hub.ts";
import { RedisEngine, type RedisNode } from "../server/chat/redis/engine.ts";
import { hubConformance, type HubSetup, type SetupOptions } from "./helpers/hub_conformance.ts";
import { HAVE_REDIS, REDIS_SKIP, RedisCluster, RedisProcess } from "./helpers/redis.ts";
import { waitFor } from "./helpers/wait.ts";

const single = HAVE_REDIS ? await RedisProcess.start() : null;
const cluster = HAVE_REDIS ? await RedisCluster.start(3) : null;
globalThis.addEventListener("unload", () => {
  for (const r of [single, ...(cluster?.nodes ?? [])]) {
    if (r !== null && r.pid > 0) Deno.kill(r.pid, "SIGKILL");
  }
});

let run = 0;

/** `n` hubs on one engine each (one process, several nodes), ready. */
async function nodes(
  url: string,
  n: number,
  clustered: boolean,
  options: SetupOptions,
): Promise<HubSetup> {
  const prefix = `t${++run}-${crypto.randomUUID().slice(0, 6)}:`;
  const engines = Array.from(
    { length: n },
    () => new RedisEngine({ url, cluster: clustered, prefix, nodeTimeout: 5000 }),
  );
  const hubs = engines.map((engine) => new ChatHub({ ...options, engine }));
  const raw = () => hubs.map(nodeOf);
  await waitFor(
    () => raw().every((node) => node.unavailable() === null),
    10_000,
    "the nodes to reach Redis",
  );
  return {
    hubs,
    idle: async () => {
      await Promise.all(raw().map((node) => node.barrier()));
      if (clustered) await new Promise((r) => setTimeout(r, 30));
    },
  };
}

/** The engine node under a hub (for readiness and barriers). */
function nodeOf(hub: ChatHub): RedisNode {
  return hub.engineNode as RedisNode;
}

const ignore = !HAVE_REDIS;
hubConformance(`redis${REDIS_SKIP}`, (o) => nodes(single!.url, 1, false, o), {
  ignore,
  sanitize: false,
});
hubConformance(`redis, three nodes${REDIS_SKIP}`, (o) => nodes(single!.url, 3, false, o), {
  ignore,
  sanitize: false,
});
hubConformance(`redis cluster, three nodes${REDIS_SKIP}`, (o) => nodes(cluster!.url, 3, true, o), {
  ignore,
  sanitize: false,
});
