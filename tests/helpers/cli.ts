/**
 * Helpers of the CLI tests: run `main.ts client ...` as a subprocess with exactly the permissions
 * baked into the compiled `switchboard` (so these tests also prove those permissions suffice),
 * either to completion or as a live process whose output is watched line by line.
 *
 * @module
 */

import { clientPermissions } from "../../.ci/compile.ts";
import { encodeText } from "./bytes.ts";
import { ROOT } from "./servers.ts";

/** Arguments of `deno` that run the client CLI. */
export const CLIENT_RUN: string[] = [
  "run",
  "--no-prompt",
  ...clientPermissions(),
  `${ROOT}main.ts`,
  "client",
];

/**
 * The CLI flags that point it at a loopback server.
 *
 * @param port The server's port.
 * @returns `--host 127.0.0.1 --port <port>`.
 */
export function addressArgs(port: number): string[] {
  return ["--host", "127.0.0.1", "--port", String(port)];
}

/** An empty folder of this test process for the CLI's config and state (contexts, history). */
const OWN_FOLDER = Deno.makeTempDirSync({ prefix: "sb-cli-home-" });
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(OWN_FOLDER, { recursive: true });
  } catch {
    // Gone already.
  }
});

/** Variables that would change what the CLI does, blanked so the developer's shell does not leak in. */
const CLEAN_ENV: Record<string, string> = {
  SWITCHBOARD_CONTEXT: "",
  XDG_CONFIG_HOME: `${OWN_FOLDER}/config`,
  XDG_STATE_HOME: `${OWN_FOLDER}/state`,
  SWITCHBOARD_URL: "",
  SWITCHBOARD_NICK: "",
  SWITCHBOARD_CA: "",
  SWITCHBOARD_USER: "",
  SWITCHBOARD_PASSWORD: "",
  SWITCHBOARD_TOKEN: "",
};

/** Options of {@linkcode runCli} and {@linkcode spawnCli}. */
export interface CliOptions {
  /** More environment variables. */
  env?: Record<string, string>;
  /** Text for standard input (runCli); without it stdin is empty. */
  stdin?: string;
  /** Working directory. */
  cwd?: string;
  /**
   * Kill the process after this many milliseconds.
   * @default {20000}
   */
  timeout?: number;
}

/** What a finished CLI run printed. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI to completion.
 *
 * @param args Arguments after `switchboard`.
 * @param options See {@linkcode CliOptions}.
 * @returns Exit code and output.
 */
export async function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const p = spawnCli(args, { ...options, stdin: undefined });
  if (options.stdin !== undefined) await p.write(options.stdin);
  await p.closeStdin();
  const code = await p.exit(options.timeout ?? 20_000);
  return { code, stdout: p.stdout, stderr: p.stderr };
}

/** A running CLI process. */
export interface CliProcess extends AsyncDisposable {
  /** The child. */
  child: Deno.ChildProcess;
  /** Standard output so far. */
  readonly stdout: string;
  /** Standard error so far. */
  readonly stderr: string;
  /** Writes to standard input. */
  write(text: string): Promise<void>;
  /** Closes standard input. */
  closeStdin(): Promise<void>;
  /**
   * Waits until standard output (or error) matches, counting from `from` characters in.
   * @returns The match.
   */
  waitFor(
    re: RegExp,
    options?: { timeout?: number; stream?: "stdout" | "stderr"; from?: number },
  ): Promise<RegExpExecArray>;
  /** Waits for the exit code (kills the process after the timeout and fails). */
  exit(timeout?: number): Promise<number>;
  /** Sends a signal. */
  kill(signal?: Deno.Signal): void;
}

/**
 * Starts the CLI with piped standard streams.
 *
 * @param args Arguments after `switchboard`.
 * @param options See {@linkcode CliOptions}.
 * @returns The live process.
 */
export function spawnCli(args: string[], options: CliOptions = {}): CliProcess {
  return spawnDeno([...CLIENT_RUN, ...args], options);
}

/**
 * Starts `deno` with the given arguments and piped standard streams.
 *
 * @param denoArgs Arguments after `deno`.
 * @param options See {@linkcode CliOptions}.
 * @returns The live process.
 */
export function spawnDeno(denoArgs: string[], options: CliOptions = {}): CliProcess {
  return spawnProgram(Deno.execPath(), denoArgs, options);
}

/**
 * Starts a program with piped standard streams (a compiled executable, `deno`).
 *
 * @param program Path of the executable.
 * @param args Its arguments.
 * @param options See {@linkcode CliOptions}.
 * @returns The live process.
 */
export function spawnProgram(
  program: string,
  args: string[],
  options: CliOptions = {},
): CliProcess {
  const child = new Deno.Command(program, {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    cwd: options.cwd,
    env: { ...CLEAN_ENV, NO_COLOR: "1", ...options.env },
  }).spawn();
  const out = { stdout: "", stderr: "" };
  let changed: (() => void) | null = null;
  const pump = async (stream: ReadableStream<Uint8Array>, key: "stdout" | "stderr") => {
    const dec = new TextDecoder();
    try {
      for await (const chunk of stream) {
        out[key] += dec.decode(chunk, { stream: true });
        changed?.();
      }
    } catch {
      // Closed.
    }
  };
  const pumps = Promise.all([pump(child.stdout, "stdout"), pump(child.stderr, "stderr")]);
  let exited = false;
  const status = child.status.then(async (s) => {
    await pumps;
    exited = true;
    changed?.();
    return s;
  });
  const writer = child.stdin.getWriter();
  let stdinOpen = true;
  const kill = (signal: Deno.Signal = "SIGKILL") => {
    try {
      child.kill(signal);
    } catch {
      // Exited.
    }
  };
  return {
    child,
    get stdout() {
      return out.stdout;
    },
    get stderr() {
      return out.stderr;
    },
    async write(text: string) {
      await writer.write(encodeText(text));
    },
    async closeStdin() {
      if (!stdinOpen) return;
      stdinOpen = false;
      await writer.close().catch(() => {});
    },
    async waitFor(re, o = {}) {
      const stream = o.stream ?? "stdout";
      const deadline = Date.now() + (o.timeout ?? 10_000);
      for (;;) {
        const text = out[stream].slice(o.from ?? 0);
        const m = re.exec(text);
        if (m) return m;
        if (exited) {
          throw new Error(
            `Process exited before ${stream} matched ${re}\nstdout:\n${out.stdout}\nstderr:\n${out.stderr}`,
          );
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new Error(
            `Timed out waiting for ${stream} to match ${re}\nstdout:\n${out.stdout}\nstderr:\n${out.stderr}`,
          );
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          changed = resolve;
          timer = setTimeout(resolve, Math.min(left, 200));
        });
        clearTimeout(timer);
        changed = null;
      }
    },
    async exit(timeout = 20_000) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const result = await Promise.race([
        status,
        new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), timeout)),
      ]);
      clearTimeout(timer);
      if (result === "timeout") {
        kill();
        await status;
        throw new Error(
          `CLI did not exit within ${timeout} ms\nstdout:\n${out.stdout}\nstderr:\n${out.stderr}`,
        );
      }
      return result.code;
    },
    kill,
    async [Symbol.asyncDispose]() {
      await writer.close().catch(() => {});
      kill();
      await status;
    },
  };
}
