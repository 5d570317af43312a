/**
 * The client library: `connect()` gives a {@linkcode Client} with a typed method for every
 * command, replies matched to commands in order, and pushes as an async iterable.
 *
 * @module
 */

import { Decoder } from "../lib/decoder.ts";
import { encodeFrame, encodeLine } from "../lib/encoder.ts";
import { ServerError } from "../lib/errors.ts";
import { type Frame, PUSH_VERBS, SERVER_PAYLOADS, type StreamStart } from "../lib/frame.ts";
import { DEFAULT_HOST, DEFAULT_PORT } from "../lib/limits.ts";

/** Options of {@linkcode connect}. */
export interface ConnectOptions {
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
  /** PEM certificates of private CAs to trust (TLS only). */
  caCerts?: string[];
  /** A nick to take right after connecting. */
  nick?: string;
  /**
   * Largest reply payload accepted (`WHO`, `LIST` of big folders).
   * @default {268435456}
   */
  maxPayload?: number;
  /**
   * Most pushes kept while nobody reads {@linkcode Client.messages}; older ones are dropped.
   * @default {100000}
   */
  maxBufferedPushes?: number;
  /**
   * Milliseconds to wait for the connection and `HELLO`.
   * @default {10000}
   */
  timeout?: number;
}

/** What the server said in `HELLO`. */
export interface Hello {
  server: string;
  version: string;
  proto: number;
  nick: string;
  max_payload: number;
  auth_required: boolean;
  /** How to log in when `auth_required`: `password` (`AUTH user password`), `token` (`AUTH token`). */
  auth_methods?: ("password" | "token")[];
  tls: boolean;
  [key: string]: unknown;
}

/** A push: a frame the server sent on its own. */
export type Push =
  | { type: "msg"; room: string; from: string; payload: Uint8Array; text: string }
  | { type: "dm"; from: string; payload: Uint8Array; text: string }
  | { type: "joined"; room: string; nick: string }
  | { type: "left"; room: string; nick: string }
  | { type: "bye"; reason: string };

/** One row of `WHO`. */
export interface WhoEntry {
  nick: string;
  rooms: string[];
  since: number;
}

/** One row of `ROOMS`. */
export interface RoomEntry {
  room: string;
  members: number;
}

/** Result of {@linkcode Client.time}. */
export interface TimeSample {
  /** The server's clock, as it sent it. */
  iso: string;
  /** The server's clock, unix milliseconds. */
  server: number;
  /** Round-trip time, milliseconds. */
  rtt: number;
  /** Estimated server clock minus local clock, milliseconds (positive: the server is ahead). */
  offset: number;
}

/** Receives a streamed reply (`FILE`). */
export interface ReplySink {
  /** A piece of the payload; valid only until the returned promise settles. */
  data(bytes: Uint8Array): void | Promise<void>;
  /** The payload ended. */
  end(): void | Promise<void>;
  /** The connection was lost first. */
  abort(error: Error): void;
}

interface Pending {
  resolve(frame: Frame): void;
  reject(error: Error): void;
  /** For commands answered by a streamed reply. */
  stream?: (start: StreamStart) => ReplySink | Promise<ReplySink>;
}

/** The connection was closed (by us, by the server, or by the network). */
export class ConnectionClosedError extends Error {
  /**
   * @param message What happened.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectionClosedError";
  }
}

const text = new TextDecoder();
const utf8 = new TextEncoder();

/**
 * A connection to a Switchboard server. Commands may be issued concurrently: they are pipelined
 * and their replies come back in order.
 */
export class Client implements AsyncDisposable {
  /** What the server said on connect. */
  readonly hello: Hello;
  readonly #conn: Deno.Conn;
  readonly #decoder: Decoder;
  readonly #pending: Pending[] = [];
  #pendingHead = 0;
  readonly #pushes: Push[] = [];
  #pushWaiter: (() => void) | null = null;
  readonly #maxPushes: number;
  #dropped = 0;
  #closed: Error | null = null;
  #nick: string;
  // The writer: one write in flight, everything queued meanwhile goes out in one write.
  #out: { bytes: Uint8Array; done: () => void; fail: (e: Error) => void }[] = [];
  #writing = false;
  #sink: ReplySink | null = null;
  readonly #readDone: Promise<void>;

  /** Use {@linkcode connect}. */
  constructor(conn: Deno.Conn, hello: Hello, decoder: Decoder, maxPushes: number) {
    this.#conn = conn;
    this.hello = hello;
    this.#nick = hello.nick;
    this.#decoder = decoder;
    this.#maxPushes = maxPushes;
    this.#readDone = this.#readLoop();
  }

  /** The nick the server knows us by. */
  get nick(): string {
    return this.#nick;
  }

