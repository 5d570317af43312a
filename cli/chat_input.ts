/**
 * The chat's input line helpers: Tab completion of slash commands, nicks (those of the current
 * room first) and rooms; and the input history kept across runs in the user's state folder
 * (`history` there, one line per entry, oldest first, at most {@linkcode HISTORY_LINES}); and
 * the input loop itself ({@linkcode ChatInput}).
 *
 * @module
 */

import { join } from "node:path";
import process from "node:process";
import * as readline from "node:readline";
import { SLASH_COMMANDS } from "./slash.ts";
import { clientFolder, writePrivateFile } from "./paths.ts";

/** Most input lines the history file keeps (the oldest go first). */
export const HISTORY_LINES = 1000;

/** What the completer knows when Tab is pressed. */
export interface CompletionState {
  /** Nicks in the current room (yours excluded). */
  here: readonly string[];
  /** Nicks seen elsewhere (other rooms, direct messages). */
  elsewhere: readonly string[];
  /** Room names: joined ones and those the server listed. */
  rooms: readonly string[];
}

/** Slash commands that take a room, and those whose first word is a nick. */
const ROOM_ARG = new Set(["join", "j", "leave", "part", "who"]);
const NICK_ARG = new Set(["msg", "tell"]);

function matching(words: readonly string[], prefix: string): string[] {
  const p = prefix.toLowerCase();
  const seen = new Set<string>();
  const out: string[] = [];
  for (const w of words) {
    const k = w.toLowerCase();
    if (!k.startsWith(p) || seen.has(k)) continue;
    seen.add(k);
    out.push(w);
  }
  return out;
}

/**
 * Completes the word before the cursor, as `node:readline`'s completer does: the candidates
 * (whole replacements of that word) and the word itself. A nick completed at the start of the
 * line gets `: ` after it (addressing someone, as irssi does), elsewhere a space; commands and
 * rooms get a space.
 *
 * @param line The line up to the cursor.
 * @param state The nicks and rooms known.
 * @returns `[candidates, word]`; no candidates when nothing fits.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { completeLine } from "./chat_input.ts";
 * const state = { here: ["bob"], elsewhere: ["bea"], rooms: ["ops"] };
 * assert.deepEqual(completeLine("/jo", state), [["/join "], "/jo"]);
 * assert.deepEqual(completeLine("b", state), [["bob: ", "bea: "], "b"]);
 * assert.deepEqual(completeLine("/join o", state), [["ops "], "o"]);
 * ```
 */
export function completeLine(line: string, state: CompletionState): [string[], string] {
  const m = /(\S*)$/.exec(line)!;
  const word = m[1]!;
  const before = line.slice(0, line.length - word.length);
  if (before === "" && word.startsWith("/") && !word.startsWith("//")) {
    const primary = SLASH_COMMANDS.map((c) => `/${c.names[0]}`);
    // The main names; aliases only when no main name fits (`/part`).
    let hits = matching(primary, word);
    if (hits.length === 0) {
      hits = matching(SLASH_COMMANDS.flatMap((c) => c.names.map((n) => `/${n}`)), word);
    }
    return [hits.map((h) => `${h} `), word];
  }
  const cmd = /^\/(\S+)\s+(\S+\s+)?$/.exec(before);
  const nicks = [...state.here, ...state.elsewhere];
  if (cmd !== null) {
    const name = cmd[1]!.toLowerCase();
    const argIndex = cmd[2] === undefined ? 0 : 1;
    if (ROOM_ARG.has(name) && argIndex === 0) {
      return [matching(state.rooms, word).map((r) => `${r} `), word];
    }
    if (NICK_ARG.has(name) && argIndex === 0) {
      return [matching(nicks, word).map((n) => `${n} `), word];
    }
  }
  if (word === "") return [[], word];
  const suffix = before === "" ? ": " : " ";
  return [matching(nicks, word).map((n) => `${n}${suffix}`), word];
}

/**
 * The history file's path, or undefined when there is no state folder.
 *
 * @returns `<state folder>/history`.
 */
export function historyPath(): string | undefined {
  const dir = clientFolder("state");
  return dir === undefined ? undefined : join(dir, "history");
}

/**
 * Reads the saved input lines, newest first (as `node:readline` takes them).
 *
 * @param path The history file.
 * @returns The lines; none when the file is missing or unreadable.
 */
