/**
 * The logger contract every part writes to (server/observe/log.ts makes the real one).
 *
 * @module
 */

/** Fields of a log line; values are printed as they are. */
export type LogFields = Record<string, string | number | boolean | undefined>;

/** Where log lines go. */
export interface Logger {
  /** Something normal happened. */
  info(event: string, fields?: LogFields): void;
  /** Something went wrong that the server survived. */
  warn(event: string, fields?: LogFields): void;
  /** Something went wrong. */
  error(event: string, fields?: LogFields): void;
}
