/**
 * `deno task bench`: Switchboard side by side with nats-server and redis-server, on loopback, in
 * one run, driven by the same load client (bench/load.ts) speaking each protocol raw. Each
 * workload runs at least 3 times with the servers interleaved (A B C A B C), each run on a fresh
 * server process; the table gives medians with min-max and the ratio ours/peer.
 *
 * Run `deno task bench --help` for the options.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { diskRate, type FilesResult, filesRun, prepareFile, rawPipe, sha256Rate } from "./files.ts";
import {
  drain,
  hardFdLimit,
  hasCommand,
  killAll,
  readProc,
  ROOT,
  type RunningServer,
  spawn,
  startServer,
  versionOf,
} from "./servers.ts";
import { type Spread, spread } from "./stats.ts";
import type { LoadSpec } from "./load.ts";
import { type Proto, PROTOS } from "./wire.ts";

/** The workloads, in run order. */
export const WORKLOADS = ["fanout", "chat", "latency", "idle", "files"] as const;
/** One workload. */
export type Workload = typeof WORKLOADS[number];

/** How big each workload is. */
export interface Scale {
  /** Messages the fan-out publisher sends. */
  fanoutMessages: number;
  /** Subscribers of the fan-out. */
  fanoutSubscribers: number;
  /** Chat clients. */
  chatClients: number;
  /** Messages each chat client sends. */
  chatMessages: number;
  /** Sequential round trips per command. */
  latencyCount: number;
  /** Idle connections. */
  idleCount: number;
  /** Bytes of the file transferred. */
  fileBytes: number;
  /** Most messages the fan-out publisher runs ahead of the slowest subscriber. */
  fanoutWindow: number;
  /** Messages per write of the fan-out publisher. */
  fanoutBatch: number;
  /** Most of its own messages a chat client has not yet seen delivered to everyone. */
  chatWindow: number;
}

const FULL: Scale = {
  fanoutMessages: 1_000_000,
  fanoutSubscribers: 10,
  chatClients: 100,
  chatMessages: 1000,
  latencyCount: 20_000,
  idleCount: 10_000,
  fileBytes: 1024 ** 3,
  fanoutWindow: 8192,
  fanoutBatch: 256,
  chatWindow: 16,
};

const QUICK: Scale = {
  fanoutMessages: 100_000,
  fanoutSubscribers: 10,
  chatClients: 100,
  chatMessages: 100,
  latencyCount: 2000,
  idleCount: 1000,
  fileBytes: 128 * 1024 ** 2,
  fanoutWindow: 8192,
  fanoutBatch: 256,
  chatWindow: 16,
};

const PAYLOAD = 128;
/** Prefix of the measures of bench/echo_floor.ts. */
const FLOOR = "Deno echo floor";
const NAMES: Record<Proto, string> = {
  switchboard: "switchboard",
  nats: "nats-server",
  redis: "redis-server",
};

const HELP = `deno task bench [options]: Switchboard against nats-server and redis-server

Workloads (all by default; pick with --only):
  fanout   1 publisher, 10 subscribers of one room/subject/channel, 128 B payloads,
           1,000,000 messages: delivered msgs/s
  chat     100 clients all in lobby (subscribed to one subject), each sending 1,000
           messages: delivered msgs/s, p50/p99 delivery latency
  latency  20,000 sequential PING (and TIME) round trips: p50, p99, p99.9
  idle     10,000 idle clients: server RSS growth per connection, connects/s
  files    GET and PUT of 1 GiB (Switchboard only), beside the raw TCP ceiling (socat or nc
           pipe of the same bytes), the sha256 rate of one core and the disk's write+fsync rate

Options:
  --only LIST      comma-separated workloads (fanout,chat,latency,idle,files)
  --servers LIST   comma-separated servers (switchboard,nats,redis); default all three
  --runs N         runs per workload and server, interleaved (default 3)
  --quick          a smaller run (1/10 of the messages, 1,000 idle clients, 128 MiB file)
  --scale F        multiply every count by F (after --quick)
  --json FILE      write every number to FILE
  --markdown FILE  write the result table (as in bench/RESULTS.md) to FILE
  --profile DIR    run the Switchboard server with --cpu-prof, profiles into DIR
  --window F,B,C   flow control of the load clients (default 8192,256,16): the fan-out
                   publisher runs at most F messages ahead of the slowest subscriber, writing
                   B per write; each chat client has at most C messages not yet delivered
  --help           this text

Needs nats-server, redis-server and socat (or nc) on PATH: bench/setup.sh installs them
(Debian: apt-get install nats-server redis-server socat netcat-openbsd).
Only loopback is used; every run is bounded in count and time; servers are stopped on exit.`;

