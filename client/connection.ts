/**
 * One connection to a server, below the typed API: it reads the transport with
 * `for await (const ev of frames(transport))`, matches replies to requests in order (commands are
 * pipelined), hands streamed reply payloads to a sink, turns pushes into {@linkcode Push} values
 * and answers `PING`. Writes go through the transport's one {@linkcode Writer}.
 *
 * @module
 */

import { encodeLine } from "../lib/protocol/encoder.ts";
import { ServerError } from "../lib/protocol/errors.ts";
import type { Frame, StreamStart } from "../lib/protocol/frame.ts";
import { frames, type FrameStream } from "../lib/protocol/frames.ts";
import { PUSH_VERBS, SERVER_PAYLOADS } from "../lib/protocol/verbs.ts";
import {
  ConnectionClosedError,
  type SectionWrite,
  type Transport,
  TransportSource,
  Writer,
} from "./transport.ts";
import { BoundedQueue } from "./_queue.ts";
import { type Push, type RoomMessage, toPush } from "./_push.ts";
import { FrameCollector, type ReplyWithFrames } from "./_replies.ts";

export type { Push, ReplyWithFrames, RoomMessage };

/** Receives a streamed reply (`FILE`). */
export interface ReplySink {
  /** A piece of the payload; valid only until the returned promise settles. */
  data(bytes: Uint8Array): void | Promise<void>;
  /** The payload ended. */
  end(): void | Promise<void>;
  /** The connection was lost first. */
  abort(error: Error): void;
}

/** Opens the sink of a streamed reply, given its head. */
export type OpenSink = (start: StreamStart) => ReplySink | Promise<ReplySink>;

/** Turns a reply frame into what the request resolves with; runs before the next read. */
export type ParseReply<T> = (reply: Frame) => T;

/** Writes inside {@linkcode Connection.exclusive}: nothing else goes out in between. */
export interface ExclusiveSection {
  /**
   * Writes bytes (a payload's pieces) ahead of everything held back.
   *
   * @param bytes The bytes; must not change until the promise settles.
   * @returns Resolves once the bytes were handed to the transport.
   */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Sends a command ahead of everything held back and waits for its reply.
   *
   * @param bytes The encoded command.
   * @param parse Turns the reply into the result.
   * @returns The parsed reply; an `ERR` reply rejects with `ServerError`.
   */
  request<T>(bytes: Uint8Array, parse: ParseReply<T>): Promise<T>;
}

/** Options of the {@linkcode Connection} constructor. */
export interface ConnectionOptions {
  /**
   * How errors name the server: `Cannot connect to <label>: ...`.
   * @default {"the server"}
   */
  label?: string;
  /**
   * Whether the transport speaks TLS. When it does not, a greeting that starts like a TLS record
   * is reported as a TLS server instead of a bad greeting.
   * @default {false}
   */
  tls?: boolean;
  /**
   * Milliseconds to wait for the greeting.
   * @default {10000}
   */
  timeout?: number;
  /**
   * The time for connecting as a whole; once aborted, a failed greeting says so.
   * @default {undefined}
   */
  signal?: AbortSignal;
  /**
   * Largest reply payload accepted (`WHO`, `LIST` of big folders).
   * @default {268435456}
   */
  maxPayload?: number;
  /**
   * Most pushes kept while nobody reads {@linkcode Connection.messages}; older ones are dropped.
   * @default {100000}
   */
  maxBufferedPushes?: number;
}

interface Pending {
  parse: ParseReply<unknown> | undefined;
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** For commands answered by a streamed reply. */
  stream: OpenSink | undefined;
  /** For commands answered by a head and frames of its own. */
  many?: ReplyWithFrames<unknown>;
}

const PONG = encodeLine("PONG");

