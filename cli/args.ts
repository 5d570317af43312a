/**
 * Argument parsing of the client command line: where the server is (`--host`, `--port`, `--tls`,
 * `SWITCHBOARD_URL`), who we are (`--nick`, `--user`, `--token`), the command and its options.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_HOST, DEFAULT_PORT } from "../lib/protocol/limits.ts";

/** Wrong usage: the command line itself is at fault (exit code 2). */
export class UsageError extends Error {
  /** The command whose help to point at, if known. */
  readonly command: string | undefined;

  /**
   * @param message What is wrong and what to do.
   * @param command The command whose help to point at, if known.
   */
  constructor(message: string, command?: string) {
    super(message);
    this.name = "UsageError";
    this.command = command;
  }
}

/** A failure the server or the network reported (exit code 1 unless said otherwise). */
export class CliError extends Error {
  /** The exit code. */
  readonly exitCode: number;

  /**
   * @param message What failed and what to do.
   * @param exitCode The exit code.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, exitCode = 1, options?: ErrorOptions) {
    super(message, options);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/**
 * Every environment variable the client reads. The compiled `switchboard` may read these and no
 * others (see .ci/compile.ts).
 */
export const CLIENT_ENV_VARS: readonly string[] = [
  "SWITCHBOARD_URL",
  "SWITCHBOARD_NICK",
  "SWITCHBOARD_CA",
  "SWITCHBOARD_USER",
  "SWITCHBOARD_PASSWORD",
  "SWITCHBOARD_TOKEN",
  "SWITCHBOARD_CONTEXT",
  "NO_COLOR",
  "TERM",
  // Where the client keeps contexts and chat history (cli/paths.ts).
  "HOME",
  "XDG_CONFIG_HOME",
  "XDG_STATE_HOME",
  "APPDATA",
  "LOCALAPPDATA",
];

/** Where the server is. */
export interface Target {
  /** Host name or address. */
  host: string;
  /** TCP port. */
  port: number;
  /** Speak TLS. */
  tls: boolean;
  /** A PEM file of a private CA to trust (TLS only). */
  caFile?: string;
  /** `host:port` for messages (IPv6 in brackets). */
  label: string;
}

/** The credentials to send when the server asks for them. */
export type Credentials =
  | { kind: "none" }
  | { kind: "password"; user: string; password?: string }
  | { kind: "token"; token: string };

/**
 * What a context (`switchboard context add`) holds: where the server is, and who to be there.
 * A context never holds a password.
 */
export interface ContextValues {
  /** `sb://host:port` or `sbs://host:port`. */
  url: string;
  /** A PEM file of a private CA to trust (an absolute path). */
  ca?: string;
  /** The user to log in as (the password comes from SWITCHBOARD_PASSWORD or a prompt). */
  user?: string;
  /** A login token (kept in the 0600 contexts file). */
  token?: string;
  /** The nick to take. */
  nick?: string;
}

/** A parsed command line. */
export interface ParsedCli {
  /** The command (`chat`, `send`, ...), or `help` when none was given. */
  command: string;
  /** The words after the command. */
  positionals: string[];
  /** Where the server is. */
  target: Target;
  /** The nick to take, if any. */
  nick?: string;
  /** What to answer when the server asks for authentication. */
  credentials: Credentials;
  /** The context in use (its name), if any. */
  context?: string;
  /** `--json` was given. */
  json: boolean;
  /** `--help` was given. */
  help: boolean;
  /** `--version` was given. */
  version: boolean;
  /** Command options by name (`room`, `samples`, `count`, `no-resume`, `history`, `limit`, `after`,
   * `http`). */
  values: Record<string, string | boolean | undefined>;
}

/** Options every command accepts. */
export const GLOBAL_OPTIONS = [
  "host",
  "port",
  "tls",
  "ca",
  "nick",
  "user",
  "token",
  "context",
  "json",
  "help",
  "version",
] as const;

/** The options of each command beyond {@linkcode GLOBAL_OPTIONS}. */
export const COMMAND_OPTIONS: Record<string, readonly string[]> = {
  help: [],
  chat: ["room", "history"],
  send: ["json"],
  tell: ["json"],
  listen: ["json", "count"],
  history: ["json", "limit", "after"],
  who: ["json"],
  rooms: ["json"],
  ping: ["json", "count"],
  time: ["json", "samples"],
  ls: ["json"],
  get: ["json", "no-resume", "recursive", "force"],
  put: ["json", "no-resume", "recursive", "force"],
  rm: ["json", "recursive", "yes"],
  status: ["json", "http"],
  context: ["url"],
  completions: [],
  __complete: [],
};

const PARSE_OPTIONS = {
  host: { type: "string" },
  port: { type: "string", short: "p" },
  tls: { type: "boolean" },
  ca: { type: "string" },
  nick: { type: "string", short: "n" },
  user: { type: "string", short: "u" },
  token: { type: "string" },
  context: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
  json: { type: "boolean" },
  room: { type: "string", short: "r" },
  samples: { type: "string" },
  count: { type: "string", short: "c" },
  "no-resume": { type: "boolean" },
  recursive: { type: "boolean" },
  force: { type: "boolean", short: "f" },
  yes: { type: "boolean", short: "y" },
  history: { type: "string" },
  limit: { type: "string" },
  after: { type: "string" },
  http: { type: "string" },
  url: { type: "string" },
} as const;

/**
 * Reads `SWITCHBOARD_URL`: `sb://host:port` (plain TCP) or `sbs://host:port` (TLS); the port
 * defaults to 7373.
 *
 * @param url The URL.
 * @returns Host, port and whether it is TLS.
 * @throws {UsageError} When it is not such a URL.
 * @example
 * ```ts
 * import { parseServerUrl } from "./args.ts";
 * const t = parseServerUrl("sbs://chat.example.org:7400");
 * console.assert(t.host === "chat.example.org" && t.port === 7400 && t.tls);
 * ```
 */
export function parseServerUrl(url: string): { host: string; port: number; tls: boolean } {
  const bad = (why: string) =>
    new UsageError(
      `Cannot use SWITCHBOARD_URL "${url}": ${why} (expected sb://host:port, or sbs://host:port for TLS)`,
    );
  const m = /^(sbs?):\/\/(\[[0-9a-fA-F:.]+\]|[^/:\[\]@?#\s]+)(?::(\d*))?\/?$/.exec(url.trim());
  if (!m) {
    if (!/^sbs?:\/\//.test(url.trim())) throw bad("unknown scheme");
    throw bad("not a host and port");
  }
  const host = m[2]!.startsWith("[") ? m[2]!.slice(1, -1) : m[2]!;
  const port = m[3] === undefined || m[3] === "" ? DEFAULT_PORT : Number(m[3]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad(`port ${m[3]} is not 1-65535`);
  return { host, port, tls: m[1] === "sbs" };
}

/**
 * `host:port` for messages, with IPv6 addresses in brackets.
 *
 * @param host Host name or address.
 * @param port Port.
 * @returns The label.
 */
export function targetLabel(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function parsePositiveInt(
  name: string,
  text: string | boolean | undefined,
  fallback: number,
  max: number,
): number {
  if (text === undefined) return fallback;
  const s = String(text);
  if (!/^[0-9]+$/.test(s) || Number(s) < 1 || Number(s) > max) {
    throw new UsageError(`Cannot use --${name} ${s}: it must be a whole number from 1 to ${max}`);
  }
  return Number(s);
}

/**
 * A positive whole-number option of a parsed command line.
 *
 * @param parsed The parsed command line.
 * @param name The option.
 * @param fallback Its default.
 * @param max Its largest value.
 * @returns The value.
 * @throws {UsageError} When it is not a whole number in range.
 */
export function intOption(parsed: ParsedCli, name: string, fallback: number, max: number): number {
  return parsePositiveInt(name, parsed.values[name], fallback, max);
}

/**
 * A whole-number option of a parsed command line that may be 0 (`--history 0`, `--after 0`).
 *
 * @param parsed The parsed command line.
 * @param name The option.
 * @param fallback Its default.
 * @param max Its largest value.
 * @returns The value.
 * @throws {UsageError} When it is not a whole number from 0 to `max`.
 */
export function countOption(
  parsed: ParsedCli,
  name: string,
  fallback: number,
  max: number,
): number {
  const text = parsed.values[name];
  if (text === undefined) return fallback;
  const s = String(text);
  if (!/^[0-9]{1,16}$/.test(s) || Number(s) > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? "0 or more" : `from 0 to ${max}`;
    throw new UsageError(`Cannot use --${name} ${s}: it must be a whole number ${range}`);
  }
  return Number(s);
}

/**
 * Parses the client command line. Options may come before or after the command.
 *
 * Each setting comes from the first of: a flag, a variable, the context, the default. The
 * context fills in only what neither a flag nor a variable sets, each of these as a whole: the
 * server (its URL with its CA), the login (user or token), the nick.
 *
 * @param args The arguments after the program name.
 * @param env Environment lookup.
 * @param context The context in use, with its name.
 * @returns The parsed command line.
 * @throws {UsageError} On an unknown command or option, a missing value, a bad port or URL.
 */
export function parseCli(
  args: string[],
  env: (name: string) => string | undefined,
  context?: { name: string; values: ContextValues },
): ParsedCli {
  // `-r` is --room, except for the file commands, where it is --recursive (get -r, put -r, rm -r).
  const verb = args.find((a) => Object.hasOwn(COMMAND_OPTIONS, a));
  if (verb === "get" || verb === "put" || verb === "rm") {
    args = args.map((a) => a === "-r" ? "--recursive" : a);
  }
  let parsed;
  try {
    parsed = parseArgs({ args, options: PARSE_OPTIONS, strict: true, allowPositionals: true });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify.*$/s, "").replace(/\.$/, "");
    throw new UsageError(`Cannot parse the command line: ${msg}`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const [first, ...positionals] = parsed.positionals;
  const command = first ?? "help";
  const allowed = COMMAND_OPTIONS[command];
  if (allowed === undefined) {
    throw new UsageError(`Unknown command "${command}"${suggest(command)}`);
  }
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    if (!(GLOBAL_OPTIONS as readonly string[]).includes(name) && !allowed.includes(name)) {
      throw new UsageError(
        `Cannot use --${name} with "${command}": it only applies to ${whoTakes(name)}`,
        command,
      );
    }
  }

  // Where: defaults, then the context, then SWITCHBOARD_URL, then flags.
  let host = DEFAULT_HOST;
  let port = DEFAULT_PORT;
  let tls = false;
  const ctx = context?.values;
  const url = nonEmpty(env("SWITCHBOARD_URL"));
  const envCa = nonEmpty(env("SWITCHBOARD_CA"));
  const whereGiven = url !== undefined || envCa !== undefined || values.host !== undefined ||
    values.port !== undefined || values.tls !== undefined || values.ca !== undefined;
  const ctxWhere = ctx !== undefined && !whereGiven;
  if (ctxWhere) ({ host, port, tls } = parseServerUrl(ctx.url));
  if (url !== undefined) ({ host, port, tls } = parseServerUrl(url));
  if (typeof values.host === "string") {
    if (values.host === "") throw new UsageError("Cannot use --host: it is empty");
    host = values.host.startsWith("[") && values.host.endsWith("]")
      ? values.host.slice(1, -1)
      : values.host;
  }
  if (typeof values.port === "string") {
    port = parsePositiveInt("port", values.port, DEFAULT_PORT, 65535);
  }
  if (values.tls === true) tls = true;
  const caFile = (values.ca as string | undefined) ?? envCa ?? (ctxWhere ? ctx.ca : undefined);
  if (caFile !== undefined) tls = true;

  if (values.user !== undefined && values.token !== undefined) {
    throw new UsageError("Cannot use --user and --token together: pick one way to log in");
  }
  let credentials: Credentials = { kind: "none" };
  const envToken = nonEmpty(env("SWITCHBOARD_TOKEN"));
  const envUser = nonEmpty(env("SWITCHBOARD_USER"));
  if (typeof values.token === "string") credentials = { kind: "token", token: values.token };
  else if (typeof values.user === "string") {
    credentials = {
      kind: "password",
      user: values.user,
      password: nonEmpty(env("SWITCHBOARD_PASSWORD")),
    };
  } else if (envToken !== undefined) credentials = { kind: "token", token: envToken };
  else if (envUser !== undefined) {
    credentials = {
      kind: "password",
      user: envUser,
      password: nonEmpty(env("SWITCHBOARD_PASSWORD")),
    };
  } else if (ctx?.token !== undefined) credentials = { kind: "token", token: ctx.token };
  else if (ctx?.user !== undefined) {
    credentials = {
      kind: "password",
      user: ctx.user,
      password: nonEmpty(env("SWITCHBOARD_PASSWORD")),
    };
  }

  const nick = (values.nick as string | undefined) ?? nonEmpty(env("SWITCHBOARD_NICK")) ??
    ctx?.nick;
  return {
    command,
    positionals,
    target: { host, port, tls, caFile, label: targetLabel(host, port) },
    nick,
    credentials,
    context: context?.name,
    json: values.json === true,
    help: values.help === true,
    version: values.version === true,
    values,
  };
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === "" ? undefined : s;
}

function whoTakes(option: string): string {
  const cmds = Object.entries(COMMAND_OPTIONS).filter(([, o]) => o.includes(option)).map(([c]) =>
    c
  );
  return cmds.join(", ");
}

function suggest(command: string): string {
  const names = Object.keys(COMMAND_OPTIONS);
  let best = "";
  let bestDistance = 3;
  for (const n of names) {
    const d = editDistance(command.toLowerCase(), n);
    if (d < bestDistance) {
      best = n;
      bestDistance = d;
    }
  }
  return best === "" ? "" : `. Did you mean "${best}"?`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
