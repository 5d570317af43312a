/**
 * Which server processes (nodes) share the folder and which of them are alive, so that a node
 * sweeps only its own upload files, and those of nodes that are gone. While a node has upload
 * files (in progress or kept) it keeps a heartbeat file `.sb-upload-nodes/<node>.json` in the
 * shared folder (hidden and unreachable like every `.sb-upload-` name), holds a lock on it, and
 * touches it every `timeout / 3`. Another node judges it gone only when both say so: nobody holds
 * the lock (a process that dies lets go of its locks at once) and the heartbeat has not been
 * touched for `timeout`. The lock protects a live node whose clock or disk stalls; the age
 * protects a live node on another machine where the file system does not share locks. Ages are
 * compared with the judge's own heartbeat, whose time comes from the same file system.
 *
 * @module
 */

import { join } from "./paths.ts";

/** The folder of heartbeat files, under the shared folder's root. */
export const NODES_DIR = ".sb-upload-nodes";

/** What a heartbeat file holds (for people looking at the folder). */
interface Beat {
  node: string;
  pid: number;
  since: string;
}

/**
 * The nodes sharing one folder.
 *
 * @example
 * ```ts
 * import { Nodes } from "./nodes.ts";
 * const root = await Deno.realPath(await Deno.makeTempDir());
 * const nodes = new Nodes(root, "abc", 30_000);
 * nodes.ensure();
 * console.assert(await nodes.alive("abc"));
 * console.assert(!(await nodes.alive("gone")));
 * nodes.idle();
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export class Nodes {
  /** This node's id. */
  readonly node: string;
  readonly #dir: string;
  readonly #timeout: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  // The heartbeat file, open and locked while this node beats.
  #lock: Deno.FsFile | undefined;

  /**
   * @param rootReal The shared folder's real path.
   * @param node This node's id.
   * @param timeout How old another host's heartbeat may be before that node counts as gone, ms.
   */
  constructor(rootReal: string, node: string, timeout: number) {
    this.node = node;
    this.#dir = join(rootReal, [NODES_DIR]);
    this.#timeout = timeout;
  }

  #file(node: string): string {
    return join(this.#dir, [`${node}.json`]);
  }

  /**
   * Makes sure this node's heartbeat is in the folder, and kept fresh (every `timeout / 3`) until
   * {@linkcode Nodes.idle}: called before this node creates any upload file. Synchronous, so no
   * upload file can exist without it.
   *
   * @throws {Error} When the heartbeat cannot be written (a read-only folder).
   */
  ensure(): void {
    if (this.#timer !== undefined) return;
    const beat: Beat = { node: this.node, pid: Deno.pid, since: new Date().toISOString() };
    const text = JSON.stringify(beat);
    for (let attempt = 0;; attempt++) {
      Deno.mkdirSync(this.#dir, { recursive: true });
      try {
        Deno.writeTextFileSync(this.#file(this.node), text);
        break;
      } catch (e) {
        // Another node removed the empty folder just now: once more.
        if (!(e instanceof Deno.errors.NotFound) || attempt > 0) throw e;
      }
    }
    const timer = setInterval(() => {
      const now = new Date();
      Deno.utime(this.#file(this.node), now, now).catch(() => {
        // Removed by hand or by a node that thought this one gone: write it again.
        if (this.#timer === timer) Deno.writeTextFile(this.#file(this.node), text).catch(() => {});
      });
    }, Math.max(100, Math.floor(this.#timeout / 3)));
    Deno.unrefTimer(timer);
    this.#timer = timer;
    try {
      const lock = Deno.openSync(this.#file(this.node), { read: true, write: true });
      lock.lockSync(true);
      this.#lock = lock;
    } catch {
      // No locks on this file system: the heartbeat's age alone tells.
    }
  }

  /**
   * Removes this node's heartbeat (and the heartbeat folder when it is empty): called when this
   * node has no upload files left. Synchronous, like {@linkcode Nodes.ensure}.
   */
  idle(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    try {
      this.#lock?.close();
    } catch {
      // Closed already.
    }
    this.#lock = undefined;
    try {
      Deno.removeSync(this.#file(this.node));
      Deno.removeSync(this.#dir);
    } catch {
      // Gone already, or other nodes' heartbeats are there.
    }
  }

  /** Whether this node's heartbeat is in the folder. */
  get beating(): boolean {
    return this.#timer !== undefined;
  }

  /**
   * The ids of the nodes that have a heartbeat file, this one included.
   *
   * @returns The ids.
   */
  async known(): Promise<string[]> {
    const out: string[] = [];
    try {
      for await (const e of Deno.readDir(this.#dir)) {
        if (e.isFile && e.name.endsWith(".json")) out.push(e.name.slice(0, -5));
      }
    } catch {
      // No folder yet.
    }
    return out;
  }

  /**
   * Whether a node is alive. A node without a heartbeat file is gone (a node writes it before
   * any upload file).
   *
   * @param node The id.
   * @returns Its state.
   */
  async alive(node: string): Promise<boolean> {
    if (node === this.node) return true;
    const path = this.#file(node);
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
      // A live node holds a lock on its heartbeat: a process that died holds none.
      using file = await Deno.open(path, { read: true });
      if (!(await file.tryLock(true))) return true;
      await file.unlock();
    } catch (e) {
      // Missing: gone. Unreadable, or no locks here: judged by its age alone.
      if (e instanceof Deno.errors.NotFound) return false;
      if (info! === undefined) return true;
    }
    // Free (or no locks): gone once it has not been touched for `timeout`. Where locks are not
    // shared between machines, this age is what protects a node on another machine.
    let now = Date.now();
    if (this.#timer !== undefined) {
      try {
        now = (await Deno.stat(this.#file(this.node))).mtime?.getTime() ?? now;
      } catch {
        // Use this machine's clock.
      }
    }
    return now - (info.mtime?.getTime() ?? 0) < this.#timeout;
  }

  /**
   * Removes a gone node's heartbeat file.
   *
   * @param node The id.
   */
  async forget(node: string): Promise<void> {
    if (node !== this.node) await Deno.remove(this.#file(node)).catch(() => {});
  }
}
