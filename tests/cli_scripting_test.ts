/**
 * The CLI for scripts, as a subprocess against real servers: `--json` errors with their exit
 * codes, shell completion scripts (checked by a real bash), contexts (a 0600 file, flag >
 * variable > context), and a one-shot `send` that a room's members do not see come and go.
 */

import assert from "node:assert/strict";
import { connect, type Push } from "../client/client.ts";
import { COMMAND_HELP } from "../cli/help.ts";
import { addressArgs, CLIENT_RUN, runCli, spawnCli } from "./helpers/cli.ts";
import { rawClient } from "./helpers/raw_client.ts";
import { freePort, startTestServer } from "./helpers/servers.ts";
import { waitFor } from "./helpers/wait.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "--json errors: one JSON line on stderr with the server's code and the exit code",
  opts,
  async () => {
    await using server = await startTestServer();
    await using readOnly = await startTestServer({ readOnly: true });
    await using _bob = await connect({ port: server.port, nick: "bob" });
    const local = await Deno.makeTempFile();
    const port = freePort();
    const cases: [string[], number, number | null, string, RegExp][] = [
      [["rooms", "extra"], 2, null, "usage", /^Cannot run rooms: it takes no arguments$/],
      [["sned", "x"], 2, null, "usage", /^Unknown command "sned"/],
      [["who", "--frob"], 2, null, "usage", /^Cannot parse the command line/],
      [["who", "--port", String(port)], 1, null, "failure", /connection refused/],
      [["rm", "missing.txt", ...addressArgs(server.port)], 1, 404, "failure", /\(404\)/],
      [["tell", "nobody", "hi", ...addressArgs(server.port)], 1, 404, "failure", /nobody has/],
      [
        ["send", "lobby", "hi", "--nick", "BOB", ...addressArgs(server.port)],
        1,
        409,
        "failure",
        /in use/,
      ],
      [["put", local, ...addressArgs(readOnly.port)], 1, 403, "failure", /read-only \(403\)$/],
      [["history", "nope", ...addressArgs(server.port)], 1, 404, "failure", /no such room/],
    ];
    try {
      for (const [args, exit, code, kind, message] of cases) {
        const r = await runCli([...args, "--json"]);
        const what = `${args.join(" ")}: ${r.stderr}`;
        assert.equal(r.code, exit, what);
        assert.equal(r.stdout, "", what);
        const lines = r.stderr.trim().split("\n");
        assert.equal(lines.length, 1, what);
        const j = JSON.parse(lines[0]!);
        assert.deepEqual(Object.keys(j), ["error", "code", "exit"], what);
        assert.equal(j.exit, exit, what);
        assert.equal(j.code, code, what);
        assert.equal(j.error.kind, kind, what);
        assert.match(j.error.message, message, what);
      }
    } finally {
      await Deno.remove(local);
    }
    // Without --json the same failure is the sentence, as before.
    const plain = await runCli(["rm", "missing.txt", ...addressArgs(server.port)]);
    assert.match(plain.stderr, /^switchboard: Cannot delete/);
  },
);

Deno.test("every command's --help documents --json", opts, async () => {
  for (const [cmd, page] of Object.entries(COMMAND_HELP)) {
    assert.match(page, /--json/, cmd);
    if (cmd === "send" || cmd === "tell") assert.match(page, /\nOptions:\n {2}--json /, cmd);
  }
  const overview = await runCli(["--help"]);
  assert.match(overview.stdout, /Errors with --json \(every command\)/);
});

/** A folder with a `switchboard` on PATH that runs this checkout's CLI. */
async function binFolder(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "sb-bin-" });
  const quoted = [Deno.execPath(), ...CLIENT_RUN].map((a) => `'${a}'`).join(" ");
  await Deno.writeTextFile(`${dir}/switchboard`, `#!/bin/sh\nexec ${quoted} "$@"\n`);
  await Deno.chmod(`${dir}/switchboard`, 0o755);
  return dir;
}

