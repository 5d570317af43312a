/**
 * Which server processes (nodes) share the folder and which of them are alive, so that a node
 * sweeps only its own upload files, and those of nodes that are gone. Each node keeps a heartbeat
 * file `.sb-upload-nodes/<node>.json` in the shared folder (hidden and unreachable like every
 * `.sb-upload-` name) that says where it runs and is touched every `timeout / 3`. Another node
 * judges it gone when, on the same host (same boot and pid namespace, Linux), its process no
 * longer exists; elsewhere, when its heartbeat is older than `timeout` compared with the
 * judge's own heartbeat (both times come from the file system holding the folder, so clocks of
 * different machines do not matter).
 *
 * @module
 */

import { join } from "./paths.ts";

/** The folder of heartbeat files, under the shared folder's root. */
export const NODES_DIR = ".sb-upload-nodes";

/** What a heartbeat file holds. */
interface Beat {
  node: string;
  host: string;
  pid: number;
  start: string;
}

function readText(path: string): string {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return "";
  }
}

/** This machine and pid namespace (Linux), or `""` where it cannot be told. */
function hostId(): string {
  const boot = readText("/proc/sys/kernel/random/boot_id");
  if (boot === "") return "";
  let ns = "";
  try {
    ns = Deno.readLinkSync("/proc/self/ns/pid");
  } catch {
    // No namespaces to tell apart.
  }
  return `${boot}/${ns}`;
}

/** A process's start time (field 22 of /proc/<pid>/stat), or `""`. */
function startOf(pid: number | "self"): string {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === "") return "";
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[19] ?? "";
}

/**
 * The nodes sharing one folder.
 *
 * @example
 * ```ts
 * import { Nodes } from "./nodes.ts";
 * const root = await Deno.realPath(await Deno.makeTempDir());
 * const nodes = new Nodes(root, "abc", 30_000);
 * nodes.start();
 * console.assert(await nodes.alive("abc"));
 * console.assert(!(await nodes.alive("gone")));
 * await nodes.stop();
 * await Deno.remove(root, { recursive: true });
 * ```
 */
export class Nodes {
  /** This node's id. */
  readonly node: string;
  readonly #dir: string;
  readonly #timeout: number;
  #host = "";
  #timer: ReturnType<typeof setInterval> | undefined;

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
   * Writes this node's heartbeat (at once, before any upload can start) and keeps it fresh until
   * {@linkcode Nodes.stop}.
   *
   * @throws {Error} When the heartbeat cannot be written (a read-only folder).
   */
  start(): void {
    this.#host = hostId();
    const beat: Beat = { node: this.node, host: this.#host, pid: Deno.pid, start: startOf("self") };
    Deno.mkdirSync(this.#dir, { recursive: true });
    Deno.writeTextFileSync(this.#file(this.node), JSON.stringify(beat));
    const timer = setInterval(() => {
      const now = new Date();
      Deno.utime(this.#file(this.node), now, now).catch(() => {
        // Removed by hand or by a node that thought this one gone: write it again.
        Deno.writeTextFile(this.#file(this.node), JSON.stringify(beat)).catch(() => {});
      });
    }, Math.max(100, Math.floor(this.#timeout / 3)));
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Stops the heartbeat and removes its file (this node leaves nothing in progress). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await Deno.remove(this.#file(this.node)).catch(() => {});
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
    let beat: Beat;
    let info: Deno.FileInfo;
    try {
      const path = this.#file(node);
      info = await Deno.stat(path);
      beat = JSON.parse(await Deno.readTextFile(path)) as Beat;
    } catch (e) {
      // Unreadable (being written): alive; missing: gone.
      return !(e instanceof Deno.errors.NotFound);
    }
    if (this.#host !== "" && beat.host === this.#host) {
      return beat.start !== "" && startOf(beat.pid) === beat.start;
    }
    try {
      const mine = (await Deno.stat(this.#file(this.node))).mtime?.getTime() ?? Date.now();
      return mine - (info.mtime?.getTime() ?? 0) < this.#timeout;
    } catch {
      return true;
    }
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
