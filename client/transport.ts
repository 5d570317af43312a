/**
 * The bytes under a client: {@linkcode dial} opens a TCP or TLS connection, a
 * {@linkcode Transport} is what a connection reads and writes through, and the
 * {@linkcode Writer} is its one write coalescer: one write in flight, everything queued meanwhile
 * goes out together in the next write.
 *
 * @module
 */

import type { ByteSource } from "../lib/protocol/frames.ts";
import { DEFAULT_HOST, DEFAULT_PORT } from "../lib/protocol/limits.ts";

/** What a connection runs on: a `Deno.Conn` (TCP or TLS), or a fake in tests. */
export interface Transport extends ByteSource {
  /** Writes some of `bytes`; resolves with how many were written. */
  write(bytes: Uint8Array): Promise<number>;
  /** Closes both directions; a pending read then ends. */
  close(): void;
}

/** The connection was closed (by us, by the server, or by the network). */
export class ConnectionClosedError extends Error {
  /**
   * Makes the error.
   *
   * @param message What happened.
   * @param options Standard error options (`cause`).
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ConnectionClosedError } from "./transport.ts";
   * const e = new ConnectionClosedError("Connection closed by the server");
   * assert.equal(e.name, "ConnectionClosedError");
   * ```
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectionClosedError";
  }
}

/**
 * TLS could not be set up: the server's certificate does not verify, the server does not speak
 * TLS, or the CA given is unusable. Never followed by a plaintext retry.
 */
export class TlsError extends Error {
  /**
   * Makes the error.
   *
   * @param message What went wrong and what to do.
   * @param options Standard error options (`cause`).
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TlsError } from "./transport.ts";
   * const e = new TlsError("Cannot connect to example.org:7373 over TLS: expired");
   * assert.equal(e.name, "TlsError");
   * ```
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TlsError";
  }
}

/** Options of {@linkcode dial}. */
export interface DialOptions {
  /**
   * Server host name or address.
   * @default {"127.0.0.1"}
   */
  host?: string;
  /**
   * Server port.
   * @default {7373}
   */
  port?: number;
  /**
   * Speak TLS.
   * @default {false}
   */
  tls?: boolean;
  /**
   * PEM certificates of private CAs to trust (TLS only).
   * @default {undefined}
   */
  caCerts?: string[];
  /**
   * Milliseconds for the connection and the TLS handshake.
   * @default {10000}
   */
  timeout?: number;
  /**
   * Aborts connecting.
   * @default {AbortSignal.timeout(timeout)}
   */
  signal?: AbortSignal;
}

/**
 * Opens a TCP connection (with Nagle off), or a TLS one with its handshake done, turning TLS
 * failures into a {@linkcode TlsError} that says what to do.
 *
 * @param options See {@linkcode DialOptions}.
 * @returns The open connection.
 * @throws {TlsError} With `tls`, when the certificate does not verify, the server does not speak
 *   TLS, or the CA given is unusable.
 * @throws {Deno.errors.ConnectionRefused} When nothing listens there.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dial } from "./transport.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const conn = await dial({ port: listener.addr.port });
 * const accepted = await listener.accept();
 * await conn.write(new TextEncoder().encode("PING\r\n"));
 * const buf = new Uint8Array(16);
 * assert.equal(await accepted.read(buf), 6);
 * conn.close();
 * accepted.close();
 * listener.close();
 * ```
 */
export async function dial(options: DialOptions = {}): Promise<Deno.Conn> {
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  const timeout = options.timeout ?? 10_000;
  const signal = options.signal ?? AbortSignal.timeout(timeout);
  const conn: Deno.Conn = options.tls
    ? await connectTls(host, port, options.caCerts, signal, timeout)
    : await Deno.connect({ hostname: host, port, signal } as Deno.ConnectOptions);
  try {
    (conn as Deno.TcpConn).setNoDelay?.(true);
  } catch {
    // Not supported on this transport.
  }
  return conn;
}

function closeQuietly(conn: Transport): void {
  try {
    conn.close();
  } catch {
    // Closed.
  }
}

/**
 * The read side of a transport, as `frames()` reads it: it remembers the error of a failed read
 * (`frames()` only sees the end), and, while asked to, spots a TLS server answering a plaintext
 * client (a read that starts like a TLS record then ends the stream).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TransportSource } from "./transport.ts";
 * const tlsAlert = new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]);
 * const source = new TransportSource({
 *   read(buf: Uint8Array): Promise<number | null> {
 *     buf.set(tlsAlert);
 *     return Promise.resolve(tlsAlert.length);
 *   },
 *   write: (bytes: Uint8Array) => Promise.resolve(bytes.length),
 *   close() {},
 * }, { sniffTls: true });
 * assert.equal(await source.read(new Uint8Array(64)), null);
 * assert.ok(source.tlsSeen);
 * ```
 */
export class TransportSource implements ByteSource {
  readonly #transport: Transport;
  #sniff: boolean;
  #tlsSeen = false;
  #failed = false;
  #error: unknown = undefined;

