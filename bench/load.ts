/**
 * The load client: one workload against one server, run in its own process so that it never
 * shares an event loop with the server it measures. The same code drives all three servers; only
 * the {@linkcode Wire} differs.
 *
 * Usage: `deno run --allow-net --allow-read --allow-write bench/load.ts '<json spec>'`. It prints
 * `RESULT <json>` on stdout (the idle, downloading and pings workloads first print `READY <json>`
 * and wait for a line on stdin).
 *
 * @module
 */

import { burst } from "./load_burst.ts";
import { probe } from "./load_cluster.ts";
import { get, put } from "./load_files.ts";
import { clientGet, clientPut, downloading, pings } from "./load_client_files.ts";
import { chat, fanout, idle, latency } from "./load_pubsub.ts";
import { type Wire, WIRES } from "./wire.ts";

import type { FileSpec, LoadSpec } from "./load_spec.ts";

export type { FileSpec, LoadSpec };

/** A workload's runner: the message workloads speak `wire`, the file workloads ignore it. */
type Runner<W extends LoadSpec["workload"]> = (
  spec: Extract<LoadSpec, { workload: W }>,
  wire: Wire,
) => Promise<object>;

/** Each workload's runner. */
const RUNNERS: { [W in LoadSpec["workload"]]: Runner<W> } = {
  fanout,
  chat,
  latency,
  idle,
  burst,
  probe,
  put,
  get,
  clientGet,
  clientPut,
  downloading,
  pings,
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
