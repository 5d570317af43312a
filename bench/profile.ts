/**
 * Summarizes a V8 CPU profile (`deno run --cpu-prof`, or `deno task bench --profile DIR`): the
 * functions with the most self time, and the most total time, with their file and line.
 *
 * Usage: `deno run --allow-read bench/profile.ts FILE.cpuprofile [--top N]`
 *
 * @module
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** One row of the summary. */
export interface ProfileRow {
  /** `name file:line`. */
  where: string;
  /** Percent of samples in the function itself. */
  self: number;
  /** Percent of samples in it or its callees. */
  total: number;
}

function label(f: CallFrame): string {
  const file = f.url.replace(/^file:\/\/.*?\/(?=(lib|server|client|bench|ext:)\b)/, "").replace(
    /^file:\/\//,
    "",
  );
  const name = f.functionName || "(anonymous)";
  return file ? `${name} ${file}:${f.lineNumber + 1}` : name;
}

/**
 * Self and total time per function of a profile.
 *
 * @param profile The parsed `.cpuprofile`.
 * @returns Rows sorted by self time, and the share of idle time.
 */
export function summarizeProfile(
  profile: CpuProfile,
): { rows: ProfileRow[]; idle: number; ms: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let idle = 0;
  for (const id of profile.samples) {
    const node = byId.get(id)!;
    const name = label(node.callFrame);
    if (node.callFrame.functionName === "(idle)") idle++;
    self.set(name, (self.get(name) ?? 0) + 1);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const l = label(byId.get(at)!.callFrame);
      if (seen.has(l)) continue;
      seen.add(l);
      total.set(l, (total.get(l) ?? 0) + 1);
    }
  }
  const n = profile.samples.length || 1;
  const rows = [...self.entries()].map(([where, s]) => ({
    where,
    self: (100 * s) / n,
    total: (100 * (total.get(where) ?? 0)) / n,
  }))
    .sort((a, b) => b.self - a.self);
  return { rows, idle: (100 * idle) / n, ms: (profile.endTime - profile.startTime) / 1000 };
}

if (import.meta.main) {
  const file = Deno.args[0];
  if (!file) {
    console.error("Usage: deno run --allow-read bench/profile.ts FILE.cpuprofile [--top N]");
    Deno.exit(2);
  }
  const top = Number(Deno.args[Deno.args.indexOf("--top") + 1]) || 30;
  const { rows, idle, ms } = summarizeProfile(JSON.parse(await Deno.readTextFile(file)));
  console.log(
    `${file}: ${ms.toFixed(0)} ms profiled, ${idle.toFixed(1)}% idle\n  self%  total%  function`,
  );
  for (const r of rows.slice(0, top)) {
    console.log(`${r.self.toFixed(1).padStart(7)} ${r.total.toFixed(1).padStart(7)}  ${r.where}`);
  }
}
