/**
 * Builds the two standalone executables with `deno compile`, each with its role baked in as the
 * first argument (`main.ts server`, `main.ts client`) and the narrowest permissions that work.
 *
 *   deno task compile                  dist/switchboard-server and dist/switchboard for this machine
 *   deno task compile:all              dist/<target>/... for every target in TARGETS
 *   deno run ... .ci/compile.ts --out DIR [--target T]...
 *
 * `deno compile` needs Deno's runtime binary (`denort`) for each target: it downloads it from
 * dl.deno.land, or uses the file named by `DENORT_BIN` (this machine's target only).
 *
 * Each executable built for this machine is run with `--version` afterwards: one that does not
 * print our version (`DENORT_BIN` naming `deno` itself builds a plain `deno`) is deleted and the
 * build fails. Folders made for a build that failed are removed when they are left empty.
 *
 * The permission lists are exported: tests/bundle_test.ts and the CLI tests run the program with
 * exactly these flags, so what the executables are allowed to do is tested on every run.
 *
 * @module
 */

import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { CLIENT_ENV_VARS } from "../cli/args.ts";
import { VERSION } from "../lib/version.ts";
import { envName, OPTIONS } from "../server/config.ts";

/** Every target of `compile:all`: x86_64/aarch64 Linux, x86_64/aarch64 macOS, x86_64 Windows. */
export const TARGETS: readonly string[] = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
];

/**
 * The variables the Redis client (`@redis/client`, loaded with `--redis`) reads for its own debug
 * switches: without them allowed, every connection to Redis fails on a permission error.
 */
export const REDIS_CLIENT_ENV_VARS: readonly string[] = [
  "REDIS_DEBUG_MAINTENANCE",
  "REDIS_EMIT_DIAGNOSTICS",
];

/**
 * The permissions baked into `switchboard-server`: the network (listen, and accept anyone), read
 * and write anywhere (the shared folder, TLS files and the user list are chosen at run time), and
 * only its own `SWITCHBOARD_*` variables (and the Redis client's two debug switches).
 *
 * @returns Deno permission flags.
 */
export function serverPermissions(): string[] {
  const vars = [...OPTIONS.map((o) => envName(o.flag)), ...REDIS_CLIENT_ENV_VARS];
  return ["--allow-net", "--allow-read", "--allow-write", `--allow-env=${vars.join(",")}`];
}

/**
 * The permissions baked into `switchboard`: the network (connect), read (`put`, `--ca`), write
 * (`get`), and only the variables in {@linkcode CLIENT_ENV_VARS}.
 *
 * @returns Deno permission flags.
 */
export function clientPermissions(): string[] {
  return [
    "--allow-net",
    "--allow-read",
    "--allow-write",
    `--allow-env=${CLIENT_ENV_VARS.join(",")}`,
  ];
}

/** The target triple of this machine, as `deno compile --target` spells it. */
export function hostTarget(): string {
  return Deno.build.target;
}

/** One executable to build. */
export interface Build {
  /** `server` or `client`: the first argument baked in. */
  role: "server" | "client";
  /** Target triple. */
  target: string;
  /** Output path. */
  output: string;
}

/**
 * The builds for some targets.
 *
 * @param outDir Where to write.
 * @param targets Target triples; with one target equal to this machine's and `flat`, the files go
 *   straight into `outDir`, otherwise into `outDir/<target>/`.
 * @param flat Write straight into `outDir`.
 * @returns One build per role and target.
 */
export function plan(outDir: string, targets: readonly string[], flat: boolean): Build[] {
  const builds: Build[] = [];
  for (const target of targets) {
    const dir = flat ? outDir : `${outDir}/${target}`;
    const exe = target.includes("windows") ? ".exe" : "";
    builds.push({ role: "server", target, output: `${dir}/switchboard-server${exe}` });
    builds.push({ role: "client", target, output: `${dir}/switchboard${exe}` });
  }
  return builds;
}

/**
 * The `deno compile` arguments of one build.
 *
 * @param build The build.
 * @param root The repository root (where main.ts is).
 * @returns Arguments after `deno`.
 */
export function compileArgs(build: Build, root: string): string[] {
  const perms = build.role === "server" ? serverPermissions() : clientPermissions();
  return [
    "compile",
    "--no-prompt",
    ...perms,
    "--target",
    build.target,
    "--output",
    build.output,
    `${root}/main.ts`,
    build.role,
  ];
}

/**
 * The environment of one `deno compile`: `DENORT_BIN` holds this machine's runtime, so it is
 * left out for other targets (it would make a binary of the wrong platform).
 */
function childEnv(target: string): { env?: Record<string, string>; clearEnv?: boolean } {
  if (target === hostTarget()) return {};
  try {
    if (Deno.env.get("DENORT_BIN") === undefined) return {};
    const env = Deno.env.toObject();
    delete env.DENORT_BIN;
    return { env, clearEnv: true };
  } catch {
    // Without --allow-env the variable cannot be removed (children inherit it): say so.
    console.error(
      `compile: cannot check DENORT_BIN for ${target} without --allow-env; unset it for other targets`,
    );
    return {};
  }
}

