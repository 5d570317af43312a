/**
 * Real terminals for the CLI tests: a tmux server of our own per test, running the CLI, whose
 * screen is read as text.
 *
 * @module
 */

import { decodeText } from "./bytes.ts";
import { CLIENT_RUN } from "./cli.ts";
import { waitFor } from "./wait.ts";

/**
 * The tmux version, or null when tmux is not installed.
 *
 * @returns `tmux 3.3a`, or null.
 */
export function tmuxVersion(): string | null {
  try {
    const out = new Deno.Command("tmux", { args: ["-V"], stdout: "piped", stderr: "null" })
      .outputSync();
    return out.success ? decodeText(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

/** A tmux server of our own (its own socket), with one session running a command. */
export class Tmux implements AsyncDisposable {
  readonly #socket: string;
  readonly #dir: string;

  private constructor(dir: string) {
    this.#dir = dir;
    this.#socket = `${dir}/tmux.sock`;
  }

  static async start(command: string[], env: Record<string, string>): Promise<Tmux> {
    const dir = await Deno.makeTempDir({ prefix: "sb-tmux-" });
    const t = new Tmux(dir);
    // The CLI's own files (history, contexts) go to this test's folder, never the user's.
    const own = { XDG_STATE_HOME: `${dir}/state`, XDG_CONFIG_HOME: `${dir}/config`, ...env };
    await t.run(["new-session", "-d", "-x", "100", "-y", "24", "-s", "chat", ...command], own);
    return t;
  }

  async run(args: string[], env: Record<string, string> = {}): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-S", this.#socket, "-f", "/dev/null", ...args],
      stdout: "piped",
      stderr: "piped",
      env,
    }).output();
    const dec = new TextDecoder();
    if (!out.success) throw new Error(`tmux ${args[0]} failed: ${dec.decode(out.stderr)}`);
    return dec.decode(out.stdout);
  }

  /** Types text literally (no key names). */
  type(text: string): Promise<string> {
    return this.run(["send-keys", "-t", "chat", "-l", text]);
  }

  /** Presses keys by name (`Enter`, `Up`, `C-d`). */
  keys(...names: string[]): Promise<string> {
    return this.run(["send-keys", "-t", "chat", ...names]);
  }

  /** The screen as text, trailing blank lines dropped; with `escapes`, colour codes kept. */
  async screen(escapes = false): Promise<string[]> {
    const text = await this.run(["capture-pane", "-p", "-t", "chat", ...(escapes ? ["-e"] : [])]);
    const lines = text.split("\n").map((l) => l.replace(/\s+$/, ""));
    while (lines.length > 0 && lines.at(-1) === "") lines.pop();
    return lines;
  }

  async waitScreen(
    test: (lines: string[]) => boolean,
    what: string,
    timeout = 10_000,
  ): Promise<string[]> {
    let last: string[] = [];
    try {
      await waitFor(async () => test(last = await this.screen()), timeout, what);
    } catch (e) {
      throw new Error(`${(e as Error).message}; the screen:\n${last.join("\n")}`);
    }
    return last;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.run(["kill-server"]).catch(() => {});
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

/**
 * Runs the CLI with `args` in a tmux session of its own. When the CLI exits, the screen says
 * `<command> exited with <code>` and the session stays up for a minute to be read.
 */
export function startCli(args: string[], env: Record<string, string>): Promise<Tmux> {
  const cli = [Deno.execPath(), ...CLIENT_RUN, ...args];
  return Tmux.start(
    ["sh", "-c", `"$@"; echo "${args[0]} exited with $?"; sleep 60`, "sh", ...cli],
    env,
  );
}