/** One measured quantity, per server, one number per run. */
interface Measure {
  workload: Workload;
  measure: string;
  unit: string;
  better: "higher" | "lower";
  values: Partial<Record<Proto | "reference", number[]>>;
}

/** A goal of issue 6, checked on medians. */
interface Goal {
  workload: Workload;
  text: string;
  /** The ratio that must reach `target` (or stay under it, for `at most`). */
  evaluate(m: (workload: Workload, measure: string, who: Proto | "reference") => number): {
    ratio: number;
    target: number;
    atMost: boolean;
  };
}

const GOALS: Goal[] = [
  {
    workload: "fanout",
    text: "fan-out delivered msgs/s >= 1.5x the better peer",
    evaluate: (m) => ({
      ratio: m("fanout", "delivered", "switchboard") /
        Math.max(m("fanout", "delivered", "nats"), m("fanout", "delivered", "redis")),
      target: 1.5,
      atMost: false,
    }),
  },
  {
    workload: "chat",
    text: "chat delivered msgs/s >= 1.0x the better peer",
    evaluate: (m) => ({
      ratio: m("chat", "delivered", "switchboard") /
        Math.max(m("chat", "delivered", "nats"), m("chat", "delivered", "redis")),
      target: 1,
      atMost: false,
    }),
  },
  {
    workload: "chat",
    text: "chat p99 delivery latency <= the better peer's",
    evaluate: (m) => ({
      ratio: m("chat", "p99 latency", "switchboard") /
        Math.min(m("chat", "p99 latency", "nats"), m("chat", "p99 latency", "redis")),
      target: 1,
      atMost: true,
    }),
  },
  ...(["TIME", "PING"] as const).flatMap((op): Goal[] => [
    {
      workload: "latency",
      text: `${op} p50 <= 1.1x redis-server PING p50`,
      evaluate: (m) => ({
        ratio: m("latency", `${op} p50`, "switchboard") / m("latency", "PING p50", "redis"),
        target: 1.1,
        atMost: true,
      }),
    },
    {
      workload: "latency",
      text: `${op} p99 <= 1.5x redis-server PING p99`,
      evaluate: (m) => ({
        ratio: m("latency", `${op} p99`, "switchboard") / m("latency", "PING p99", "redis"),
        target: 1.5,
        atMost: true,
      }),
    },
  ]),
  {
    workload: "idle",
    text: "RSS per idle connection <= nats-server's",
    evaluate: (m) => ({
      ratio: m("idle", "RSS per connection", "switchboard") /
        m("idle", "RSS per connection", "nats"),
      target: 1,
      atMost: true,
    }),
  },
  {
    workload: "idle",
    text: "RSS per idle connection <= 1.5x redis-server's",
    evaluate: (m) => ({
      ratio: m("idle", "RSS per connection", "switchboard") /
        m("idle", "RSS per connection", "redis"),
      target: 1.5,
      atMost: true,
    }),
  },
  {
    workload: "idle",
    text: "connects/s >= nats-server's",
    evaluate: (m) => ({
      ratio: m("idle", "connects", "switchboard") / m("idle", "connects", "nats"),
      target: 1,
      atMost: false,
    }),
  },
  {
    workload: "files",
    text: "GET MB/s >= 80% of the raw TCP pipe",
    evaluate: (m) => ({
      ratio: m("files", "GET", "switchboard") / m("files", "raw TCP pipe", "reference"),
      target: 0.8,
      atMost: false,
    }),
  },
  {
    workload: "files",
    text: "PUT MB/s >= 80% of min(raw TCP pipe, sha256 of one core)",
    evaluate: (m) => ({
      ratio: m("files", "PUT", "switchboard") /
        Math.min(
          m("files", "raw TCP pipe", "reference"),
          m("files", "sha256 (one core)", "reference"),
        ),
      target: 0.8,
      atMost: false,
    }),
  },
  {
    workload: "files",
    text: "(beside the goal) PUT MB/s vs min(raw TCP pipe, sha256, disk write + fsync)",
    evaluate: (m) => ({
      ratio: m("files", "PUT", "switchboard") /
        Math.min(
          m("files", "raw TCP pipe", "reference"),
          m("files", "sha256 (one core)", "reference"),
          m("files", "disk write + fsync", "reference"),
        ),
      target: 0.8,
      atMost: false,
    }),
  },
];

