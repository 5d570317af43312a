/**
 * The one raw line-protocol client of the tests: writes exact bytes over a real socket and reads
 * frames with the real decoder, for tests that must see every byte the server sends. Also the
 * byte-exact reads and writes on a plain connection that some tests need below the decoder.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Decoder } from "../../lib/protocol/decoder.ts";
import type { DecodeEvent, Frame } from "../../lib/protocol/frame.ts";
import { SERVER_PAYLOADS } from "../../lib/protocol/verbs.ts";
import { decodeText, encodeText } from "./bytes.ts";

/**
 * Writes all of `data` to a connection, however many writes it takes.
 *
 * @param conn The connection.
 * @param data The bytes.
 */
export async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
}

/**
 * Reads exactly `n` bytes from a connection.
 *
 * @param conn The connection.
 * @param n How many bytes.
 * @returns The bytes.
 * @throws {Error} On EOF first, or after 5 s.
 */
export async function readBytes(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let at = 0;
  const deadline = Date.now() + 5000;
  while (at < n) {
    if (Date.now() > deadline) throw new Error(`Timed out reading ${n} bytes`);
    const got = await conn.read(out.subarray(at));
    if (got === null) throw new Error(`EOF after ${at} of ${n} bytes`);
    at += got;
  }
  return out;
}

/**
 * Reads one LF-terminated line byte by byte (for byte-exact checks), at most 64 KiB.
 *
 * @param conn The connection.
 * @returns The line as UTF-8 text, its CRLF or LF included.
 * @throws {Error} On EOF inside the line.
 */
export async function readLine(conn: Deno.Conn): Promise<string> {
  const line: number[] = [];
  const one = new Uint8Array(1);
  while (line.length < 65536) {
    const n = await conn.read(one);
    if (n === null) throw new Error("EOF inside a line");
    line.push(one[0]!);
    if (one[0] === 10) break;
  }
  return decodeText(new Uint8Array(line));
}

/**
 * A raw protocol client: writes exact bytes, reads frames with the real decoder. For tests that
 * must see every byte the server sends.
 */
