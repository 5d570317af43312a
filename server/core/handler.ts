/**
 * The contract between a session and the command handlers: a handler gets a
 * {@linkcode CommandContext} (what it may do for one command) and the decoded frame, and answers
 * through the context. Handlers never see the session itself.
 *
 * @module
 */

import type { Frame, StreamStart } from "../../lib/protocol/frame.ts";
import type { Access } from "./access.ts";
import type { Member } from "./member.ts";

/**
 * A large reply written in pieces (a file, a long listing): while it is open, pushes wait behind
 * it so they never land inside it.
 */
export interface ReplyStream {
  /** True once the connection is gone: stop producing. */
  readonly closed: boolean;
  /** Starts the stream (pushes queue behind it from now). */
  begin(): void;
  /** Queues a piece; the bytes must stay unchanged until written. */
  send(bytes: Uint8Array): void;
  /** Resolves once at most `below` bytes are still queued (or the connection is gone). */
  drain(below: number): Promise<void>;
  /** Ends the stream; held pushes follow. */
  end(): void;
}

/** The session as a handler may see it: who it is, and what it may do to it. */
export interface SessionView {
  /** The client as the hub knows it (pass it to hub calls). */
  readonly member: Member;
  /** The peer address, `host:port`, for logs. */
  readonly peer: string;
  /** The current nick. */
  readonly nick: string;
  /** The user it logged in as, or `null`. */
  readonly user: string | null;
  /** What it may do; `null` when the server requires no login. */
  readonly access: Access | null;
  /** True once the session stopped taking commands. */
  readonly ending: boolean;
  /** The connection's stream for large replies (serial commands only). */
  readonly stream: ReplyStream;
  /**
   * Refuses a streamed command: replies `ERR`, then skips its bytes when there are at most
   * `max_payload` of them, or ends the connection (framing cannot be kept cheaply).
   *
   * @returns The sink to hand back from a stream handler.
   */
  refuseStream(start: StreamStart, code: number, text: string): StreamSink;
  /** Records a successful login: the user (or `null` for a token) and its access. */
  logIn(user: string | null, access: Access): void;
  /**
   * Ends the session politely: `BYE reason` after what is queued, then the close.
   *
   * @param reason Why, as sent in `BYE` and logged.
   * @param bye Whether to send `BYE` (false after `QUIT`, whose `OK bye` says it all).
   */
  end(reason: string, bye?: boolean): void;
  /** Closes the connection now (framing is lost). */
  close(reason: string): void;
}

/** What a handler may do while it answers one command: the session, and replies in order. */
export interface CommandContext extends SessionView {
  /** Queues a reply (in command order, whatever the handler awaited). */
  reply(bytes: Uint8Array): void;
  /** Queues a one-line reply. */
  replyLine(line: string): void;
  /** Queues an `ERR` reply. */
  replyError(code: number, text: string): void;
}

/**
 * Runs one command. A handler that returns a promise may be overlapped by the commands after it
 * when its verb allows (see `order` in lib/protocol/verbs.ts); its replies still go out in order.
 * Payload views in `frame` are valid only until the handler returns or first awaits.
 */
export type Handler = (ctx: CommandContext, frame: Frame) => void | Promise<void>;

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
  ctx: CommandContext,
  start: StreamStart,
) => StreamSink | Promise<StreamSink>;

/** A sink that ignores a payload (a refused upload whose bytes are skipped). */
export const DISCARD: StreamSink = { data() {}, end() {}, abort() {} };

/** An engine (Redis, or any shared store) could not do its part: the command gets `ERR 503`. */
export class EngineUnavailableError extends Error {
  /**
   * @param message What failed, said after `cluster unavailable: `.
   * @param options The cause.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "EngineUnavailableError";
  }
}
