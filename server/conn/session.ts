/**
 * One session per connection: reads bytes, decodes frames, runs their handlers in order, and owns
 * the connection's outbox, liveness and close.
 *
 * @module
 */

import { Decoder } from "../../lib/protocol/decoder.ts";
import { encodeError, encodeLine } from "../../lib/protocol/encoder.ts";
import { ErrorCode } from "../../lib/protocol/errors.ts";
import type { DecodeEvent, Frame, StreamStart } from "../../lib/protocol/frame.ts";
import { PROTOCOL_VERSION } from "../../lib/protocol/limits.ts";
import { VERSION } from "../../lib/version.ts";
import type { Authenticator } from "../auth/auth.ts";
import type { ServerConfig } from "../config.ts";
import type { Hub, Member } from "../chat/hub.ts";
import type { Logger } from "../observe/log.ts";
import { Outbox } from "./outbox.ts";
import v8 from "node:v8";
import vm from "node:vm";
import type { AbuseGuard } from "../auth/abuse_guard.ts";

/** The part of a connection a session needs (a `Deno.Conn` or `Deno.TlsConn`). */
export interface SessionConn {
  read(buf: Uint8Array): Promise<number | null>;
  write(buf: Uint8Array): Promise<number>;
  close(): void;
}

/** Runs one command; may return a promise, and the next command waits for it. */
export type Handler = (session: Session, frame: Frame) => void | Promise<void>;

/** Receives a streamed payload (`PUT`). */
export interface StreamSink {
  /** A piece of the payload: a view, valid until the returned promise settles. */
  data(bytes: Uint8Array): void | Promise<void>;
  /** The payload ended cleanly. */
  end(): void | Promise<void>;
  /** The payload will never end (connection lost, framing lost). */
  abort(): void | Promise<void>;
}

/** Starts receiving a streamed payload; answers the command itself. */
export type StreamHandler = (
  session: Session,
  start: StreamStart,
) => StreamSink | Promise<StreamSink>;

/** What a session may do: set by authentication (see server/auth.ts). */
export interface Access {
  /** Verbs it may run; `null` for all. */
  readonly verbs: ReadonlySet<string> | null;
  /** Whether hub pushes (`MSG`, `DM`, `JOINED`, `LEFT`) reach it. */
  readonly pushes: boolean;
  /** Whether it has logged in. */
  readonly loggedIn: boolean;
  /** The `ERR` code and text for a verb outside `verbs`. */
  deny(verb: string): [number, string];
}

/** What sessions share: configuration, hub, logger, handlers. */
export interface ServerContext {
  readonly config: ServerConfig;
  readonly hub: Hub;
  readonly log: Logger;
  readonly handlers: ReadonlyMap<string, Handler>;
  readonly streamHandlers: ReadonlyMap<string, StreamHandler>;
  /** Extra `HELLO` fields (`tls`, `auth_required`). */
  readonly hello: Record<string, unknown>;
  /** Called when a session ends. */
  onClose(session: Session): void;
  /** Accounts or token, when logins are required. */
  readonly auth?: Authenticator;
  /** Per-address abuse limits (failed logins). */
  readonly guard?: AbuseGuard;
}

/** A sink that ignores a payload (a refused upload whose bytes are skipped). */
export const DISCARD: StreamSink = { data() {}, end() {}, abort() {} };

const PING = encodeLine("PING");
const BYE_SLOW = encodeLine("BYE slow consumer");
const MIN_READ = 1024;
const MAX_READ = 256 * 1024;

let nextId = 0;

// Memory: a big message is copied twice (out of the read buffer, then into the one MSG frame
// fanned out) and is garbage once written. V8 collects ArrayBuffers only after about 64 MiB of
// them pile up, which shows as that much more resident memory. A young-generation GC after every
// BIG_GC_EVERY bytes of big payloads keeps the pile small; it takes well under a millisecond.
const BIG_PAYLOAD = 64 * 1024;
const BIG_GC_EVERY = 8 * 1024 * 1024;
const collectYoung = exposeGc();
let bigBytes = 0;

