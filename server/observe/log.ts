/**
 * Server log lines: human-readable by default, one JSON object per line with `--log-format json`.
 *
 * @module
 */

import type { LogFields, Logger } from "../core/logger.ts";

export type { LogFields, Logger };

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /**
   * `text` or `json`.
   * @default {"text"}
   */
  format?: "text" | "json";
  /**
   * Where lines are written.
   * @default {console.error}
   */
  write?: (line: string) => void;
}

function quote(value: string | number | boolean): string {
  const s = String(value);
  return /^[^\s"=]+$/.test(s) ? s : JSON.stringify(s);
}

/**
 * Makes a logger.
 *
 * @param options See {@linkcode LoggerOptions}.
 * @returns The logger.
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * const lines: string[] = [];
 * createLogger({ write: (l) => lines.push(l) }).info("connect", { peer: "127.0.0.1:5000" });
 * console.assert(lines[0]!.includes("connect peer=127.0.0.1:5000"));
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const write = options.write ?? writeStderr;
  const json = options.format === "json";
  function log(level: string, event: string, fields: LogFields = {}): void {
    const ts = new Date().toISOString();
    if (json) {
      write(JSON.stringify({ ts, level, event, ...fields }));
      return;
    }
    let line = `${ts} ${level.toUpperCase().padEnd(5)} ${event}`;
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) line += ` ${k}=${quote(v)}`;
    write(line);
  }
  return {
    info: (event, fields) => log("info", event, fields),
    warn: (event, fields) => log("warn", event, fields),
    error: (event, fields) => log("error", event, fields),
  };
}

const lineEncoder = new TextEncoder();

/**
 * Writes a line to stderr directly: a third of the cost of `console.error`, which formats its
 * arguments first (the connect and disconnect lines were a quarter of the server's time under
 * connection churn).
 */
function writeStderr(line: string): void {
  try {
    const bytes = lineEncoder.encode(line + "\n");
    for (let off = 0; off < bytes.length;) off += Deno.stderr.writeSync(bytes.subarray(off));
  } catch {
    console.error(line);
  }
}

/** A logger that drops everything (for tests and embedding). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
