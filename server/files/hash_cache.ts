/**
 * The sha256 cache of shared files: keyed by real path, size and modification time (and the inode
 * where the platform has one), so a download never re-hashes an unchanged file. Hashing is
 * streaming (`node:crypto` createHash), in large chunks, never the whole file in memory.
 *
 * @module
 */

import { Slots } from "../../lib/slots.ts";
import { createHash } from "node:crypto";
import { withDeadline } from "./deadline.ts";

/** What identifies one version of a file: if any of it changes, the cached hash is stale. */
export interface FileVersion {
  /** Size in bytes. */
  readonly size: number;
  /** Modification time, unix milliseconds (0 when the platform has none). */
  readonly mtime: number;
  /** Inode number, or `null` where the platform has none (Windows). */
  readonly ino: number | null;
  /** Device number, or `null` where the platform has none. */
  readonly dev: number | null;
}

/**
 * The version of a file as `stat` describes it.
 *
 * @param info A `Deno.FileInfo` (from `Deno.stat` or `FsFile.stat`).
 * @returns Its {@linkcode FileVersion}.
 * @example
 * ```ts
 * import { versionOf } from "./hash_cache.ts";
 * const v = versionOf(await Deno.stat(new URL(import.meta.url)));
 * console.assert(v.size > 0);
 * ```
 */
export function versionOf(info: Deno.FileInfo): FileVersion {
  return { size: info.size, mtime: info.mtime?.getTime() ?? 0, ino: info.ino, dev: info.dev };
}

function sameVersion(a: FileVersion, b: FileVersion): boolean {
  return a.size === b.size && a.mtime === b.mtime && a.ino === b.ino && a.dev === b.dev;
}

function versionKey(path: string, v: FileVersion): string {
  return `${path}\0${v.size}\0${v.mtime}\0${v.ino}\0${v.dev}`;
}

/** Options of {@linkcode HashCache}. */
export interface HashCacheOptions {
  /**
   * Most files remembered; the least recently used are forgotten first.
   * @default {100000}
   */
  maxEntries?: number;
  /**
   * Bytes read at a time when hashing a file.
   * @default {1048576}
   */
  chunkSize?: number;
  /**
   * Most files hashed at the same time; more wait their turn (this bounds the memory and disk
   * bandwidth that first downloads of many new files can take).
   * @default {2}
   */
  maxConcurrent?: number;
}

/** Options of {@linkcode HashCache.hash} and {@linkcode hashFile}. */
export interface HashOptions {
  /**
   * Deadline of each read, ms; 0 = none. A read past it fails with `DeadlineError` (deadline.ts).
   * @default {0}
   */
  readTimeout?: number;
}

/** The file being hashed changed size under the reader (it was rewritten in place). */
export class FileChangedError extends Error {
  /** @param message What happened. */
  constructor(message: string) {
    super(message);
    this.name = "FileChangedError";
  }
}

interface Entry {
  version: FileVersion;
  sha256: string;
}

/**
 * Remembers the sha256 of each file version, and hashes files that are not known yet, once even
 * when several readers ask at the same time.
 *
 * @example
 * ```ts
 * import { HashCache, versionOf } from "./hash_cache.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "abc");
 * const cache = new HashCache();
 * using file = await Deno.open(path);
 * const sha = await cache.hash(path, versionOf(await file.stat()), file);
 * console.assert(sha === "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
 * console.assert(cache.get(path, versionOf(await Deno.stat(path))) === sha);
 * await Deno.remove(path);
 * ```
 */
export class HashCache {
  readonly #maxEntries: number;
  readonly #chunkSize: number;
  // Insertion order is recency order: a hit moves the entry to the end.
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<string>>();
  readonly #maxConcurrent: number;
  readonly #slots: Slots;

