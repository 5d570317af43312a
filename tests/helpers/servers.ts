/**
 * Shared helpers of the integration tests: real servers (in-process or as a subprocess) and a
 * raw line-level client for speaking the protocol byte for byte.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { Decoder } from "../lib/protocol/decoder.ts";
import { type DecodeEvent, type Frame, SERVER_PAYLOADS } from "../lib/protocol/frame.ts";
import type { ServerConfig } from "../server/config.ts";
import { silentLogger } from "../server/observe/log.ts";
import { type Server, type StartOptions, startServer } from "../server/server.ts";

/** The repository root (where main.ts is). */
export const ROOT: string = fileURLToPath(new URL("../", import.meta.url));

/**
 * Starts an in-process server on a free loopback port, silent, sharing a fresh temporary folder.
 * Dispose it with `await using`.
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
  const kb = Number(new TextDecoder().decode(out.stdout).trim());
  if (!out.success || !Number.isFinite(kb) || kb <= 0) throw new Error(`No RSS for process ${pid}`);
  return kb * 1024;
}

const enc = new TextEncoder();

/**
 * A raw protocol client: writes exact bytes, reads frames with the real decoder. For tests that
 * must see every byte the server sends.
 */
export class RawClient implements AsyncDisposable {
  readonly conn: Deno.TcpConn;
  readonly #decoder = new Decoder({
    payloads: SERVER_PAYLOADS,
    maxPayload: 256 * 1024 * 1024,
    maxLine: 1 << 20,
  });
  readonly #events: DecodeEvent[] = [];
  #eof = false;
  // A read that outlived an `event()` timeout: the next call takes its bytes instead of losing them.
  #reading: Promise<Uint8Array | null> | null = null;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Connects; does not read HELLO (use `frame()` for it). */
  static async connect(port: number, hostname = "127.0.0.1"): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname, port }));
  }

  /** Writes text (no line ending added) or bytes. */
  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? enc.encode(data) : data;
    for (let off = 0; off < bytes.length;) off += await this.conn.write(bytes.subarray(off));
  }

  /** Writes one command line with CRLF. */
  line(text: string): Promise<void> {
    return this.send(text + "\r\n");
  }

  /**
   * The next decoded event, or `null` at EOF.
   * @param timeoutMs Fails the test after this long.
   */
  async event(timeoutMs = 5000): Promise<DecodeEvent | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.#events.length === 0) {
      if (this.#eof) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`No frame from server within ${timeoutMs} ms`);
      this.#reading ??= this.#read();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([
        this.#reading,
        new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left)),
      ]);
      clearTimeout(timer);
      if (chunk === "timeout") throw new Error(`No frame from server within ${timeoutMs} ms`);
      this.#reading = null;
      if (chunk === null) {
        this.#eof = true;
        continue;
      }
      this.#decoder.push(chunk);
      for (let ev = this.#decoder.next(); ev !== undefined; ev = this.#decoder.next()) {
        if (ev.type === "frame" && ev.payload) {
          this.#events.push({ ...ev, payload: ev.payload.slice() });
        } else if (ev.type === "data") this.#events.push({ type: "data", bytes: ev.bytes.slice() });
        else this.#events.push(ev);
      }
    }
    return this.#events.shift()!;
  }

  async #read(): Promise<Uint8Array | null> {
    const buf = new Uint8Array(64 * 1024);
    const n = await this.conn.read(buf).catch(() => null);
    return n === null ? null : buf.subarray(0, n);
  }

  /** The next complete frame (fails on EOF or a stream event). */
  async frame(timeoutMs = 5000): Promise<Frame> {
    const ev = await this.event(timeoutMs);
    if (ev === null) throw new Error("Connection closed by server, expected a frame");
    if (ev.type !== "frame") throw new Error(`Expected a frame, got ${ev.type}`);
    return ev;
  }

  /** The next frame as its control line text (`OK 3`, `MSG lobby bob 5`), payload as text. */
  async next(timeoutMs = 5000): Promise<string> {
    const f = await this.frame(timeoutMs);
    const head = [f.verb, ...f.args].join(" ");
    return f.payload ? `${head} ${new TextDecoder().decode(f.payload)}` : head;
  }

  /** Reads HELLO and returns its JSON. */
  async hello(): Promise<Record<string, unknown>> {
    const f = await this.frame();
    if (f.verb !== "HELLO") throw new Error(`Expected HELLO, got ${f.verb} ${f.args.join(" ")}`);
    return JSON.parse(f.args.join(" "));
  }

  /** Resolves true when the server closes the connection within the time. */
  async closed(timeoutMs = 5000): Promise<boolean> {
    try {
      for (;;) if ((await this.event(timeoutMs)) === null) return true;
    } catch {
      return false;
    }
  }

  /** Closes the socket. */
  close(): void {
    try {
      this.conn.close();
    } catch {
      // Closed.
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/** Waits until `cond()` is true, polling; throws after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
