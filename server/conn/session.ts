/**
 * One session per connection: `for await` over the connection's frames, each through the gate
 * to its handler (server/conn/pipeline.ts keeps their replies in order); owns the connection's
 * outbox, liveness and close.
 *
 * @module
 */

import type { SessionConn, SessionContext } from "./context.ts";

export type { Command, SessionConn, SessionContext } from "./context.ts";

import { encodeError, encodeLine } from "../../lib/protocol/encoder.ts";
import { ErrorCode } from "../../lib/protocol/errors.ts";
import type { DecodeEvent, Frame, StreamStart } from "../../lib/protocol/frame.ts";
import { frames } from "../../lib/protocol/frames.ts";
import type { Access } from "../core/access.ts";
import { DISCARD, type ReplyStream, type StreamSink } from "../core/handler.ts";
import type { Member } from "../core/member.ts";
import { type SessionBounds, sessionBounds } from "./bounds.ts";
import { Gate } from "./gate.ts";
import { helloLine } from "./hello.ts";
import { noteBigPayload } from "./gc.ts";
import { Liveness } from "./liveness.ts";
import { Outbox } from "./outbox.ts";
import { Pipeline, type PipelineOwner } from "./pipeline.ts";
import { startStream } from "./stream_start.ts";

const PING = encodeLine("PING");
const BYE_SLOW = encodeLine("BYE slow consumer");

let nextId = 0;

/** A connected client: the hub's {@linkcode Member}, and what its commands act on. */
export class Session implements Member, PipelineOwner {
  /** Unique across processes: the node id, a dot, a counter. */
  readonly id: string;
  /** Connected since, unix milliseconds. */
  readonly since = Date.now();
  /** The peer address, `host:port`. */
  readonly peer: string;
  /** Outgoing frames. */
  readonly outbox: Outbox;
  /** The user this session acts as, once logged in with an account. */
  user: string | null = null;

  readonly #ctx: SessionContext<Session>;
  readonly #conn: SessionConn;
  readonly #gate: Gate;
  readonly #liveness = new Liveness();
  readonly #pipeline: Pipeline;
  /** Its bounds, from max_pending and max_inflight (server/conn/bounds.ts). */
  readonly #bounds: SessionBounds;
  readonly stream: ReplyStream;
  #pushes: boolean;
  #nickSeen = "";
  #disconnectLogged = false;
  /** When the control line being received started (0: none is). */
  #lineSince = 0;
  #counted = false;
  #ending = false;
  #closed = false;
  #reason = "";
  #sink: StreamSink | null = null;
  #loginTimer: ReturnType<typeof setTimeout> | undefined;
  #done: Promise<void>;
  #resolveDone!: () => void;