/**
 * A connection: call {@linkcode Connection.greet} first, then issue requests. Requests may be
 * issued concurrently: they are pipelined and their replies come back in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Connection } from "./connection.ts";
 * import { encodeLine } from "../lib/protocol/encoder.ts";
 * // A fake server: a greeting, then one OK for the one command sent.
 * const replies = [encodeLine("HELLO {}"), encodeLine("OK alice")];
 * const transport = {
 *   read(buf: Uint8Array): Promise<number | null> {
 *     const next = replies.shift();
 *     if (next === undefined) return new Promise(() => {}); // nothing more, never closes
 *     buf.set(next);
 *     return Promise.resolve(next.length);
 *   },
 *   write: (bytes: Uint8Array) => Promise.resolve(bytes.length),
 *   close() {},
 * };
 * const connection = new Connection(transport);
 * assert.equal((await connection.greet()).verb, "HELLO");
 * const nick = await connection.request(encodeLine("NICK alice"), (r) => r.args[0]);
 * assert.equal(nick, "alice");
 * connection.close();
 * ```
 */
export class Connection {
  readonly #source: TransportSource;
  readonly #events: FrameStream;
  readonly #writer: Writer;
  readonly #options: ConnectionOptions;
  readonly #pending: Pending[] = [];
  #pendingHead = 0;
  readonly #pushes: BoundedQueue<Push>;
  #closed: Error | null = null;
  #sink: ReplySink | null = null;
  #collecting: { entry: Pending; frames: FrameCollector<unknown> } | null = null;
  #finished!: () => void;
  readonly #done = new Promise<void>((resolve) => this.#finished = resolve);
  readonly #write: SectionWrite = (bytes) => this.#writer.write(bytes);

