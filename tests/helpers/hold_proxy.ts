/**
 * A loopback TCP proxy whose connections a test can black-hole on demand: after `hold()` the
 * server's bytes to the client are dropped (the server thinks them delivered, as when a network
 * dies), until `close()` cuts both sides. What the client missed in between is then exactly what
 * the server sent after the hold: the test decides when a reconnecting client is away.
 *
 * @module
 */

import { writeAll } from "./raw_client.ts";

/** One connection through a {@linkcode HoldProxy}. */
export interface HeldConnection {
  /** From now on the server's bytes to the client are dropped. */
  hold(): void;
  /** Closes both sides. */
  close(): void;
  /** Resolves when both sides are closed. */
  readonly closed: Promise<void>;
}

/** A proxy in front of a server. */
export interface HoldProxy extends AsyncDisposable {
  /** The port clients connect to. */
  port: number;
  /** Every connection so far, in order. */
  connections: HeldConnection[];
  /**
   * Waits for connection `index` to be made.
   * @returns The connection.
   */
  connection(index: number): Promise<HeldConnection>;
}

/**
 * Starts a proxy to `127.0.0.1:targetPort`.
 *
 * @param targetPort The server's port.
 * @returns The proxy; dispose it with `await using`.
 */
export function startHoldProxy(targetPort: number): HoldProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: HeldConnection[] = [];
  const sockets = new Set<Deno.Conn>();
  let arrived: (() => void) | null = null;
  const quietly = (c: Deno.Conn) => {
    sockets.delete(c);
    try {
      c.close();
    } catch {
      // Closed.
    }
  };
  const accept = async () => {
    for await (const client of listener) {
      let upstream: Deno.Conn;
      try {
        upstream = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
      } catch {
        quietly(client);
        continue;
      }
      sockets.add(client);
      sockets.add(upstream);
      let held = false;
      const close = () => {
        quietly(client);
        quietly(upstream);
      };
      const pipe = async (from: Deno.Conn, to: Deno.Conn, down: boolean) => {
        const buf = new Uint8Array(64 * 1024);
        try {
          for (;;) {
            const n = await from.read(buf);
            if (n === null) break;
            if (!(down && held)) await writeAll(to, buf.subarray(0, n));
          }
        } catch {
          // Closed.
        }
        close();
      };
      const closed = Promise.all([pipe(client, upstream, false), pipe(upstream, client, true)])
        .then(() => {});
      connections.push({
        hold: () => void (held = true),
        close,
        closed,
      });
      arrived?.();
    }
  };
  const accepting = accept().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    connections,
    async connection(index: number): Promise<HeldConnection> {
      const deadline = Date.now() + 15_000;
      while (connections.length <= index) {
        if (Date.now() > deadline) throw new Error(`No connection ${index} through the proxy`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 200);
          arrived = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        arrived = null;
      }
      return connections[index]!;
    },
    async [Symbol.asyncDispose]() {
      try {
        listener.close();
      } catch {
        // Closed.
      }
      for (const s of [...sockets]) quietly(s);
      await accepting;
    },
  };
}
