/**
 * The one way tests start a server: in-process with {@linkcode startTestServer}, or as a child
 * process with {@linkcode startServerProcess}; both bind a free loopback port and are disposed
 * with `await using`. Also what tests measure of a server process (resident memory, open files).
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import type { ServerConfig } from "../../server/config.ts";
import { createLogger, type Logger, silentLogger } from "../../server/observe/log.ts";
import { type Server, type StartOptions, startServer } from "../../server/server.ts";
import { decodeText } from "./bytes.ts";

/** The repository root (where main.ts is). */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/**
 * Starts an in-process server on a free loopback port, silent, sharing a fresh temporary folder.
 *
 * @param config Server options over the defaults (`files` to share a folder of your own, which
 *   is then left in place).
 * @param options How it is started: `log` replaces the silent logger.
 * @returns The server and its `files` folder; dispose it with `await using`.
 */
export async function startTestServer(
  config: Partial<ServerConfig> = {},
  options: StartOptions = {},
): Promise<Server & { files: string }> {
  const files = config.files ?? await Deno.makeTempDir({ prefix: "sb-files-" });
  const server = startServer({ host: "127.0.0.1", port: 0, files, ...config }, {
    log: silentLogger,
    ...options,
  });
  const dispose = server[Symbol.asyncDispose];
  return Object.assign(server, {
    files,
    [Symbol.asyncDispose]: async () => {
      await dispose();
      if (config.files === undefined) await Deno.remove(files, { recursive: true }).catch(() => {});
    },
  });
}

/** A server running as a child process (`deno run main.ts server`). */
export interface ServerProcess extends AsyncDisposable {
  /** The port it bound. */
  port: number;
  /** Its process id. */
  pid: number;
  /** The child process. */
  child: Deno.ChildProcess;
  /** Everything it logged so far. */
  log(): string;
  /** Resolves with its exit status. */
  status: Promise<Deno.CommandStatus>;
  /** Resident memory in bytes (Linux, from /proc). */
  rss(): Promise<number>;
  /** Sends a signal. */
  kill(signal?: Deno.Signal): void;
}

/**
 * Starts `main.ts server --port 0` as a child process with the narrow permissions the task uses,
 * and waits for its "listening" log line.
 *
 * @param args More server flags.
 * @param options `cwd`, `env`; `wrap` runs deno under another command (`["unshare", "--user"]`).
 */
export async function startServerProcess(
  args: string[] = [],
  options: { cwd?: string; env?: Record<string, string>; script?: string[]; wrap?: string[] } = {},
): Promise<ServerProcess> {
  const script = options.script ?? [
    "run",
    "--allow-net",
    "--allow-read",
    "--allow-write",
    "--allow-env",
    `${ROOT}main.ts`,
    "server",
  ];
  const hasFiles = args.includes("--files");
  const files = hasFiles ? null : await Deno.makeTempDir({ prefix: "sb-files-" });
  const [program, ...prefix] = [...(options.wrap ?? []), Deno.execPath()];
  const child = new Deno.Command(program!, {
    args: [
      ...prefix,
      ...script,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      ...(files ? ["--files", files] : []),
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    cwd: options.cwd,
    env: options.env,
  }).spawn();
  let logText = "";
  const decoder = new TextDecoder();
  let resolvePort!: (p: number) => void;
  let rejectPort!: (e: Error) => void;
  const portPromise = new Promise<number>((res, rej) => {
    resolvePort = res;
    rejectPort = rej;
  });
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      logText += decoder.decode(chunk, { stream: true });
      const m = /listening.*?addr=\S*?:(\d+)|"event":"listening".*?"addr":"[^"]*:(\d+)"/.exec(
        logText,
      );
      if (m) resolvePort(Number(m[1] ?? m[2]));
    }
  };
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const status = child.status.then(async (s) => {
    await pumps.catch(() => {});
    rejectPort(new Error(`Server exited (${s.code}) before listening:\n${logText}`));
    return s;
  });
  const timer = setTimeout(
    () => rejectPort(new Error(`Server did not start in 20 s:\n${logText}`)),
    20_000,
  );
  let port: number;
  try {
    port = await portPromise;
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited.
    }
    await status;
    throw e;
  } finally {
    clearTimeout(timer);
  }
  return {
    port,
    pid: child.pid,
    child,
    log: () => logText,
    status,
    rss: () => rssOf(child.pid),
    kill(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // Exited already.
      }
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Exited already.
      }
      await status;
      if (files) await Deno.remove(files, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Resident set size of a process, from /proc (Linux).
 *
 * @param pid The process.
 * @returns Bytes.
 */
export async function rssOf(pid: number): Promise<number> {
  // Deno reads /proc/<pid> only with --allow-all, so ask ps (--allow-run) instead.
  const out = await new Deno.Command("ps", {
    args: ["-o", "rss=", "-p", String(pid)],
    stdout: "piped",
    stderr: "null",
  })
    .output();
  const kb = Number(decodeText(out.stdout).trim());
  if (!out.success || !Number.isFinite(kb) || kb <= 0) throw new Error(`No RSS for process ${pid}`);
  return kb * 1024;
}

/**
 * Open file descriptors of a process (Linux).
 *
 * @param pid The process.
 * @returns How many.
 */
export async function fdCount(pid: number): Promise<number> {
  // Deno asks for --allow-all to read /proc/<pid>/fd; `ls` may read it with --allow-run.
  const out = await new Deno.Command("ls", {
    args: ["-1", `/proc/${pid}/fd`],
    stdout: "piped",
    stderr: "null",
  })
    .output();
  if (!out.success) throw new Error(`Cannot count open files of ${pid}: ls failed`);
  return decodeText(out.stdout).split("\n").filter((l) => l !== "").length;
}

/**
 * A logger that keeps its lines, for assertions on what a server logged.
 *
 * @param format The log format.
 * @returns The logger to pass as `log`, and the lines it has written so far.
 */
export function captureLog(format: "text" | "json" = "text"): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger({ format, write: (l) => lines.push(l) }), lines };
}

/**
 * A port on which nothing listens (bound, then released).
 *
 * @returns The port.
 */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * The highest RSS of a process while `work` runs, sampled every `everyMs` (each sample may run
 * `ps`: sampling more often would slow what is being measured).
 *
 * @param rss Reads the RSS once (a server process's `rss()`).
 * @param work What to measure.
 * @param everyMs Milliseconds between samples.
 * @returns Bytes.
 */
export async function peakRss(
  rss: () => Promise<number>,
  work: () => Promise<void>,
  everyMs = 100,
): Promise<number> {
  let peak = await rss();
  let running = true;
  const sampler = (async () => {
    while (running) {
      peak = Math.max(peak, await rss().catch(() => peak));
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  try {
    await work();
  } finally {
    running = false;
    await sampler;
  }
  return Math.max(peak, await rss());
}
