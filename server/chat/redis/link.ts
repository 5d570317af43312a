/**
 * The Redis engine's connection: one `redis-server` or a Redis Cluster, through node-redis
 * (`@redis/client`), binary-safe both ways. Commands fail at once while Redis cannot be reached
 * (no offline queue: the hub answers `ERR 503`); the client reconnects by itself and subscribes
 * again to its channels. Sharded pub/sub (`SSUBSCRIBE`/`SPUBLISH`) is used with a single server
 * too (Redis 7), so both modes take one path.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { createClient, createCluster, RESP_TYPES } from "@redis/client";
import type { RedisTarget } from "./url.ts";

/** A Lua script, sent by its sha1 (`EVALSHA`), whole only when the server does not know it. */
export interface Script {
  readonly source: string;
  readonly sha: string;
}

/** Makes a {@linkcode Script}. */
export function script(source: string): Script {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

/** An argument of a command: text or bytes. */
export type Arg = string | Uint8Array;

// deno-lint-ignore no-explicit-any
type AnyClient = any;

/** What the link tells its owner. */
export interface LinkEvents {
  /** A connection failed or closed (`why` says how, without secrets). */
  down(why: string): void;
  /** A connection is ready again (after a `down`). */
  up(): void;
}

/**
 * The commands the engine sends and the channels it hears.
 *
 * @example
 * ```ts ignore
 * const link = new RedisLink(parseRedisUrl("redis://127.0.0.1:6379"), { down() {}, up() {} });
 * await link.open();
 * await link.send("k", ["SET", "k", "v"]);
 * await link.close();
 * ```
 */
export class RedisLink {
  readonly target: RedisTarget;
  readonly #events: LinkEvents;
  #cmd: AnyClient;
  #sub: AnyClient;
  #raw: AnyClient;
  #closed = false;
  readonly #channels = new Map<string, (message: Uint8Array) => void>();

  constructor(target: RedisTarget, events: LinkEvents) {
    this.target = target;
    this.#events = events;
    this.#build();
  }

  #build(): void {
    const target = this.target;
    const socket = {
      // Reconnect soon, then every second: the node must come back quickly after an outage.
      reconnectStrategy: (retries: number) => Math.min(50 + retries * 100, 1000),
      connectTimeout: 2000,
      noDelay: true,
    };
    if (target.cluster) {
      this.#raw = createCluster({
        rootNodes: [{ url: target.url }],
        defaults: { socket, disableOfflineQueue: true },
        useReplicas: false,
      });
      this.#watch(this.#raw, "redis cluster");
      this.#sub = this.#raw;
    } else {
      this.#raw = createClient({ url: target.url, socket, disableOfflineQueue: true });
      this.#watch(this.#raw, "redis");
      this.#sub = this.#raw.duplicate();
      this.#watch(this.#sub, "redis subscriber");
    }
    this.#cmd = this.#raw.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  }

  /**
   * Drops the connections and makes new ones, subscribed to the same channels (a pub/sub
   * connection that went silent is not always closed).
   */
  async reset(): Promise<void> {
    const old = this.#sub === this.#raw ? [this.#raw] : [this.#raw, this.#sub];
    for (const c of old) {
      c.removeAllListeners?.("error");
      c.on?.("error", () => {});
      try {
        c.destroy();
      } catch {
        // Closed already.
      }
    }
    this.#build();
    await this.open();
    for (const [channel, listener] of this.#channels) {
      await this.#sub.sSubscribe(channel, listener, true);
    }
  }

  #watch(client: AnyClient, what: string): void {
    client.on("error", (e: unknown) => {
      if (this.#closed) return;
      this.#events.down(`${what} ${this.target.where}: ${describe(e)}`);
    });
    client.on("ready", () => {
      if (!this.#closed && this.ready) this.#events.up();
    });
  }

  /** Connects (rejects when Redis cannot be reached now; it keeps trying in the background). */
  async open(): Promise<void> {
    await this.#raw.connect();
    if (this.#sub !== this.#raw) await this.#sub.connect();
  }

  /** Whether the connections are open and ready. */
  get ready(): boolean {
    if (this.target.cluster) return this.#raw.isOpen !== false;
    return this.#raw.isReady === true && this.#sub.isReady === true;
  }

  // Fails at once while a connection is down (a command must not wait for Redis to come back).
  #check(client: AnyClient = this.#raw): void {
    const open = this.target.cluster ? client.isOpen !== false : client.isReady === true;
    if (!open) throw new Error(`not connected to ${this.target.where}`);
  }

  /** Runs a script whose keys all live in `keys[0]`'s slot. */
  async eval(s: Script, keys: string[], args: Arg[]): Promise<unknown> {
    this.#check();
    const options = { keys, arguments: args.map(toArg) };
    try {
      return await this.#cmd.evalSha(s.sha, options);
    } catch (e) {
      if (!String(e).includes("NOSCRIPT")) throw e;
      return await this.#cmd.eval(s.source, options);
    }
  }

  /** Sends a command routed by `key`. */
  send(key: string, args: Arg[]): Promise<unknown> {
    this.#check();
    const argv = args.map(toArg);
    if (this.target.cluster) return this.#cmd.sendCommand(key, false, argv);
    return this.#cmd.sendCommand(argv);
  }

  /** `SPUBLISH`: how many subscribers (connections) got it. */
  publish(channel: string, message: Uint8Array): Promise<number> {
    this.#check();
    return this.#cmd.sPublish(channel, toArg(message));
  }

  /** `SSUBSCRIBE`, the messages handed over as bytes. */
  async subscribe(channel: string, listener: (message: Uint8Array) => void): Promise<void> {
    this.#check(this.#sub);
    const plain = (m: Uint8Array) => listener(new Uint8Array(m.buffer, m.byteOffset, m.byteLength));
    await this.#sub.sSubscribe(channel, plain, true);
    this.#channels.set(channel, plain);
  }

  /** `SUNSUBSCRIBE`. */
  async unsubscribe(channel: string): Promise<void> {
    this.#channels.delete(channel);
    await this.#sub.sUnsubscribe(channel);
  }

  /** Closes the connections. */
  async close(): Promise<void> {
    this.#closed = true;
    const all = this.#sub === this.#raw ? [this.#raw] : [this.#raw, this.#sub];
    await Promise.all(all.map(async (c: AnyClient) => {
      try {
        if (c.isOpen) await c.close();
      } catch {
        c.destroy?.();
      }
    }));
  }
}

function toArg(a: Arg): string | Buffer {
  return typeof a === "string" ? a : Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** An error as one line without secrets (node-redis errors never hold the URL's password). */
export function describe(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0) return describe(e.errors[0]);
  const m = e instanceof Error ? e.message : String(e);
  return m.replace(/redis(s)?:\/\/[^@\s]*@/g, "redis$1://***@").split("\n")[0]!.slice(0, 200) ||
    "unknown error";
}
