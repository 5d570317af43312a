/**
 * The `switchboard` command line as a subprocess against a real server: one-shot commands,
 * their text and JSON output, exit codes and error messages.
 */

import assert from "node:assert/strict";
import { connect } from "../client/client.ts";
import { COMMAND_HELP } from "../cli/help.ts";
import { VERSION } from "../lib/version.ts";
import { addressArgs, runCli, spawnCli } from "./helpers/cli.ts";
import { startProxy } from "./helpers/proxy.ts";
import { freePort, startTestServer } from "./helpers/servers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test("send to a room other than lobby reaches a listener in text form", opts, async () => {
  await using server = await startTestServer();
  await using listener = spawnCli(["listen", "ops", "--count", "2", ...addressArgs(server.port)]);
  await listener.waitFor(/Listening on ops/, { stream: "stderr" });
  const sent = await runCli([
    "send",
    "ops",
    "hello",
    "world",
    "--nick",
    "alice",
    ...addressArgs(server.port),
  ]);
  assert.equal(sent.code, 0, sent.stderr);
  assert.equal(sent.stdout, "");
  const piped = await runCli(["send", "ops", "-", "--nick", "bob", ...addressArgs(server.port)], {
    stdin: "from stdin\n",
  });
  assert.equal(piped.code, 0, piped.stderr);
  assert.equal(await listener.exit(), 0, listener.stderr);
  // The messages, and nothing else: a one-shot send is quiet (no "alice joined ops", no
  // "alice left ops": see cli_scripting_test.ts for the member's side).
  const lines = listener.stdout.trim().split("\n");
  assert.equal(lines.length, 2, listener.stdout);
  assert.match(lines[0]!, /^\d\d:\d\d:\d\d \[ops\] <alice> hello world$/);
  assert.match(lines[1]!, /^\d\d:\d\d:\d\d \[ops\] <bob> from stdin$/);
});

Deno.test("listen --json prints one JSON object per message, DMs included", opts, async () => {
  await using server = await startTestServer();
  await using listener = spawnCli([
    "listen",
    "--json",
    "--count",
    "4",
    "--nick",
    "ears",
    ...addressArgs(server.port),
  ]);
  await listener.waitFor(/Listening on lobby as ears/, { stream: "stderr" });
  const sent = await runCli(
    ["send", "lobby", "-", "--json", "--nick", "carol", ...addressArgs(server.port)],
    {
      stdin: 'one\n\ntwo\r\n{"not": "json"}\n',
    },
  );
  assert.equal(sent.code, 0, sent.stderr);
  // One result line per message sent; the empty line was skipped.
  assert.deepEqual(sent.stdout.trim().split("\n").map((l) => JSON.parse(l)), [
    { room: "lobby", recipients: 1, id: 1 },
    { room: "lobby", recipients: 1, id: 2 },
    { room: "lobby", recipients: 1, id: 3 },
  ]);
  const told = await runCli([
    "tell",
    "EARS",
    "psst",
    "--nick",
    "dave",
    ...addressArgs(server.port),
  ]);
  assert.equal(told.code, 0, told.stderr);
  assert.equal(await listener.exit(), 0, listener.stderr);
  const objects = listener.stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(objects.map(({ time: _, ...rest }) => rest), [
    { type: "msg", room: "lobby", from: "carol", id: 1, text: "one" },
    { type: "msg", room: "lobby", from: "carol", id: 2, text: "two" },
    { type: "msg", room: "lobby", from: "carol", id: 3, text: '{"not": "json"}' },
    { type: "dm", from: "dave", text: "psst" },
  ]);
  for (const o of objects) assert.ok(!Number.isNaN(Date.parse(o.time)), o.time);
});

