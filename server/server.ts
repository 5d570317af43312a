/**
 * The composition root: builds the parts from the configuration (hub, engine, file store,
 * accounts, commands, metrics, listener) and wires them together. No protocol logic lives here.
 *
 * @module
 */

import { Transfers } from "./files/transfers.ts";
import { VERB_TABLE } from "../lib/protocol/verbs.ts";
import { VERSION } from "../lib/version.ts";
import { AbuseGuard, Authenticator, createAuthHandler } from "./auth/mod.ts";
import { createChatHandlers } from "./chat/commands.ts";
import { ChatHub } from "./chat/hub.ts";
import { MemoryEngine } from "./chat/memory/engine.ts";
import type { RedisEngine } from "./chat/redis/engine.ts";
import { DEFAULT_CONFIG, parseHttpAddr, type ServerConfig, validateConfig } from "./config.ts";
import { Congestion } from "./conn/congestion.ts";
import { Acceptor, formatAddr } from "./conn/listener.ts";
import { type Command, Session, type SessionConn, type SessionContext } from "./conn/session.ts";
import { loadTlsContext } from "./conn/tls.ts";
import type { Handler, StreamHandler } from "./core/handler.ts";
import type { Hub } from "./core/hub.ts";
import type { Logger } from "./core/logger.ts";
import { createFileHandlers, FileStore, HashCache, type SweepResult } from "./files/mod.ts";
import { createLogger } from "./observe/log.ts";
import {
  type DisconnectStatus,
  type HttpEndpoint,
  startHttp,
  type StatusReport,
  type StatusSource,
} from "./observe/http.ts";
import { MetricsSink, type MetricsSnapshot } from "./observe/metrics.ts";

/** Disconnects `/api/status` remembers. */
const RECENT_DISCONNECTS = 50;

/** Options of {@linkcode startServer} beyond the configuration. */
export interface StartOptions {
  /**
   * The hub (with its engine).
   * @default {new ChatHub() over a new MemoryEngine}
   */
  hub?: ChatHub;
  /**
   * The Redis engine for `--redis` ({@linkcode loadRedis}): loaded only then, so a server on the
   * memory engine never loads the Redis client.
   */
  redis?: RedisEngine;
  /**
   * The logger.
   * @default {a logger in config.logFormat on stderr}
   */
  log?: Logger;
  /** More command handlers, by verb (they replace the built-in ones). */
  handlers?: ReadonlyMap<string, Handler>;
  /** Handlers of streamed commands (`PUT`), by verb. */
  streamHandlers?: ReadonlyMap<string, StreamHandler>;
  /** Extra `HELLO` fields. */
  hello?: Record<string, unknown>;
  /** A listener to use instead of `Deno.listen`. */
  listener?: Deno.Listener;
}

/** A running server. */
export interface Server extends AsyncDisposable {
  /** The configuration it runs with. */
  readonly config: ServerConfig;
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  /** The bound port (useful with `port: 0`). */
  readonly port: number;
  /** The HTTP endpoint's bound address (`--http`), `null` when it is off. */
  readonly httpAddr: Deno.NetAddr | null;
  /** Number of connected clients. */
  readonly clients: number;
  /** The hub's node id (unique per process start). */
  readonly node: string;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** Every counter of the metrics sink, now. */
  metrics(): MetricsSnapshot;
  /**
   * Stops accepting, sends `BYE shutdown` to every client, and closes them (forcibly after
   * `graceMs`).
   */
  shutdown(graceMs?: number): Promise<void>;
  /**
   * Reloads the users file (`SIGHUP`) without dropping connections: logged-in users get their
   * new permissions at once, users no longer in the file get `BYE access revoked`. A broken file
   * is refused with a log line and the users in force stay.
   *
   * @returns The number of users now loaded.
   * @throws {Error} When there is no users file or it cannot be loaded (already logged).
   */
  reloadUsers(): Promise<number>;
}

