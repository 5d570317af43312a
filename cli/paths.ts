/**
 * Where the client keeps its own files: contexts in the user's config folder, chat input history
 * in the user's state folder, each written so that only the user can read it.
 *
 * - Linux and macOS (XDG): `$XDG_CONFIG_HOME/switchboard` (default `~/.config/switchboard`) and
 *   `$XDG_STATE_HOME/switchboard` (default `~/.local/state/switchboard`).
 * - Windows: `%APPDATA%\switchboard` and `%LOCALAPPDATA%\switchboard`.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { env } from "./term.ts";

/** Which folder: `config` (contexts) or `state` (history). */
export type FolderKind = "config" | "state";

/**
 * The client's folder of one kind, or undefined when neither the XDG variable nor a home folder
 * is known (the feature that needs it is then off).
 *
 * @param kind `config` or `state`.
 * @param lookup Environment lookup.
 * @param os The operating system.
 * @returns The folder path.
 * @example
 * ```ts
 * import { clientFolder } from "./paths.ts";
 * const e = (n: string) => ({ HOME: "/home/ann" } as Record<string, string>)[n];
 * console.assert(clientFolder("state", e, "linux") === "/home/ann/.local/state/switchboard");
 * ```
 */
export function clientFolder(
  kind: FolderKind,
  lookup: (name: string) => string | undefined = env,
  os: typeof Deno.build.os = Deno.build.os,
): string | undefined {
  const get = (name: string) => {
    const v = lookup(name);
    return v === undefined || v === "" ? undefined : v;
  };
  if (os === "windows") {
    const base = get(kind === "config" ? "APPDATA" : "LOCALAPPDATA");
    return base === undefined ? undefined : join(base, "switchboard");
  }
  const xdg = get(kind === "config" ? "XDG_CONFIG_HOME" : "XDG_STATE_HOME");
  if (xdg !== undefined) return join(xdg, "switchboard");
  const home = get("HOME");
  if (home === undefined) return undefined;
  return join(home, kind === "config" ? ".config" : join(".local", "state"), "switchboard");
}

/**
 * Writes a file only its owner can read (mode 0600 where the OS has modes), atomically: a
 * temporary beside it, then a rename. Creates the folder (0700) when missing.
 *
 * @param path The file.
 * @param text Its new content.
 */
export async function writePrivateFile(path: string, text: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${Deno.pid}.tmp`;
  try {
    await Deno.writeTextFile(tmp, text, { mode: 0o600 });
    // An existing temporary kept its mode: set it again.
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
