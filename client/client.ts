/**
 * The client library: `connect()` gives a {@linkcode Client} with a typed method for every
 * command, replies matched to commands in order, and pushes as an async iterable.
 *
 * @module
 */

import { Decoder } from "../lib/protocol/decoder.ts";
import { decodePath, encodeFrame, encodeLine, encodePath } from "../lib/protocol/encoder.ts";
import { ServerError } from "../lib/protocol/errors.ts";
import {
  type Frame,
  PUSH_VERBS,
  SERVER_PAYLOADS,
  type StreamStart,
} from "../lib/protocol/frame.ts";

import type { Hello, ListEntry, RoomEntry, WhoEntry } from "../lib/protocol/rows.ts";
export type { Hello, ListEntry, RoomEntry, WhoEntry };
import { DEFAULT_HOST, DEFAULT_PORT } from "../lib/protocol/limits.ts";

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

/** A push: a frame the server sent on its own. */
export type Push =
  | { type: "msg"; room: string; from: string; payload: Uint8Array; text: string }
  | { type: "dm"; from: string; payload: Uint8Array; text: string }
  | { type: "joined"; room: string; nick: string }
  | { type: "left"; room: string; nick: string }
  | { type: "bye"; reason: string };

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

/** One row of {@linkcode Client.list}: the `LIST` row type. */
export type FileEntry = ListEntry;

/** The head of a `FILE` reply: what the server is about to send. */
export interface FileHead {
  /** The path (plain, decoded). */
  path: string;
  /** Size of the whole file. */
  size: number;
  /** sha256 of the whole file, lower-case hex. */
  sha256: string;
  /** Where the bytes sent start (the `GET` offset). */
  offset: number;
  /** How many bytes follow (`size - offset`). */
  length: number;
}

/** Options of {@linkcode Client.get}. */
export interface GetOptions {
  /**
   * Byte offset to start from (resuming a download).
   * @default {0}
   */
  offset?: number;
  /**
   * Called with the head once the server answered `FILE`; returns where the bytes go. If the sink
   * throws, `get()` rejects with that error and, when bytes were still to come, the connection is
   * closed (protocol v1 cannot abandon a payload half-way).
   */
  sink: (head: FileHead) => ReplySink | Promise<ReplySink>;
}

/** The bytes of an upload for {@linkcode Client.put}. */
export interface PutSource {
  /** Exactly how many bytes `chunks` yields. */
  size: number;
  /**
   * The bytes, in pieces. `put()` writes a piece while it asks for the next one, and only then
   * waits for the earlier write: a source may reuse a buffer two pieces later, not sooner. If the
   * source throws, or yields more or fewer than `size` bytes, the connection is closed before the
   * payload completes, so the server keeps nothing.
   */
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

/** Options of {@linkcode Client.put}. */
export interface PutOptions {
  /** The sha256 of the bytes (hex): the server checks it and keeps nothing on a mismatch (409). */
  sha256?: string;
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
  #consuming = false;
  readonly #maxPushes: number;
  #dropped = 0;
  #closed: Error | null = null;
  #nick: string;
  // The writer: one write in flight, everything queued meanwhile goes out in one write.
  #out: { bytes: Uint8Array; done: () => void; fail: (e: Error) => void }[] = [];
  #writing = false;
  // While an upload payload is being written, every other write (commands, PONG) waits here.
  #exclusive = false;
  #heldOut: { bytes: Uint8Array; done: () => void; fail: (e: Error) => void }[] = [];
  #uploads: Promise<void> = Promise.resolve();
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
    return this.#enqueue(bytes, false);
  }

