/**
 * Pipelined commands of one session: every command gets a {@linkcode CommandContext} whose
 * replies go out in command order, while the engine work of commands whose verb allows it
 * (`order: "overlap"` in lib/protocol/verbs.ts) runs at the same time. A `SAY` does not wait
 * for the previous `SAY`'s engine round trip to start its own.
 *
 * When every handler answers synchronously (the memory engine) nothing is queued and no object
 * is made per command: one context serves them all.
 *
 * @module
 */

import { encodeError, encodeLine } from "../../lib/protocol/encoder.ts";
import { ErrorCode } from "../../lib/protocol/errors.ts";
import type { Frame, StreamStart } from "../../lib/protocol/frame.ts";
import type { Access } from "../core/access.ts";
import {
  type CommandContext,
  EngineUnavailableError,
  type Handler,
  type ReplyStream,
  type SessionView,
  type StreamSink,
} from "../core/handler.ts";
import type { Member } from "../core/member.ts";
import type { Observer } from "../core/metrics.ts";

/** One command in this many has its latency measured (all sessions together). */
export const LATENCY_SAMPLE = 64;
let sampleTick = 0;

/** What the contexts of a pipeline act on: the session, as far as a handler may touch it. */
export interface PipelineOwner extends SessionView {
  /** Queues bytes on the connection. */
  send(bytes: Uint8Array): void;
  /** A handler failed with something other than an engine failure. */
  failed(verb: string, error: unknown): void;
}

/** The context of one command. */
class Scope implements CommandContext {
  readonly #owner: PipelineOwner;
  readonly #pipeline: Pipeline;
  /** Replies held back while an earlier command is unfinished. */
  buffer: Uint8Array[] | null = null;
  /** True while an earlier command is unfinished (replies are buffered). */
  held = false;
  /** True once the command is done (it may still wait for earlier ones). */
  settled = false;
  /** Its payload's bytes, counted against the pipeline's byte bound while it is queued. */
  bytes = 0;

  constructor(owner: PipelineOwner, pipeline: Pipeline) {
    this.#owner = owner;
    this.#pipeline = pipeline;
  }

  get member(): Member {
    return this.#owner.member;
  }
  get peer(): string {
    return this.#owner.peer;
  }
  get nick(): string {
    return this.#owner.nick;
  }
  get user(): string | null {
    return this.#owner.user;
  }
  get access(): Access | null {
    return this.#owner.access;
  }
  get ending(): boolean {
    return this.#owner.ending;
  }
  get stream(): ReplyStream {
    return this.#owner.stream;
  }

  reply(bytes: Uint8Array): void {
    if (this.held) (this.buffer ??= []).push(bytes);
    else this.#owner.send(bytes);
  }

  replyLine(line: string): void {
    this.reply(encodeLine(line));
  }

  replyError(code: number, text: string): void {
    this.reply(encodeError(code, text));
  }

  refuseStream(start: StreamStart, code: number, text: string): StreamSink {
    return this.#owner.refuseStream(start, code, text);
  }

  logIn(user: string | null, access: Access): void {
    this.#owner.logIn(user, access);
  }

  end(reason: string, bye?: boolean): void {
    this.#pipeline.flushAll();
    this.#owner.end(reason, bye);
  }

  close(reason: string): void {
    this.#owner.close(reason);
  }
}

/**
 * The ordered replies of one session's commands.
 *
 * @example
 * ```ts
 * import { Pipeline, type PipelineOwner } from "./pipeline.ts";
 * const sent: string[] = [];
 * const owner = {
 *   send: (b: Uint8Array) => sent.push(new TextDecoder().decode(b).trim()),
 *   failed() {},
 * } as unknown as PipelineOwner;
 * const pipeline = new Pipeline(owner, 8);
 * import type { Frame } from "../../lib/protocol/frame.ts";
 * const frame: Frame = { type: "frame", verb: "SAY", args: [], payload: null, badText: false };
 * let finish = () => {};
 * pipeline.run((ctx) => new Promise<void>((r) => finish = r).then(() => ctx.replyLine("OK 1")), frame, true);
 * pipeline.run((ctx) => ctx.replyLine("OK 2"), frame, true);
 * console.assert(sent.length === 0); // the second reply waits for the first
 * finish();
 * await pipeline.idle();
 * console.assert(sent.join() === "OK 1,OK 2");
 * ```
 */
export class Pipeline {
  readonly #owner: PipelineOwner;
  readonly #max: number;
  /** Commands not done, or done but behind one that is not; the head's replies go out at once. */
  readonly #queue: Scope[] = [];
  /** The context of the next command when nothing is queued. */
  #free: Scope;
  /** Who waits for room (the read loop; a test may wait for idle() beside it). */
  #waiters: { below: number; resolve: () => void }[] = [];
  readonly #latency: Observer | null;
  /** Most payload bytes of the queued commands (their payloads wait in the engine's batches). */
  readonly #maxBytes: number;
  #bytes = 0;

  /**
   * @param owner The session.
   * @param max Most commands in flight; the read loop waits beyond it.
   * @param latency Told, for one command in {@linkcode LATENCY_SAMPLE}, the milliseconds from
   *   its dispatch until its handler is done (its reply is queued, or held behind an earlier one).
   * @param maxBytes Most payload bytes of the commands in flight; the read loop waits beyond it
   *   too (one command is always let in, whatever its size).
   */
  constructor(
    owner: PipelineOwner,
    max: number,
    latency: Observer | null = null,
    maxBytes = Infinity,
  ) {
    this.#owner = owner;
    this.#max = Math.max(1, max);
    this.#free = new Scope(owner, this);
    this.#latency = latency;
    this.#maxBytes = maxBytes;
  }