  /**
   * Wraps a transport.
   *
   * @param transport The transport.
   * @param options `sniffTls`: look for a TLS record at the start of each read, until
   *   {@linkcode TransportSource.stopSniffing} (default false).
   */
  constructor(transport: Transport, options: { sniffTls?: boolean } = {}) {
    this.#transport = transport;
    this.#sniff = options.sniffTls ?? false;
  }

  /** True when a read started like a TLS record (that read then said "end"). */
  get tlsSeen(): boolean {
    return this.#tlsSeen;
  }

  /** The error of the read that failed, or undefined while none did. */
  get failure(): { error: unknown } | undefined {
    return this.#failed ? { error: this.#error } : undefined;
  }

  /** Stops looking for TLS records (once the greeting is in). */
  stopSniffing(): void {
    this.#sniff = false;
  }

  /**
   * Reads into `buf`.
   *
   * @param buf Where the bytes go.
   * @returns How many were read, or null at the end (or at a TLS record while sniffing).
   * @throws {Error} What the transport's read threw (remembered in `failure`).
   */
  async read(buf: Uint8Array): Promise<number | null> {
    let n: number | null;
    try {
      n = await this.#transport.read(buf);
    } catch (e) {
      if (!this.#failed) {
        this.#failed = true;
        this.#error = e;
      }
      throw e;
    }
    if (
      this.#sniff && n !== null && n >= 2 && (buf[0] === 0x15 || buf[0] === 0x16) && buf[1] === 3
    ) {
      this.#tlsSeen = true;
      return null;
    }
    return n;
  }