/**
 * Loads the Redis engine `--redis` asks for (a server without it never loads the Redis client).
 *
 * @param config The options (`redis`, `redisCluster`, `redisPrefix`, `nodeTimeout`, history).
 * @param log Where the engine says that Redis went away or came back.
 * @returns The engine, or `undefined` without `--redis`.
 */
export async function loadRedis(
  config: Partial<ServerConfig>,
  log?: Logger,
): Promise<RedisEngine | undefined> {
  const cfg: ServerConfig = { ...DEFAULT_CONFIG, ...config };
  if (cfg.redis === "") return undefined;
  const { RedisEngine } = await import("./chat/redis/engine.ts");
  return new RedisEngine({
    url: cfg.redis,
    cluster: cfg.redisCluster,
    prefix: cfg.redisPrefix,
    nodeTimeout: cfg.nodeTimeout,
    history: { size: cfg.historySize, ttl: cfg.historyTtl },
    ...(log ? { log } : {}),
  });
}

/**
 * Starts a server.
 *
 * @param config Options; anything missing takes its default.
 * @param options See {@linkcode StartOptions}.
 * @returns The running server.
 * @throws {Deno.errors.AddrInUse} When the port is taken.
 * @example
 * ```ts ignore
 * import { startServer } from "./server.ts";
 * await using server = startServer({ port: 0 });
 * console.log(server.port);
 * ```
 */
