/**
 * The uploads of one shared folder, on one node: starting them (a temporary beside the target,
 * plain or resumable, or a kept upload claimed to resume it), their write-behind memory, the kept
 * uploads and this node's upkeep (heartbeat, the sweep of what crashes left, expiry of kept
 * uploads). `FileStore` resolves paths and hands them here.
 *
 * @module
 */

import type { Hash } from "node:crypto";
import { DeadlineError, openForReading } from "./deadline.ts";
import { describeIoError, errno, FileError } from "./errors.ts";
import { PendingFolders } from "./folders.ts";
import { type HashCache, versionOf } from "./hash_cache.ts";
import { newNodeId, plainName } from "./names.ts";
import { Nodes } from "./nodes.ts";
import { basename, dirname, isUnder, join, type ResolvedPath } from "./paths.ts";
import { hashPrefix } from "./prefix.ts";
import { KeptUploads } from "./resume.ts";
import type { BeginOptions, FileStoreOptions } from "./store_types.ts";
import { type SweepResult, sweepUploads } from "./sweep.ts";
import { Upload, WRITE_BUFFER } from "./upload.ts";

/** The sha256 of no bytes. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** What `RESUME` answers: the bytes kept of an upload and their sha256. */
export interface ResumeInfo {
  /** Bytes kept (0 when none). */
  have: number;
  /** sha256 of those bytes, lower-case hex. */
  sha256: string;
}

