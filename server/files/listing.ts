/**
 * The names of a folder, sorted, for `LIST` pages: one scan of a folder serves every page and every
 * client asking at the same time, and is kept while the folder is unchanged. A scan holds only the
 * names (about 50-100 bytes each); the rows of a page are described (stat) page by page. At most
 * two folders are scanned at once, and the names kept are bounded, so a folder of 100,000 entries
 * costs a few MiB once, not per request.
 *
 * @module
 */

import { Slots } from "../../lib/slots.ts";
import { DeadlineError, withDeadline } from "./deadline.ts";
import { TEMP_PREFIX } from "./paths.ts";

/** Options of {@linkcode FolderNames}. */
export interface FolderNamesOptions {
  /**
   * Deadline of each step of a scan (the folder's stat, each batch of entries read), ms; 0 = none.
   * @default {10000}
   */
  timeout?: number;
  /**
   * Most names kept for all folders together; a folder with more is scanned for each page.
   * @default {1000000}
   */
  maxNames?: number;
  /**
   * Most folders kept.
   * @default {16}
   */
  maxFolders?: number;
  /**
   * Folders scanned at the same time; more wait their turn.
   * @default {2}
   */
  maxScans?: number;
}

/**
 * A folder changed this recently before its scan began is not kept (ms): folder times come from a
 * coarse clock, so a change made just after the scan may leave the time as it was.
 */
const MARGIN = 50;

interface Scan {
  /** What identifies the folder's state: changes when an entry is added, removed or renamed. */
  version: string;
  names: readonly string[];
}

function versionOf(info: Deno.FileInfo): string {
  return `${info.mtime?.getTime() ?? 0}:${info.ino}:${info.dev}:${info.ctime?.getTime() ?? 0}`;
}

/** Elements sorted or merged between two yields to the event loop (a few ms of work). */
const SLICE = 8192;

/** Lets other connections run (a macrotask turn, so I/O is polled). */
function yieldNow(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Sorts names by UTF-16 code units (the order `LIST` documents) in slices of a few milliseconds:
 * runs of {@linkcode SLICE} sorted, then merged pairwise, yielding between slices, so a folder of
 * 100,000 names does not stall the other clients for the 50 ms one `sort()` takes.
 */
async function sortInSlices(names: string[]): Promise<string[]> {
  const n = names.length;
  for (let i = 0; i < n; i += SLICE) {
    const run = names.slice(i, i + SLICE).sort();
    for (let j = 0; j < run.length; j++) names[i + j] = run[j]!;
    if (i + SLICE < n) await yieldNow();
  }
  let from = names;
  let to = new Array<string>(n);
  let budget = SLICE;
  for (let width = SLICE; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let a = lo;
      let b = mid;
      for (let k = lo; k < hi; k++) {
        to[k] = a < mid && (b >= hi || from[a]! <= from[b]!) ? from[a++]! : from[b++]!;
        if (--budget === 0) {
          budget = SLICE;
          await yieldNow();
        }
      }
    }
    [from, to] = [to, from];
  }
  return from;
}

/**
 * A deadline on each step of a long walk, with one timer for the whole walk (not one per step):
 * a step that has not settled `ms` after it began fails with {@linkcode DeadlineError}.
 */
