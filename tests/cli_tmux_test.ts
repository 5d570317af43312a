/**
 * `switchboard chat` in a real terminal (tmux): an incoming message is printed above the line
 * being typed and does not corrupt it; Enter sends the whole line; history and quitting work.
 */

import assert from "node:assert/strict";
import { connect, type Push } from "../client/client.ts";
import { randomBytes } from "./helpers/bytes.ts";
import { startCli, tmuxVersion } from "./helpers/tmux.ts";
import { startTestServer } from "./helpers/servers.ts";
import { usersFile } from "./helpers/users.ts";

const version = tmuxVersion();
if (version === null) {
  console.log(
    "cli_tmux_test: skipped: tmux is not installed (.ci/run installs it with apt-get when it can)",
  );
}

Deno.test({
  name:
    "chat in a terminal prints an incoming message above a half-typed line without corrupting it",
  ignore: version === null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using server = await startTestServer();
    // NO_COLOR empty = colours on, since this is a terminal.
    await using tmux = await startCli([
      "chat",
      "--nick",
      "tty",
      "--port",
      String(server.port),
    ], {
      NO_COLOR: "",
      TERM: "xterm-256color",
      SWITCHBOARD_URL: "",
    });
    await tmux.waitScreen(
      (l) => l.some((x) => /-- Connected to 127\.0\.0\.1:\d+ as tty; talking in lobby/.test(x)),
      "connected",
    );
    await tmux.waitScreen((l) => l.at(-1) === "lobby>", "the prompt");

    await tmux.type("half typed line");
    await tmux.waitScreen((l) => l.at(-1) === "lobby> half typed line", "the typed text");
    // Move the cursor into the middle of the line: it must stay there through the redraw.
    await tmux.keys("Left", "Left", "Left", "Left");

    await using zed = await connect({ port: server.port, nick: "zed" });
    const pushes = zed.messages();
    await zed.say("lobby", "incoming while typing");
    // The message line and the redrawn input are separate writes: wait for both, as a person
    // would see them a moment later (a corrupted line never reaches this state).
    const lines = await tmux.waitScreen(
      (l) =>
        l.some((x) => x.includes("<zed> incoming while typing")) && l.at(-1)!.startsWith("lobby> "),
      "the message, then the input line redrawn",
    );
    const at = lines.findIndex((x) => x.includes("<zed> incoming while typing"));
    assert.match(lines[at]!, /^\d\d:\d\d:\d\d \[lobby\] <zed> incoming while typing$/);
    // The half-typed line is redrawn intact below the message, once, and nothing else is mixed in.
    assert.equal(lines.at(-1), "lobby> half typed line");
    assert.equal(at, lines.length - 2, lines.join("\n"));
    assert.equal(lines.filter((x) => x.includes("half typed")).length, 1, lines.join("\n"));

    // The cursor was kept: typing now inserts four characters from the end.
    await tmux.type("X");
    await tmux.waitScreen((l) => l.at(-1) === "lobby> half typed Xline", "insertion at the cursor");
    await tmux.keys("BSpace", "End");
    await tmux.type(" and finished");
    await tmux.keys("Enter");
    const said = await pushes.next();
    assert.equal(
      (said.value as Extract<Push, { type: "msg" }>).text,
      "half typed line and finished",
    );
    const after = await tmux.waitScreen(
      (l) =>
        l.some((x) => x.includes("<tty> half typed line and finished")) && l.at(-1) === "lobby>",
      "own message echoed, formatted",
    );
    // The raw echo "lobby> half typed line and finished" was replaced by the formatted line.
    assert.ok(!after.some((x) => x.startsWith("lobby> half typed")), after.join("\n"));

    // Nicks are coloured on a terminal (NO_COLOR not set).
    const colored = (await tmux.screen(true)).join("\n");
    // deno-lint-ignore no-control-regex
    assert.match(colored, /<\x1b\[[0-9;]*m(zed)\x1b\[39m>/);

    // History: Up brings the line back.
    await tmux.keys("Up");
    await tmux.waitScreen((l) => l.at(-1) === "lobby> half typed line and finished", "history");
    // A line longer than the terminal is wide wraps onto a second row: an incoming message still
    // goes above both rows, and the rows above it stay as they were.
    await tmux.keys("C-c");
    await tmux.waitScreen((l) => l.at(-1) === "lobby>", "line cleared");
    const long = "0123456789".repeat(13);
    await tmux.type(long);
    const before = await tmux.waitScreen(
      (l) => l.at(-1) === long.slice(100 - "lobby> ".length),
      "a wrapped line",
    );
    await zed.say("lobby", "second incoming");
    const wrapped = await tmux.waitScreen(
      (l) => l.some((x) => x.includes("<zed> second incoming")) && l.at(-1) === long.slice(93),
      "the second message, then the wrapped input redrawn",
    );
    assert.deepEqual(
      wrapped.slice(0, -3),
      before.slice(0, -2),
      "rows above the message are untouched",
    );
    assert.match(wrapped.at(-3)!, /^\d\d:\d\d:\d\d \[lobby\] <zed> second incoming$/);
    assert.equal(wrapped.at(-2)! + wrapped.at(-1)!, "lobby> " + long);
    // Ctrl-C drops the typed text (and the place in history); Ctrl-D quits with status 0.
    await tmux.keys("C-c");
    await tmux.waitScreen((l) => l.at(-1) === "lobby>", "line cleared");
    await tmux.keys("Up");
    await tmux.waitScreen(
      (l) => l.at(-1) === "lobby> half typed line and finished",
      "history after Ctrl-C",
    );
    await tmux.keys("C-c");
    await tmux.waitScreen((l) => l.at(-1) === "lobby>", "line cleared again");
    await tmux.keys("C-d");
    // tmux does not always record a pane's exit status, so a shell around chat prints it.
    const last = await tmux.waitScreen(
      (l) => l.some((x) => x.startsWith("chat exited with")),
      "chat to exit",
    );
    assert.equal(last.find((x) => x.startsWith("chat exited with")), "chat exited with 0");
    // Quitting left the terminal clean: no prompt drawn after the last message.
    assert.ok(!last.some((x) => x.startsWith("lobby>")), last.join("\n"));
  },
});

Deno.test({
  name: "on a terminal --user asks for the password without echoing it",
  ignore: version === null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using users = await usersFile([["alice", "s3cret-pass", ["chat"]]]);
    await using server = await startTestServer({ users: users.path });
    await using tmux = await startCli([
      "who",
      "--user",
      "alice",
      "--port",
      String(server.port),
    ], {
      SWITCHBOARD_PASSWORD: "",
      SWITCHBOARD_URL: "",
    });
    await tmux.waitScreen(
      (l) => l.at(-1) === `Password for alice at 127.0.0.1:${server.port}:`,
      "the prompt",
    );
    await tmux.type("s3cret-pasX");
    await tmux.keys("BSpace");
    await tmux.type("s");
    // Nothing typed shows.
    const typed = await tmux.screen();
    assert.ok(!typed.join("\n").includes("s3cret"), typed.join("\n"));
    await tmux.keys("Enter");
    const done = await tmux.waitScreen(
      (l) => l.some((x) => x.startsWith("who exited with")),
      "who to finish",
    );
    assert.ok(done.some((x) => /^alice\s+\d+s\s+lobby$/.test(x)), done.join("\n"));
    assert.ok(done.includes("who exited with 0"), done.join("\n"));
    assert.ok(!done.join("\n").includes("s3cret"));
  },
});

Deno.test({
  name: "on a terminal get draws a progress bar with bytes, rate and the end state",
  ignore: version === null,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using server = await startTestServer();
    const data = randomBytes(4 * 1024 * 1024);
    await Deno.writeFile(`${server.files}/big.bin`, data);
    const work = await Deno.makeTempDir({ prefix: "sb-tmux-get-" });
    try {
      await using tmux = await startCli(
        ["get", "big.bin", `${work}/big.bin`, "--port", String(server.port)],
        { SWITCHBOARD_URL: "" },
      );
      const screen = await tmux.waitScreen(
        (l) => l.some((x) => x.startsWith("get exited with")),
        "get to finish",
      );
      assert.ok(screen.includes("get exited with 0"), screen.join("\n"));
      const bar = screen.find((x) => x.startsWith("big.bin"));
      assert.match(
        bar ?? "",
        /^big\.bin {2}100% \[=+\] 4\.0 MiB \/ 4\.0 MiB {2}(\S+ \S+\/s|--\/s) {2}done$/,
        screen.join("\n"),
      );
      assert.ok(screen.some((x) => x.startsWith("Downloaded big.bin to ")), screen.join("\n"));
      assert.equal((await Deno.stat(`${work}/big.bin`)).size, data.length);
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
});
