/**
 * Starts and stops the servers under test (Switchboard, nats-server, redis-server) and the load
 * client processes, by PID, on loopback ports. Every child is registered so that
 * {@linkcode killAll} can stop them on failure or Ctrl-C.
 *
 * @module
 */

import type { Proto } from "./wire.ts";

/** The repository root. */
export const ROOT: string = new URL("../", import.meta.url).pathname;

const live = new Set<Deno.ChildProcess>();

/** Sends `signal` to a child, unless it has exited already. */
export function killQuietly(child: Deno.ChildProcess, signal: Deno.Signal = "SIGKILL"): void {
  try {
    child.kill(signal);
  } catch {
    // Exited already.
  }
}

/** Kills every child still running (SIGKILL). Safe to call more than once. */
export function killAll(): void {
  for (const child of live) killQuietly(child);
  live.clear();
}

/** The permissions the Switchboard server and the load client run with. */
export const DENO_PERMISSIONS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
];

/**
 * The command line that runs one of the repository's scripts with `deno run`.
 *
 * @param permissions The `--allow-*` flags (and any other `deno run` flags).
 * @param script Its path from the repository root.
 * @param args Its arguments.
 */
export function denoRun(
  permissions: readonly string[],
  script: string,
  ...args: string[]
): string[] {
  return [Deno.execPath(), "run", ...permissions, `${ROOT}${script}`, ...args];
}

/** Debian installs nats-server in /usr/sbin, which is not on every user's PATH. */
const SBIN = 'PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"; export PATH;';

/**
 * Runs `argv` through `sh` after raising the soft open-files limit to the hard one (a server with
 * 10,000 clients needs more than the usual 1024). `exec` keeps the PID.
 */
function withFdLimit(argv: string[], logFile?: string): string[] {
  if (logFile === undefined) {
    return ["-c", `${SBIN} ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"`, "sh", ...argv];
  }
  return [
    "-c",
    `${SBIN} ulimit -n "$(ulimit -Hn)" 2>/dev/null; log=$1; shift; exec "$@" >"$log" 2>&1`,
    "sh",
    logFile,
    ...argv,
  ];
}

/** Spawns a registered child process. */
export function spawn(
  argv: string[],
  options: {
    stdin?: "piped" | "null";
    cwd?: string;
    env?: Record<string, string>;
    logFile?: string;
  } = {},
): Deno.ChildProcess {
  const child = new Deno.Command("sh", {
    args: withFdLimit(argv, options.logFile),
    stdin: options.stdin ?? "null",
    stdout: options.logFile === undefined ? "piped" : "null",
    stderr: options.logFile === undefined ? "piped" : "null",
    cwd: options.cwd,
    env: options.env,
  }).spawn();
  live.add(child);
  child.status.then(() => live.delete(child));
  return child;
}

/** Collects what a stream prints, keeping the last `keep` characters. */
export function drain(
  stream: ReadableStream<Uint8Array>,
  keep = 8192,
): { text(): string; done: Promise<void> } {
  let tail = "";
  const decoder = new TextDecoder();
  const done = (async () => {
    try {
      for await (const chunk of stream) {
        tail += decoder.decode(chunk, { stream: true });
        if (tail.length > 2 * keep) tail = tail.slice(-keep);
      }
    } catch {
      // The process went away.
    }
  })();
  return { text: () => tail.slice(-keep), done };
}

/** A free loopback TCP port (bound, then released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Resident set size of a process, from `ps` (Deno asks for all permissions to read /proc/<pid>).
 *
 * @param pid The process.
 * @returns Bytes.
 */
