/**
 * What a node knows of one of its own members, beside the engine: its nick, its rooms, the
 * encoded head of its last room message, and the rooms it joined on this connection.
 *
 * @module
 */

import { encodeLine, FrameBatch } from "../../lib/protocol/encoder.ts";
import { LOBBY } from "../../lib/protocol/limits.ts";
import type { EngineNode, HistoryQuery } from "../core/engine.ts";
import type { HistoryResult } from "../core/hub.ts";
import { type Awaitable, type Member, then } from "../core/member.ts";
import { engineCall } from "./engine_calls.ts";
import type { LocalFanout, LocalRoom } from "./local_fanout.ts";

/** What this node knows of one of its members. */
export interface LocalMember {
  nick: string;
  /** The encoded `MSG room nick ` head of its last room message (the nick and room it names). */
  head: { room: LocalRoom; nick: string; bytes: Uint8Array } | null;
  /** Its rooms by key, `lobby` first. */
  readonly rooms: Map<string, LocalRoom>;
  /** Rooms it joined on this connection (their history stays readable after `LEAVE`), oldest first. */
  readonly joined: Set<string>;
}

/** Most rooms remembered per member as joined before (the oldest are forgotten first). */
const JOINED_MEMORY = 1024;

/** Notes that the member joined `key` (the oldest of more than {@linkcode JOINED_MEMORY} go). */
export function remember(local: LocalMember, key: string): void {
  local.joined.delete(key);
  local.joined.add(key);
  if (local.joined.size > JOINED_MEMORY) local.joined.delete(local.joined.values().next().value!);
}

/**
 * The engine gave the member another nick (its own was taken while the engine was away): it and
 * those who share a room with it here are told with `RENAMED old new`.
 */
export function renamedWhileAway(
  local: LocalMember,
  member: Member,
  nick: string,
  fanout: LocalFanout,
): void {
  if (local.nick === nick) return;
  const bytes = encodeLine(`RENAMED ${local.nick} ${nick}`);
  local.nick = nick;
  member.deliver(bytes);
  const keys = [...local.rooms.keys()].filter((k) => k !== LOBBY);
  if (keys.length > 0) fanout.deliverOnce(keys, bytes, member);
}

/** The member's `MSG room nick ` head, encoded once per room and nick. */
export function headOf(local: LocalMember, room: LocalRoom): Uint8Array {
  const head = local.head;
  if (head !== null && head.room === room && head.nick === local.nick) return head.bytes;
  const bytes = FrameBatch.head(`MSG ${room.name} ${local.nick}`);
  local.head = { room, nick: local.nick, bytes };
  return bytes;
}

/**
 * A `HISTORY` of a room: its page when the member is in it or joined it on this connection;
 * otherwise 403 for a room that exists or still has its log (JOIN it to read it), 404 for none.
 */
export function historyFor(
  node: EngineNode,
  local: LocalMember | undefined,
  name: string,
  query: HistoryQuery,
): Awaitable<HistoryResult> {
  const key = name.toLowerCase();
  if (local !== undefined && (local.rooms.has(key) || local.joined.has(key))) {
    return engineCall(node.log.history(key, query));
  }
  return then(
    engineCall(node.presence.hasRoom(name)),
    (exists): Awaitable<HistoryResult> =>
      exists ? "not-member" : then(
        engineCall(node.log.has(key)),
        (logged): HistoryResult => logged ? "not-member" : "no-room",
      ),
  );
}
