/**
 * The accept loop: listens, enforces `max_clients`, starts a session per connection, sweeps
 * liveness and write deadlines, and shuts down gracefully.
 *
 * @module
 */

import type { SecureContext } from "node:tls";
import { encodeError } from "../lib/protocol/encoder.ts";
import { ErrorCode } from "../lib/protocol/errors.ts";
import { authCommand, Authenticator } from "./auth/auth.ts";
import { CHAT_HANDLERS } from "./chat/commands.ts";
import { DEFAULT_CONFIG, type ServerConfig, validateConfig } from "./config.ts";
import { createFileHandlers } from "./files/commands.ts";
import { FileStore } from "./files/store.ts";
import { HashCache } from "./files/hash_cache.ts";
import { type Hub, LocalHub } from "./chat/hub.ts";
import { createLogger, type Logger } from "./observe/log.ts";
import { AbuseGuard } from "./auth/abuse_guard.ts";
import {
  type Handler,
  type ServerContext,
  Session,
  type SessionConn,
  type StreamHandler,
} from "./conn/session.ts";
import { acceptTls, loadTlsContext } from "./conn/tls.ts";

/** Options of {@linkcode startServer} beyond the configuration. */
export interface StartOptions {
  /**
   * The hub.
   * @default {new LocalHub()}
   */
  hub?: Hub;
  /**
   * The logger.
   * @default {a logger in config.logFormat on stderr}
   */
  log?: Logger;
  /** More command handlers (file commands), by verb. */
  handlers?: ReadonlyMap<string, Handler>;
  /** Handlers of streamed commands (`PUT`), by verb. */
  streamHandlers?: ReadonlyMap<string, StreamHandler>;
  /** Extra `HELLO` fields. */
  hello?: Record<string, unknown>;
  /** A listener to use instead of `Deno.listen` (TLS). */
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
  /** Number of connected clients. */
  readonly clients: number;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
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

const FULL = encodeError(ErrorCode.Unavailable, "server full");

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
  const hub = options.hub ?? new LocalHub();
  const sessions = new Set<Session>();
  // Connections that are not sessions yet (TLS handshakes) or are being refused: they count
  // toward max_clients and are closed on shutdown.
  const handshaking = new Set<Deno.Conn>();
  // The shared folder: created if missing (a failure here stops the start-up).
  const store = FileStore.create(cfg.files, {
    readOnly: cfg.readOnly,
    maxFileSize: cfg.maxFileSize,
    bufferBudget: cfg.uploadMemory,
    cache: new HashCache({ maxConcurrent: cfg.maxHashes }),
  });
  const files = createFileHandlers(store, { budget: cfg.downloadMemory });
  const handlers = new Map(CHAT_HANDLERS);
  for (const [verb, h] of files.handlers) handlers.set(verb, h);
  for (const [verb, h] of options.handlers ?? []) handlers.set(verb, h);
  const streamHandlers = new Map(files.streamHandlers);
  for (const [verb, h] of options.streamHandlers ?? []) streamHandlers.set(verb, h);
  if (auth) handlers.set("AUTH", authCommand);
  const ctx: ServerContext = {
    config: cfg,
    hub,
    log,
    handlers,
    streamHandlers,
    hello: {
      ...(tls ? { tls: true } : {}),
      ...(auth ? { auth_required: true, auth_methods: auth.methods } : {}),
      ...options.hello,
    },
    onClose: (s) => sessions.delete(s),
    auth,
    guard,
  };
  const listener = options.listener ??
    Deno.listen({ hostname: cfg.host, port: cfg.port, transport: "tcp" });
  const addr = listener.addr as Deno.NetAddr;
  let stopping = false;

