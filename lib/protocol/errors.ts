/**
 * Error codes of protocol v1 (they follow HTTP's meanings) and the decoder's typed error.
 *
 * @module
 */

/** Every `ERR` code the protocol uses. */
export const ErrorCode = {
  /** Malformed command. */
  BadRequest: 400,
  /** Authentication needed or failed. */
  Unauthorized: 401,
  /** Forbidden: permission, or a path outside the shared root. */
  Forbidden: 403,
  /** Not found. */
  NotFound: 404,
  /** Conflict: nick in use, checksum mismatch, folder not empty. */
  Conflict: 409,
  /** Too large: line, payload, file. */
  TooLarge: 413,
  /** Too many: a rate limit. */
  TooMany: 429,
  /** Internal error. */
  Internal: 500,
  /** Unavailable: server full, shutting down. */
  Unavailable: 503,
} as const;

/** One of the protocol's error codes. */
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode];

/**
 * A protocol error: carries the `ERR` code and whether framing was lost.
 *
 * When `fatal` is true the byte stream can no longer be trusted: the server answers
 * `ERR`, then `BYE`, then closes.
 *
 * @example
 * ```ts
 * import { ProtocolError } from "./errors.ts";
 * const e = new ProtocolError(413, "Line too long: over max_line (4096 bytes)", true);
 * console.assert(e.code === 413 && e.fatal);
 * ```
 */
export class ProtocolError extends Error {
  /** The `ERR` code. */
  readonly code: ErrorCode;
  /** True when framing is lost and the connection must close. */
  readonly fatal: boolean;

  /**
   * @param code The `ERR` code.
   * @param message Human-readable text sent after the code.
   * @param fatal True when framing is lost.
   * @param options Standard error options (`cause`).
   */
  constructor(code: ErrorCode, message: string, fatal = false, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
    this.code = code;
    this.fatal = fatal;
  }
}

/**
 * An `ERR` reply received by a client, as a rejected promise.
 *
 * @example
 * ```ts
 * import { ServerError } from "./errors.ts";
 * const e = new ServerError(404, "No such room: ops");
 * console.assert(e.code === 404);
 * ```
 */
export class ServerError extends Error {
  /** The `ERR` code the server sent. */
  readonly code: number;

  /**
   * An `ERR` reply as an error.
   *
   * @param code The `ERR` code the server sent.
   * @param message The text the server sent.
   */
  constructor(code: number, message: string) {
    super(`${code} ${message}`);
    this.name = "ServerError";
    this.code = code;
  }
}
