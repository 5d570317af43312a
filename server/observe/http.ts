/**
 * The HTTP endpoint beside the TCP port (`--http`): `/healthz`, `/metrics` (Prometheus),
 * `/api/status` (JSON), `/events` (the status every second as Server-Sent Events) and `/`, the
 * dashboard page. It only reads: what it shows comes from a {@linkcode StatusSource} the
 * composition root builds.
 *
 * @module
 */

import { DASHBOARD_HTML } from "./dashboard_page.ts";
import type { MetricsSnapshot } from "./metrics.ts";
import { type MetricsExtra, PROMETHEUS_CONTENT_TYPE, renderMetrics } from "./prometheus.ts";

/** One client in {@linkcode StatusReport}. */
export interface ClientStatus {
  nick: string;
  /** `host:port`. */
  address: string;
  /** Room display names, `lobby` first. */
  rooms: string[];
  /** Connected since (ISO 8601). */
  since: string;
  /** Bytes queued to it, not yet written. */
  queued_bytes: number;
}

/** One room in {@linkcode StatusReport}. */
export interface RoomStatus {
  room: string;
  members: number;
  /** The last message id given in the room (`null` when the engine cannot say). */
  last_id: number | null;
}

/** One file transfer in {@linkcode StatusReport}. */
export interface TransferStatus {
  nick: string;
  path: string;
  direction: "up" | "down";
  bytes: number;
  size: number;
}

/** One disconnect in {@linkcode StatusReport}. */
export interface DisconnectStatus {
  nick: string;
  address: string;
  reason: string;
  /** When (ISO 8601). */
  at: string;
}

/** `GET /api/status`, and the `data` of every `/events` message. */
export interface StatusReport {
  uptime_seconds: number;
  version: string;
  node: string;
  started_at: string;
  /** The configuration's limits (numbers, snake_case names). */
  limits: Record<string, number>;
  /** The numbers of `/metrics`. */
  counters: MetricsSnapshot & { history: MetricsExtra["history"] };
  clients: ClientStatus[];
  rooms: RoomStatus[];
  /** File transfers in flight, oldest first. */
  transfers: TransferStatus[];
  /** The last disconnects, oldest first. */
  recent_disconnects: DisconnectStatus[];
}

/** What the endpoint reads. */
export interface StatusSource {
  /** `null` while clients are accepted, else why not (`shutting down`, `engine unavailable: x`). */
  health(): string | null;
  /** The sink's counters now. */
  metrics(): MetricsSnapshot;
  /** Extra gauges of `/metrics` (but `eventClients`, which the endpoint knows). */
  extra(): Omit<MetricsExtra, "eventClients">;
  /** The whole status. */
  status(): Promise<StatusReport>;
}

/** Options of {@linkcode startHttp}. */
export interface HttpOptions {
  /** Address to bind. */
  hostname: string;
  /** Port; 0 picks a free one. */
  port: number;
  /**
   * Bearer token every path but `/healthz` requires.
   * @default {"" (none)}
   */
  token?: string;
  /**
   * Most `/events` clients at once (more get 503).
   * @default {32}
   */
  maxEventClients?: number;
  /**
   * Milliseconds between two `/events` messages.
   * @default {1000}
   */
  eventInterval?: number;
  /** Told about request handling failures. */
  onError?: (error: unknown) => void;
}

/** A running endpoint. */
export interface HttpEndpoint extends AsyncDisposable {
  /** The bound address. */
  readonly addr: Deno.NetAddr;
  /** `/events` clients now. */
  readonly eventClients: number;
  /** Ends every `/events` stream and stops serving. */
  close(): Promise<void>;
}

const CSP =
  "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'";
const ENCODER = new TextEncoder();

/**
 * Starts the endpoint.
 *
 * @param source What it shows.
 * @param options See {@linkcode HttpOptions}.
 * @returns The running endpoint.
 * @throws {Deno.errors.AddrInUse} When the port is taken.
 * @example
 * ```ts ignore
 * const http = startHttp(source, { hostname: "127.0.0.1", port: 0 });
 * console.log((await fetch(`http://127.0.0.1:${http.addr.port}/healthz`)).status);
 * await http.close();
 * ```
 */
