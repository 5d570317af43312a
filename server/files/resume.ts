/**
 * Kept uploads: a resumable upload that is cut keeps the bytes it received, synced, under a name
 * that says what it was (names.ts), for `ttl`; a later `PUT ... from=<offset>` claims them (an
 * atomic rename, so two clients can never append to the same bytes) and goes on. This node's kept
 * uploads are indexed in memory with the sha256 state of their bytes, expire after `ttl`, and
 * together stay under `quota` bytes (the oldest go first).
 *
 * @module
 */

import type { Hash } from "node:crypto";
import { FileError } from "./errors.ts";
import { keptName, resumableName, uploadKey } from "./names.ts";
import { basename, dirname, join } from "./paths.ts";

/** A kept upload found for a target. */
export interface KeptUpload {
  /** Its absolute path. */
  readonly path: string;
  /** Bytes it holds. */
  readonly size: number;
  /** Its version (for the hash cache): size, mtime, inode. */
  readonly info: Deno.FileInfo;
}

/** A kept upload claimed by a `PUT ... from=`: now a resumable upload in progress. */
export interface ClaimedUpload {
  /** Its new (in-progress) absolute path. */
  readonly path: string;
  /** The sha256 state of its bytes when this node kept it (else the caller hashes them). */
  readonly hash: Hash | null;
}

interface Entry {
  size: number;
  mtime: number;
  hash: Hash | null;
}

/** Options of {@linkcode KeptUploads}. */
export interface KeptUploadsOptions {
  /** This node's id. */
  node: string;
  /** How long a kept upload stays, ms; 0 = uploads are never kept. */
  ttl: number;
  /** Bytes all kept uploads of this node may hold. */
  quota: number;
}

function mtimeOf(info: Deno.FileInfo): number {
  return info.mtime?.getTime() ?? 0;
}

/**
 * The kept uploads of one node.
 *
 * @example
 * ```ts
 * import { KeptUploads } from "./resume.ts";
 * const kept = new KeptUploads({ node: "a1", ttl: 3_600_000, quota: 1 << 30 });
 * console.assert(kept.enabled && kept.bytes === 0);
 * ```
 */
export class KeptUploads {
  readonly #node: string;
  readonly #ttl: number;
  readonly #quota: number;
  // By absolute path, oldest first (insertion order).
  readonly #entries = new Map<string, Entry>();
  #bytes = 0;

  /** @param options See {@linkcode KeptUploadsOptions}. */
  constructor(options: KeptUploadsOptions) {
    this.#node = options.node;
    this.#ttl = options.ttl;
    this.#quota = options.quota;
  }

  /** Whether cut uploads are kept at all. */
  get enabled(): boolean {
    return this.#ttl > 0 && this.#quota > 0;
  }

  /** Bytes held by this node's kept uploads. */
  get bytes(): number {
    return this.#bytes;
  }

  /** How many uploads this node keeps. */
  get count(): number {
    return this.#entries.size;
  }

