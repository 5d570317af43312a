/**
 * What a node knows of one of its own members, beside the engine: its nick, its rooms, the
 * encoded head of its last room message, and the rooms it joined on this connection.
 *
 * @module
 */

import { encodeLine } from "../../lib/protocol/encoder.ts";
import { LOBBY } from "../../lib/protocol/limits.ts";
import type { Member } from "../core/member.ts";
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
