/**
 * The accept loop: listens, enforces `max_clients`, starts a session per connection, sweeps
 * liveness and write deadlines, and shuts down gracefully.
 *
 * @module
 */

import { encodeError } from "../lib/encoder.ts";
import { ErrorCode } from "../lib/errors.ts";
import { CHAT_HANDLERS } from "./commands.ts";
import { DEFAULT_CONFIG, type ServerConfig, validateConfig } from "./config.ts";
import { type Hub, LocalHub } from "./hub.ts";
import { createLogger, type Logger } from "./log.ts";
import { type Handler, type ServerContext, Session, type StreamHandler } from "./session.ts";

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
export function startServer(config: Partial<ServerConfig> = {}, options: StartOptions = {}): Server {
  const cfg: ServerConfig = { ...DEFAULT_CONFIG, ...config };
  validateConfig(cfg);
  const log = options.log ?? createLogger({ format: cfg.logFormat });
  const hub = options.hub ?? new LocalHub();
  const sessions = new Set<Session>();
  const handlers = new Map(CHAT_HANDLERS);
  for (const [verb, h] of options.handlers ?? []) handlers.set(verb, h);
  const ctx: ServerContext = {
    config: cfg,
    hub,
    log,
    handlers,
    streamHandlers: options.streamHandlers ?? new Map(),
    hello: options.hello ?? {},
    onClose: (s) => sessions.delete(s),
  };
  const listener = options.listener ??
    Deno.listen({ hostname: cfg.host, port: cfg.port, transport: "tcp" });
  const addr = listener.addr as Deno.NetAddr;
  let stopping = false;

  const tick = Math.max(10, Math.min(1000, Math.floor(Math.min(cfg.pingInterval, cfg.writeDeadline) / 4)));
  const sweeper = setInterval(() => {
    const now = Date.now();
    for (const s of sessions) s.sweep(now);
  }, tick);

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
      const peer = remote.hostname.includes(":") ? `[${remote.hostname}]:${remote.port}` : `${remote.hostname}:${remote.port}`;
      if (stopping || sessions.size >= cfg.maxClients) {
        log.warn(stopping ? "refused: shutting down" : "refused: server full", { peer });
        conn.write(stopping ? encodeError(ErrorCode.Unavailable, "shutting down") : FULL)
          .catch(() => {})
          .finally(() => {
            try {
              conn.close();
            } catch {
              // Gone already.
            }
          });
        continue;
      }
      try {
        (conn as Deno.TcpConn).setNoDelay?.(true);
      } catch {
        // Not TCP, or already closed.
      }
      const session = new Session(conn, peer, ctx);
      sessions.add(session);
      void session.run();
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
      const all = [...sessions];
      for (const s of all) s.end("shutdown");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, graceMs));
      await Promise.race([Promise.all(all.map((s) => s.done)), grace]);
      clearTimeout(timer);
      for (const s of all) s.close("shutdown");
      clearInterval(sweeper);
      log.info("stopped", { clients: all.length });
      finish();
    })();
    return shuttingDown;
  }

  log.info("listening", {
    addr: addr.hostname.includes(":") ? `[${addr.hostname}]:${addr.port}` : `${addr.hostname}:${addr.port}`,
    files: cfg.files,
    max_clients: cfg.maxClients,
  });

  return {
    config: cfg,
    addr,
    port: addr.port,
    get clients() {
      return sessions.size;
    },
    finished,
    shutdown,
    [Symbol.asyncDispose]: () => shutdown(500),
  };
}
