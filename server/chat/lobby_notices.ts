/**
 * Lobby notices: a client that announces itself with `JOIN lobby` is told to the lobby
 * (`JOINED lobby <nick>`, then `RENAMED` and `LEFT lobby <nick>`), but only while the lobby has at
 * most `limit` members on all nodes together, so a big lobby never gets a storm of them. A client
 * that does not announce itself (a one-shot `switchboard send`, a script, `nc`) comes and goes
 * unseen, as before.
 *
 * @module
 */

import { encodeLine } from "../../lib/protocol/encoder.ts";
import { LOBBY } from "../../lib/protocol/limits.ts";
import type { EngineNode } from "../core/engine.ts";
import { type Awaitable, type Member, then } from "../core/member.ts";
import { engineCall } from "./engine_calls.ts";
import type { LocalFanout } from "./local_fanout.ts";

/**
 * The announced members of one node and the lobby's size limit for notices.
 *
 * @example
 * ```ts
 * import { LobbyNotices } from "./lobby_notices.ts";
 * import { LocalFanout } from "./local_fanout.ts";
 * import { MemoryEngine } from "./memory/engine.ts";
 * const fanout = new LocalFanout();
 * const node = new MemoryEngine().connect({
 *   room: () => 0, direct: () => false, audience: () => 0, once: () => 0,
 * });
 * const got: Uint8Array[] = [];
 * const ann = { id: "n.1", since: 0, deliver: () => true };
 * const bob = { id: "n.2", since: 0, deliver: (b: Uint8Array) => got.push(b) > 0 };
 * fanout.add("lobby", ann);
 * fanout.add("lobby", bob);
 * const notices = new LobbyNotices(32, fanout, () => node as never);
 * await notices.arrived(ann, "ann");
 * console.assert(new TextDecoder().decode(got[0]) === "JOINED lobby ann\r\n");
 * ```
 */
export class LobbyNotices {
  readonly #announced = new Set<string>();

  /**
   * @param limit Most lobby members (on all nodes) for which notices are pushed; 0 = never.
   * @param fanout This node's members by room.
   * @param node This node's engine handle (read when needed: the hub connects it later).
   */
  constructor(
    readonly limit: number,
    readonly fanout: LocalFanout,
    readonly node: () => EngineNode,
  ) {}

  /**
   * `JOIN lobby` (not quiet): the first one of a connection announces it, pushing `JOINED lobby
   * <nick>` to the others when the lobby is small; later ones push nothing.
   *
   * @param member The member (in the lobby).
   * @param nick Its nick.
   * @returns Once the notice is handed to every node.
   */
  arrived(member: Member, nick: string): Awaitable<void> {
    if (this.limit <= 0 || this.#announced.has(member.id)) return;
    this.#announced.add(member.id);
    return this.#tell(`JOINED ${LOBBY} ${nick}`, member, 0);
  }

  /**
   * A member left this node (it is out of the local lobby already): `LEFT lobby <nick>` when it
   * had announced itself and the lobby, itself counted, is small.
   *
   * @param member The member.
   * @param nick Its nick.
   * @returns Once the notice is handed to every node.
   */
  gone(member: Member, nick: string): Awaitable<void> {
    if (!this.#announced.delete(member.id)) return;
    return this.#tell(`LEFT ${LOBBY} ${nick}`, member, 1);
  }

  /**
   * Whether a rename of `member` is told to the lobby too: it announced itself and the lobby is
   * small.
   *
   * @param member The member.
   * @returns True to add `lobby` to the rooms `RENAMED` goes to.
   */
  renamedToLobby(member: Member): Awaitable<boolean> {
    if (!this.#announced.has(member.id)) return false;
    return this.#small(member, 0);
  }

  /** Whether the lobby's members on all nodes, plus `extra`, are at most `limit`. */
  #small(member: Member, extra: number): Awaitable<boolean> {
    const here = this.fanout.audience(LOBBY, null) + extra;
    if (here > this.limit) return false;
    return then(
      engineCall(this.node().broker.audience(LOBBY, member.id)),
      (there) => here + there <= this.limit,
    );
  }

  #tell(line: string, member: Member, extra: number): Awaitable<void> {
    return then(this.#small(member, extra), (small): Awaitable<void> => {
      if (!small) return;
      const bytes = encodeLine(line);
      this.fanout.deliver(LOBBY, bytes, member);
      return then(engineCall(this.node().broker.publish(LOBBY, bytes, member.id)), () => {});
    });
  }
}
