/**
 * A loopback TCP proxy in front of a server, for cutting or stalling connections at exact bytes
 * (a network drop, a hung network), for dropping one side only, and for black-holing the
 * server's bytes on demand (`hold()`: the server thinks them delivered, as when a network dies,
 * so what a reconnecting client missed is exactly what was sent after it).
 *
 * @module
 */

import { writeAll } from "./raw_client.ts";

/** One connection through a {@linkcode TcpProxy}. */
export interface ProxiedConnection {
  /** Bytes forwarded from the server to the client so far. */
  readonly down: number;
  /** Bytes forwarded from the client to the server so far. */
  readonly up: number;
  /** Closes the client's side only: to the server the session lingers, as after a network drop. */
  dropClient(): void;
  /** From now on the server's bytes to the client are dropped, until `close()`. */
  hold(): void;
  /** Closes both sides. */
  close(): void;
}

/** Options of {@linkcode startProxy}. */
export interface ProxyOptions {
  /**
   * For each new connection, how many bytes server → client to forward before acting
   * (`undefined`: no limit).
   */
  downLimit?: (index: number) => number | undefined;
  /** The same, client → server. */
  upLimit?: (index: number) => number | undefined;
  /**
   * What to do at the limit: `cut` closes both sides at once (a network drop at that byte),
   * `stall` stops forwarding and leaves both open (a hung network).
   * @default {"cut"}
   */
  atLimit?: "cut" | "stall";
  /**
   * Milliseconds each piece from the client waits before it is forwarded (a slow link: every
   * round trip takes at least this long).
   * @default {0}
   */
  upDelay?: number;
}

/** A TCP proxy in front of a server, for cutting connections at exact bytes. */
export interface TcpProxy extends AsyncDisposable {
  /** The port clients connect to. */
  port: number;
  /** Every connection so far, in order. */
  connections: ProxiedConnection[];
  /**
   * Waits (up to 15 s) for connection `index` to be made.
   * @returns The connection.
   */
  connection(index: number): Promise<ProxiedConnection>;
}

/**
 * Starts a loopback TCP proxy to `127.0.0.1:targetPort`.
 *
 * @param targetPort The server's port.
 * @param options See {@linkcode ProxyOptions}.
 * @returns The proxy; dispose it with `await using`.
 */
export function startProxy(targetPort: number, options: ProxyOptions = {}): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: ProxiedConnection[] = [];
  const sockets = new Set<Deno.Conn>();
  const closeQuietly = (c: Deno.Conn) => {
    sockets.delete(c);
    try {
      c.close();
    } catch {
      // Closed.
    }
  };
  const accept = async () => {
    for await (const client of listener) {
      const index = connections.length;
      const limit = options.downLimit?.(index);
      const upLimit = options.upLimit?.(index);
      let upstream: Deno.Conn;
      try {
        upstream = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
      } catch {
        closeQuietly(client);
        continue;
      }
      sockets.add(client);
      sockets.add(upstream);
      const sent = { up: 0, down: 0 };
      let clientOpen = true;
      let held = false;
      const conn: ProxiedConnection = {
        get down() {
          return sent.down;
        },
        get up() {
          return sent.up;
        },
        dropClient() {
          clientOpen = false;
          closeQuietly(client);
        },
        hold() {
          held = true;
        },
        close() {
          clientOpen = false;
          closeQuietly(client);
          closeQuietly(upstream);
        },
      };
      connections.push(conn);
      // Copies `from` to `to`, counting in `sent[key]`; at `max` bytes it cuts or stalls.
      const pipe = async (
        from: Deno.Conn,
        to: Deno.Conn,
        key: "up" | "down",
        max: number | undefined,
      ) => {
        const buf = new Uint8Array(64 * 1024);
        try {
          for (;;) {
            const n = await from.read(buf);
            if (n === null) break;
            if (key === "down" && (!clientOpen || held)) continue;
            let chunk = buf.subarray(0, n);
            if (key === "up" && (options.upDelay ?? 0) > 0) {
              await new Promise((r) => setTimeout(r, options.upDelay));
            }
            if (max !== undefined && sent[key] + chunk.length >= max) {
              chunk = chunk.subarray(0, max - sent[key]);
              await writeAll(to, chunk);
              sent[key] += chunk.length;
              if ((options.atLimit ?? "cut") === "cut") conn.close();
              else await new Promise(() => {}); // Stall until the sockets are closed.
              break;
            }
            await writeAll(to, chunk);
            sent[key] += chunk.length;
          }
        } catch {
          // Closed.
        }
        if (clientOpen) conn.close();
      };
      void pipe(client, upstream, "up", upLimit);
      void pipe(upstream, client, "down", limit);
    }
  };
  const accepting = accept().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    connections,
    async connection(index: number): Promise<ProxiedConnection> {
      const deadline = Date.now() + 15_000;
      while (connections.length <= index) {
        if (Date.now() > deadline) throw new Error(`No connection ${index} through the proxy`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return connections[index]!;
    },
    async [Symbol.asyncDispose]() {
      try {
        listener.close();
      } catch {
        // Closed.
      }
      for (const s of [...sockets]) closeQuietly(s);
      await accepting;
    },
  };
}
