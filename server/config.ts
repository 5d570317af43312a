/**
 * Server options: one table gives every option its flag, environment variable, default and help.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseDuration, parseSize } from "./units.ts";

export { parseDuration, parseSize };
import { validateConfig } from "./config_check.ts";
export { isLoopback, parseHttpAddr, validateConfig } from "./config_check.ts";
export { optionsHelp } from "./config_help.ts";
import { OPTIONS, type OptionSpec } from "./config_options.ts";
export { type Kind, OPTIONS, type OptionSpec } from "./config_options.ts";
import { DEFAULT_HOST, DEFAULT_LIMITS, DEFAULT_PORT } from "../lib/protocol/limits.ts";

/** Everything a server runs with. Sizes in bytes, times in milliseconds. */
export interface ServerConfig {
  /** Address to bind. */
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  /** The shared folder. */
  files: string;
  /** Longest control line. */
  maxLine: number;
  /** Largest message payload. */
  maxPayload: number;
  /** Largest file a PUT may send. */
  maxFileSize: number;
  /** Most clients at once. */
  maxClients: number;
  /** Most bytes queued to one client. */
  maxPending: number;
  /** Pipelined commands of one client whose engine work may overlap. */
  maxInflight: number;
  /** Longest a write may make no progress. */
  writeDeadline: number;
  /** Longest a publisher is not read, per read, while a member it feeds is behind. */
  maxStall: number;
  /** Messages a room's log keeps; 0 = none (ids are still given). */
  historySize: number;
  /** How long a room's log keeps a message. */
  historyTtl: number;
  /** Most messages in one `HISTORY` reply. */
  maxHistoryReply: number;
  /** Bytes all room logs hold together. */
  historyMemory: number;
  /** Longest a TLS handshake may take. */
  tlsHandshakeTimeout: number;
  /** Longest a control line may take to arrive once its first byte has. */
  lineTimeout: number;
  /** Silence before the server pings. */
  pingInterval: number;
  /** Log line format. */
  logFormat: "text" | "json";
  /** Refuse PUT and DEL. */
  readOnly: boolean;
  /** Bytes of file data buffered for all downloads together. */
  downloadMemory: number;
  /** Bytes of upload data written behind for all uploads together. */
  uploadMemory: number;
  /** Files hashed at once (first use of a file that appeared by other means). */
  maxHashes: number;
  /** Names a `LIST` page covers when the client gives no limit. */
  listPage: number;
  /** Most names a `LIST` page covers whatever the client asks. */
  maxListPage: number;
  /** Deadline of one file operation (stat, open, one read); 0 = none. */
  fileTimeout: number;
  /** How long a cut resumable upload is kept; 0 = never kept. */
  uploadResumeTtl: number;
  /** Bytes this server's kept uploads may hold together. */
  uploadResumeSpace: number;
  /** Age of an unlocked heartbeat in the shared folder before that server's uploads count as left. */
  filesNodeTimeout: number;
  /** PEM certificate chain file: the port speaks TLS when set ("" = plain TCP). */
  tlsCert: string;
  /** PEM private key file of `tlsCert`. */
  tlsKey: string;
  /** Users file (JSON): logins with permissions are required when set ("" = none). */
  users: string;
  /** Shared secret for `AUTH token` ("" = none). */
  authToken: string;
  /** Failed `AUTH` on one connection before it is closed. */
  maxAuthFailures: number;
  /** Failed `AUTH` from one address within a minute before that address is refused. */
  authFailuresPerMinute: number;
  /** How long an address is refused after too many failed logins. */
  authBan: number;
  /** Password checks (scrypt) running at once for one address. */
  authHashesPerAddress: number;
  /** `AUTH` of one address waiting for a password check before `ERR 429`. */
  authQueuePerAddress: number;
  /** `AUTH` waiting for a password check, all addresses together, before `ERR 429`. */
  authQueue: number;
  /** New connections per second from one address; 0 = no limit. */
  connRate: number;
  /** Commands per second per connection (token bucket); 0 = no limit. */
  cmdRate: number;
  /** Commands a connection may send at once above `cmdRate`; 0 = one second's worth. */
  cmdBurst: number;
  /** Rooms one client may be in, `lobby` included; 0 = no limit. */
  maxRooms: number;
  /**
   * Most lobby members (all nodes) for which a client that announces itself (`JOIN lobby`) is
   * told to the lobby on arrival, rename and leave; 0 = never.
   */
  lobbyNotices: number;
  /** Time to finish the TLS handshake and, when logins are required, `AUTH`. */
  loginTimeout: number;
  /** `host:port` of the HTTP endpoint (health, metrics, status, dashboard); `""` = off. */
  http: string;
  /** Bearer token every HTTP endpoint but `/healthz` requires (`""` = none). */
  httpToken: string;
  /** The Redis engine's URL (`""` = the in-process engine). */
  redis: string;
  /** The URL names a node of a Redis Cluster. */
  redisCluster: boolean;
  /** Prefix of every Redis key and channel. */
  redisPrefix: string;
  /** A node silent this long is taken for dead by the others. */
  nodeTimeout: number;
}

