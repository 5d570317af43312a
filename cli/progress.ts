/**
 * A progress bar for file transfers: bytes, percentage, rate and ETA on one line of a terminal,
 * redrawn at most ten times a second. Nothing at all is written when the stream is not a
 * terminal.
 *
 * @module
 */

import { formatBytes, formatEta, isTerminal, visibleWidth } from "./term.ts";

/** Options of {@linkcode ProgressBar}. */
export interface ProgressOptions {
  /**
   * Where to draw.
   * @default {Deno.stderr}
   */
  stream?: typeof Deno.stderr | typeof Deno.stdout;
  /**
   * Whether to draw at all.
   * @default {true when the stream is a terminal}
   */
  enabled?: boolean;
  /**
   * The clock, milliseconds (for tests).
   * @default {performance.now}
   */
  now?: () => number;
  /**
   * Terminal width in columns.
   * @default {the console's width, or 80}
   */
  columns?: () => number;
  /**
   * Least time between two redraws, milliseconds.
   * @default {100}
   */
  interval?: number;
}

/** What one line of the bar shows. */
export interface ProgressState {
  /** What is being transferred (a file name). */
  label: string;
  /** Bytes done. */
  done: number;
  /** Bytes in all. */
  total: number;
  /** Bytes per second, or NaN when not known yet. */
  rate: number;
}

/**
 * Renders one line of the bar to fit `columns`: `name  45% [=====>    ] 1.2/2.6 GiB 110 MiB/s ETA 0:12`.
 *
 * @param s What to show.
 * @param columns Width to fit in.
 * @returns The line (no line ending).
 * @example
 * ```ts
 * import { renderProgress } from "./progress.ts";
 * const line = renderProgress({ label: "a.iso", done: 512, total: 1024, rate: 256 }, 80);
 * console.assert(line.includes(" 50% ") && line.includes("ETA 0:02"));
 * ```
 */
export function renderProgress(s: ProgressState, columns: number): string {
  const pct = s.total > 0 ? Math.min(100, Math.floor((s.done / s.total) * 100)) : 100;
  const bytes = `${formatBytes(s.done)} / ${formatBytes(s.total)}`;
  const rate = Number.isFinite(s.rate) && s.rate > 0 ? `${formatBytes(s.rate)}/s` : "--/s";
  const eta = s.done >= s.total
    ? "done"
    : `ETA ${formatEta(Number.isFinite(s.rate) && s.rate > 0 ? (s.total - s.done) / s.rate : NaN)}`;
  const right = `${String(pct).padStart(3)}% %BAR% ${bytes}  ${rate}  ${eta}`;
  const fixed = visibleWidth(right.replace("%BAR%", ""));
  // Label gets up to a third of the line; the bar whatever is left (at least 10, or none).
  const maxLabel = Math.max(8, Math.floor(columns / 3));
  const label = [...s.label].length > maxLabel
    ? "…" + [...s.label].slice(-(maxLabel - 1)).join("")
    : s.label;
  let barWidth = columns - 1 - visibleWidth(label) - 2 - fixed - 2;
  if (barWidth < 10) barWidth = 0;
  let bar = "";
  if (barWidth > 0) {
    const inner = barWidth - 2;
    const filled = s.total > 0 ? Math.min(inner, Math.floor((s.done / s.total) * inner)) : inner;
    bar = "[" + "=".repeat(filled) + (filled < inner ? ">" + " ".repeat(inner - filled - 1) : "") +
      "]";
  }
  const line = `${label}  ${right.replace("%BAR% ", bar === "" ? "" : bar + " ")}`;
  return [...line].slice(0, Math.max(0, columns - 1)).join("");
}

/** A progress bar on one terminal line. */
export class ProgressBar {
  #label: string;
  readonly #stream: typeof Deno.stderr | typeof Deno.stdout;
  readonly #enabled: boolean;
  readonly #now: () => number;
  readonly #columns: () => number;
  readonly #interval: number;
  #lastDraw = -Infinity;
  #samples: { t: number; done: number }[] = [];
  #last = { done: 0, total: 0 };
  #drawn = false;
  readonly #enc = new TextEncoder();

  /**
   * @param label What is being transferred.
   * @param options See {@linkcode ProgressOptions}.
   */
  constructor(label: string, options: ProgressOptions = {}) {
    this.#label = label;
    this.#stream = options.stream ?? Deno.stderr;
    this.#enabled = options.enabled ?? isTerminal(this.#stream);
    this.#now = options.now ?? (() => performance.now());
    this.#columns = options.columns ?? (() => {
      try {
        return Deno.consoleSize().columns || 80;
      } catch {
        return 80;
      }
    });
    this.#interval = options.interval ?? 100;
  }

  /** What is being transferred: a tree transfer shows its file count here (`12/1000 files`). */
  set label(text: string) {
    this.#label = text;
  }

  /** Whether anything is drawn. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /**
   * Bytes per second over the last two seconds (NaN until two samples exist).
   */
  get rate(): number {
    const s = this.#samples;
    if (s.length < 2) return NaN;
    const first = s[0]!;
    const last = s[s.length - 1]!;
    const dt = (last.t - first.t) / 1000;
    return dt > 0 ? (last.done - first.done) / dt : NaN;
  }

  /**
   * Records progress and redraws when due.
   *
   * @param p Bytes done and in all.
   */
  update(p: { done: number; total: number }): void {
    const t = this.#now();
    this.#last = p;
    this.#samples.push({ t, done: p.done });
    while (this.#samples.length > 2 && t - this.#samples[1]!.t >= 2000) this.#samples.shift();
    if (this.#samples.length > 1000) this.#samples.splice(1, this.#samples.length - 500);
    if (t - this.#lastDraw >= this.#interval) this.#draw(t);
  }

  #draw(t: number): void {
    if (!this.#enabled) return;
    this.#lastDraw = t;
    const line = renderProgress(
      { label: this.#label, ...this.#last, rate: this.rate },
      this.#columns(),
    );
    this.#write(`\r${line}\x1b[K`);
    this.#drawn = true;
  }

  #write(text: string): void {
    const bytes = this.#enc.encode(text);
    try {
      for (let off = 0; off < bytes.length;) off += this.#stream.writeSync(bytes.subarray(off));
    } catch {
      // The terminal went away; progress is not worth failing for.
    }
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    if (!this.#enabled) return;
    this.#draw(this.#now());
    this.#write("\n");
    this.#drawn = false;
  }

  /** Erases the bar (before an error message). */
  clear(): void {
    if (!this.#enabled || !this.#drawn) return;
    this.#write("\r\x1b[K");
    this.#drawn = false;
  }
}
