/**
 * The memory engine's room logs: per room an epoch, the next id, and the last messages as the
 * encoded `MSG` frames every member got (so a `HISTORY` reply is those bytes again).
 *
 * Memory is bounded three ways: `size` messages per room, `ttl` of age, and `memory` bytes for
 * all logs together. Frames are copied into per-room chunks; what counts against `memory` is the
 * chunks a log holds (whole, unused space included) plus a fixed cost per entry, so the bound is
 * on what this process really keeps. Past it, the oldest entries of the largest logs go first.
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

/** Frames are copied into chunks of this size; a larger frame gets a buffer of its own. */
const CHUNK = 16 * 1024;
/** Frames above this size are not packed into chunks. */
const OWN_BUFFER = 4 * 1024;
/** What one entry costs besides its bytes (its view object, array slots and time). */
const ENTRY_COST = 96;
/** Logs are swept for expired messages at most this often, in milliseconds. */
const SWEEP_EVERY = 1000;

interface Chunk {
  readonly buf: Uint8Array;
  used: number;
  /** The newest id with bytes in it: the chunk is freed once the log's oldest id passes it. */
  lastId: number;
}

/** One room's log. */
class Log {
  readonly epoch: string;
  /** The next id to give. */
  next = 1;
  /** The id of `frames[head]`. */
  base = 1;
  head = 0;
  /** Kept frames by id - base + head (`undefined`: an id given but not stored, yet or ever). */
  frames: (Uint8Array | undefined)[] = [];
  times: number[] = [];
  chunks: Chunk[] = [];
  /** Bytes counted against the memory bound. */
  bytes = 0;
  /** When a message was last given an id (the log of a room nobody is in expires after ttl). */
  touched: number;

  constructor(epoch: string, now: number) {
    this.epoch = epoch;
    this.touched = now;
  }

  get count(): number {
    return this.frames.length - this.head;
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
    if (log === undefined || this.#size === 0 || id < log.base || id >= log.next) return;
    const at = log.head + (id - log.base);
    if (log.frames[at] !== undefined) return;
    const copy = this.#copy(log, id, frame);
    const now = this.#now();
    while (log.frames.length < at) {
      log.frames.push(undefined);
      log.times.push(now);
    }
    if (at === log.frames.length) {
      log.frames.push(copy);
      log.times.push(now);
    } else log.frames[at] = copy;
    log.bytes += ENTRY_COST;
    this.#bytes += ENTRY_COST;
    if (log.count > this.#size) this.#trim(log, log.count - this.#size);
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
    if (log.count > 0 && limit > 0) {
      const frames = log.frames;
      if (query.after === undefined) {
        for (let i = frames.length - 1; i >= log.head && out.length < limit; i--) {
          const f = frames[i];
          if (f !== undefined) out.push(f);
        }
        out.reverse();
      } else {
        const from = Math.max(log.head, log.head + (query.after + 1 - log.base));
        for (let i = from; i < frames.length && out.length < limit; i++) {
          const f = frames[i];
          if (f !== undefined) out.push(f);
        }
      }
    }
    return { epoch: log.epoch, first, last, frames: out };
  }

  /** Copies a frame into the log's current chunk (or a buffer of its own). */
  #copy(log: Log, id: number, frame: Uint8Array): Uint8Array {
    const n = frame.length;
    if (n > OWN_BUFFER) {
      const own = frame.slice();
      this.#addChunk(log, { buf: own, used: n, lastId: id });
      return own;
    }
    let chunk = log.chunks[log.chunks.length - 1];
    if (chunk === undefined || chunk.buf.length - chunk.used < n) {
      chunk = { buf: new Uint8Array(CHUNK), used: 0, lastId: id };
      this.#addChunk(log, chunk);
    }
    const view = chunk.buf.subarray(chunk.used, chunk.used + n);
    view.set(frame);
    chunk.used += n;
    if (id > chunk.lastId) chunk.lastId = id;
    return view;
  }

  #addChunk(log: Log, chunk: Chunk): void {
    log.chunks.push(chunk);
    log.bytes += chunk.buf.length;
    this.#bytes += chunk.buf.length;
  }

  /** Drops the `n` oldest entries of a log, and the chunks nothing kept uses any more. */
  #trim(log: Log, n: number): void {
    const count = Math.min(n, log.count);
    if (count <= 0) return;
    let dropped = 0;
    for (let i = log.head; i < log.head + count; i++) {
      if (log.frames[i] !== undefined) dropped++;
      log.frames[i] = undefined;
    }
    log.head += count;
    log.base += count;
    log.bytes -= dropped * ENTRY_COST;
    this.#bytes -= dropped * ENTRY_COST;
    let freed = 0;
    while (log.chunks.length > freed && log.chunks[freed]!.lastId < log.base) {
      const size = log.chunks[freed]!.buf.length;
      log.bytes -= size;
      this.#bytes -= size;
      freed++;
    }
    if (freed > 0) log.chunks.splice(0, freed);
    if (log.head === log.frames.length) {
      log.frames = [];
      log.times = [];
      log.head = 0;
    } else if (log.head > 1024 && log.head * 2 > log.frames.length) {
      log.frames = log.frames.slice(log.head);
      log.times = log.times.slice(log.head);
      log.head = 0;
    }
  }

  /** Drops a log's messages older than ttl. */
  #expire(log: Log, now: number): void {
    const cutoff = now - this.#ttl;
    let n = 0;
    for (let i = log.head; i < log.frames.length && log.times[i]! <= cutoff; i++) n++;
    if (n > 0) this.#trim(log, n);
  }

  /** Expires old messages everywhere; forgets the logs of rooms nobody is in, once empty. */
  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [room, log] of this.#logs) {
      this.#expire(log, now);
      if (log.count === 0 && now - log.touched >= this.#ttl && !this.#inUse(room)) {
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
    let excess = this.#bytes - target;
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
    for (let i = 0; i <= k && i < logs.length && excess > 0; i++) {
      const log = logs[i]!;
      while (log.count > 0 && log.bytes > level) {
        const before = log.bytes;
        // Whole chunks at a time: entries up to the oldest chunk's last id.
        const oldest = log.chunks[0];
        const n = oldest === undefined ? log.count : Math.max(1, oldest.lastId - log.base + 1);
        this.#trim(log, n);
        excess -= before - log.bytes;
      }
    }
  }
}
