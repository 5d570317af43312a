/**
 * The folder forms of the file commands: `put -r LOCAL_DIR [REMOTE_DIR]`, `get -r REMOTE_DIR
 * [LOCAL_DIR]` and `rm -r REMOTE_DIR` (asked for confirmation on a terminal unless `--yes`;
 * refused off a terminal without it). One progress bar for the whole tree: file count, bytes,
 * rate and ETA. A run after a cut skips the files already complete and resumes the cut one.
 *
 * @module
 */

import { basename } from "node:path";
import { ServerError } from "../lib/protocol/errors.ts";
import { CliError, type ParsedCli, UsageError } from "./args.ts";
import { openFromCli } from "./commands.ts";
import { fileError, withInterrupt } from "./files.ts";
import { ProgressBar } from "./progress.ts";
import { formatBytes, isTerminal } from "./term.ts";
import {
  downloadTree,
  removeTree,
  TransferError,
  type TreeProgress,
  type TreeResult,
  uploadTree,
} from "../client/mod.ts";

/**
 * Whether an upload was refused because a file is at its path (`PUT ... new`), or found there by
 * an older server's listing.
 *
 * @param e The error.
 * @returns Whether it is that refusal.
 */
export function isRemoteExists(e: unknown): boolean {
  return (e instanceof ServerError && e.code === 409 && /a file has that name/.test(e.message)) ||
    (e instanceof TransferError && e.reason === "exists");
}

function treeBar(p: ParsedCli): { bar: ProgressBar; onProgress: (x: TreeProgress) => void } {
  const bar = new ProgressBar("", p.json ? { enabled: false } : {});
  return {
    bar,
    onProgress: (x) => {
      bar.label = `${x.files}/${x.totalFiles} files`;
      bar.update({ done: x.done, total: x.total });
    },
  };
}

function summary(p: ParsedCli, verb: string, from: string, to: string, r: TreeResult): void {
  if (p.json) {
    console.log(JSON.stringify({
      from,
      to,
      files: r.files,
      bytes: r.bytes,
      skipped: r.skipped,
      resumed: r.resumed,
    }));
    return;
  }
  const skipped = r.skipped > 0 ? `, ${r.skipped} already complete` : "";
  const resumed = r.resumed > 0 ? `, ${r.resumed} resumed` : "";
  console.log(
    `${verb} ${from} to ${to} (${r.files} files, ${
      formatBytes(r.bytes)
    }${skipped}${resumed}; every sha256 verified)`,
  );
}

async function run(
  p: ParsedCli,
  action: string,
  go: (signal: AbortSignal, onProgress: (x: TreeProgress) => void) => Promise<TreeResult>,
): Promise<TreeResult> {
  const { bar, onProgress } = treeBar(p);
  try {
    const r = await withInterrupt((signal) => go(signal, onProgress));
    bar.finish();
    return r;
  } catch (e) {
    bar.clear();
    if (e instanceof TransferError && e.reason === "aborted") {
      throw new CliError(
        `Cannot ${action}: interrupted. Run the same command again to go on where it stopped`,
        130,
      );
    }
    if (e instanceof TransferError && e.reason === "exists") {
      throw new CliError(`${e.message}. Use --force to replace them`);
    }
    throw fileError(e, p, action);
  }
}

/**
 * `put -r <local dir> [remote dir]`.
 *
 * @param p The parsed command line.
 * @returns The exit code.
 */
export async function runPutTree(p: ParsedCli): Promise<number> {
  const [local, remoteArg, ...extra] = p.positionals;
  if (local === undefined || local === "") {
    throw new UsageError("Cannot upload: no folder given. Usage: switchboard put -r <dir> [path]");
  }
  if (extra.length > 0) throw new UsageError(`Cannot upload ${local}: unexpected "${extra[0]}"`);
  const info = await Deno.stat(local).catch(() => null);
  if (info === null || !info.isDirectory) {
    throw new UsageError(`Cannot upload ${local}: it is not a folder`);
  }
  const remote = (remoteArg ?? basename(local.replace(/\/+$/, ""))).replace(/\/+$/, "");
  await using client = await openFromCli(p);
  const r = await run(
    p,
    `upload ${local} to ${remote || "the share"}`,
    (signal, onProgress) =>
      uploadTree(client, local, remote, {
        signal,
        onProgress,
        resume: p.values["no-resume"] !== true,
        force: p.values.force === true,
      }),
  );
  summary(p, "Uploaded", local, remote || ".", r);
  return 0;
}

/**
 * `get -r <remote dir> [local dir]`.
 *
 * @param p The parsed command line.
 * @returns The exit code.
 */
export async function runGetTree(p: ParsedCli): Promise<number> {
  const [remoteArg, localArg, ...extra] = p.positionals;
  if (remoteArg === undefined || remoteArg === "") {
    throw new UsageError(
      "Cannot download: no folder given. Usage: switchboard get -r <path> [dir]",
    );
  }
  if (extra.length > 0) {
    throw new UsageError(`Cannot download ${remoteArg}: unexpected "${extra[0]}"`);
  }
  const remote = remoteArg.replace(/^\.\/?$/, "").replace(/\/+$/, "");
  const local = localArg ?? (remote.split("/").at(-1) || ".");
  await using client = await openFromCli(p);
  const r = await run(
    p,
    `download ${remote || "the share"}`,
    (signal, onProgress) =>
      downloadTree(client, remote, local, {
        signal,
        onProgress,
        resume: p.values["no-resume"] !== true,
        force: p.values.force === true,
      }),
  );
  summary(p, "Downloaded", remote || ".", local, r);
  return 0;
}

/**
 * `rm -r <remote dir>`: asks on a terminal unless `--yes`.
 *
 * @param p The parsed command line.
 * @returns The exit code.
 */
export async function runRmTree(p: ParsedCli): Promise<number> {
  const [pathArg, ...extra] = p.positionals;
  const path = pathArg?.replace(/\/+$/, "") ?? "";
  if (path === "" || path === ".") {
    throw new UsageError("Cannot delete: no folder given. Usage: switchboard rm -r <path> [--yes]");
  }
  if (extra.length > 0) {
    throw new UsageError(`Cannot delete ${path}: one folder at a time (got "${extra[0]}" too)`);
  }
  if (p.values.yes !== true) {
    if (!isTerminal(Deno.stdin)) {
      throw new UsageError(
        `Cannot delete ${path} and everything in it without confirmation: add --yes`,
      );
    }
    if (!confirm(`Delete ${path} and everything in it on the server?`)) {
      throw new CliError(`Did not delete ${path}`, 1);
    }
  }
  await using client = await openFromCli(p);
  let n: number;
  try {
    n = await removeTree(client, path);
  } catch (e) {
    throw fileError(e, p, `delete ${path}`);
  }
  if (p.json) console.log(JSON.stringify({ path, deleted: n }));
  else console.log(`Deleted ${path} (${n} files and folders)`);
  return 0;
}
