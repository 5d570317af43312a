/**
 * The shared folder: one confinement function for every path, listing, reading, atomic uploads
 * (hidden temporary file, sha256, fsync, rename) and the sweep of temporaries left by a crash.
 *
 * Every path from the network goes through {@linkcode FileStore.resolve}: percent-decoding, then
 * the lexical rules of {@linkcode checkPath} (`ERR 400`), then the real path after symlinks must
 * stay under the root (`ERR 403`).
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { decodePath, encodePath, utf8Length } from "../../lib/protocol/encoder.ts";
import { WriteBehind } from "../../lib/write_behind.ts";
import { ErrorCode } from "../../lib/protocol/errors.ts";
import { MAX_PATH_BYTES } from "../../lib/protocol/limits.ts";
import { HashCache, versionOf } from "./hash_cache.ts";
import type { ListEntry } from "../../lib/protocol/rows.ts";

export type { ListEntry };

/** Bytes of an upload buffered before each disk write (two such buffers per upload). */
const WRITE_BUFFER = 256 * 1024;

/**
 * Temporary files modified this recently before a sweep began are left alone (milliseconds): file
 * times come from a coarse clock, so a file written just after the sweep began may look older.
 */
const SWEEP_MARGIN = 50;

/** Names of in-progress uploads start with this; clients can never see or name them. */
export const TEMP_PREFIX = ".sb-upload-";

const WINDOWS = Deno.build.os === "windows";
const SEP = WINDOWS ? "\\" : "/";

/** A file operation refused or failed: carries the `ERR` code and a message safe to send. */
export class FileError extends Error {
  /** The `ERR` code. */
  readonly code: ErrorCode;

  /**
   * @param code The `ERR` code.
   * @param message Text for the client: never holds a server-side absolute path.
   * @param options Standard error options (`cause`: the underlying error, for the log).
   */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FileError";
    this.code = code;
  }
}

/** A path that passed confinement. */
export interface ResolvedPath {
  /** The plain relative path (`""` for the root). */
  readonly path: string;
  /** The path as sent in replies (percent-encoded). */
  readonly wire: string;
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

/** A file opened for a download: one handle, and the size and sha256 of that same handle. */
export interface OpenedFile {
  /** The plain relative path. */
  readonly path: string;
  /** The path as sent in replies. */
  readonly wire: string;
  /** The open handle: the caller closes it. */
  readonly file: Deno.FsFile;
  /** Size of the whole file. */
  readonly size: number;
  /** sha256 of the whole file, lower-case hex. */
  readonly sha256: string;
}

/** Options of {@linkcode FileStore}. */
export interface FileStoreOptions {
  /**
   * Refuse uploads and deletions (`ERR 403`).
   * @default {false}
   */
  readOnly?: boolean;
  /**
   * Largest upload in bytes (`ERR 413` beyond).
   * @default {8589934592}
   */
  maxFileSize?: number;
  /**
   * The sha256 cache.
   * @default {new HashCache()}
   */
  cache?: HashCache;
  /**
   * Bytes of write-behind buffers all uploads together may hold (two buffers of up to 256 KiB per
   * upload). Uploads beyond it write each piece straight to disk: slower, never more memory.
   * @default {67108864}
   */
  bufferBudget?: number;
}

function clip(text: string, max = 200): string {
  return text.length > max ? text.slice(0, max) + "…" : text;
}

/**
 * Checks a plain (percent-decoded) path against the lexical rules: not empty (unless `allowRoot`),
 * at most 1024 bytes, no NUL, no backslash, not absolute, no empty, `.` or `..` segment (and, on
 * Windows, no `:`). A segment starting with {@linkcode TEMP_PREFIX} is refused with 403.
 *
 * @param path The plain path.
 * @param action What the client tried (`get`, `upload`), for the message.
 * @param allowRoot Accept `""` as the root itself (`LIST`).
 * @returns The segments.
 * @throws {FileError} 400 for a lexical fault, 403 for a reserved name.
 * @example
 * ```ts
 * import { checkPath } from "./store.ts";
 * console.assert(checkPath("docs/a b.txt", "get").length === 2);
 * try { checkPath("a/../b", "get"); } catch (e) { console.assert((e as { code: number }).code === 400); }
 * ```
 */
export function checkPath(path: string, action: string, allowRoot = false): string[] {
  const shown = clip(encodePath(path));
  const fail = (why: string, code: ErrorCode = ErrorCode.BadRequest) =>
    new FileError(code, `Cannot ${action} "${shown}": ${why}`);
  if (path === "") {
    if (allowRoot) return [];
    throw new FileError(ErrorCode.BadRequest, `Cannot ${action}: the path is empty`);
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
        ErrorCode.Forbidden,
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
 */
export function isUnder(root: string, path: string): boolean {
  if (WINDOWS) {
    root = root.toLowerCase();
    path = path.toLowerCase();
  }
  if (path === root) return true;
  return path.startsWith(root.endsWith(SEP) ? root : root + SEP);
}

function join(base: string, segments: readonly string[]): string {
  if (segments.length === 0) return base;
  return (base.endsWith(SEP) ? base : base + SEP) + segments.join(SEP);
}

function dirname(path: string): string {
  const i = path.lastIndexOf(SEP);
  return i <= 0 ? path.slice(0, i + 1) : path.slice(0, i);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf(SEP) + 1);
}

function errno(e: unknown): string | undefined {
  return (e as { code?: string }).code;
}

/**
 * Describes an I/O error for a client, without the server-side path that Deno puts in messages.
 *
 * @param e The error.
 * @returns A short phrase (`permission denied`, `no space left on the device`).
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

function randomName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return TEMP_PREFIX + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Whether something (a symlink included) is at `path`; errors other than "not found" say yes. */
async function lexists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    return !(e instanceof Deno.errors.NotFound);
  }
}