  /** Closes the transport (quietly when it is closed already). */
  close(): void {
    closeQuietly(this.#transport);
  }
}

/** Opens a TLS connection and finishes the handshake, turning failures into clear errors. */
async function connectTls(
  host: string,
  port: number,
  caCerts: string[] | undefined,
  signal: AbortSignal,
  timeout: number,
): Promise<Deno.TlsConn> {
  const where = `Cannot connect to ${host}:${port} over TLS`;
  let conn: Deno.TlsConn;
  try {
    conn = await Deno.connectTls(
      { hostname: host, port, caCerts, signal } as Deno.ConnectTlsOptions,
    );
  } catch (e) {
    if (e instanceof Deno.errors.ConnectionRefused || signal.aborted) throw e;
    const msg = (e as Error).message;
    if (/pem|certificate/i.test(msg)) {
      throw new TlsError(`${where}: the CA certificate given is not usable: ${msg}`, { cause: e });
    }
    throw e;
  }
  const timer = setTimeout(() => closeQuietly(conn), timeout);
  try {
    await conn.handshake();
    return conn;
  } catch (e) {
    closeQuietly(conn);
    const msg = (e as Error).message;
    if (/certificate|UnknownIssuer|NotValidForName|Expired|BadSignature/i.test(msg)) {
      throw new TlsError(
        `${where}: the server's certificate does not verify (${msg}); ` +
          "trust its CA with --ca FILE (caCerts), and connect by a name the certificate lists",
        { cause: e },
      );
    }
    if (/corrupt message|InvalidContentType|wrong version/i.test(msg)) {
      throw new TlsError(
        `${where}: the server does not speak TLS (a plaintext server? connect without --tls)`,
        { cause: e },
      );
    }
    throw new TlsError(`${where}: ${msg}`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
}

interface Queued {
  bytes: Uint8Array;
  done: () => void;
  fail: (error: Error) => void;
}

/** Writes bytes inside {@linkcode Writer.exclusive}, ahead of everything held meanwhile. */
export type SectionWrite = (bytes: Uint8Array) => Promise<void>;

/** Options of the {@linkcode Writer} constructor. */
export interface WriterOptions {
  /**
   * Called once when a write fails, with the error every write of the batch was rejected with
   * (the connection should close: call {@linkcode Writer.fail} from here).
   * @default {() => {}}
   */
  onFailure?: (error: ConnectionClosedError) => void;
}

/**
 * The write side of a transport: writes go out in order, one write in flight; whatever is queued
 * meanwhile goes out in one write (partial writes are finished). An exclusive section holds every
 * other write back while it writes, so an upload payload is never interleaved with commands.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Writer } from "./transport.ts";
 * const writes: number[] = [];
 * const writer = new Writer({
 *   write(bytes: Uint8Array): Promise<number> {
 *     writes.push(bytes.length);
 *     return Promise.resolve(bytes.length);
 *   },
 * });
 * const one = writer.write(new Uint8Array(3));
 * const two = writer.write(new Uint8Array(4)); // queued while the first is in flight
 * const three = writer.write(new Uint8Array(5));
 * await Promise.all([one, two, three]);
 * assert.deepEqual(writes, [3, 9]); // the two queued meanwhile went out in one write
 * ```
 */
export class Writer {
  readonly #transport: Pick<Transport, "write">;
  readonly #onFailure: (error: ConnectionClosedError) => void;
  #out: Queued[] = [];
  #writing = false;
  // While an exclusive section runs, every other write waits here.
  #exclusive = false;
  #held: Queued[] = [];
  #sections: Promise<void> = Promise.resolve();
  #failed: Error | null = null;
  readonly #direct: SectionWrite = (bytes) => this.#enqueue(bytes, true);

  /**
   * Makes a writer.
   *
   * @param transport Where the bytes go.
   * @param options See {@linkcode WriterOptions}.
   */
  constructor(transport: Pick<Transport, "write">, options: WriterOptions = {}) {
    this.#transport = transport;
    this.#onFailure = options.onFailure ?? (() => {});
  }

  /** The error writes fail with, once {@linkcode Writer.fail} was called. */
  get failed(): Error | null {
    return this.#failed;
  }

  /**
   * Queues bytes.
   *
   * @param bytes The bytes; must not change until the promise settles.
   * @returns Resolves once the bytes were handed to the transport.
   */
  write(bytes: Uint8Array): Promise<void> {
    return this.#enqueue(bytes, false);
  }

  /**
   * Runs `body` with every other write held back until it settles; sections run one at a time,
   * in the order they were asked for.
   *
   * @param body Writes through the function it is given.
   * @returns What `body` returns.
   * @throws {Error} The failure error when the writer failed before the section's turn.
   */
  async exclusive<T>(body: (write: SectionWrite) => Promise<T>): Promise<T> {
    const before = this.#sections;
    let release!: () => void;
    this.#sections = new Promise<void>((r) => release = r);
    await before;
    try {
      if (this.#failed) throw this.#failed;
      this.#exclusive = true;
      return await body(this.#direct);
    } finally {
      this.#exclusive = false;
      const held = this.#held;
      this.#held = [];
      for (const o of held) this.#out.push(o);
      if (this.#out.length > 0 && !this.#writing) void this.#pump();
      release();
    }
  }

  /**
   * Rejects every queued write with `error`, and every later one.
   *
   * @param error Why (the first call's error stays).
   */
  fail(error: Error): void {
    this.#failed ??= error;
    for (const o of this.#out) o.fail(this.#failed);
    this.#out = [];
    for (const o of this.#held) o.fail(this.#failed);
    this.#held = [];
  }

  #enqueue(bytes: Uint8Array, direct: boolean): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise<void>((done, fail) => {
      if (this.#exclusive && !direct) {
        this.#held.push({ bytes, done, fail });
        return;
      }
      this.#out.push({ bytes, done, fail });
      if (!this.#writing) void this.#pump();
    });
  }

  async #pump(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#out.length > 0) {
        const batch = this.#out;
        this.#out = [];
        let buf: Uint8Array;
        if (batch.length === 1) buf = batch[0]!.bytes;
        else {
          buf = new Uint8Array(batch.reduce((n, b) => n + b.bytes.length, 0));
          let at = 0;
          for (const b of batch) {
            buf.set(b.bytes, at);
            at += b.bytes.length;
          }
        }
        try {
          for (let off = 0; off < buf.length;) {
            off += await this.#transport.write(buf.subarray(off));
          }
        } catch (e) {
          const err = new ConnectionClosedError("Cannot send: the connection is closed", {
            cause: e,
          });
          for (const b of batch) b.fail(err);
          this.#onFailure(err);
          return;
        }
        for (const b of batch) b.done();
      }
    } finally {
      this.#writing = false;
    }
  }
}