export class RawClient implements AsyncDisposable {
  readonly conn: Deno.TcpConn;
  readonly #decoder = new Decoder({
    payloads: SERVER_PAYLOADS,
    maxPayload: 256 * 1024 * 1024,
    maxLine: 1 << 20,
  });
  readonly #events: DecodeEvent[] = [];
  #eof = false;
  // A read that outlived an `event()` timeout: the next call takes its bytes instead of losing them.
  #reading: Promise<Uint8Array | null> | null = null;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Connects; does not read HELLO (use `frame()` for it, or {@linkcode rawClient}). */
  static async connect(port: number, hostname = "127.0.0.1"): Promise<RawClient> {
    return new RawClient(await Deno.connect({ hostname, port }));
  }

  /** Writes text (no line ending added) or bytes. */
  send(data: string | Uint8Array): Promise<void> {
    return writeAll(this.conn, typeof data === "string" ? encodeText(data) : data);
  }

  /** Writes one command line with CRLF. */
  line(text: string): Promise<void> {
    return this.send(text + "\r\n");
  }

  /**
   * The next decoded event, or `null` at EOF.
   * @param timeoutMs Fails the test after this long.
   */
  async event(timeoutMs = 5000): Promise<DecodeEvent | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.#events.length === 0) {
      if (this.#eof) return null;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`No frame from server within ${timeoutMs} ms`);
      this.#reading ??= this.#read();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([
        this.#reading,
        new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), left)),
      ]);
      clearTimeout(timer);
      if (chunk === "timeout") throw new Error(`No frame from server within ${timeoutMs} ms`);
      this.#reading = null;
      if (chunk === null) {
        this.#eof = true;
        continue;
      }
      this.#decoder.push(chunk);
      for (let ev = this.#decoder.next(); ev !== undefined; ev = this.#decoder.next()) {
        if (ev.type === "frame" && ev.payload) {
          this.#events.push({ ...ev, payload: ev.payload.slice() });
        } else if (ev.type === "data") this.#events.push({ type: "data", bytes: ev.bytes.slice() });
        else this.#events.push(ev);
      }
    }
    return this.#events.shift()!;
  }

  async #read(): Promise<Uint8Array | null> {
    const buf = new Uint8Array(64 * 1024);
    const n = await this.conn.read(buf).catch(() => null);
    return n === null ? null : buf.subarray(0, n);
  }

  /** The next complete frame (fails on EOF or a stream event). */
  async frame(timeoutMs = 5000): Promise<Frame> {
    const ev = await this.event(timeoutMs);
    if (ev === null) throw new Error("Connection closed by server, expected a frame");
    if (ev.type !== "frame") throw new Error(`Expected a frame, got ${ev.type}`);
    return ev;
  }

  /** The next frame as its control line text (`OK 3`, `MSG lobby bob 5`), payload as text. */
  async next(timeoutMs = 5000): Promise<string> {
    const f = await this.frame(timeoutMs);
    const head = [f.verb, ...f.args].join(" ");
    return f.payload ? `${head} ${decodeText(f.payload)}` : head;
  }

  /** Reads HELLO and returns its JSON. */
  async hello(): Promise<Record<string, unknown>> {
    const f = await this.frame();
    if (f.verb !== "HELLO") throw new Error(`Expected HELLO, got ${f.verb} ${f.args.join(" ")}`);
    return JSON.parse(f.args.join(" "));
  }

  /** Resolves true when the server closes the connection within the time. */
  async closed(timeoutMs = 5000): Promise<boolean> {
    try {
      for (;;) if ((await this.event(timeoutMs)) === null) return true;
    } catch {
      return false;
    }
  }

  /** Closes the socket. */
  close(): void {
    try {
      this.conn.close();
    } catch {
      // Closed.
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

/** Options of {@linkcode rawClient}: what to do after HELLO, in this order. */
export interface RawClientOptions {
  /** `AUTH` with these arguments (user and password, or a token); the reply must be `OK ...`. */
  login?: string[];
  /** `NICK` this; the reply must be `OK <nick>`. */
  nick?: string;
  /** `JOIN` this room; the reply must be `OK <room>`. */
  room?: string;
}

/**
 * Connects a raw client to the loopback server, reads HELLO, then logs in, takes a nick and joins
 * a room as asked.
 *
 * @param port The server's port.
 * @param options See {@linkcode RawClientOptions}.
 * @returns The client; dispose it with `await using`.
 */
export async function rawClient(port: number, options: RawClientOptions = {}): Promise<RawClient> {
  const c = await RawClient.connect(port);
  await c.hello();
  if (options.login !== undefined && options.login.length > 0) {
    await c.line(`AUTH ${options.login.join(" ")}`);
    assert.match(await c.next(), /^OK /, `AUTH ${options.login[0]} ...`);
  }
  if (options.nick !== undefined) {
    await c.line(`NICK ${options.nick}`);
    assert.equal(await c.next(), `OK ${options.nick}`);
  }
  if (options.room !== undefined) {
    await c.line(`JOIN ${options.room}`);
    assert.equal(await c.next(), `OK ${options.room}`);
  }
  return c;
}

/**
 * Asserts that `PING` is answered by the very next frame: the connection goes on, and nothing the
 * server queued before reading the `PING` is still waiting.
 *
 * @param c The client.
 */
export async function pingPong(c: RawClient): Promise<void> {
  await c.line("PING");
  assert.equal(await c.next(), "PONG");
}

/**
 * The next frame as text that `skip` does not match (pushes a test does not care about).
 *
 * @param c The client.
 * @param skip Matches the lines to pass over.
 * @param timeoutMs For each frame.
 * @returns The first line not skipped.
 */
export async function nextUnskipped(c: RawClient, skip: RegExp, timeoutMs = 5000): Promise<string> {
  for (;;) {
    const line = await c.next(timeoutMs);
    if (!skip.test(line)) return line;
  }
}

/**
 * Reads until the server closes; returns every event seen.
 *
 * @param c The client.
 * @param timeoutMs How long the connection may stay open in all.
 * @returns The events before EOF.
 * @throws {Error} When the server keeps it open past `timeoutMs`.
 */
export async function untilClosed(c: RawClient, timeoutMs = 5000): Promise<DecodeEvent[]> {
  const seen: DecodeEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ev = await c.event(Math.max(1, deadline - Date.now()));
    if (ev === null) return seen;
    seen.push(ev);
  }
}