  const tick = Math.max(
    10,
    Math.min(1000, Math.floor(Math.min(cfg.pingInterval, cfg.writeDeadline) / 4)),
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

  // Refusals are logged at most once a second (a flood must not flood the log too).
  let refusalLoggedAt = 0;
  let refusalsUnlogged = 0;
  function refuse(conn: Deno.Conn, peer: string, bytes: Uint8Array, why: string): void {
    const now = Date.now();
    if (now - refusalLoggedAt >= 1000) {
      log.warn(`refused: ${why}`, { peer, unlogged: refusalsUnlogged || undefined });
      refusalLoggedAt = now;
      refusalsUnlogged = 0;
    } else refusalsUnlogged++;
    const close = () => {
      clearTimeout(timer);
      handshaking.delete(conn);
      try {
        conn.close();
      } catch {
        // Gone already.
      }
    };
    // A client that never reads (or never finishes its TLS handshake) must not hold the socket.
    const timer = setTimeout(close, cfg.loginTimeout);
    handshaking.add(conn);
    // On a TLS port the refusal is said over TLS, as anything else would be garbage to the client.
    const said = tls === null
      ? conn.write(bytes)
      : acceptTls(conn, tls, cfg.loginTimeout).then((secured) =>
        secured.write(bytes).finally(() => secured.close())
      );
    said.catch(() => {}).finally(close);
  }

  function startSession(conn: SessionConn, peer: string): void {
    const session = new Session(conn, peer, ctx);
    sessions.add(session);
    void session.run();
  }

  async function handshakeThenStart(
    conn: Deno.Conn,
    peer: string,
    context: SecureContext,
  ): Promise<void> {
    handshaking.add(conn);
    let secured: SessionConn;
    try {
      secured = await acceptTls(conn, context, cfg.loginTimeout);
    } catch (e) {
      log.warn("tls handshake failed", { peer, error: (e as Error).message });
      return;
    } finally {
      handshaking.delete(conn);
    }
    if (stopping) return secured.close();
    startSession(secured, peer);
  }

  async function acceptLoop(): Promise<void> {
    for (;;) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (stopping || e instanceof Deno.errors.BadResource) return;
        log.error("accept failed", { error: String(e) });
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const remote = conn.remoteAddr as Deno.NetAddr;
      const peer = remote.hostname.includes(":")
        ? `[${remote.hostname}]:${remote.port}`
        : `${remote.hostname}:${remote.port}`;
      if (stopping || sessions.size + handshaking.size >= cfg.maxClients) {
        refuse(
          conn,
          peer,
          stopping ? encodeError(ErrorCode.Unavailable, "shutting down") : FULL,
          stopping ? "shutting down" : "server full",
        );
        continue;
      }
      const tooMany = guard.admit(remote.hostname, Date.now());
      if (tooMany !== null) {
        refuse(conn, peer, encodeError(ErrorCode.TooMany, tooMany), tooMany);
        continue;
      }
      try {
        (conn as Deno.TcpConn).setNoDelay?.(true);
      } catch {
        // Not TCP, or already closed.
      }
      if (tls) void handshakeThenStart(conn, peer, tls);
      else startSession(conn, peer);
    }
  }

  const accepting = acceptLoop();
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => finish = resolve);
  let shuttingDown: Promise<void> | null = null;

  function shutdown(graceMs = 2000): Promise<void> {
    shuttingDown ??= (async () => {
      stopping = true;
      try {
        listener.close();
      } catch {
        // Closed already.
      }
      await accepting;
      for (const conn of handshaking) {
        try {
          conn.close();
        } catch {
          // Gone already.
        }
      }
      const all = [...sessions];
      for (const s of all) s.end("shutdown");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
      await Promise.race([Promise.all(all.map((s) => s.done)), grace]);
      clearTimeout(timer);
      for (const s of all) s.close("shutdown");
      await store.abortAll();
      clearInterval(sweeper);
      log.info("stopped", { clients: all.length });
      finish();
    })();
    return shuttingDown;
  }

  log.info("listening", {
    addr: addr.hostname.includes(":")
      ? `[${addr.hostname}]:${addr.port}`
      : `${addr.hostname}:${addr.port}`,
    files: cfg.files,
    max_clients: cfg.maxClients,
    tls: ctx.hello.tls === true,
    auth: auth ? auth.methods.join(",") : "none",
    users: auth?.usersFile ? auth.userCount : undefined,
  });

  // Temporary upload files left by a crash: swept in the background (this process's own are kept).
  store.sweep().then(
    (n) => n > 0 && log.info("swept temporary uploads", { files: cfg.files, removed: n }),
    (e) => log.warn("sweep failed", { files: cfg.files, error: String(e) }),
  );

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
    get clients() {
      return sessions.size;
    },
    finished,
    shutdown,
    reloadUsers,
    [Symbol.asyncDispose]: () => shutdown(500),
  };
}
