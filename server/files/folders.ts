/**
 * Folders created by uploads in progress, with how many such uploads need each. An upload that
 * does not complete removes those it was the last to need, so it leaves no empty folder behind;
 * one that completes keeps its folders for good.
 *
 * @module
 */

import { dirname, isUnder } from "./paths.ts";

/** Whether something (a symlink included) is at `path`; errors other than "not found" say yes. */
async function lexists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    return !(e instanceof Deno.errors.NotFound);
  }
}

/**
 * The folders uploads in progress created under one root.
 *
 * @example
 * ```ts
 * import { PendingFolders } from "./folders.ts";
 * const root = await Deno.realPath(await Deno.makeTempDir());
 * const folders = new PendingFolders(root);
 * const claimed = await folders.create(`${root}/a/b`);
 * await folders.release(claimed, false); // the upload failed: a/b and a are removed
 * await Deno.remove(root);
 * ```
 */
export class PendingFolders {
  readonly #root: string;
  readonly #counts = new Map<string, number>();
  #lock: Promise<unknown> = Promise.resolve();

  /** @param rootReal The real path of the shared folder (never removed). */
  constructor(rootReal: string) {
    this.#root = rootReal;
  }

  /**
   * Creates an upload's folder and its missing parents, and claims them with those that other
   * uploads in progress created. It runs under the lock, so that an upload that ends cannot remove
   * a folder between the look and the claim.
   *
   * @param parent The real absolute folder the upload goes into.
   * @returns The folders claimed, deepest first: hand them to {@linkcode PendingFolders.release}.
   * @throws {Error} From `Deno.mkdir` (a file is in the way, not writable); nothing is claimed.
   */
  create(parent: string): Promise<string[]> {
    return this.#withLock(async () => {
      const created: string[] = [];
      for (let d = parent; d !== this.#root && isUnder(this.#root, d); d = dirname(d)) {
        if (await lexists(d)) break;
        created.push(d);
      }
      await Deno.mkdir(parent, { recursive: true });
      return this.#claim(parent, created);
    });
  }

  /**
   * An upload ended: when it completed (`kept`) its folders are kept for good; when not, the
   * folders no other upload in progress needs are removed if empty, deepest first.
   *
   * @param claimed What {@linkcode PendingFolders.create} returned.
   * @param kept Whether the upload completed.
   */
  release(claimed: readonly string[], kept: boolean): Promise<void> {
    if (claimed.length === 0) return Promise.resolve();
    return this.#withLock(() => this.#release(claimed, kept));
  }

  #claim(parent: string, created: readonly string[]): string[] {
    const claimed: string[] = [];
    for (let d = parent; d !== this.#root && isUnder(this.#root, d); d = dirname(d)) {
      const n = this.#counts.get(d);
      if (n === undefined && !created.includes(d)) continue;
      this.#counts.set(d, (n ?? 0) + 1);
      claimed.push(d);
    }
    return claimed;
  }

  /** Runs `fn` alone among the folder creations and removals of uploads. */
  #withLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn, fn);
    this.#lock = run.catch(() => {});
    return run;
  }

  async #release(claimed: readonly string[], kept: boolean): Promise<void> {
    let removing = !kept;
    for (const d of claimed) {
      const n = this.#counts.get(d);
      if (n === undefined) {
        removing = false;
        continue;
      }
      if (kept || n === 1) this.#counts.delete(d);
      else this.#counts.set(d, n - 1);
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
}
