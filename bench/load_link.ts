/**
 * The load client's connections: a {@linkcode Link} reads into its own buffer and scans whole
 * frames in place; a {@linkcode Gate} wakes waits re-checked after every read. Shared by the
 * message workloads (bench/load_pubsub.ts).
 *
 * @module
 */

import { concat, type Scanner, type Wire } from "./wire.ts";

/** When the current chunk was read (`performance.now()`): receive time of its messages. */
export let readAt = 0;

/** One connection: reads into its own buffer and scans whole frames in place. */
export class Link {
  readonly conn: Deno.TcpConn;
  readonly scanner: Scanner;
  buf: Uint8Array;
  view: DataView;
  #fill = 0;

  constructor(conn: Deno.TcpConn, scanner: Scanner, bufSize: number) {
    this.conn = conn;
    this.scanner = scanner;
    this.buf = new Uint8Array(bufSize);
    this.view = new DataView(this.buf.buffer);
  }

  /** Reads once and scans; false at EOF. Throws when the server sent an error. */
  async read(): Promise<boolean> {
    if (this.#fill === this.buf.length) {
      const grown = new Uint8Array(this.buf.length * 2);
      grown.set(this.buf);
      this.buf = grown;
      this.view = new DataView(grown.buffer);
    }
    const n = await this.conn.read(this.buf.subarray(this.#fill));
    if (n === null) return false;
    readAt = performance.now();
    const end = this.#fill + n;
    const used = this.scanner.scan(this.buf, 0, end);
    if (used < end) this.buf.copyWithin(0, used, end);
    this.#fill = end - used;
    if (this.scanner.error !== "") throw new Error(`Server said: ${this.scanner.error}`);
    return true;
  }

  async write(bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length;) off += await this.conn.write(bytes.subarray(off));
  }

  /** Reads until `cond()` holds. */
  async until(cond: () => boolean, what: string): Promise<void> {
    while (!cond()) {
      if (!await this.read()) throw new Error(`Connection closed while waiting for ${what}`);
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }
}

/** Connects, sends the handshake and a ping, and waits for its `PONG`. */
export async function open(
  wire: Wire,
  port: number,
  bufSize: number,
  echo: boolean,
): Promise<Link> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const link = new Link(conn, wire.scanner(), bufSize);
  await link.write(concat(wire.hello(echo), wire.ping()));
  await link.until(() => link.scanner.pongs >= 1, "the handshake PONG");
  return link;
}

/** Waits for conditions re-checked after every read; fails every wait at once on error. */
export class Gate {
  #waiters: { cond: () => boolean; resolve: () => void; reject: (e: Error) => void }[] = [];
  #error: Error | null = null;

  wait(cond: () => boolean): Promise<void> {
    if (this.#error !== null) return Promise.reject(this.#error);
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ cond, resolve, reject }));
  }

  check(): void {
    if (this.#waiters.length === 0) return;
    const keep = [];
    for (const w of this.#waiters) {
      if (w.cond()) w.resolve();
      else keep.push(w);
    }
    this.#waiters = keep;
  }

  fail(e: Error): void {
    this.#error ??= e;
    for (const w of this.#waiters) w.reject(this.#error);
    this.#waiters = [];
  }
}

/** Reads a link until stopped, calling `after` after every read; failures go to the gate. */
export async function pump(
  link: Link,
  gate: Gate,
  stop: { done: boolean },
  after?: () => void,
): Promise<void> {
  try {
    while (!stop.done) {
      if (!await link.read()) {
        if (!stop.done) gate.fail(new Error("Server closed a connection during the run"));
        return;
      }
      after?.();
      gate.check();
    }
  } catch (e) {
    if (!stop.done) gate.fail(e as Error);
  }
}

/** Fails the gate when the run takes over `ms` milliseconds. */
export function deadline(gate: Gate, ms: number): ReturnType<typeof setTimeout> {
  return setTimeout(() => gate.fail(new Error(`Run did not finish within ${ms} ms`)), ms);
}

/** `size` bytes of `abc...z` repeated. */
export function payloadOf(size: number): Uint8Array {
  const p = new Uint8Array(size);
  for (let i = 0; i < size; i++) p[i] = 97 + (i % 26);
  return p;
}

/** Sends `bytes` and a ping, and reads until the ping's `PONG`. */
export async function syncWith(
  wire: Wire,
  link: Link,
  bytes: Uint8Array,
  what: string,
): Promise<void> {
  const want = link.scanner.pongs + 1;
  await link.write(concat(bytes, wire.ping()));
  await link.until(() => link.scanner.pongs >= want, what);
}
