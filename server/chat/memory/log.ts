/**
 * The memory engine's room logs: per room an epoch, the next id, and the last messages as the
 * encoded `MSG` frames every member got (so a `HISTORY` reply is those bytes again).
 *
 * Memory is bounded three ways: `size` messages per room, `ttl` of age, and `memory` bytes for
 * all logs together. Each room's frames are copied back to back into one buffer of its own (no
 * allocation per message, so no garbage for the collector); what counts against `memory` is
 * those buffers, whole (unused space included), plus a fixed cost per entry, so the bound is on
 * what this process really keeps. Past it, the oldest entries of the largest logs go first.
 *
 * @module
 */

import type { HistoryPage, HistoryQuery, RoomLog } from "../../core/engine.ts";

/** Options of {@linkcode MemoryLog}. */
export interface MemoryLogOptions {
  /**
   * Messages kept per room (0: none, ids are still given).
   * @default {1000}
   */
  size?: number;
  /**
   * Milliseconds a message is kept; a log with no message left and no member expires after it.
   * @default {86400000}
   */
  ttl?: number;
  /**
   * Bytes all logs may hold together.
   * @default {268435456}
   */
  memory?: number;
  /** The clock (tests). */
  now?: () => number;
}

/** Frames larger than this are kept as copies of their own, not in the room's buffer. */
const OWN_COPY = 16 * 1024;
/** Smallest byte buffer of a room's log. */
const MIN_BUFFER = 4 * 1024;
/** What one entry costs besides its bytes (its offsets and time, in number arrays). */
const ENTRY_COST = 24;
/** Logs are swept for expired messages at most this often, in milliseconds. */
const SWEEP_EVERY = 1000;
/** Out-of-order frames (an engine answering late) wait at most this many for the ones before. */
const MAX_EARLY = 64;

/**
 * One room's log. The frames live back to back in one buffer, `[lo, hi)`; entry `i` (id
 * `base + i - head`) is `buf[starts[i], ends[i])`, or missing when both are equal. Appending
 * allocates nothing per message; the buffer is compacted or resized when it runs out of room
 * (each byte is moved a bounded number of times), and shrunk when trimming leaves it mostly empty.
 */
class Log {
  readonly epoch: string;
  /** The next id to give. */
  next = 1;
  /** The id of entry `head`. */
  base = 1;
  head = 0;
  starts: number[] = [];
  ends: number[] = [];
  times: number[] = [];
  buf: Uint8Array = new Uint8Array(0);
  lo = 0;
  hi = 0;
  /** Frames over OWN_COPY bytes, by id (their entry's start is -1). */
  readonly big = new Map<number, Uint8Array>();
  bigBytes = 0;
  /** Frames that came before the ones ahead of them, by id. */
  readonly early = new Map<number, Uint8Array>();
  /** When a message was last given an id (the log of a room nobody is in expires after ttl). */
  touched: number;

  constructor(epoch: string, now: number) {
    this.epoch = epoch;
    this.touched = now;
  }

  get count(): number {
    return this.starts.length - this.head;
  }

  /** The id the next stored frame must have. */
  get stored(): number {
    return this.base + this.count;
  }

  /** Bytes counted against the memory bound. */
  get bytes(): number {
    return this.buf.length + this.bigBytes + this.count * ENTRY_COST;
  }

  /** Appends a frame as the next id (`null`: that id is missing). */
  append(frame: Uint8Array | null, now: number): void {
    if (frame !== null && frame.length > OWN_COPY) {
      // Doubling the buffer for a few large frames would waste as much again.
      this.big.set(this.stored, frame.slice());
      this.bigBytes += frame.length;
      this.starts.push(-1);
      this.ends.push(this.hi);
      this.times.push(now);
      return;
    }
    const n = frame === null ? 0 : frame.length;
    if (this.hi + n > this.buf.length) this.#makeRoom(n);
    if (frame !== null) this.buf.set(frame, this.hi);
    this.starts.push(this.hi);
    this.hi += n;
    this.ends.push(this.hi);
    this.times.push(now);
  }