  /**
   * @param conn The connection.
   * @param peer Its address, for logs.
   * @param ctx Shared server state.
   */
  constructor(conn: SessionConn, peer: string, ctx: SessionContext<Session>) {
    this.id = `${ctx.node}.${++nextId}`;
    this.#conn = conn;
    this.peer = peer;
    this.#ctx = ctx;
    const metrics = ctx.metrics;
    const bounds = this.#bounds = sessionBounds(ctx.config);
    this.outbox = new Outbox(conn, {
      maxPending: ctx.config.maxPending,
      onCut: (reason, lastWordSent) => this.#cut(reason, lastWordSent),
      lastWord: (reason) => reason === "slow consumer" ? BYE_SLOW : null,
      onWritten: (n) => metrics.bytesOut += n,
      highWater: bounds.highWater,
      congestion: ctx.congestion,
    });
    this.#done = new Promise((resolve) => this.#resolveDone = resolve);
    this.#gate = new Gate(ctx.guest, {
      cmdRate: ctx.config.cmdRate,
      cmdBurst: ctx.config.cmdBurst,
    });
    this.#pushes = ctx.guest?.pushes ?? true;
    this.#pipeline = new Pipeline(
      this,
      bounds.inflight,
      metrics.commandLatency,
      bounds.inflightBytes,
    );
    this.stream = this.outbox.replyStream();
  }

  /** This session, as the hub knows it. */
  get member(): Member {
    return this;
  }

  /** What this session may do; `null` when the server requires no login. */
  get access(): Access | null {
    return this.#gate.access;
  }

  /**
   * Changes what this session may do (after `AUTH`, or a users file reload).
   *
   * @param access The new access.
   */
  setAccess(access: Access): void {
    this.#gate.access = access;
    this.#pushes = access.pushes;
    if (access.loggedIn) clearTimeout(this.#loginTimer);
  }

  /** Records a login (see `CommandContext.logIn`). */
  logIn(user: string | null, access: Access): void {
    if (user !== null) this.user = user;
    this.setAccess(access);
  }

  /** The current nick (the hub's; the last one known once detached). */
  get nick(): string {
    const nick = this.#ctx.hub.nick(this);
    if (nick !== "") this.#nickSeen = nick;
    return this.#nickSeen;
  }

  /** Why the session ended (`""` while it runs). */
  get reason(): string {
    return this.#reason;
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

  /** Queues bytes (replies go through the pipeline, which calls this in order). */
  send(bytes: Uint8Array): void {
    this.outbox.send(bytes);
  }

  /** A handler threw something other than an engine failure: logged, the session goes on. */
  failed(verb: string, error: unknown): void {
    this.#ctx.metrics.errors++;
    this.#ctx.log.error("command failed", {
      peer: this.peer,
      nick: this.nick,
      verb,
      error: String(error),
    });
  }

  /** Runs the session until the connection closes. Never rejects. */
  async run(): Promise<void> {
    const ctx = this.#ctx;
    try {
      // Pushes that reach this client from the moment it is attached (it is in lobby) until HELLO
      // is queued wait behind HELLO: HELLO is always the first frame.
      this.outbox.beginStream();
      const nick = await ctx.hub.attach(this);
      this.#nickSeen = nick;
      ctx.metrics.connected();
      this.#counted = true;
      ctx.log.info("connect", { peer: this.peer, nick });
      const away = ctx.hub.unavailable?.() ?? null;
      const hello = away === null ? ctx.hello : { ...ctx.hello, cluster_unavailable: away };
      this.outbox.sendStream(helloLine(ctx.config, nick, hello));
      this.outbox.endStream();
      if (this.access?.loggedIn === false) {
        this.#loginTimer = setTimeout(() => {
          if (this.access?.loggedIn) return;
          ctx.log.warn("login timeout", { peer: this.peer, nick: this.nick });
          this.end("login timeout");
        }, ctx.config.loginTimeout);
      }
      await this.#readLoop();
    } catch (e) {
      ctx.log.error("session error", { peer: this.peer, nick: this.nick, error: String(e) });
      this.close("internal error");
    } finally {
      if (!this.#ending) this.close("eof");
      try {
        await this.#sink?.abort();
      } catch (e) {
        ctx.log.error("upload abort failed", { peer: this.peer, error: String(e) });
      }
      this.#sink = null;
    }
  }

  async #readLoop(): Promise<void> {
    const { config, metrics, hub, congestion } = this.#ctx;
    const liveness = this.#liveness;
    const outbox = this.outbox;
    // The end of the commands of one read (or a wait): what they published or answered goes out.
    const release = () => {
      hub.flush();
      outbox.uncork();
    };
    const events = frames(this.#conn, {
      maxLine: config.maxLine,
      maxPayload: config.maxPayload,
      minRead: this.#bounds.minRead,
      maxRead: this.#bounds.maxRead,
      onRead: (n) => {
        liveness.heard();
        metrics.bytesIn += n;
        outbox.cork();
      },
      onDrained: () => {
        release();
        // A line begun but not ended: from when its first part arrived (slow-line deadline).
        if (!events.inLine) this.#lineSince = 0;
        else if (this.#lineSince === 0) this.#lineSince = Date.now();
        // Flow control: members this read's commands left behind get up to max_stall to catch
        // up before this client is read again.
        return congestion.any
          ? this.#unread(congestion.hold(this.outbox, config, metrics))
          : undefined;
      },
    });
    const { unreadAbove, readBelow } = this.#bounds;
    try {
      // The first event of each read is awaited; the rest of that read's are taken at once.
      for await (const first of events) {
        for (let ev: DecodeEvent | undefined = first; ev !== undefined; ev = events.take()) {
          if (ev.type === "frame" && ev.payload !== null) noteBigPayload(ev.payload.length);
          const r = this.#dispatch(ev);
          if (r !== undefined) {
            release();
            // While a command runs (a download, a first-use hash, a disk write), we are the ones
            // not reading: the client's silence meanwhile is not idleness.
            await this.#unread(r);
          }
          if (this.#ending) return;
          // Back-pressure: a client that does not read its replies stops being read (one read can
          // hold thousands of pipelined commands whose replies would pass max_pending).
          if (this.outbox.pending > unreadAbove) {
            release();
            await this.#unread(this.outbox.drain(readBelow));
            if (this.#ending) return;
          }
        }
      }
    } finally {
      release();
    }
    if (!this.#ending) this.close(this.#sink ? "eof during upload" : "eof");
  }

  /** Waits for `work` while not reading this client: its silence meanwhile is not idleness. */
  async #unread(work: Promise<unknown>): Promise<void> {
    this.#liveness.pause();
    try {
      await work;
    } finally {
      this.#liveness.resume();
    }
  }

  #dispatch(ev: DecodeEvent): void | Promise<void> {
    switch (ev.type) {
      case "frame":
        if (ev.badText) {
          return this.#replyError(
            ErrorCode.BadRequest,
            "Cannot read command: it is not valid UTF-8",
          );
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
        this.#replyError(ev.error.code, ev.error.message);
        this.#ctx.log.warn("protocol error", {
          peer: this.peer,
          nick: this.nick,
          error: ev.error.message,
        });
        this.#ctx.metrics.protocolErrors++;
        this.end("protocol error");
        return aborted;
      }
    }
  }

  #replyError(code: number, text: string): void {
    this.#pipeline.reply(encodeError(code, text));
  }

  #command(frame: Frame): void | Promise<void> {
    const gate = this.#gate;
    const metrics = this.#ctx.metrics;
    const tooMany = gate.rate(frame.verb);
    if (tooMany !== null) {
      metrics.rateLimited++;
      return this.#replyError(ErrorCode.TooMany, tooMany);
    }
    const command = this.#ctx.commands.get(frame.verb);
    if (command === undefined) {
      metrics.count("unknown");
      const verb = frame.verb.length > 32 ? frame.verb.slice(0, 32) + "…" : frame.verb;
      return this.#replyError(
        ErrorCode.BadRequest,
        `Unknown command "${verb}": send HELP for the list`,
      );
    }
    command.counter.value++;
    const denied = gate.permit(frame.verb);
    if (denied !== null) return this.#replyError(denied[0], denied[1]);
    return this.#pipeline.run(command.handler, frame, command.overlap);
  }

  #stream(start: StreamStart): void | Promise<void> {
    // Streamed commands run alone: whatever is in flight finishes first.
    if (this.#pipeline.inFlight > 0) return this.#pipeline.idle().then(() => this.#stream(start));
    const sink = startStream(start, this, this.#gate, this.#ctx, this.#pipeline.context);
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
    this.send(encodeError(code, text));
    if (start.size > this.#ctx.config.maxPayload) this.end("refused upload");
    return DISCARD;
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
    this.#pipeline.flushAll();
    if (bye) this.outbox.send(encodeLine(`BYE ${reason}`));
    this.outbox.uncork();
    this.outbox.mark(() => this.close(reason));
    const timer = setTimeout(() => this.close(reason), this.#ctx.config.writeDeadline);
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
    const finish = () => {
      this.#logDisconnect();
      this.#ctx.onClose(this);
      this.#resolveDone();
    };
    const detached = this.#detach();
    if (detached instanceof Promise) detached.finally(finish);
    else finish();
  }

  /** Leaves the hub; an engine failure is logged, never thrown (nobody awaits it). */
  #detach(): void | Promise<void> {
    void this.nick; // the nick, as last known, for the disconnect line
    const engineFailed = (e: unknown) => {
      this.#ctx.metrics.engineErrors++;
      this.#ctx.log.warn("engine error", { peer: this.peer, action: "detach", error: String(e) });
    };
    try {
      const detached = this.#ctx.hub.detach(this);
      if (detached instanceof Promise) return detached.catch(engineFailed);
    } catch (e) {
      engineFailed(e);
    }
  }

  #logDisconnect(): void {
    if (this.#disconnectLogged) return;
    this.#disconnectLogged = true;
    if (this.#counted) this.#ctx.metrics.disconnected(this.#reason);
    this.#ctx.log.info("disconnect", { peer: this.peer, nick: this.nick, reason: this.#reason });
  }

  // Cut by the outbox. When it can still say `BYE slow consumer` at a frame boundary, the
  // connection stays open until that is written, for at most a second (or write_deadline).
  #cut(reason: string, lastWordSent: Promise<void> | null): void {
    this.#reason ||= reason;
    if (lastWordSent === null) return this.close(reason);
    this.#ending = true;
    // Gone for everybody else at once (WHO, fan-out, the log); only the socket waits for the
    // last word.
    void this.#detach();
    this.#logDisconnect();
    const timer = setTimeout(
      () => this.close(reason),
      Math.min(1000, this.#ctx.config.writeDeadline),
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
    const { pingInterval, writeDeadline } = this.#ctx.config;
    this.outbox.releaseIdle();
    if (this.outbox.stalledFor(now) > writeDeadline) {
      this.close("slow consumer");
      return;
    }
    if (this.#ending) return;
    if (this.#lineSince !== 0 && now - this.#lineSince > this.#ctx.config.lineTimeout) {
      this.#ctx.log.warn("line timeout", { peer: this.peer, nick: this.nick });
      this.end("line timeout");
      return;
    }
    const action = this.#liveness.check(now, pingInterval);
    if (action === "idle") this.end("idle");
    else if (action === "ping") {
      const ping = this.#liveness.pinged(now);
      this.outbox.send(PING);
      this.outbox.mark(() => ping.written());
    }
  }
}
