/**
 * The shapes the file store hands out and takes: an opened file, listing pages, its options.
 *
 * @module
 */

import type { ListEntry } from "../../lib/protocol/rows.ts";
import type { HashCache } from "./hash_cache.ts";

/** A file opened for a download: one handle, and the size and sha256 of that same handle. */
export interface OpenedFile {
  /** The plain relative path. */
  readonly path: string;
  /** The open handle: the caller closes it. */
  readonly file: Deno.FsFile;
  /** Size of the whole file. */
  readonly size: number;
  /** sha256 of the whole file, lower-case hex. */
  readonly sha256: string;
}

/** One row of a {@linkcode ListPage}: an entry and its position in the whole listing. */
export interface ListRow {
  /** Position of the entry's name among the folder's names (0-based). */
  readonly at: number;
  /** The entry. */
  readonly entry: ListEntry;
}

/** A page of a folder's listing (see `FileStore.listPage`). */
export interface ListPage {
  /** Names in the folder (an upper bound of its rows: see `FileStore.listPage`). */
  readonly total: number;
  /** Where the page starts, as asked. */
  readonly offset: number;
  /** Where the page ends: `min(offset + limit, total)` (at least `offset`). */
  readonly end: number;
  /** The listable entries among the names from `offset` to `end`, in name order. */
  readonly rows: readonly ListRow[];
}

/** Options of `FileStore.beginUpload`. */
export interface BeginOptions {
  /**
   * Keep the bytes received when the upload is cut, for a resume (`PUT ... resume`).
   * @default {false}
   */
  resumable?: boolean;
  /**
   * Resume the kept upload of this target that holds exactly this many bytes (`from=`); the
   * upload's bytes follow them. Implies `resumable`.
   * @default {0}
   */
  from?: number;
  /**
   * Refuse to replace a file at the target (`new`), at the start and atomically at commit.
   * @default {false}
   */
  createOnly?: boolean;
}

/** Options of `FileStore.create`. */
export interface FileStoreOptions {
  /**
   * Refuse uploads and deletions (`read-only`).
   * @default {false}
   */
  readOnly?: boolean;
  /**
   * Largest upload in bytes (`too-large` beyond).
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
  /**
   * Deadline of each file operation a command waits for (a stat, an open, one read of a file or a
   * folder), ms; 0 = none. An operation past it fails with `io` ("the server's disk did not
   * answer in time"); nothing is left waiting on it.
   * @default {10000}
   */
  timeout?: number;
  /**
   * This server process's id in the folder (names its upload files).
   * @default {12 random hex digits}
   */
  node?: string;
  /**
   * How old the heartbeat of a node on another machine may be before its upload files count as
   * left by a crash, ms.
   * @default {30000}
   */
  nodeTimeout?: number;
  /**
   * How long a cut resumable upload is kept, ms; 0 = never kept.
   * @default {3600000}
   */
  resumeTtl?: number;
  /**
   * Bytes this node's kept uploads may hold together (the oldest are dropped first).
   * @default {10737418240}
   */
  resumeQuota?: number;
}