  /**
   * Wraps a transport; nothing is read before {@linkcode Connection.greet}.
   *
   * @param transport An open transport (see `dial()`).
   * @param options See {@linkcode ConnectionOptions}.
   */
  constructor(transport: Transport, options: ConnectionOptions = {}) {
    this.#options = options;
    this.#pushes = new BoundedQueue(options.maxBufferedPushes ?? 100_000, "messages()");
    this.#source = new TransportSource(transport, { sniffTls: !options.tls });
    this.#events = frames(this.#source, {
      payloads: SERVER_PAYLOADS,
      maxPayload: options.maxPayload ?? 256 * 1024 * 1024,
      maxLine: 64 * 1024,
      minRead: 16 * 1024,
      maxRead: 1024 * 1024,
    });
    this.#writer = new Writer(transport, { onFailure: (e) => this.#shutdown(e) });
  }

  /**
   * Reads the server's first frame (`HELLO`, or `ERR` when it refuses), then starts reading
   * replies and pushes. On failure the transport is closed.
   *
   * @returns The first frame.
   * @throws {ConnectionClosedError} When the transport closed first, the greeting is not a frame,
   *   the server speaks TLS to a plain transport, or nothing came within `timeout`.
   */
  async greet(): Promise<Frame> {
    const where = `Cannot connect to ${this.#options.label ?? "the server"}`;
    const timeout = this.#options.timeout ?? 10_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.#source.close();
    }, timeout);
    let first: Frame;
    try {
      const r = await this.#events.next();
      if (this.#source.tlsSeen) {
        throw new ConnectionClosedError(
          `${where}: the server speaks TLS (use --tls, or an sbs:// URL)`,
        );
      }
      if (r.done) {
        const failed = this.#source.failure;
        if (failed !== undefined) throw failed.error;
        throw new ConnectionClosedError(`${where}: closed before HELLO`);
      }
      if (r.value.type !== "frame") throw new ConnectionClosedError(`${where}: bad greeting`);
      first = r.value;
    } catch (e) {
      clearTimeout(timer);
      this.#source.close();
      this.#finished();
      if (timedOut || this.#options.signal?.aborted) {
        const hint = this.#options.tls
          ? ""
          : " (a TLS server waits in silence: use --tls, or an sbs:// URL)";
        throw new ConnectionClosedError(`${where}: no HELLO within ${timeout} ms${hint}`);
      }
      throw e;
    }
    clearTimeout(timer);
    this.#source.stopSniffing();
    void this.#run();
    return first;
  }

  /** True once the connection is closed. */
  get closed(): boolean {
    return this.#closed !== null;
  }

  /** Why the connection closed; null while it is open. */
  get error(): Error | null {
    return this.#closed;
  }

  /** Pushes dropped because nobody read them in time. */
  get droppedPushes(): number {
    return this.#pushes.dropped;
  }

  /** Resolves when the connection has closed. */
  get done(): Promise<void> {
    return this.#done;
  }

  /**
   * Sends a command and waits for its reply.
   *
   * @param bytes The encoded command.
   * @param parse Turns the reply into the result, before the next read (a payload is a view into
   *   the read buffer: use it here, or copy it).
   * @returns The parsed reply; an `ERR` reply rejects with {@linkcode ServerError}.
   */
  request<T>(bytes: Uint8Array, parse: ParseReply<T>): Promise<T> {
    return this.#ask(bytes, parse, undefined, this.#write);
  }

  /**
   * Sends a command answered by a head and a number of frames of its own (`HISTORY`). The
   * payloads of those frames together may hold at most `maxPayload` bytes: past it the request
   * rejects with a `RangeError` (the frames are read and dropped; the connection goes on).
   *
   * @param bytes The encoded command.
   * @param reply How many frames follow, and what the result is.
   * @returns The parsed reply; an `ERR` reply rejects with {@linkcode ServerError}.
   */
  requestWithFrames<T>(bytes: Uint8Array, reply: ReplyWithFrames<T>): Promise<T> {
    return this.#ask(bytes, undefined, undefined, this.#write, reply);
  }

  /**
   * Sends a command answered by a streamed payload (`GET`): `open` is called with the head and
   * returns where the bytes go; reading waits while a sink's promise is pending.
   *
   * @param bytes The encoded command.
   * @param open Opens the sink.
   * @returns The head as a frame without payload, once the sink is open; an `ERR` reply rejects
   *   with {@linkcode ServerError}.
   */
  requestStream(bytes: Uint8Array, open: OpenSink): Promise<Frame> {
    return this.#ask<Frame>(bytes, undefined, open, this.#write);
  }

  /**
   * Sends raw bytes in order with the commands.
   *
   * @param bytes Bytes to send; must not change until the promise settles.
   * @returns Resolves once the bytes were handed to the transport.
   */
  write(bytes: Uint8Array): Promise<void> {
    return this.#writer.write(bytes);
  }

  /**
   * Runs `body` with every other write held back (an upload: its payload must not be
   * interleaved with commands); sections run one at a time.
   *
   * @param body Writes through the section it is given.
   * @returns What `body` returns.
   * @throws {ConnectionClosedError} When the connection closed before the section's turn.
   */
  exclusive<T>(body: (section: ExclusiveSection) => Promise<T>): Promise<T> {
    return this.#writer.exclusive((write) =>
      body({
        write,
        request: <R>(bytes: Uint8Array, parse: ParseReply<R>) =>
          this.#ask(bytes, parse, undefined, write),
      })
    );
  }

  /**
   * Pushes as they arrive (messages, DMs, joins, leaves, renames, `BYE`), until the connection closes.
   * Only one consumer at a time: a second concurrent call throws.
   *
   * @returns An async iterable of pushes.
   */
  messages(): AsyncIterableIterator<Push> {
    return this.#pushes.read();
  }

  /**
   * Closes the connection at once; pending requests reject.
   *
   * @param error What they reject with.
   */
  close(error: Error = new ConnectionClosedError("Connection closed by the client")): void {
    this.#shutdown(error);
  }

  #ask<T>(
    bytes: Uint8Array,
    parse: ParseReply<T> | undefined,
    stream: OpenSink | undefined,
    write: SectionWrite,
    many?: ReplyWithFrames<T>,
  ): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closed);
    return new Promise<T>((resolve, reject) => {
      const settle = resolve as (value: unknown) => void;
      this.#pending.push({ parse, resolve: settle, reject, stream, many });
      write(bytes).catch(() => {});
    });
  }

  async #run(): Promise<void> {
    let error: Error = new ConnectionClosedError("Connection closed by the server");
    try {
      for await (const ev of this.#events) {
        switch (ev.type) {
          case "frame":
            if (this.#collecting !== null) this.#collect(ev);
            else if (PUSH_VERBS.has(ev.verb)) this.#push(ev);
            else this.#reply(ev);
            break;
          case "stream": {
            const entry = this.#shift();
            if (entry?.stream === undefined) {
              throw new ConnectionClosedError(`Protocol error: unexpected ${ev.verb} reply`);
            }
            this.#sink = await entry.stream(ev);
            entry.resolve(
              {
                type: "frame",
                verb: ev.verb,
                args: ev.args,
                payload: null,
                badText: false,
              } satisfies Frame,
            );
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
      const failed = this.#source.failure;
      if (failed !== undefined) throw failed.error;
    } catch (e) {
      if (!(e instanceof ConnectionClosedError)) {
        error = new ConnectionClosedError(`Connection lost: ${(e as Error).message}`, { cause: e });
      } else error = e;
    }
    this.#shutdown(this.#closed ?? error);
    this.#finished();
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
      return;
    }
    if (entry.many !== undefined) return this.#startCollecting(entry, entry.many, frame);
    if (entry.parse === undefined) return entry.resolve(frame);
    let value: unknown;
    try {
      value = entry.parse(frame);
    } catch (e) {
      return entry.reject(e as Error);
    }
    entry.resolve(value);
  }

  #push(frame: Frame): void {
    if (frame.verb === "PING") {
      this.#writer.write(PONG).catch(() => {});
      return;
    }
    let push: Push;
    try {
      push = toPush(frame);
    } catch (e) {
      throw new ConnectionClosedError(`Protocol error from server: ${(e as Error).message}`);
    }
    this.#pushes.push(push);
  }

  /** The head of a reply with frames of its own: collect them, then settle. */
  #startCollecting(entry: Pending, many: ReplyWithFrames<unknown>, head: Frame): void {
    let frames: FrameCollector<unknown>;
    try {
      frames = new FrameCollector(head, many, this.#options.maxPayload ?? 256 * 1024 * 1024);
    } catch (e) {
      throw this.#framingLost(entry, e);
    }
    if (frames.done) this.#settle(entry, frames);
    else this.#collecting = { entry, frames };
  }

  #collect(frame: Frame): void {
    const { entry, frames } = this.#collecting!;
    try {
      frames.add(frame);
    } catch (e) {
      this.#collecting = null;
      throw this.#framingLost(entry, e);
    }
    if (!frames.done) return;
    this.#collecting = null;
    this.#settle(entry, frames);
  }

  #framingLost(entry: Pending, e: unknown): ConnectionClosedError {
    const error = new ConnectionClosedError(
      `Protocol error from server: ${(e as Error).message}`,
      { cause: e },
    );
    entry.reject(error);
    return error;
  }

  #settle(entry: Pending, frames: FrameCollector<unknown>): void {
    let value: unknown;
    try {
      value = frames.result();
    } catch (e) {
      return entry.reject(e as Error);
    }
    entry.resolve(value);
  }

  #shutdown(error: Error): void {
    if (this.#closed === null) this.#closed = error;
    this.#source.close();
    this.#collecting?.entry.reject(this.#closed);
    this.#collecting = null;
    for (let e = this.#shift(); e !== undefined; e = this.#shift()) e.reject(this.#closed);
    this.#sink?.abort(this.#closed);
    this.#sink = null;
    this.#writer.fail(this.#closed);
    this.#pushes.end();
  }
}