  #makeRoom(n: number): void {
    const live = this.hi - this.lo;
    let size = this.buf.length;
    if (live + n > size / 2) size = Math.max(MIN_BUFFER, 2 * (live + n));
    this.#move(size);
  }

  /** Moves the live bytes to the front of a buffer of `size` bytes (the same one if it fits). */
  #move(size: number): void {
    const shift = this.lo;
    if (size === this.buf.length) this.buf.copyWithin(0, this.lo, this.hi);
    else {
      const grown = new Uint8Array(size);
      grown.set(this.buf.subarray(this.lo, this.hi));
      this.buf = grown;
    }
    this.hi -= shift;
    this.lo = 0;
    if (shift === 0) return;
    for (let i = this.head; i < this.starts.length; i++) {
      if (this.starts[i] !== -1) this.starts[i]! -= shift;
      this.ends[i]! -= shift;
    }
  }

  /** Drops the `n` oldest entries; returns how many bytes that freed. */
  trim(n: number): number {
    const before = this.bytes;
    const count = Math.min(n, this.count);
    if (count <= 0) return 0;
    if (this.big.size > 0) {
      for (let i = 0; i < count; i++) {
        const big = this.big.get(this.base + i);
        if (big === undefined) continue;
        this.big.delete(this.base + i);
        this.bigBytes -= big.length;
      }
    }
    this.head += count;
    this.base += count;
    if (this.head === this.starts.length) {
      this.starts = [];
      this.ends = [];
      this.times = [];
      this.head = 0;
      this.lo = this.hi = 0;
    } else {
      // The oldest bytes still used: those of the oldest entry kept in the buffer.
      let i = this.head;
      while (i < this.starts.length && this.starts[i] === -1) i++;
      this.lo = i < this.starts.length ? this.starts[i]! : this.hi;
      if (this.head > 1024 && this.head * 2 > this.starts.length) {
        this.starts = this.starts.slice(this.head);
        this.ends = this.ends.slice(this.head);
        this.times = this.times.slice(this.head);
        this.head = 0;
      }
    }
    // Give memory back once the buffer is mostly empty.
    const live = this.hi - this.lo;
    if (this.buf.length > MIN_BUFFER && live * 4 < this.buf.length) {
      this.#move(live === 0 ? 0 : Math.max(MIN_BUFFER, 2 * live));
    }
    return before - this.bytes;
  }

  /** A copy of entry `i`'s frame, or `null` when it is missing. */
  frame(i: number): Uint8Array | null {
    const s = this.starts[i]!, e = this.ends[i]!;
    // Big frames are never changed: the copy kept is handed out as it is.
    if (s === -1) return this.big.get(this.base + (i - this.head)) ?? null;
    return s === e ? null : this.buf.slice(s, e);
  }
}

/** A fresh epoch: the time and some randomness, 1-32 of `A-Z a-z 0-9 _ -`. */
function newEpoch(): string {
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `${Date.now().toString(36)}-${random[0]!.toString(36)}${random[1]!.toString(36)}`.slice(
    0,
    32,
  );
}

/**
 * Room logs in this process, shared by the nodes of one memory engine.
 *
 * @example
 * ```ts
 * import { MemoryLog } from "./log.ts";
 * const log = new MemoryLog({ size: 2 });
 * for (const text of ["a", "b", "c"]) {
 *   const id = log.next("ops");
 *   log.put("ops", id, new TextEncoder().encode(`MSG ops ann id ${id} 1\r\n${text}\r\n`));
 * }
 * const page = log.history("ops", { limit: 10 });
 * console.assert(page.first === 2 && page.last === 3 && page.frames.length === 2);
 * ```
 */
export class MemoryLog implements RoomLog {
  readonly #logs = new Map<string, Log>();
  readonly #size: number;
  readonly #ttl: number;
  readonly #memory: number;
  readonly #now: () => number;
  /** Whether a room still has members (its log does not expire while it has). */
  #inUse: (room: string) => boolean = () => false;
  #bytes = 0;
  #sweptAt = 0;

  /** @param options See {@linkcode MemoryLogOptions}. */
  constructor(options: MemoryLogOptions = {}) {
    this.#size = options.size ?? 1000;
    this.#ttl = options.ttl ?? 24 * 60 * 60 * 1000;
    this.#memory = options.memory ?? 256 * 1024 * 1024;
    this.#now = options.now ?? Date.now;
  }

  /** Bytes the logs hold, as counted against the memory bound. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The number of rooms with a log. */
  get rooms(): number {
    return this.#logs.size;
  }

