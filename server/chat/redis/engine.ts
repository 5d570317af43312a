/**
 * The Redis engine: several server processes (nodes), on one machine or many, share one
 * `redis-server` or Redis Cluster and are one service. This module is a node's life: connecting
 * (in the background: a node starts while Redis is away and joins when it comes), heartbeats,
 * noticing dead nodes (their members freed, `LEFT` pushed, within `--node-timeout`), a probe that
 * notices a pub/sub connection gone silent, and restoring its members when Redis comes back.
 *
 * The parts: server/chat/redis/link.ts (the connection), scripts.ts (every atomic step),
 * presence.ts, log.ts, channels.ts (pub/sub, the broker).
 *
 * @module
 */

import { encodeLine } from "../../../lib/protocol/encoder.ts";
import type { Engine, EngineNode, NodeEvents, Said, SayBatch } from "../../core/engine.ts";
import type { Logger } from "../../core/logger.ts";
import { Channels, Keys } from "./channels.ts";
import { describe, RedisLink } from "./link.ts";
import { parseRedisUrl, type RedisTarget } from "./url.ts";
import { RedisLog, type RedisLogOptions } from "./log.ts";
import { RedisPresence } from "./presence.ts";
import { COUNT, HEARTBEAT, REAP } from "./scripts.ts";

/** Options of {@linkcode RedisEngine}. */
export interface RedisEngineOptions {
  /** `--redis`: `redis://[user:password@]host:port[/db]`, `rediss://` for TLS. */
  readonly url: string;
  /** `--redis-cluster`: the URL names a node of a Redis Cluster. */
  readonly cluster?: boolean;
  /** `--redis-prefix`: every key and channel starts with it. @default {"sb:"} */
  readonly prefix?: string;
  /** `--node-timeout`: a node silent this long (ms) is taken for dead. @default {15000} */
  readonly nodeTimeout?: number;
  /** How much history the room logs keep. */
  readonly history?: RedisLogOptions;
  /** Where the node says that Redis went away or came back. */
  readonly log?: Pick<Logger, "info" | "warn">;
}

/** Most dead nodes one reaper round forgets. */
const REAP_BATCH = 16;

/**
 * Redis as the shared store of a service's nodes.
 *
 * @example
 * ```ts ignore
 * import { ChatHub } from "../hub.ts";
 * const hub = new ChatHub({ engine: new RedisEngine({ url: "redis://127.0.0.1:6379" }) });
 * ```
 */
export class RedisEngine implements Engine {
  readonly #options: RedisEngineOptions;
  readonly target: RedisTarget;

  /** @throws {TypeError} When the URL is not a Redis URL. */
  constructor(options: RedisEngineOptions) {
    this.#options = options;
    this.target = parseRedisUrl(options.url, options.cluster ?? false);
  }

