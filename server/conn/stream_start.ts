/**
 * The start of a streamed command (`PUT` and its bytes): the gate's rate and permission, then its
 * handler, which gives the sink its bytes go to. A refused or unknown one gets its `ERR` and a
 * sink that skips the bytes (or the connection ends, when there are more than `max_payload`).
 *
 * @module
 */

import { encodeError } from "../../lib/protocol/encoder.ts";
import { ErrorCode } from "../../lib/protocol/errors.ts";
import type { StreamStart } from "../../lib/protocol/frame.ts";
import { type CommandContext, DISCARD, type StreamSink } from "../core/handler.ts";
import type { SessionContext } from "./context.ts";
import type { Gate } from "./gate.ts";

/** What starting a stream needs of its session. */
export interface StreamOwner {
  /** Queues bytes on the connection. */
  send(bytes: Uint8Array): void;
  /** Ends the session politely. */
  end(reason: string): void;
  /** Replies `ERR` and skips the bytes (or ends the session). */
  refuseStream(start: StreamStart, code: number, text: string): StreamSink;
}

/**
 * Starts a streamed command (nothing else is in flight).
 *
 * @param start Its head.
 * @param owner The session.
 * @param gate The session's gate.
 * @param ctx The server's shared state.
 * @param context The context its handler runs in.
 * @returns The sink its bytes go to, once known.
 */
export function startStream(
  start: StreamStart,
  owner: StreamOwner,
  gate: Gate,
  ctx: Pick<SessionContext, "config" | "metrics" | "streams">,
  context: CommandContext,
): StreamSink | Promise<StreamSink> {
  const tooMany = gate.rate(start.verb);
  if (tooMany !== null) {
    ctx.metrics.rateLimited++;
    return owner.refuseStream(start, ErrorCode.TooMany, tooMany);
  }
  const denied = start.badText ? null : gate.permit(start.verb);
  if (denied !== null) return owner.refuseStream(start, denied[0], denied[1]);
  const handler = ctx.streams.get(start.verb);
  if (handler === undefined || start.badText) {
    ctx.metrics.count("unknown");
    owner.send(encodeError(
      ErrorCode.BadRequest,
      start.badText
        ? "Cannot read command: it is not valid UTF-8"
        : `Unknown command "${start.verb}"`,
    ));
    if (start.size > ctx.config.maxPayload) owner.end("protocol error");
    return DISCARD;
  }
  ctx.metrics.count(start.verb);
  return handler(context, start);
}