  /** @param options See {@linkcode HashCacheOptions}. */
  constructor(options: HashCacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 100_000;
    this.#chunkSize = options.chunkSize ?? 1024 * 1024;
    this.#maxConcurrent = options.maxConcurrent ?? 2;
    if (!Number.isSafeInteger(this.#maxEntries) || this.#maxEntries < 1) {
      throw new RangeError(
        `Cannot create hash cache: maxEntries must be at least 1, got ${this.#maxEntries}`,
      );
    }
    if (!Number.isSafeInteger(this.#maxConcurrent) || this.#maxConcurrent < 1) {
      throw new RangeError(
        `Cannot create hash cache: maxConcurrent must be at least 1, got ${this.#maxConcurrent}`,
      );
    }
    if (!Number.isSafeInteger(this.#chunkSize) || this.#chunkSize < 1) {
      throw new RangeError(
        `Cannot create hash cache: chunkSize must be at least 1, got ${this.#chunkSize}`,
      );
    }
    this.#slots = new Slots(this.#maxConcurrent);
  }

  /** Number of files remembered. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The cached sha256 of this version of the file, if known.
   *
   * @param path The file's real path.
   * @param version Its current version.
   * @returns The lower-case hex sha256, or `undefined`.
   */
  get(path: string, version: FileVersion): string | undefined {
    const entry = this.#entries.get(path);
    if (entry === undefined) return undefined;
    if (!sameVersion(entry.version, version)) {
      this.#entries.delete(path);
      return undefined;
    }
    this.#entries.delete(path);
    this.#entries.set(path, entry);
    return entry.sha256;
  }

  /**
   * Remembers the sha256 of a file version (an upload hashed while it streamed in).
   *
   * @param path The file's real path.
   * @param version The version that was hashed.
   * @param sha256 Lower-case hex.
   */
  set(path: string, version: FileVersion, sha256: string): void {
    this.#entries.delete(path);
    this.#entries.set(path, { version, sha256 });
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value!;
      this.#entries.delete(oldest);
    }
  }

  /**
   * Forgets a file (deleted).
   *
   * @param path The file's real path.
   */
  delete(path: string): void {
    this.#entries.delete(path);
  }

  /**
   * The sha256 of a file: from the cache, or else hashed now through `file` (read from its start;
   * its position is left anywhere) and remembered. Readers asking for the same version while it is
   * being hashed share the one computation.
   *
   * @param path The file's real path.
   * @param version The version `file` has (from `file.stat()`).
   * @param file An open handle to that version.
   * @param options The deadline of each read.
   * @returns The lower-case hex sha256.
   * @throws {FileChangedError} When the file ends before `version.size` bytes.
   * @throws {DeadlineError} When a read does not answer in time.
   */
  hash(
    path: string,
    version: FileVersion,
    file: Deno.FsFile,
    options: HashOptions = {},
  ): Promise<string> {
    const cached = this.get(path, version);
    if (cached !== undefined) return Promise.resolve(cached);
    const key = versionKey(path, version);
    let running = this.#inFlight.get(key);
    if (running === undefined) {
      running = this.#slots.run(() => hashFile(file, version.size, this.#chunkSize, options))
        .then((sha) => {
          this.set(path, version, sha);
          return sha;
        })
        .finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, running);
    }
    return running;
  }
}

/**
 * Hashes the first `size` bytes of an open file, from its start, in chunks.
 *
 * @param file An open file; its position is moved.
 * @param size How many bytes to hash.
 * @param chunkSize Bytes read at a time.
 * @param options The deadline of each read.
 * @returns The lower-case hex sha256.
 * @throws {FileChangedError} When the file ends before `size` bytes.
 * @throws {DeadlineError} When a read does not answer in time.
 * @example
 * ```ts
 * import { hashFile } from "./hash_cache.ts";
 * const path = await Deno.makeTempFile();
 * using file = await Deno.open(path);
 * console.assert((await hashFile(file, 0)).startsWith("e3b0c442"));
 * await Deno.remove(path);
 * ```
 */
export async function hashFile(
  file: Deno.FsFile,
  size: number,
  chunkSize = 1024 * 1024,
  options: HashOptions = {},
): Promise<string> {
  const timeout = options.readTimeout ?? 0;
  const hash = createHash("sha256");
  await file.seek(0, Deno.SeekMode.Start);
  const buf = new Uint8Array(Math.min(chunkSize, Math.max(size, 1)));
  let left = size;
  while (left > 0) {
    const n = await withDeadline(
      file.read(left < buf.length ? buf.subarray(0, left) : buf),
      timeout,
      "read the file",
    );
    if (n === null) {
      throw new FileChangedError(
        `Cannot hash file: it ended ${left} bytes early (changed while read)`,
      );
    }
    hash.update(n === buf.length ? buf : buf.subarray(0, n));
    left -= n;
  }
  return hash.digest("hex");
}