Deno.test("listen to one room leaves out lobby messages and shows joins", opts, async () => {
  await using server = await startTestServer();
  await using listener = spawnCli(["listen", "dev", "--count", "1", ...addressArgs(server.port)]);
  await listener.waitFor(/Listening on dev/, { stream: "stderr" });
  await using c = await connect({ port: server.port, nick: "erin" });
  await c.say("lobby", "not for dev");
  await c.join("dev");
  await c.say("dev", "for dev");
  assert.equal(await listener.exit(), 0, listener.stderr);
  const lines = listener.stdout.trim().split("\n");
  assert.equal(lines.length, 2, listener.stdout);
  assert.match(lines[0]!, / -- erin joined dev$/);
  assert.match(lines[1]!, / \[dev\] <erin> for dev$/);
});

Deno.test("tell delivers a direct message and names a missing nick", opts, async () => {
  await using server = await startTestServer();
  await using bob = await connect({ port: server.port, nick: "bob" });
  const r = await runCli(["tell", "bob", "lunch?", "--nick", "alice", ...addressArgs(server.port)]);
  assert.equal(r.code, 0, r.stderr);
  const it = bob.messages();
  const m = await it.next();
  assert.deepEqual({ ...m.value, payload: undefined }, {
    type: "dm",
    from: "alice",
    text: "lunch?",
    payload: undefined,
  });
  const missing = await runCli(["tell", "nobody", "hi", ...addressArgs(server.port)]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /Cannot send a direct message to nobody: nobody has that nick/);
});