/**
 * The uploads of one folder on this node. Made by `FileStore`.
 *
 * @example
 * ```ts
 * import { FileStore } from "./store.ts";
 * const root = await Deno.makeTempDir();
 * const store = FileStore.create(root);
 * store.uploads.start();
 * console.assert(store.uploads.active === 0);
 * await store.uploads.stop();
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export class Uploads {
  /** This node and the others sharing the folder. */
  readonly nodes: Nodes;
  /** This node's kept (cut, resumable) uploads. */
  readonly kept: KeptUploads;
  readonly #rootReal: string;
  readonly #cache: HashCache;
  readonly #timeout: number;
  readonly #uploads = new Set<Upload>();
  // Temporary files of this process, from just before they are created until their upload ends.
  readonly #temps = new Set<string>();
  readonly #folders: PendingFolders;
  readonly #bufferBudget: number;
  #bufferUsed = 0;
  readonly #resumeTtl: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #upkeep: Promise<void> = Promise.resolve();

  /**
   * @param rootReal The shared folder's real path.
   * @param cache The sha256 cache.
   * @param options The store's options.
   */
  constructor(rootReal: string, cache: HashCache, options: FileStoreOptions) {
    this.#rootReal = rootReal;
    this.#cache = cache;
    this.#timeout = options.timeout ?? 10_000;
    this.#bufferBudget = options.bufferBudget ?? 64 * 1024 * 1024;
    this.#folders = new PendingFolders(rootReal);
    const node = options.node ?? newNodeId();
    this.nodes = new Nodes(rootReal, node, options.nodeTimeout ?? 30_000);
    this.#resumeTtl = options.resumeTtl ?? 3_600_000;
    this.kept = new KeptUploads({
      node,
      ttl: this.#resumeTtl,
      quota: options.resumeQuota ?? 10 * 1024 ** 3,
    });
  }

  /** Uploads in progress. */
  get active(): number {
    return this.#uploads.size;
  }

  /** Bytes of write-behind buffers reserved by the uploads in progress. */
  get bufferedBytes(): number {
    return this.#bufferUsed;
  }

  /**
   * Starts an upload to a resolved path (see `FileStore.beginUpload`).
   *
   * @param r The resolved target.
   * @param size The whole size.
   * @param sha256 The announced sha256 (lower-case hex).
   * @param options See {@linkcode BeginOptions}.
   * @returns The upload.
   * @throws {FileError} As `FileStore.beginUpload`.
   */
  async begin(
    r: ResolvedPath,
    size: number,
    sha256: string | undefined,
    options: BeginOptions,
  ): Promise<Upload> {
    const at = { path: r.path };
    const from = options.from ?? 0;
    const resumable = (options.resumable || from > 0) && this.kept.enabled;
    if (from > 0 && !this.kept.enabled) {
      throw new FileError(
        "stale",
        "upload",
        "the server keeps no cut uploads (--upload-resume-ttl 0)",
        at,
      );
    }
    let parentReal: string;
    // Folders of uploads in progress that this upload needs too (see PendingFolders).
    let folders: string[] = [];
    try {
      if (r.exists) {
        if ((await Deno.stat(r.real)).isDirectory) {
          throw new FileError("exists", "upload", "a folder has that name", at);
        }
        if (options.createOnly) {
          throw new FileError(
            "exists",
            "upload",
            "a file has that name (the upload was sent with new: nothing replaced)",
            at,
          );
        }
        parentReal = dirname(r.real);
      } else {
        const parent = dirname(r.real);
        folders = await this.#folders.create(parent);
        // Re-check after creating: a parent must still be a real folder under the root.
        parentReal = await Deno.realPath(parent);
        if (!isUnder(this.#rootReal, parentReal)) {
          throw new FileError("outside", "upload", "it leads outside the shared folder", at);
        }
      }
    } catch (e) {
      await this.#folders.release(folders, false);
      if (e instanceof FileError) throw e;
      if (
        e instanceof Deno.errors.NotADirectory || e instanceof Deno.errors.AlreadyExists ||
        errno(e) === "ENOTDIR" || errno(e) === "EEXIST"
      ) {
        throw new FileError("exists", "upload", "a file is in the way of its folder", {
          ...at,
          cause: e,
        });
      }
      throw new FileError("io", "upload", `cannot create its folder: ${describeIoError(e)}`, {
        ...at,
        cause: e,
      });
    }
    const target = join(parentReal, [basename(r.real)]);
    let temp = resumable
      ? this.kept.tempFor(target, size, sha256 ?? "")
      : join(parentReal, [plainName(this.nodes.node)]);
    let file: Deno.FsFile;
    let hash: Hash | undefined;
    try {
      if (from > 0) {
        const claimed = await this.kept.claim(target, size, sha256 ?? "", from, r.path);
        temp = claimed.path;
        this.#temps.add(temp);
        file = await Deno.open(temp, { read: true, write: true });
        try {
          hash = claimed.hash ?? await hashPrefix(file, from, this.#timeout);
          await file.seek(from, Deno.SeekMode.Start);
        } catch (e) {
          file.close();
          throw e;
        }
      } else {
        this.#temps.add(temp);
        file = await Deno.open(temp, { write: true, createNew: true });
      }
    } catch (e) {
      this.#temps.delete(temp);
      await this.#folders.release(folders, false);
      if (e instanceof FileError) throw e;
      throw new FileError(
        "io",
        "upload",
        `the shared folder is not writable: ${describeIoError(e)}`,
        { ...at, cause: e },
      );
    }
    // Write-behind buffers while the budget lasts, else direct writes.
    const want = Math.min(WRITE_BUFFER, Math.max(1, size));
    const bufSize = this.#bufferUsed + 2 * want <= this.#bufferBudget ? want : 0;
    const upload = new Upload({
      path: r.path,
      bufSize,
      file,
      temp,
      target,
      parent: parentReal,
      releaseFolders: (kept) => this.#folders.release(folders, kept),
      park: folders.length > 0 ? this.#rootReal : undefined,
      sha256,
      cache: this.#cache,
      kept: this.kept,
      resumable,
      size,
      received: from,
      hash,
      createOnly: options.createOnly,
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

  #context() {
    return { rootReal: this.#rootReal, nodes: this.nodes, kept: this.kept, temps: this.#temps };
  }

  /**
   * Sweeps upload files left under the root by a crash of this node or of a node that is gone,
   * adopting resumable ones (see sweep.ts). Uploads in progress of this process, and files of
   * nodes that are alive, are never touched.
   *
   * @returns How many files were removed.
   */
  async sweep(): Promise<number> {
    return (await sweepUploads(this.#context())).removed;
  }

  /**
   * Starts this node's upkeep: its heartbeat in the folder (so other nodes leave its uploads
   * alone), the start-up sweep in the background, and then, every quarter of the resume ttl (at
   * most a minute), the expiry of kept uploads and a sweep when a node sharing the folder is gone.
   *
   * @param onSweep Told what each sweep did, or why it failed.
   * @throws {Error} When the heartbeat cannot be written (then nothing runs).
   */
  start(onSweep?: (r: SweepResult | null, error?: unknown) => void): void {
    this.nodes.start();
    const sweep = () =>
      sweepUploads(this.#context()).then((r) => onSweep?.(r), (e) => onSweep?.(null, e));
    this.#upkeep = sweep();
    const every = Math.max(200, Math.min(60_000, Math.floor(this.#resumeTtl / 4) || 60_000));
    const timer = setInterval(() => {
      this.#upkeep = this.#upkeep.then(async () => {
        await this.kept.expire();
        for (const node of await this.nodes.known()) {
          if (!(await this.nodes.alive(node))) return await sweep();
        }
      }).catch(() => {});
    }, every);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Stops the upkeep and removes this node's heartbeat (after {@linkcode Uploads.abortAll}). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#upkeep.catch(() => {});
    await this.nodes.stop();
  }

  /**
   * The bytes this node keeps of an upload, and their sha256 (from the hash cache).
   *
   * @param r The resolved target.
   * @param size The whole size.
   * @param sha256 The announced sha256, or `""`.
   * @returns What is kept.
   * @throws {DeadlineError} When a read of the disk is late.
   * @throws {FileError} `io` on a disk failure.
   */
  async resumeInfo(r: ResolvedPath, size: number, sha256: string): Promise<ResumeInfo> {
    const found = await this.kept.find(r.real, size, sha256);
    if (found === null) return { have: 0, sha256: EMPTY_SHA256 };
    try {
      using file = await openForReading(found.path, this.#timeout);
      const info = await file.stat();
      const sha = await this.#cache.hash(found.path, versionOf(info), file, {
        readTimeout: this.#timeout,
      });
      return { have: info.size, sha256: sha };
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return { have: 0, sha256: EMPTY_SHA256 };
      if (e instanceof DeadlineError) throw e;
      throw new FileError("io", "upload", describeIoError(e), { path: r.path, cause: e });
    }
  }

  /**
   * Aborts every upload in progress (server shutdown): plain ones are removed, resumable ones
   * kept for a resume.
   */
  async abortAll(): Promise<void> {
    await Promise.all([...this.#uploads].map((u) => u.abort()));
  }
}
