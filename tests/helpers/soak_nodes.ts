/**
 * The soak's other nodes (`deno task soak --nodes N`): a `redis-server` and server processes on
 * it that share the soak's folder, so the soak's clients, spread over the nodes, are one service.
 *
 * @module
 */

import { RedisProcess } from "./redis.ts";
import { type ServerProcess, startServerProcess } from "./servers.ts";

/** The other nodes and their Redis. */
export interface SoakNodes extends AsyncDisposable {
  /** Flags that put one more server on the same Redis. */
  readonly args: string[];
  readonly servers: ServerProcess[];
  /** Whether every one of them is still running. */
  alive(): Promise<boolean>;
}

/**
 * Starts a `redis-server` and `count` server processes on it.
 *
 * @param count How many servers.
 * @param files The folder they share.
 * @param maxClients Each one's `--max-clients`.
 */
export async function startNodes(
  count: number,
  files: string,
  maxClients: number,
): Promise<SoakNodes> {
  const redis = await RedisProcess.start();
  const args = ["--redis", redis.url];
  const servers: ServerProcess[] = [];
  for (let i = 0; i < count; i++) {
    servers.push(
      await startServerProcess(["--files", files, "--max-clients", String(maxClients), ...args]),
    );
  }
  return {
    args,
    servers,
    async alive() {
      const states = await Promise.all(
        servers.map((s) =>
          Promise.race([
            s.status.then(() => false),
            new Promise<boolean>((r) => setTimeout(() => r(true), 0)),
          ])
        ),
      );
      return states.every(Boolean);
    },
    async [Symbol.asyncDispose]() {
      for (const s of servers) await s[Symbol.asyncDispose]();
      await redis[Symbol.asyncDispose]();
    },
  };
}