interface Options {
  workloads: Workload[];
  servers: Proto[];
  runs: number;
  scale: Scale;
  quick: boolean;
  json?: string;
  markdown?: string;
  profileDir?: string;
}

function parseOptions(args: string[]): Options | null {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: "string" },
      servers: { type: "string" },
      runs: { type: "string", default: "3" },
      quick: { type: "boolean", default: false },
      scale: { type: "string" },
      json: { type: "string" },
      markdown: { type: "string" },
      profile: { type: "string" },
      window: { type: "string" },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) return null;
  const list = <T extends string>(
    text: string | undefined,
    all: readonly T[],
    what: string,
  ): T[] => {
    if (text === undefined) return [...all];
    const picked = text.split(",").map((s) => s.trim()).filter((s) => s !== "");
    for (const p of picked) {
      if (!all.includes(p as T)) {
        throw new Error(`Cannot pick ${what} "${p}": choose from ${all.join(", ")}`);
      }
    }
    return all.filter((a) => picked.includes(a));
  };
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) {
    throw new Error(`Cannot use --runs ${values.runs}: give a whole number from 1 to 50`);
  }
  const base = { ...(values.quick ? QUICK : FULL) };
  if (values.scale !== undefined) {
    const f = Number(values.scale);
    if (!(f > 0 && f <= 10)) {
      throw new Error(`Cannot use --scale ${values.scale}: give a number in (0, 10]`);
    }
    base.fanoutMessages = Math.max(1000, Math.round(base.fanoutMessages * f));
    base.chatMessages = Math.max(10, Math.round(base.chatMessages * f));
    base.latencyCount = Math.max(100, Math.round(base.latencyCount * f));
    base.idleCount = Math.max(10, Math.round(base.idleCount * f));
    base.fileBytes = Math.max(1024 * 1024, Math.round(base.fileBytes * f));
  }
  if (values.window !== undefined) {
    const [fan, batch, chat] = values.window.split(",").map(Number);
    if (![fan, batch, chat].every((n) => Number.isInteger(n) && n! > 0) || batch! > fan!) {
      throw new Error(
        `Cannot use --window ${values.window}: give FANOUT,BATCH,CHAT whole numbers, BATCH <= FANOUT`,
      );
    }
    base.fanoutWindow = fan!;
    base.fanoutBatch = batch!;
    base.chatWindow = chat!;
  }
  return {
    workloads: list(values.only, WORKLOADS, "workload"),
    servers: list(values.servers, PROTOS, "server"),
    runs,
    scale: base,
    quick: values.quick!,
    json: values.json,
    markdown: values.markdown,
    profileDir: values.profile,
  };
}

/** Checks the tools each chosen workload needs; returns what is missing, explained. */
async function checkTools(opts: Options): Promise<string[]> {
  const problems: string[] = [];
  const needsPeers = opts.workloads.some((w) => w !== "files");
  if (needsPeers && opts.servers.includes("nats") && !await hasCommand("nats-server")) {
    problems.push("nats-server is not on PATH (Debian package nats-server)");
  }
  if (needsPeers && opts.servers.includes("redis") && !await hasCommand("redis-server")) {
    problems.push("redis-server is not on PATH (Debian package redis-server)");
  }
  if (opts.workloads.includes("files") && !await hasCommand("socat") && !await hasCommand("nc")) {
    problems.push("neither socat nor nc is on PATH (Debian packages socat, netcat-openbsd)");
  }
  if (opts.workloads.includes("idle")) {
    const limit = await hardFdLimit();
    const need = opts.scale.idleCount + 256;
    if (limit < need) {
      problems.push(
        `the open-files limit is ${limit}, and ${opts.scale.idleCount} idle clients need ${need} in the ` +
          `server and in the load client: raise it (ulimit -Hn, /etc/security/limits.conf) or run with --scale`,
      );
    }
  }
  return problems;
}