Deno.test("who lists nicks and rooms, as a table and as JSON", opts, async () => {
  await using server = await startTestServer();
  await using alice = await connect({ port: server.port, nick: "alice" });
  await alice.join("ops");
  const text = await runCli(["who", ...addressArgs(server.port)]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trim().split("\n");
  assert.match(lines[0]!, /^NICK\s+ONLINE\s+ROOMS$/);
  assert.ok(lines.some((l) => /^alice\s+\d+s\s+lobby ops$/.test(l)), text.stdout);
  const json = await runCli(["who", "ops", "--json", ...addressArgs(server.port)]);
  assert.equal(json.code, 0, json.stderr);
  const entries = JSON.parse(json.stdout);
  assert.equal(entries.length, 1);
  assert.equal(entries[0].nick, "alice");
  assert.deepEqual(entries[0].rooms, ["lobby", "ops"]);
  const unknown = await runCli(["who", "nowhere", ...addressArgs(server.port)]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^switchboard: Cannot list .*nowhere: .*\(404\)\n$/);
});

Deno.test("rooms lists rooms with member counts, as a table and as JSON", opts, async () => {
  await using server = await startTestServer();
  await using a = await connect({ port: server.port });
  await using b = await connect({ port: server.port });
  await a.join("ops");
  await b.join("ops");
  await b.join("Dev");
  const text = await runCli(["rooms", ...addressArgs(server.port)]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^ROOM\s+MEMBERS\nDev\s+1\nlobby\s+3\nops\s+2\n$/);
  const json = await runCli(["rooms", "--json", ...addressArgs(server.port)]);
  assert.deepEqual(JSON.parse(json.stdout), [
    { room: "Dev", members: 1 },
    { room: "lobby", members: 3 },
    { room: "ops", members: 2 },
  ]);
});

Deno.test(
  "time reports the server's clock with an offset within 1 s of zero on one machine",
  opts,
  async () => {
    await using server = await startTestServer();
    const json = await runCli(["time", "--samples", "5", "--json", ...addressArgs(server.port)]);
    assert.equal(json.code, 0, json.stderr);
    const t = JSON.parse(json.stdout);
    assert.equal(t.samples, 5);
    assert.equal(t.server, `127.0.0.1:${server.port}`);
    assert.ok(Math.abs(t.offset_ms) < 1000, `offset ${t.offset_ms} ms`);
    assert.ok(t.rtt_ms >= 0 && t.rtt_ms < 5000, `rtt ${t.rtt_ms}`);
    assert.equal(new Date(t.server_time).getTime(), t.server_ms);
    assert.ok(Math.abs(t.server_ms - Date.now()) < 10_000);
    const text = await runCli(["time", ...addressArgs(server.port)]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^server time\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/m);
    assert.match(
      text.stdout,
      /^round trip\s+[\d.]+ ms \(best of 8; avg [\d.]+ ms, max [\d.]+ ms\)$/m,
    );
    assert.match(text.stdout, /^clock offset\s+[+-][\d.]+ ms \(.*; ±[\d.]+ ms\)$/m);
  },
);

Deno.test("ping and time measure the same round trip (a link that adds 40 ms)", opts, async () => {
  await using server = await startTestServer();
  await using proxy = startProxy(server.port, { upDelay: 40 });
  const ping = await runCli(["ping", "-c", "3", "--json", ...addressArgs(proxy.port)]);
  const time = await runCli(["time", "--samples", "3", "--json", ...addressArgs(proxy.port)]);
  assert.equal(ping.code, 0, ping.stderr);
  assert.equal(time.code, 0, time.stderr);
  const p = JSON.parse(ping.stdout);
  const t = JSON.parse(time.stdout);
  // Each is one command's request and reply: at least the link's 40 ms, and not much more.
  for (const rtt of [p.min_ms, t.rtt_ms]) {
    assert.ok(rtt >= 39 && rtt < 400, ping.stdout + time.stdout);
  }
  assert.ok(t.rtt_ms <= t.avg_rtt_ms && t.avg_rtt_ms <= t.max_rtt_ms, time.stdout);
});

Deno.test("ping prints one round trip per sample and a summary", opts, async () => {
  await using server = await startTestServer();
  const text = await runCli(["ping", "-c", "3", ...addressArgs(server.port)]);
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trim().split("\n");
  assert.equal(lines.length, 4, text.stdout);
  for (let i = 0; i < 3; i++) {
    assert.match(
      lines[i]!,
      new RegExp(`^PONG from 127\\.0\\.0\\.1:${server.port}: seq=${i + 1} time=[\\d.]+ ms$`),
    );
  }
  assert.match(lines[3]!, /^3 samples: min [\d.]+ ms, avg [\d.]+ ms, max [\d.]+ ms$/);
  const json = JSON.parse(
    (await runCli(["ping", "--count", "2", "--json", ...addressArgs(server.port)])).stdout,
  );
  assert.equal(json.samples_ms.length, 2);
  assert.ok(json.min_ms <= json.avg_ms && json.avg_ms <= json.max_ms);
});

Deno.test("SWITCHBOARD_URL sb://host:port picks the server; flags win over it", opts, async () => {
  await using server = await startTestServer();
  const r = await runCli(["rooms", "--json"], {
    env: { SWITCHBOARD_URL: `sb://127.0.0.1:${server.port}` },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [{ room: "lobby", members: 1 }]);
  const dead = freePort();
  const flagWins = await runCli(["rooms", "--port", String(server.port)], {
    env: { SWITCHBOARD_URL: `sb://127.0.0.1:${dead}` },
  });
  assert.equal(flagWins.code, 0, flagWins.stderr);
});

Deno.test("a refused connection exits 1 and says what to do", opts, async () => {
  const port = freePort();
  for (const cmd of [["send", "lobby", "hi"], ["time"], ["listen"], ["chat"]]) {
    const r = await runCli([...cmd, ...addressArgs(port)]);
    assert.equal(r.code, 1, `${cmd[0]}: ${r.stderr}`);
    assert.equal(
      r.stderr.trim(),
      `switchboard: Cannot connect to 127.0.0.1:${port}: connection refused. ` +
        "Is switchboard-server running? (--host/--port or SWITCHBOARD_URL)",
    );
  }
});

Deno.test("wrong usage exits 2 with a message that points at --help", opts, async () => {
  const cases: [string[], RegExp, Record<string, string>?][] = [
    [
      ["sned", "lobby", "x"],
      /Unknown command "sned"\. Did you mean "send"\?\nRun switchboard --help/,
    ],
    [["send"], /Cannot send: no room given.*\nRun switchboard send --help/],
    [
      ["send", "lobby"],
      /Cannot send to lobby: no text given\. Pass the text, or - to read standard input/,
    ],
    [["send", "bad room!", "x"], /Cannot send to room "bad room!": a room name is 1-64/],
    [["tell", "a b", "x"], /Cannot send a direct message to "a b": a nick is 1-32/],
    [
      ["time", "--samples", "0"],
      /Cannot use --samples 0: it must be a whole number from 1 to 10000/,
    ],
    [["who", "--port", "99999"], /Cannot use --port 99999/],
    [["rooms", "--frobnicate"], /Cannot parse the command line: Unknown option '--frobnicate'/],
    [
      ["rooms", "--room", "x"],
      /Cannot use --room with "rooms": it only applies to chat\nRun switchboard rooms --help/,
    ],
    [["rooms"], /Cannot use SWITCHBOARD_URL "http:\/\/x": unknown scheme/, {
      SWITCHBOARD_URL: "http://x",
    }],
    [["rooms", "extra"], /Cannot run rooms: it takes no arguments/],
    [["chat", "--room", "a b"], /Cannot join room "a b"/],
    [["help", "nope"], /Cannot show help for "nope"/],
  ];
  for (const [args, re, env] of cases) {
    const r = await runCli(["--port", "1", ...args], { env });
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
    assert.match(r.stderr, /^switchboard: /);
    assert.equal(r.stdout, "");
  }
});

Deno.test("a nick in use exits 1 and says to pick another", opts, async () => {
  await using server = await startTestServer();
  await using _bob = await connect({ port: server.port, nick: "bob" });
  const r = await runCli(["send", "lobby", "hi", "--nick", "BOB", ...addressArgs(server.port)]);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /Cannot take nick "BOB": it is in use on 127\.0\.0\.1:\d+\. Pick another with --nick/,
  );
});

Deno.test(
  "--help on every command prints its usage with examples; --version prints VERSION",
  opts,
  async () => {
    const overview = await runCli(["--help"]);
    assert.equal(overview.code, 0);
    assert.match(overview.stdout, /^switchboard .*\n\nUsage:/);
    for (const cmd of Object.keys(COMMAND_HELP)) {
      const r = await runCli([cmd, "--help"]);
      assert.equal(r.code, 0, cmd);
      assert.match(r.stdout, new RegExp(`^switchboard ${cmd}\\b`), cmd);
      assert.match(r.stdout, /\nExamples:\n {2}switchboard /, cmd);
    }
    const v = await runCli(["--version"]);
    assert.equal(v.code, 0);
    assert.equal(v.stdout, `${VERSION}\n`);
    const none = await runCli([]);
    assert.equal(none.code, 0);
    assert.match(none.stdout, /Commands:/);
  },
);

Deno.test(
  "a message past the server's max_payload is refused before sending, and the CLI says so",
  opts,
  async () => {
    await using server = await startTestServer({ maxPayload: 1024 });
    const r = await runCli(["send", "lobby", "x".repeat(2000), ...addressArgs(server.port)]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /Cannot send to lobby: the message is 2\.0 KiB, over the server's max_payload of 1\.0 KiB\. Split it/,
    );
  },
);

Deno.test(
  "listen shows control characters from the network in caret notation, never raw",
  opts,
  async () => {
    await using server = await startTestServer();
    await using text = spawnCli(["listen", "--count", "1", ...addressArgs(server.port)]);
    await using json = spawnCli(["listen", "--json", "--count", "1", ...addressArgs(server.port)]);
    await text.waitFor(/Listening on lobby/, { stream: "stderr" });
    await json.waitFor(/Listening on lobby/, { stream: "stderr" });
    await using evil = await connect({ port: server.port, nick: "evil" });
    const hostile = "\x1b[2J\x1b]0;pwned\x07hi\rthere\u009b";
    await evil.say("lobby", hostile);
    assert.equal(await text.exit(), 0, text.stderr);
    assert.equal(await json.exit(), 0, json.stderr);
    assert.match(text.stdout, /<evil> \^\[\[2J\^\[\]0;pwned\^Ghi\^Mthere\\x9b\n$/);
    // deno-lint-ignore no-control-regex
    assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(text.stdout), JSON.stringify(text.stdout));
    // JSON keeps the exact text (escaped by JSON itself).
    assert.equal(JSON.parse(json.stdout).text, hostile);
  },
);
