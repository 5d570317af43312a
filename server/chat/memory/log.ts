/**
 * The memory engine's room logs: per room an epoch, the next id, and the last messages as the
 * encoded `MSG` frames every member got (so a `HISTORY` reply is those bytes again).
 *
 * Memory is bounded three ways: `size` messages per room, `ttl` of age, and `memory` bytes for
 * all logs together. Frames are copied into fixed-size chunks that the logs share through a
 * pool (no allocation per message, no garbage for the collector); what counts against `memory`
 * is the chunks a log holds, whole, plus a fixed cost per entry, so the bound is on what this
 * process really keeps. Past it, the oldest entries of the largest logs go first.
 *
 * @module
 */

import type { HistoryPage, HistoryQuery, LogStats, RoomLog } from "../../core/engine.ts";

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

/** Frames are copied into chunks of this size, taken from (and given back to) a shared pool. */
const CHUNK = 16 * 1024;
/** Frames larger than this are kept as copies of their own, not in chunks. */
const OWN_COPY = 4 * 1024;
/** What one entry slot costs: its offset, length and time (typed arrays, counted by capacity). */
const ENTRY_COST = 20;
/** Logs are swept for expired messages at most this often, in milliseconds. */
const SWEEP_EVERY = 1000;
/** Out-of-order frames (an engine answering late) wait at most this many for the ones before. */
const MAX_EARLY = 64;

/**
 * Fixed-size chunks for every log: reused as logs trim and grow, so a busy server does not
 * leave the allocator garbage to collect (buffers of varied sizes, freed only by a later GC,
 * kept its memory far above what the logs held).
 */
class ChunkPool {
  readonly #free: Uint8Array[] = [];
  readonly #max: number;

  /** @param max Free chunks kept, at most (beyond, they go back to the allocator). */
  constructor(max: number) {
    this.#max = max;
  }

  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(CHUNK);
  }

  give(chunk: Uint8Array): void {
    if (this.#free.length < this.#max) this.#free.push(chunk);
  }
}

/**
 * One room's log. Frames live back to back in a room's chunks; entry `k` (0 the oldest kept, id
 * `base + k`) is at byte `pos` of the room's stream, `len` long (chunk `pos / CHUNK`; a frame
 * never spans two), missing when `len` is 0, or a copy of its own (in `big`) when `pos` is -1.
 * Entries are rings of typed arrays: appending and trimming allocate nothing per message.
 */
class Log {
  readonly epoch: string;
  /** The next id to give. */
  next = 1;
  /** The id of the oldest entry kept. */
  base = 1;
  count = 0;
  #head = 0;
  #pos = new Float64Array(16);
  #len = new Int32Array(16);
  #times = new Float64Array(16);
  /** Chunks of the stream, the first one being chunk number `firstChunk`. */
  chunks: Uint8Array[] = [];
  firstChunk = 0;
  /** Where the next frame goes in the stream. */
  hi = 0;
  /** Frames over OWN_COPY bytes, by id. */
  readonly big = new Map<number, Uint8Array>();
  bigBytes = 0;
  /** Frames that came before the ones ahead of them, by id. */
  readonly early = new Map<number, Uint8Array>();
  /** When a message was last given an id (the log of a room nobody is in expires after ttl). */
  touched: number;
  readonly #pool: ChunkPool;

  constructor(epoch: string, now: number, pool: ChunkPool) {
    this.epoch = epoch;
    this.touched = now;
    this.#pool = pool;
  }

  /** The id the next stored frame must have. */
  get stored(): number {
    return this.base + this.count;
  }

  /** Bytes counted against the memory bound. */
  get bytes(): number {
    return this.chunks.length * CHUNK + this.bigBytes + this.#pos.length * ENTRY_COST;
  }

  #slot(k: number): number {
    return (this.#head + k) & (this.#pos.length - 1);
  }

  /** When entry `k` was stored. */
  timeAt(k: number): number {
    return this.#times[this.#slot(k)]!;
  }

  #push(pos: number, len: number, now: number): void {
    if (this.count === this.#pos.length) this.#resize(this.#pos.length * 2);
    const at = this.#slot(this.count);
    this.#pos[at] = pos;
    this.#len[at] = len;
    this.#times[at] = now;
    this.count++;
  }