  #enqueue(bytes: Uint8Array, direct: boolean): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise<void>((done, fail) => {
      if (this.#exclusive && !direct) {
        this.#heldOut.push({ bytes, done, fail });
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
          for (let off = 0; off < buf.length;) off += await this.#conn.write(buf.subarray(off));
        } catch (e) {
          const err = new ConnectionClosedError("Cannot send: the connection is closed", {
            cause: e,
          });
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
          entry.resolve({
            type: "frame",
            verb: ev.verb,
            args: ev.args,
            payload: null,
            badText: false,
          });
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
      entry.reject(
        new ServerError(Number.isFinite(code) ? code : 500, frame.args.slice(1).join(" ")),
      );
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
        push = {
          type: "msg",
          room: a[0] ?? "",
          from: a[1] ?? "",
          payload: payload.slice(),
          text: text.decode(payload),
        };
        break;
      }
      case "DM": {
        const payload = frame.payload ?? new Uint8Array(0);
        push = {
          type: "dm",
          from: a[0] ?? "",
          payload: payload.slice(),
          text: text.decode(payload),
        };
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
    for (const o of this.#heldOut) o.fail(this.#closed);
    this.#heldOut = [];
    this.#pushWaiter?.();
  }

  /**
   * Pushes as they arrive (messages, DMs, joins, leaves, `BYE`), until the connection closes.
   * Only one consumer at a time: a second concurrent call throws.
   *
   * @returns An async iterable of pushes.
   */
  messages(): AsyncIterableIterator<Push> {
    if (this.#consuming) {
      throw new Error("Cannot read messages(): another loop is already reading them");
    }
    this.#consuming = true;
    return this.#iterate();
  }

  async *#iterate(): AsyncIterableIterator<Push> {
    try {
      for (;;) {
        while (this.#pushes.length > 0) yield this.#pushes.shift()!;
        if (this.#closed) return;
        await new Promise<void>((resolve) => this.#pushWaiter = resolve);
        this.#pushWaiter = null;
      }
    } finally {
      this.#consuming = false;
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
   * Lists a shared folder.
   *
   * @param dir The folder, plain (not percent-encoded); the shared root when left out.
   * @returns Its files and folders, sorted by name.
   * @throws {ServerError} 404 missing, 400 a file or a bad path, 403 outside the shared folder.
   */
  async list(dir?: string): Promise<FileEntry[]> {
    const r = await this.command(
      dir === undefined || dir === "" ? "LIST" : `LIST ${encodePath(dir)}`,
    );
    return JSON.parse(text.decode(r.payload ?? new Uint8Array(0)));
  }

  /**
   * Deletes a shared file, or an empty folder.
   *
   * @param path The path, plain.
   * @returns The path deleted.
   * @throws {ServerError} 404 missing, 409 a folder that is not empty, 403 read-only or outside.
   */
  async del(path: string): Promise<string> {
    const r = await this.command(`DEL ${encodePath(path)}`);
    return decodePath(r.args[0] ?? "") ?? path;
  }

  /**
   * Downloads a file (low level): `GET path [offset]`; the bytes go to the sink that
   * `options.sink` returns once the head arrives. Memory stays flat: pieces are views handed out
   * as they arrive, and reading waits while the sink's `data()` promise is pending.
   *
   * @param path The path, plain.
   * @param options The offset and the sink.
   * @returns The head, once every byte went through the sink and its `end()` resolved.
   * @throws {ServerError} 404, 400 (a folder, offset past the end), 403.
   * @throws {ConnectionClosedError} When the connection is lost mid-way (the sink's `abort` is
   *   called first).
   */
  get(path: string, options: GetOptions): Promise<FileHead> {
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) {
      return Promise.reject(
        new RangeError(`Cannot get ${path}: offset must be a whole number, got ${offset}`),
      );
    }
    return new Promise<FileHead>((resolve, reject) => {
      let failed = false;
      let left = 0;
      const fail = (e: unknown) => {
        if (failed) return;
        failed = true;
        reject(e);
        if (left > 0) this.close();
      };
      const line = `GET ${encodePath(path)}${offset > 0 ? ` ${offset}` : ""}`;
      this.request(encodeLine(line), async (start): Promise<ReplySink> => {
        const size = Number(start.args[1]);
        const head: FileHead = {
          path: decodePath(start.args[0] ?? "") ?? path,
          size,
          sha256: start.args[2] ?? "",
          offset: size - start.size,
          length: start.size,
        };
        left = start.size;
        let inner: ReplySink;
        try {
          inner = await options.sink(head);
        } catch (e) {
          fail(e);
          return { data() {}, end() {}, abort() {} };
        }
        return {
          async data(bytes) {
            left -= bytes.length;
            if (failed) return;
            try {
              await inner.data(bytes);
            } catch (e) {
              fail(e);
            }
          },
          async end() {
            if (failed) return;
            try {
              await inner.end();
              resolve(head);
            } catch (e) {
              fail(e);
            }
          },
          abort(error) {
            if (failed) return;
            failed = true;
            try {
              inner.abort(error);
            } finally {
              reject(error);
            }
          },
        };
      }).catch(fail);
    });
  }

  /**
   * Uploads a file (low level): `PUT path [sha256] N`, then the bytes, then waits for `OK sha256`.
   * While the payload is written, other commands of this client wait (their bytes would land
   * inside the payload); uploads on one client run one at a time.
   *
   * @param path The target path, plain.
   * @param data The bytes, or a {@linkcode PutSource} to stream them.
   * @param options See {@linkcode PutOptions}.
   * @returns The sha256 the server computed over what it received (lower-case hex).
   * @throws {ServerError} 409 sha256 mismatch, 413 past max_file_size, 403 read-only or outside,
   *   400 bad path.
   * @throws {ConnectionClosedError} When the connection is lost, or was closed because the source
   *   failed or did not yield exactly `size` bytes (the source's error is the `cause`).
   */
  async put(path: string, data: Uint8Array | PutSource, options: PutOptions = {}): Promise<string> {
    const source: PutSource = data instanceof Uint8Array
      ? { size: data.length, chunks: [data] }
      : data;
    if (!Number.isSafeInteger(source.size) || source.size < 0) {
      throw new RangeError(
        `Cannot upload ${path}: size must be a whole number, got ${source.size}`,
      );
    }
    if (options.sha256 !== undefined && !/^[0-9A-Fa-f]{64}$/.test(options.sha256)) {
      throw new RangeError(`Cannot upload ${path}: sha256 must be 64 hex digits`);
    }
    // One upload at a time: wait for the ones before.
    const before = this.#uploads;
    let release!: () => void;
    this.#uploads = new Promise<void>((r) => release = r);
    await before;
    let reply: Promise<Frame> | undefined;
    try {
      if (this.#closed) throw this.#closed;
      this.#exclusive = true;
      const sha = options.sha256 === undefined ? "" : ` ${options.sha256.toLowerCase()}`;
      const head = encodeLine(`PUT ${encodePath(path)}${sha} ${source.size}`);
      reply = new Promise<Frame>((resolve, reject) => {
        this.#pending.push({ resolve, reject });
        this.#enqueue(head, true).catch(() => {});
      });
      reply.catch(() => {});
      let sent = 0;
      let previous: Promise<void> = Promise.resolve();
      try {
        for await (const chunk of source.chunks) {
          sent += chunk.length;
          if (sent > source.size) {
            throw new RangeError(`the source yielded more than ${source.size} bytes`);
          }
          if (chunk.length === 0) continue;
          const writing = this.#enqueue(chunk, true);
          writing.catch(() => {});
          await previous;
          previous = writing;
        }
        await previous;
        if (sent !== source.size) {
          throw new RangeError(`the source yielded ${sent} of ${source.size} bytes`);
        }
      } catch (e) {
        if (this.#closed) throw e;
        // The payload cannot be completed: close before its end, so the server keeps nothing.
        const error = new ConnectionClosedError(`Cannot upload ${path}: ${(e as Error).message}`, {
          cause: e,
        });
        this.#shutdown(error);
        throw error;
      }
      await this.#enqueue(new Uint8Array([13, 10]), true);
    } catch (e) {
      // An ERR that arrived before the connection failed says more than the closed socket (once
      // closed, every pending reply is settled).
      if (reply !== undefined && this.#closed) {
        const early = await reply.then(() => null, (r) => r);
        if (early instanceof ServerError) throw early;
      }
      throw e;
    } finally {
      this.#exclusive = false;
      const held = this.#heldOut;
      this.#heldOut = [];
      for (const o of held) this.#out.push(o);
      if (this.#out.length > 0 && !this.#writing) void this.#pump();
      release();
    }
    const r = await reply;
    return r.args[0] ?? "";
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
        throw new TypeError(
          "Cannot log in: user names, passwords and tokens are one word without spaces",
        );
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
 * TLS could not be set up: the server's certificate does not verify, the server does not speak
 * TLS, or the CA given is unusable. Never followed by a plaintext retry.
 */
export class TlsError extends Error {
  /**
   * @param message What went wrong and what to do.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TlsError";
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
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch {
      // Closed.
    }
  }, timeout);
  try {
    await conn.handshake();
    return conn;
  } catch (e) {
    try {
      conn.close();
    } catch {
      // Closed.
    }
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

/**
 * Connects to a server and reads its `HELLO`.
 *
 * @param options See {@linkcode ConnectOptions}.
 * @returns The connected client.
 * @throws {ServerError} 503 when the server is full, 429 when the address is refused.
 * @throws {TlsError} With `tls`, when the certificate does not verify or the server does not speak TLS.
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
    ? await connectTls(host, port, options.caCerts, signal, timeout)
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
      if (n === null) {
        throw new ConnectionClosedError(`Cannot connect to ${host}:${port}: closed before HELLO`);
      }
      if (
        first === undefined && !options.tls && n >= 2 && (buf[0] === 0x15 || buf[0] === 0x16) &&
        buf[1] === 3
      ) {
        throw new ConnectionClosedError(
          `Cannot connect to ${host}:${port}: the server speaks TLS (use --tls, or an sbs:// URL)`,
        );
      }
      decoder.push(buf.subarray(0, n));
      const ev = decoder.next();
      if (ev === undefined) continue;
      if (ev.type !== "frame") {
        throw new ConnectionClosedError(`Cannot connect to ${host}:${port}: bad greeting`);
      }
      first = ev;
    }
  } catch (e) {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed.
    }
    if (signal.aborted) {
      const hint = options.tls
        ? ""
        : " (a TLS server waits in silence: use --tls, or an sbs:// URL)";
      throw new ConnectionClosedError(
        `Cannot connect to ${host}:${port}: no HELLO within ${timeout} ms${hint}`,
      );
    }
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