export async function loadHistory(path: string | undefined): Promise<string[]> {
  if (path === undefined) return [];
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return [];
  }
  return text.split("\n").filter((l) => l !== "").slice(-HISTORY_LINES).reverse();
}

/**
 * Saves input lines (newest first, as readline keeps them), capped at
 * {@linkcode HISTORY_LINES}, readable by the user only.
 *
 * @param path The history file.
 * @param lines The lines, newest first.
 */
export async function saveHistory(path: string, lines: readonly string[]): Promise<void> {
  const kept = lines.slice(0, HISTORY_LINES).filter((l) => !l.includes("\n")).reverse();
  await writePrivateFile(path, kept.length === 0 ? "" : `${kept.join("\n")}\n`);
}

/** Options of {@linkcode ChatInput}. */
export interface ChatInputOptions {
  /** Standard input and output are a terminal: line editing, prompt, completion, history. */
  tty: boolean;
  /** The first prompt. */
  prompt: string;
  /** What Tab completes from, asked at each Tab (it may look things up). */
  completion: () => Promise<CompletionState>;
  /**
   * The file input lines are kept in across runs (terminal only).
   * @default {historyPath()}
   */
  historyFile?: string;
}

/**
 * The chat's input: lines typed (or read from a pipe), one at a time. On a terminal it has line
 * editing, Tab completion and the history of earlier runs; Ctrl-C drops the typed text, and at an
 * empty prompt ends the input ({@linkcode ChatInput.interrupted}).
 */
export class ChatInput {
  /** The readline interface (the screen draws around it). */
  readonly rl: readline.Interface;
  readonly #tty: boolean;
  readonly #lines: string[] = [];
  #waiter: (() => void) | null = null;
  #ended = false;
  #interrupted = false;
  #saving: Promise<void> = Promise.resolve();

  private constructor(options: ChatInputOptions, history: string[], file: string | undefined) {
    this.#tty = options.tty;
    const completer = (line: string, done: (e?: null, r?: [string[], string]) => void) => {
      options.completion().then(
        (state) => done(null, completeLine(line, state)),
        () => done(null, [[], line]),
      );
    };
    this.rl = readline.createInterface({
      input: process.stdin,
      output: this.#tty ? process.stdout : undefined,
      terminal: this.#tty,
      historySize: HISTORY_LINES,
      history,
      prompt: options.prompt,
      ...(this.#tty ? { completer } : {}),
    });
    const rl = this.rl;
    if (this.#tty && file !== undefined) {
      rl.on("history", (lines: string[]) => {
        const copy = [...lines];
        this.#saving = this.#saving.then(() => saveHistory(file, copy)).catch(() => {});
      });
    }
    rl.on("line", (line: string) => {
      this.#lines.push(line);
      this.#waiter?.();
    });
    rl.on("close", () => {
      // End of input: the lines already read still count.
      this.#ended = true;
      this.#waiter?.();
    });
    rl.on("SIGINT", () => {
      if (rl.line !== "") {
        // Ctrl-C with text typed: drop the text and start history over, like a shell.
        const state = rl as unknown as { line: string; cursor: number; historyIndex: number };
        state.line = "";
        state.cursor = 0;
        state.historyIndex = -1;
        rl.prompt(false);
      } else {
        this.#interrupted = true;
        this.end();
      }
    });
  }

  /**
   * Opens the input, with the saved history on a terminal.
   *
   * @param options See {@linkcode ChatInputOptions}.
   * @returns The input.
   */
  static async open(options: ChatInputOptions): Promise<ChatInput> {
    const file = options.tty ? (options.historyFile ?? historyPath()) : undefined;
    return new ChatInput(options, await loadHistory(file), file);
  }

  /** True once Ctrl-C at an empty prompt ended the input. */
  get interrupted(): boolean {
    return this.#interrupted;
  }

  /**
   * The next line, or null once the input ended.
   *
   * @returns The line as typed.
   */
  async next(): Promise<string | null> {
    while (this.#lines.length === 0 && !this.#ended) {
      await new Promise<void>((resolve) => this.#waiter = resolve);
      this.#waiter = null;
    }
    return this.#lines.shift() ?? null;
  }

  /** Ends the input now: lines not read yet are dropped. */
  end(): void {
    this.#ended = true;
    this.#lines.length = 0;
    this.#waiter?.();
  }

  /** Closes the terminal side and waits for the history to be saved. */
  async close(): Promise<void> {
    this.rl.close();
    await this.#saving;
  }
}