function exposeGc(): (() => void) | null {
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as unknown;
    if (typeof gc !== "function") return null;
    return () => gc({ type: "minor" });
  } catch {
    return null;
  }
}

function noteBigPayload(size: number): void {
  if (size < BIG_PAYLOAD || collectYoung === null) return;
  bigBytes += size;
  if (bigBytes < BIG_GC_EVERY) return;
  bigBytes = 0;
  collectYoung();
}

/**
 * A connected client: implements the hub's {@linkcode Member}.
 */
export class Session implements Member {
  /** Unique per process. */
  readonly id = ++nextId;
  /** Connected since, unix milliseconds. */
  readonly since = Date.now();
  /** The peer address, `host:port`. */
  readonly peer: string;
  /** The server's shared state. */
  readonly ctx: ServerContext;
  /** Outgoing frames. */
  readonly outbox: Outbox;
  /** Free for later layers (authentication): the user this session acts as. */
  user: string | null = null;

  readonly #conn: SessionConn;
  readonly #decoder: Decoder;
  #nick = "";
  #lastRx = Date.now();
  #ping: { enqueuedAt: number; writtenAt: number } | null = null;
  #missed = 0;
  #paused = false;
  #disconnectLogged = false;
  #ending = false;
  #closed = false;
  #reason = "";
  #sink: StreamSink | null = null;
  #access: Access | null;
  #pushes: boolean;
  #loginTimer: ReturnType<typeof setTimeout> | undefined;
  // The command bucket (--cmd-rate): one decrement per command; Infinity when there is no limit.
  #tokens: number;
  #tokensAt = Date.now();
  #done: Promise<void>;
  #resolveDone!: () => void;

  /**
   * @param conn The connection.
   * @param peer Its address, for logs.
   * @param ctx Shared server state.
   */
  constructor(conn: SessionConn, peer: string, ctx: ServerContext) {
    this.#conn = conn;
    this.peer = peer;
    this.ctx = ctx;
    this.#decoder = new Decoder({ maxLine: ctx.config.maxLine, maxPayload: ctx.config.maxPayload });
    this.outbox = new Outbox(conn, {
      maxPending: ctx.config.maxPending,
      onCut: (reason, lastWordSent) => this.#cut(reason, lastWordSent),
      lastWord: (reason) => reason === "slow consumer" ? BYE_SLOW : null,
    });
    this.#done = new Promise((resolve) => this.#resolveDone = resolve);
    this.#access = ctx.auth?.guest ?? null;
    this.#pushes = this.#access?.pushes ?? true;
    this.#tokens = ctx.config.cmdRate > 0 ? ctx.config.cmdBurst || ctx.config.cmdRate : Infinity;
  }

  /** What this session may do; `null` when the server requires no login. */
  get access(): Access | null {
    return this.#access;
  }

