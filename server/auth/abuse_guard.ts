/**
 * Abuse limits kept per client address: new connections per second (a token bucket per address)
 * and failed logins per minute (a sliding window per address, then a ban). The per-connection
 * command bucket lives in the session itself, on the hot path.
 *
 * Addresses are grouped the way networks hand them out: an IPv4 address stands alone, an IPv6
 * address counts as its /64 (one host usually owns a whole /64), and an IPv4-mapped IPv6 address
 * counts as its IPv4 address.
 *
 * @module
 */

/**
 * The host part of a peer string as sessions print it: `1.2.3.4:5000` → `1.2.3.4`,
 * `[::1]:5000` → `::1`.
 *
 * @param peer `host:port` or `[v6]:port`.
 * @returns The host.
 * @example
 * ```ts
 * import { peerHost } from "./abuse_guard.ts";
 * console.assert(peerHost("[::1]:7000") === "::1");
 * console.assert(peerHost("10.0.0.1:7000") === "10.0.0.1");
 * ```
 */
export function peerHost(peer: string): string {
  if (peer.startsWith("[")) {
    const end = peer.indexOf("]");
    return end < 0 ? peer.slice(1) : peer.slice(1, end);
  }
  const colon = peer.lastIndexOf(":");
  return colon < 0 ? peer : peer.slice(0, colon);
}

/**
 * The key an address is counted under: IPv4 as it is, IPv4-mapped IPv6 as its IPv4 address,
 * other IPv6 as its /64 prefix (`2001:db8:0:1::/64`).
 *
 * @param host An IP address as `Deno.NetAddr.hostname` gives it.
 * @returns The key.
 * @example
 * ```ts
 * import { addressKey } from "./abuse_guard.ts";
 * console.assert(addressKey("2001:db8::1") === "2001:db8:0:0::/64");
 * console.assert(addressKey("::ffff:10.1.2.3") === "10.1.2.3");
 * console.assert(addressKey("10.1.2.3") === "10.1.2.3");
 * ```
 */
export function addressKey(host: string): string {
  if (!host.includes(":")) return host;
  const zone = host.indexOf("%");
  const h = (zone < 0 ? host : host.slice(0, zone)).toLowerCase();
  const mapped = /(?:^|:)ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (mapped && /^[0:]*$/.test(h.slice(0, mapped.index))) return mapped[1]!;
  const halves = h.split("::");
  if (halves.length > 2) return h;
  const head = halves[0] === "" ? [] : halves[0]!.split(":");
  const tail = halves.length === 2 && halves[1] !== "" ? halves[1]!.split(":") : [];
  const groups = halves.length === 2
    ? [...head, ...Array(Math.max(0, 8 - head.length - tail.length)).fill("0"), ...tail]
    : head;
  if (groups.length < 4) return h;
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, "")).join(":") + "::/64";
}

/** Options of {@linkcode AbuseGuard}. */
export interface AbuseGuardOptions {
  /**
   * New connections per second from one address; 0 = no limit. Up to this many may arrive at
   * once (the bucket holds one second's worth).
   * @default {0}
   */
  connRate?: number;
  /**
   * Failed logins from one address within a minute; one more and the address is refused.
   * @default {20}
   */
  authFailuresPerMinute?: number;
  /**
   * How long an address is refused after too many failed logins, in milliseconds.
   * @default {300000}
   */
  authBan?: number;
  /**
   * Most addresses remembered per table; the oldest entries are forgotten first.
   * @default {100000}
   */
  maxAddresses?: number;
}

const WINDOW = 60_000;

/**
 * A login attempt's place in its address's failed-login budget, held while its password is
 * checked (see {@linkcode AbuseGuard.reserve}). Settle it once: {@linkcode LoginReservation.fail}
 * or {@linkcode LoginReservation.release}; later calls do nothing.
 */
export interface LoginReservation {
  /**
   * The attempt failed: its place becomes a failure in the minute's window.
   *
   * @param now `Date.now()`.
   * @returns `true` when this failure got the address banned.
   */
  fail(now: number): boolean;
  /** The attempt succeeded, or was never checked: its place is given back. */
  release(): void;
}

