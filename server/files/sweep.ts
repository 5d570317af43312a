/**
 * The sweep of upload files under the shared folder (names.ts): at start-up and whenever a node
 * sharing the folder is found gone. A node removes its own plain temporaries that no upload of
 * its own holds, and the same of nodes that are gone; a resumable upload of a gone node (killed
 * mid-upload) and its kept uploads are adopted, renamed to this node's kept names, so a client
 * can resume them here. Files of nodes that are alive are never touched. Names of older servers
 * (no node in them) are removed when they were last written before the sweep began (by 50 ms),
 * as before. Symlinks are not followed.
 *
 * @module
 */

import { keptName, parseUploadName } from "./names.ts";
import type { Nodes } from "./nodes.ts";
import { join, TEMP_PREFIX } from "./paths.ts";
import type { KeptUploads } from "./resume.ts";

/**
 * Temporary files modified this recently before a sweep began are left alone (milliseconds): file
 * times come from a coarse clock, so a file written just after the sweep began may look older.
 */
const SWEEP_MARGIN = 50;

/** What a sweep needs to know. */
export interface SweepContext {
  /** The shared folder's real path. */
  readonly rootReal: string;
  /** This node and its view of the others. */
  readonly nodes: Nodes;
  /** This node's kept uploads (adopted ones are registered there). */
  readonly kept: KeptUploads;
  /** The temporaries of this node's uploads in progress (absolute paths). */
  readonly temps: ReadonlySet<string>;
}

/** What one sweep did. */
export interface SweepResult {
  /** Files removed. */
  removed: number;
  /** Kept uploads adopted from gone nodes, or found of this node. */
  adopted: number;
  /** The gone nodes whose files were swept. */
  gone: string[];
}

/**
 * Sweeps the upload files under the root.
 *
 * @param ctx See {@linkcode SweepContext}.
 * @returns What it did.
 */
export async function sweepUploads(ctx: SweepContext): Promise<SweepResult> {
  const startedAt = Date.now();
  const me = ctx.nodes.node;
  const result: SweepResult = { removed: 0, adopted: 0, gone: [] };
  const alive = new Map<string, boolean>();
  const isAlive = async (node: string): Promise<boolean> => {
    let known = alive.get(node);
    if (known === undefined) {
      known = await ctx.nodes.alive(node);
      alive.set(node, known);
      if (!known) result.gone.push(node);
    }
    return known;
  };
  const remove = async (full: string) => {
    await Deno.remove(full);
    result.removed++;
  };
  const stack = [ctx.rootReal];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries: AsyncIterable<Deno.DirEntry>;
    try {
      entries = Deno.readDir(dir);
    } catch {
      continue; // Unreadable folder: skip it.
    }
    try {
      for await (const entry of entries) {
        const full = join(dir, [entry.name]);
        if (entry.isDirectory && !entry.isSymlink) {
          stack.push(full);
          continue;
        }
        if (!entry.isFile || !entry.name.startsWith(TEMP_PREFIX)) continue;
        try {
          const name = parseUploadName(entry.name);
          if (ctx.temps.has(full)) continue;
          if (name === null) {
            const info = await Deno.lstat(full);
            if ((info.mtime?.getTime() ?? 0) >= startedAt - SWEEP_MARGIN) continue;
            if (!ctx.temps.has(full)) await remove(full);
            continue;
          }
          if (name.node === me) {
            if (name.kind === "k") {
              ctx.kept.register(full, await Deno.lstat(full));
              result.adopted++;
            }
            // An upload of this node that no upload holds: it ended while the walk went on.
            continue;
          }
          if (await isAlive(name.node)) continue;
          if (name.kind === "t") {
            await remove(full);
            continue;
          }
          const info = await Deno.lstat(full);
          if (info.size === 0 || !ctx.kept.enabled) {
            await remove(full);
            continue;
          }
          const adopted = join(dir, [keptName(me, name.key)]);
          await Deno.rename(full, adopted);
          ctx.kept.register(adopted, info);
          result.adopted++;
        } catch {
          // Gone already, or not ours to remove.
        }
      }
    } catch {
      // The folder became unreadable (or vanished) during the walk: skip the rest of it.
    }
  }
  for (const node of result.gone) await ctx.nodes.forget(node);
  return result;
}
