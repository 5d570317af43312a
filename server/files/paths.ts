/**
 * Confinement: the one function every path goes through before the disk is touched. A path is a
 * plain relative string (`docs/my notes.txt`); {@linkcode checkPath} applies the lexical rules,
 * then {@linkcode resolveUnder} checks that its real location after symlinks stays under the root.
 *
 * @module
 */

import { utf8Length } from "../../lib/protocol/encoder.ts";
import { MAX_PATH_BYTES } from "../../lib/protocol/limits.ts";
import { describeIoError, FileError, type FileErrorKind } from "./errors.ts";

/** Names of in-progress uploads start with this; clients can never see or name them. */
export const TEMP_PREFIX = ".sb-upload-";

const WINDOWS = Deno.build.os === "windows";
const SEP = WINDOWS ? "\\" : "/";

/** A path that passed confinement. */
export interface ResolvedPath {
  /** The plain relative path (`""` for the root). */
  readonly path: string;
  /** Its segments. */
  readonly segments: readonly string[];
  /**
   * The real absolute path after symlinks; for a path that does not exist, the real path of its
   * deepest existing ancestor joined with the rest.
   */
  readonly real: string;
  /** Whether something exists there. */
  readonly exists: boolean;
}

/**
 * Checks a plain path against the lexical rules: not empty (unless `allowRoot`), at most 1024
 * bytes, no NUL, no backslash, not absolute, no empty, `.` or `..` segment (and, on Windows, no
 * `:`). A segment starting with {@linkcode TEMP_PREFIX} (in any case) is reserved.
 *
 * @param path The plain path.
 * @param action What the client tried (`get`, `upload`), for the message.
 * @param allowRoot Accept `""` as the root itself (`LIST`).
 * @returns The segments.
 * @throws {FileError} `bad-path` for a lexical fault, `reserved` for a name kept for uploads.
 * @example
 * ```ts
 * import { checkPath } from "./paths.ts";
 * console.assert(checkPath("docs/a b.txt", "get").length === 2);
 * try { checkPath("a/../b", "get"); } catch (e) { console.assert((e as { kind: string }).kind === "bad-path"); }
 * ```
 */
export function checkPath(path: string, action: string, allowRoot = false): string[] {
  const fail = (why: string, kind: FileErrorKind = "bad-path") =>
    new FileError(kind, action, why, { path });
  if (path === "") {
    if (allowRoot) return [];
    throw new FileError("bad-path", action, "the path is empty");
  }
  if (utf8Length(path) > MAX_PATH_BYTES) throw fail(`the path is over ${MAX_PATH_BYTES} bytes`);
  if (path.includes("\0")) throw fail("the path contains NUL");
  if (path.includes("\\")) throw fail("the path contains a backslash (use /)");
  if (path.startsWith("/")) {
    throw fail("the path is absolute (paths are relative to the shared folder)");
  }
  if (WINDOWS && path.includes(":")) throw fail("the path contains a colon");
  const segments = path.split("/");
  for (const s of segments) {
    if (s === "") throw fail("the path has an empty segment");
    if (s === "." || s === "..") throw fail(`the path has a "${s}" segment`);
    // Any case: on a case-insensitive file system `.SB-UPLOAD-…` names the same file.
    if (s.toLowerCase().startsWith(TEMP_PREFIX)) {
      throw fail(
        `names starting with ${TEMP_PREFIX} are reserved for uploads in progress`,
        "reserved",
      );
    }
  }
  return segments;
}

/**
 * Tells whether `path` is `root` or inside it (both real, absolute paths).
 *
 * @param root The root.
 * @param path The candidate.
 * @returns `true` when it is under the root.
 * @example
 * ```ts
 * import { isUnder } from "./paths.ts";
 * console.assert(isUnder("/srv/share", "/srv/share/a") && !isUnder("/srv/share", "/srv/shared"));
 * ```
 */
export function isUnder(root: string, path: string): boolean {
  if (WINDOWS) {
    root = root.toLowerCase();
    path = path.toLowerCase();
  }
  if (path === root) return true;
  return path.startsWith(root.endsWith(SEP) ? root : root + SEP);
}

/**
 * Joins segments onto an absolute path with the platform's separator.
 *
 * @param base The absolute path.
 * @param segments The segments to add.
 * @returns The joined path (`base` itself when there are none).
 */
export function join(base: string, segments: readonly string[]): string {
  if (segments.length === 0) return base;
  return (base.endsWith(SEP) ? base : base + SEP) + segments.join(SEP);
}

/**
 * The folder holding an absolute path.
 *
 * @param path The path.
 * @returns Its parent.
 */
export function dirname(path: string): string {
  const i = path.lastIndexOf(SEP);
  return i <= 0 ? path.slice(0, i + 1) : path.slice(0, i);
}

/**
 * The last segment of an absolute path.
 *
 * @param path The path.
 * @returns Its name.
 */
export function basename(path: string): string {
  return path.slice(path.lastIndexOf(SEP) + 1);
}

/**
 * A fresh name for a temporary upload file: {@linkcode TEMP_PREFIX} and 24 random hex digits.
 *
 * @returns The name.
 */
export function tempName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return TEMP_PREFIX + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The confinement function: applies the lexical rules to a plain path, then checks that its real
 * location after symlinks is under the root.
 *
 * @param rootReal The real path of the shared folder.
 * @param path The plain relative path.
 * @param action What the client tried (`get`, `upload`), for messages.
 * @param allowRoot Accept `""` as the root itself.
 * @returns The resolved path.
 * @throws {FileError} `bad-path` (lexical fault), `reserved` (a name kept for uploads),
 *   `outside` (outside the root, symlink loop), `io` (the shared folder is missing or unreadable).
 */
export async function resolveUnder(
  rootReal: string,
  path: string,
  action: string,
  allowRoot = false,
): Promise<ResolvedPath> {
  const segments = checkPath(path, action, allowRoot);
  const loop = (e: unknown) => new FileError("outside", action, "symlink loop", { path, cause: e });
  let real: string;
  let exists = true;
  try {
    real = await Deno.realPath(join(rootReal, segments));
  } catch (e) {
    if (e instanceof Deno.errors.FilesystemLoop) throw loop(e);
    if (!(e instanceof Deno.errors.NotFound) && !(e instanceof Deno.errors.NotADirectory)) {
      throw new FileError("io", action, describeIoError(e), { path, cause: e });
    }
    if (segments.length === 0) {
      throw new FileError("io", action, "the shared folder is missing", { cause: e });
    }
    // Missing (an upload target): the deepest ancestor that exists decides where it would land.
    exists = false;
    real = "";
    for (let i = segments.length - 1; i >= 0; i--) {
      try {
        real = join(await Deno.realPath(join(rootReal, segments.slice(0, i))), segments.slice(i));
        break;
      } catch (e2) {
        if (e2 instanceof Deno.errors.FilesystemLoop) throw loop(e2);
        if (
          i === 0 ||
          (!(e2 instanceof Deno.errors.NotFound) && !(e2 instanceof Deno.errors.NotADirectory))
        ) {
          throw new FileError("io", action, "the shared folder is missing", { path, cause: e2 });
        }
      }
    }
  }
  if (!isUnder(rootReal, real)) {
    throw new FileError("outside", action, "it leads outside the shared folder", { path });
  }
  return { path, segments, real, exists };
}
