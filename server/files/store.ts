/**
 * The shared folder: listing, opening for a download, atomic uploads (see upload.ts), deletion,
 * and the sweep of temporaries left by a crash. Paths are plain relative strings; every one goes
 * through the confinement function of paths.ts before the disk is touched. Failures are
 * {@linkcode FileError}s with a domain kind; the protocol edge (wire.ts) makes `ERR` replies of
 * them.
 *
 * @module
 */

import type { ListEntry } from "../../lib/protocol/rows.ts";
import { DeadlineError, openForReading, withDeadline } from "./deadline.ts";
import { describeIoError, errno, FileError, type FileErrorOptions } from "./errors.ts";
import { HashCache, versionOf } from "./hash_cache.ts";
import { Slots } from "../../lib/slots.ts";
import { FolderNames } from "./listing.ts";
import { isUnder, join, type ResolvedPath, resolveUnder, TEMP_PREFIX } from "./paths.ts";
import { type ResumeInfo, Uploads } from "./uploads.ts";
import type {
  BeginOptions,
  FileStoreOptions,
  ListPage,
  ListRow,
  OpenedFile,
} from "./store_types.ts";
import { Upload } from "./upload.ts";

export type {
  BeginOptions,
  FileStoreOptions,
  ListEntry,
  ListPage,
  ListRow,
  OpenedFile,
  ResolvedPath,
};
export { TEMP_PREFIX, Upload };

/** Refuses a folder or a special file (FIFO, socket, device). */
function checkRegular(info: Deno.FileInfo, at: FileErrorOptions): void {
  if (info.isDirectory) throw new FileError("not-a-file", "get", "it is a folder", at);
  if (!info.isFile) throw new FileError("not-a-file", "get", "it is not a regular file", at);
}

