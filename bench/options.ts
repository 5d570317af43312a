/**
 * The options of `deno task bench`: the workloads and their sizes (full, `--quick`, `--scale`,
 * `--window`), the help text, and the check that the tools the chosen runs need are installed.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { hardFdLimit, hasCommand } from "./servers.ts";
import { type Proto, PROTOS } from "./wire.ts";

/** The workloads, in run order. */
export const WORKLOADS = [
  "fanout",
  "chat",
  "burst",
  "latency",
  "cluster",
  "idle",
  "files",
] as const;
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
  /** Messages of a burst scenario (its long scenario sends 5 times as many). */
  burstMessages: number;
  /** Messages the cluster workload's publisher sends (to `fanoutSubscribers` on the other node). */
  clusterMessages: number;
  /** Timestamped messages of the cluster workload's latency probe (one a millisecond). */
  clusterProbes: number;
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
  burstMessages: 200_000,
  clusterMessages: 300_000,
  clusterProbes: 5000,
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
  burstMessages: 20_000,
  clusterMessages: 30_000,
  clusterProbes: 1000,
};

/** The help text of `deno task bench --help`. */
export const HELP = `deno task bench [options]: Switchboard against nats-server and redis-server

Workloads (all by default; pick with --only):
  fanout   1 publisher, 10 subscribers of one room/subject/channel, 128 B payloads,
           1,000,000 messages: delivered msgs/s
  chat     100 clients all in lobby (subscribed to one subject), each sending 1,000
           messages: delivered msgs/s, p50/p99 delivery latency
  burst    publishers writing as fast as their sockets take bytes (no window, no waiting for
           replies), 128 B payloads, subscribers reading as fast as they can:
             1 publisher -> 10 subscribers, 200,000 messages; the same with 1,000,000;
             3 publishers, members of the room -> 5 subscribers, 200,000 messages in all;
             1 -> 10, 200,000, one subscriber stops reading for 150 ms after 10,000 messages.
           Per scenario: delivered/expected of every receiver, connections cut by the server,
           messages out of order (per publisher), publisher msgs/s, longest publisher write stall
           (the longest single socket write that accepted no byte). A scenario ends when every
           receiver has everything or was cut, or after 5 s without a delivery
  latency  20,000 sequential PING (and TIME) round trips: p50, p99, p99.9
  cluster  publisher on node A, 10 subscribers on node B: 2 Switchboard servers on one
           redis-server (--redis) and 2 nats-server routed as a cluster, beside 1 Switchboard
           server of the same shape; 300,000 messages of 128 B: delivered msgs/s, CPU of every
           process; then 5,000 timestamped messages paced by 1 ms timers (about 500/s):
           p50/p99 latency from the publisher's send to a subscriber's read
  idle     10,000 idle clients: server RSS growth per connection, connects/s
  files    GET and PUT of 1 GiB (Switchboard only), beside the raw TCP ceiling (socat or nc
           pipe of the same bytes), the sha256 rate of one core and the disk's write+fsync rate;
           then the client library's verified get (to disk) and put (from disk), and another
           client's PING p50/p99 while GETs run back to back

Options:
  --only LIST      comma-separated workloads (fanout,chat,burst,latency,cluster,idle,
                   files)
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

/** What `deno task bench` was asked to run. */
export interface Options {
  /** The workloads, in run order. */
  workloads: Workload[];
  /** The servers, in the order runs are interleaved. */
  servers: Proto[];
  /** Runs per workload and server. */
  runs: number;
  /** How big each workload is. */
  scale: Scale;
  /** Whether `--quick` was given. */
  quick: boolean;
  /** Where to write every number (`--json`). */
  json?: string;
  /** Where to write the result table (`--markdown`). */
  markdown?: string;
  /** Where the Switchboard server writes CPU profiles (`--profile`). */
  profileDir?: string;
}

/**
 * Parses the command line.
 *
 * @param args Command-line arguments.
 * @returns The options, or `null` for `--help`. Throws on wrong usage.
 */
export function parseOptions(args: string[]): Options | null {
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
    base.burstMessages = Math.max(1000, Math.round(base.burstMessages * f));
    base.clusterMessages = Math.max(1000, Math.round(base.clusterMessages * f));
    base.clusterProbes = Math.max(100, Math.round(base.clusterProbes * f));
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
export async function checkTools(opts: Options): Promise<string[]> {
  const problems: string[] = [];
  const needsPeers = opts.workloads.some((w) => w !== "files");
  if (needsPeers && opts.servers.includes("nats") && !await hasCommand("nats-server")) {
    problems.push("nats-server is not on PATH (Debian package nats-server)");
  }
  // The cluster workload's Switchboard nodes share a redis-server, whatever --servers says.
  const needsRedis = (needsPeers && opts.servers.includes("redis")) ||
    (opts.workloads.includes("cluster") && opts.servers.includes("switchboard"));
  if (needsRedis && !await hasCommand("redis-server")) {
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
