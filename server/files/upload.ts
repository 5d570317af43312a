/**
 * One upload in progress: bytes go to a hidden temporary file beside the target (written behind,
 * at most one disk write in flight) and into a streaming sha256; `commit` checks the announced
 * sha256, syncs, and renames into place; `abort` leaves nothing behind.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { WriteBehind } from "../../lib/write_behind.ts";
import { describeIoError, errno, FileError } from "./errors.ts";
import { type HashCache, versionOf } from "./hash_cache.ts";
import { basename } from "./paths.ts";
import type { KeptUploads } from "./resume.ts";

/** Bytes of an upload buffered before each disk write (two such buffers per upload). */
export const WRITE_BUFFER = 256 * 1024;

const WINDOWS = Deno.build.os === "windows";

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

/** What an {@linkcode Upload} is made of (by `FileStore.beginUpload`, store.ts). */
export interface UploadInit {
  /** The plain relative path. */
  path: string;
  /** Size of each of the two write-behind buffers; 0 to write each piece straight to disk. */
  bufSize: number;
  /** The temporary file, open for writing. */
  file: Deno.FsFile;
  /** The temporary file's real absolute path. */
  temp: string;
  /** Where it is renamed on commit (real absolute path). */
  target: string;
  /** The real folder of both (synced after the rename). */
  parent: string;
  /** Called once when the upload ends: `kept` is true when it completed. */
  releaseFolders: (kept: boolean) => Promise<void>;
  /**
   * When the upload created folders: where its temporary moves when it is abandoned (the shared
   * folder's real root), so the folders are gone before the temporary is (nobody sees an empty
   * folder that is about to vanish once the temporary has).
   */
  park?: string;
  /** The announced sha256 (hex), checked at commit. */
  sha256: string | undefined;
  /** Where the sha256 of the committed file is recorded. */
  cache: HashCache;
  /** Called once when the upload ends, committed or not. */
  onDone: (u: Upload) => void;
  /** The kept uploads: a resumable upload that is cut is kept there; a commit drops older ones. */
  kept?: KeptUploads;
  /** Keep the bytes for a resume when the upload is cut (see resume.ts). */
  resumable?: boolean;
  /** The whole size (a resumed upload's bytes start at `received`). */
  size?: number;
  /** Bytes already in the temporary (a resumed upload), hashed into `hash`. */
  received?: number;
  /** The sha256 state of those bytes. */
  hash?: Hash;
  /** Refuse to replace a file at the target: checked atomically at commit (a hard link). */
  createOnly?: boolean;
}

/**
 * An upload in progress: bytes go to a hidden temporary file and into a streaming sha256; `commit`
 * checks the announced sha256, syncs, and renames into place; `abort` leaves nothing behind.
 */
export class Upload {
  /** The plain relative path. */
  readonly path: string;
  /** The temporary file's absolute path. */
  readonly temp: string;
  readonly #file: Deno.FsFile;
  readonly #target: string;
  readonly #parent: string;
  readonly #releaseFolders: (kept: boolean) => Promise<void>;
  readonly #park: string | undefined;
  readonly #expected: string | undefined;
  readonly #cache: HashCache;
  readonly #onDone: (u: Upload) => void;
  readonly #hash: Hash;
  readonly #kept: KeptUploads | undefined;
  readonly #resumable: boolean;
  readonly #size: number;
  readonly #createOnly: boolean;
  #received = 0;
  // Set when what arrived must not be kept (a sha256 mismatch, a failed commit).
  #discard = false;
  #done = false;
  #aborting: Promise<void> | null = null;
  // Write-behind: bytes are copied into a buffer, which is written while the next ones arrive and
  // are hashed. At most one write is in flight and two buffers exist per upload.
  readonly #behind: WriteBehind;

  /** Use `FileStore.beginUpload` (store.ts). */
  constructor(init: UploadInit) {
    this.path = init.path;
    this.temp = init.temp;
    this.#file = init.file;
    this.#target = init.target;
    this.#parent = init.parent;
    this.#releaseFolders = init.releaseFolders;
    this.#park = init.park;
    this.#expected = init.sha256?.toLowerCase();
    this.#cache = init.cache;
    this.#onDone = init.onDone;
    this.#hash = init.hash ?? createHash("sha256");
    this.#received = init.received ?? 0;
    this.#kept = init.kept;
    this.#resumable = init.resumable ?? false;
    this.#size = init.size ?? 0;
    this.#createOnly = init.createOnly ?? false;
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
   * @throws {FileError} `ended` after commit or abort; `io` when the disk refuses (full,
   *   unwritable): the upload is then aborted.
   */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.#done) throw this.#ended();
    this.#hash.update(bytes);
    try {
      await this.#behind.write(bytes);
    } catch (e) {
      this.#discard = true;
      await this.abort();
      throw this.#error("io", describeIoError(e), e);
    }
    this.#received += bytes.length;
  }