export function startServer(
  config: Partial<ServerConfig> = {},
  options: StartOptions = {},
): Server {
  const cfg: ServerConfig = { ...DEFAULT_CONFIG, ...config };
  validateConfig(cfg);
  const log = options.log ?? createLogger({ format: cfg.logFormat });
  const metrics = new MetricsSink();
  const auth = cfg.users !== "" || cfg.authToken !== ""
    ? new Authenticator({ usersFile: cfg.users, token: cfg.authToken })
    : undefined;
  const guard = new AbuseGuard({
    connRate: cfg.connRate,
    authFailuresPerMinute: cfg.authFailuresPerMinute,
    authBan: cfg.authBan,
  });
  const tls = cfg.tlsCert !== ""
    ? loadTlsContext({ certFile: cfg.tlsCert, keyFile: cfg.tlsKey })
    : null;
  const redis = options.redis ?? null;
  if (cfg.redis !== "" && redis === null && options.hub === undefined) {
    throw new TypeError("--redis: start the server with loadRedis() (server/cli.ts does)");
  }
  const hub = options.hub ?? new ChatHub({
    engine: redis ?? new MemoryEngine({
      history: { size: cfg.historySize, ttl: cfg.historyTtl, memory: cfg.historyMemory },
    }),
    onError: (e) => {
      metrics.engineErrors++;
      log.warn("engine error", { action: "publish", error: String(e) });
    },
    fanoutTime: metrics.fanoutTime,
    lobbyNotices: cfg.lobbyNotices,
  });
  if (options.hub !== undefined) options.hub.observeFanout(metrics.fanoutTime);
  // The shared folder: created if missing (a failure here stops the start-up).
  const store = FileStore.create(cfg.files, {
    readOnly: cfg.readOnly,
    maxFileSize: cfg.maxFileSize,
    bufferBudget: cfg.uploadMemory,
    cache: new HashCache({ maxConcurrent: cfg.maxHashes }),
    timeout: cfg.fileTimeout,
    resumeTtl: cfg.uploadResumeTtl,
    resumeQuota: cfg.uploadResumeSpace,
    nodeTimeout: cfg.filesNodeTimeout,
  });
  const transfers = new Transfers();
  const files = createFileHandlers(store, {
    transfers,
    budget: cfg.downloadMemory,
    listPage: cfg.listPage,
    maxListPage: cfg.maxListPage,
    maxPending: cfg.maxPending,
    maxPayload: cfg.maxPayload,
    log,
    metrics,
  });
  const handlers = new Map(createChatHandlers({
    hub,
    maxPayload: cfg.maxPayload,
    maxRooms: cfg.maxRooms,
    maxHistoryReply: cfg.maxHistoryReply,
    metrics,
  }));
  for (const [verb, h] of files.handlers) handlers.set(verb, h);
  if (auth) {
    handlers.set(
      "AUTH",
      createAuthHandler({
        auth,
        guard,
        hub,
        log,
        maxAuthFailures: cfg.maxAuthFailures,
        authBan: cfg.authBan,
        authHashesPerAddress: cfg.authHashesPerAddress,
        authQueuePerAddress: cfg.authQueuePerAddress,
        authQueue: cfg.authQueue,
        metrics,
      }),
    );
  }
  for (const [verb, h] of options.handlers ?? []) handlers.set(verb, h);
  const streams = new Map(files.streamHandlers);
  for (const [verb, h] of options.streamHandlers ?? []) streams.set(verb, h);
  const commands = new Map<string, Command>();
  for (const [verb, handler] of handlers) {
    commands.set(verb, {
      handler,
      overlap: VERB_TABLE.get(verb)?.order === "overlap",
      counter: metrics.counter(verb),
    });
  }

  /** What the engine's room logs hold, when it tells (`null` otherwise). */
  const logStats = () => hub.engineNode.log.stats?.() ?? null;
  const sessions = new Set<Session>();
  const startedAt = Date.now();
  const disconnects: DisconnectStatus[] = [];
  const ctx: SessionContext<Session> = {
    config: cfg,
    hub: hub as Hub,
    log,
    metrics,
    node: hub.node,
    commands,
    streams,
    hello: {
      node: hub.node,
      ...(redis !== null && options.hub === undefined ? { cluster: true } : {}),
      ...(tls ? { tls: true } : {}),
      ...(auth ? { auth_required: true, auth_methods: auth.methods } : {}),
      ...options.hello,
    },
    guest: auth?.guest ?? null,
    congestion: new Congestion(),
    onClose: (s) => {
      sessions.delete(s);
      disconnects.push({
        nick: s.nick,
        address: s.peer,
        reason: s.reason,
        at: new Date().toISOString(),
      });
      if (disconnects.length > RECENT_DISCONNECTS) disconnects.shift();
    },
  };
  const listener = options.listener ??
    Deno.listen({ hostname: cfg.host, port: cfg.port, transport: "tcp" });
  const addr = listener.addr as Deno.NetAddr;

  let shuttingDown: Promise<void> | null = null;
  const source: StatusSource = {
    health() {
      if (shuttingDown !== null) return "shutting down";
      const why = hub.unavailable();
      return why === null ? null : `engine unavailable: ${why}`;
    },
    metrics: () => metrics.snapshot(),
    extra: () => ({ history: logStats(), uptimeSeconds: (Date.now() - startedAt) / 1000 }),
    status: () => statusReport(),
  };

  async function statusReport(): Promise<StatusReport> {
    const clients = [...sessions].map((s) => ({
      nick: s.nick,
      address: s.peer,
      rooms: hub.roomsOf(s),
      since: new Date(s.since).toISOString(),
      queued_bytes: s.outbox.pending,
    }));
    const rooms = await Promise.all(
      (await hub.rooms()).map(async (r) => ({
        room: r.room,
        members: r.members,
        last_id: await (hub.engineNode.log.last?.(r.room.toLowerCase()) ?? null),
      })),
    );
    return {
      uptime_seconds: Math.floor((Date.now() - startedAt) / 1000),
      version: VERSION,
      node: hub.node,
      started_at: new Date(startedAt).toISOString(),
      limits: limitsOf(cfg),
      counters: { ...metrics.snapshot(), history: logStats() },
      clients,
      rooms,
      transfers: transfers.list(),
      recent_disconnects: [...disconnects],
    };
  }

  let http: HttpEndpoint | null = null;
  if (cfg.http !== "") {
    try {
      http = startHttp(source, {
        ...parseHttpAddr(cfg.http),
        token: cfg.httpToken,
        onError: (e) => log.error("http request failed", { error: String(e) }),
      });
    } catch (e) {
      listener.close();
      throw e;
    }
  }

  const tick = Math.max(
    10,
    Math.min(1000, Math.floor(Math.min(cfg.pingInterval, cfg.writeDeadline, cfg.lineTimeout) / 4)),
  );
  let guardSweptAt = Date.now();
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const s of sessions) s.sweep(now);
    if (now - guardSweptAt >= 10_000) {
      guardSweptAt = now;
      guard.sweep(now);
    }
  }, tick);

  function startSession(conn: SessionConn, peer: string): void {
    const session = new Session(conn, peer, ctx);
    sessions.add(session);
    void session.run();
  }

  const acceptor = new Acceptor(listener, {
    maxClients: cfg.maxClients,
    // The login timeout covers the handshake too: whichever ends first.
    handshakeTimeout: Math.min(cfg.tlsHandshakeTimeout, cfg.loginTimeout),
    tls,
    log,
    sessions: () => sessions.size,
    admit: (host, now) => guard.admit(host, now),
    start: startSession,
  });

  let finish!: () => void;
  const finished = new Promise<void>((resolve) => finish = resolve);
  function shutdown(graceMs = 2000): Promise<void> {
    shuttingDown ??= (async () => {
      await acceptor.stop();
      const all = [...sessions];
      for (const s of all) s.end("shutdown");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
      await Promise.race([Promise.all(all.map((s) => s.done)), grace]);
      clearTimeout(timer);
      for (const s of all) s.close("shutdown");
      await store.abortAll();
      await store.uploads.stop();
      clearInterval(sweeper);
      if (options.hub === undefined) await hub.close();
      await http?.close();
      log.info("stopped", { clients: all.length });
      finish();
    })();
    return shuttingDown;
  }

  log.info("listening", {
    addr: formatAddr(addr),
    files: cfg.files,
    max_clients: cfg.maxClients,
    tls: tls !== null,
    auth: auth ? auth.methods.join(",") : "none",
    users: auth?.usersFile ? auth.userCount : undefined,
    http: http === null ? undefined : formatAddr(http.addr),
    node: hub.node,
    engine: redis === null
      ? "memory"
      : `redis ${redis.target.where}${
        cfg.redisCluster || redis.target.cluster ? " (cluster)" : ""
      }`,
  });

  // This node's heartbeat in the folder, then the sweep of what crashes left, in the background
  // (uploads of this process and of other live nodes sharing the folder are never touched).
  const sweptLog = (r: SweepResult | null, e?: unknown) => {
    if (r === null) log.warn("sweep failed", { files: cfg.files, error: String(e) });
    else if (r.removed > 0 || r.adopted > 0 || r.gone.length > 0) {
      log.info("swept temporary uploads", {
        files: cfg.files,
        removed: r.removed,
        kept: r.adopted,
        gone: r.gone.join(",") || undefined,
      });
    }
  };
  store.uploads.start(sweptLog);

  async function reloadUsers(): Promise<number> {
    if (!auth?.usersFile) {
      throw new Error("Cannot reload users: the server has no users file (--users)");
    }
    let count: number;
    try {
      count = await auth.reload();
    } catch (e) {
      log.error("users reload refused, the users in force stay", { error: (e as Error).message });
      throw e;
    }
    let revoked = 0;
    for (const s of sessions) {
      if (s.user === null) continue;
      const user = auth.user(s.user);
      if (user !== undefined) s.setAccess(auth.accessOf(user));
      else {
        s.end("access revoked");
        revoked++;
      }
    }
    log.info("users reloaded", { file: auth.usersFile, users: count, revoked });
    return count;
  }

  return {
    config: cfg,
    addr,
    port: addr.port,
    httpAddr: http?.addr ?? null,
    get clients() {
      return sessions.size;
    },
    node: hub.node,
    metrics: () => metrics.snapshot(),
    finished,
    shutdown,
    reloadUsers,
    [Symbol.asyncDispose]: () => shutdown(500),
  };
}

/** The numeric options, by their snake_case names (`/api/status` limits). */
function limitsOf(config: ServerConfig): Record<string, number> {
  const limits: Record<string, number> = {};
  for (const [key, value] of Object.entries(config)) {
    if (typeof value === "number") {
      limits[key.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase())] = value;
    }
  }
  return limits;
}