/**
 * Per-address limits: connection rate and failed-login bans. Memory is bounded by
 * `maxAddresses` per table; {@linkcode AbuseGuard.sweep} forgets what no longer matters.
 *
 * @example
 * ```ts
 * import { AbuseGuard } from "./abuse_guard.ts";
 * const guard = new AbuseGuard({ connRate: 2, authFailuresPerMinute: 1 });
 * console.assert(guard.admit("10.0.0.1", 0) === null);
 * console.assert(guard.admit("10.0.0.1", 0) === null);
 * console.assert(guard.admit("10.0.0.1", 0)!.startsWith("Too many connections"));
 * console.assert(guard.authFailed("10.0.0.9", 0) === false);
 * console.assert(guard.authFailed("10.0.0.9", 1) === true);
 * console.assert(guard.bannedFor("10.0.0.9", 2) > 0);
 * ```
 */
export class AbuseGuard {
  readonly #connRate: number;
  readonly #failuresPerMinute: number;
  readonly #ban: number;
  readonly #max: number;
  /** Connection buckets: tokens left and when they were counted. */
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  /** Failed login times within the last minute, oldest first. */
  readonly #failures = new Map<string, number[]>();
  /** Banned addresses: until when. */
  readonly #bans = new Map<string, number>();
  /** Login attempts being checked, per address (held by {@linkcode AbuseGuard.reserve}). */
  readonly #pending = new Map<string, number>();

