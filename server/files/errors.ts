/**
 * What can go wrong with the shared folder, in the folder's own terms: a {@linkcode FileError}
 * has a {@linkcode FileErrorKind} and a message for people, naming paths as plain strings. The
 * protocol edge (wire.ts) turns kinds into `ERR` codes and shows paths percent-encoded.
 *
 * @module
 */

/** Why a file operation was refused or failed. */
export type FileErrorKind =
  /** The path breaks a lexical rule (empty, too long, NUL, backslash, absolute, `.`, `..`). */
  | "bad-path"
  /** The path names an upload in progress (a name kept for temporary files). */
  | "reserved"
  /** The path leads outside the shared folder, or through a symlink loop. */
  | "outside"
  /** The server refuses changes. */
  | "read-only"
  /** Nothing is there. */
  | "not-found"
  /** A folder was wanted and a file is there. */
  | "not-a-folder"
  /** A file was wanted and a folder (or a special file) is there. */
  | "not-a-file"
  /** Something is in the way: a folder has the upload's name, or a file is where its folder goes. */
  | "exists"
  /** The folder to delete is not empty. */
  | "not-empty"
  /** The upload's content differs from its announced sha256; nothing was stored. */
  | "mismatch"
  /** The upload is over the largest size allowed. */
  | "too-large"
  /** The upload has ended already (committed or aborted). */
  | "ended"
  /** The kept part of an upload to resume is not there (or not of the size the client gave). */
  | "stale"
  /** The server's disk or shared folder failed (the cause says how). */
  | "io";

/** Options of {@linkcode FileError}. */
export interface FileErrorOptions extends ErrorOptions {
  /**
   * The plain path the failure is about, quoted in the message.
   * @default {undefined (the message names no path)}
   */
  path?: string;
  /**
   * The failure is about the shared folder itself (named `the shared folder`).
   * @default {false}
   */
  root?: boolean;
}

/** Longest path shown in a message, in characters; longer ones end in `…`. */
const SHOWN_CHARS = 200;

/**
 * Shortens text for a message: at most 200 characters, then `…`.
 *
 * @param text The text.
 * @returns It, or its first 200 characters and `…`.
 * @example
 * ```ts
 * import { clip } from "./errors.ts";
 * console.assert(clip("x".repeat(300)).length === 201);
 * ```
 */
export function clip(text: string): string {
  return text.length > SHOWN_CHARS ? text.slice(0, SHOWN_CHARS) + "…" : text;
}

/**
 * A file operation refused or failed. Its message is `Cannot <action> "<path>": <reason>`, with the
 * path as a plain string; {@linkcode FileError.describe} shows the path another way.
 *
 * @example
 * ```ts
 * import { FileError } from "./errors.ts";
 * const e = new FileError("not-found", "get", "no such file", { path: "my notes.txt" });
 * console.assert(e.message === 'Cannot get "my notes.txt": no such file');
 * console.assert(e.describe(encodeURIComponent) === 'Cannot get "my%20notes.txt": no such file');
 * ```
 */
export class FileError extends Error {
  /** Why it failed. */
  readonly kind: FileErrorKind;
  /** What was tried (`get`, `list`, `upload`, `delete`). */
  readonly action: string;
  /** The plain path it is about, or `null` when it names none. */
  readonly path: string | null;
  /** Whether it is about the shared folder itself. */
  readonly root: boolean;
  /** Why, after the colon: never a server-side absolute path. */
  readonly reason: string;

  /**
   * @param kind Why it failed.
   * @param action What was tried, for the message.
   * @param reason Why, for the message: never a server-side absolute path.
   * @param options See {@linkcode FileErrorOptions} (`cause`: the underlying error, for the log).
   */
  constructor(kind: FileErrorKind, action: string, reason: string, options: FileErrorOptions = {}) {
    const { path, root, ...errorOptions } = options;
    super(describe(action, reason, path ?? null, root ?? false, (p) => p), errorOptions);
    this.name = "FileError";
    this.kind = kind;
    this.action = action;
    this.path = path ?? null;
    this.root = root ?? false;
    this.reason = reason;
  }

  /**
   * The message, with its path shown by `show` (and then clipped to 200 characters).
   *
   * @param show Turns the plain path into the form to show.
   * @returns `Cannot <action> "<shown>": <reason>`, or without the path when it names none.
   */
  describe(show: (path: string) => string): string {
    return describe(this.action, this.reason, this.path, this.root, show);
  }
}

function describe(
  action: string,
  reason: string,
  path: string | null,
  root: boolean,
  show: (path: string) => string,
): string {
  const subject = root ? " the shared folder" : path === null ? "" : ` "${clip(show(path))}"`;
  return `Cannot ${action}${subject}: ${reason}`;
}

/**
 * The `code` of a system error (`ENOSPC`, `EACCES`), if any.
 *
 * @param e The error.
 * @returns Its code, or `undefined`.
 */
export function errno(e: unknown): string | undefined {
  return (e as { code?: string }).code;
}

/**
 * Describes an I/O error for a client, without the server-side path that Deno puts in messages.
 *
 * @param e The error.
 * @returns A short phrase (`permission denied`, `no space left on the device`).
 * @example
 * ```ts
 * import { describeIoError } from "./errors.ts";
 * console.assert(describeIoError(new Deno.errors.NotFound("x")) === "it vanished on the server");
 * ```
 */
export function describeIoError(e: unknown): string {
  const code = errno(e);
  if (e instanceof Deno.errors.PermissionDenied || code === "EACCES" || code === "EPERM") {
    return "permission denied on the server";
  }
  if (code === "ENOSPC") return "no space left on the server's disk";
  if (code === "EDQUOT") return "the server's disk quota is exceeded";
  if (code === "EROFS") return "the shared folder is on a read-only file system";
  if (code === "EIO") return "an I/O error on the server's disk";
  if (e instanceof Deno.errors.NotFound) return "it vanished on the server";
  const message = e instanceof Error ? e.message : String(e);
  const m = /^(.*?) \(os error \d+\)/.exec(message);
  return (m ? m[1]! : message.split(":")[0]!).trim().toLowerCase() || "an unknown error";
}