  #resize(size: number): void {
    const pos = new Float64Array(size), len = new Int32Array(size), times = new Float64Array(size);
    for (let k = 0; k < this.count; k++) {
      const at = this.#slot(k);
      pos[k] = this.#pos[at]!;
      len[k] = this.#len[at]!;
      times[k] = this.#times[at]!;
    }
    this.#pos = pos;
    this.#len = len;
    this.#times = times;
    this.#head = 0;
  }

  /** Appends a frame as the next id (`null`: that id is missing). */
  append(frame: Uint8Array | null, now: number, start = 0, end = frame?.length ?? 0): void {
    if (frame === null) return this.#push(this.hi, 0, now);
    const n = end - start;
    if (n > OWN_COPY) {
      this.big.set(this.stored, frame.slice(start, end));
      this.bigBytes += n;
      return this.#push(-1, n, now);
    }
    let at = this.hi % CHUNK;
    if (at + n > CHUNK) {
      this.hi += CHUNK - at; // the rest of this chunk stays unused
      at = 0;
    }
    if (this.chunks.length === 0) {
      this.firstChunk = Math.floor(this.hi / CHUNK);
      this.chunks.push(this.#pool.take());
    } else if (Math.floor(this.hi / CHUNK) - this.firstChunk >= this.chunks.length) {
      this.chunks.push(this.#pool.take());
    }
    const chunk = this.chunks[this.chunks.length - 1]!;
    if (start === 0 && end === frame.length) chunk.set(frame, at);
    else chunk.set(frame.subarray(start, end), at);
    this.#push(this.hi, n, now);
    this.hi += n;
  }

  /** Drops the `n` oldest entries; returns how many bytes that freed. */
  trim(n: number): number {
    const before = this.bytes;
    const count = Math.min(n, this.count);
    if (count <= 0) return 0;
    for (let k = 0; k < count; k++) {
      if (this.#pos[this.#slot(k)] !== -1) continue;
      const id = this.base + k;
      this.bigBytes -= this.big.get(id)?.length ?? 0;
      this.big.delete(id);
    }
    this.#head = this.#slot(count);
    this.count -= count;
    this.base += count;
    // The oldest byte still used: that of the oldest entry kept in a chunk.
    let k = 0;
    while (k < this.count && this.#pos[this.#slot(k)] === -1) k++;
    const lo = k < this.count ? this.#pos[this.#slot(k)]! : this.hi;
    let drop = Math.min(this.chunks.length, Math.floor(lo / CHUNK) - this.firstChunk);
    if (this.count === 0) drop = this.chunks.length; // the next frame starts a fresh chunk
    for (let i = 0; i < drop; i++) this.#pool.give(this.chunks[i]!);
    if (drop > 0) {
      this.chunks.splice(0, drop);
      this.firstChunk += drop;
    }
    // Give the entry rings back once they are mostly empty.
    if (this.#pos.length > 64 && this.count * 4 < this.#pos.length) {
      this.#resize(Math.max(16, this.#pos.length >> 1));
    }
    return before - this.bytes;
  }

  /** A copy of entry `k`'s frame, or `null` when it is missing. */
  frame(k: number): Uint8Array | null {
    const at = this.#slot(k);
    const p = this.#pos[at]!, n = this.#len[at]!;
    // Big frames are never changed: the copy kept is handed out as it is.
    if (p === -1) return this.big.get(this.base + k) ?? null;
    if (n === 0) return null;
    const chunk = this.chunks[Math.floor(p / CHUNK) - this.firstChunk]!;
    const offset = p % CHUNK;
    return chunk.slice(offset, offset + n);
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
  readonly #pool: ChunkPool;
  readonly #size: number;
  readonly #ttl: number;
  readonly #memory: number;
  readonly #now: () => number;
  /** Whether a room still has members (its log does not expire while it has). */
  #inUse: (room: string) => boolean = () => false;
  #bytes = 0;
  #sweptAt = 0;
  #calls = 0;
  #clockAt = 0;
  #clockFresh = false;

  /**
   * The time, read once per microtask (Date.now() cost a sixth of a publish; the messages of one
   * read are stored in one go anyway).
   */
  #clock(): number {
    if (!this.#clockFresh) {
      this.#clockAt = this.#now();
      this.#clockFresh = true;
      queueMicrotask(() => this.#clockFresh = false);
    }
    return this.#clockAt;
  }

  /** @param options See {@linkcode MemoryLogOptions}. */
  constructor(options: MemoryLogOptions = {}) {
    this.#size = options.size ?? 1000;
    this.#ttl = options.ttl ?? 24 * 60 * 60 * 1000;
    this.#memory = options.memory ?? 256 * 1024 * 1024;
    // Eviction brings the logs to 90 % of the bound: the pool keeps what one eviction frees, so
    // the logs and the pool together stay within the bound.
    this.#pool = new ChunkPool(Math.max(16, Math.floor(this.#memory * 0.1 / CHUNK)));
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
    // The clock is read once every 1024 ids here (put reads it for each message it keeps).
    if ((++this.#calls & 1023) === 0) {
      const now = this.#now();
      if (now - this.#sweptAt >= SWEEP_EVERY) this.#sweep(now);
    }
    let log = this.#logs.get(room);
    if (log === undefined) {
      log = new Log(newEpoch(), this.#now(), this.#pool);
      this.#logs.set(room, log);
    }
    return log.next++;
  }

  put(room: string, id: number, frame: Uint8Array, start = 0, end = frame.length): void {
    const log = this.#logs.get(room);
    if (log === undefined) return;
    const now = this.#clock();
    log.touched = now; // with history off too: the ids (and epoch) last from the last message
    if (this.#size === 0 || id < log.stored || id >= log.next) return;
    const before = log.bytes;
    if (id > log.stored) {
      // An engine that answers late: keep it until the ones before it come (or give up on them).
      log.early.set(id, frame.slice(start, end));
      if (log.early.size <= MAX_EARLY) return;
      while (!log.early.has(log.stored)) log.append(null, now);
    } else log.append(frame, now, start, end);
    if (log.early.size > 0) {
      for (let f = log.early.get(log.stored); f !== undefined; f = log.early.get(log.stored)) {
        log.early.delete(log.stored);
        log.append(f, now);
      }
    }
    this.#bytes += log.bytes - before;
    // Trimmed by sixteenths of `size` (HISTORY reads only the newest `size`): not once a message.
    if (log.count > this.#size + (this.#size >> 4)) this.#bytes -= log.trim(log.count - this.#size);
    if (this.#bytes > this.#memory) this.#evict();
  }

  has(room: string): boolean {
    return this.#logs.has(room);
  }

  last(room: string): number {
    const log = this.#logs.get(room);
    return log === undefined ? 0 : log.next - 1;
  }

  stats(): LogStats {
    let messages = 0;
    for (const log of this.#logs.values()) messages += log.count;
    return { rooms: this.#logs.size, messages, bytes: this.#bytes };
  }

  history(room: string, query: HistoryQuery): HistoryPage {
    const now = this.#now();
    if (now - this.#sweptAt >= SWEEP_EVERY) this.#sweep(now);
    let log = this.#logs.get(room);
    if (log === undefined) {
      log = new Log(newEpoch(), now, this.#pool);
      this.#logs.set(room, log);
    }
    this.#expire(log, now);
    // Entries past the newest `size` await their batched trim: they are not there any more.
    const skip = Math.max(0, log.count - this.#size);
    const kept = log.count - skip;
    const last = log.next - 1;
    const first = last === 0 ? 0 : kept > 0 ? log.base + skip : last + 1;
    const out: Uint8Array[] = [];
    const limit = Math.max(0, query.limit);
    if (kept > 0 && limit > 0) {
      if (query.after === undefined) {
        for (let k = log.count - 1; k >= skip && out.length < limit; k--) {
          const f = log.frame(k);
          if (f !== null) out.push(f);
        }
        out.reverse();
      } else {
        for (
          let k = Math.max(skip, query.after + 1 - log.base);
          k < log.count && out.length < limit;
          k++
        ) {
          const f = log.frame(k);
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
    while (n < log.count && log.timeAt(n) <= cutoff) n++;
    if (n > 0) this.#bytes -= log.trim(n);
  }

  /** Expires old messages everywhere; forgets the logs of rooms nobody is in, once empty. */
  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [room, log] of this.#logs) {
      this.#expire(log, now);
      // A log that never gave an id holds nothing worth keeping once its room is gone.
      const idle = log.next === 1 || now - log.touched >= this.#ttl;
      if (log.count === 0 && idle && !this.#inUse(room)) {
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