  /** Joins as a new node at once; it connects to Redis in the background. */
  connect(events: NodeEvents): RedisNode {
    return new RedisNode(this.target, this.#options, events);
  }
}

/** One node of a {@linkcode RedisEngine}. */
export class RedisNode implements EngineNode {
  readonly id: string = `n${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  readonly broker: Channels;
  readonly presence: RedisPresence;
  readonly log: RedisLog;
  readonly #link: RedisLink;
  readonly #keys: Keys;
  readonly #events: NodeEvents;
  readonly #timeout: number;
  readonly #say: (room: string, batch: SayBatch) => Promise<Said>;
  readonly #logger: Pick<Logger, "info" | "warn">;
  readonly #timers: number[] = [];
  #why: string | null;
  #closed = false;
  #probeSent = 0;
  #probeBack = 0;
  #recovering: Promise<void> | null = null;
  #mustRestore = false;
  #settle: () => void = () => {};
  /** Whether the first outcome of connecting was logged. */
  #told = false;
  #waiting: { n: number; resolve: () => void }[] = [];

  constructor(target: RedisTarget, options: RedisEngineOptions, events: NodeEvents) {
    this.#events = events;
    this.#timeout = options.nodeTimeout ?? 15_000;
    this.#logger = options.log ?? { info() {}, warn() {} };
    this.#keys = new Keys(options.prefix ?? "sb:");
    this.#why = `connecting to redis ${target.where}`;
    this.#link = new RedisLink(target, {
      down: (why) => this.#down(why),
      up: () => this.#recover(),
    });
    this.broker = new Channels(this.#link, this.#keys, this.id, events);
    this.broker.onProbe = (n) => {
      this.#probeBack = Math.max(this.#probeBack, n);
      this.#waiting = this.#waiting.filter((w) => w.n > n || (w.resolve(), false));
    };
    this.presence = new RedisPresence(this.#link, this.#keys, this.id);
    this.log = new RedisLog(
      this.#link,
      this.#keys,
      this.id,
      options.history ?? { size: 1000, ttl: 86400e3 },
    );
    this.#say = (room, batch) => this.log.say(room, batch);
    let settle!: () => void;
    this.presence.settled = new Promise<void>((resolve) => settle = resolve);
    this.#settle = settle;
    this.#start();
  }

  /** Publishes one sender's messages to a room in one step (the hub's path for this engine). */
  say(room: string, batch: SayBatch): Promise<Said> {
    return this.#say(room, batch);
  }

  /**
   * Resolves once a probe sent now came back through this node's channel: what was published on
   * the same shard before it has been handed over (tests wait for deliveries with it).
   */
  async barrier(): Promise<void> {
    await this.#writeCounts([...this.broker.rooms, "lobby"]);
    const n = ++this.#probeSent;
    const back = new Promise<void>((resolve) => this.#waiting.push({ n, resolve }));
    await this.broker.probe(n);
    await back;
  }

  /** Why Redis cannot be used now, or `null`. */
  unavailable(): string | null {
    return this.#why;
  }

  /** Writes this node's member count in `room` (it changed); never rejects. */
  touched(room: string): Promise<void> {
    return this.#writeCounts([room]);
  }

  async #start(): Promise<void> {
    try {
      await this.#link.open();
    } catch (e) {
      this.#down(`redis ${this.#link.target.where}: ${describe(e)}`);
    }
    if (this.#closed) return;
    const beat = Math.max(100, Math.floor(this.#timeout / 3));
    const reap = Math.max(100, Math.min(1000, Math.floor(this.#timeout / 4)));
    this.#every(beat, () => this.#heartbeat());
    this.#every(reap, () => this.#reap());
    this.#recover();
  }

  #every(ms: number, fn: () => Promise<void>): void {
    const t: number = setInterval(() => {
      fn().catch((e) => this.#down(`redis ${this.#link.target.where}: ${describe(e)}`));
    }, ms) as unknown as number;
    Deno.unrefTimer(t);
    this.#timers.push(t);
  }

  #down(why: string): void {
    if (this.#closed) return;
    if (this.#why === null || !this.#told) this.#logger.warn("redis unavailable", { why });
    this.#told = true;
    this.#settle();
    this.#why = why;
    this.#mustRestore = true;
  }

  /** Registers the node and (when needed) its members again, then says it is available. */
  #recover(): void {
    if (this.#closed || this.#recovering !== null) return;
    this.#recovering = (async () => {
      try {
        await this.broker.open();
        await this.broker.resubscribe();
        const known = Number(
          await this.#link.eval(HEARTBEAT, [this.#keys.presence], [
            this.id,
            String(this.#timeout),
          ]),
        );
        const all = known === 0 || this.#mustRestore;
        this.#mustRestore = false;
        await this.presence.restore((member, nick) => this.#events.renamed?.(member, nick), all);
        await this.#writeCounts([...this.broker.rooms, "lobby"]);
        if (this.#why !== null) this.#logger.info("redis available", { node: this.id });
        this.#told = true;
        this.#settle();
        this.#why = null;
      } catch (e) {
        this.#down(`redis ${this.#link.target.where}: ${describe(e)}`);
      } finally {
        this.#recovering = null;
      }
    })();
  }

  async #heartbeat(): Promise<void> {
    if (this.#why !== null) {
      if (this.#link.ready) this.#recover();
      return;
    }
    // A probe that did not come back in a whole round: the pub/sub connection is silent.
    if (this.#probeSent > 0 && this.#probeBack < this.#probeSent) {
      this.#down("redis pub/sub connection silent (probe lost)");
      this.#link.reset().then(() => this.#recover(), (e) => this.#down(describe(e)));
      return;
    }
    await this.broker.probe(++this.#probeSent);
    const known = Number(
      await this.#link.eval(HEARTBEAT, [this.#keys.presence], [this.id, String(this.#timeout)]),
    );
    if (known === 0) {
      this.#logger.warn("redis forgot this node: restoring its members", { node: this.id });
      await this.presence.restore((member, nick) => this.#events.renamed?.(member, nick));
    }
    await this.#writeCounts([...this.broker.rooms, "lobby"]);
  }

  /** Frees the members of nodes past their deadline, with `LEFT` for their rooms. */
  async #reap(): Promise<void> {
    if (this.#why !== null) return;
    const r = await this.#link.eval(REAP, [this.#keys.presence], [String(REAP_BATCH)]) as unknown[];
    const gap = r.findIndex((v) => String(v) === "");
    if (gap <= 0) return;
    const dead = r.slice(0, gap).map(String);
    this.#logger.warn("nodes gone", { nodes: dead.join(",") });
    const rooms = new Set<string>(["lobby"]);
    const pushes: Promise<unknown>[] = [];
    for (let i = gap + 1; i + 2 < r.length; i += 3) {
      const [key, name, nick] = [String(r[i]), String(r[i + 1]), String(r[i + 2])];
      rooms.add(key);
      if (key !== "lobby") {
        pushes.push(this.broker.publishFor(key, encodeLine(`LEFT ${name} ${nick}`)));
      }
    }
    for (const room of rooms) {
      for (const node of dead) {
        pushes.push(this.#link.eval(COUNT, [this.#keys.room(room)], [node, "0", "1"]));
      }
    }
    await Promise.all(pushes);
  }

  async #writeCounts(rooms: string[]): Promise<void> {
    if (this.#why !== null && this.#recovering === null) return;
    const ttl = String(Math.max(this.#timeout * 4, 60_000));
    await Promise.all(rooms.map((room) =>
      this.#link.eval(COUNT, [this.#keys.room(room)], [
        this.id,
        String(this.#events.audience(room, null)),
        ttl,
      ]).catch(() => {})
    ));
  }

  /** Leaves: the node's remaining members are freed and `LEFT` pushed for them, at once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    for (const t of this.#timers) clearInterval(t);
    try {
      if (this.#why === null) {
        await this.#link.send(this.#keys.presence, [
          "ZADD",
          `${this.#keys.presence}:nodes`,
          "0",
          this.id,
        ]);
        await this.#reap();
      }
    } catch {
      // Redis is away: the others free them after --node-timeout.
    } finally {
      this.#closed = true;
      await this.#link.close();
    }
  }
}