  /**
   * Finishes the upload: checks the announced sha256, syncs the file, renames it into place
   * (atomically replacing any older version), and records its sha256 in the cache.
   *
   * @returns The sha256 of what was received, lower-case hex.
   * @throws {FileError} `mismatch` on a sha256 mismatch (nothing is kept), `exists` when a folder
   *   took the name meanwhile, `ended` after commit or abort, `io` on a disk error.
   */
  async commit(): Promise<string> {
    if (this.#done) throw this.#ended();
    const sha256 = this.#hash.digest("hex");
    if (this.#expected !== undefined && sha256 !== this.#expected) {
      this.#discard = true;
      await this.abort();
      throw this.#error(
        "mismatch",
        `sha256 mismatch (announced ${this.#expected}, received ${sha256}); nothing was stored`,
      );
    }
    try {
      await this.#behind.finish();
      await syncFile(this.#file);
      const version = versionOf(await this.#file.stat());
      this.#done = true;
      this.#file.close();
      if (this.#createOnly) await this.#create();
      else await Deno.rename(this.temp, this.#target);
      await this.#releaseFolders(true);
      this.#onDone(this);
      this.#cache.set(this.#target, version, sha256);
      await syncDir(this.#parent);
      await this.#kept?.dropFor(this.#target, this.#size, this.#expected ?? "");
      return sha256;
    } catch (e) {
      this.#done = false;
      this.#discard = true;
      await this.abort();
      if (e instanceof FileError) throw e;
      if (
        e instanceof Deno.errors.IsADirectory || errno(e) === "EISDIR" || errno(e) === "ENOTEMPTY"
      ) {
        throw this.#error("exists", "a folder has that name", e);
      }
      throw this.#error("io", describeIoError(e), e);
    }
  }

  /** Puts the temporary at the target only if nothing is there: a hard link fails if it is. */
  async #create(): Promise<void> {
    const taken = () =>
      this.#error(
        "exists",
        "a file has that name (the upload was sent with new: nothing replaced)",
      );
    try {
      await Deno.link(this.temp, this.#target);
    } catch (e) {
      if (e instanceof Deno.errors.AlreadyExists || errno(e) === "EEXIST") throw taken();
      // No hard links here (some file systems): check, then rename (not atomic).
      if (await Deno.lstat(this.#target).then(() => true, () => false)) throw taken();
      await Deno.rename(this.temp, this.#target);
      return;
    }
    await removeQuietly(this.temp);
  }

  #ended(): FileError {
    return this.#error("ended", "the upload has ended");
  }

  #error(kind: "io" | "exists" | "mismatch" | "ended", reason: string, cause?: unknown): FileError {
    return new FileError(
      kind,
      "upload",
      reason,
      cause === undefined ? { path: this.path } : { path: this.path, cause },
    );
  }

  /** Keeps the bytes of a cut resumable upload; false when they are not kept. */
  async #keep(): Promise<boolean> {
    if (!this.#resumable || this.#discard || this.#kept === undefined || this.#received === 0) {
      return false;
    }
    try {
      await syncFile(this.#file);
      this.#file.close();
      return await this.#kept.keep(
        this.temp,
        this.#target,
        this.#size,
        this.#expected ?? "",
        this.#hash.copy(),
      );
    } catch {
      return false;
    }
  }

  /**
   * Abandons the upload: closes and removes the temporary file, or, for a resumable upload that
   * received bytes, syncs it and keeps it for a resume (see resume.ts). Idempotent; never rejects.
   */
  abort(): Promise<void> {
    if (this.#done && this.#aborting === null) return Promise.resolve();
    this.#aborting ??= (async () => {
      this.#done = true;
      const keep = this.#resumable && !this.#discard;
      const writes = keep
        ? await this.#behind.finish().then(() => true, () => false)
        : await this.#behind.settle().then(() => false);
      if (writes && await this.#keep()) {
        await this.#releaseFolders(true);
        this.#onDone(this);
        return;
      }
      try {
        this.#file.close();
      } catch {
        // Closed already.
      }
      let temp = this.temp;
      if (this.#park !== undefined) {
        const parked = `${this.#park}/${basename(temp)}`;
        try {
          await Deno.rename(temp, parked);
          temp = parked;
        } catch {
          // Gone already, or another filesystem: removed where it is, before its folders.
          await removeQuietly(temp);
        }
      }
      if (temp === this.temp) await removeQuietly(temp);
      await this.#releaseFolders(false);
      if (temp !== this.temp) await removeQuietly(temp);
      this.#onDone(this);
    })();
    return this.#aborting;
  }
}

/** Removes a file; one that is gone already (or was renamed into place) is fine. */
async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch {
    // Gone already.
  }
}