  /** The context for a command that runs when nothing is in flight (a streamed command). */
  get context(): CommandContext {
    return this.#free;
  }

  /** Commands in flight (or done, waiting for an earlier one). */
  get inFlight(): number {
    return this.#queue.length;
  }

  /** The payload bytes of the commands in flight. */
  get inFlightBytes(): number {
    return this.#bytes;
  }

  /**
   * Runs one command.
   *
   * @param handler Its handler.
   * @param frame The command.
   * @param overlap Whether the commands after it may start before it is done.
   * @returns A promise the read loop must wait for before the next command (a serial command,
   *   or a full pipeline), else `undefined`.
   */
  run(handler: Handler, frame: Frame, overlap: boolean): void | Promise<void> {
    if (this.#latency !== null && (++sampleTick & (LATENCY_SAMPLE - 1)) === 0) {
      return this.#timed(handler, frame, overlap);
    }
    return this.#run(handler, frame, overlap);
  }

  #timed(handler: Handler, frame: Frame, overlap: boolean): void | Promise<void> {
    const latency = this.#latency!;
    const started = performance.now();
    const done = () => latency.observe(performance.now() - started);
    return this.#run(
      (ctx, f) => {
        const result = handler(ctx, f);
        if (result === undefined) done();
        else result.then(done, done);
        return result;
      },
      frame,
      overlap,
    );
  }

  #run(handler: Handler, frame: Frame, overlap: boolean): void | Promise<void> {
    if (!overlap) {
      if (this.#queue.length === 0) return this.#runSerial(handler, frame);
      // Everything before it finishes first (the frame's views stay valid: nothing is read).
      return this.idle().then(() => this.#runSerial(handler, frame));
    }
    const head = this.#queue.length === 0;
    const scope = head ? this.#free : new Scope(this.#owner, this);
    scope.held = !head;
    let result: void | Promise<void>;
    try {
      result = handler(scope, frame);
    } catch (e) {
      this.#fail(scope, frame.verb, e);
      result = undefined;
    }
    if (result === undefined) {
      if (head) return;
      scope.settled = true;
    } else {
      if (head) {
        this.#free = new Scope(this.#owner, this);
        this.#queue.push(scope);
      }
      scope.bytes = frame.payload?.length ?? 0;
      this.#bytes += scope.bytes;
      result.then(
        () => this.#settle(scope),
        (e) => {
          this.#fail(scope, frame.verb, e);
          this.#settle(scope);
        },
      );
    }
    if (!head) this.#queue.push(scope);
    if (this.#queue.length >= this.#max || this.#bytes >= this.#maxBytes) {
      return this.#below(this.#max);
    }
  }

  /**
   * Queues a reply of the session itself (an unknown verb, a refusal) in command order.
   *
   * @param bytes The reply.
   */
  reply(bytes: Uint8Array): void {
    if (this.#queue.length === 0) return this.#owner.send(bytes);
    const scope = new Scope(this.#owner, this);
    scope.held = true;
    scope.settled = true;
    scope.buffer = [bytes];
    this.#queue.push(scope);
  }

  /** Resolves once every command in flight is done and its replies are queued. */
  idle(): Promise<void> {
    return this.#below(1);
  }

  /** Sends every held reply now, in order (the session ends: no more ordering to keep). */
  flushAll(): void {
    for (const scope of this.#queue) {
      if (scope.buffer !== null) { for (const b of scope.buffer) this.#owner.send(b); }
      scope.buffer = null;
      scope.held = false;
    }
  }

  #runSerial(handler: Handler, frame: Frame): void | Promise<void> {
    const scope = this.#free;
    let result: void | Promise<void>;
    try {
      result = handler(scope, frame);
    } catch (e) {
      return this.#fail(scope, frame.verb, e);
    }
    if (result === undefined) return;
    return result.catch((e) => this.#fail(scope, frame.verb, e));
  }

  #fail(scope: Scope, verb: string, e: unknown): void {
    if (e instanceof EngineUnavailableError) {
      scope.replyError(ErrorCode.Unavailable, `cluster unavailable: ${e.message}`);
      return;
    }
    this.#owner.failed(verb, e);
    scope.replyError(ErrorCode.Internal, "internal error");
  }

  #settle(scope: Scope): void {
    scope.settled = true;
    const queue = this.#queue;
    if (queue[0] !== scope) return;
    while (queue.length > 0) {
      const head = queue[0]!;
      if (head.held) {
        head.held = false;
        if (head.buffer !== null) { for (const b of head.buffer) this.#owner.send(b); }
        head.buffer = null;
      }
      if (!head.settled) break;
      queue.shift();
      this.#bytes -= head.bytes;
    }
    if (this.#waiters.length === 0) return;
    const ready = this.#waiters.filter((w) => this.#fits(w.below));
    if (ready.length === 0) return;
    this.#waiters = this.#waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }

  /** Fewer than `n` commands, and (unless none is left) fewer payload bytes than the bound. */
  #fits(n: number): boolean {
    const queue = this.#queue;
    return queue.length < n && (queue.length === 0 || this.#bytes < this.#maxBytes);
  }

  #below(n: number): Promise<void> {
    if (this.#fits(n)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ below: n, resolve }));
  }
}
