/**
 * Contexts, as in `nats context`: named servers with who to be there, kept in
 * `<config folder>/contexts.json` (mode 0600; see cli/paths.ts), with one of them current.
 *
 *   switchboard context add NAME --url sbs://host:7373 [--ca FILE] [--user U | --token T] [--nick N]
 *   switchboard context use NAME      switchboard context ls      switchboard context rm NAME
 *
 * `--context NAME` (or `SWITCHBOARD_CONTEXT`) picks one for a command; flags and variables win
 * over what it holds. Passwords are never stored: a context holds a user (whose password comes
 * from `SWITCHBOARD_PASSWORD` or is asked each time) or a token.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { type ContextValues, type ParsedCli, parseServerUrl, UsageError } from "./args.ts";
import { printJson } from "./commands.ts";
import { clientFolder, writePrivateFile } from "./paths.ts";

/** The contexts file. */
export interface ContextStore {
  /** The context used when none is named, if any. */
  current?: string;
  /** The contexts by name. */
  contexts: Record<string, ContextValues>;
}

/** A context name: 1-64 of `A-Z a-z 0-9 _ - .`. */
const NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The contexts file's path, or undefined when there is no config folder.
 *
 * @returns `<config folder>/contexts.json`.
 */
export function contextsPath(): string | undefined {
  const dir = clientFolder("config");
  return dir === undefined ? undefined : join(dir, "contexts.json");
}

/**
 * Reads the contexts file (none when it is missing).
 *
 * @param path The file.
 * @returns The store.
 * @throws {UsageError} When the file is there but not a contexts file.
 */
export function loadContexts(path: string | undefined): ContextStore {
  if (path === undefined) return { contexts: {} };
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { contexts: {} };
    throw new UsageError(`Cannot read the contexts file ${path}: ${(e as Error).message}`);
  }
  try {
    const store = JSON.parse(text) as ContextStore;
    if (typeof store !== "object" || store === null || typeof store.contexts !== "object") {
      throw new Error("no contexts in it");
    }
    return store;
  } catch (e) {
    throw new UsageError(
      `Cannot read the contexts file ${path}: ${(e as Error).message}. Fix or delete it`,
    );
  }
}

/**
 * The context a command line asks for: `--context NAME`, else `SWITCHBOARD_CONTEXT`, else the
 * current one; none when there are no contexts.
 *
 * @param args The arguments (only `--context` is looked at).
 * @param env Environment lookup.
 * @returns The context and its name, or undefined.
 * @throws {UsageError} When a context is named that does not exist.
 */
export function selectContext(
  args: readonly string[],
  env: (name: string) => string | undefined,
): { name: string; values: ContextValues } | undefined {
  if (args[0] === "context" || args.includes("--help") || args.includes("-h")) return undefined;
  let named: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--") break;
    if (args[i] === "--context") named = args[i + 1];
    else if (args[i]!.startsWith("--context=")) named = args[i]!.slice("--context=".length);
  }
  const fromEnv = env("SWITCHBOARD_CONTEXT");
  named ??= fromEnv === "" ? undefined : fromEnv;
  const path = contextsPath();
  if (named === undefined && path === undefined) return undefined;
  const store = loadContexts(path);
  const name = named ?? store.current;
  if (name === undefined) return undefined;
  const values = store.contexts[name];
  if (values === undefined) {
    if (named === undefined) return undefined; // A current context since removed by hand.
    throw new UsageError(
      `Cannot use context "${name}": no such context. See switchboard context ls`,
    );
  }
  return { name, values };
}

/**
 * `context add|use|ls|rm`.
 *
 * @param p The parsed command line.
 * @returns The exit code.
 */
export async function runContext(p: ParsedCli): Promise<number> {
  const [verb, name, ...extra] = p.positionals;
  const path = contextsPath();
  if (path === undefined) {
    throw new UsageError("Cannot keep contexts: no config folder (set HOME or XDG_CONFIG_HOME)");
  }
  const usage = "Usage: switchboard context add|use|ls|rm [NAME]";
  if (verb === undefined) throw new UsageError(`Cannot run context: no action given. ${usage}`);
  if (extra.length > 0) {
    throw new UsageError(`Cannot run context ${verb}: unexpected "${extra[0]}"`);
  }
  const store = loadContexts(path);
  const needName = (what: string): string => {
    if (name === undefined) throw new UsageError(`Cannot ${what} a context: no name given`);
    if (!NAME_RE.test(name)) {
      throw new UsageError(`Cannot ${what} context "${name}": a name is 1-64 of A-Z a-z 0-9 _ - .`);
    }
    return name;
  };
  switch (verb) {
    case "add": {
      const n = needName("add");
      const url = p.values.url;
      if (typeof url !== "string") {
        throw new UsageError(`Cannot add context "${n}": no --url (sb://host:port or sbs://...)`);
      }
      parseServerUrl(url);
      const v = p.values;
      if (v.user !== undefined && v.token !== undefined) {
        throw new UsageError("Cannot use --user and --token together: pick one way to log in");
      }
      const entry: ContextValues = { url };
      if (typeof v.ca === "string") entry.ca = resolve(v.ca);
      if (typeof v.user === "string") entry.user = v.user;
      if (typeof v.token === "string") entry.token = v.token;
      if (typeof v.nick === "string") entry.nick = v.nick;
      store.contexts[n] = entry;
      store.current ??= n;
      await writePrivateFile(path, JSON.stringify(store, null, 2) + "\n");
      if (p.json) printJson({ context: n, ...redacted(entry), current: store.current === n });
      else console.log(`Added context ${n}${store.current === n ? " (current)" : ""}`);
      return 0;
    }
    case "use": {
      const n = needName("use");
      if (store.contexts[n] === undefined) {
        throw new UsageError(
          `Cannot use context "${n}": no such context. See switchboard context ls`,
        );
      }
      store.current = n;
      await writePrivateFile(path, JSON.stringify(store, null, 2) + "\n");
      if (p.json) printJson({ context: n, current: true });
      else console.log(`Using context ${n}`);
      return 0;
    }
    case "rm": {
      const n = needName("remove");
      if (store.contexts[n] === undefined) {
        throw new UsageError(`Cannot remove context "${n}": no such context`);
      }
      delete store.contexts[n];
      if (store.current === n) delete store.current;
      await writePrivateFile(path, JSON.stringify(store, null, 2) + "\n");
      if (p.json) printJson({ context: n, removed: true });
      else console.log(`Removed context ${n}`);
      return 0;
    }
    case "ls": {
      if (name !== undefined) throw new UsageError(`Cannot run context ls: unexpected "${name}"`);
      const rows = Object.entries(store.contexts).map(([n, c]) => ({
        context: n,
        ...redacted(c),
        current: n === store.current,
      }));
      if (p.json) printJson(rows);
      else if (rows.length === 0) console.error("No contexts. Add one: switchboard context add");
      else {
        for (const r of rows) {
          const who = r.user !== undefined ? ` user ${r.user}` : r.token ? " token" : "";
          console.log(`${r.current ? "*" : " "} ${r.context}  ${r.url}${who}`);
        }
      }
      return 0;
    }
  }
  throw new UsageError(`Cannot run context ${verb}: no such action. ${usage}`);
}

/** A context as listed: the token only said to be there. */
function redacted(c: ContextValues): Omit<ContextValues, "token"> & { token: boolean } {
  const { token, ...rest } = c;
  return { ...rest, token: token !== undefined };
}
