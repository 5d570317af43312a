/**
 * The accept loop: `for await (const conn of listener)`, `max_clients`, the per-address
 * connection rate, TLS handshakes, and refusals that cannot hold a socket.
 *
 * @module
 */

import type { SecureContext } from "node:tls";
import { encodeError } from "../../lib/protocol/encoder.ts";
import { ErrorCode } from "../../lib/protocol/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { SessionConn } from "./session.ts";
import { acceptTls } from "./tls.ts";

/** Options of {@linkcode Acceptor}. */
export interface AcceptorOptions {
  /** Most connections at once: sessions and handshakes together. */
  maxClients: number;
  /** A refused client or a TLS handshake gets at most this long, ms (`--login-timeout`). */
  handshakeTimeout: number;
  /** The TLS context, or `null` for plain TCP. */
  tls: SecureContext | null;
  /** Where refusals and failed handshakes are logged. */
  log: Logger;
  /** Sessions running now. */
  sessions(): number;
  /**
   * The per-address connection limit.
   * @returns `null` to admit, else the `ERR 429` text.
   */
  admit(host: string, now: number): string | null;
  /** Starts a session on an accepted (and, with TLS, secured) connection. */
  start(conn: SessionConn, peer: string): void;
}

const FULL = encodeError(ErrorCode.Unavailable, "server full");
const SHUTTING_DOWN = encodeError(ErrorCode.Unavailable, "shutting down");

/** `host:port`, with brackets around an IPv6 host. */
export function formatAddr(addr: Deno.NetAddr): string {
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}

/** Accepts connections from a listener until it is closed. */
export class Acceptor {
  readonly #listener: Deno.Listener;
  readonly #options: AcceptorOptions;
  // Connections that are not sessions yet (TLS handshakes) or are being refused: they count
  // toward max_clients and are closed on shutdown.
  readonly #pending = new Set<Deno.Conn>();
  #stopping = false;
  // Refusals are logged at most once a second (a flood must not flood the log too).
  #refusalLoggedAt = 0;
  #refusalsUnlogged = 0;
  readonly #running: Promise<void>;

  /**
   * Starts accepting.
   *
   * @param listener The listening socket.
   * @param options See {@linkcode AcceptorOptions}.
   */
  constructor(listener: Deno.Listener, options: AcceptorOptions) {
    this.#listener = listener;
    this.#options = options;
    this.#running = this.#loop();
  }

  /** Connections being refused or handshaking. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Stops accepting, closes the listener and every connection that is not a session yet. */
  async stop(): Promise<void> {
    this.#stopping = true;
    try {
      this.#listener.close();
    } catch {
      // Closed already.
    }
    await this.#running;
    for (const conn of this.#pending) closeQuietly(conn);
  }

  async #loop(): Promise<void> {
    const o = this.#options;
    for (;;) {
      try {
        for await (const conn of this.#listener) this.#accepted(conn);
        return;
      } catch (e) {
        if (this.#stopping || e instanceof Deno.errors.BadResource) return;
        o.log.error("accept failed", { error: String(e) });
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  #accepted(conn: Deno.Conn): void {
    const o = this.#options;
    const remote = conn.remoteAddr as Deno.NetAddr;
    const peer = formatAddr(remote);
    if (this.#stopping || o.sessions() + this.#pending.size >= o.maxClients) {
      if (this.#stopping) this.#refuse(conn, peer, SHUTTING_DOWN, "shutting down");
      else this.#refuse(conn, peer, FULL, "server full");
      return;
    }
    const tooMany = o.admit(remote.hostname, Date.now());
    if (tooMany !== null) {
      this.#refuse(conn, peer, encodeError(ErrorCode.TooMany, tooMany), tooMany);
      return;
    }
    try {
      (conn as Deno.TcpConn).setNoDelay?.(true);
    } catch {
      // Not TCP, or already closed.
    }
    if (o.tls !== null) void this.#handshakeThenStart(conn, peer, o.tls);
    else o.start(conn, peer);
  }

  #refuse(conn: Deno.Conn, peer: string, bytes: Uint8Array, why: string): void {
    const o = this.#options;
    const now = Date.now();
    if (now - this.#refusalLoggedAt >= 1000) {
      o.log.warn(`refused: ${why}`, { peer, unlogged: this.#refusalsUnlogged || undefined });
      this.#refusalLoggedAt = now;
      this.#refusalsUnlogged = 0;
    } else this.#refusalsUnlogged++;
    const close = () => {
      clearTimeout(timer);
      this.#pending.delete(conn);
      closeQuietly(conn);
    };
    // A client that never reads (or never finishes its TLS handshake) must not hold the socket.
    const timer = setTimeout(close, o.handshakeTimeout);
    this.#pending.add(conn);
    // On a TLS port the refusal is said over TLS, as anything else would be garbage to the client.
    const said = o.tls === null
      ? conn.write(bytes)
      : acceptTls(conn, o.tls, o.handshakeTimeout).then((secured) =>
        secured.write(bytes).finally(() => secured.close())
      );
    said.catch(() => {}).finally(close);
  }

  async #handshakeThenStart(conn: Deno.Conn, peer: string, context: SecureContext): Promise<void> {
    const o = this.#options;
    this.#pending.add(conn);
    let secured: SessionConn;
    try {
      secured = await acceptTls(conn, context, o.handshakeTimeout);
    } catch (e) {
      o.log.warn("tls handshake failed", { peer, error: (e as Error).message });
      return;
    } finally {
      this.#pending.delete(conn);
    }
    if (this.#stopping) return secured.close();
    o.start(secured, peer);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Gone already.
  }
}
