/**
 * The chat and control commands (NICK ... HELP). File commands live in server/files/, `AUTH`
 * in server/auth/; the server merges them.
 *
 * @module
 */

import { encodeLine, encodeTextFrame } from "../../lib/protocol/encoder.ts";
import { ErrorCode } from "../../lib/protocol/errors.ts";
import type { Frame } from "../../lib/protocol/frame.ts";
import { isValidNick, isValidRoom } from "../../lib/protocol/limits.ts";
import { HELP_TEXT } from "../../lib/protocol/verbs.ts";
import type { CommandContext, Handler } from "../core/handler.ts";
import type { Hub } from "../core/hub.ts";
import { then } from "../core/member.ts";
import type { Metrics } from "../core/metrics.ts";

/** What the chat commands need. */
export interface ChatCommandOptions {
  /** The hub. */
  hub: Hub;
  /** Largest message payload (`max_payload`). */
  maxPayload: number;
  /** Rooms per client, `lobby` included; 0 for no limit. */
  maxRooms: number;
  /** Where messages are counted. */
  metrics: Metrics;
}

function usage(ctx: CommandContext, text: string): void {
  ctx.replyError(ErrorCode.BadRequest, `Usage: ${text}`);
}

function badRoom(ctx: CommandContext, room: string): void {
  ctx.replyError(
    ErrorCode.BadRequest,
    `Cannot use room "${room.slice(0, 70)}": names are 1-64 of A-Z a-z 0-9 _ - .`,
  );
}

// Replies sent at message rates are encoded once (the outbox never changes the bytes it is given).
const PONG = encodeLine("PONG");
const HELP = encodeTextFrame("HELP", HELP_TEXT);
const OK_BYE = encodeLine("OK bye");
const OK_ONE = encodeLine("OK 1");
const OK_COUNTS: Uint8Array[] = [];

function okCount(n: number): Uint8Array {
  if (n >= 1024) return encodeLine(`OK ${n}`);
  return OK_COUNTS[n] ??= encodeLine(`OK ${n}`);
}

// The TIME reply of the current millisecond, formatted once (a busy server answers many per ms).
let timeAt = -1;
let timeReply: Uint8Array = new Uint8Array(0);

/**
 * Makes the chat and control handlers.
 *
 * @param options See {@linkcode ChatCommandOptions}.
 * @returns Handlers by verb.
 */
