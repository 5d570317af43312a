/**
 * The cluster workload: a publisher on node A, subscribers on node B, for a 2-node Switchboard
 * service (two server processes on one redis-server, `--redis`) and a 2-node nats-server cluster
 * (routes), beside a single Switchboard node of the same shape, in the same run: delivered msgs/s,
 * then the p50/p99 of a message's latency at a moderate rate (bench/load_cluster.ts), and the CPU
 * of every process per delivered message and as a share of one core.
 *
 * @module
 */

import type { LoadSpec } from "./load_spec.ts";
import type { Options } from "./options.ts";
import { fmt, type Results } from "./results.ts";
import { runLoad } from "./run_load.ts";
import { freePort, type RunningServer, startServer } from "./servers.ts";
import type { Proto } from "./wire.ts";

const PAYLOAD = 128;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The processes of one service under test: the publisher's node, the subscribers', any others. */
interface Service {
  a: RunningServer;
  b: RunningServer;
  /** Every process whose CPU counts (a, b, and redis-server for Switchboard), by name. */
  all: Record<string, RunningServer>;
  stop(): Promise<void>;
}

async function stopAll(servers: RunningServer[]): Promise<void> {
  await Promise.all(servers.map((s) => s.stop()));
}

/** `--profile DIR`: each Switchboard process of this workload profiles into `DIR/<name>`. */
async function profileFolder(dir: string | undefined, name: string): Promise<string | undefined> {
  if (dir === undefined) return undefined;
  await Deno.mkdir(`${dir}/${name}`, { recursive: true });
  return `${dir}/${name}`;
}

/** Waits until a nats-server's monitoring endpoint lists at least one route. */
async function waitRoute(monitor: number, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${monitor}/routez`);
      const { num_routes } = await r.json() as { num_routes: number };
      if (num_routes >= 1) return;
    } catch {
      // Not answering yet.
    }
    if (Date.now() > deadline) throw new Error(`${what}: no route within 15 s`);
    await sleep(50);
  }
}

/** Two nats-server processes joined by routes (each names the other's cluster port). */
async function natsCluster(maxClients: number): Promise<Service> {
  const [c1, c2, m1, m2] = [freePort(), freePort(), freePort(), freePort()];
  const node = (own: number, other: number, monitor: number) =>
    startServer("nats", {
      maxClients,
      extraArgs: [
        "-m",
        String(monitor),
        "--cluster_name",
        "bench",
        "--cluster",
        `nats://127.0.0.1:${own}`,
        "--routes",
        `nats://127.0.0.1:${other}`,
      ],
    });
  const a = await node(c1, c2, m1);
  let b: RunningServer | null = null;
  try {
    b = await node(c2, c1, m2);
    await waitRoute(m1, "nats-server A");
    await waitRoute(m2, "nats-server B");
  } catch (e) {
    await stopAll(b ? [a, b] : [a]);
    throw e;
  }
  const all = { "node A": a, "node B": b };
  return { a, b, all, stop: () => stopAll([a, b!]) };
}

/** One redis-server and two Switchboard servers on it (`--redis`): one service. */
async function switchboardCluster(maxClients: number, profileDir?: string): Promise<Service> {
  const redis = await startServer("redis", { maxClients: 1000 });
  const started: RunningServer[] = [redis];
  try {
    const node = async (name: string) =>
      startServer("switchboard", {
        maxClients,
        profileDir: await profileFolder(profileDir, name),
        extraArgs: ["--redis", `redis://127.0.0.1:${redis.port}`],
      });
    const a = await node("cluster-node-a");
    started.push(a);
    const b = await node("cluster-node-b");
    started.push(b);
    const all = { "node A": a, "node B": b, "redis-server": redis };
    return { a, b, all, stop: () => stopAll(started) };
  } catch (e) {
    await stopAll(started);
    throw e;
  }
}

/** One Switchboard server as both A and B. */
async function singleNode(maxClients: number, profileDir?: string): Promise<Service> {
  const a = await startServer("switchboard", {
    maxClients,
    profileDir: await profileFolder(profileDir, "cluster-single-node"),
  });
  return { a, b: a, all: { "node A": a }, stop: () => a.stop() };
}