/** Runs the bash completion function on a command line, as bash would on Tab. */
async function bashComplete(
  bin: string,
  script: string,
  words: string[],
  env: Record<string, string> = {},
): Promise<string[]> {
  const line = words.map((w) => `'${w}'`).join(" ");
  const program = `source '${script}'\nCOMP_WORDS=(${line})\nCOMP_CWORD=${words.length - 1}\n` +
    `_switchboard\nprintf '%s\\n' "\${COMPREPLY[@]}"\n`;
  const out = await new Deno.Command("bash", {
    args: ["-c", program],
    env: { PATH: `${bin}:${Deno.env.get("PATH")}`, SWITCHBOARD_URL: "", NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
}

Deno.test(
  "completions: bash -n accepts the script; it completes commands, options and remote paths",
  opts,
  async () => {
    for (const shell of ["bash", "zsh", "fish"]) {
      const r = await runCli(["completions", shell]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /switchboard __complete paths/, shell);
    }
    const bad = await runCli(["completions", "tcsh"]);
    assert.equal(bad.code, 2);
    const bin = await binFolder();
    try {
      const script = `${bin}/switchboard.bash`;
      await Deno.writeTextFile(script, (await runCli(["completions", "bash"])).stdout);
      const syntax = await new Deno.Command("bash", { args: ["-n", script], stderr: "piped" })
        .output();
      assert.ok(syntax.success, new TextDecoder().decode(syntax.stderr));

      assert.deepEqual(await bashComplete(bin, script, ["switchboard", "co"]), [
        "context",
        "completions",
      ]);
      assert.ok(
        (await bashComplete(bin, script, ["switchboard", "get", "--no"])).includes("--no-resume"),
      );
      // Remote paths, from a real server named on the command line.
      await using server = await startTestServer();
      await Deno.mkdir(`${server.files}/reports`);
      await Deno.writeTextFile(`${server.files}/reports/2024.pdf`, "x");
      await Deno.writeTextFile(`${server.files}/readme.txt`, "x");
      const at = ["--port", String(server.port)];
      assert.deepEqual(
        (await bashComplete(bin, script, ["switchboard", "get", ...at, "re"])).sort(),
        ["readme.txt", "reports/"],
      );
      assert.deepEqual(
        await bashComplete(bin, script, ["switchboard", "rm", ...at, "reports/2"]),
        ["reports/2024.pdf"],
      );
      // No server there: no candidates, no noise, quickly.
      const none = await bashComplete(bin, script, [
        "switchboard",
        "get",
        "--port",
        String(freePort()),
        "r",
      ]);
      assert.deepEqual(none, []);
    } finally {
      await Deno.remove(bin, { recursive: true });
    }
  },
);

Deno.test(
  "contexts: a 0600 file without passwords; --context and flag > variable > context",
  opts,
  async () => {
    await using a = await startTestServer();
    await using b = await startTestServer();
    await using c = await startTestServer();
    await using _onA = await connect({ port: a.port, nick: "on-a" });
    await using _onB = await connect({ port: b.port, nick: "on-b" });
    await using _onC = await connect({ port: c.port, nick: "on-c" });
    const config = await Deno.makeTempDir({ prefix: "sb-config-" });
    const env = { XDG_CONFIG_HOME: config };
    const who = async (args: string[], more: Record<string, string> = {}) => {
      const r = await runCli(["who", "--json", ...args], { env: { ...env, ...more } });
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { nick: string }[]).map((e) => e.nick).filter((n) =>
        n.startsWith("on-")
      );
    };
    try {
      const add = await runCli(
        ["context", "add", "alpha", "--url", `sb://127.0.0.1:${a.port}`, "--user", "alice"],
        { env: { ...env, SWITCHBOARD_PASSWORD: "never-stored" } },
      );
      assert.equal(add.code, 0, add.stderr);
      assert.equal(add.stdout, "Added context alpha (current)\n");
      assert.equal(
        (await runCli([
          "context",
          "add",
          "gamma",
          "--url",
          `sb://127.0.0.1:${c.port}`,
          "--token",
          "t0k",
        ], { env })).code,
        0,
      );
      const file = `${config}/switchboard/contexts.json`;
      assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
      const text = await Deno.readTextFile(file);
      assert.ok(!text.includes("never-stored"), text);
      const ls = JSON.parse((await runCli(["context", "ls", "--json"], { env })).stdout);
      assert.deepEqual(
        ls.map((x: { context: string; current: boolean }) => [x.context, x.current]),
        [
          ["alpha", true],
          ["gamma", false],
        ],
      );
      assert.equal(ls[1].token, true, "the token is only said to be there");
      // The current context, then --context, then SWITCHBOARD_CONTEXT.
      assert.deepEqual(await who([]), ["on-a"]);
      assert.deepEqual(await who(["--context", "gamma"]), ["on-c"]);
      assert.deepEqual(await who([], { SWITCHBOARD_CONTEXT: "gamma" }), ["on-c"]);
      // A variable wins over the context, and a flag over both.
      assert.deepEqual(await who([], { SWITCHBOARD_URL: `sb://127.0.0.1:${b.port}` }), ["on-b"]);
      assert.deepEqual(
        await who(["--port", String(c.port)], { SWITCHBOARD_URL: `sb://127.0.0.1:${b.port}` }),
        ["on-c"],
      );
      assert.deepEqual(await who(["--context", "gamma", "--port", String(a.port)]), ["on-a"]);
      // use, rm, and a context that is not there.
      assert.equal((await runCli(["context", "use", "gamma"], { env })).code, 0);
      assert.deepEqual(await who([]), ["on-c"]);
      const missing = await runCli(["who", "--context", "nope"], { env });
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /Cannot use context "nope": no such context/);
      assert.equal((await runCli(["context", "rm", "gamma"], { env })).code, 0);
      // The current one removed: none is current (commands go to the default address again).
      const left = JSON.parse((await runCli(["context", "ls", "--json"], { env })).stdout);
      assert.deepEqual(
        left.map((x: { context: string; current: boolean }) => [x.context, x.current]),
        [
          ["alpha", false],
        ],
      );
    } finally {
      await Deno.remove(config, { recursive: true });
    }
  },
);

Deno.test(
  "a one-shot send is quiet: a member of the room sees the message, no JOINED or LEFT",
  opts,
  async () => {
    await using server = await startTestServer();
    await using member = await connect({ port: server.port, nick: "member" });
    await member.join("ops");
    const pushes = member.messages();
    const sent = await runCli([
      "send",
      "ops",
      "deploy",
      "done",
      "--nick",
      "ci",
      ...addressArgs(server.port),
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    await waitFor(async () => (await member.who("ops")).length === 1, 5000, "ci to be gone");
    // A loud join after it: the first push must be the message, the second this JOINED.
    await using loud = await connect({ port: server.port, nick: "loud" });
    await loud.join("ops");
    const seen: Push[] = [];
    for (let i = 0; i < 2; i++) seen.push((await pushes.next()).value as Push);
    assert.equal(seen[0]!.type, "msg");
    assert.equal((seen[0] as Extract<Push, { type: "msg" }>).text, "deploy done");
    assert.equal((seen[0] as Extract<Push, { type: "msg" }>).from, "ci");
    assert.deepEqual(seen[1], { type: "joined", room: "ops", nick: "loud" });

    // The listener's view in text too: the message, nothing about ci coming or going.
    await using listener = spawnCli(["listen", "ops", "--count", "1", ...addressArgs(server.port)]);
    await listener.waitFor(/Listening on ops/, { stream: "stderr" });
    assert.equal(
      (await runCli(["send", "ops", "again", "--nick", "ci2", ...addressArgs(server.port)])).code,
      0,
    );
    assert.equal(await listener.exit(), 0, listener.stderr);
    assert.match(listener.stdout, /^\d\d:\d\d:\d\d \[ops\] <ci2> again\n$/);
  },
);

Deno.test(
  "JOIN room quiet on the wire: no JOINED, no LEFT on LEAVE or disconnect; a member still",
  opts,
  async () => {
    await using server = await startTestServer();
    await using m = await rawClient(server.port, { nick: "member", room: "ops" });
    {
      await using q = await rawClient(server.port, { nick: "quiet" });
      await q.line("JOIN ops QUIET");
      assert.equal(await q.next(), "OK ops");
      await q.line("WHO ops");
      assert.match(await q.next(), /"nick":"quiet"/, "listed by WHO");
      await q.line("SAY ops :hi");
      assert.equal(await q.next(), "OK 1 1");
      await q.line("LEAVE ops");
      assert.equal(await q.next(), "OK ops");
      await q.line("JOIN ops quiet");
      assert.equal(await q.next(), "OK ops");
      await q.line("JOIN ops other");
      assert.equal(await q.next(), "ERR 400 Usage: JOIN room");
    }
    // quiet disconnected: once WHO no longer lists it, any LEFT would already be queued to m.
    await using watcher = await connect({ port: server.port });
    await waitFor(
      async () => !(await watcher.who("ops")).some((e) => e.nick === "quiet"),
      5000,
      "quiet to be gone",
    );
    await m.line("PING");
    const frames: string[] = [];
    while (frames.at(-1) !== "PONG") frames.push(await m.next());
    assert.deepEqual(frames, ["MSG ops quiet id 1 hi", "PONG"], "no JOINED, no LEFT");
    // A loud join still says so.
    await using _loud = await rawClient(server.port, { nick: "loud", room: "ops" });
    assert.equal(await m.next(), "JOINED ops loud");
  },
);