export async function rssOf(pid: number): Promise<number> {
  const r = await new Deno.Command("ps", {
    args: ["-o", "rss=", "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  })
    .output();
  const kib = Number(new TextDecoder().decode(r.stdout).trim());
  if (!r.success || !Number.isFinite(kib) || kib <= 0) {
    throw new Error(`Cannot read the memory of process ${pid}`);
  }
  return kib * 1024;
}

/**
 * Reads a file under /proc through `cat` (Deno asks for all permissions to read /proc directly).
 *
 * @param path The file.
 * @returns Its text, or `""` when it cannot be read.
 */
export async function readProc(path: string): Promise<string> {
  const r = await new Deno.Command("cat", { args: [path], stdout: "piped", stderr: "null" })
    .output();
  return r.success ? new TextDecoder().decode(r.stdout) : "";
}

/**
 * CPU time a process has used so far (user + system), from /proc/<pid>/stat read by `cat`.
 *
 * @param pid The process.
 * @returns Seconds (10 ms resolution).
 */
export async function cpuOf(pid: number): Promise<number> {
  const r = await new Deno.Command("cat", {
    args: [`/proc/${pid}/stat`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const stat = new TextDecoder().decode(r.stdout);
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  if (!r.success || !Number.isFinite(ticks)) {
    throw new Error(`Cannot read the CPU time of process ${pid}`);
  }
  return ticks / 100;
}

/** A server under test. */
export interface RunningServer {
  /** Which one. */
  readonly proto: Proto;
  /** Its process id. */
  readonly pid: number;
  /** Its loopback port. */
  readonly port: number;
  /** Its resident memory, bytes. */
  rss(): Promise<number>;
  /** CPU seconds it has used. */
  cpu(): Promise<number>;
  /** What it printed last. */
  log(): string;
  /** Stops it (gracefully, then SIGKILL after 5 s) and removes its temporary folder. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startServer}. */
export interface ServerOptions {
  /** Most clients the server must accept. */
  maxClients: number;
  /** Write a V8 CPU profile of the Switchboard server into this folder. */
  profileDir?: string;
  /** The folder Switchboard shares (a fresh temporary one when absent). */
  files?: string;
  /** Instead of Switchboard, run bench/echo_floor.ts (a bare Deno read-then-write server). */
  echoFloor?: boolean;
  /** The benchmark file the echo floor serves to `GET` (from memory). */
  floorFile?: { sha256: string; bytes: number };
  /** More arguments for the server (a cluster node's `--redis`, nats-server's `--cluster`). */
  extraArgs?: string[];
}

function commandOf(proto: Proto, port: number, files: string, options: ServerOptions): string[] {
  if (options.echoFloor) {
    const file = options.floorFile
      ? [options.floorFile.sha256, String(options.floorFile.bytes)]
      : [];
    return denoRun(["--allow-net"], "bench/echo_floor.ts", String(port), ...file);
  }
  switch (proto) {
    case "switchboard":
      return denoRun(
        [
          ...DENO_PERMISSIONS,
          ...(options.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`] : []),
        ],
        "main.ts",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--files",
        files,
        "--max-clients",
        String(options.maxClients),
      );
    case "nats":
      return ["nats-server", "-a", "127.0.0.1", "-p", String(port)];
    case "redis":
      return [
        "redis-server",
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--maxclients",
        String(options.maxClients),
        // No output-buffer limit for subscribers (by default Redis cuts one 32 MB behind, or 8 MB
        // for 60 s): a subscriber that falls behind is buffered for, never cut.
        "--client-output-buffer-limit",
        "pubsub 0 0 0",
      ];
  }
}

async function waitListening(
  port: number,
  child: Deno.ChildProcess,
  log: () => string,
): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) throw new Error(`Server exited before listening on ${port}:\n${log()}`);
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      if (Date.now() > deadline) {
        throw new Error(`Server did not listen on ${port} within 20 s:\n${log()}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/**
 * Starts a server on a free loopback port and waits until it accepts connections.
 *
 * @param proto Which server.
 * @param options See {@linkcode ServerOptions}.
 * @returns The running server.
 */
export async function startServer(proto: Proto, options: ServerOptions): Promise<RunningServer> {
  const port = freePort();
  const ownFiles = options.files === undefined && proto === "switchboard" && !options.echoFloor;
  const files = options.files ??
    (ownFiles ? await Deno.makeTempDir({ prefix: "sb-bench-files-" }) : "");
  // Servers log to a file, as a deployment would, rather than to a pipe this process must drain
  // while the load runs (Switchboard logs every connect and disconnect; the peers do not).
  const logFile = await Deno.makeTempFile({ prefix: "sb-bench-log-" });
  const argv = [...commandOf(proto, port, files, options), ...(options.extraArgs ?? [])];
  const child = spawn(argv, { logFile });
  const log = () => {
    try {
      return Deno.readTextFileSync(logFile).slice(-8192);
    } catch {
      return "";
    }
  };
  let stopped: Promise<void> | null = null;
  const stop = () =>
    stopped ??= (async () => {
      killQuietly(child, proto === "switchboard" && !options.echoFloor ? "SIGINT" : "SIGTERM");
      const timer = setTimeout(() => killQuietly(child), 5000);
      await child.status;
      clearTimeout(timer);
      await Deno.remove(logFile).catch(() => {});
      if (ownFiles) await Deno.remove(files, { recursive: true }).catch(() => {});
    })();
  try {
    await waitListening(port, child, log);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    proto,
    pid: child.pid,
    port,
    rss: () => rssOf(child.pid),
    cpu: () => cpuOf(child.pid),
    log,
    stop,
  };
}

/**
 * Tells whether a command is on the PATH (or in /usr/sbin and the like).
 *
 * @param name The command.
 */
export async function hasCommand(name: string): Promise<boolean> {
  const r = await new Deno.Command("sh", {
    args: ["-c", `${SBIN} command -v "$1"`, "sh", name],
    stdout: "null",
    stderr: "null",
  })
    .output();
  return r.success;
}

/** The hard limit on open files for processes started from here (`ulimit -Hn`). */
export async function hardFdLimit(): Promise<number> {
  const r = await new Deno.Command("sh", {
    args: ["-c", "ulimit -Hn"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const s = new TextDecoder().decode(r.stdout).trim();
  return s === "unlimited" ? Infinity : Number(s);
}

/** First line a command prints for its version (for the results header). */
export async function versionOf(argv: string[]): Promise<string> {
  try {
    const r = await new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      stdout: "piped",
      stderr: "piped",
    }).output();
    const s = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
    return s.trim().split("\n")[0] ?? "";
  } catch {
    return "not found";
  }
}
