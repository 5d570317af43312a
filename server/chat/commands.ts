/**
 * The command handlers of protocol v1 (chat, liveness, help). File commands live in their own
 * module and are merged in by the server.
 *
 * @module
 */

import { encodeLine, encodeTextFrame } from "../../lib/protocol/encoder.ts";
import { ErrorCode } from "../../lib/protocol/errors.ts";
import type { Frame } from "../../lib/protocol/frame.ts";
import { isValidNick, isValidRoom } from "../../lib/protocol/limits.ts";
import type { Awaitable } from "./hub.ts";
import type { Handler, Session } from "../conn/session.ts";

/** Applies `fn` to a value that may be a promise, staying synchronous when it is not. */
function then<T>(value: Awaitable<T>, fn: (v: T) => void): void | Promise<void> {
  if (value instanceof Promise) return value.then(fn);
  fn(value);
}

function usage(s: Session, text: string): void {
  s.replyError(ErrorCode.BadRequest, `Usage: ${text}`);
}

function badRoom(s: Session, room: string): void {
  s.replyError(
    ErrorCode.BadRequest,
    `Cannot use room "${room.slice(0, 70)}": names are 1-64 of A-Z a-z 0-9 _ - .`,
  );
}

const HELP_TEXT = [
  "Switchboard protocol v1. Commands (verbs are case-insensitive):",
  "  NICK name              pick a nick (1-32 of A-Z a-z 0-9 _ -)",
  "  JOIN room              join a room (1-64 of A-Z a-z 0-9 _ - .)",
  "  LEAVE room             leave a room (not lobby)",
  "  SAY room :text         send text to a room (or SAY room N + N bytes)",
  "  TELL nick :text        send a direct message (or TELL nick N + N bytes)",
  "  WHO [room]             who is online (in a room)",
  "  ROOMS                  rooms and member counts",
  "  TIME                   the server's clock",
  "  LIST [dir]             list shared files",
  "  GET path [offset]      download a file",
  "  PUT path [sha256] N    upload N bytes",
  "  DEL path               delete a file or empty folder",
  "  AUTH user password     log in (or AUTH token; when the server has accounts)",
  "  PING                   answered with PONG",
  "  QUIT                   say goodbye",
  "  HELP                   this text",
  "Pushes: MSG room from N, DM from N, JOINED room nick, LEFT room nick, PING, BYE reason.",
  "Paths are percent-encoded (my%20notes.txt).",
  "",
].join("\r\n");

function nick(s: Session, f: Frame): void | Promise<void> {
  if (f.args.length !== 1) return usage(s, "NICK name");
  const name = f.args[0]!;
  if (!isValidNick(name)) {
    return s.replyError(
      ErrorCode.BadRequest,
      `Cannot use nick "${name.slice(0, 40)}": nicks are 1-32 of A-Z a-z 0-9 _ -`,
    );
  }
  return then(s.ctx.hub.rename(s, name), (ok) => {
    if (!ok) return s.replyError(ErrorCode.Conflict, `Cannot use nick "${name}": it is in use`);
    s.setNick(name);
    s.replyLine(`OK ${name}`);
  });
}

function join(s: Session, f: Frame): void | Promise<void> {
  if (f.args.length !== 1) return usage(s, "JOIN room");
  const room = f.args[0]!;
  if (!isValidRoom(room)) return badRoom(s, room);
  const max = s.ctx.config.maxRooms;
  if (max > 0 && s.ctx.hub.roomCount(s) >= max) return joinAtLimit(s, room, max);
  return then(s.ctx.hub.join(s, room), (name) => s.replyLine(`OK ${name}`));
}

/** JOIN with `max_rooms` reached: fine for a room already joined (no push), else `ERR 413`. */
async function joinAtLimit(s: Session, room: string, max: number): Promise<void> {
  const members = await s.ctx.hub.who(room);
  const me = s.nick.toLowerCase();
  if (members === null || !members.some((m) => m.nick.toLowerCase() === me)) {
    return s.replyError(
      ErrorCode.TooLarge,
      `Cannot join ${room}: over --max-rooms ${max} (rooms per client, lobby included)`,
    );
  }
  s.replyLine(`OK ${await s.ctx.hub.join(s, room)}`);
}

function leave(s: Session, f: Frame): void | Promise<void> {
  if (f.args.length !== 1) return usage(s, "LEAVE room");
  const room = f.args[0]!;
  if (!isValidRoom(room)) return badRoom(s, room);
  return then(s.ctx.hub.leave(s, room), (r) => {
    if (r === "lobby") s.replyError(ErrorCode.Forbidden, "Cannot leave lobby: everybody is in it");
    else if (r === "not-member") {
      s.replyError(ErrorCode.NotFound, `Cannot leave ${room}: not in that room`);
    } else s.replyLine(`OK ${r.room}`);
  });
}

