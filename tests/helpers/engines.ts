/**
 * Engines for tests, wrapped around the real memory engine: one whose every call answers
 * asynchronously after a random delay (effects still in call order, as on one Redis connection;
 * answers in any order), and one that can be switched off (every call rejects, as when Redis is
 * unreachable).
 *
 * @module
 */

import { MemoryEngine } from "../../server/chat/memory/engine.ts";
import { prng } from "./bytes.ts";
import type {
  Broker,
  Engine,
  EngineNode,
  NodeEvents,
  Presence,
  RoomLog,
} from "../../server/core/engine.ts";

type AnyFn = (...args: never[]) => unknown;

/** Wraps every method of `target` with `wrap`. */
function wrapAll<T extends object>(target: T, wrap: (name: string, fn: AnyFn) => AnyFn): T {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(target)) {
    const fn = (target as Record<string, unknown>)[name];
    if (typeof fn === "function") out[name] = wrap(name, fn.bind(target) as AnyFn);
  }
  return out as T;
}

/** The log's methods as an object of its own (wrapAll sees own properties only). */
function logOf(log: RoomLog): RoomLog {
  return {
    next: (room) => log.next(room),
    put: (room, id, frame, start, end) =>
      log.put(room, id, frame.subarray(start ?? 0, end ?? frame.length)),
    has: (room) => log.has(room),
    history: (room, query) => log.history(room, query),
  };
}

/** Copies byte arrays among the arguments (the caller may reuse its buffers after the call). */
function copyArgs(args: unknown[]): unknown[] {
  return args.map((a) => a instanceof Uint8Array ? a.slice() : a);
}

/** Options of {@linkcode DelayedEngine}. */
export interface DelayedEngineOptions {
  /**
   * Longest delay of a call's effect, and again of its answer, in ms.
   * @default {3}
   */
  maxDelay?: number;
  /**
   * Seed of the delays.
   * @default {1}
   */
  seed?: number;
}

/**
 * The memory engine, answering every call asynchronously after a random delay. The calls of one
 * node take effect in the order they were made (each after its own delay); each answer comes a
 * further random delay later, so answers can overtake each other.
 */
export class DelayedEngine implements Engine {
  readonly #inner = new MemoryEngine();
  readonly #random: () => number;
  readonly #maxDelay: number;
  readonly #pending = new Set<Promise<unknown>>();

  /** @param options See {@linkcode DelayedEngineOptions}. */
  constructor(options: DelayedEngineOptions = {}) {
    this.#random = prng(options.seed ?? 1);
    this.#maxDelay = options.maxDelay ?? 3;
  }

  /** Resolves once every call made so far has taken effect and answered. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  connect(events: NodeEvents): Promise<EngineNode> {
    const node = this.#inner.connect(events);
    let chain: Promise<unknown> = Promise.resolve();
    const delay = () =>
      new Promise((r) => setTimeout(r, Math.floor(this.#random() * (this.#maxDelay + 1))));
    const wrap = (_name: string, fn: AnyFn): AnyFn => (...args: never[]) => {
      const copied = copyArgs(args) as never[];
      const effect = chain.then(delay).then(() => fn(...copied));
      chain = effect.catch(() => {});
      const answer = effect.then(async (v) => {
        await delay();
        return v;
      });
      this.#pending.add(answer);
      answer.finally(() => this.#pending.delete(answer)).catch(() => {});
      return answer;
    };
    const wrapped: EngineNode = {
      id: node.id,
      broker: wrapAll<Broker>(node.broker, wrap),
      presence: wrapAll<Presence>(node.presence, wrap),
      log: wrapAll<RoomLog>(logOf(node.log), wrap),
      close: () => delay().then(() => node.close()),
    };
    return delay().then(() => wrapped);
  }
}

/**
 * The memory engine with a switch: while `down`, every call rejects (answers synchronously
 * otherwise), as an engine behind a network does when its server is unreachable.
 */
export class SwitchableEngine implements Engine {
  readonly #inner = new MemoryEngine();
  /** While true, every call rejects with `Error("connection refused")`. */
  down = false;

  connect(events: NodeEvents): EngineNode {
    const node = this.#inner.connect(events);
    const wrap = (name: string, fn: AnyFn): AnyFn => (...args: never[]) => {
      if (this.down) return Promise.reject(new Error(`connection refused (${name})`));
      return fn(...args);
    };
    return {
      id: node.id,
      broker: wrapAll<Broker>(node.broker, wrap),
      presence: wrapAll<Presence>(node.presence, wrap),
      log: wrapAll<RoomLog>(logOf(node.log), wrap),
      close: () => node.close(),
    };
  }
}