  /**
   * Tells the log which rooms have members (their logs do not expire while they have).
   *
   * @param inUse Whether a room (by key) has a member.
   */
  watch(inUse: (room: string) => boolean): void {
    this.#inUse = inUse;
  }

  next(room: string): number {
    let log = this.#logs.get(room);
    const now = this.#now();
    if (now - this.#sweptAt >= SWEEP_EVERY) this.#sweep(now);
    if (log === undefined) {
      log = new Log(newEpoch(), now);
      this.#logs.set(room, log);
    }
    log.touched = now;
    return log.next++;
  }

  put(room: string, id: number, frame: Uint8Array): void {
    const log = this.#logs.get(room);
    if (log === undefined || this.#size === 0 || id < log.stored || id >= log.next) return;
    const now = this.#now();
    const before = log.bytes;
    if (id > log.stored) {
      // An engine that answers late: keep it until the ones before it come (or give up on them).
      log.early.set(id, frame.slice());
      if (log.early.size <= MAX_EARLY) return;
      while (!log.early.has(log.stored)) log.append(null, now);
    } else log.append(frame, now);
    for (let f = log.early.get(log.stored); f !== undefined; f = log.early.get(log.stored)) {
      log.early.delete(log.stored);
      log.append(f, now);
    }
    this.#bytes += log.bytes - before;
    if (log.count > this.#size) this.#bytes -= log.trim(log.count - this.#size);
    if (this.#bytes > this.#memory) this.#evict();
  }

  history(room: string, query: HistoryQuery): HistoryPage {
    const now = this.#now();
    let log = this.#logs.get(room);
    if (log === undefined) {
      log = new Log(newEpoch(), now);
      this.#logs.set(room, log);
    }
    this.#expire(log, now);
    const last = log.next - 1;
    const first = last === 0 ? 0 : log.count > 0 ? log.base : last + 1;
    const out: Uint8Array[] = [];
    const limit = Math.max(0, query.limit);
    const end = log.starts.length;
    if (log.count > 0 && limit > 0) {
      if (query.after === undefined) {
        for (let i = end - 1; i >= log.head && out.length < limit; i--) {
          const f = log.frame(i);
          if (f !== null) out.push(f);
        }
        out.reverse();
      } else {
        const from = Math.max(log.head, log.head + (query.after + 1 - log.base));
        for (let i = from; i < end && out.length < limit; i++) {
          const f = log.frame(i);
          if (f !== null) out.push(f);
        }
      }
    }
    return { epoch: log.epoch, first, last, frames: out };
  }

  /** Drops a log's messages older than ttl. */
  #expire(log: Log, now: number): void {
    const cutoff = now - this.#ttl;
    let n = 0;
    for (let i = log.head; i < log.times.length && log.times[i]! <= cutoff; i++) n++;
    if (n > 0) this.#bytes -= log.trim(n);
  }

  /** Expires old messages everywhere; forgets the logs of rooms nobody is in, once empty. */
  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [room, log] of this.#logs) {
      this.#expire(log, now);
      if (log.count === 0 && now - log.touched >= this.#ttl && !this.#inUse(room)) {
        this.#bytes -= log.bytes;
        this.#logs.delete(room);
      }
    }
  }

  /**
   * Brings the logs back to 90 % of the memory bound: the largest logs are cut down to one level
   * (their oldest entries first), so that small rooms keep their history.
   */
  #evict(): void {
    const target = Math.floor(this.#memory * 0.9);
    const logs = [...this.#logs.values()].filter((l) => l.count > 0);
    logs.sort((a, b) => b.bytes - a.bytes);
    const excess = this.#bytes - target;
    // The level L such that cutting every log above it down to L frees the excess.
    let sum = 0;
    let level = 0;
    let k = 0;
    for (; k < logs.length; k++) {
      sum += logs[k]!.bytes;
      const below = k + 1 < logs.length ? logs[k + 1]!.bytes : 0;
      if (sum - (k + 1) * below >= excess) {
        level = Math.max(0, Math.floor((sum - excess) / (k + 1)));
        break;
      }
    }
    for (let i = 0; i <= k && i < logs.length; i++) {
      const log = logs[i]!;
      // Entries by the eighth: a trim that shrinks the buffer frees whole halves at once.
      while (log.count > 0 && log.bytes > level && this.#bytes > target) {
        this.#bytes -= log.trim(Math.max(1, log.count >> 3));
      }
    }
  }
}