export function startHttp(source: StatusSource, options: HttpOptions): HttpEndpoint {
  const token = options.token ?? "";
  const maxEvents = options.maxEventClients ?? 32;
  const interval = options.eventInterval ?? 1000;
  const streams = new Set<() => void>();
  let closing: Promise<void> | null = null;

  function text(status: number, body: string, headers: Record<string, string> = {}): Response {
    return new Response(body, {
      status,
      headers: { "content-type": "text/plain; charset=utf-8", ...headers },
    });
  }

  function events(): Response {
    if (streams.size >= maxEvents || closing !== null) {
      return text(503, "too many event clients\n", { "retry-after": "5" });
    }
    let stop = () => {};
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        let sending = false;
        const send = async () => {
          if (sending) return;
          sending = true;
          try {
            const status = await source.status();
            controller.enqueue(
              ENCODER.encode(`event: status\ndata: ${JSON.stringify(status)}\n\n`),
            );
          } catch {
            stop();
          } finally {
            sending = false;
          }
        };
        const timer = setInterval(send, interval);
        Deno.unrefTimer(timer);
        stop = () => {
          if (!streams.delete(stop)) return;
          clearInterval(timer);
          try {
            controller.close();
          } catch {
            // Already closed or cancelled.
          }
        };
        streams.add(stop);
        void send();
      },
      cancel() {
        stop();
      },
    });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  }

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    const get = request.method === "GET" || request.method === "HEAD";
    if (path === "/healthz") {
      if (!get) return text(405, "method not allowed\n", { allow: "GET, HEAD" });
      const why = source.health();
      return why === null ? text(200, "ok\n") : text(503, `${why}\n`);
    }
    // A browser cannot send headers with EventSource: the dashboard page and its stream may
    // carry the token as `?token=` instead (the page passes on the one it was opened with).
    const asQuery = (path === "/" || path === "/events") && url.searchParams.has("token") &&
      sameToken(url.searchParams.get("token")!, token);
    if (token !== "" && !asQuery && !authorized(request.headers.get("authorization"), token)) {
      return text(401, "unauthorized: send Authorization: Bearer <token>\n", {
        "www-authenticate": 'Bearer realm="switchboard"',
      });
    }
    const known = path === "/" || path === "/metrics" || path === "/api/status" ||
      path === "/events";
    if (!known) return text(404, "not found\n");
    if (!get) return text(405, "method not allowed\n", { allow: "GET, HEAD" });
    switch (path) {
      case "/metrics":
        return text(
          200,
          renderMetrics(source.metrics(), { ...source.extra(), eventClients: streams.size }),
          { "content-type": PROMETHEUS_CONTENT_TYPE },
        );
      case "/api/status":
        return new Response(JSON.stringify(await source.status()), {
          headers: {
            "content-type": "application/json; charset=utf-8",
            "cache-control": "no-store",
          },
        });
      case "/events":
        return events();
      default:
        return new Response(DASHBOARD_HTML, {
          headers: {
            "content-type": "text/html; charset=utf-8",
            "content-security-policy": CSP,
            "x-content-type-options": "nosniff",
            "cache-control": "no-store",
          },
        });
    }
  }

  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: () => {},
    onError: (e) => {
      options.onError?.(e);
      return text(500, "internal error\n");
    },
  }, handle);

  function close(): Promise<void> {
    closing ??= (async () => {
      for (const stop of [...streams]) stop();
      await server.shutdown();
    })();
    return closing;
  }

  return {
    addr: server.addr,
    get eventClients() {
      return streams.size;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Whether an `Authorization` header carries the token, compared in constant time.
 *
 * @param header The header (`null` when absent).
 * @param token The token expected.
 * @returns `true` for `Bearer <token>`.
 */
export function authorized(header: string | null, token: string): boolean {
  if (header === null) return false;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (m === null) return false;
  return sameToken(m[1]!, token);
}

/** Whether `given` is `token`, compared in constant time. */
function sameToken(given: string, token: string): boolean {
  return sameBytes(ENCODER.encode(given), ENCODER.encode(token));
}

function sameBytes(given: Uint8Array, wanted: Uint8Array): boolean {
  if (given.length === 0) return wanted.length === 0;
  let diff = given.length ^ wanted.length;
  for (let i = 0; i < wanted.length; i++) diff |= wanted[i]! ^ (given[i % given.length] ?? 0);
  return diff === 0;
}
