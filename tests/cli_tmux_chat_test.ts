/**
 * `switchboard chat` in a real terminal (tmux), the habits of irssi and weechat users: Tab
 * completion of commands, nicks and rooms; `/me`; input history kept across runs; unread
 * activity of other rooms; Ctrl-C at an empty prompt exits 130.
 */

import assert from "node:assert/strict";
import { connect, type Push } from "../client/client.ts";
import { startTestServer } from "./helpers/servers.ts";
import { startCli, tmuxVersion } from "./helpers/tmux.ts";

const version = tmuxVersion();
if (version === null) console.log("cli_tmux_chat_test: skipped: tmux is not installed");

const opts = { ignore: version === null, sanitizeResources: false, sanitizeOps: false };

/** The next room message a client receives. */
async function nextMsg(it: AsyncIterator<Push>): Promise<Extract<Push, { type: "msg" }>> {
  for (;;) {
    const m = (await it.next()).value as Push | undefined;
    if (m === undefined) throw new Error("the connection ended");
    if (m.type === "msg") return m;
  }
}

Deno.test("Tab completes commands, nicks (of the current room first) and rooms", opts, async () => {
  await using server = await startTestServer();
  await using zed = await connect({ port: server.port, nick: "zed" });
  await using zoe = await connect({ port: server.port, nick: "zoe" });
  await zed.join("ops");
  await zoe.join("zoo");
  await using tmux = await startCli(["chat", "--nick", "tty", "--port", String(server.port)], {
    SWITCHBOARD_URL: "",
  });
  await tmux.waitScreen((l) => l.at(-1) === "lobby>", "the prompt");
  // A command: one that fits is written out whole, with a space after it.
  await tmux.type("/jo");
  await tmux.keys("Tab");
  await tmux.waitScreen((l) => l.at(-1) === "lobby> /join", "/join completed");
  // A room, from the server's list.
  await tmux.type("o");
  await tmux.keys("Tab");
  await tmux.waitScreen((l) => l.at(-1) === "lobby> /join ops", "the room completed");
  await tmux.keys("Enter");
  await tmux.waitScreen((l) => l.at(-1) === "ops>", "in ops");
  // A nick at the start of a line addresses someone: "zed: ". zed is in ops, zoe is not: both
  // start with z, zed (of the current room) is listed first.
  // Two Tabs list the candidates when they share no longer prefix (as in bash).
  await tmux.type("z");
  await tmux.keys("Tab");
  await tmux.keys("Tab");
  const listed = await tmux.waitScreen(
    (l) => l.some((x) => /zed: +zoe:/.test(x)),
    "both candidates, the current room's first",
  );
  assert.equal(listed.at(-1), "ops> z", listed.join("\n"));
  await tmux.type("e");
  await tmux.keys("Tab");
  await tmux.waitScreen((l) => l.at(-1) === "ops> zed:", "the nick completed");
  await tmux.type("ready");
  const pushes = zed.messages();
  await tmux.keys("Enter");
  const m = await nextMsg(pushes);
  assert.equal(m.room, "ops");
  assert.equal(m.text, "zed: ready");
  // After /msg, a nick from anywhere, followed by a space.
  await tmux.type("/msg zo");
  await tmux.keys("Tab");
  await tmux.waitScreen((l) => l.at(-1) === "ops> /msg zoe", "the nick after /msg");
  await tmux.keys("C-c");
  await tmux.waitScreen((l) => l.at(-1) === "ops>", "line cleared");
  // Nothing fits: nothing changes.
  await tmux.type("qqq");
  await tmux.keys("Tab");
  await tmux.keys("Enter");
  const said = await nextMsg(pushes);
  assert.equal(said.text, "qqq");
});