async function syncFile(file: Deno.FsFile): Promise<void> {
  try {
    await file.sync();
  } catch (e) {
    // Some file systems cannot sync some files (EINVAL); the data is still written.
    if (errno(e) !== "EINVAL" && !(e instanceof Deno.errors.NotSupported)) throw e;
  }
}

async function syncDir(path: string): Promise<void> {
  // Makes the rename durable. Folders cannot be opened for syncing on Windows.
  if (WINDOWS) return;
  try {
    using dir = await Deno.open(path, { read: true });
    await dir.sync();
  } catch {
    // Best effort: some file systems refuse to sync a folder.
  }
}

/**
 * The shared folder. Create it with {@linkcode FileStore.create}.
 *
 * @example
 * ```ts
 * import { FileStore } from "./store.ts";
 * const root = await Deno.makeTempDir();
 * const store = FileStore.create(root);
 * const upload = await store.beginUpload("notes/a.txt", 2);
 * await upload.write(new TextEncoder().encode("hi"));
 * console.assert((await upload.commit()).startsWith("8f434346"));
 * console.assert((await store.list("notes"))[0]!.name === "a.txt");
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export class FileStore {
  /** The root as configured. */
  readonly root: string;
  /** The root's real path. */
  readonly rootReal: string;
  /** The sha256 cache. */
  readonly cache: HashCache;
  /** Uploads and deletions are refused. */
  readonly readOnly: boolean;
  /** Largest upload in bytes. */
  readonly maxFileSize: number;
  readonly #uploads = new Set<Upload>();
  // Temporary files of this process, from just before they are created until their upload ends.
  readonly #temps = new Set<string>();
  readonly #bufferBudget: number;
  #bufferUsed = 0;
  // Folders created by uploads in progress, with how many such uploads need each. An upload that
  // does not complete removes those it was the last to need, so it leaves no empty folder behind;
  // one that completes keeps its folders for good.
  readonly #pendingFolders = new Map<string, number>();
  #folderLock: Promise<unknown> = Promise.resolve();

  private constructor(root: string, rootReal: string, options: FileStoreOptions) {
    this.root = root;
    this.rootReal = rootReal;
    this.cache = options.cache ?? new HashCache();
    this.readOnly = options.readOnly ?? false;
    this.maxFileSize = options.maxFileSize ?? 8 * 1024 ** 3;
    this.#bufferBudget = options.bufferBudget ?? 64 * 1024 * 1024;
  }

  /**
   * Opens the shared folder, creating it (and its parents) when missing.
   *
   * @param root The folder.
   * @param options See {@linkcode FileStoreOptions}.
   * @returns The store.
   * @throws {Error} When the folder cannot be created or is not a folder, with a message naming it.
   */
  static create(root: string, options: FileStoreOptions = {}): FileStore {
    try {
      Deno.mkdirSync(root, { recursive: true });
      const real = Deno.realPathSync(root);
      if (!Deno.statSync(real).isDirectory) throw new Error("it is not a folder");
      return new FileStore(root, real, options);
    } catch (e) {
      throw new Error(`Cannot share folder ${root}: ${describeIoError(e)}`, { cause: e });
    }
  }

  /** Uploads in progress. */
  get activeUploads(): number {
    return this.#uploads.size;
  }

  /** Bytes of write-behind buffers reserved by the uploads in progress. */
  get bufferedBytes(): number {
    return this.#bufferUsed;
  }

  /**
   * The confinement function: decodes a path from the wire, applies the lexical rules, then checks
   * that its real location after symlinks is under the root.
   *
   * @param wire The percent-encoded path, as sent.
   * @param action What the client tried (`get`, `upload`), for messages.
   * @param allowRoot Accept `""` as the root itself.
   * @returns The resolved path.
   * @throws {FileError} 400 (bad escape, lexical fault), 403 (outside the root, symlink loop,
   *   reserved name), 500 (the shared folder is missing or unreadable).
   */
  async resolve(wire: string, action: string, allowRoot = false): Promise<ResolvedPath> {
    const path = decodePath(wire);
    if (path === null) {
      throw new FileError(
        ErrorCode.BadRequest,
        `Cannot ${action} "${
          clip(wire)
        }": bad percent escape or not UTF-8 (write a literal % as %25)`,
      );
    }
    const segments = checkPath(path, action, allowRoot);
    const encoded = encodePath(path);
    const outside = () =>
      new FileError(
        ErrorCode.Forbidden,
        `Cannot ${action} "${clip(encoded)}": it leads outside the shared folder`,
      );
    const loop = (e: unknown) =>
      new FileError(ErrorCode.Forbidden, `Cannot ${action} "${clip(encoded)}": symlink loop`, {
        cause: e,
      });
    let real: string;
    let exists = true;
    try {
      real = await Deno.realPath(join(this.rootReal, segments));
    } catch (e) {
      if (e instanceof Deno.errors.FilesystemLoop) throw loop(e);
      if (!(e instanceof Deno.errors.NotFound) && !(e instanceof Deno.errors.NotADirectory)) {
        throw new FileError(
          ErrorCode.Internal,
          `Cannot ${action} "${clip(encoded)}": ${describeIoError(e)}`,
          {
            cause: e,
          },
        );
      }
      if (segments.length === 0) {
        throw new FileError(ErrorCode.Internal, `Cannot ${action}: the shared folder is missing`, {
          cause: e,
        });
      }
      // Missing (an upload target): the deepest ancestor that exists decides where it would land.
      exists = false;
      real = "";
      for (let i = segments.length - 1; i >= 0; i--) {
        try {
          real = join(
            await Deno.realPath(join(this.rootReal, segments.slice(0, i))),
            segments.slice(i),
          );
          break;
        } catch (e2) {
          if (e2 instanceof Deno.errors.FilesystemLoop) throw loop(e2);
          if (
            i === 0 ||
            (!(e2 instanceof Deno.errors.NotFound) && !(e2 instanceof Deno.errors.NotADirectory))
          ) {
            throw new FileError(
              ErrorCode.Internal,
              `Cannot ${action} "${clip(encoded)}": the shared folder is missing`,
              {
                cause: e2,
              },
            );
          }
        }
      }
    }
    if (!isUnder(this.rootReal, real)) throw outside();
    return { path, wire: encoded, segments, real, exists };
  }

  /**
   * Lists a folder: files and folders with size and mtime, sorted by name. Temporary uploads,
   * symlinks leading outside the root (or nowhere), and special files are left out.
   *
   * @param wire The folder, percent-encoded; `""` or `undefined` for the root.
   * @returns The entries.
   * @throws {FileError} 400/403 (path), 404 (missing), 400 (a file, not a folder), 500.
   */
  async list(wire = ""): Promise<ListEntry[]> {
    const r = await this.resolve(wire, "list", true);
    const shown = r.wire === "" ? "the shared folder" : `"${clip(r.wire)}"`;
    if (!r.exists) throw new FileError(ErrorCode.NotFound, `Cannot list ${shown}: no such folder`);
    const names: { name: string; entry: Deno.DirEntry }[] = [];
    try {
      const info = await Deno.stat(r.real);
      if (!info.isDirectory) {
        throw new FileError(
          ErrorCode.BadRequest,
          `Cannot list ${shown}: it is a file, not a folder`,
        );
      }
      for await (const entry of Deno.readDir(r.real)) {
        if (!entry.name.toLowerCase().startsWith(TEMP_PREFIX)) {
          names.push({ name: entry.name, entry });
        }
      }
    } catch (e) {
      if (e instanceof FileError) throw e;
      if (e instanceof Deno.errors.NotFound) {
        throw new FileError(ErrorCode.NotFound, `Cannot list ${shown}: no such folder`);
      }
      throw new FileError(ErrorCode.Internal, `Cannot list ${shown}: ${describeIoError(e)}`, {
        cause: e,
      });
    }
    const out: ListEntry[] = [];
    const BATCH = 64;
    for (let i = 0; i < names.length; i += BATCH) {
      const rows = await Promise.all(
        names.slice(i, i + BATCH).map(({ name, entry }) => this.#describe(r.real, name, entry)),
      );
      for (const row of rows) if (row !== null) out.push(row);
    }
    out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return out;
  }

  async #describe(dir: string, name: string, entry: Deno.DirEntry): Promise<ListEntry | null> {
    const full = join(dir, [name]);
    try {
      let info: Deno.FileInfo;
      if (entry.isSymlink) {
        const real = await Deno.realPath(full);
        if (!isUnder(this.rootReal, real)) return null;
        info = await Deno.stat(real);
      } else {
        info = await Deno.lstat(full);
      }
      const mtime = info.mtime?.getTime() ?? 0;
      if (info.isDirectory) return { name, type: "dir", size: 0, mtime };
      if (info.isFile) return { name, type: "file", size: info.size, mtime };
      return null;
    } catch {
      // Vanished meanwhile, dangling symlink, loop, no permission: not listable.
      return null;
    }
  }

  /**
   * Opens a file for a download and gets its size and sha256 from that same handle (from the cache
   * when this version was hashed before, else hashed now, once).
   *
   * @param wire The file, percent-encoded.
   * @returns The open file; close it when done.
   * @throws {FileError} 400/403 (path), 404 (missing), 400 (a folder), 500.
   */
  async open(wire: string): Promise<OpenedFile> {
    const r = await this.resolve(wire, "get");
    const shown = `"${clip(r.wire)}"`;
    if (!r.exists) throw new FileError(ErrorCode.NotFound, `Cannot get ${shown}: no such file`);
    let file: Deno.FsFile | null = null;
    try {
      const pre = await Deno.stat(r.real);
      if (pre.isDirectory) {
        throw new FileError(ErrorCode.BadRequest, `Cannot get ${shown}: it is a folder`);
      }
      file = await Deno.open(r.real, { read: true });
      const info = await file.stat();
      if (info.isDirectory) {
        throw new FileError(ErrorCode.BadRequest, `Cannot get ${shown}: it is a folder`);
      }
      if (!info.isFile) {
        throw new FileError(ErrorCode.BadRequest, `Cannot get ${shown}: it is not a regular file`);
      }
      const sha256 = await this.cache.hash(r.real, versionOf(info), file);
      const opened: OpenedFile = { path: r.path, wire: r.wire, file, size: info.size, sha256 };
      file = null;
      return opened;
    } catch (e) {
      if (e instanceof FileError) throw e;
      if (e instanceof Deno.errors.NotFound) {
        throw new FileError(ErrorCode.NotFound, `Cannot get ${shown}: no such file`);
      }
      throw new FileError(ErrorCode.Internal, `Cannot get ${shown}: ${describeIoError(e)}`, {
        cause: e,
      });
    } finally {
      file?.close();
    }
  }

  /**
   * Starts an upload: checks the path, creates missing parent folders, and opens a hidden
   * temporary file beside the target. Nothing is visible until {@linkcode Upload.commit}.
   *
   * @param wire The target, percent-encoded.
   * @param size The announced size (checked against `maxFileSize`).
   * @param sha256 The announced sha256 (lower-case hex), checked at commit.
   * @returns The upload.
   * @throws {FileError} 403 (read-only, path), 413 (too large), 400 (path), 409 (a folder is
   *   there, or a parent is a file), 500 (not writable, disk full).
   */
  async beginUpload(wire: string, size: number, sha256?: string): Promise<Upload> {
    if (this.readOnly) {
      throw new FileError(
        ErrorCode.Forbidden,
        `Cannot upload "${clip(wire)}": the server is read-only`,
      );
    }
    if (size > this.maxFileSize) {
      throw new FileError(
        ErrorCode.TooLarge,
        `Cannot upload "${
          clip(wire)
        }": ${size} bytes is over max_file_size (${this.maxFileSize} bytes)`,
      );
    }
    const r = await this.resolve(wire, "upload");
    const shown = `"${clip(r.wire)}"`;
    let parentReal: string;
    // Folders of uploads in progress that this upload needs too (see #pendingFolders).
    let folders: string[] = [];
    try {
      if (r.exists) {
        if ((await Deno.stat(r.real)).isDirectory) {
          throw new FileError(ErrorCode.Conflict, `Cannot upload ${shown}: a folder has that name`);
        }
        parentReal = dirname(r.real);
      } else {
        const parent = dirname(r.real);
        // Under the folder lock, so that an upload that ends cannot remove a folder between our
        // look and our claim.
        folders = await this.#withFolderLock(async () => {
          const created: string[] = [];
          for (let d = parent; d !== this.rootReal && isUnder(this.rootReal, d); d = dirname(d)) {
            if (await lexists(d)) break;
            created.push(d);
          }
          await Deno.mkdir(parent, { recursive: true });
          return this.#claimFolders(parent, created);
        });
        // Re-check after creating: a parent must still be a real folder under the root.
        parentReal = await Deno.realPath(parent);
        if (!isUnder(this.rootReal, parentReal)) {
          throw new FileError(
            ErrorCode.Forbidden,
            `Cannot upload ${shown}: it leads outside the shared folder`,
          );
        }
      }
    } catch (e) {
      await this.#releaseFolders(folders, false);
      if (e instanceof FileError) throw e;
      if (
        e instanceof Deno.errors.NotADirectory || e instanceof Deno.errors.AlreadyExists ||
        errno(e) === "ENOTDIR" || errno(e) === "EEXIST"
      ) {
        throw new FileError(
          ErrorCode.Conflict,
          `Cannot upload ${shown}: a file is in the way of its folder`,
          {
            cause: e,
          },
        );
      }
      throw new FileError(
        ErrorCode.Internal,
        `Cannot upload ${shown}: cannot create its folder: ${describeIoError(e)}`,
        {
          cause: e,
        },
      );
    }
    const temp = join(parentReal, [randomName()]);
    this.#temps.add(temp);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(temp, { write: true, createNew: true });
    } catch (e) {
      this.#temps.delete(temp);
      await this.#releaseFolders(folders, false);
      throw new FileError(
        ErrorCode.Internal,
        `Cannot upload ${shown}: the shared folder is not writable: ${describeIoError(e)}`,
        { cause: e },
      );
    }
    // Write-behind buffers while the budget lasts, else direct writes.
    const want = Math.min(WRITE_BUFFER, Math.max(1, size));
    const bufSize = this.#bufferUsed + 2 * want <= this.#bufferBudget ? want : 0;
    const upload = new Upload({
      path: r.path,
      wire: r.wire,
      bufSize,
      file,
      temp,
      target: join(parentReal, [basename(r.real)]),
      parent: parentReal,
      releaseFolders: (kept) => this.#releaseFolders(folders, kept),
      sha256,
      cache: this.cache,
      onDone: (u) => {
        if (!this.#uploads.delete(u)) return;
        this.#temps.delete(u.temp);
        this.#bufferUsed -= 2 * bufSize;
      },
    });
    this.#bufferUsed += 2 * bufSize;
    this.#uploads.add(upload);
    return upload;
  }

  /**
   * Records that an upload into `parent` needs the folders it created and those that other uploads
   * in progress created.
   *
   * @returns The folders claimed, deepest first.
   */
  #claimFolders(parent: string, created: readonly string[]): string[] {
    const claimed: string[] = [];
    for (let d = parent; d !== this.rootReal && isUnder(this.rootReal, d); d = dirname(d)) {
      const n = this.#pendingFolders.get(d);
      if (n === undefined && !created.includes(d)) continue;
      this.#pendingFolders.set(d, (n ?? 0) + 1);
      claimed.push(d);
    }
    return claimed;
  }

  /** Runs `fn` alone among the folder creations and removals of uploads. */
  #withFolderLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#folderLock.then(fn, fn);
    this.#folderLock = run.catch(() => {});
    return run;
  }

  /**
   * An upload ended: when it completed its folders are kept for good; when not, the folders no
   * other upload in progress needs are removed if empty, deepest first.
   */
  #releaseFolders(claimed: readonly string[], kept: boolean): Promise<void> {
    if (claimed.length === 0) return Promise.resolve();
    return this.#withFolderLock(() => this.#release(claimed, kept));
  }

  async #release(claimed: readonly string[], kept: boolean): Promise<void> {
    let removing = !kept;
    for (const d of claimed) {
      const n = this.#pendingFolders.get(d);
      if (n === undefined) {
        removing = false;
        continue;
      }
      if (kept || n === 1) this.#pendingFolders.delete(d);
      else this.#pendingFolders.set(d, n - 1);
      if (kept || n > 1) {
        removing = false;
        continue;
      }
      if (!removing) continue;
      try {
        await Deno.remove(d);
      } catch {
        // Not empty (a file appeared meanwhile) or gone: its parents stay too.
        removing = false;
      }
    }
  }

  /**
   * Deletes a file, a symlink (the link itself), or an empty folder.
   *
   * @param wire The path, percent-encoded.
   * @returns The path as sent in replies.
   * @throws {FileError} 403 (read-only, path), 400 (path), 404 (missing), 409 (folder not empty),
   *   500.
   */
  async remove(wire: string): Promise<string> {
    if (this.readOnly) {
      throw new FileError(
        ErrorCode.Forbidden,
        `Cannot delete "${clip(wire)}": the server is read-only`,
      );
    }
    const r = await this.resolve(wire, "delete");
    const shown = `"${clip(r.wire)}"`;
    if (!r.exists) {
      throw new FileError(ErrorCode.NotFound, `Cannot delete ${shown}: no such file or folder`);
    }
    try {
      // The entry itself, under its real parent: a symlink is removed, not what it points to.
      const parentReal = await Deno.realPath(join(this.rootReal, r.segments.slice(0, -1)));
      if (!isUnder(this.rootReal, parentReal)) {
        throw new FileError(
          ErrorCode.Forbidden,
          `Cannot delete ${shown}: it leads outside the shared folder`,
        );
      }
      const entry = join(parentReal, [r.segments[r.segments.length - 1]!]);
      const info = await Deno.lstat(entry);
      await Deno.remove(entry);
      if (!info.isDirectory) this.cache.delete(r.real);
      return r.wire;
    } catch (e) {
      if (e instanceof FileError) throw e;
      if (e instanceof Deno.errors.NotFound) {
        throw new FileError(ErrorCode.NotFound, `Cannot delete ${shown}: no such file or folder`);
      }
      if (errno(e) === "ENOTEMPTY" || errno(e) === "EEXIST" || /not empty/i.test(String(e))) {
        throw new FileError(ErrorCode.Conflict, `Cannot delete ${shown}: the folder is not empty`);
      }
      throw new FileError(ErrorCode.Internal, `Cannot delete ${shown}: ${describeIoError(e)}`, {
        cause: e,
      });
    }
  }

  /**
   * Removes temporary upload files left anywhere under the root (by a crash): those last modified
   * before the sweep began (50 ms of margin) and not belonging to an upload of this process (checked
   * at the moment of removal, so uploads that start while a long sweep walks are safe). Symlinks are
   * not followed.
   *
   * @returns How many were removed.
   */
  async sweep(): Promise<number> {
    const startedAt = Date.now();
    let removed = 0;
    const stack = [this.rootReal];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      try {
        for await (const entry of Deno.readDir(dir)) {
          const full = join(dir, [entry.name]);
          if (entry.isDirectory && !entry.isSymlink) stack.push(full);
          else if (entry.isFile && entry.name.startsWith(TEMP_PREFIX)) {
            try {
              const info = await Deno.lstat(full);
              if ((info.mtime?.getTime() ?? 0) >= startedAt - SWEEP_MARGIN) continue;
              if (this.#temps.has(full)) continue;
              await Deno.remove(full);
              removed++;
            } catch {
              // Gone already, or not ours to remove.
            }
          }
        }
      } catch {
        // Unreadable folder: skip it.
      }
    }
    return removed;
  }

  /** Aborts every upload in progress (server shutdown): their temporary files are removed. */
  async abortAll(): Promise<void> {
    await Promise.all([...this.#uploads].map((u) => u.abort()));
  }
}

interface UploadInit {
  path: string;
  wire: string;
  /** Size of each of the two write-behind buffers; 0 to write each piece straight to disk. */
  bufSize: number;
  file: Deno.FsFile;
  temp: string;
  target: string;
  parent: string;
  /** Called once when the upload ends: `kept` is true when it completed. */
  releaseFolders: (kept: boolean) => Promise<void>;
  sha256: string | undefined;
  cache: HashCache;
  onDone: (u: Upload) => void;
}

/**
 * An upload in progress: bytes go to a hidden temporary file and into a streaming sha256; `commit`
 * checks the announced sha256, syncs, and renames into place; `abort` leaves nothing behind.
 */
export class Upload {
  /** The plain relative path. */
  readonly path: string;
  /** The path as sent in replies. */
  readonly wire: string;
  /** The temporary file's absolute path. */
  readonly temp: string;
  readonly #file: Deno.FsFile;
  readonly #target: string;
  readonly #parent: string;
  readonly #releaseFolders: (kept: boolean) => Promise<void>;
  readonly #expected: string | undefined;
  readonly #cache: HashCache;
  readonly #onDone: (u: Upload) => void;
  readonly #hash: Hash = createHash("sha256");
  #received = 0;
  #done = false;
  #aborting: Promise<void> | null = null;
  // Write-behind: bytes are copied into a buffer, which is written while the next ones arrive and
  // are hashed. At most one write is in flight and two buffers exist per upload.
  readonly #behind: WriteBehind;

  /** Use {@linkcode FileStore.beginUpload}. */
  constructor(init: UploadInit) {
    this.path = init.path;
    this.wire = init.wire;
    this.temp = init.temp;
    this.#file = init.file;
    this.#target = init.target;
    this.#parent = init.parent;
    this.#releaseFolders = init.releaseFolders;
    this.#expected = init.sha256?.toLowerCase();
    this.#cache = init.cache;
    this.#onDone = init.onDone;
    this.#behind = new WriteBehind(init.file, init.bufSize);
  }

  /** Bytes written so far. */
  get received(): number {
    return this.#received;
  }

  /**
   * Hashes a piece of the file and queues it for the disk; resolves once it is copied and at most
   * one buffer of earlier bytes is still being written.
   *
   * @param bytes The piece; not kept after the promise settles.
   * @throws {FileError} 500 when the disk refuses (full, unwritable); the upload is then aborted.
   */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.#done) {
      throw new FileError(
        ErrorCode.Internal,
        `Cannot upload "${clip(this.wire)}": the upload has ended`,
      );
    }
    this.#hash.update(bytes);
    try {
      await this.#behind.write(bytes);
    } catch (e) {
      await this.abort();
      throw new FileError(
        ErrorCode.Internal,
        `Cannot upload "${clip(this.wire)}": ${describeIoError(e)}`,
        { cause: e },
      );
    }
    this.#received += bytes.length;
  }

  /**
   * Finishes the upload: checks the announced sha256, syncs the file, renames it into place
   * (atomically replacing any older version), and records its sha256 in the cache.
   *
   * @returns The sha256 of what was received, lower-case hex.
   * @throws {FileError} 409 on a sha256 mismatch (nothing is kept), 500 on a disk error.
   */
  async commit(): Promise<string> {
    if (this.#done) {
      throw new FileError(
        ErrorCode.Internal,
        `Cannot upload "${clip(this.wire)}": the upload has ended`,
      );
    }
    const sha256 = this.#hash.digest("hex");
    if (this.#expected !== undefined && sha256 !== this.#expected) {
      await this.abort();
      throw new FileError(
        ErrorCode.Conflict,
        `Cannot upload "${
          clip(this.wire)
        }": sha256 mismatch (announced ${this.#expected}, received ${sha256}); nothing was stored`,
      );
    }
    try {
      await this.#behind.finish();
      await syncFile(this.#file);
      const version = versionOf(await this.#file.stat());
      this.#done = true;
      this.#file.close();
      await Deno.rename(this.temp, this.#target);
      await this.#releaseFolders(true);
      this.#onDone(this);
      this.#cache.set(this.#target, version, sha256);
      await syncDir(this.#parent);
      return sha256;
    } catch (e) {
      this.#done = false;
      await this.abort();
      if (
        e instanceof Deno.errors.IsADirectory || errno(e) === "EISDIR" || errno(e) === "ENOTEMPTY"
      ) {
        throw new FileError(
          ErrorCode.Conflict,
          `Cannot upload "${clip(this.wire)}": a folder has that name`,
          { cause: e },
        );
      }
      throw new FileError(
        ErrorCode.Internal,
        `Cannot upload "${clip(this.wire)}": ${describeIoError(e)}`,
        { cause: e },
      );
    }
  }

  /** Abandons the upload: closes and removes the temporary file. Idempotent; never rejects. */
  abort(): Promise<void> {
    if (this.#done && this.#aborting === null) return Promise.resolve();
    this.#aborting ??= (async () => {
      this.#done = true;
      await this.#behind.settle();
      try {
        this.#file.close();
      } catch {
        // Closed already.
      }
      try {
        await Deno.remove(this.temp);
      } catch {
        // Gone already (or renamed into place).
      }
      await this.#releaseFolders(false);
      this.#onDone(this);
    })();
    return this.#aborting;
  }
}
