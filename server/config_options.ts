/**
 * The server's option table: every option's flag, kind, help line and (through its key) default;
 * `--help`, the environment variables `SWITCHBOARD_*` and the parser are all made from it.
 *
 * @module
 */

import type { ServerConfig } from "./config.ts";

export type Kind = "string" | "int" | "size" | "duration" | "bool" | "format";

export interface OptionSpec {
  key: keyof ServerConfig;
  flag: string;
  kind: Kind;
  help: string;
  /** The value's name in `--help` (`FILE`), when not the kind's. */
  arg?: string;
  /** A string option that may be given empty (`""` = off). */
  empty?: boolean;
}

/** The options, in `--help` order. Defaults come from {@linkcode DEFAULT_CONFIG}. */
export const OPTIONS: readonly OptionSpec[] = [
  { key: "host", flag: "host", kind: "string", help: "address to listen on (0.0.0.0 for all)" },
  { key: "port", flag: "port", kind: "int", help: "TCP port (0 = any free port)" },
  { key: "files", flag: "files", kind: "string", help: "folder shared with clients" },
  { key: "readOnly", flag: "read-only", kind: "bool", help: "refuse PUT and DEL (403)" },
  { key: "maxLine", flag: "max-line", kind: "size", help: "longest command line" },
  { key: "maxPayload", flag: "max-payload", kind: "size", help: "largest message payload" },
  { key: "maxFileSize", flag: "max-file-size", kind: "size", help: "largest upload" },
  {
    key: "downloadMemory",
    flag: "download-memory",
    kind: "size",
    help: "file data buffered for all downloads together",
  },
  {
    key: "uploadMemory",
    flag: "upload-memory",
    kind: "size",
    help: "upload data written behind for all uploads together",
  },
  { key: "maxHashes", flag: "max-hashes", kind: "int", help: "files sha256-hashed at once" },
  {
    key: "listPage",
    flag: "list-page",
    kind: "int",
    help: "entries in a LIST page when the client asks no limit",
  },
  {
    key: "maxListPage",
    flag: "max-list-page",
    kind: "int",
    help: "most entries in one LIST page, whatever the client asks",
  },
  {
    key: "fileTimeout",
    flag: "file-timeout",
    kind: "duration",
    help: "a file stat, open or read with no answer this long fails (ERR 500), 0 = none",
  },
  {
    key: "uploadResumeTtl",
    flag: "upload-resume-ttl",
    kind: "duration",
    help: "how long a cut resumable upload is kept for a resume (PUT ... resume), 0 = never",
  },
  {
    key: "uploadResumeSpace",
    flag: "upload-resume-space",
    kind: "size",
    help: "disk space this server's kept uploads may use (the oldest go first)",
  },
  {
    key: "filesNodeTimeout",
    flag: "files-node-timeout",
    kind: "duration",
    help: "servers sharing --files: an unlocked heartbeat untouched this long means gone",
  },
  { key: "maxClients", flag: "max-clients", kind: "int", help: "most clients at once" },
  {
    key: "maxPending",
    flag: "max-pending",
    kind: "size",
    help: "bytes queued to one client before it is cut",
  },
  {
    key: "maxInflight",
    flag: "max-inflight",
    kind: "int",
    help: "pipelined commands of one client in flight at once",
  },
  {
    key: "writeDeadline",
    flag: "write-deadline",
    kind: "duration",
    help: "a write making no progress this long cuts the client",
  },
  {
    key: "maxStall",
    flag: "max-stall",
    kind: "duration",
    help: "longest a publisher goes unread, per read, while a member it feeds is behind",
  },
  {
    key: "historySize",
    flag: "history-size",
    kind: "int",
    help: "messages a room's log keeps (0 = no history)",
  },
  {
    key: "historyTtl",
    flag: "history-ttl",
    kind: "duration",
    help: "how long a room's log keeps a message",
  },
  {
    key: "maxHistoryReply",
    flag: "max-history-reply",
    kind: "int",
    help: "most messages in one HISTORY reply",
  },
  {
    key: "historyMemory",
    flag: "history-memory",
    kind: "size",
    help: "bytes all room logs hold (oldest of the largest go first)",
  },
  {
    key: "lineTimeout",
    flag: "line-timeout",
    kind: "duration",
    help: "a command line not ended this long after its first byte: BYE line timeout",
  },
  {
    key: "pingInterval",
    flag: "ping-interval",
    kind: "duration",
    help: "silence before PING; two missed = BYE idle",
  },
  { key: "logFormat", flag: "log-format", kind: "format", help: "log lines as text or json" },
  {
    key: "tlsHandshakeTimeout",
    flag: "tls-handshake-timeout",
    kind: "duration",
    help: "a TLS handshake not done this long (or --login-timeout) after connecting: close",
  },
  {
    key: "tlsCert",
    flag: "tls-cert",
    kind: "string",
    arg: "FILE",
    help: "PEM certificate (chain): the port speaks TLS only",
  },
  {
    key: "tlsKey",
    flag: "tls-key",
    kind: "string",
    arg: "FILE",
    help: "PEM private key of --tls-cert",
  },
  {
    key: "users",
    flag: "users",
    kind: "string",
    arg: "FILE",
    help: "users file (JSON); AUTH user password required; SIGHUP reloads it",
  },
  {
    key: "authToken",
    flag: "auth-token",
    kind: "string",
    arg: "TOKEN",
    help: "shared secret, AUTH token required (prefer the env variable: flags show in ps)",
  },
  {
    key: "maxAuthFailures",
    flag: "max-auth-failures",
    kind: "int",
    help: "failed AUTH on one connection before it is closed",
  },
  {
    key: "authFailuresPerMinute",
    flag: "auth-failures-per-minute",
    kind: "int",
    help: "failed AUTH from one address in a minute before it is refused (ERR 429)",
  },
  {
    key: "authBan",
    flag: "auth-ban",
    kind: "duration",
    help: "how long such an address is refused",
  },
  {
    key: "authHashesPerAddress",
    flag: "auth-hashes-per-address",
    kind: "int",
    help: "password checks running at once for one address (2 at most in all)",
  },
  {
    key: "authQueuePerAddress",
    flag: "auth-queue-per-address",
    kind: "int",
    help: "AUTH of one address waiting for a password check; more: ERR 429 at once",
  },
  {
    key: "authQueue",
    flag: "auth-queue",
    kind: "int",
    help: "AUTH waiting for a password check, all addresses; more: ERR 429 at once",
  },
  {
    key: "connRate",
    flag: "conn-rate",
    kind: "int",
    help: "new connections per second from one address (ERR 429), 0 = no limit",
  },
  {
    key: "cmdRate",
    flag: "cmd-rate",
    kind: "int",
    help: "commands per second per connection (ERR 429), 0 = no limit",
  },
  {
    key: "cmdBurst",
    flag: "cmd-burst",
    kind: "int",
    help: "most commands in one burst under --cmd-rate, 0 = one second's worth",
  },
  {
    key: "maxRooms",
    flag: "max-rooms",
    kind: "int",
    help: "rooms per client, lobby included (ERR 413), 0 = no limit",
  },
  {
    key: "lobbyNotices",
    flag: "lobby-notices",
    kind: "int",
    help: "JOINED/LEFT lobby of clients that JOIN lobby, while it has at most this many, 0 = never",
  },
  {
    key: "loginTimeout",
    flag: "login-timeout",
    kind: "duration",
    help: "time to finish the TLS handshake and AUTH before the connection is closed",
  },
  {
    key: "http",
    flag: "http",
    kind: "string",
    arg: "ADDR",
    empty: true,
    help: "host:port of the HTTP endpoint: /healthz, /metrics, /api/status, /events, the dashboard",
  },
  {
    key: "httpToken",
    flag: "http-token",
    kind: "string",
    arg: "TOKEN",
    help: "bearer token for every HTTP endpoint but /healthz (required off loopback)",
  },
  {
    key: "redis",
    flag: "redis",
    kind: "string",
    arg: "URL",
    empty: true,
    help: "Redis engine: redis://[user:password@]host:port[/db] (rediss:// for TLS); several " +
      "servers on one Redis are one service",
  },
  {
    key: "redisCluster",
    flag: "redis-cluster",
    kind: "bool",
    help: "--redis names a node of a Redis Cluster (sharded pub/sub, rooms spread over shards)",
  },
  {
    key: "redisPrefix",
    flag: "redis-prefix",
    kind: "string",
    arg: "PREFIX",
    help: "prefix of every Redis key and channel (services sharing one Redis need their own)",
  },
  {
    key: "nodeTimeout",
    flag: "node-timeout",
    kind: "duration",
    help: "a server silent this long is taken for dead: its clients' nicks freed, LEFT pushed",
  },
];
