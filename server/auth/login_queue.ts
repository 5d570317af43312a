/**
 * Turns at the password hash, shared fairly between client addresses: a few hashes at once in
 * total and per address, a short queue per address and in total, and round-robin between the
 * addresses that wait, so that one address sending a flood of `AUTH` cannot starve the logins of
 * the others. Past a queue's bound an attempt is refused at once (the `AUTH` handler answers
 * `ERR 429`), never left to wait into the login timeout.
 *
 * @module
 */

import { MAX_SCRYPT_RUNS } from "./passwords.ts";

/** Options of {@linkcode LoginQueue}. */
export interface LoginQueueOptions {
  /**
   * Hashes running at once, all addresses together.
   * @default {2}
   */
  maxRunning?: number;
  /**
   * Hashes running at once for one address.
   * @default {1}
   */
  perAddress?: number;
  /**
   * Attempts of one address waiting for their turn; one more is refused.
   * @default {8}
   */
  queuePerAddress?: number;
  /**
   * Attempts waiting for their turn, all addresses together; one more is refused (or, when
   * another address holds more waiting attempts, that address's newest one is).
   * @default {32}
   */
  maxQueued?: number;
}

/** Ends a turn; calling it again does nothing. */
export type Release = () => void;

interface Waiter {
  gone: () => boolean;
  resolve: (turn: Release | string) => void;
}

interface AddressState {
  running: number;
  waiting: Waiter[];
}

/** What a refused attempt is told when the connection itself is gone (nobody reads it). */
const GONE = "";

/**
 * Hands out turns at the hash, fairly between addresses.
 *
 * @example
 * ```ts
 * import { LoginQueue } from "./login_queue.ts";
 * const queue = new LoginQueue({ maxRunning: 1, perAddress: 1, queuePerAddress: 0 });
 * const first = await queue.enter("10.0.0.1");
 * console.assert(typeof first === "function");
 * const second = await queue.enter("10.0.0.1");
 * console.assert(typeof second === "string" && second.includes("--auth-queue-per-address 0"));
 * if (typeof first === "function") first();
 * ```
 */
export class LoginQueue {
  readonly #maxRunning: number;
  readonly #perAddress: number;
  readonly #queuePerAddress: number;
  readonly #maxQueued: number;
  #running = 0;
  #queued = 0;
  /** Every address with a turn running or waiting. */
  readonly #addresses = new Map<string, AddressState>();
  /** Addresses with waiting attempts, in round-robin order (the next to serve first). */
  readonly #ready = new Map<string, AddressState>();

  /**
   * @param options See {@linkcode LoginQueueOptions}.
   * @throws {RangeError} When a bound is not a whole number, or a running bound is 0.
   */
  constructor(options: LoginQueueOptions = {}) {
    this.#maxRunning = options.maxRunning ?? MAX_SCRYPT_RUNS;
    this.#perAddress = options.perAddress ?? 1;
    this.#queuePerAddress = options.queuePerAddress ?? 8;
    this.#maxQueued = options.maxQueued ?? 32;
    for (
      const [name, v, min] of [
        ["maxRunning", this.#maxRunning, 1],
        ["perAddress", this.#perAddress, 1],
        ["queuePerAddress", this.#queuePerAddress, 0],
        ["maxQueued", this.#maxQueued, 0],
      ] as const
    ) {
      if (!Number.isSafeInteger(v) || v < min) {
        throw new RangeError(
          `Cannot create LoginQueue: ${name} must be a whole number of at least ${min}, got ${v}`,
        );
      }
    }
  }

  /** Turns running now. */
  get running(): number {
    return this.#running;
  }

  /** Attempts waiting now. */
  get queued(): number {
    return this.#queued;
  }

  /**
   * Waits for a turn at the hash for an attempt from `key`.
   *
   * @param key The address the attempt is counted under (`addressKey()`).
   * @param gone Tells whether the attempt's connection went away while it waited: it then gets
   *   no turn (and is answered `""`).
   * @returns The turn's {@linkcode Release}, to call once the hash is done; or, at once, why it
   *   is refused (the text of an `ERR 429`; `""` when `gone`).
   */
  enter(key: string, gone: () => boolean = () => false): Promise<Release | string> {
    let state = this.#addresses.get(key);
    if (state === undefined) {
      state = { running: 0, waiting: [] };
      this.#addresses.set(key, state);
    }
    this.#dropGone(key, state);
    if (
      state.waiting.length === 0 && state.running < this.#perAddress &&
      this.#running < this.#maxRunning
    ) {
      return Promise.resolve(this.#start(key, state));
    }
    if (state.waiting.length >= this.#queuePerAddress) {
      this.#forget(key, state);
      return Promise.resolve(
        `Too many logins at once from your address: over --auth-queue-per-address ` +
          `${this.#queuePerAddress} waiting; try again in a moment`,
      );
    }
    if (this.#queued >= this.#maxQueued && !this.#evictFor(state)) {
      this.#forget(key, state);
      return Promise.resolve(busyText(this.#maxQueued));
    }
    return new Promise((resolve) => {
      state.waiting.push({ gone, resolve });
      this.#queued++;
      if (!this.#ready.has(key)) this.#ready.set(key, state);
    });
  }

  #start(key: string, state: AddressState): Release {
    state.running++;
    this.#running++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      state.running--;
      this.#running--;
      this.#forget(key, state);
      this.#dispatch();
    };
  }

  /** Gives free turns to waiting attempts, one address after another. */
  #dispatch(): void {
    while (this.#running < this.#maxRunning) {
      let served = false;
      for (const [key, state] of this.#ready) {
        if (state.running >= this.#perAddress) continue;
        const w = state.waiting.shift()!;
        this.#queued--;
        // The address goes to the back of the round, or out of it when nothing else waits.
        this.#ready.delete(key);
        if (state.waiting.length > 0) this.#ready.set(key, state);
        if (w.gone()) {
          w.resolve(GONE);
          this.#forget(key, state);
        } else {
          w.resolve(this.#start(key, state));
        }
        served = true;
        break;
      }
      if (!served) return;
    }
  }

  /**
   * When the total queue is full: refuses the newest attempt of the address with the most
   * waiting, if that is at least two more than `state` has.
   */
  #evictFor(state: AddressState): boolean {
    let longest: [string, AddressState] | null = null;
    for (const entry of this.#ready) {
      if (longest === null || entry[1].waiting.length > longest[1].waiting.length) longest = entry;
    }
    if (longest === null || longest[1].waiting.length < state.waiting.length + 2) return false;
    const [key, victim] = longest;
    const w = victim.waiting.pop()!;
    this.#queued--;
    if (victim.waiting.length === 0) this.#ready.delete(key);
    w.resolve(w.gone() ? GONE : busyText(this.#maxQueued));
    return true;
  }

  /** Answers the waiting attempts of `state` whose connections are gone. */
  #dropGone(key: string, state: AddressState): void {
    if (state.waiting.length === 0) return;
    const live = state.waiting.filter((w) => {
      if (!w.gone()) return true;
      w.resolve(GONE);
      return false;
    });
    this.#queued -= state.waiting.length - live.length;
    state.waiting = live;
    if (live.length === 0) this.#ready.delete(key);
  }

  /** Forgets an address that has nothing running or waiting. */
  #forget(key: string, state: AddressState): void {
    if (state.running === 0 && state.waiting.length === 0) {
      this.#addresses.delete(key);
      this.#ready.delete(key);
    }
  }
}

function busyText(maxQueued: number): string {
  return `Too many logins waiting on the server: over --auth-queue ${maxQueued}; ` +
    `try again in a moment`;
}
