/**
 * A login the server refused is final for `switchboard chat` (issue 16, item 8): it says so and
 * exits 1 instead of trying again every few seconds, each try one more failed login on the server.
 */

import assert from "node:assert/strict";
import { addressArgs, spawnCli } from "./helpers/cli.ts";
import { captureLog, startTestServer } from "./helpers/servers.ts";
import { usersFile, writeUsers } from "./helpers/users.ts";
import { sleep } from "./helpers/wait.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "chat: BYE access revoked ends the chat with exit 1, and no reconnect is tried",
  opts,
  async () => {
    await using users = await usersFile([
      ["alice", "alice-pass-1", ["chat"]],
      ["bob", "bob-pass-1", ["chat"]],
    ]);
    const { log, lines } = captureLog();
    await using server = await startTestServer({ users: users.path }, { log });
    await using chat = spawnCli(["chat", "--user", "alice", ...addressArgs(server.port)], {
      env: { SWITCHBOARD_PASSWORD: "alice-pass-1" },
    });
    await chat.waitFor(/Connected to 127\.0\.0\.1:\d+ as alice; talking in lobby/);
    await writeUsers(users.path, [["bob", "bob-pass-1", ["chat"]]]);
    await server.reloadUsers();
    await chat.waitFor(
      /Disconnected from 127\.0\.0\.1:\d+ \(access revoked\): the server ended this login; not reconnecting/,
    );
    assert.equal(await chat.exit(), 1, chat.stderr);
    assert.doesNotMatch(chat.stdout, /Reconnecting/);
    await sleep(300);
    assert.equal(lines.filter((l) => l.includes("auth failed")).length, 0, lines.join("\n"));
    assert.equal(lines.filter((l) => /INFO\s+connect /.test(l)).length, 1, "one connection only");
  },
);

Deno.test(
  "chat: a password refused on reconnect is final: one failed login on the server, exit 1",
  opts,
  async () => {
    await using users = await usersFile([["alice", "alice-pass-1", ["chat"]]]);
    let server = await startTestServer({ users: users.path });
    const port = server.port;
    const files = server.files;
    await using chat = spawnCli(["chat", "--user", "alice", ...addressArgs(port)], {
      env: { SWITCHBOARD_PASSWORD: "alice-pass-1" },
    });
    const { log, lines } = captureLog();
    try {
      await chat.waitFor(/Connected to 127\.0\.0\.1:\d+ as alice; talking in lobby/);
      await server.shutdown(1000);
      // Back with another password for alice: the chat's stored one is now wrong.
      await writeUsers(users.path, [["alice", "alice-pass-2", ["chat"]]]);
      server = await startTestServer({ port, files, users: users.path }, { log });
      await chat.waitFor(/Cannot log in to 127\.0\.0\.1:\d+ as alice: .*; not reconnecting/, {
        timeout: 15_000,
      });
      assert.equal(await chat.exit(), 1, chat.stderr);
      await sleep(300);
      assert.equal(lines.filter((l) => l.includes("auth failed")).length, 1, lines.join("\n"));
    } finally {
      await server[Symbol.asyncDispose]();
      await Deno.remove(files, { recursive: true }).catch(() => {});
    }
  },
);