/** The defaults of every option. */
export const DEFAULT_CONFIG: Readonly<ServerConfig> = {
  host: DEFAULT_HOST,
  port: DEFAULT_PORT,
  files: "./files",
  readOnly: false,
  downloadMemory: 64 * 1024 * 1024,
  uploadMemory: 64 * 1024 * 1024,
  maxHashes: 2,
  listPage: 1000,
  maxListPage: 10_000,
  fileTimeout: 10_000,
  uploadResumeTtl: 3_600_000,
  uploadResumeSpace: 10 * 1024 ** 3,
  filesNodeTimeout: 5000,
  maxInflight: 1024,
  maxStall: 25,
  tlsHandshakeTimeout: 10_000,
  lineTimeout: 30_000,
  ...DEFAULT_LIMITS,
  logFormat: "text",
  tlsCert: "",
  tlsKey: "",
  users: "",
  authToken: "",
  maxAuthFailures: 3,
  authFailuresPerMinute: 20,
  authBan: 5 * 60_000,
  authHashesPerAddress: 1,
  authQueuePerAddress: 8,
  authQueue: 32,
  connRate: 0,
  cmdRate: 0,
  cmdBurst: 0,
  maxRooms: 100,
  lobbyNotices: 32,
  loginTimeout: 10_000,
  http: "",
  httpToken: "",
  redis: "",
  redisCluster: false,
  redisPrefix: "sb:",
  nodeTimeout: 15_000,
};

/** The environment variable of an option: `max-line` → `SWITCHBOARD_MAX_LINE`. */
export function envName(flag: string): string {
  return "SWITCHBOARD_" + flag.toUpperCase().replaceAll("-", "_");
}

function convert(
  spec: OptionSpec,
  raw: string | boolean,
  from: string,
): ServerConfig[keyof ServerConfig] {
  if (spec.kind === "bool") {
    if (typeof raw === "boolean") return raw;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off|)$/i.test(raw)) return false;
    throw new RangeError(`${from}: "${raw}" is not true or false`);
  }
  const text = String(raw);
  try {
    switch (spec.kind) {
      case "string":
        if (text === "" && !spec.empty) throw new RangeError("it must not be empty");
        return text;
      case "format":
        if (text !== "text" && text !== "json") {
          throw new RangeError(`"${text}" is not text or json`);
        }
        return text;
      case "int": {
        if (!/^[0-9]+$/.test(text)) throw new RangeError(`"${text}" is not a whole number`);
        const n = Number(text);
        if (spec.key === "port" && n > 65535) throw new RangeError(`${n} is not a port (0-65535)`);
        return n;
      }
      case "size":
        return parseSize(text);
      case "duration":
        return parseDuration(text);
    }
  } catch (e) {
    throw new RangeError(`${from}: ${(e as Error).message}`);
  }
}

/** Result of {@linkcode parseServerArgs}. */
export interface ParsedServerArgs {
  /** The configuration: flags over environment over defaults. */
  config: ServerConfig;
  /** `--help` was given. */
  help: boolean;
  /** `--version` was given. */
  version: boolean;
  /** Words that are not options (a subcommand). */
  positionals: string[];
}

/**
 * Reads server options from command-line flags, then `SWITCHBOARD_*` variables, then defaults.
 *
 * @param args Command-line arguments.
 * @param env Environment lookup.
 * @returns The configuration and the flags that stop the server from starting.
 * @throws {RangeError} On an unknown flag or a bad value, with a message naming it.
 */
export function parseServerArgs(
  args: string[],
  env: (name: string) => string | undefined = () => undefined,
): ParsedServerArgs {
  const options: Record<string, { type: "string" | "boolean" }> = {
    help: { type: "boolean" },
    version: { type: "boolean" },
  };
  for (const s of OPTIONS) options[s.flag] = { type: s.kind === "bool" ? "boolean" : "string" };
  let parsed;
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (e) {
    throw new RangeError((e as Error).message.replace(/\. To specify.*$/s, ""));
  }
  const config = { ...DEFAULT_CONFIG } as Record<string, unknown>;
  for (const s of OPTIONS) {
    const flag = parsed.values[s.flag];
    const fromEnv = env(envName(s.flag));
    if (flag !== undefined) config[s.key] = convert(s, flag, `--${s.flag}`);
    else if (fromEnv !== undefined) config[s.key] = convert(s, fromEnv, envName(s.flag));
  }
  const result = config as unknown as ServerConfig;
  validateConfig(result);
  return {
    config: result,
    help: parsed.values.help === true,
    version: parsed.values.version === true,
    positionals: parsed.positionals,
  };
}