/** Runs one load spec; returns its answer and each process's CPU seconds during it. */
async function measured(
  service: Service,
  spec: LoadSpec,
): Promise<{ r: Record<string, unknown>; cpu: Record<string, number> }> {
  const names = Object.keys(service.all);
  const before = await Promise.all(names.map((n) => service.all[n]!.cpu()));
  const r = await runLoad(spec, 150_000);
  const after = await Promise.all(names.map((n) => service.all[n]!.cpu()));
  return { r, cpu: Object.fromEntries(names.map((n, i) => [n, after[i]! - before[i]!])) };
}

/** The fan-out then the latency probe against one service; measures prefixed with `label: `. */
async function runService(
  proto: Proto,
  label: "single-node" | "cross-node",
  start: (maxClients: number, profileDir?: string) => Promise<Service>,
  opts: Options,
): Promise<Record<string, number>> {
  const s = opts.scale;
  const service = await start(s.fanoutSubscribers + 100, opts.profileDir);
  try {
    const ports = { proto, port: service.a.port, subPort: service.b.port, deadlineMs: 120_000 };
    const { r, cpu } = await measured(service, {
      workload: "fanout",
      ...ports,
      messages: s.clusterMessages,
      subscribers: s.fanoutSubscribers,
      size: PAYLOAD,
      window: s.fanoutWindow,
      batch: s.fanoutBatch,
    });
    const delivered = r.delivered as number;
    const seconds = r.seconds as number;
    const out: Record<string, number> = { [`${label}: delivered`]: r.rate as number };
    const total = Object.values(cpu).reduce((a, b) => a + b, 0);
    out[`${label}: server CPU per msg`] = (total * 1e9) / delivered;
    for (const [name, c] of Object.entries(cpu)) {
      out[`${label}: CPU of ${name}`] = (100 * c) / seconds;
    }
    out[`${label}: CPU of the load client`] = (100 * (r.clientCpu as number)) / seconds;
    const p = await runLoad({
      workload: "probe",
      ...ports,
      subscribers: s.fanoutSubscribers,
      size: PAYLOAD,
      count: s.clusterProbes,
      warmup: 200,
      intervalMs: 1,
    }, 150_000);
    const lat = p.latency as { p50: number; p99: number };
    out[`${label}: p50 latency`] = lat.p50;
    out[`${label}: p99 latency`] = lat.p99;
    out[`${label}: probe rate`] = p.rate as number;
    return out;
  } finally {
    await service.stop();
  }
}

/**
 * Runs the cluster workload `opts.runs` times, interleaved: Switchboard on one node, Switchboard
 * on two nodes through redis-server, nats-server on two routed nodes; a progress line each.
 *
 * @param opts The options (`--servers` picks switchboard and/or nats).
 * @param results Where the numbers go.
 */
export async function clusterRuns(opts: Options, results: Results): Promise<void> {
  const entries: { proto: Proto; label: "single-node" | "cross-node"; name: string }[] = [];
  if (opts.servers.includes("switchboard")) {
    entries.push({ proto: "switchboard", label: "single-node", name: "switchboard x1" });
    entries.push({ proto: "switchboard", label: "cross-node", name: "switchboard x2" });
  }
  if (opts.servers.includes("nats")) {
    entries.push({ proto: "nats", label: "cross-node", name: "nats-server x2" });
  }
  for (let run = 1; run <= opts.runs; run++) {
    for (const { proto, label, name } of entries) {
      const t = performance.now();
      const start = proto === "nats"
        ? natsCluster
        : label === "single-node"
        ? singleNode
        : switchboardCluster;
      try {
        const r = await runService(proto, label, start, opts);
        results.add("cluster", proto, r);
        const cpus = Object.entries(r).filter(([k]) => k.includes(": CPU of "))
          .map(([k, v]) => `${k.slice(k.indexOf("CPU of ") + 7)} ${v.toFixed(0)}%`).join(" ");
        console.log(
          `cluster  run ${run}/${opts.runs}  ${name.padEnd(14)}  ${
            fmt(r[`${label}: delivered`]!, "")
          } msgs/s, p50 ${fmt(r[`${label}: p50 latency`]!, "ms")}, p99 ${
            fmt(r[`${label}: p99 latency`]!, "ms")
          }, CPU ${cpus}  (${((performance.now() - t) / 1000).toFixed(1)} s)`,
        );
      } catch (e) {
        results.failures.push(`cluster run ${run} ${name}: ${(e as Error).message}`);
        console.error(
          `cluster  run ${run}/${opts.runs}  ${name.padEnd(14)}  FAILED: ${(e as Error).message}`,
        );
      }
    }
  }
}
