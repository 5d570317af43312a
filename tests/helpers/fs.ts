/**
 * Folder and file helpers of the tests: throwaway folders removed with `await using`, writing a
 * set of files, listing and digesting a tree, and finding upload temporaries.
 *
 * @module
 */

import { sha256 } from "./bytes.ts";

/** A temporary folder, removed (recursively) on dispose. */
export interface TempDir extends AsyncDisposable {
  /** Its absolute path. */
  path: string;
}

/**
 * Makes a fresh temporary folder.
 *
 * @param prefix Starts the folder's name.
 * @returns The folder; dispose it with `await using`.
 */
export async function tempDir(prefix = "sb-test-"): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/**
 * Writes files under `root`, making the folders they need.
 *
 * @param root The folder.
 * @param contents Bytes by relative path (`docs/readme.md`).
 */
export async function writeFiles(
  root: string,
  contents: Record<string, Uint8Array>,
): Promise<void> {
  for (const [path, data] of Object.entries(contents)) {
    const full = `${root}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(full, data);
  }
}

/**
 * Size of a file, or `null` when there is none.
 *
 * @param path The file.
 * @returns Its size in bytes.
 */
export async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return null;
  }
}

/**
 * Visits everything under `root`, depth first, without following symlinks. Folders that vanish
 * meanwhile (the server removes what an unfinished upload created) are skipped, and so is the
 * servers' heartbeat folder `.sb-upload-nodes` at the root (their bookkeeping while they run,
 * never an upload's leftover: see server/files/nodes.ts).
 *
 * @param root The folder.
 * @param visit Called with the relative path, the entry and the full path.
 */
export async function walkFolder(
  root: string,
  visit: (path: string, entry: Deno.DirEntry, full: string) => void | Promise<void>,
): Promise<void> {
  async function walk(dir: string, rel: string): Promise<void> {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound && rel !== "") return;
      throw e;
    }
    for (const e of entries) {
      if (rel === "" && e.name === ".sb-upload-nodes") continue;
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      await visit(path, e, `${dir}/${e.name}`);
      if (e.isDirectory && !e.isSymlink) await walk(`${dir}/${e.name}`, path);
    }
  }
  await walk(root, "");
}

/**
 * Every name under `dir`, hidden ones included, without following symlinks.
 *
 * @param dir The folder.
 * @returns Relative paths (`docs`, `docs/readme.md`), sorted.
 */
export async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  await walkFolder(dir, (path) => void out.push(path));
  return out.sort();
}

/**
 * A digest of everything under `root` (hidden files included): one line per entry with its type,
 * size and sha256, sorted. Two equal digests mean nothing was added, removed or changed.
 *
 * @param root The folder.
 * @returns The digest, readable in an assertion message.
 */
export async function folderDigest(root: string): Promise<string> {
  const lines: string[] = [];
  await walkFolder(root, async (path, e, full) => {
    if (e.isDirectory) lines.push(`${path}/ dir`);
    else if (e.isFile) {
      const data = await Deno.readFile(full).catch(() => null);
      lines.push(data === null ? `${path} vanished` : `${path} ${data.length} ${sha256(data)}`);
    } else lines.push(`${path} other`);
  });
  return lines.sort().join("\n");
}

/**
 * Names of temporary upload files anywhere under `root`.
 *
 * @param root The shared folder.
 * @returns Relative paths.
 */
export async function temporaries(root: string): Promise<string[]> {
  const out: string[] = [];
  await walkFolder(root, (path, e) => {
    if (!e.isDirectory && e.name.startsWith(".sb-upload-")) out.push(path);
  });
  return out;
}
