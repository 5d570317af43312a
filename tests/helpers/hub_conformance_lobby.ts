/**
 * The hub contract's lobby notices (server/chat/lobby_notices.ts), part of the conformance suite:
 * a client that announces itself with `JOIN lobby` is told to the lobby on arrival, rename and
 * leave, on every node, only while the lobby is at most `lobbyNotices` members.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Service, SetupOptions } from "./hub_service.ts";

type Test = (name: string, fn: (svc: Service) => Promise<void>, given?: SetupOptions) => void;

/**
 * Registers the lobby notice tests with the suite's `test`.
 *
 * @param test The suite's test registrar.
 */
export function lobbyNoticeTests(test: Test): void {
  test(
    "JOIN lobby announces a client to a small lobby once: JOINED, RENAMED, then LEFT on detach",
    async (svc) => {
      const a = await svc.attach();
      const b = await svc.attach();
      const c = await svc.attach();
      await svc.rename(a, "alice");
      await svc.settle();
      assert.deepEqual([a.got, b.got, c.got], [[], [], []], "connecting and NICK push nothing");
      assert.equal(await svc.join(a, "LOBBY"), "lobby");
      await svc.settle();
      assert.deepEqual(b.got, ["JOINED lobby alice\r\n"]);
      assert.deepEqual(c.got, ["JOINED lobby alice\r\n"]);
      assert.deepEqual(a.got, [], "not to itself");
      assert.equal(await svc.join(a, "lobby"), "lobby");
      await svc.rename(a, "al");
      await svc.settle();
      assert.deepEqual(b.got, ["JOINED lobby alice\r\n", "RENAMED alice al\r\n"], "joined once");
      await svc.detach(a);
      await svc.settle();
      assert.deepEqual(b.got.slice(2), ["LEFT lobby al\r\n"]);
      assert.deepEqual(c.got.slice(2), ["LEFT lobby al\r\n"]);
      assert.deepEqual(await svc.rooms(), [{ room: "lobby", members: 2 }]);
    },
    { lobbyNotices: 3 },
  );

  test(
    "lobby notices: none past the limit, none for a quiet JOIN lobby or an unannounced client",
    async (svc) => {
      const [a, b, c, d] = [
        await svc.attach(),
        await svc.attach(),
        await svc.attach(),
        await svc.attach(),
      ];
      await svc.rename(d, "dan");
      assert.equal(await svc.join(d, "lobby"), "lobby");
      await svc.detach(d);
      await svc.settle();
      assert.deepEqual([a.got, b.got, c.got], [[], [], []], "4 in the lobby, over 3: nothing");
      // Three now: a quiet JOIN lobby, and a client that never joins it, are not told.
      await svc.rename(c, "cat");
      assert.equal(await svc.join(c, "lobby", true), "lobby");
      await svc.rename(c, "kit");
      await svc.detach(c);
      await svc.settle();
      assert.deepEqual([a.got, b.got], [[], []], "JOIN lobby quiet announces nothing");
      await svc.join(b, "ops");
      await svc.join(a, "ops");
      await svc.rename(a, "ann");
      await svc.detach(a);
      await svc.settle();
      assert.deepEqual(b.got, [
        "JOINED ops guest-1\r\n",
        "RENAMED guest-1 ann\r\n",
        "LEFT ops ann\r\n",
      ]);
    },
    { lobbyNotices: 3 },
  );

  test("lobby notices off (0): JOIN lobby pushes nothing", async (svc) => {
    const a = await svc.attach();
    const b = await svc.attach();
    assert.equal(await svc.join(a, "lobby"), "lobby");
    await svc.rename(a, "alice");
    await svc.detach(a);
    await svc.settle();
    assert.deepEqual(b.got, []);
  });
}
