/**
 * Terminal helpers of the client command line: colours (none when `NO_COLOR` is set or the
 * output is not a terminal), stable nick colours, sizes and durations for people, and a
 * password prompt that does not echo.
 *
 * @module
 */

/** An output stream the CLI writes to. */
export type OutStream = typeof Deno.stdout | typeof Deno.stderr;

/**
 * Whether to colour text written to a stream: never when `NO_COLOR` is set to anything but the
 * empty string (https://no-color.org), never when the stream is not a terminal, and never when
 * `TERM` is `dumb`.
 *
 * @param stream The stream the text goes to.
 * @returns True when ANSI colours may be used.
 * @example
 * ```ts
 * import { colorEnabled } from "./term.ts";
 * console.log(colorEnabled(Deno.stdout) ? "colours" : "plain");
 * ```
 */
export function colorEnabled(stream: OutStream = Deno.stdout): boolean {
  if ((env("NO_COLOR") ?? "") !== "") return false;
  if (env("TERM") === "dumb") return false;
  return isTerminal(stream);
}

/**
 * Whether a stream is a terminal (false when that cannot be told).
 *
 * @param stream The stream.
 * @returns True on a terminal.
 */
export function isTerminal(stream: OutStream | typeof Deno.stdin): boolean {
  try {
    return stream.isTerminal();
  } catch {
    return false;
  }
}

/**
 * Reads an environment variable, treating a denied permission as unset (the compiled
 * executables may only read the variables they were built to read).
 *
 * @param name The variable.
 * @returns Its value, or undefined.
 */
export function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** The ANSI styles the CLI uses. Each one is the identity when colours are off. */
export interface Styles {
  /** Whether styles produce escape codes. */
  readonly enabled: boolean;
  /** De-emphasised text (timestamps, notices). */
  dim(text: string): string;
  /** Emphasised text. */
  bold(text: string): string;
  /** Errors. */
  red(text: string): string;
  /** Success. */
  green(text: string): string;
  /** Warnings, reconnects. */
  yellow(text: string): string;
  /** Room names. */
  cyan(text: string): string;
  /** A nick in its own stable colour. */
  nick(name: string): string;
}

// Readable on dark and light backgrounds; no blue (hard to read on black), no white/black.
const NICK_COLORS = [31, 32, 33, 35, 36, 91, 92, 93, 94, 95, 96, 130, 142, 166] as const;

/**
 * The colour index of a nick: FNV-1a of its lowercase form, so `Bob` and `bob` (the same nick to
 * the server) get the same colour in every run.
 *
 * @param name The nick.
 * @returns An index into the nick palette.
 * @example
 * ```ts
 * import { nickColorIndex } from "./term.ts";
 * console.assert(nickColorIndex("Bob") === nickColorIndex("bob"));
 * ```
 */
export function nickColorIndex(name: string): number {
  let h = 0x811c9dc5;
  for (const ch of name.toLowerCase()) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % NICK_COLORS.length;
}

/**
 * Makes the styles for one stream.
 *
 * @param enabled Whether to emit escape codes (see {@linkcode colorEnabled}).
 * @returns The styles.
 */
export function makeStyles(enabled: boolean): Styles {
  const wrap = (open: string, close: string) => (text: string) =>
    enabled ? `\x1b[${open}m${text}\x1b[${close}m` : text;
  return {
    enabled,
    dim: wrap("2", "22"),
    bold: wrap("1", "22"),
    red: wrap("31", "39"),
    green: wrap("32", "39"),
    yellow: wrap("33", "39"),
    cyan: wrap("36", "39"),
    nick(name: string): string {
      if (!enabled) return name;
      const c = NICK_COLORS[nickColorIndex(name)]!;
      return c < 98 ? `\x1b[${c}m${name}\x1b[39m` : `\x1b[38;5;${c}m${name}\x1b[39m`;
    },
  };
}

/**
 * A byte count for people: `512 B`, `1.5 KiB`, `12.3 MiB`.
 *
 * @param bytes The count.
 * @returns The text.
 * @example
 * ```ts
 * import { formatBytes } from "./term.ts";
 * console.assert(formatBytes(1536) === "1.5 KiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

/**
 * A duration in seconds as `m:ss` or `h:mm:ss`.
 *
 * @param seconds The duration.
 * @returns The text, or `--:--` when unknown.
 */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/**
 * Milliseconds with a precision that suits their size: `0.412 ms`, `12.4 ms`, `1530 ms`.
 *
 * @param ms The duration.
 * @returns The text.
 */
export function formatMs(ms: number): string {
  const a = Math.abs(ms);
  const digits = a < 1 ? 3 : a < 100 ? 2 : a < 1000 ? 1 : 0;
  return `${ms.toFixed(digits)} ms`;
}

/**
 * A local wall-clock time `HH:MM:SS` for message lines.
 *
 * @param date The time.
 * @returns The text.
 */
export function clock(date: Date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`;
}

/**
 * The visible width of text (escape codes removed; one column per code point).
 *
 * @param text The text.
 * @returns Columns.
 */
export function visibleWidth(text: string): number {
  // deno-lint-ignore no-control-regex
  return [...text.replace(/\x1b\[[0-9;]*m/g, "")].length;
}

/** The prompt was answered with Ctrl-C or Ctrl-D. */
export class PromptCancelled extends Error {
  /** @param message What happened. */
  constructor(message = "Cancelled") {
    super(message);
    this.name = "PromptCancelled";
  }
}

/**
 * Asks for a secret on the terminal without echoing it (raw mode; Backspace works).
 *
 * @param question The prompt, written to stderr.
 * @returns What was typed.
 * @throws {Error} When stdin is not a terminal.
 * @throws {PromptCancelled} On Ctrl-C or Ctrl-D.
 */
export async function promptSecret(question: string): Promise<string> {
  if (!isTerminal(Deno.stdin)) {
    throw new Error("Cannot ask for a password: standard input is not a terminal");
  }
  const enc = new TextEncoder();
  await Deno.stderr.write(enc.encode(question));
  Deno.stdin.setRaw(true);
  const bytes: number[] = [];
  const buf = new Uint8Array(64);
  try {
    for (;;) {
      const n = await Deno.stdin.read(buf);
      if (n === null) throw new PromptCancelled();
      for (const b of buf.subarray(0, n)) {
        if (b === 13 || b === 10) return new TextDecoder().decode(new Uint8Array(bytes));
        if (b === 3 || b === 4) throw new PromptCancelled();
        if (b === 127 || b === 8) {
          // Remove a whole UTF-8 character.
          while (bytes.length > 0 && ((bytes.pop()! & 0xc0) === 0x80));
        } else if (b >= 32 || b === 9) bytes.push(b);
      }
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(enc.encode("\n"));
  }
}

/**
 * Makes text from the network safe to print on a terminal: control characters (escape
 * sequences that could clear the screen, move the cursor or retitle the window, bells, carriage
 * returns) are shown in caret notation (`^[`, `^G`, `^M`); tab and line feed stay.
 *
 * @param text Untrusted text.
 * @returns Text with no control characters but tab and line feed.
 * @example
 * ```ts
 * import { printable } from "./term.ts";
 * console.assert(printable("\x1b[2Jhi\x07") === "^[[2Jhi^G");
 * ```
 */
export function printable(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code < 0x20) return "^" + String.fromCharCode(code + 64);
    if (code === 0x7f) return "^?";
    return `\\x${code.toString(16)}`;
  });
}