/**
 * Runs a built executable with `--version` and says why it is not ours, if it is not.
 *
 * @param build The build (for this machine's target).
 * @returns `null` when it printed {@linkcode VERSION}, else the reason.
 */
export async function versionProblem(build: Build): Promise<string | null> {
  let out;
  try {
    out = await new Deno.Command(build.output, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(15_000),
    }).output();
  } catch (e) {
    return `it does not run: ${(e as Error).message}`;
  }
  const printed = new TextDecoder().decode(out.stdout).trim();
  if (out.success && printed === VERSION) return null;
  const first = (printed.split("\n")[0] ?? "").slice(0, 80) ||
    new TextDecoder().decode(out.stderr).trim().split("\n")[0]?.slice(0, 80) || "nothing";
  let denort = "DENORT_BIN";
  try {
    denort = `DENORT_BIN (${Deno.env.get("DENORT_BIN") ?? "not set"})`;
  } catch {
    // Without --allow-env: name the variable only.
  }
  const fix = /^deno \d/.test(first)
    ? `the base binary was deno itself; ${denort} must name denort, Deno's runtime binary, not deno`
    : `check that deno compile used the denort of Deno ${Deno.version.deno} (${denort})`;
  return `it is not Switchboard: \`${build.output} --version\` printed "${first}"${
    out.success ? "" : ` and exited with ${out.code}`
  }, not "${VERSION}": ${fix}`;
}

/** Creates a build's folder, noting each folder it had to create. */
async function makeFolder(dir: string, created: string[]): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; d !== dirname(d); d = dirname(d)) {
    try {
      await Deno.stat(d);
      break;
    } catch {
      missing.push(d);
    }
  }
  await Deno.mkdir(dir, { recursive: true });
  created.push(...missing.filter((d) => !created.includes(d)));
}

/** Removes the folders this run created that are empty, deepest first. */
async function removeEmptyFolders(created: string[]): Promise<void> {
  for (const d of [...created].sort((a, b) => b.length - a.length)) {
    await Deno.remove(d).catch(() => {}); // Refused when not empty: kept.
  }
}

/**
 * Runs `deno compile` for each build, in order, then runs each one built for this machine with
 * `--version` (see {@linkcode versionProblem}). A failed build leaves no file and no empty folder.
 *
 * @param builds The builds.
 * @param root The repository root.
 * @returns True when all succeeded.
 */
export async function compileAll(builds: Build[], root: string): Promise<boolean> {
  let ok = true;
  const created: string[] = [];
  for (const b of builds) {
    await makeFolder(dirname(b.output), created);
    const out = await new Deno.Command(Deno.execPath(), {
      args: compileArgs(b, root),
      stdout: "piped",
      stderr: "piped",
      ...childEnv(b.target),
    }).output();
    const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
    if (out.success) {
      if (b.target !== hostTarget()) {
        console.log(`built ${b.output} (${b.role}, ${b.target}; not run: another platform)`);
        continue;
      }
      const bad = await versionProblem(b);
      if (bad === null) {
        console.log(`built ${b.output} (${b.role}, ${b.target}, --version ${VERSION})`);
        continue;
      }
      ok = false;
      await Deno.remove(b.output).catch(() => {});
      console.error(`Cannot compile ${b.output}: ${bad}`);
      continue;
    }
    ok = false;
    await Deno.remove(b.output).catch(() => {});
    const missing = /Could not find denort at '([^']*)'/.exec(text);
    if (missing) {
      console.error(
        `Cannot compile ${b.output}: DENORT_BIN names ${missing[1]}, which does not exist`,
      );
    } else if (/denort|dl\.deno\.land|Setting up base binary/i.test(text)) {
      const hint = b.target === hostTarget()
        ? "set DENORT_BIN to a denort binary of the same Deno version, or allow downloads from dl.deno.land"
        : "allow downloads from dl.deno.land (DENORT_BIN only serves this machine's target)";
      console.error(
        `Cannot compile ${b.output}: deno could not get its runtime binary (denort) for ${b.target}: ${hint}`,
      );
    } else {
      console.error(`Cannot compile ${b.output}:\n${text.trim()}`);
    }
  }
  await removeEmptyFolders(created);
  return ok;
}

if (import.meta.main) {
  const root = fileURLToPath(new URL("..", import.meta.url)).replace(/[\\/]$/, "");
  const args = [...Deno.args];
  let outDir = `${root}/dist`;
  const targets: string[] = [];
  let all = false;
  while (args.length > 0) {
    const a = args.shift()!;
    if (a === "--all") all = true;
    else if (a === "--out") outDir = args.shift() ?? outDir;
    else if (a === "--target") targets.push(args.shift() ?? "");
    else {
      console.error(
        `Cannot compile: unknown argument "${a}" (use --all, --out DIR, --target TRIPLE)`,
      );
      Deno.exit(2);
    }
  }
  for (const t of targets) {
    if (!TARGETS.includes(t)) {
      console.error(`Cannot compile for "${t}": the targets are ${TARGETS.join(", ")}`);
      Deno.exit(2);
    }
  }
  const chosen = all ? TARGETS : targets.length > 0 ? targets : [hostTarget()];
  const flat = !all && targets.length === 0;
  const ok = await compileAll(plan(outDir, chosen, flat), root);
  Deno.exit(ok ? 0 : 1);
}
