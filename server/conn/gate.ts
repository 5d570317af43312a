/**
 * The session's gate: the command rate limit (`--cmd-rate`, `--cmd-burst`) and the permission
 * check of the session's {@linkcode Access}. Every command passes it before its handler runs.
 *
 * @module
 */

import type { Access } from "../core/access.ts";

/** Options of {@linkcode Gate}. */
export interface GateOptions {
  /**
   * Commands per second a session may send on average; 0 for no limit.
   * @default {0}
   */
  cmdRate?: number;
  /**
   * Commands a session may send at once (the bucket's size); 0 means `cmdRate`.
   * @default {0}
   */
  cmdBurst?: number;
}

/**
 * A token bucket and an access check.
 *
 * @example
 * ```ts
 * import { Gate } from "./gate.ts";
 * const gate = new Gate(null, { cmdRate: 1, cmdBurst: 1 });
 * console.assert(gate.rate("PING") === null);
 * console.assert(gate.rate("PING")?.startsWith("Too many commands"));
 * console.assert(gate.rate("PONG") === null); // PONG and QUIT always pass
 * ```
 */
export class Gate {
  readonly #rate: number;
  readonly #burst: number;
  #access: Access | null;
  // One decrement per command; Infinity when there is no limit.
  #tokens: number;
  #tokensAt = Date.now();

  /**
   * @param access What the session may do; `null` when the server requires no login.
   * @param options See {@linkcode GateOptions}.
   */
  constructor(access: Access | null, options: GateOptions = {}) {
    this.#rate = options.cmdRate ?? 0;
    this.#burst = options.cmdBurst ?? 0;
    this.#access = access;
    this.#tokens = this.#rate > 0 ? this.#burst || this.#rate : Infinity;
  }

  /** What the session may do now. */
  get access(): Access | null {
    return this.#access;
  }

  set access(access: Access | null) {
    this.#access = access;
  }

  /**
   * Takes a token for one command.
   *
   * @param verb The command's verb.
   * @returns `null` when it may run, else the `ERR 429` text.
   */
  rate(verb: string): string | null {
    if (--this.#tokens >= 0) return null;
    // The bucket ran dry: refill it for the time passed (lazily, from the clock), try again.
    const rate = this.#rate;
    const now = Date.now();
    const tokens = Math.min(
      this.#burst || rate,
      this.#tokens + 1 + ((now - this.#tokensAt) * rate) / 1000,
    );
    this.#tokensAt = now;
    if (tokens >= 1) {
      this.#tokens = tokens - 1;
      return null;
    }
    this.#tokens = tokens;
    if (verb === "PONG" || verb === "QUIT") return null;
    return `Too many commands: over --cmd-rate ${rate}/s`;
  }

  /**
   * Checks the session's access.
   *
   * @param verb The command's verb.
   * @returns `null` when it may run, else the `ERR` code and text.
   */
  permit(verb: string): [number, string] | null {
    const access = this.#access;
    if (access === null || access.verbs === null || access.verbs.has(verb)) return null;
    return access.deny(verb);
  }
}