  /**
   * The name of a resumable upload in progress to `target`.
   *
   * @param target The target's absolute path.
   * @param size The whole size.
   * @param sha256 The announced sha256, or `""`.
   * @returns The absolute path of its temporary.
   */
  tempFor(target: string, size: number, sha256: string): string {
    return join(dirname(target), [
      resumableName(this.#node, uploadKey(basename(target), size, sha256)),
    ]);
  }

  /**
   * Keeps a cut resumable upload: renames its (synced) temporary to its kept name, replacing an
   * older one of the same key, and makes room under the quota by dropping the oldest.
   *
   * @param temp The temporary's absolute path.
   * @param target The target's absolute path.
   * @param size The whole size.
   * @param sha256 The announced sha256, or `""`.
   * @param hash The sha256 state of the bytes received (a copy; kept).
   * @returns Whether it was kept (else the caller removes the temporary).
   */
  async keep(
    temp: string,
    target: string,
    size: number,
    sha256: string,
    hash: Hash,
  ): Promise<boolean> {
    if (!this.enabled) return false;
    const info = await Deno.stat(temp);
    if (info.size === 0 || info.size > this.#quota) return false;
    const path = join(dirname(target), [
      keptName(this.#node, uploadKey(basename(target), size, sha256)),
    ]);
    this.#forget(path);
    for (const [old] of this.#entries) {
      if (this.#bytes + info.size <= this.#quota) break;
      await this.remove(old);
    }
    await Deno.rename(temp, path);
    this.#add(path, info, hash);
    return true;
  }

  #add(path: string, info: Deno.FileInfo, hash: Hash | null): void {
    this.#forget(path);
    this.#entries.set(path, { size: info.size, mtime: mtimeOf(info), hash });
    this.#bytes += info.size;
  }

  #forget(path: string): Entry | undefined {
    const entry = this.#entries.get(path);
    if (entry === undefined) return undefined;
    this.#entries.delete(path);
    this.#bytes -= entry.size;
    return entry;
  }

  /**
   * Records a kept upload found on disk (the start-up sweep, or adopted from a node that is
   * gone); it counts against the quota from now on.
   *
   * @param path Its absolute path (a kept name of this node).
   * @param info Its stat.
   */
  register(path: string, info: Deno.FileInfo): void {
    this.#add(path, info, null);
  }

  /**
   * Removes a kept upload of this node.
   *
   * @param path Its absolute path.
   */
  async remove(path: string): Promise<void> {
    this.#forget(path);
    await Deno.remove(path).catch(() => {});
  }

  /**
   * The kept upload of this node for a target, if any: the one of the announced sha256 first,
   * then the one uploaded without a sha256.
   *
   * @param target The target's absolute path.
   * @param size The whole size.
   * @param sha256 The announced sha256, or `""`.
   * @returns It, or `null`.
   */
  async find(target: string, size: number, sha256: string): Promise<KeptUpload | null> {
    if (!this.enabled) return null;
    for (const sha of sha256 === "" ? [""] : [sha256, ""]) {
      const path = join(dirname(target), [
        keptName(this.#node, uploadKey(basename(target), size, sha)),
      ]);
      try {
        const info = await Deno.lstat(path);
        if (info.isFile) return { path, size: info.size, info };
      } catch {
        // None of this key.
      }
    }
    return null;
  }

  /**
   * Claims the kept upload of a target to resume it at `offset`: renames it to a resumable
   * upload in progress (atomic: a second claim of the same bytes finds nothing).
   *
   * @param target The target's absolute path.
   * @param size The whole size.
   * @param sha256 The announced sha256, or `""`.
   * @param offset Bytes the client says the server has.
   * @param path The plain path (for messages).
   * @returns The claimed upload.
   * @throws {FileError} `stale` when none is kept, or it holds another number of bytes (it is
   *   then kept as it was).
   */
  async claim(
    target: string,
    size: number,
    sha256: string,
    offset: number,
    path: string,
  ): Promise<ClaimedUpload> {
    const found = await this.find(target, size, sha256);
    const stale = (why: string) =>
      new FileError("stale", "upload", `${why}; send RESUME, then PUT from the offset it gives`, {
        path,
      });
    if (found === null) throw stale(`the server keeps no part of it to resume`);
    if (found.size !== offset) {
      throw stale(`the server keeps ${found.size} bytes of it, not ${offset}`);
    }
    const temp = this.tempFor(target, size, sha256);
    try {
      await Deno.rename(found.path, temp);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw stale("another upload resumed it meanwhile");
      throw e;
    }
    const entry = this.#forget(found.path);
    const valid = entry !== undefined && entry.size === found.size &&
      entry.mtime === mtimeOf(found.info);
    return { path: temp, hash: valid ? entry.hash : null };
  }

  /**
   * Removes the kept uploads of a target that was just written whole.
   *
   * @param target The target's absolute path.
   * @param size The whole size.
   * @param sha256 The announced sha256, or `""`.
   */
  async dropFor(target: string, size: number, sha256: string): Promise<void> {
    if (this.#entries.size === 0) return;
    for (const sha of new Set([sha256, ""])) {
      const path = join(dirname(target), [
        keptName(this.#node, uploadKey(basename(target), size, sha)),
      ]);
      if (this.#entries.has(path)) await this.remove(path);
    }
  }

  /**
   * Removes the kept uploads older than `ttl` (by their last write).
   *
   * @param now The time, unix ms.
   * @returns How many were removed.
   */
  async expire(now = Date.now()): Promise<number> {
    let removed = 0;
    for (const [path, entry] of [...this.#entries]) {
      if (now - entry.mtime < this.#ttl) continue;
      await this.remove(path);
      removed++;
    }
    return removed;
  }
}
