/**
 * The output of a benchmark run: the result tables as Markdown (measures, references, goals), the
 * machine it ran on, and the `--json` and `--markdown` files.
 *
 * @module
 */

import { GOALS } from "./goals.ts";
import { cell, NAMES, type Results } from "./results.ts";
import { readProc, versionOf } from "./servers.ts";
import { spread } from "./stats.ts";
import type { Options } from "./options.ts";
import type { Proto } from "./wire.ts";

/** The goals whose workload ran, each with its ratio on this run's medians. */
function checkedGoals(
  results: Results,
): { text: string; ratio: number; target: number; atMost: boolean }[] {
  return GOALS.filter((g) => results.measures.some((m) => m.workload === g.workload)).map((g) => ({
    text: g.text,
    ...g.evaluate((w, m, who) => results.median(w, m, who)),
  }));
}

/** The result tables as Markdown. */
export function tables(results: Results, servers: Proto[]): string {
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
  const goals = checkedGoals(results);
  if (goals.length === 0) return out.join("\n");
  out.push(
    "",
    "| goal (on medians, same run) | ratio | target | met |",
    "| --- | --- | --- | --- |",
  );
  for (const { text, ratio, target, atMost } of goals) {
    const met = !Number.isFinite(ratio)
      ? "n/a"
      : (atMost ? ratio <= target : ratio >= target)
      ? "yes"
      : "NO";
    out.push(
      `| ${text} | ${Number.isFinite(ratio) ? ratio.toFixed(2) + "x" : "-"} | ${
        atMost ? "<=" : ">="
      } ${target}x | ${met} |`,
    );
  }
  return out.join("\n");
}

/** The machine the benchmark runs on, for the header lines and the output files. */
export async function machine(): Promise<Record<string, string | number>> {
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

/** The failed runs as a Markdown list, under a heading line. */
export function failedRuns(results: Results): string {
  return `\nFailed runs:\n${results.failures.map((f) => `- ${f}`).join("\n")}`;
}

/** What one run of `deno task bench` was: when, which command, on which machine. */
export interface RunInfo {
  /** When it started. */
  started: Date;
  /** The command line, as typed. */
  command: string;
  /** See {@linkcode machine}. */
  info: Record<string, string | number>;
}

/** Writes every number of the run to `path` (`--json`). */
export async function writeJson(
  path: string,
  run: RunInfo,
  opts: Options,
  results: Results,
): Promise<void> {
  await Deno.writeTextFile(
    path,
    JSON.stringify(
      {
        date: run.started.toISOString(),
        command: run.command,
        machine: run.info,
        scale: opts.scale,
        runs: opts.runs,
        measures: results.measures.map((m) => ({
          ...m,
          spread: Object.fromEntries(Object.entries(m.values).map(([k, v]) => [k, spread(v)])),
        })),
        goals: checkedGoals(results).map(({ text, ...rest }) => ({ goal: text, ...rest })),
        failures: results.failures,
      },
      null,
      2,
    ) + "\n",
  );
}

/** Writes the result table, as in bench/RESULTS.md, to `path` (`--markdown`), then `deno fmt`s it. */
export async function writeMarkdown(
  path: string,
  run: RunInfo,
  opts: Options,
  results: Results,
  table: string,
): Promise<void> {
  const { started, command, info } = run;
  const md = `# Benchmark results\n\n` +
    `Date: ${started.toISOString().slice(0, 16).replace("T", " ")} UTC\n\n` +
    `Machine: ${info.cpu}, ${info.cores} cores, ${info.memory_gib} GiB, ${info.os}; Deno ${info.deno} (V8 ${info.v8}); ` +
    `${info.nats}; ${info.redis}\n\n` +
    `Command: \`${command}\`\n\n` +
    `Medians of ${opts.runs} runs (min-max), servers interleaved, each run on a fresh server process; ` +
    `ratios are ours/peer on the medians of this same run.\n\n${table}\n` +
    (results.failures.length ? `${failedRuns(results)}\n` : "");
  await Deno.writeTextFile(path, md);
  // Keep it as `deno fmt` wants it (`deno task ok` checks every Markdown file).
  await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", path],
    stdout: "null",
    stderr: "null",
  })
    .output().catch(() => {});
}