  /** True once the connection is closed. */
  get closed(): boolean {
    return this.#closed !== null;
  }

  /** Pushes dropped because nobody read them in time. */
  get droppedPushes(): number {
    return this.#dropped;
  }

  /**
   * Sends raw bytes of a command and waits for its reply frame.
   *
   * @param bytes The encoded command.
   * @param stream For commands answered with a streamed payload.
   * @returns The reply; an `ERR` reply rejects with {@linkcode ServerError}.
   */
  request(bytes: Uint8Array, stream?: Pending["stream"]): Promise<Frame> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise<Frame>((resolve, reject) => {
      this.#pending.push({ resolve, reject, stream });
      this.write(bytes).catch(() => {});
    });
  }

  /**
   * Writes raw bytes (commands, upload payloads) in order.
   *
   * @param bytes Bytes to send; must not change until the promise settles.
   * @returns Resolves once the bytes were handed to the socket.
   */
  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise<void>((done, fail) => {
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
          for (let off = 0; off < buf.length;) off += await this.#conn.write(buf.subarray(off));
        } catch (e) {
          const err = new ConnectionClosedError("Cannot send: the connection is closed", { cause: e });
          for (const b of batch) b.fail(err);
          this.#shutdown(err);
          return;
        }
        for (const b of batch) b.done();
      }
    } finally {
      this.#writing = false;
    }
  }

  async #readLoop(): Promise<void> {
    const decoder = this.#decoder;
    let buf = new Uint8Array(16 * 1024);
    let error: Error = new ConnectionClosedError("Connection closed by the server");
    try {
      // What arrived together with HELLO is still in the decoder.
      await this.#drain();
      for (;;) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        await this.#feed(buf.subarray(0, n));
        if (n === buf.length && buf.length < 1024 * 1024) buf = new Uint8Array(buf.length * 2);
        if (decoder.dead) break;
      }
    } catch (e) {
      if (!(e instanceof ConnectionClosedError)) {
        error = new ConnectionClosedError(`Connection lost: ${(e as Error).message}`, { cause: e });
      } else error = e;
    }
    this.#shutdown(this.#closed ?? error);
  }

  async #feed(chunk: Uint8Array): Promise<void> {
    this.#decoder.push(chunk);
    await this.#drain();
  }

  async #drain(): Promise<void> {
    const decoder = this.#decoder;
    for (let ev = decoder.next(); ev !== undefined; ev = decoder.next()) {
      switch (ev.type) {
        case "frame":
          if (PUSH_VERBS.has(ev.verb)) this.#push(ev);
          else this.#reply(ev);
          break;
        case "stream": {
          const entry = this.#shift();
          if (entry?.stream === undefined) {
            throw new ConnectionClosedError(`Protocol error: unexpected ${ev.verb} reply`);
          }
          this.#sink = await entry.stream(ev);
          entry.resolve({ type: "frame", verb: ev.verb, args: ev.args, payload: null, badText: false });
          break;
        }
        case "data":
          await this.#sink?.data(ev.bytes);
          break;
        case "end": {
          const sink = this.#sink;
          this.#sink = null;
          await sink?.end();
          break;
        }
        case "error":
          throw new ConnectionClosedError(`Protocol error from server: ${ev.error.message}`);
      }
    }
  }

  #shift(): Pending | undefined {
    if (this.#pendingHead >= this.#pending.length) return undefined;
    const entry = this.#pending[this.#pendingHead]!;
    this.#pending[this.#pendingHead++] = undefined as unknown as Pending;
    if (this.#pendingHead === this.#pending.length) {
      this.#pending.length = 0;
      this.#pendingHead = 0;
    }
    return entry;
  }

  #reply(frame: Frame): void {
    const entry = this.#shift();
    if (entry === undefined) return; // `ERR` before `BYE` after framing loss, or a stray reply.
    if (frame.verb === "ERR") {
      const code = Number(frame.args[0]);
      entry.reject(new ServerError(Number.isFinite(code) ? code : 500, frame.args.slice(1).join(" ")));
    } else entry.resolve(frame);
  }

  #push(frame: Frame): void {
    const a = frame.args;
    let push: Push;
    switch (frame.verb) {
      case "PING":
        this.write(encodeLine("PONG")).catch(() => {});
        return;
      case "MSG": {
        const payload = frame.payload ?? new Uint8Array(0);
        push = { type: "msg", room: a[0] ?? "", from: a[1] ?? "", payload: payload.slice(), text: text.decode(payload) };
        break;
      }
      case "DM": {
        const payload = frame.payload ?? new Uint8Array(0);
        push = { type: "dm", from: a[0] ?? "", payload: payload.slice(), text: text.decode(payload) };
        break;
      }
      case "JOINED":
        push = { type: "joined", room: a[0] ?? "", nick: a[1] ?? "" };
        break;
      case "LEFT":
        push = { type: "left", room: a[0] ?? "", nick: a[1] ?? "" };
        break;
      default:
        push = { type: "bye", reason: a.join(" ") };
    }
    if (this.#pushes.length >= this.#maxPushes) {
      this.#pushes.shift();
      this.#dropped++;
    }
    this.#pushes.push(push);
    this.#pushWaiter?.();
  }

  #shutdown(error: Error): void {
    if (this.#closed === null) this.#closed = error;
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
    for (let e = this.#shift(); e !== undefined; e = this.#shift()) e.reject(this.#closed);
    this.#sink?.abort(this.#closed);
    this.#sink = null;
    for (const o of this.#out) o.fail(this.#closed);
    this.#out = [];
    this.#pushWaiter?.();
  }

  /**
   * Pushes as they arrive (messages, DMs, joins, leaves, `BYE`), until the connection closes.
   * Only one consumer at a time.
   *
   * @returns An async iterable of pushes.
   */
  async *messages(): AsyncIterableIterator<Push> {
    for (;;) {
      while (this.#pushes.length > 0) yield this.#pushes.shift()!;
      if (this.#closed) return;
      await new Promise<void>((resolve) => this.#pushWaiter = resolve);
      this.#pushWaiter = null;
    }
  }

  /**
   * Sends a command line and returns the reply's arguments.
   *
   * @param line The command line without its line ending.
   * @returns The reply frame.
   */
  command(line: string): Promise<Frame> {
    return this.request(encodeLine(line));
  }

  /**
   * Takes a nick.
   * @param name 1-32 of `A-Z a-z 0-9 _ -`.
   * @returns The nick.
   * @throws {ServerError} 409 when taken, 400 when invalid.
   */
  async setNick(name: string): Promise<string> {
    const r = await this.command(`NICK ${name}`);
    this.#nick = r.args[0] ?? name;
    return this.#nick;
  }

  /**
   * Joins a room, creating it if needed.
   * @param room The room.
   * @returns The room's display name.
   */
  async join(room: string): Promise<string> {
    return (await this.command(`JOIN ${room}`)).args[0] ?? room;
  }

  /**
   * Leaves a room.
   * @param room The room.
   * @returns The room's display name.
   */
  async leave(room: string): Promise<string> {
    return (await this.command(`LEAVE ${room}`)).args[0] ?? room;
  }

  /**
   * Sends a message to a room.
   * @param room The room (joined).
   * @param message Text or bytes.
   * @returns How many other members it was queued to.
   */
  async say(room: string, message: string | Uint8Array): Promise<number> {
    const bytes = typeof message === "string" ? utf8.encode(message) : message;
    return Number((await this.request(encodeFrame(`SAY ${room}`, bytes))).args[0]);
  }

  /**
   * Sends a direct message.
   * @param nick The recipient.
   * @param message Text or bytes.
   */
  async tell(nick: string, message: string | Uint8Array): Promise<void> {
    const bytes = typeof message === "string" ? utf8.encode(message) : message;
    await this.request(encodeFrame(`TELL ${nick}`, bytes));
  }

  /**
   * Lists who is online, or in a room.
   * @param room A room, or everybody.
   * @returns One entry per client.
   */
  async who(room?: string): Promise<WhoEntry[]> {
    const r = await this.command(room === undefined ? "WHO" : `WHO ${room}`);
    return JSON.parse(text.decode(r.payload ?? new Uint8Array(0)));
  }

  /**
   * Lists rooms and their member counts.
   * @returns One entry per room.
   */
  async rooms(): Promise<RoomEntry[]> {
    const r = await this.command("ROOMS");
    return JSON.parse(text.decode(r.payload ?? new Uint8Array(0)));
  }

  /**
   * Asks the server's time, with the round trip and the clock offset estimate.
   * @returns One sample.
   */
  async time(): Promise<TimeSample> {
    const t0 = performance.now();
    const local0 = Date.now();
    const r = await this.command("TIME");
    const rtt = performance.now() - t0;
    const server = Number(r.args[1]);
    return { iso: r.args[0] ?? "", server, rtt, offset: server - (local0 + rtt / 2) };
  }

  /**
   * Measures one round trip with `PING`.
   * @returns Milliseconds.
   */
  async ping(): Promise<number> {
    const t0 = performance.now();
    await this.command("PING");
    return performance.now() - t0;
  }

  /**
   * The server's command summary.
   * @returns Plain text.
   */
  async help(): Promise<string> {
    const r = await this.command("HELP");
    return text.decode(r.payload ?? new Uint8Array(0));
  }

  /**
   * Logs in: `AUTH user password` on a server with accounts, or `AUTH token` on a server with a
   * shared token (`hello.auth_required` says whether one is needed, `hello.auth_methods` which).
   * User names, passwords and tokens are one word each: no spaces or control characters.
   *
   * @param userOrToken The user name, or the token when `password` is left out.
   * @param password The user's password.
   * @returns The nick the server gave: the user name with accounts (`alice-2` for a second
   *   connection of the same user), the current nick with a token.
   * @throws {TypeError} When a word is empty or has spaces or control characters (nothing sent).
   * @throws {ServerError} 401 when refused (the same answer for a wrong user and a wrong
   *   password), 429 when the address is refused for a while, 400 when the server has no accounts.
   */
  async auth(userOrToken: string, password?: string): Promise<string> {
    const words = password === undefined ? [userOrToken] : [userOrToken, password];
    for (const w of words) {
      // deno-lint-ignore no-control-regex
      if (w === "" || /[\s\x00-\x1f\x7f]/.test(w)) {
        throw new TypeError("Cannot log in: user names, passwords and tokens are one word without spaces");
      }
    }
    const r = await this.command(`AUTH ${words.join(" ")}`);
    this.#nick = r.args[0] ?? this.#nick;
    return this.#nick;
  }

  /** Says goodbye and waits for the server to close. */
  async quit(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.command("QUIT");
    } catch {
      // Closed on the way: the goal.
    }
    await this.#readDone;
  }

  /** Closes the connection at once; pending commands reject. */
  close(): void {
    this.#shutdown(new ConnectionClosedError("Connection closed by the client"));
  }

  /** Resolves when the connection has closed. */
  get done(): Promise<void> {
    return this.#readDone;
  }

  /** Quits politely (`await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.quit();
    this.close();
  }
}

/**
 * Connects to a server and reads its `HELLO`.
 *
 * @param options See {@linkcode ConnectOptions}.
 * @returns The connected client.
 * @throws {ServerError} 503 when the server is full.
 * @throws {Deno.errors.ConnectionRefused} When nothing listens there.
 * @example
 * ```ts ignore
 * import { connect } from "./client.ts";
 * await using c = await connect({ port: 7373, nick: "alice" });
 * await c.say("lobby", "hello");
 * for await (const m of c.messages()) console.log(m);
 * ```
 */
export async function connect(options: ConnectOptions = {}): Promise<Client> {
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  const timeout = options.timeout ?? 10_000;
  const signal = AbortSignal.timeout(timeout);
  const conn: Deno.Conn = options.tls
    ? await Deno.connectTls({ hostname: host, port, caCerts: options.caCerts, signal } as Deno.ConnectTlsOptions)
    : await Deno.connect({ hostname: host, port, signal } as Deno.ConnectOptions);
  try {
    (conn as Deno.TcpConn).setNoDelay?.(true);
  } catch {
    // Not supported on this transport.
  }
  const decoder = new Decoder({
    payloads: SERVER_PAYLOADS,
    maxPayload: options.maxPayload ?? 256 * 1024 * 1024,
    maxLine: 64 * 1024,
  });
  // Read until the first frame: HELLO, or ERR 503.
  const buf = new Uint8Array(16 * 1024);
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch {
      // Closed.
    }
  }, timeout);
  let first: Frame | undefined;
  try {
    while (first === undefined) {
      const n = await conn.read(buf);
      if (n === null) throw new ConnectionClosedError(`Cannot connect to ${host}:${port}: closed before HELLO`);
      decoder.push(buf.subarray(0, n));
      const ev = decoder.next();
      if (ev === undefined) continue;
      if (ev.type !== "frame") throw new ConnectionClosedError(`Cannot connect to ${host}:${port}: bad greeting`);
      first = ev;
    }
  } catch (e) {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed.
    }
    if (signal.aborted) throw new ConnectionClosedError(`Cannot connect to ${host}:${port}: no HELLO within ${timeout} ms`);
    throw e;
  }
  clearTimeout(timer);
  if (first.verb === "ERR") {
    conn.close();
    throw new ServerError(Number(first.args[0]) || 503, first.args.slice(1).join(" "));
  }
  if (first.verb !== "HELLO") {
    conn.close();
    throw new ConnectionClosedError(`Cannot connect to ${host}:${port}: not a Switchboard server`);
  }
  let hello: Hello;
  try {
    hello = JSON.parse(first.args.join(" "));
  } catch {
    conn.close();
    throw new ConnectionClosedError(`Cannot connect to ${host}:${port}: unreadable HELLO`);
  }
  const client = new Client(conn, hello, decoder, options.maxBufferedPushes ?? 100_000);
  if (options.nick !== undefined) {
    try {
      await client.setNick(options.nick);
    } catch (e) {
      client.close();
      throw e;
    }
  }
  return client;
}
