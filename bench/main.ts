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

import { burstRuns } from "./burst.ts";
import { clusterRuns } from "./cluster.ts";
import { checkTools, HELP, type Options, parseOptions } from "./options.ts";
import { failedRuns, machine, tables, writeJson, writeMarkdown } from "./report.ts";
import { Results } from "./results.ts";
import { killAll } from "./servers.ts";
import { filesRuns, serverRuns } from "./workloads.ts";

export { type Scale, type Workload, WORKLOADS } from "./options.ts";

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
        await filesRuns(opts, results, fileDir);
      } else if (workload === "burst") await burstRuns(opts, results);
      else if (workload === "cluster") await clusterRuns(opts, results);
      else await serverRuns(workload, opts, results);
    }
    const table = tables(results, opts.servers);
    console.log(
      `\nMedians of ${opts.runs} runs (min-max); ratios are ours/peer on medians.\n\n${table}`,
    );
    if (results.failures.length > 0) console.log(failedRuns(results));
    const run = { started, command, info };
    if (opts.json !== undefined) {
      await writeJson(opts.json, run, opts, results);
      console.log(`\nWrote ${opts.json}`);
    }
    if (opts.markdown !== undefined) {
      await writeMarkdown(opts.markdown, run, opts, results, table);
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

if (import.meta.main) Deno.exit(await main(Deno.args));