export function createChatHandlers(options: ChatCommandOptions): Map<string, Handler> {
  const { hub, maxPayload, maxRooms, metrics } = options;

  // An inline payload is bounded by max_line; when max_line is set above max_payload, this keeps
  // max_payload (which HELLO announces) the real bound. Sized payloads never get here that large.
  function tooBig(ctx: CommandContext, size: number): void {
    ctx.replyError(
      ErrorCode.TooLarge,
      `Cannot send message: ${size} bytes is over max_payload (${maxPayload} bytes)`,
    );
  }

  function nick(ctx: CommandContext, f: Frame): void | Promise<void> {
    if (f.args.length !== 1) return usage(ctx, "NICK name");
    const name = f.args[0]!;
    if (!isValidNick(name)) {
      return ctx.replyError(
        ErrorCode.BadRequest,
        `Cannot use nick "${name.slice(0, 40)}": nicks are 1-32 of A-Z a-z 0-9 _ -`,
      );
    }
    return then(hub.rename(ctx.member, name), (ok) => {
      if (!ok) return ctx.replyError(ErrorCode.Conflict, `Cannot use nick "${name}": it is in use`);
      ctx.replyLine(`OK ${name}`);
    });
  }

  function join(ctx: CommandContext, f: Frame): void | Promise<void> {
    if (f.args.length !== 1) return usage(ctx, "JOIN room");
    const room = f.args[0]!;
    if (!isValidRoom(room)) return badRoom(ctx, room);
    // At max_rooms, JOIN of a room already joined is fine (no push); any other is ERR 413.
    if (maxRooms > 0 && hub.roomCount(ctx.member) >= maxRooms && !hub.isIn(ctx.member, room)) {
      return ctx.replyError(
        ErrorCode.TooLarge,
        `Cannot join ${room}: over --max-rooms ${maxRooms} (rooms per client, lobby included)`,
      );
    }
    return then(hub.join(ctx.member, room), (name) => ctx.replyLine(`OK ${name}`));
  }

  function leave(ctx: CommandContext, f: Frame): void | Promise<void> {
    if (f.args.length !== 1) return usage(ctx, "LEAVE room");
    const room = f.args[0]!;
    if (!isValidRoom(room)) return badRoom(ctx, room);
    return then(hub.leave(ctx.member, room), (r) => {
      if (r === "lobby") {
        ctx.replyError(ErrorCode.Forbidden, "Cannot leave lobby: everybody is in it");
      } else if (r === "not-member") {
        ctx.replyError(ErrorCode.NotFound, `Cannot leave ${room}: not in that room`);
      } else ctx.replyLine(`OK ${r.room}`);
    });
  }

  function say(ctx: CommandContext, f: Frame): void | Promise<void> {
    if (f.args.length !== 1 || f.payload === null) {
      return usage(ctx, "SAY room :text, or SAY room N + N bytes");
    }
    if (f.payload.length > maxPayload) return tooBig(ctx, f.payload.length);
    const room = f.args[0]!;
    if (!isValidRoom(room)) return badRoom(ctx, room);
    return then(hub.publish(ctx.member, room, f.payload), (r) => {
      if (r === "no-room") {
        ctx.replyError(ErrorCode.NotFound, `Cannot say to ${room}: no such room`);
      } else if (r === "not-member") {
        ctx.replyError(ErrorCode.Forbidden, `Cannot say to ${room}: JOIN it first`);
      } else {
        metrics.messagesIn++;
        metrics.messagesDelivered += r;
        ctx.reply(okCount(r));
      }
    });
  }

  function tell(ctx: CommandContext, f: Frame): void | Promise<void> {
    if (f.args.length !== 1 || f.payload === null) {
      return usage(ctx, "TELL nick :text, or TELL nick N + N bytes");
    }
    if (f.payload.length > maxPayload) return tooBig(ctx, f.payload.length);
    const to = f.args[0]!;
    if (!isValidNick(to)) {
      return ctx.replyError(ErrorCode.NotFound, `Cannot tell ${to.slice(0, 40)}: no such nick`);
    }
    return then(hub.tell(ctx.member, to, f.payload), (ok) => {
      if (!ok) return ctx.replyError(ErrorCode.NotFound, `Cannot tell ${to}: no such nick`);
      metrics.messagesDelivered++;
      ctx.reply(OK_ONE);
    });
  }

  function who(ctx: CommandContext, f: Frame): void | Promise<void> {
    if (f.args.length > 1) return usage(ctx, "WHO [room]");
    const room = f.args[0];
    if (room !== undefined && !isValidRoom(room)) return badRoom(ctx, room);
    return then(hub.who(room), (list) => {
      if (list === null) ctx.replyError(ErrorCode.NotFound, `Cannot list ${room}: no such room`);
      else ctx.reply(encodeTextFrame("WHO", JSON.stringify(list)));
    });
  }

  function rooms(ctx: CommandContext, f: Frame): void | Promise<void> {
    if (f.args.length !== 0) return usage(ctx, "ROOMS");
    return then(hub.rooms(), (list) => ctx.reply(encodeTextFrame("ROOMS", JSON.stringify(list))));
  }

  function time(ctx: CommandContext, f: Frame): void {
    if (f.args.length !== 0) return usage(ctx, "TIME");
    const now = Date.now();
    if (now !== timeAt) {
      timeAt = now;
      timeReply = encodeLine(`TIME ${new Date(now).toISOString()} ${now}`);
    }
    ctx.reply(timeReply);
  }

  function ping(ctx: CommandContext, f: Frame): void {
    if (f.args.length !== 0) return usage(ctx, "PING");
    ctx.reply(PONG);
  }

  function pong(): void {
    // The answer to our PING: any byte already counted as a sign of life; no reply.
  }

  function quit(ctx: CommandContext): void {
    ctx.reply(OK_BYE);
    ctx.end("quit", false);
  }

  function help(ctx: CommandContext): void {
    ctx.reply(HELP);
  }

  function auth(ctx: CommandContext): void {
    ctx.replyError(ErrorCode.BadRequest, "authentication is not enabled");
  }

  return new Map<string, Handler>([
    ["NICK", nick],
    ["JOIN", join],
    ["LEAVE", leave],
    ["SAY", say],
    ["TELL", tell],
    ["WHO", who],
    ["ROOMS", rooms],
    ["TIME", time],
    ["PING", ping],
    ["PONG", pong],
    ["QUIT", quit],
    ["HELP", help],
    ["AUTH", auth],
  ]);
}