  /**
   * Changes what this session may do (after `AUTH`, or a users file reload).
   *
   * @param access The new access.
   */
  setAccess(access: Access): void {
    this.#access = access;
    this.#pushes = access.pushes;
    if (access.loggedIn) clearTimeout(this.#loginTimer);
  }

  /** The current nick. */
  get nick(): string {
    return this.#nick;
  }

  /** True once the session stopped taking commands. */
  get ending(): boolean {
    return this.#ending;
  }

  /** Resolves when the connection is closed and the session cleaned up. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** Queues a push frame (hub fan-out). */
  deliver(bytes: Uint8Array): boolean {
    if (!this.#pushes) return false;
    return this.outbox.send(bytes);
  }

  /** Whether hub pushes reach this session now (the hub counts recipients with it). */
  get acceptsPushes(): boolean {
    return this.#pushes && !this.outbox.closed;
  }

  /** Queues a reply. */
  reply(bytes: Uint8Array): void {
    this.outbox.send(bytes);
  }

  /** Queues a one-line reply. */
  replyLine(line: string): void {
    this.outbox.send(encodeLine(line));
  }

  /** Queues an `ERR` reply. */
  replyError(code: number, text: string): void {
    this.outbox.send(encodeError(code, text));
  }

  /** Runs the session until the connection closes. Never rejects. */
  async run(): Promise<void> {
    try {
      // Pushes that reach this client from the moment it is attached (it is in lobby) until HELLO
      // is queued wait behind HELLO: HELLO is always the first frame.
      this.outbox.beginStream();
      const nick = await this.ctx.hub.attach(this, (n) => this.#nick = n);
      this.ctx.log.info("connect", { peer: this.peer, nick });
      const hello = {
        server: "switchboard",
        version: VERSION,
        proto: PROTOCOL_VERSION,
        nick,
        max_payload: this.ctx.config.maxPayload,
        max_line: this.ctx.config.maxLine,
        max_file_size: this.ctx.config.maxFileSize,
        auth_required: false,
        tls: false,
        ...this.ctx.hello,
      };
      this.outbox.sendStream(encodeLine(`HELLO ${JSON.stringify(hello)}`));
      this.outbox.endStream();
      if (this.#access?.loggedIn === false) {
        const ms = this.ctx.config.loginTimeout;
        this.#loginTimer = setTimeout(() => {
          if (this.#access?.loggedIn) return;
          this.ctx.log.warn("login timeout", { peer: this.peer, nick: this.#nick });
          this.end("login timeout");
        }, ms);
      }
      await this.#readLoop();
    } catch (e) {
      this.ctx.log.error("session error", { peer: this.peer, nick: this.#nick, error: String(e) });
      this.close("internal error");
    } finally {
      if (!this.#ending) this.close("eof");
      await this.#sink?.abort();
      this.#sink = null;
    }
  }

  async #readLoop(): Promise<void> {
    let buf = new Uint8Array(MIN_READ);
    const decoder = this.#decoder;
    while (!this.#ending) {
      // Back-pressure: a client that does not read its replies stops being read.
      if (this.outbox.pending > this.ctx.config.maxPending / 2) {
        await this.#pauseReads();
        if (this.#ending) return;
      }
      let n: number | null;
      try {
        n = await this.#conn.read(buf);
      } catch {
        n = null;
      }
      if (n === null) {
        if (!this.#ending) this.close(this.#sink ? "eof during upload" : "eof");
        return;
      }
      this.#lastRx = Date.now();
      decoder.push(n === buf.length ? buf : buf.subarray(0, n));
      for (let ev = decoder.next(); ev !== undefined; ev = decoder.next()) {
        if (ev.type === "frame" && ev.payload !== null) noteBigPayload(ev.payload.length);
        const r = this.#dispatch(ev);
        if (r !== undefined) {
          // While a command runs (a download, a first-use hash, a disk write), we are the ones
          // not reading: the client's silence meanwhile is not idleness.
          this.#paused = true;
          try {
            await r;
          } finally {
            this.#paused = false;
            this.#lastRx = Date.now();
          }
        }
        if (this.#ending) return;
        // Back-pressure between commands too: one read can hold thousands of pipelined commands
        // whose replies would pass max_pending (the decoder's views into `buf` stay valid).
        if (this.outbox.pending > this.ctx.config.maxPending / 2) {
          await this.#pauseReads();
          if (this.#ending) return;
        }
      }
      // Grow the read buffer for busy clients; shrink it back when the traffic drops (a 1 KiB
      // buffer keeps an idle connection near 13 KiB of server memory, 4 KiB near 16 KiB).
      if (n === buf.length && buf.length < MAX_READ) buf = new Uint8Array(buf.length * 2);
      else if (n < buf.length >> 4 && buf.length > MIN_READ) buf = new Uint8Array(buf.length >> 1);
    }
  }

  // Waits for the outbox to drain. Meanwhile the client is not idle: we are the ones not
  // reading, so the sweeper must not count our silence as its silence.
  async #pauseReads(): Promise<void> {
    this.#paused = true;
    try {
      await this.outbox.drain(this.ctx.config.maxPending / 4);
    } finally {
      this.#paused = false;
      this.#lastRx = Date.now();
    }
  }

  #dispatch(ev: DecodeEvent): void | Promise<void> {
    switch (ev.type) {
      case "frame":
        if (ev.badText) {
          this.replyError(ErrorCode.BadRequest, "Cannot read command: it is not valid UTF-8");
          return;
        }
        return this.#command(ev);
      case "stream":
        return this.#stream(ev);
      case "data":
        return this.#sink?.data(ev.bytes);
      case "end": {
        const sink = this.#sink;
        this.#sink = null;
        return sink?.end();
      }
      case "error": {
        const sink = this.#sink;
        this.#sink = null;
        const aborted = sink?.abort();
        this.replyError(ev.error.code, ev.error.message);
        this.ctx.log.warn("protocol error", {
          peer: this.peer,
          nick: this.#nick,
          error: ev.error.message,
        });
        this.end("protocol error");
        return aborted;
      }
    }
  }

  #command(frame: Frame): void | Promise<void> {
    if (--this.#tokens < 0) {
      const why = this.#overRate(frame.verb);
      if (why !== null) return this.replyError(ErrorCode.TooMany, why);
    }
    const handler = this.ctx.handlers.get(frame.verb);
    if (handler === undefined) {
      const verb = frame.verb.length > 32 ? frame.verb.slice(0, 32) + "…" : frame.verb;
      this.replyError(ErrorCode.BadRequest, `Unknown command "${verb}": send HELP for the list`);
      return;
    }
    const access = this.#access;
    if (access !== null && access.verbs !== null && !access.verbs.has(frame.verb)) {
      const [code, text] = access.deny(frame.verb);
      return this.replyError(code, text);
    }
    return handler(this, frame);
  }

  /**
   * The command bucket ran dry: refill it for the time passed (lazily, from the clock) and try
   * again. `PONG` and `QUIT` always pass.
   *
   * @returns `null` when the command may run, else the `ERR 429` text.
   */
  #overRate(verb: string): string | null {
    const { cmdRate, cmdBurst } = this.ctx.config;
    const now = Date.now();
    const tokens = Math.min(
      cmdBurst || cmdRate,
      this.#tokens + 1 + ((now - this.#tokensAt) * cmdRate) / 1000,
    );
    this.#tokensAt = now;
    if (tokens >= 1) {
      this.#tokens = tokens - 1;
      return null;
    }
    this.#tokens = tokens;
    if (verb === "PONG" || verb === "QUIT") return null;
    return `Too many commands: over --cmd-rate ${cmdRate}/s`;
  }

  #stream(start: StreamStart): void | Promise<void> {
    if (--this.#tokens < 0) {
      const why = this.#overRate(start.verb);
      if (why !== null) return void (this.#sink = this.refuseStream(start, ErrorCode.TooMany, why));
    }
    const access = this.#access;
    if (
      access !== null && access.verbs !== null && !access.verbs.has(start.verb) && !start.badText
    ) {
      const [code, text] = access.deny(start.verb);
      return void (this.#sink = this.refuseStream(start, code, text));
    }
    const handler = this.ctx.streamHandlers.get(start.verb);
    if (handler === undefined || start.badText) {
      this.#sink = DISCARD;
      this.replyError(
        ErrorCode.BadRequest,
        start.badText
          ? "Cannot read command: it is not valid UTF-8"
          : `Unknown command "${start.verb}"`,
      );
      if (start.size > this.ctx.config.maxPayload) this.end("protocol error");
      return;
    }
    const sink = handler(this, start);
    if (sink instanceof Promise) return sink.then((s) => void (this.#sink = s));
    this.#sink = sink;
  }

  /**
   * Refuses a streamed command: replies `ERR`, then skips its bytes when there are at most
   * `max_payload` of them, or closes the connection (framing cannot be kept cheaply).
   *
   * @returns The sink to hand back from a stream handler.
   */
  refuseStream(start: StreamStart, code: number, text: string): StreamSink {
    this.replyError(code, text);
    if (start.size > this.ctx.config.maxPayload) this.end("refused upload");
    return DISCARD;
  }

  /**
   * Renames the session (after the hub agreed).
   *
   * @param nick The new nick.
   */
  setNick(nick: string): void {
    this.#nick = nick;
  }

  /**
   * Ends the session politely: stops taking commands, sends `BYE reason` after what is queued,
   * then closes. Closes anyway after `write_deadline`.
   *
   * @param reason Why, as sent in `BYE` and logged.
   * @param bye Whether to send `BYE` (false after `QUIT`, whose `OK bye` says it all).
   */
  end(reason: string, bye = true): void {
    if (this.#ending) return;
    this.#ending = true;
    this.#reason = reason;
    if (bye) this.outbox.send(encodeLine(`BYE ${reason}`));
    this.outbox.mark(() => this.close(reason));
    const timer = setTimeout(() => this.close(reason), this.ctx.config.writeDeadline);
    Deno.unrefTimer(timer);
    void this.#done.then(() => clearTimeout(timer));
  }

  /**
   * Closes the connection now and removes the client from the hub. Idempotent.
   *
   * @param reason Why, for the log.
   */
  close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#ending = true;
    clearTimeout(this.#loginTimer);
    this.#reason ||= reason;
    this.outbox.close();
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    const detached = this.ctx.hub.detach(this);
    const finish = () => {
      this.#logDisconnect();
      this.ctx.onClose(this);
      this.#resolveDone();
    };
    if (detached instanceof Promise) detached.catch(() => {}).finally(finish);
    else finish();
  }

  #logDisconnect(): void {
    if (this.#disconnectLogged) return;
    this.#disconnectLogged = true;
    this.ctx.log.info("disconnect", { peer: this.peer, nick: this.#nick, reason: this.#reason });
  }

  // Cut by the outbox. When it can still say `BYE slow consumer` at a frame boundary, the
  // connection stays open until that is written, for at most a second (or write_deadline).
  #cut(reason: string, lastWordSent: Promise<void> | null): void {
    this.#reason ||= reason;
    if (lastWordSent === null) return this.close(reason);
    this.#ending = true;
    // Gone for everybody else at once (WHO, fan-out, the log); only the socket waits for the
    // last word.
    void this.ctx.hub.detach(this);
    this.#logDisconnect();
    const timer = setTimeout(
      () => this.close(reason),
      Math.min(1000, this.ctx.config.writeDeadline),
    );
    void lastWordSent.then(() => {
      clearTimeout(timer);
      this.close(reason);
    });
  }

  /**
   * Liveness and write deadline check, called by the server's sweeper.
   *
   * @param now `Date.now()`.
   */
  sweep(now: number): void {
    if (this.#closed) return;
    const { pingInterval, writeDeadline } = this.ctx.config;
    if (this.outbox.stalledFor(now) > writeDeadline) {
      this.close("slow consumer");
      return;
    }
    if (this.#ending) return;
    if (this.#paused) this.#lastRx = now;
    if (this.#ping !== null && this.#lastRx >= this.#ping.enqueuedAt) {
      this.#ping = null;
      this.#missed = 0;
    }
    if (this.#ping === null) {
      if (now - this.#lastRx >= pingInterval) this.#sendPing(now);
      return;
    }
    if (this.#ping.writtenAt === 0) return;
    if (now - this.#ping.writtenAt >= pingInterval) {
      if (++this.#missed >= 2) this.end("idle");
      else this.#sendPing(now);
    }
  }

  #sendPing(now: number): void {
    const ping = { enqueuedAt: now, writtenAt: 0 };
    this.#ping = ping;
    this.outbox.send(PING);
    this.outbox.mark(() => ping.writtenAt = Date.now());
  }
}