class Watchdog {
  readonly #ms: number;
  readonly #what: string;
  #began = 0;
  #fail: ((e: Error) => void) | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ms: number, what: string) {
    this.#ms = ms;
    this.#what = what;
  }

  /** Waits for one step (no reference to it is kept after it settles). */
  step<T>(op: Promise<T>): Promise<T> {
    if (this.#ms <= 0) return op;
    this.#began = Date.now();
    if (this.#timer === undefined) this.#timer = setTimeout(() => this.#check(), this.#ms);
    return new Promise<T>((resolve, reject) => {
      this.#fail = reject;
      op.then(resolve, reject).finally(() => {
        // The next step may have begun already.
        if (this.#fail === reject) this.#fail = null;
      });
    });
  }

  #check(): void {
    const waited = Date.now() - this.#began;
    if (this.#fail !== null && waited >= this.#ms) {
      this.#timer = undefined;
      this.#fail(new DeadlineError(this.#what, this.#ms));
      return;
    }
    this.#timer = setTimeout(() => this.#check(), Math.max(1, this.#ms - waited));
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * Sorted names of folders, scanned once and kept while unchanged.
 *
 * @example
 * ```ts
 * import { FolderNames } from "./listing.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/b`, "");
 * await Deno.writeTextFile(`${dir}/a`, "");
 * const names = new FolderNames();
 * console.assert((await names.of(dir)).join() === "a,b");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FolderNames {
  readonly #timeout: number;
  readonly #maxNames: number;
  readonly #maxFolders: number;
  // Insertion order is recency order.
  readonly #kept = new Map<string, Scan>();
  #keptNames = 0;
  readonly #inFlight = new Map<string, Promise<Scan>>();
  readonly #scans: Slots;

  /** @param options See {@linkcode FolderNamesOptions}. */
  constructor(options: FolderNamesOptions = {}) {
    this.#timeout = options.timeout ?? 10_000;
    this.#maxNames = options.maxNames ?? 1_000_000;
    this.#maxFolders = options.maxFolders ?? 16;
    const maxScans = options.maxScans ?? 2;
    if (!Number.isSafeInteger(maxScans) || maxScans < 1) {
      throw new RangeError(
        `Cannot create folder names: maxScans must be at least 1, got ${maxScans}`,
      );
    }
    this.#scans = new Slots(maxScans);
  }

  /** Names kept now, all folders together. */
  get keptNames(): number {
    return this.#keptNames;
  }

  /**
   * The names of a folder, sorted, without temporary uploads and without entries that are neither
   * a file, a folder nor a symlink (as the folder says, without a stat of each).
   *
   * @param real The folder's real path (it must be a folder).
   * @returns The names; do not change the array.
   * @throws {Deno.errors.NotFound} And the other errors of `stat` and `readDir`.
   * @throws {DeadlineError} When a step does not answer in time.
   */
  async of(real: string): Promise<readonly string[]> {
    const info = await withDeadline(Deno.stat(real), this.#timeout, "stat the folder");
    const version = versionOf(info);
    const kept = this.#kept.get(real);
    if (kept !== undefined) {
      this.#kept.delete(real);
      if (kept.version === version) {
        this.#kept.set(real, kept);
        return kept.names;
      }
      this.#keptNames -= kept.names.length;
    }
    const key = `${real}\0${version}`;
    let running = this.#inFlight.get(key);
    if (running === undefined) {
      const changedAt = info.mtime?.getTime() ?? Infinity;
      let startedAt = 0;
      running = this.#scans.run(() => {
        startedAt = Date.now();
        return this.#scan(real, version);
      })
        .then((scan) => {
          if (changedAt < startedAt - MARGIN) this.#keep(real, scan);
          return scan;
        })
        .finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, running);
    }
    return (await running).names;
  }

  async #scan(real: string, version: string): Promise<Scan> {
    const names: string[] = [];
    const entries = Deno.readDir(real)[Symbol.asyncIterator]();
    const watchdog = new Watchdog(this.#timeout, "read the folder");
    try {
      for (;;) {
        const step = await watchdog.step(entries.next());
        if (step.done) break;
        const e = step.value;
        if (!e.isFile && !e.isDirectory && !e.isSymlink) continue;
        if (e.name.toLowerCase().startsWith(TEMP_PREFIX)) continue;
        names.push(e.name);
      }
    } catch (e) {
      // Close the folder; a step still pending after its deadline closes it when it ends.
      entries.return?.().catch(() => {});
      throw e;
    } finally {
      watchdog.stop();
    }
    return { version, names: await sortInSlices(names) };
  }

  #keep(real: string, scan: Scan): void {
    if (scan.names.length > this.#maxNames) return;
    const old = this.#kept.get(real);
    if (old !== undefined) {
      this.#kept.delete(real);
      this.#keptNames -= old.names.length;
    }
    this.#kept.set(real, scan);
    this.#keptNames += scan.names.length;
    for (const [path, s] of this.#kept) {
      if (this.#keptNames <= this.#maxNames && this.#kept.size <= this.#maxFolders) break;
      this.#kept.delete(path);
      this.#keptNames -= s.names.length;
    }
  }
}