Deno.test("/me sends an action that other chats show as * nick action", opts, async () => {
  await using server = await startTestServer();
  await using zed = await connect({ port: server.port, nick: "zed" });
  const pushes = zed.messages();
  await using tmux = await startCli(["chat", "--nick", "tty", "--port", String(server.port)], {
    SWITCHBOARD_URL: "",
  });
  await tmux.waitScreen((l) => l.at(-1) === "lobby>", "the prompt");
  await tmux.type("/me waves at everyone");
  await tmux.keys("Enter");
  // On the wire: the documented convention, "/me " then the action (nc shows it as sent).
  const m = await nextMsg(pushes);
  assert.equal(m.text, "/me waves at everyone");
  await zed.say("lobby", "/me waves back");
  const screen = await tmux.waitScreen(
    (l) => l.some((x) => x.endsWith("* zed waves back")),
    "zed's action",
  );
  assert.ok(
    screen.some((x) => /^\d\d:\d\d:\d\d \[lobby\] \* tty waves at everyone$/.test(x)),
    screen.join("\n"),
  );
  assert.ok(screen.some((x) => /^\d\d:\d\d:\d\d \[lobby\] \* zed waves back$/.test(x)));
  // "/me" alone is a usage error, not an empty action.
  await tmux.type("/me");
  await tmux.keys("Enter");
  await tmux.waitScreen(
    (l) => l.some((x) => x.endsWith("!! Cannot send an action: usage /me ACTION")),
    "the usage error",
  );
});

Deno.test(
  "input history is kept across runs: a second chat recalls the first one's lines with Up",
  opts,
  async () => {
    await using server = await startTestServer();
    const state = await Deno.makeTempDir({ prefix: "sb-state-" });
    try {
      const env = { SWITCHBOARD_URL: "", XDG_STATE_HOME: state };
      const args = ["chat", "--port", String(server.port)];
      {
        await using first = await startCli(args, env);
        await first.waitScreen((l) => l.at(-1) === "lobby>", "the prompt");
        for (const line of ["first line", "second line"]) {
          await first.type(line);
          await first.keys("Enter");
          await first.waitScreen((l) => l.some((x) => x.endsWith(`> ${line}`)), line);
        }
        await first.keys("C-d");
        await first.waitScreen((l) => l.includes("chat exited with 0"), "chat to exit");
      }
      const file = `${state}/switchboard/history`;
      assert.equal(await Deno.readTextFile(file), "first line\nsecond line\n");
      if (Deno.build.os !== "windows") assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
      await using second = await startCli(args, env);
      await second.waitScreen((l) => l.at(-1) === "lobby>", "the prompt");
      await second.keys("Up");
      await second.waitScreen((l) => l.at(-1) === "lobby> second line", "the last line");
      await second.keys("Up");
      await second.waitScreen((l) => l.at(-1) === "lobby> first line", "the one before");
    } finally {
      await Deno.remove(state, { recursive: true });
    }
  },
);

Deno.test(
  "unread messages of other rooms show in the prompt, /rooms and /join; Ctrl-C exits 130",
  opts,
  async () => {
    await using server = await startTestServer();
    await using zed = await connect({ port: server.port, nick: "zed" });
    await zed.join("ops");
    await using tmux = await startCli(["chat", "--nick", "tty", "--port", String(server.port)], {
      SWITCHBOARD_URL: "",
    });
    await tmux.waitScreen((l) => l.at(-1) === "lobby>", "the prompt");
    await tmux.type("/join ops");
    await tmux.keys("Enter");
    await tmux.waitScreen((l) => l.at(-1) === "ops>", "in ops");
    await tmux.type("/join lobby");
    await tmux.keys("Enter");
    await tmux.waitScreen((l) => l.at(-1) === "lobby>", "back in lobby");
    await zed.say("ops", "one");
    await zed.say("ops", "two");
    await tmux.waitScreen((l) => l.at(-1) === "lobby [ops 2]>", "the unread marker");
    await zed.say("lobby", "read at once");
    await tmux.waitScreen((l) => l.some((x) => x.endsWith("<zed> read at once")), "lobby msg");
    await tmux.type("/rooms");
    await tmux.keys("Enter");
    const rooms = await tmux.waitScreen(
      (l) => l.some((x) => x === "   ops (2) 2 unread"),
      "/rooms with the unread count",
    );
    assert.ok(rooms.includes("   lobby (2) (current)"), rooms.join("\n"));
    await tmux.type("/join ops");
    await tmux.keys("Enter");
    await tmux.waitScreen(
      (l) => l.some((x) => x.endsWith("-- Talking in ops (2 unread messages above)")),
      "/join says how many",
    );
    await tmux.waitScreen((l) => l.at(-1) === "ops>", "the marker gone");
    // Ctrl-C at an empty prompt: interrupted, 130 (as the README says of every command).
    await tmux.keys("C-c");
    const last = await tmux.waitScreen(
      (l) => l.some((x) => x.startsWith("chat exited with")),
      "chat to exit",
    );
    assert.ok(last.includes("chat exited with 130"), last.join("\n"));
  },
);
