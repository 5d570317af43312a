/**
 * The file commands of the client command line: `ls`, `get` (resumable, verified), `put`
 * (resumable, verified), `rm`; neither `get` nor `put` replaces a file without `--force`. With
 * `-r` they move whole folders (files_tree.ts). A progress bar with bytes, rate and ETA shows on a terminal; `--json` prints one
 * result line instead.
 *
 * @module
 */

import { basename, join } from "node:path";
import { ServerError } from "../lib/protocol/errors.ts";
import type { ListEntry } from "../lib/protocol/rows.ts";
import { CliError, type ParsedCli, UsageError } from "./args.ts";
import { describeError, serverFailure, serverText } from "./connect.ts";
import { openFromCli, table } from "./commands.ts";
import { ProgressBar } from "./progress.ts";
import { formatBytes, printable } from "./term.ts";
import { type Client, downloadFile, TransferError, uploadFile } from "../client/mod.ts";
import { isRemoteExists, runGetTree, runPutTree, runRmTree } from "./files_tree.ts";

function printJson(value: unknown): void {
  console.log(JSON.stringify(value));
}

/** The last segment of a shared (POSIX) path. */
function remoteBase(path: string): string {
  return path.replace(/\/+$/, "").split("/").at(-1) ?? path;
}

/**
 * Turns a server refusal of a file command into a message that says what to do.
 *
 * @param e The error.
 * @param p The parsed command line.
 * @param action `download reports/a.pdf`.
 * @returns The error to print.
 */
export function fileError(e: unknown, p: ParsedCli, action: string): Error {
  if (e instanceof ServerError) {
    const what = serverFailure(e, action);
    const cause = { cause: e };
    switch (e.code) {
      case 404:
        return new CliError(`${what}. See switchboard ls`, 1, cause);
      case 400:
        return new CliError(
          `${what}. Paths are relative, with / between folders and no . or .. parts`,
          1,
          cause,
        );
      case 403:
        // The server says why (read-only, a permission, outside the folder): say it once.
        return new CliError(
          serverText(e) === ""
            ? `${what}. The server refuses it (read-only, no permission, or outside the shared folder)`
            : what,
          1,
          cause,
        );
      case 409:
        return new CliError(what, 1, cause);
      case 413:
        return new CliError(`${what}. The server's --max-file-size is smaller`, 1, cause);
    }
  }
  if (e instanceof TransferError) return new CliError(e.message);
  return describeError(e, p.target, action);
}

/**
 * Runs a transfer with Ctrl-C turned into an abort.
 *
 * @param run The transfer, given the signal.
 * @returns What it returned.
 */
export async function withInterrupt<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new Error("interrupted"));
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  for (const s of signals) Deno.addSignalListener(s, onSignal);
  try {
    return await run(controller.signal);
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, onSignal);
  }
}

/**
 * `ls [dir]`.
 *
 * @param p The parsed command line.
 * @returns The exit code.
 */
export async function runLs(p: ParsedCli): Promise<number> {
  if (p.positionals.length > 1) throw new UsageError("Cannot run ls: it takes at most one folder");
  const dir = p.positionals[0]?.replace(/^\.\/?$/, "").replace(/\/+$/, "");
  await using client = await openFromCli(p);
  let entries: ListEntry[];
  try {
    entries = await client.list(dir === "" ? undefined : dir);
  } catch (e) {
    throw fileError(e, p, `list ${dir || "the shared folder"}`);
  }
  if (p.json) {
    printJson(entries);
    return 0;
  }
  if (entries.length === 0) {
    console.error(`${dir || "The shared folder"} is empty`);
    return 0;
  }
  const sorted = [...entries].sort((a, b) =>
    a.type === b.type ? (a.name < b.name ? -1 : 1) : a.type === "dir" ? -1 : 1
  );
  const rows = sorted.map((e) => [
    e.type === "dir" ? "-" : formatBytes(e.size),
    formatTime(e.mtime),
    printable(e.type === "dir" ? `${e.name}/` : e.name),
  ]);
  // Sizes right-aligned.
  const w = Math.max(4, ...rows.map((r) => r[0]!.length));
  console.log(
    table([
      ["SIZE".padStart(w), "MODIFIED", "NAME"],
      ...rows.map((r) => [r[0]!.padStart(w), r[1]!, r[2]!]),
    ]),
  );
  return 0;
}

function formatTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${
    p(d.getMinutes())
  }`;
}

async function localTarget(remote: string, local: string | undefined): Promise<string> {
  const name = remoteBase(remote);
  if (local === undefined) return name;
  if (local.endsWith("/") || local.endsWith("\\")) return join(local, name);
  try {
    if ((await Deno.stat(local)).isDirectory) return join(local, name);
  } catch {
    // Not there yet: it is the file name.
  }
  return local;
}

/**
 * `get <path> [local]`.
 *
 * @param p The parsed command line.
 * @returns The exit code.
 */
export async function runGet(p: ParsedCli): Promise<number> {
  if (p.values.recursive === true) return await runGetTree(p);
  const [remote, localArg, ...extra] = p.positionals;
  if (remote === undefined || remote === "") {
    throw new UsageError("Cannot download: no path given. Usage: switchboard get <path> [local]");
  }
  if (extra.length > 0) throw new UsageError(`Cannot download ${remote}: unexpected "${extra[0]}"`);
  const local = await localTarget(remote, localArg);
  const part = `${local}.part`;
  const partBefore = await Deno.stat(part).then(() => true, () => false);
  await using client = await openFromCli(p);
  const bar = new ProgressBar(remote, p.json ? { enabled: false } : {});
  let result;
  try {
    result = await withInterrupt((signal) =>
      downloadFile(client, remote, local, {
        signal,
        resume: p.values["no-resume"] !== true,
        createOnly: p.values.force !== true,
        onProgress: (x) => bar.update(x),
      })
    );
  } catch (e) {
    bar.clear();
    // A refusal (404, 403...) before any byte came: leave no empty .part behind.
    if (e instanceof ServerError && !partBefore) {
      await Deno.stat(part).then((i) => i.size === 0 ? Deno.remove(part) : undefined).catch(
        () => {},
      );
    }
    if (e instanceof TransferError && e.reason === "aborted") {
      throw new CliError(
        `${e.message.replace(": aborted", ": interrupted")}. Run the same command again to resume`,
        130,
      );
    }
    if (e instanceof TransferError && e.reason === "connection" && client.closed) {
      throw new CliError(`${e.message} (${p.target.label})`);
    }
    if (e instanceof TransferError && e.reason === "exists") {
      throw new CliError(`${e.message}. Use --force to replace it`);
    }
    throw fileError(e, p, `download ${remote}`);
  }
  bar.finish();
  printDone(p, "Downloaded", { path: remote, local: result.path }, result);
  return 0;
}

/**
 * Says what a `get` or `put` did: one line, or one JSON object with `--json`.
 *
 * @param p The parsed command line.
 * @param done `Downloaded` or `Uploaded`.
 * @param where The remote `path` and the `local` file.
 * @param result Its size, sha256 and where it resumed.
 */
function printDone(
  p: ParsedCli,
  done: "Downloaded" | "Uploaded",
  where: { path: string; local: string },
  result: { size: number; sha256: string; resumedFrom: number },
): void {
  const { size, sha256, resumedFrom } = result;
  if (p.json) {
    printJson({ ...where, size, sha256, resumed_from: resumedFrom });
    return;
  }
  const [from, to] = done === "Downloaded" ? [where.path, where.local] : [where.local, where.path];
  const resumed = resumedFrom > 0 ? `, resumed at ${formatBytes(resumedFrom)}` : "";
  console.log(
    `${done} ${from} to ${to} (${formatBytes(size)}${resumed}; sha256 ${sha256} verified)`,
  );
}

/**
 * `put <local> [path]`.
 *
 * @param p The parsed command line.
 * @returns The exit code.
 */
export async function runPut(p: ParsedCli): Promise<number> {
  if (p.values.recursive === true) return await runPutTree(p);
  const [local, remoteArg, ...extra] = p.positionals;
  if (local === undefined || local === "") {
    throw new UsageError("Cannot upload: no file given. Usage: switchboard put <local> [path]");
  }
  if (extra.length > 0) throw new UsageError(`Cannot upload ${local}: unexpected "${extra[0]}"`);
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(local);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new UsageError(`Cannot upload ${local}: no such file`);
    }
    throw new CliError(`Cannot upload ${local}: ${(e as Error).message}`);
  }
  if (!info.isFile) {
    throw new UsageError(
      `Cannot upload ${local}: it is not a file (put -r uploads a whole folder)`,
    );
  }
  const name = basename(local);
  const remote = remoteArg === undefined || remoteArg === ""
    ? name
    : remoteArg.endsWith("/")
    ? remoteArg + name
    : remoteArg;
  await using client = await openFromCli(p);
  const bar = new ProgressBar(name, p.json ? { enabled: false } : {});
  let result;
  try {
    result = await withInterrupt((signal) =>
      uploadFile(client, local, remote, {
        signal,
        resume: p.values["no-resume"] !== true,
        createOnly: p.values.force !== true,
        onProgress: (x) => bar.update(x),
      })
    );
  } catch (e) {
    bar.clear();
    if (e instanceof TransferError && e.reason === "aborted") {
      throw new CliError(e.message.replace(": aborted", ": interrupted"), 130);
    }
    if (isRemoteExists(e)) {
      throw new CliError(
        `Cannot upload ${local}: ${remote} exists on the server. Use --force to replace it`,
      );
    }
    throw fileError(e, p, `upload ${local} to ${remote}`);
  }
  bar.finish();
  printDone(p, "Uploaded", { path: result.path, local }, result);
  return 0;
}

/**
 * `rm <path>`.
 *
 * @param p The parsed command line.
 * @returns The exit code.
 */
export async function runRm(p: ParsedCli): Promise<number> {
  if (p.values.recursive === true) return await runRmTree(p);
  const [path, ...extra] = p.positionals;
  if (path === undefined || path === "") {
    throw new UsageError("Cannot delete: no path given. Usage: switchboard rm <path>");
  }
  if (extra.length > 0) {
    throw new UsageError(`Cannot delete ${path}: one path at a time (got "${extra[0]}" too)`);
  }
  await using client: Client = await openFromCli(p);
  let deleted: string;
  try {
    deleted = await client.del(path.replace(/\/+$/, ""));
  } catch (e) {
    throw fileError(e, p, `delete ${path}`);
  }
  if (p.json) printJson({ path: deleted, deleted: true });
  else console.log(`Deleted ${deleted}`);
  return 0;
}
