/**
 * Whole folders on top of the file transfers: {@linkcode uploadTree}, {@linkcode downloadTree}
 * and {@linkcode removeTree}. A file already complete on the other side (same size and sha256) is
 * skipped, so a run after a cut goes on where it stopped, and the file that was cut resumes (see
 * `uploadFile` and `downloadFile`). Symlinks are followed only while they stay inside the tree;
 * names from the server are checked to be plain names before they touch the local disk.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join, relative, resolve, sep } from "node:path";
import { ServerError } from "../lib/protocol/errors.ts";
import type { Client } from "./client.ts";
import { hashPrefix, TransferError } from "./_transfer_common.ts";
import { downloadFile } from "./transfer.ts";
import { uploadFile } from "./upload.ts";

/** Progress of a whole tree. */
export interface TreeProgress {
  /** Files finished (or skipped as complete). */
  files: number;
  /** Files in the tree. */
  totalFiles: number;
  /** Bytes in place, all files together. */
  done: number;
  /** Bytes of all files. */
  total: number;
}

/** Options of the tree transfers. */
export interface TreeOptions {
  /** Called as bytes move and files finish. */
  onProgress?: (p: TreeProgress) => void;
  /** Stops the transfer (see `uploadFile`, `downloadFile`). */
  signal?: AbortSignal;
  /**
   * Resume cut files.
   * @default {true}
   */
  resume?: boolean;
  /**
   * Replace files that exist on the other side with other content; without it the transfer
   * refuses before it moves a byte, naming them.
   * @default {false}
   */
  force?: boolean;
}

/** What a tree transfer did. */
export interface TreeResult {
  /** Files in the tree. */
  files: number;
  /** Bytes of all of them. */
  bytes: number;
  /** Files skipped because the other side had them complete already. */
  skipped: number;
  /** Files resumed from a cut. */
  resumed: number;
}

interface TreeFile {
  /** Path under the tree, with `/`. */
  rel: string;
  size: number;
}

/** A remote name is one plain segment (a hostile server cannot lead outside the local folder). */
function plainName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !/[/\\\0]/.test(name);
}

function remoteJoin(dir: string, rel: string): string {
  const d = dir.replace(/\/+$/, "");
  return d === "" || d === "." ? rel : `${d}/${rel}`;
}

/** Every file under a remote folder (an empty list when it does not exist). */
async function remoteFiles(client: Client, dir: string): Promise<Map<string, TreeFile>> {
  const out = new Map<string, TreeFile>();
  const stack = [""];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    let entries;
    try {
      const at = rel === "" ? dir : remoteJoin(dir, rel);
      entries = await client.list(at === "" || at === "." ? undefined : at);
    } catch (e) {
      if (e instanceof ServerError && e.code === 404 && rel === "") return out;
      throw e;
    }
    for (const e of entries) {
      if (!plainName(e.name)) continue;
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.type === "dir") stack.push(path);
      else out.set(path, { rel: path, size: e.size });
    }
  }
  return out;
}

/** Every file under a local folder; symlinks are followed only when they stay inside it. */
async function localFiles(dir: string): Promise<Map<string, TreeFile>> {
  const root = await Deno.realPath(dir);
  const out = new Map<string, TreeFile>();
  const stack: string[] = [""];
  const seen = new Set<string>([root]);
  while (stack.length > 0) {
    const rel = stack.pop()!;
    for await (const e of Deno.readDir(rel === "" ? root : join(root, rel))) {
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      const full = join(root, path);
      let info: Deno.FileInfo;
      try {
        const real = await Deno.realPath(full);
        if (real !== root && !real.startsWith(root + sep)) continue; // Leads outside.
        info = await Deno.stat(real);
        if (info.isDirectory) {
          if (seen.has(real)) continue; // A loop, or a folder seen through another link.
          seen.add(real);
        }
      } catch {
        continue; // Dangling, or vanished.
      }
      if (info.isDirectory) stack.push(path);
      else if (info.isFile) out.set(path, { rel: path, size: info.size });
    }
  }
  return out;
}

