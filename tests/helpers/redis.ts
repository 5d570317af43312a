/**
 * Real `redis-server` processes for tests: one server, or a Redis Cluster of several masters made
 * with `redis-cli --cluster create`, on free loopback ports, without persistence, stopped by PID
 * when disposed. Tests that need one skip with a clear reason when `redis-server` is missing.
 *
 * @module
 */

import { sleep } from "./wait.ts";

/** Whether `redis-server` and `redis-cli` can be run here. */
export const HAVE_REDIS: boolean = (() => {
  try {
    for (const cmd of ["redis-server", "redis-cli"]) {
      const r = new Deno.Command(cmd, { args: ["--version"], stdout: "null", stderr: "null" })
        .outputSync();
      if (!r.success) return false;
    }
    return true;
  } catch {
    return false;
  }
})();

/** Why Redis tests skip, for their names. */
export const REDIS_SKIP: string = HAVE_REDIS ? "" : " (SKIPPED: redis-server is not installed)";

/** A free loopback TCP port (bound, then released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** One `redis-server` process. */
export class RedisProcess implements AsyncDisposable {
  readonly port: number;
  readonly #args: string[];
  readonly #dir: string;
  #child: Deno.ChildProcess | null = null;

  private constructor(port: number, dir: string, args: string[]) {
    this.port = port;
    this.#dir = dir;
    this.#args = args;
  }

  /**
   * Starts a server and waits until it answers.
   *
   * @param options `port` (a free one by default), `args` more `redis-server` arguments.
   */
  static async start(options: { port?: number; args?: string[] } = {}): Promise<RedisProcess> {
    const dir = await Deno.makeTempDir({ prefix: "sb-redis-" });
    const r = new RedisProcess(options.port ?? freePort(), dir, options.args ?? []);
    await r.restart();
    return r;
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Its process id (while running). */
  get pid(): number {
    return this.#child?.pid ?? 0;
  }

  /** Starts it again on the same port (after {@linkcode kill}), empty. */
  async restart(): Promise<void> {
    this.#child = new Deno.Command("redis-server", {
      args: [
        "--port",
        String(this.port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        this.#dir,
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
        ...this.#args,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    for (let i = 0; i < 200; i++) {
      if (await this.cli("PING").then((o) => o.trim() === "PONG", () => false)) return;
      await sleep(25);
    }
    throw new Error(`redis-server on port ${this.port} did not answer in 5 s`);
  }

  /**
   * Runs `redis-cli -p <port> ...args`.
   * @returns Its output.
   */
  async cli(...args: string[]): Promise<string> {
    const r = await new Deno.Command("redis-cli", {
      args: ["-h", "127.0.0.1", "-p", String(this.port), ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!r.success) throw new Error(new TextDecoder().decode(r.stderr));
    return new TextDecoder().decode(r.stdout);
  }

  /** Stops it at once (`SIGKILL`) and waits for it to exit. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#child = null;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

/** A Redis Cluster of `masters` servers (no replicas), every slot covered. */
export class RedisCluster implements AsyncDisposable {
  readonly nodes: RedisProcess[];

  private constructor(nodes: RedisProcess[]) {
    this.nodes = nodes;
  }

  /** Starts the servers, makes them one cluster, and waits until it is ready. */
  static async start(masters = 3): Promise<RedisCluster> {
    const nodes: RedisProcess[] = [];
    try {
      for (let i = 0; i < masters; i++) {
        nodes.push(
          await RedisProcess.start({
            args: ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"],
          }),
        );
      }
      const create = await new Deno.Command("redis-cli", {
        args: [
          "--cluster",
          "create",
          ...nodes.map((n) => `127.0.0.1:${n.port}`),
          "--cluster-replicas",
          "0",
          "--cluster-yes",
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!create.success) {
        throw new Error(`redis-cli --cluster create: ${new TextDecoder().decode(create.stderr)}`);
      }
      for (let i = 0; i < 200; i++) {
        const states = await Promise.all(nodes.map((n) => n.cli("CLUSTER", "INFO")));
        if (states.every((s) => s.includes("cluster_state:ok"))) return new RedisCluster(nodes);
        await sleep(50);
      }
      throw new Error("the Redis Cluster did not reach cluster_state:ok in 10 s");
    } catch (e) {
      for (const n of nodes) await n[Symbol.asyncDispose]();
      throw e;
    }
  }

  /** A URL of one of its nodes, as `--redis` takes it. */
  get url(): string {
    return this.nodes[0]!.url;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const n of this.nodes) await n[Symbol.asyncDispose]();
  }
}
