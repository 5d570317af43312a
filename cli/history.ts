/**
 * `switchboard history ROOM [--limit N] [--after ID] [--json]`: a room's logged messages, oldest
 * first, read page after page when the server caps its replies lower than `--limit`.
 *
 * @module
 */

import { ServerError } from "../lib/protocol/errors.ts";
import { HISTORY_DEFAULT_COUNT } from "../lib/protocol/limits.ts";
import type { Client, HistoryPage, RoomMessage } from "../client/mod.ts";
import { countOption, intOption, type ParsedCli, UsageError } from "./args.ts";
import { checkRoom, openFromCli, printJson } from "./commands.ts";
import { describeError } from "./connect.ts";
import { actionOf } from "./slash.ts";
import { colorEnabled, makeStyles, printable } from "./term.ts";

/** The most messages one `switchboard history` prints. */
export const MAX_HISTORY_OUTPUT = 100_000;

/** The messages asked for, and the log they came from. */
export interface HistoryRead extends HistoryPage {
  /** True when `after` is older than the log reaches back: some messages after it are gone. */
  truncated: boolean;
}

/**
 * Reads up to `limit` messages of a room's log: the newest ones, or the oldest after `after`.
 * Pages on while the server gives fewer than asked for and the log has more.
 *
 * @param client A client that joined the room (or did before).
 * @param room The room.
 * @param limit Most messages, 1 to {@linkcode MAX_HISTORY_OUTPUT}.
 * @param after Only messages with a greater id; the newest `limit` when undefined.
 * @returns The messages, oldest first, with the log's epoch and ids.
 * @throws {ServerError} 404 no such room, 403 not a member.
 */
export async function readHistory(
  client: Client,
  room: string,
  limit: number,
  after?: number,
): Promise<HistoryRead> {
  let page = await client.history(room, { limit, after });
  const kept = page.first === 0 ? 0 : page.last - page.first + 1;
  const messages = [...page.messages];
  let from = after;
  if (from === undefined) {
    // Capped below `limit` by the server: read forward from where the newest `limit` start.
    if (messages.length >= Math.min(limit, kept)) return { ...page, truncated: false };
    from = Math.max(page.first - 1, page.last - limit);
    messages.length = 0;
    page = await client.history(room, { limit, after: from });
    messages.push(...page.messages);
  }
  const truncated = page.first > from + 1;
  const epoch = page.epoch;
  for (;;) {
    const end = messages.at(-1)?.id;
    if (end === undefined || end >= page.last || messages.length >= limit) break;
    const next = await client.history(room, { limit: limit - messages.length, after: end });
    if (next.epoch !== epoch || next.messages.length === 0) break;
    page = next;
    messages.push(...next.messages);
  }
  return { ...page, epoch, messages, truncated };
}

/**
 * `history ROOM [--limit N] [--after ID] [--json]`.
 *
 * @param p The parsed command line.
 * @returns The exit code.
 */
export async function runHistory(p: ParsedCli): Promise<number> {
  const [room, ...extra] = p.positionals;
  if (room === undefined) {
    throw new UsageError(
      "Cannot read history: no room given. Usage: switchboard history <room> [--limit N] [--after ID]",
    );
  }
  if (extra.length > 0) throw new UsageError("Cannot read history: it takes one room");
  checkRoom(room, "read the history of");
  const limit = intOption(p, "limit", HISTORY_DEFAULT_COUNT, MAX_HISTORY_OUTPUT);
  const after = p.values.after === undefined
    ? undefined
    : countOption(p, "after", 0, Number.MAX_SAFE_INTEGER);

  await using client = await openFromCli(p);
  let read: HistoryRead;
  try {
    try {
      read = await readHistory(client, room, limit, after);
    } catch (e) {
      // Not a member: join, read, and leave it as it was (HISTORY first, so that a room that does
      // not exist is not made by asking).
      if (!(e instanceof ServerError && e.code === 403)) throw e;
      // Quietly (nobody is told of a reader passing by); as before on a server without it.
      await client.join(room, true).catch((e) => {
        if (e instanceof ServerError && e.code === 400) return client.join(room);
        throw e;
      });
      read = await readHistory(client, room, limit, after);
      await client.leave(room);
    }
  } catch (e) {
    // 404: "Cannot read nope: no such room (404)".
    throw describeError(e, p.target, `read the history of ${room}`);
  }
  if (p.json) {
    printJson({
      room: read.room,
      epoch: read.epoch,
      first: read.first,
      last: read.last,
      messages: read.messages.map((m: RoomMessage) => ({ id: m.id, from: m.from, text: m.text })),
    });
    return 0;
  }
  const s = makeStyles(colorEnabled(Deno.stdout));
  if (read.truncated) {
    console.error(`(messages of ${read.room} before #${read.first} are no longer kept)`);
  }
  if (read.messages.length === 0) console.error(`(no messages in ${read.room})`);
  for (const m of read.messages) {
    const action = actionOf(m.text);
    const body = action === null
      ? `<${s.nick(m.from)}> ${printable(m.text)}`
      : `* ${s.nick(m.from)} ${printable(action)}`;
    console.log(`${s.dim(`#${m.id}`)} ${s.cyan(`[${m.room}]`)} ${body}`);
  }
  return 0;
}