/** Entries described (stat) at the same time for a listing page. */
const STAT_BATCH = 64;
/** Entries described at the same time for all listing pages together. */
const STAT_SLOTS = 16;

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
  readonly #timeout: number;
  readonly #names: FolderNames;
  readonly #stats = new Slots(STAT_SLOTS);
  /** The uploads: starting them, kept uploads, this node's upkeep. */
  readonly uploads: Uploads;

  private constructor(root: string, rootReal: string, options: FileStoreOptions) {
    this.root = root;
    this.rootReal = rootReal;
    this.cache = options.cache ?? new HashCache();
    this.readOnly = options.readOnly ?? false;
    this.maxFileSize = options.maxFileSize ?? 8 * 1024 ** 3;
    this.#timeout = options.timeout ?? 10_000;
    this.#names = new FolderNames({ timeout: this.#timeout });
    this.uploads = new Uploads(rootReal, this.cache, options);
  }

  /** Deadline of one file operation, ms (0 = none). */
  get timeout(): number {
    return this.#timeout;
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
    return this.uploads.active;
  }

  /** Bytes of write-behind buffers reserved by the uploads in progress. */
  get bufferedBytes(): number {
    return this.uploads.bufferedBytes;
  }

  /**
   * The confinement function: applies the lexical rules to a plain path, then checks that its real
   * location after symlinks is under the root.
   *
   * @param path The plain relative path.
   * @param action What the client tried (`get`, `upload`), for messages.
   * @param allowRoot Accept `""` as the root itself.
   * @returns The resolved path.
   * @throws {FileError} `bad-path`, `reserved`, `outside` (outside the root, symlink loop), `io`
   *   (the shared folder is missing or unreadable).
   */
  resolve(path: string, action: string, allowRoot = false): Promise<ResolvedPath> {
    return this.#timed(resolveUnder(this.rootReal, path, action, allowRoot), action, path);
  }

  /** `op` under the deadline: a late one fails as `io`, a late handle is closed. */
  #timed<T>(op: Promise<T>, action: string, path: string, late?: (value: T) => void): Promise<T> {
    return withDeadline(op, this.#timeout, action, late).catch((e) => {
      throw e instanceof DeadlineError ? this.#late(action, path, e) : e;
    });
  }

  #late(action: string, path: string, e: DeadlineError): FileError {
    return new FileError(
      "io",
      action,
      `the server's disk did not answer within ${e.ms} ms`,
      { path, root: path === "", cause: e },
    );
  }

  /**
   * Lists a whole folder: files and folders with size and mtime, sorted by name (all pages of
   * {@linkcode FileStore.listPage}; for tests and small folders).
   *
   * @param path The folder; `""` or `undefined` for the root.
   * @returns The entries.
   * @throws {FileError} As {@linkcode FileStore.listPage}.
   */
  async list(path = ""): Promise<ListEntry[]> {
    const out: ListEntry[] = [];
    for (let offset = 0;;) {
      const page = await this.listPage(path, offset, 10_000);
      for (const row of page.rows) out.push(row.entry);
      if (page.end >= page.total) return out;
      offset = page.end;
    }
  }

  /**
   * A page of a folder's listing: the names of the folder, sorted, from `offset` to
   * `offset + limit`, each described with its type, size and mtime. Temporary uploads and special
   * files (FIFOs, sockets, devices) are not names of the listing; symlinks leading outside the root
   * (or nowhere), and entries that vanished since the folder was read, are names without a row.
   * The folder's names are read once and kept while it is unchanged, so paging costs one scan.
   *
   * @param path The folder; `""` for the root.
   * @param offset The first name (0-based).
   * @param limit Most names the page covers (at least 1).
   * @returns The page.
   * @throws {FileError} Path kinds (see {@linkcode FileStore.resolve}), `not-found`,
   *   `not-a-folder`, `io` (a disk failure, or no answer within the deadline).
   */
  async listPage(path: string, offset: number, limit: number): Promise<ListPage> {
    const r = await this.resolve(path, "list", true);
    const at: FileErrorOptions = { path: r.path, root: r.path === "" };
    if (!r.exists) throw new FileError("not-found", "list", "no such folder", at);
    let names: readonly string[];
    try {
      const info = await this.#timed(Deno.stat(r.real), "list", r.path);
      if (!info.isDirectory) {
        throw new FileError("not-a-folder", "list", "it is a file, not a folder", at);
      }
      names = await this.#names.of(r.real);
    } catch (e) {
      if (e instanceof FileError) throw e;
      if (e instanceof DeadlineError) throw this.#late("list", r.path, e);
      if (e instanceof Deno.errors.NotFound) {
        throw new FileError("not-found", "list", "no such folder", at);
      }
      throw new FileError("io", "list", describeIoError(e), { ...at, cause: e });
    }
    const total = names.length;
    const start = Math.min(offset, total);
    const end = Math.min(start + Math.max(1, limit), total);
    const rows: ListRow[] = [];
    for (let i = start; i < end; i += STAT_BATCH) {
      const batch: Promise<ListEntry | null>[] = [];
      for (let j = i; j < Math.min(i + STAT_BATCH, end); j++) {
        batch.push(this.#stats.run(() => this.#describe(r.real, names[j]!)));
      }
      const described = await this.#timed(Promise.all(batch), "list", r.path);
      described.forEach((entry, k) => {
        if (entry !== null) rows.push({ at: i + k, entry });
      });
    }
    return { total, offset, end: Math.max(end, offset), rows };
  }

  async #describe(dir: string, name: string): Promise<ListEntry | null> {
    const full = join(dir, [name]);
    try {
      let info = await Deno.lstat(full);
      if (info.isSymlink) {
        const real = await Deno.realPath(full);
        if (!isUnder(this.rootReal, real)) return null;
        info = await Deno.stat(real);
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
   * @param path The file.
   * @returns The open file; close it when done.
   * @throws {FileError} Path kinds (see {@linkcode FileStore.resolve}), `not-found`, `not-a-file`
   *   (a folder, a special file), `io`.
   */
  async open(path: string): Promise<OpenedFile> {
    const r = await this.resolve(path, "get");
    const at = { path: r.path };
    if (!r.exists) throw new FileError("not-found", "get", "no such file", at);
    let file: Deno.FsFile | null = null;
    try {
      // The type is checked before anything opens the path: opening a FIFO waits for a writer.
      checkRegular(await this.#timed(Deno.stat(r.real), "get", r.path), at);
      file = await openForReading(r.real, this.#timeout).catch((e) => {
        if (!(e instanceof DeadlineError)) throw e;
        // A FIFO swapped in after the check: the open was ended (see openForReading).
        if (e.fifo) throw new FileError("not-a-file", "get", "it is not a regular file", at);
        throw this.#late("get", r.path, e);
      });
      const info = await this.#timed(file.stat(), "get", r.path);
      checkRegular(info, at);
      // Hashing may take long (a large file): each of its reads has the deadline.
      const sha256 = await this.cache.hash(r.real, versionOf(info), file, {
        readTimeout: this.#timeout,
      }).catch((e) => {
        throw e instanceof DeadlineError ? this.#late("get", r.path, e) : e;
      });
      const opened: OpenedFile = { path: r.path, file, size: info.size, sha256 };
      file = null;
      return opened;
    } catch (e) {
      if (e instanceof FileError) throw e;
      if (e instanceof Deno.errors.NotFound) {
        throw new FileError("not-found", "get", "no such file", at);
      }
      throw new FileError("io", "get", describeIoError(e), { ...at, cause: e });
    } finally {
      file?.close();
    }
  }

  /**
   * Refuses an upload of `size` bytes before any path is looked at: on a read-only server, then
   * past `maxFileSize`. {@linkcode FileStore.beginUpload} checks the same first.
   *
   * @param size The announced size.
   * @throws {FileError} `read-only`, `too-large` (naming no path).
   */
  checkUpload(size: number): void {
    this.#checkUpload(size, {});
  }

  #checkUpload(size: number, at: FileErrorOptions): void {
    if (this.readOnly) throw new FileError("read-only", "upload", "the server is read-only", at);
    if (size > this.maxFileSize) {
      throw new FileError(
        "too-large",
        "upload",
        `${size} bytes is over max_file_size (${this.maxFileSize} bytes)`,
        at,
      );
    }
  }

  /**
   * Starts an upload: checks the path, creates missing parent folders, and opens a hidden
   * temporary file beside the target. Nothing is visible until {@linkcode Upload.commit}.
   *
   * @param path The target.
   * @param size The announced size (checked against `maxFileSize`).
   * @param sha256 The announced sha256 (lower-case hex), checked at commit.
   * @param options Resumable, resumed at an offset, create only: see {@linkcode BeginOptions}.
   * @returns The upload.
   * @throws {FileError} `read-only`, `too-large`, path kinds (see {@linkcode FileStore.resolve}),
   *   `exists` (a folder is there, or a parent is a file, or a file with `createOnly`), `stale`
   *   (nothing kept to resume at `from`), `io` (not writable, disk full).
   */
  async beginUpload(
    path: string,
    size: number,
    sha256?: string,
    options: BeginOptions = {},
  ): Promise<Upload> {
    this.#checkUpload(size, { path });
    const r = await this.resolve(path, "upload");
    return await this.uploads.begin(r, size, sha256, options);
  }

  /**
   * Refuses deletions on a read-only server, before any path is looked at.
   * {@linkcode FileStore.remove} checks the same first.
   *
   * @throws {FileError} `read-only` (naming no path).
   */
  checkDelete(): void {
    this.#checkDelete({});
  }

  #checkDelete(at: FileErrorOptions): void {
    if (this.readOnly) throw new FileError("read-only", "delete", "the server is read-only", at);
  }

  /**
   * Deletes a file, a symlink (the link itself), or an empty folder.
   *
   * @param path The path.
   * @returns The plain path deleted.
   * @throws {FileError} `read-only`, path kinds (see {@linkcode FileStore.resolve}), `not-found`,
   *   `not-empty`, `io`.
   */
  async remove(path: string): Promise<string> {
    this.#checkDelete({ path });
    const r = await this.resolve(path, "delete");
    const at = { path: r.path };
    if (!r.exists) throw new FileError("not-found", "delete", "no such file or folder", at);
    try {
      // The entry itself, under its real parent: a symlink is removed, not what it points to.
      const parentReal = await Deno.realPath(join(this.rootReal, r.segments.slice(0, -1)));
      if (!isUnder(this.rootReal, parentReal)) {
        throw new FileError("outside", "delete", "it leads outside the shared folder", at);
      }
      const entry = join(parentReal, [r.segments[r.segments.length - 1]!]);
      const info = await Deno.lstat(entry);
      await Deno.remove(entry);
      if (!info.isDirectory) this.cache.delete(r.real);
      return r.path;
    } catch (e) {
      if (e instanceof FileError) throw e;
      if (e instanceof Deno.errors.NotFound) {
        throw new FileError("not-found", "delete", "no such file or folder", at);
      }
      if (errno(e) === "ENOTEMPTY" || errno(e) === "EEXIST" || /not empty/i.test(String(e))) {
        throw new FileError("not-empty", "delete", "the folder is not empty", at);
      }
      throw new FileError("io", "delete", describeIoError(e), { ...at, cause: e });
    }
  }

  /**
   * Sweeps upload files left under the root by a crash of this node or of a node that is gone
   * (see `Uploads.sweep`).
   *
   * @returns How many files were removed.
   */
  sweep(): Promise<number> {
    return this.uploads.sweep();
  }

  /**
   * How much of an upload this node keeps for a resume (`RESUME`): its bytes and their sha256.
   *
   * @param path The target.
   * @param size The whole size.
   * @param sha256 The announced sha256 (lower-case hex), or `""`.
   * @returns The bytes kept (0 when none) and the sha256 of those bytes.
   * @throws {FileError} As {@linkcode FileStore.beginUpload} before any byte.
   */
  async resumeInfo(path: string, size: number, sha256: string): Promise<ResumeInfo> {
    this.#checkUpload(size, { path });
    const r = await this.resolve(path, "upload");
    return await this.uploads.resumeInfo(r, size, sha256).catch((e) => {
      throw e instanceof DeadlineError ? this.#late("upload", r.path, e) : e;
    });
  }

  /** Aborts every upload in progress (server shutdown): see `Uploads.abortAll`. */
  abortAll(): Promise<void> {
    return this.uploads.abortAll();
  }
}