// Replies sent at message rates are encoded once (the outbox never changes the bytes it is given).
const PONG = encodeLine("PONG");
const OK_COUNTS: Uint8Array[] = [];

function okCount(n: number): Uint8Array {
  if (n >= 1024) return encodeLine(`OK ${n}`);
  return OK_COUNTS[n] ??= encodeLine(`OK ${n}`);
}

// An inline payload is bounded by max_line; when max_line is set above max_payload, this keeps
// max_payload (which HELLO announces) the real bound. Sized payloads never get here that large.
function tooBig(s: Session, size: number): void {
  s.replyError(
    ErrorCode.TooLarge,
    `Cannot send message: ${size} bytes is over max_payload (${s.ctx.config.maxPayload} bytes)`,
  );
}

function say(s: Session, f: Frame): void | Promise<void> {
  if (f.args.length !== 1 || f.payload === null) {
    return usage(s, "SAY room :text, or SAY room N + N bytes");
  }
  if (f.payload.length > s.ctx.config.maxPayload) return tooBig(s, f.payload.length);
  const room = f.args[0]!;
  if (!isValidRoom(room)) return badRoom(s, room);
  return then(s.ctx.hub.publish(s, room, f.payload), (r) => {
    if (r === "no-room") s.replyError(ErrorCode.NotFound, `Cannot say to ${room}: no such room`);
    else if (r === "not-member") {
      s.replyError(ErrorCode.Forbidden, `Cannot say to ${room}: JOIN it first`);
    } else s.reply(okCount(r));
  });
}

function tell(s: Session, f: Frame): void | Promise<void> {
  if (f.args.length !== 1 || f.payload === null) {
    return usage(s, "TELL nick :text, or TELL nick N + N bytes");
  }
  if (f.payload.length > s.ctx.config.maxPayload) return tooBig(s, f.payload.length);
  const to = f.args[0]!;
  if (!isValidNick(to)) {
    return s.replyError(ErrorCode.NotFound, `Cannot tell ${to.slice(0, 40)}: no such nick`);
  }
  return then(s.ctx.hub.tell(s, to, f.payload), (ok) => {
    if (ok) s.replyLine("OK 1");
    else s.replyError(ErrorCode.NotFound, `Cannot tell ${to}: no such nick`);
  });
}

function who(s: Session, f: Frame): void | Promise<void> {
  if (f.args.length > 1) return usage(s, "WHO [room]");
  const room = f.args[0];
  if (room !== undefined && !isValidRoom(room)) return badRoom(s, room);
  return then(s.ctx.hub.who(room), (list) => {
    if (list === null) s.replyError(ErrorCode.NotFound, `Cannot list ${room}: no such room`);
    else s.reply(encodeTextFrame("WHO", JSON.stringify(list)));
  });
}

function rooms(s: Session, f: Frame): void | Promise<void> {
  if (f.args.length !== 0) return usage(s, "ROOMS");
  return then(s.ctx.hub.rooms(), (list) => s.reply(encodeTextFrame("ROOMS", JSON.stringify(list))));
}

// The TIME reply of the current millisecond, formatted once (a busy server answers many per ms).
let timeAt = -1;
let timeReply: Uint8Array = new Uint8Array(0);

function time(s: Session, f: Frame): void {
  if (f.args.length !== 0) return usage(s, "TIME");
  const now = Date.now();
  if (now !== timeAt) {
    timeAt = now;
    timeReply = encodeLine(`TIME ${new Date(now).toISOString()} ${now}`);
  }
  s.reply(timeReply);
}

function ping(s: Session, f: Frame): void {
  if (f.args.length !== 0) return usage(s, "PING");
  s.reply(PONG);
}

function pong(): void {
  // The answer to our PING: any byte already counted as a sign of life; no reply.
}

function quit(s: Session): void {
  s.replyLine("OK bye");
  s.end("quit", false);
}

function help(s: Session): void {
  s.reply(encodeTextFrame("HELP", HELP_TEXT));
}

function auth(s: Session): void {
  s.replyError(ErrorCode.BadRequest, "authentication is not enabled");
}

/** The chat and control handlers, by verb. */
export const CHAT_HANDLERS: ReadonlyMap<string, Handler> = new Map<string, Handler>([
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