/** Runs bench/load.ts with a spec; returns its result. `onReady` sees the idle workload's READY. */
async function runLoad(
  spec: LoadSpec,
  timeoutMs: number,
  onReady?: (ready: Record<string, number>) => Promise<void>,
): Promise<Record<string, unknown>> {
  const child = spawn([
    Deno.execPath(),
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    `${ROOT}bench/load.ts`,
    JSON.stringify(spec),
  ], { stdin: "piped" });
  const err = drain(child.stderr);
  const stdin = child.stdin.getWriter();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited.
    }
  }, timeoutMs);
  let result: Record<string, unknown> | null = null;
  let failure = "";
  try {
    let buffered = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.startsWith("READY ")) {
          await onReady?.(JSON.parse(line.slice(6)));
          await stdin.write(new TextEncoder().encode("go\n")).catch(() => {});
        } else if (line.startsWith("RESULT ")) result = JSON.parse(line.slice(7));
        else if (line.startsWith("FAILED ")) failure = JSON.parse(line.slice(7));
      }
    }
  } finally {
    clearTimeout(timer);
    await stdin.close().catch(() => {});
    await child.status;
    await err.done;
  }
  if (result !== null) return result;
  if (timedOut) throw new Error(`load client did not finish within ${timeoutMs / 1000} s`);
  throw new Error(
    failure || `load client failed: ${err.text().trim().split("\n").slice(-3).join(" / ")}`,
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One run of one workload against one server: its measures. */
async function runOne(
  workload: Exclude<Workload, "files">,
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
    const port = server.port;
    switch (workload) {
      case "fanout": {
        const cpu0 = await server.cpu();
        const r = await runLoad({
          workload,
          proto,
          port,
          messages: s.fanoutMessages,
          subscribers: s.fanoutSubscribers,
          size: PAYLOAD,
          window: s.fanoutWindow,
          batch: s.fanoutBatch,
          deadlineMs: 120_000,
        }, 150_000);
        const cpu = await server.cpu() - cpu0;
        return {
          "delivered": r.rate as number,
          "server CPU per msg": (cpu * 1e9) / (r.delivered as number),
        };
      }
      case "chat": {
        const cpu0 = await server.cpu();
        const r = await runLoad({
          workload,
          proto,
          port,
          clients: s.chatClients,
          messages: s.chatMessages,
          size: PAYLOAD,
          window: s.chatWindow,
          deadlineMs: 120_000,
        }, 150_000);
        const lat = r.latency as { p50: number; p99: number };
        const cpu = await server.cpu() - cpu0;
        return {
          "delivered": r.rate as number,
          "p50 latency": lat.p50,
          "p99 latency": lat.p99,
          "server CPU per msg": (cpu * 1e9) / (r.delivered as number),
        };
      }
      case "latency": {
        const cpu0 = await server.cpu();
        const r = await runLoad({
          workload,
          proto,
          port,
          count: s.latencyCount,
          warmup: 1000,
          deadlineMs: 120_000,
        }, 150_000);
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
        out["server CPU per round trip"] = ((await server.cpu() - cpu0) * 1e9) / trips;
        return out;
      }
      case "idle": {
        await sleep(300);
        const before = await server.rss();
        let after = NaN;
        const r = await runLoad(
          { workload, proto, port, count: s.idleCount, concurrency: 50, deadlineMs: 120_000 },
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

const UNITS: Record<string, { unit: string; better: "higher" | "lower" }> = {
  "p50 latency": { unit: "ms", better: "lower" },
  "p99 latency": { unit: "ms", better: "lower" },
  "RSS per connection": { unit: "KiB", better: "lower" },
  "connects": { unit: "conn/s", better: "higher" },
  "server CPU per msg": { unit: "ns", better: "lower" },
  "server CPU per round trip": { unit: "ns", better: "lower" },
  "delivered": { unit: "msgs/s", better: "higher" },
  "GET": { unit: "MB/s", better: "higher" },
  "PUT": { unit: "MB/s", better: "higher" },
  "raw TCP pipe": { unit: "MB/s", better: "higher" },
  "sha256 (one core)": { unit: "MB/s", better: "higher" },
  "disk write + fsync": { unit: "MB/s", better: "higher" },
  "PUT (hash, no disk)": { unit: "MB/s", better: "higher" },
  "GET (from memory)": { unit: "MB/s", better: "higher" },
  "PUT, bytes sent": { unit: "MB/s", better: "higher" },
};

function unitOf(measure: string): { unit: string; better: "higher" | "lower" } {
  if (measure.startsWith(`${FLOOR} `)) return unitOf(measure.slice(FLOOR.length + 1));
  return UNITS[measure] ??
    (measure.includes(" p") ? { unit: "ms", better: "lower" } : { unit: "", better: "higher" });
}

class Results {
  readonly measures: Measure[] = [];
  readonly failures: string[] = [];

  add(workload: Workload, who: Proto | "reference", values: Record<string, number>): void {
    for (const [name, value] of Object.entries(values)) {
      let m = this.measures.find((x) => x.workload === workload && x.measure === name);
      if (m === undefined) {
        m = { workload, measure: name, ...unitOf(name), values: {} };
        this.measures.push(m);
      }
      (m.values[who] ??= []).push(value);
    }
  }

  median(workload: Workload, measure: string, who: Proto | "reference"): number {
    const m = this.measures.find((x) => x.workload === workload && x.measure === measure);
    return spread(m?.values[who] ?? []).median;
  }
}

function fmt(v: number, unit: string): string {
  if (!Number.isFinite(v)) return "-";
  if (unit === "ms") {
    return v < 1 ? `${(v * 1000).toFixed(0)} µs` : `${v.toFixed(v < 10 ? 2 : 1)} ms`;
  }
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)} k`;
  if (v >= 100) return v.toFixed(0);
  return v.toFixed(v >= 10 ? 1 : 2);
}

function cell(s: Spread, unit: string): string {
  if (s.n === 0) return "-";
  if (s.n === 1) return fmt(s.median, unit);
  return `${fmt(s.median, unit)} (${fmt(s.min, unit)}-${fmt(s.max, unit)})`;
}

/** The result tables as Markdown. */
function tables(results: Results, servers: Proto[]): string {
  const out: string[] = [];
  const peers = servers.filter((p) => p !== "switchboard");
  const header = [
    "workload",
    "measure",
    ...servers.map((p) => NAMES[p]),
    ...peers.map((p) => `ours/${p}`),
  ];
  out.push(`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`);
  for (const m of results.measures) {
    if (m.workload === "files" || m.values.reference !== undefined) continue;
    const unit = m.unit === "ms" ? "" : ` (${m.unit})`;
    const cells = servers.map((p) => cell(spread(m.values[p] ?? []), m.unit));
    const ours = spread(m.values.switchboard ?? []).median;
    const ratios = peers.map((p) => {
      const r = ours / spread(m.values[p] ?? []).median;
      return Number.isFinite(r) ? `${r.toFixed(2)}x` : "-";
    });
    out.push(
      `| ${m.workload} | ${m.measure}${unit} | ${cells.join(" | ")} | ${ratios.join(" | ")} |`,
    );
  }
  const refs = results.measures.filter((m) =>
    m.values.reference !== undefined || m.workload === "files"
  );
  if (refs.length > 0) {
    out.push("", "| reference | measure | median (min-max) |", "| --- | --- | --- |");
    for (const m of refs) {
      const who = m.values.switchboard ? "switchboard" : "reference";
      const unit = m.unit === "ms" ? "" : ` (${m.unit})`;
      out.push(
        `| ${m.workload} | ${m.measure}${unit} | ${cell(spread(m.values[who] ?? []), m.unit)} |`,
      );
    }
  }
  out.push(
    "",
    "| goal (on medians, same run) | ratio | target | met |",
    "| --- | --- | --- | --- |",
  );
  for (const g of GOALS) {
    if (!results.measures.some((m) => m.workload === g.workload)) continue;
    const { ratio, target, atMost } = g.evaluate((w, m, who) => results.median(w, m, who));
    const met = !Number.isFinite(ratio)
      ? "n/a"
      : (atMost ? ratio <= target : ratio >= target)
      ? "yes"
      : "NO";
    out.push(
      `| ${g.text} | ${Number.isFinite(ratio) ? ratio.toFixed(2) + "x" : "-"} | ${
        atMost ? "<=" : ">="
      } ${target}x | ${met} |`,
    );
  }
  return out.join("\n");
}

async function machine(): Promise<Record<string, string | number>> {
  const cpu = (await readProc("/proc/cpuinfo")).match(/model name\s*:\s*(.*)/)
    ?.[1] ?? "unknown";
  const mem = Deno.systemMemoryInfo();
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    memory_gib: Math.round(mem.total / 1024 ** 3),
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    nats: await versionOf(["nats-server", "--version"]),
    redis: await versionOf(["redis-server", "--version"]),
  };
}

/**
 * Runs the benchmark.
 *
 * @param args Command-line arguments.
 * @returns The exit code: 0 when every run finished, 1 when some failed, 2 for wrong usage.
 */
export async function main(args: string[]): Promise<number> {
  let opts: Options | null;
  try {
    opts = parseOptions(args);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}\nRun deno task bench --help for the options.`);
    return 2;
  }
  if (opts === null) {
    console.log(HELP);
    return 0;
  }
  const problems = await checkTools(opts);
  if (problems.length > 0) {
    console.error(`bench: cannot run yet:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    console.error(
      "Install the peers with: sudo bench/setup.sh   (or pick with --servers / --only)",
    );
    return 1;
  }
  if (opts.runs < 3) {
    console.error(`bench: --runs ${opts.runs}: fewer than 3 runs give a shaky median`);
  }
  if (opts.profileDir) await Deno.mkdir(opts.profileDir, { recursive: true });

  const onSignal = () => {
    console.error("\nbench: interrupted; stopping servers");
    killAll();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const results = new Results();
  const started = new Date();
  const command = `deno task bench${args.length ? " " + args.join(" ") : ""}`;
  let fileDir: string | null = null;
  try {
    const info = await machine();
    console.log(
      `${command}\n${started.toISOString()}  ${info.cpu}, ${info.cores} cores, deno ${info.deno}`,
    );
    for (const workload of opts.workloads) {
      if (workload === "files") {
        if (!opts.servers.includes("switchboard")) continue;
        fileDir ??= await Deno.makeTempDir({ prefix: "sb-bench-file-" });
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
            });
            results.add("files", "reference", {
              [`${FLOOR} PUT (hash, no disk)`]: r.floorPut,
              [`${FLOOR} GET (from memory)`]: r.floorGet,
            });
            console.log(
              `files    run ${run}/${opts.runs}  raw ${fmt(raw, "")}  sha256 ${
                fmt(sha, "")
              }  disk ${fmt(disk, "")}  ` +
                `PUT ${fmt(r.put, "")} (sent at ${fmt(r.putSent, "")})  GET ${fmt(r.get, "")} MB/s`,
            );
          } catch (e) {
            results.failures.push(`files run ${run}: ${(e as Error).message}`);
            console.error(`files    run ${run}/${opts.runs}  FAILED: ${(e as Error).message}`);
          }
        }
        continue;
      }
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
    const table = tables(results, opts.servers);
    console.log(
      `\nMedians of ${opts.runs} runs (min-max); ratios are ours/peer on medians.\n\n${table}`,
    );
    if (results.failures.length > 0) {
      console.log(`\nFailed runs:\n${results.failures.map((f) => `- ${f}`).join("\n")}`);
    }
    if (opts.json !== undefined) {
      await Deno.writeTextFile(
        opts.json,
        JSON.stringify(
          {
            date: started.toISOString(),
            command,
            machine: info,
            scale: opts.scale,
            runs: opts.runs,
            measures: results.measures.map((m) => ({
              ...m,
              spread: Object.fromEntries(Object.entries(m.values).map(([k, v]) => [k, spread(v)])),
            })),
            goals: GOALS.filter((g) => results.measures.some((m) => m.workload === g.workload)).map(
              (g) => ({
                goal: g.text,
                ...g.evaluate((w, m, who) => results.median(w, m, who)),
              }),
            ),
            failures: results.failures,
          },
          null,
          2,
        ) + "\n",
      );
      console.log(`\nWrote ${opts.json}`);
    }
    if (opts.markdown !== undefined) {
      const md = `# Benchmark results\n\n` +
        `Date: ${started.toISOString().slice(0, 16).replace("T", " ")} UTC\n\n` +
        `Machine: ${info.cpu}, ${info.cores} cores, ${info.memory_gib} GiB, ${info.os}; Deno ${info.deno} (V8 ${info.v8}); ` +
        `${info.nats}; ${info.redis}\n\n` +
        `Command: \`${command}\`\n\n` +
        `Medians of ${opts.runs} runs (min-max), servers interleaved, each run on a fresh server process; ` +
        `ratios are ours/peer on the medians of this same run.\n\n${table}\n` +
        (results.failures.length
          ? `\nFailed runs:\n${results.failures.map((f) => `- ${f}`).join("\n")}\n`
          : "");
      await Deno.writeTextFile(opts.markdown, md);
      // Keep it as `deno fmt` wants it (`deno task ok` checks every Markdown file).
      await new Deno.Command(Deno.execPath(), {
        args: ["fmt", "--quiet", opts.markdown],
        stdout: "null",
        stderr: "null",
      })
        .output().catch(() => {});
      console.log(`Wrote ${opts.markdown}`);
    }
    return results.failures.length > 0 ? 1 : 0;
  } finally {
    killAll();
    if (fileDir !== null) await Deno.remove(fileDir, { recursive: true }).catch(() => {});
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

/** Runs the files load client with a spec (bench/files.ts calls back here). */
function runLoadFiles(
  spec: Record<string, unknown>,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  return runLoad(spec as unknown as LoadSpec, timeoutMs);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