async function localSha256(path: string, size: number): Promise<string> {
  using file = await Deno.open(path);
  const hash = createHash("sha256");
  await hashPrefix(file, size, hash);
  return hash.digest("hex");
}

/** The sha256 the server has for a file: `GET path <size>` sends its head and no bytes. */
async function remoteSha256(client: Client, path: string, size: number): Promise<string> {
  const head = await client.get(path, {
    offset: size,
    sink: () => ({ data() {}, end() {}, abort() {} }),
  });
  return head.sha256;
}

/** Whether a file is complete on both sides: same size and sha256. */
async function same(client: Client, remote: string, local: string, size: number) {
  return await localSha256(local, size) === await remoteSha256(client, remote, size);
}

/** Progress over many files. */
class Tally {
  readonly p: TreeProgress;
  #base = 0;
  readonly #on: ((p: TreeProgress) => void) | undefined;
  constructor(files: Map<string, TreeFile>, on?: (p: TreeProgress) => void) {
    let total = 0;
    for (const f of files.values()) total += f.size;
    this.p = { files: 0, totalFiles: files.size, done: 0, total };
    this.#on = on;
    on?.({ ...this.p });
  }
  file(done: number): void {
    this.p.done = this.#base + done;
    this.#on?.({ ...this.p });
  }
  finished(size: number): void {
    this.#base += size;
    this.p.done = this.#base;
    this.p.files++;
    this.#on?.({ ...this.p });
  }
}

function conflicts(action: string, where: string, names: string[]): TransferError {
  const first = names.slice(0, 3).join(", ") + (names.length > 3 ? ", ..." : "");
  return new TransferError(
    `Cannot ${action}: ${names.length} file${names.length === 1 ? "" : "s"} exist${
      names.length === 1 ? "s" : ""
    } ${where} with other content (${first})`,
    "exists",
  );
}

/**
 * Uploads a local folder to a remote folder, file by file (empty folders are not created).
 *
 * @param client A connected client.
 * @param localDir The local folder.
 * @param remoteDir The remote folder (plain; `""` for the top of the share).
 * @param options See {@linkcode TreeOptions}.
 * @returns What was done.
 * @throws {TransferError} `exists` (without `force`, before anything is sent), and as
 *   `uploadFile`.
 * @throws {ServerError} As `uploadFile`.
 */
export async function uploadTree(
  client: Client,
  localDir: string,
  remoteDir: string,
  options: TreeOptions = {},
): Promise<TreeResult> {
  const locals = await localFiles(localDir);
  const remotes = await remoteFiles(client, remoteDir);
  const todo: TreeFile[] = [];
  const clash: string[] = [];
  const tally = new Tally(locals, options.onProgress);
  const result: TreeResult = { files: locals.size, bytes: tally.p.total, skipped: 0, resumed: 0 };
  const sorted = [...locals.values()].sort((a, b) => a.rel < b.rel ? -1 : 1);
  for (const f of sorted) {
    const there = remotes.get(f.rel);
    if (there === undefined) todo.push(f);
    else if (
      there.size === f.size &&
      await same(client, remoteJoin(remoteDir, f.rel), join(localDir, f.rel), f.size)
    ) {
      result.skipped++;
      tally.finished(f.size);
    } else if (options.force) todo.push(f);
    else clash.push(f.rel);
  }
  if (clash.length > 0) throw conflicts(`upload ${localDir}`, "on the server", clash);
  for (const f of todo) {
    const r = await uploadFile(client, join(localDir, f.rel), remoteJoin(remoteDir, f.rel), {
      signal: options.signal,
      resume: options.resume !== false,
      createOnly: !options.force,
      onProgress: (x) => tally.file(x.done),
    });
    if (r.resumedFrom > 0) result.resumed++;
    tally.finished(f.size);
  }
  return result;
}

