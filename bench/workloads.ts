/**
 * The runs of each workload: a server workload once against one fresh server (its measures from
 * the load client's answer and the server's CPU and memory), and the loops that run each workload
 * `--runs` times, servers interleaved, printing one progress line a run.
 *
 * @module
 */

import { diskRate, type FilesResult, filesRun, prepareFile, rawPipe, sha256Rate } from "./files.ts";
import type { LoadSpec } from "./load.ts";
import type { Options, Workload } from "./options.ts";
import { FLOOR, fmt, NAMES, type Results, unitOf } from "./results.ts";
import { runLoad, runLoadFiles } from "./run_load.ts";
import { type RunningServer, startServer } from "./servers.ts";
import type { Proto } from "./wire.ts";

const PAYLOAD = 128;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the load client against a server; returns its answer and the server's CPU seconds. */
async function loadWithCpu(
  server: RunningServer,
  spec: LoadSpec,
): Promise<{ r: Record<string, unknown>; cpu: number }> {
  const cpu0 = await server.cpu();
  const r = await runLoad(spec, 150_000);
  return { r, cpu: await server.cpu() - cpu0 };
}

/** The measures of a delivery workload: delivered msgs/s, then `between`, then CPU per msg. */
function delivery(
  r: Record<string, unknown>,
  cpu: number,
  between: Record<string, number> = {},
): Record<string, number> {
  return {
    "delivered": r.rate as number,
    ...between,
    "server CPU per msg": (cpu * 1e9) / (r.delivered as number),
  };
}

/** One run of one workload against one server: its measures. */
async function runOne(
  workload: Exclude<Workload, "files" | "burst" | "cluster">,
  proto: Proto,
  opts: Options,
  echoFloor = false,
): Promise<Record<string, number>> {
  const s = opts.scale;
  const server: RunningServer = await startServer(proto, {
    maxClients: s.idleCount + 100,
    profileDir: proto === "switchboard" && !echoFloor ? opts.profileDir : undefined,
    echoFloor,
  });
  try {
    const common = { proto, port: server.port, deadlineMs: 120_000 };
    switch (workload) {
      case "fanout": {
        const { r, cpu } = await loadWithCpu(server, {
          workload,
          ...common,
          messages: s.fanoutMessages,
          subscribers: s.fanoutSubscribers,
          size: PAYLOAD,
          window: s.fanoutWindow,
          batch: s.fanoutBatch,
        });
        return delivery(r, cpu);
      }
      case "chat": {
        const { r, cpu } = await loadWithCpu(server, {
          workload,
          ...common,
          clients: s.chatClients,
          messages: s.chatMessages,
          size: PAYLOAD,
          window: s.chatWindow,
        });
        const lat = r.latency as { p50: number; p99: number };
        return delivery(r, cpu, { "p50 latency": lat.p50, "p99 latency": lat.p99 });
      }
      case "latency": {
        const { r, cpu } = await loadWithCpu(server, {
          workload,
          ...common,
          count: s.latencyCount,
          warmup: 1000,
        });
        const out: Record<string, number> = {};
        for (const op of ["ping", "time"]) {
          const l = r[op] as { p50: number; p99: number; p999: number } | undefined;
          if (l === undefined) continue;
          const name = op.toUpperCase();
          out[`${name} p50`] = l.p50;
          out[`${name} p99`] = l.p99;
          out[`${name} p99.9`] = l.p999;
        }
        const trips = (s.latencyCount + 1000) * Object.keys(r).length;
        out["server CPU per round trip"] = (cpu * 1e9) / trips;
        return out;
      }
      case "idle": {
        await sleep(300);
        const before = await server.rss();
        let after = NaN;
        const r = await runLoad(
          { workload, ...common, count: s.idleCount, concurrency: 50 },
          150_000,
          async () => {
            // Let the server settle (buffers returned, lazy allocations done), then measure.
            await sleep(1500);
            after = await server.rss();
          },
        );
        return {
          "RSS per connection": (after - before) / 1024 / (r.connected as number),
          "connects": r.rate as number,
        };
      }
    }
  } finally {
    await server.stop();
  }
}

