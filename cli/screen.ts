/**
 * Where the chat's text goes: above the line being typed on a terminal (which is then redrawn as
 * it was), plain lines otherwise.
 *
 * @module
 */

import process from "node:process";
import * as readline from "node:readline";
import { visibleWidth } from "./term.ts";

/** The chat's output: prints lines without disturbing what is being typed. */
export class Screen {
  readonly #tty: boolean;
  #rl: readline.Interface | null = null;
  readonly #enc = new TextEncoder();

  /**
   * Makes the screen.
   *
   * @param tty Whether standard input and output are a terminal.
   */
  constructor(tty: boolean) {
    this.#tty = tty;
  }

  /**
   * Draws around this readline from now on.
   *
   * @param rl The chat's input line.
   */
  attach(rl: readline.Interface): void {
    this.#rl = rl;
    // Once closed (Ctrl-D), lines still coming are written plainly: no prompt to redraw.
    rl.on("close", () => {
      if (this.#rl === rl) this.#rl = null;
    });
  }

  /**
   * Prints a line above what is being typed, then redraws the prompt and the typed text.
   *
   * @param line The line, without its line ending.
   */
  print(line: string): void {
    const rl = this.#rl;
    if (!this.#tty || rl === null) {
      const bytes = this.#enc.encode(line + "\n");
      for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
      return;
    }
    const out = process.stdout;
    const rows = rl.getCursorPos().rows;
    if (rows > 0) readline.moveCursor(out, 0, -rows);
    readline.cursorTo(out, 0);
    readline.clearScreenDown(out);
    out.write(line + "\n");
    // readline redraws by first moving up to where it drew the prompt last time; the cursor is
    // already on the prompt's first row, so tell it so (Node's and Deno's readline keep that
    // row count in `prevRows`).
    (rl as unknown as { prevRows?: number }).prevRows = 0;
    rl.prompt(true);
  }

  /**
   * Erases the line readline echoed when Enter was pressed (it is printed again, formatted).
   *
   * @param prompt The prompt it was typed after.
   * @param line What was typed.
   */
  eraseEcho(prompt: string, line: string): void {
    if (!this.#tty) return;
    const cols = process.stdout.columns || 80;
    const width = visibleWidth(prompt + line);
    const rows = Math.max(1, Math.ceil(width / cols));
    readline.moveCursor(process.stdout, 0, -rows);
    readline.cursorTo(process.stdout, 0);
    readline.clearScreenDown(process.stdout);
  }
}
