/**
 * The load client: one workload against one server, run in its own process so that it never
 * shares an event loop with the server it measures. The same code drives all three servers; only
 * the {@linkcode Wire} differs.
 *
 * Usage: `deno run --allow-net --allow-read --allow-write bench/load.ts '<json spec>'`. It prints
 * `RESULT <json>` on stdout (the idle workload first prints `READY <json>` and holds its
 * connections until a line arrives on stdin).
 *
 * @module
 */

import { get, put } from "./load_files.ts";
import { chat, fanout, idle, latency } from "./load_pubsub.ts";
import { type Proto, type Wire, WIRES } from "./wire.ts";

/** What to run. */
export type LoadSpec =
  | {
    workload: "fanout";
    proto: Proto;
    port: number;
    messages: number;
    subscribers: number;
    size: number;
    window: number;
    batch: number;
    deadlineMs: number;
  }
  | {
    workload: "chat";
    proto: Proto;
    port: number;
    clients: number;
    messages: number;
    size: number;
    window: number;
    deadlineMs: number;
  }
  | {
    workload: "latency";
    proto: Proto;
    port: number;
    count: number;
    warmup: number;
    deadlineMs: number;
  }
  | {
    workload: "idle";
    proto: Proto;
    port: number;
    count: number;
    concurrency: number;
    deadlineMs: number;
  }
  | ({ workload: "put" } & FileSpec)
  | ({ workload: "get" } & FileSpec);

/** What a `PUT` and a `GET` need: the file's name on the server, its size and its sha256. */
export interface FileSpec {
  proto: "switchboard";
  port: number;
  path: string;
  bytes: number;
  sha256: string;
  deadlineMs: number;
}

/** A workload's runner: the message workloads speak `wire`, the file workloads ignore it. */
type Runner<W extends LoadSpec["workload"]> = (
  spec: Extract<LoadSpec, { workload: W }>,
  wire: Wire,
) => Promise<Record<string, unknown>>;

/** Each workload's runner. */
const RUNNERS: { [W in LoadSpec["workload"]]: Runner<W> } = {
  fanout,
  chat,
  latency,
  idle,
  put,
  get,
};

async function main(): Promise<void> {
  const spec = JSON.parse(Deno.args[0] ?? "{}") as LoadSpec;
  const wire = WIRES[spec.proto];
  if (!Object.hasOwn(RUNNERS, spec.workload)) {
    throw new Error(`Unknown workload ${(spec as { workload: string }).workload}`);
  }
  const run = RUNNERS[spec.workload] as Runner<LoadSpec["workload"]>;
  const result = await run(spec, wire);
  console.log(`RESULT ${JSON.stringify(result)}`);
}

if (import.meta.main) {
  try {
    await main();
    Deno.exit(0);
  } catch (e) {
    console.log(`FAILED ${JSON.stringify(String((e as Error).message ?? e))}`);
    Deno.exit(1);
  }
}