  /** @param options See {@linkcode AbuseGuardOptions}. */
  constructor(options: AbuseGuardOptions = {}) {
    this.#connRate = options.connRate ?? 0;
    this.#failuresPerMinute = options.authFailuresPerMinute ?? 20;
    this.#ban = options.authBan ?? 300_000;
    this.#max = options.maxAddresses ?? 100_000;
    for (
      const [name, v] of [
        ["connRate", this.#connRate],
        ["authFailuresPerMinute", this.#failuresPerMinute],
        ["authBan", this.#ban],
        ["maxAddresses", this.#max],
      ] as const
    ) {
      if (!Number.isFinite(v) || v < 0) {
        throw new RangeError(
          `Cannot create AbuseGuard: ${name} must be a non-negative number, got ${v}`,
        );
      }
    }
  }

  /**
   * Decides whether a new connection from `host` is let in.
   *
   * @param host The peer's IP address.
   * @param now `Date.now()`.
   * @returns `null` to let it in, or the text of the `ERR 429` to refuse it with.
   */
  admit(host: string, now: number): string | null {
    const key = addressKey(host);
    const banned = this.#banLeft(key, now);
    if (banned > 0) return banText(this.#failuresPerMinute, banned);
    const rate = this.#connRate;
    if (rate === 0) return null;
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = { tokens: rate, at: now };
      remember(this.#buckets, key, b, this.#max);
    } else {
      b.tokens = Math.min(rate, b.tokens + ((now - b.at) * rate) / 1000);
      b.at = now;
    }
    if (b.tokens < 1) return `Too many connections from your address: over --conn-rate ${rate}/s`;
    b.tokens -= 1;
    return null;
  }

  /**
   * Reserves a place in `host`'s failed-login budget for an attempt about to be checked, so that
   * attempts in flight count against `authFailuresPerMinute` before the slow hash runs: the
   * failures of the last minute plus the attempts being checked never pass the budget, however
   * many arrive at once. As with attempts one after another, at most `authFailuresPerMinute` + 1
   * are checked before the address is banned.
   *
   * @param host The peer's IP address.
   * @param now `Date.now()`.
   * @returns The reservation to settle once the attempt is checked, or the text of the
   *   `ERR 429` to refuse the attempt with (the address is banned, or its budget is taken).
   * @example
   * ```ts
   * import { AbuseGuard } from "./abuse_guard.ts";
   * const guard = new AbuseGuard({ authFailuresPerMinute: 1 });
   * const a = guard.reserve("10.0.0.1", 0);
   * const b = guard.reserve("10.0.0.1", 0);
   * console.assert(typeof guard.reserve("10.0.0.1", 0) === "string");
   * if (typeof a !== "string") a.release();
   * if (typeof b !== "string") console.assert(b.fail(1) === false);
   * ```
   */
  reserve(host: string, now: number): LoginReservation | string {
    const key = addressKey(host);
    const banned = this.#banLeft(key, now);
    if (banned > 0) return banText(this.#failuresPerMinute, banned);
    const times = this.#failures.get(key);
    if (times !== undefined) {
      while (times.length > 0 && now - times[0]! >= WINDOW) {
        times.shift();
      }
    }
    const pending = this.#pending.get(key) ?? 0;
    if ((times?.length ?? 0) + pending > this.#failuresPerMinute) {
      return `Too many logins from your address: failed and pending ones are over ` +
        `--auth-failures-per-minute ${this.#failuresPerMinute}; try again in a moment`;
    }
    this.#pending.set(key, pending + 1);
    let settled = false;
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      const n = (this.#pending.get(key) ?? 1) - 1;
      if (n > 0) this.#pending.set(key, n);
      else this.#pending.delete(key);
      return true;
    };
    return {
      fail: (at) => settle() && this.authFailed(host, at),
      release: () => void settle(),
    };
  }

  /**
   * Records a failed login from `host`.
   *
   * @param host The peer's IP address.
   * @param now `Date.now()`.
   * @returns `true` when this failure got the address banned.
   */
  authFailed(host: string, now: number): boolean {
    const key = addressKey(host);
    let times = this.#failures.get(key);
    if (times === undefined) {
      times = [];
      remember(this.#failures, key, times, this.#max);
    }
    while (times.length > 0 && now - times[0]! >= WINDOW) times.shift();
    times.push(now);
    if (times.length <= this.#failuresPerMinute) return false;
    this.#failures.delete(key);
    remember(this.#bans, key, now + this.#ban, this.#max);
    return true;
  }

  /**
   * How long `host` is still refused after too many failed logins.
   *
   * @param host The peer's IP address.
   * @param now `Date.now()`.
   * @returns Milliseconds left, 0 when not banned.
   */
  bannedFor(host: string, now: number): number {
    return this.#banLeft(addressKey(host), now);
  }

  /**
   * The `ERR 429` text for an address refused for `left` more milliseconds.
   *
   * @param left Milliseconds left, from {@linkcode AbuseGuard.bannedFor}.
   * @returns The text.
   */
  banMessage(left: number): string {
    return banText(this.#failuresPerMinute, left);
  }

  /**
   * Forgets entries that no longer limit anything. Call it now and then (the server does every
   * few seconds).
   *
   * @param now `Date.now()`.
   */
  sweep(now: number): void {
    for (const [key, until] of this.#bans) if (until <= now) this.#bans.delete(key);
    for (const [key, times] of this.#failures) {
      if (times.length === 0 || now - times[times.length - 1]! >= WINDOW) {
        this.#failures.delete(key);
      }
    }
    const rate = this.#connRate;
    if (rate > 0) {
      for (const [key, b] of this.#buckets) {
        if (b.tokens + ((now - b.at) * rate) / 1000 >= rate) this.#buckets.delete(key);
      }
    }
  }

  /** Entries held, all tables together (for tests and metrics). */
  get size(): number {
    return this.#buckets.size + this.#failures.size + this.#bans.size + this.#pending.size;
  }

  #banLeft(key: string, now: number): number {
    const until = this.#bans.get(key);
    if (until === undefined) return 0;
    if (until > now) return until - now;
    this.#bans.delete(key);
    return 0;
  }
}

function banText(perMinute: number, left: number): string {
  return `Too many failed logins from your address: over --auth-failures-per-minute ${perMinute}; ` +
    `refused for ${Math.ceil(left / 1000)} s more`;
}

/** Sets `key` in `map`, forgetting the oldest entries first when the map is full. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  while (map.size >= max && map.size > 0) map.delete(map.keys().next().value!);
  map.set(key, value);
}
