/**
 * What a reconnecting client knows of each room's log, and the recovery after a reconnect
 * (protocol 2, §1): remember the epoch and the last id seen per room; after the `JOIN`, ask
 * `HISTORY room 1000 after <last>` page after page, hand out what was missed in order, and drop
 * every message whose id was already seen (live pushes can repeat what a history reply holds).
 * Nothing was missed when the epoch is the same and `first <= last + 1`; otherwise there is a gap.
 *
 * @module
 */

import type { RoomMessage } from "./_push.ts";
import type { HistoryOptions, HistoryPage } from "./types.ts";

/** Messages one recovery request asks for (the server gives at most its `max_history_reply`). */
export const RECOVERY_PAGE = 1000;

/** Own ids kept above a room's `last` at most (the pushes of others in between are late). */
const MAX_OWN = 1000;

/** What is known of one room's log. */
export interface RoomMark {
  /** The log's epoch; null when unknown (no `HISTORY` answer: a protocol 1 server). */
  epoch: string | null;
  /** The highest id handed out, or the newest id in the log when the room was joined. */
  last: number;
  /** Ids of our own messages above `last` (their pushes never come to us). */
  own: Set<number>;
  /**
   * Right after a join: the ids at or below `last` that came from the log. A push at or below
   * `last` that is not among them came after the `JOIN`, so it is new. Null once a push passes
   * `last`.
   */
  fromLog: Set<number> | null;
}

/** Reads a page of a room's log: `Client.history`. */
export type ReadHistory = (room: string, options: HistoryOptions) => Promise<HistoryPage>;

/** The marks of every room followed, by lower-case name. */
export class RoomMarks {
  readonly #marks = new Map<string, RoomMark>();

  /**
   * The mark of a room.
   *
   * @param room The room, any case.
   * @returns Its mark, or undefined when it is not followed.
   */
  get(room: string): RoomMark | undefined {
    return this.#marks.get(room.toLowerCase());
  }

  /**
   * Follows a room from a join: `page` is the log as it was right after the `JOIN`, of which the
   * messages `shown` were handed out.
   *
   * @param room The room.
   * @param page The `HISTORY` reply, or null when there was none (ids are then only compared).
   * @param shown The messages of `page` handed out.
   */
  joined(room: string, page: HistoryPage | null, shown: readonly RoomMessage[]): void {
    this.#marks.set(room.toLowerCase(), {
      epoch: page?.epoch ?? null,
      last: page?.last ?? 0,
      own: new Set(),
      fromLog: new Set(shown.map((m) => m.id)),
    });
  }

  /**
   * Stops following a room (left, or no longer held).
   *
   * @param room The room.
   */
  forget(room: string): void {
    this.#marks.delete(room.toLowerCase());
  }

  /**
   * Says whether a room message is new, and counts it as seen when it is.
   *
   * @param m A push, or a message of a history reply.
   * @returns False when its id was seen already (or it is one of our own messages).
   */
  accept(m: RoomMessage): boolean {
    const mark = this.#marks.get(m.room.toLowerCase());
    if (mark === undefined || m.id === 0) return true;
    if (mark.own.delete(m.id)) {
      advance(mark, m.id);
      return false;
    }
    if (m.id > mark.last) {
      advance(mark, m.id);
      mark.fromLog = null;
      return true;
    }
    if (mark.fromLog !== null && !mark.fromLog.has(m.id)) {
      mark.fromLog.add(m.id);
      return true;
    }
    return false;
  }

  /**
   * Counts one of our own messages as seen (its push never comes; a recovery skips it).
   *
   * @param room The room.
   * @param id Its id (`OK <recipients> <id>`).
   */
  sent(room: string, id: number): void {
    const mark = this.#marks.get(room.toLowerCase());
    if (mark === undefined || id <= mark.last) return;
    if (id === mark.last + 1) return advance(mark, id);
    mark.own.add(id);
    if (mark.own.size > MAX_OWN) mark.own.delete(Math.min(...mark.own));
  }
}

/** Moves `last` to `id`, and past our own ids that follow it without a hole. */
function advance(mark: RoomMark, id: number): void {
  mark.last = Math.max(mark.last, id);
  for (const own of mark.own) if (own <= mark.last) mark.own.delete(own);
  while (mark.own.delete(mark.last + 1)) mark.last++;
}

/** Messages gone while away: from `expected` (in the old epoch when it changed) to `first`. */
export interface Gap {
  /** The id that would have come next (of the old epoch when `epochChanged`). */
  expected: number;
  /** The oldest id handed out from now on, in the current epoch. */
  first: number;
  /** The log started over (a server restart without a persistent engine, a flush). */
  epochChanged: boolean;
}

/** What {@linkcode recoverRoom} found. */
export interface Recovery {
  /** Set when some messages are gone. */
  gap: Gap | null;
  /** The missed messages, oldest first, without those seen already or sent by us. */
  messages: RoomMessage[];
}

/**
 * Reads what a room's log holds past its mark after a reconnect, page after page, at most
 * `maxMissed` messages (the newest ones: past that the oldest are skipped, as a gap). The mark is
 * moved past every message returned.
 *
 * @param read Reads a page (`Client.history`), on the new connection, after its `JOIN`.
 * @param room The room.
 * @param mark The room's mark; updated.
 * @param maxMissed Most messages to recover.
 * @returns The gap, if any, and the messages to hand out.
 * @throws {Error} Whatever `read` threw (`ServerError`, `ConnectionClosedError`); the mark is then
 *   unchanged.
 */
export async function recoverRoom(
  read: ReadHistory,
  room: string,
  mark: RoomMark,
  maxMissed: number,
): Promise<Recovery> {
  const seen = mark.last;
  let page = await read(room, { limit: RECOVERY_PAGE, after: seen });
  const epochChanged = mark.epoch !== null && page.epoch !== mark.epoch;
  const after = epochChanged ? 0 : seen;
  // More missed than maxMissed: skip the oldest.
  const floor = Math.max(after, page.last - maxMissed);
  if (floor !== seen) page = await read(room, { limit: RECOVERY_PAGE, after: floor });
  const epoch = page.epoch;
  const first = Math.max(page.first, floor + 1);
  const lost = epochChanged || first > after + 1;
  const got: RoomMessage[] = [];
  for (;;) {
    got.push(...page.messages);
    const end = page.messages.at(-1)?.id;
    if (end === undefined || end >= page.last || got.length >= maxMissed) break;
    const next = await read(room, { limit: RECOVERY_PAGE, after: end });
    if (next.epoch !== epoch) break; // The log started over again meanwhile: the next reconnect says so.
    page = next;
  }
  if (epochChanged) {
    mark.own.clear();
    mark.last = 0;
  }
  mark.epoch = epoch;
  mark.fromLog = null;
  mark.last = Math.max(mark.last, floor);
  const messages: RoomMessage[] = [];
  for (const m of got.slice(0, maxMissed)) {
    const ours = mark.own.delete(m.id);
    if (!ours && m.id <= mark.last) continue;
    advance(mark, m.id);
    if (!ours) messages.push(m);
  }
  return {
    gap: lost ? { expected: seen + 1, first, epochChanged } : null,
    messages,
  };
}