/**
 * Runs the files workload `opts.runs` times (Switchboard only): the raw pipe, sha256 and disk
 * references, then PUT and GET, printing a line a run.
 *
 * @param opts The options.
 * @param results Where the numbers go.
 * @param fileDir Where the benchmark file is written.
 */
export async function filesRuns(opts: Options, results: Results, fileDir: string): Promise<void> {
  const file = await prepareFile(fileDir, opts.scale.fileBytes);
  for (let run = 1; run <= opts.runs; run++) {
    try {
      const raw = await rawPipe(file);
      results.add("files", "reference", { "raw TCP pipe": raw });
      const sha = await sha256Rate(opts.scale.fileBytes);
      results.add("files", "reference", { "sha256 (one core)": sha });
      const disk = await diskRate(file, fileDir);
      results.add("files", "reference", { "disk write + fsync": disk });
      const r: FilesResult = await filesRun(file, opts.profileDir, runLoadFiles);
      results.add("files", "switchboard", {
        PUT: r.put,
        "PUT, bytes sent": r.putSent,
        GET: r.get,
        "verified get (client library, to disk)": r.clientGet,
        "verified put (client library)": r.clientPut,
        "PING p50 during a download": r.pingDuring.p50,
        "PING p99 during a download": r.pingDuring.p99,
      });
      results.add("files", "reference", {
        [`${FLOOR} PUT (hash, no disk)`]: r.floorPut,
        [`${FLOOR} GET (from memory)`]: r.floorGet,
      });
      console.log(
        `files    run ${run}/${opts.runs}  raw ${fmt(raw, "")}  sha256 ${fmt(sha, "")}  disk ${
          fmt(disk, "")
        }  ` +
          `PUT ${fmt(r.put, "")} (sent at ${fmt(r.putSent, "")})  GET ${fmt(r.get, "")}  ` +
          `client get ${fmt(r.clientGet, "")}  put ${fmt(r.clientPut, "")} MB/s  ` +
          `PING p99 during a GET ${r.pingDuring.p99.toFixed(2)} ms (${r.pingDuring.count})`,
      );
    } catch (e) {
      results.failures.push(`files run ${run}: ${(e as Error).message}`);
      console.error(`files    run ${run}/${opts.runs}  FAILED: ${(e as Error).message}`);
    }
  }
}

/**
 * Runs a server workload `opts.runs` times against each chosen server, interleaved (the latency
 * workload also against bench/echo_floor.ts), printing a line a run.
 *
 * @param workload Which.
 * @param opts The options.
 * @param results Where the numbers go.
 */
export async function serverRuns(
  workload: Exclude<Workload, "files" | "burst" | "cluster">,
  opts: Options,
  results: Results,
): Promise<void> {
  // The latency workload also runs a bare Deno server (bench/echo_floor.ts): the runtime's floor.
  const entries: { proto: Proto; floor: boolean }[] = opts.servers.map((proto) => ({
    proto,
    floor: false,
  }));
  if (workload === "latency" && opts.servers.includes("switchboard")) {
    entries.push({ proto: "switchboard", floor: true });
  }
  for (let run = 1; run <= opts.runs; run++) {
    for (const { proto, floor } of entries) {
      const t = performance.now();
      const name = floor ? "deno echo" : NAMES[proto];
      try {
        const r = await runOne(workload, proto, opts, floor);
        if (floor) {
          results.add(
            workload,
            "reference",
            Object.fromEntries(Object.entries(r).map(([k, v]) => [`${FLOOR} ${k}`, v])),
          );
        } else results.add(workload, proto, r);
        const shown = Object.entries(r).slice(0, 3).map(([k, v]) =>
          `${k} ${fmt(v, unitOf(k).unit)}`
        ).join(", ");
        console.log(
          `${workload.padEnd(8)} run ${run}/${opts.runs}  ${name.padEnd(12)}  ${shown}  (${
            ((performance.now() - t) / 1000).toFixed(1)
          } s)`,
        );
      } catch (e) {
        results.failures.push(`${workload} run ${run} ${name}: ${(e as Error).message}`);
        console.error(
          `${workload.padEnd(8)} run ${run}/${opts.runs}  ${name.padEnd(12)}  FAILED: ${
            (e as Error).message
          }`,
        );
      }
    }
  }
}
