/**
 * Burst traffic over raw sockets, for the flow-control tests: publishers that pipeline `SAY`s as
 * fast as TCP takes them (reading their replies meanwhile), and subscribers that read as fast as
 * they can (or pause, or never read), checking every room message's id: contiguous, in order.
 *
 * @module
 */

import { readLine, writeAll } from "./raw_client.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** What a subscriber saw. */
export interface Received {
  /** Room messages received. */
  count: number;
  /** Ids not one more than the one before (0 when every id followed the last). */
  outOfOrder: number;
  /** The last id seen. */
  lastId: number;
  /** Whether the server said `BYE slow consumer` (or closed the connection on it). */
  cut: boolean;
  /** The `BYE` line, if one came. */
  bye: string | null;
}

/** A connected client of the burst, greeted and in `room`. */
export async function member(port: number, room: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await readLine(conn); // HELLO
  if (room !== "lobby") {
    await writeAll(conn, utf8.encode(`JOIN ${room}\r\n`));
    const ok = await readLine(conn);
    if (!ok.startsWith("OK")) throw new Error(`JOIN ${room}: ${ok}`);
  }
  return conn;
}

/**
 * Reads room messages until `expected` arrived, the connection closed, or nothing came for
 * `quietMs`. Other frames (replies, JOINED) are skipped.
 *
 * @param conn A member's connection.
 * @param expected Messages to wait for.
 * @param options `pauseAfter` messages, stop reading for `pauseMs` once; `quietMs` gives up.
 */
export async function receive(
  conn: Deno.Conn,
  expected: number,
  options: { pauseAfter?: number; pauseMs?: number; quietMs?: number } = {},
): Promise<Received> {
  const got: Received = { count: 0, outOfOrder: 0, lastId: 0, cut: false, bye: null };
  const scanner = new Scanner((line) => {
    if (line.startsWith("MSG ")) {
      const parts = line.split(" ");
      const id = Number(parts[parts.length - 2]);
      if (id !== got.lastId + 1 && got.count > 0) got.outOfOrder++;
      got.lastId = id;
      got.count++;
      return Number(parts[parts.length - 1]);
    }
    if (line.startsWith("BYE")) {
      got.bye = line;
      got.cut = line === "BYE slow consumer";
    }
    return 0;
  });
  const buf = new Uint8Array(256 * 1024);
  let paused = options.pauseAfter === undefined;
  const quiet = options.quietMs ?? 5000;
  while (got.count < expected && got.bye === null) {
    if (!paused && got.count >= options.pauseAfter!) {
      paused = true;
      await new Promise((r) => setTimeout(r, options.pauseMs ?? 150));
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      conn.read(buf).catch(() => null),
      new Promise<"quiet">((r) => timer = setTimeout(() => r("quiet"), quiet)),
    ]);
    clearTimeout(timer);
    if (n === "quiet" || n === null) break;
    scanner.push(buf.subarray(0, n));
  }
  return got;
}

/**
 * Splits a server's byte stream into lines, skipping payloads: `onLine` gets each control line
 * (CRLF removed) and returns the byte count of the payload that follows it (0 for none).
 */
class Scanner {
  readonly #onLine: (line: string) => number;
  #pending = new Uint8Array(0);
  #skip = 0;

  constructor(onLine: (line: string) => number) {
    this.#onLine = onLine;
  }

  push(chunk: Uint8Array): void {
    let data = chunk;
    if (this.#pending.length > 0) {
      data = new Uint8Array(this.#pending.length + chunk.length);
      data.set(this.#pending);
      data.set(chunk, this.#pending.length);
      this.#pending = new Uint8Array(0);
    }
    let at = 0;
    while (at < data.length) {
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, data.length - at);
        this.#skip -= take;
        at += take;
        continue;
      }
      const lf = data.indexOf(10, at);
      if (lf < 0) {
        this.#pending = data.slice(at);
        return;
      }
      const end = lf > at && data[lf - 1] === 13 ? lf - 1 : lf;
      const size = this.#onLine(text.decode(data.subarray(at, end)));
      at = lf + 1;
      if (size > 0) this.#skip = size + 2;
    }
  }
}

/** What a publisher saw. */
export interface Published {
  /** `OK` replies read. */
  acks: number;
  /** The longest time one write took to be taken by TCP, in ms (how long it was held back). */
  longestStall: number;
  /** Messages per second, from the first write to the last reply. */
  rate: number;
  /** Whether it was cut. */
  cut: boolean;
}

/**
 * Pipelines `count` messages of `size` bytes into `room`, in writes of about 64 KiB, while
 * reading the replies.
 */
export async function publish(
  conn: Deno.Conn,
  room: string,
  count: number,
  size: number,
): Promise<Published> {
  const payload = new Uint8Array(size).fill(120);
  const head = utf8.encode(`SAY ${room} ${size}\r\n`);
  const frame = new Uint8Array(head.length + size + 2);
  frame.set(head);
  frame.set(payload, head.length);
  frame.set([13, 10], head.length + size);
  const perWrite = Math.max(1, Math.floor(64 * 1024 / frame.length));
  const chunk = new Uint8Array(frame.length * perWrite);
  for (let i = 0; i < perWrite; i++) chunk.set(frame, i * frame.length);
  const started = performance.now();
  let longestStall = 0;
  let cut = false;
  const reading = (async () => {
    let acks = 0;
    const scanner = new Scanner((line) => {
      if (line.startsWith("OK ")) acks++;
      else if (line.startsWith("BYE")) cut = true;
      else if (line.startsWith("MSG ")) return Number(line.slice(line.lastIndexOf(" ") + 1));
      return 0;
    });
    const buf = new Uint8Array(256 * 1024);
    while (acks < count && !cut) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      scanner.push(buf.subarray(0, n));
    }
    return acks;
  })();
  try {
    for (let sent = 0; sent < count; sent += perWrite) {
      const n = Math.min(perWrite, count - sent);
      const t = performance.now();
      await writeAll(conn, n === perWrite ? chunk : chunk.subarray(0, n * frame.length));
      longestStall = Math.max(longestStall, performance.now() - t);
    }
  } catch {
    cut = true;
  }
  const acks = await reading;
  const seconds = (performance.now() - started) / 1000;
  return { acks, longestStall, rate: acks / seconds, cut };
}
