/**
 * The protocol edge of the shared folder: paths arrive percent-encoded and are decoded here, once;
 * a {@linkcode FileError}'s kind becomes its `ERR` code and its path is shown percent-encoded.
 *
 * @module
 */

import { decodePath, encodePath } from "../../lib/protocol/encoder.ts";
import { ErrorCode } from "../../lib/protocol/errors.ts";
import { clip, type FileError, type FileErrorKind } from "./errors.ts";

/** The `ERR` code of each kind of file failure. */
export const FILE_ERROR_CODES: Readonly<Record<FileErrorKind, ErrorCode>> = {
  "bad-path": ErrorCode.BadRequest,
  "reserved": ErrorCode.Forbidden,
  "outside": ErrorCode.Forbidden,
  "read-only": ErrorCode.Forbidden,
  "not-found": ErrorCode.NotFound,
  "not-a-folder": ErrorCode.BadRequest,
  "not-a-file": ErrorCode.BadRequest,
  "exists": ErrorCode.Conflict,
  "not-empty": ErrorCode.Conflict,
  "mismatch": ErrorCode.Conflict,
  "too-large": ErrorCode.TooLarge,
  "ended": ErrorCode.Internal,
  "stale": ErrorCode.Conflict,
  "io": ErrorCode.Internal,
};

/** A file command refused, as the client is told: the `ERR` code and a text safe to send. */
export class WireError extends Error {
  /** The `ERR` code. */
  readonly code: ErrorCode;

  /**
   * @param code The `ERR` code.
   * @param message Text for the client: never holds a server-side absolute path.
   * @param options Standard error options (`cause`: the underlying error, for the log).
   */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WireError";
    this.code = code;
  }
}

/**
 * Puts a store failure in wire form: its code, and its message with the path percent-encoded.
 *
 * @param e The failure.
 * @param sent The path as the client sent it, named when the failure names no path (a refusal
 *   made before the path was decoded: read-only, too large).
 * @returns The `ERR` to send (with the same `cause`).
 * @example
 * ```ts
 * import { FileError } from "./errors.ts";
 * import { toWireError } from "./wire.ts";
 * const w = toWireError(new FileError("not-found", "get", "no such file", { path: "a b" }));
 * console.assert(w.code === 404 && w.message === 'Cannot get "a%20b": no such file');
 * ```
 */
export function toWireError(e: FileError, sent?: string): WireError {
  const text = e.path === null && !e.root && sent !== undefined
    ? `Cannot ${e.action} "${clip(sent)}": ${e.reason}`
    : e.describe(encodePath);
  const options = "cause" in e ? { cause: e.cause } : undefined;
  return new WireError(FILE_ERROR_CODES[e.kind], text, options);
}

/**
 * Decodes a path from the wire, once.
 *
 * @param wire The percent-encoded path, as sent.
 * @param action What the client tried (`get`, `upload`), for the message.
 * @returns The plain path (not yet checked: see paths.ts).
 * @throws {WireError} 400 for a bad escape or bytes that are not UTF-8.
 * @example
 * ```ts
 * import { decodeWirePath } from "./wire.ts";
 * console.assert(decodeWirePath("my%20notes.txt", "get") === "my notes.txt");
 * ```
 */
export function decodeWirePath(wire: string, action: string): string {
  const path = decodePath(wire);
  if (path === null) {
    throw new WireError(
      ErrorCode.BadRequest,
      `Cannot ${action} "${
        clip(wire)
      }": bad percent escape or not UTF-8 (write a literal % as %25)`,
    );
  }
  return path;
}
