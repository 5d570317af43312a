/**
 * The chat and control commands (NICK ... HELP). File commands live in server/files/, `AUTH`
 * in server/auth/; the server merges them.
 *
 * @module
 */

import { encodeLine, encodeTextFrame } from "../../lib/protocol/encoder.ts";
import { ErrorCode } from "../../lib/protocol/errors.ts";
import type { Frame } from "../../lib/protocol/frame.ts";
import { HISTORY_DEFAULT_COUNT, isValidNick, isValidRoom } from "../../lib/protocol/limits.ts";
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
  /** Most messages one `HISTORY` reply carries (`max_history_reply`). */
  maxHistoryReply: number;
}

/** A `HISTORY` reply up to this size is queued at once; a larger one is streamed. */
const HISTORY_AT_ONCE = 256 * 1024;

function usage(ctx: CommandContext, text: string): void {
  ctx.replyError(ErrorCode.BadRequest, `Usage: ${text}`);
}

/** `SAY lobby hello world` (words where `:text` or a byte count should be): how to write it. */
function colonHint(ctx: CommandContext, verb: string, args: readonly string[]): void {
  const [to, ...words] = args;
  let text = words.join(" ");
  if (text.length > 60) text = `${text.slice(0, 57)}...`;
  ctx.replyError(
    ErrorCode.BadRequest,
    `Cannot read ${verb}: put a colon before the text: ${verb} ${to!.slice(0, 64)} :${text}`,
  );
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

/** Replies are cut from slabs: a typed array of its own per reply cost more than the rest of SAY. */
const SLAB = 64 * 1024;
let slab = new Uint8Array(SLAB);
let slabAt = 0;

/**
 * `OK <recipients> <id>`: the reply to every SAY, so built without a string, into a shared slab
 * (its bytes are never written again once handed out: the outbox may hold them until sent).
 */
function okSent(recipients: number, id: number): Uint8Array {
  if (slabAt + 40 > SLAB) {
    slab = new Uint8Array(SLAB);
    slabAt = 0;
  }
  const out = slab;
  const start = slabAt;
  out[start] = 79; // "OK "
  out[start + 1] = 75;
  out[start + 2] = 32;
  let at = writeDigits(out, start + 3, recipients);
  out[at++] = 32;
  at = writeDigits(out, at, id);
  out[at++] = 13;
  out[at++] = 10;
  slabAt = at;
  return out.subarray(start, at);
}

function writeDigits(buf: Uint8Array, at: number, value: number): number {
  let n = 1;
  for (let v = value; v >= 10; v = Math.floor(v / 10)) n++;
  for (let i = n - 1, v = value; i >= 0; i--, v = Math.floor(v / 10)) buf[at + i] = 48 + (v % 10);
  return at + n;
}

/** A count or id as the protocol writes them: decimal digits, no sign, at most 15 of them. */
const COUNT_RE = /^[0-9]{1,15}$/;

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
  const { hub, maxPayload, maxRooms, metrics, maxHistoryReply } = options;

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
    // `JOIN room quiet`: joined without JOINED, and left without LEFT (a one-shot sender).
    const quiet = f.args.length === 2 && f.args[1]!.toLowerCase() === "quiet";
    if (f.args.length !== 1 && !quiet) return usage(ctx, "JOIN room");
    const room = f.args[0]!;
    if (!isValidRoom(room)) return badRoom(ctx, room);
    // At max_rooms, JOIN of a room already joined is fine (no push); any other is ERR 413.
    if (maxRooms > 0 && hub.roomCount(ctx.member) >= maxRooms && !hub.isIn(ctx.member, room)) {
      return ctx.replyError(
        ErrorCode.TooLarge,
        `Cannot join ${room}: over --max-rooms ${maxRooms} (rooms per client, lobby included)`,
      );
    }
    return then(hub.join(ctx.member, room, quiet), (name) => ctx.replyLine(`OK ${name}`));
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
    if (f.payload === null && f.args.length >= 2) return colonHint(ctx, "SAY", f.args);
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
        metrics.messagesDelivered += r.recipients;
        ctx.reply(okSent(r.recipients, r.id));
      }
    });
  }

  function tell(ctx: CommandContext, f: Frame): void | Promise<void> {
    if (f.payload === null && f.args.length >= 2) return colonHint(ctx, "TELL", f.args);
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

  function history(ctx: CommandContext, f: Frame): void | Promise<void> {
    const a = f.args;
    const form = "HISTORY room [n] [after id]";
    if (a.length < 1 || a.length > 4) return usage(ctx, form);
    const room = a[0]!;
    let limit = HISTORY_DEFAULT_COUNT;
    let rest = 1;
    if (a.length === 2 || a.length === 4) {
      if (!COUNT_RE.test(a[1]!)) return usage(ctx, form);
      limit = Number(a[1]);
      rest = 2;
    }
    let after: number | undefined;
    if (a.length - rest === 2) {
      if (a[rest]!.toLowerCase() !== "after" || !COUNT_RE.test(a[rest + 1]!)) {
        return usage(ctx, form);
      }
      after = Number(a[rest + 1]);
    } else if (a.length - rest !== 0) return usage(ctx, form);
    if (!isValidRoom(room)) return badRoom(ctx, room);
    limit = Math.min(limit, maxHistoryReply);
    return then(hub.history(ctx.member, room, { limit, after }), (page) => {
      if (page === "no-room") {
        return ctx.replyError(ErrorCode.NotFound, `Cannot read ${room}: no such room`);
      }
      if (page === "not-member") {
        return ctx.replyError(ErrorCode.Forbidden, `Cannot read ${room}: JOIN it first`);
      }
      const { frames } = page;
      const head = encodeLine(
        `HISTORY ${room} ${page.epoch} ${page.first} ${page.last} ${frames.length}`,
      );
      let total = head.length;
      for (const frame of frames) total += frame.length;
      if (total <= HISTORY_AT_ONCE) {
        // One buffer: nothing can come between the frames of the reply.
        const out = new Uint8Array(total);
        out.set(head);
        let at = head.length;
        for (const frame of frames) {
          out.set(frame, at);
          at += frame.length;
        }
        return ctx.reply(out);
      }
      return streamHistory(ctx, head, frames);
    });
  }

  /** A large `HISTORY` reply, paced like a download (pushes wait behind it). */
  async function streamHistory(
    ctx: CommandContext,
    head: Uint8Array,
    frames: readonly Uint8Array[],
  ): Promise<void> {
    const stream = ctx.stream;
    stream.begin();
    try {
      stream.send(head);
      for (const frame of frames) {
        if (stream.closed) return;
        stream.send(frame);
        await stream.drain(HISTORY_AT_ONCE);
      }
    } finally {
      stream.end();
    }
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
    ["HISTORY", history],
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