/**
 * Downloads a remote folder into a local folder, file by file; an existing local file with other
 * content is not replaced without `force`.
 *
 * @param client A connected client.
 * @param remoteDir The remote folder (plain).
 * @param localDir The local folder (created when missing).
 * @param options See {@linkcode TreeOptions}.
 * @returns What was done.
 * @throws {TransferError} `exists` (without `force`, before anything is fetched), `local` (a
 *   local folder on the way leads outside `localDir`), and as `downloadFile`.
 * @throws {ServerError} As `downloadFile`; 404 when the remote folder does not exist.
 */
export async function downloadTree(
  client: Client,
  remoteDir: string,
  localDir: string,
  options: TreeOptions = {},
): Promise<TreeResult> {
  const remotes = await remoteFiles(client, remoteDir);
  if (remotes.size === 0) await client.list(remoteDir === "" ? undefined : remoteDir); // 404?
  await Deno.mkdir(localDir, { recursive: true });
  const root = await Deno.realPath(localDir);
  const tally = new Tally(remotes, options.onProgress);
  const result: TreeResult = { files: remotes.size, bytes: tally.p.total, skipped: 0, resumed: 0 };
  const todo: TreeFile[] = [];
  const clash: string[] = [];
  for (const f of [...remotes.values()].sort((a, b) => a.rel < b.rel ? -1 : 1)) {
    const local = join(root, f.rel);
    const info = await Deno.lstat(local).catch(() => null);
    if (info === null) todo.push(f);
    else if (
      info.isFile && info.size === f.size &&
      await same(client, remoteJoin(remoteDir, f.rel), local, f.size)
    ) {
      result.skipped++;
      tally.finished(f.size);
    } else if (options.force && info.isFile) todo.push(f);
    else clash.push(f.rel);
  }
  if (clash.length > 0) throw conflicts(`download ${remoteDir || "the share"}`, "here", clash);
  for (const f of todo) {
    const local = join(root, f.rel);
    const parent = resolve(local, "..");
    await Deno.mkdir(parent, { recursive: true });
    const real = await Deno.realPath(parent);
    if (real !== root && relative(root, real).startsWith("..")) {
      throw new TransferError(`Cannot download ${f.rel}: its folder leads outside ${localDir}`);
    }
    const r = await downloadFile(client, remoteJoin(remoteDir, f.rel), local, {
      signal: options.signal,
      resume: options.resume,
      createOnly: !options.force,
      onProgress: (x) => tally.file(x.done),
    });
    if (r.resumedFrom > 0) result.resumed++;
    tally.finished(f.size);
  }
  return result;
}

/**
 * Deletes a remote folder and everything in it: files first, then folders, deepest first.
 *
 * @param client A connected client.
 * @param remoteDir The remote folder (plain), never the top of the share.
 * @returns How many files and folders were deleted.
 * @throws {ServerError} 404 when it does not exist, 403 read-only, and as `Client.del`.
 */
export async function removeTree(client: Client, remoteDir: string): Promise<number> {
  const dir = remoteDir.replace(/\/+$/, "");
  const files = await remoteFiles(client, dir);
  if (files.size === 0) await client.list(dir);
  const folders = new Set<string>();
  let n = 0;
  for (const f of files.values()) {
    await client.del(remoteJoin(dir, f.rel));
    n++;
    const parts = f.rel.split("/");
    for (let i = 1; i < parts.length; i++) folders.add(parts.slice(0, i).join("/"));
  }
  // Empty folders too: list again for those without files.
  const stack = [""];
  while (stack.length > 0) {
    const rel = stack.pop()!;
    for (const e of await client.list(rel === "" ? dir : remoteJoin(dir, rel))) {
      if (e.type === "dir" && plainName(e.name)) {
        const path = rel === "" ? e.name : `${rel}/${e.name}`;
        folders.add(path);
        stack.push(path);
      }
    }
  }
  const deepest = [...folders].sort((a, b) => b.split("/").length - a.split("/").length);
  for (const f of deepest) {
    await client.del(remoteJoin(dir, f));
    n++;
  }
  await client.del(dir);
  return n + 1;
}
