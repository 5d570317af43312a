/**
 * Users, permissions and the shared token, from the outside: real sockets, real users files,
 * real server processes for SIGHUP reloads, hash-password and the log scan.
 */

import assert from "node:assert/strict";
import { connect } from "../client/client.ts";
import { ServerError } from "../lib/protocol/errors.ts";
import { startServer } from "../server/server.ts";
import { RawClient, rawClient } from "./helpers/raw_client.ts";
import { ROOT, startServerProcess, startTestServer } from "./helpers/servers.ts";
import { type UserEntry, usersFile, writeUsers } from "./helpers/users.ts";
import { waitFor } from "./helpers/wait.ts";
import { decodeText, encodeText } from "./helpers/bytes.ts";

const PEOPLE: UserEntry[] = [
  ["alice", "alice-pass-1", ["chat", "read", "write"]],
  ["chatter", "chatter-pass", ["chat"]],
  ["reader", "reader-pass", ["read"]],
  ["writer", "writer-pass", ["write"]],
];

Deno.test("with --users, HELLO says auth_required:true and auth_methods [password]", async () => {
  await using users = await usersFile(PEOPLE);
  await using server = await startTestServer({ users: users.path });
  await using c = await RawClient.connect(server.port);
  const hello = await c.hello();
  assert.equal(hello.auth_required, true);
  assert.deepEqual(hello.auth_methods, ["password"]);
  assert.match(String(hello.nick), /^guest-\d+$/);
});

Deno.test("before AUTH only AUTH, HELP, PING, PONG and QUIT work; everything else answers ERR 401", async () => {
  await using users = await usersFile(PEOPLE);
  await using server = await startTestServer({ users: users.path });
  await using c = await rawClient(server.port);
  for (
    const cmd of [
      "NICK bob",
      "JOIN ops",
      "LEAVE ops",
      "SAY lobby :hi",
      "TELL alice :hi",
      "HISTORY lobby",
      "WHO",
      "ROOMS",
      "TIME",
      "LIST",
      "GET a.txt",
      "DEL a.txt",
    ]
  ) {
    await c.line(cmd);
    assert.equal(
      await c.next(),
      `ERR 401 Cannot run ${cmd.split(" ")[0]}: log in first with AUTH user password`,
      cmd,
    );
  }
  await c.line("PING");
  assert.equal(await c.next(), "PONG");
  await c.line("HELP");
  assert.match(await c.next(), /^HELP .*AUTH user password/s);
  // PONG gets no reply: the next reply is the PING's.
  await c.line("PONG");
  await c.line("PING");
  assert.equal(await c.next(), "PONG");
  // An unknown verb is still a 400, as on any server.
  await c.line("FROB");
  assert.match(await c.next(), /^ERR 400 Unknown command "FROB"/);
  await c.line("QUIT");
  assert.equal(await c.next(), "OK bye");
  assert.equal(await c.closed(), true);
});

Deno.test("PUT before AUTH answers ERR 401, its bytes are skipped, and nothing is written", async () => {
  await using users = await usersFile(PEOPLE);
  await using server = await startTestServer({ users: users.path });
  await using c = await rawClient(server.port);
  await c.send("PUT evil.txt 11\r\nhello world\r\nPING\r\n");
  assert.equal(await c.next(), "ERR 401 Cannot run PUT: log in first with AUTH user password");
  assert.equal(await c.next(), "PONG");
  await assert.rejects(Deno.stat(`${server.files}/evil.txt`), Deno.errors.NotFound);
});

Deno.test("PUT before AUTH announcing more than max_payload answers ERR 401, then BYE and close", async () => {
  await using users = await usersFile(PEOPLE);
  await using server = await startTestServer({ users: users.path, maxPayload: 1024 });
  await using c = await rawClient(server.port);
  await c.line("PUT big.bin 1000000");
  assert.equal(await c.next(), "ERR 401 Cannot run PUT: log in first with AUTH user password");
  assert.match(await c.next(), /^BYE /);
  assert.equal(await c.closed(), true);
});

Deno.test("a connection that has not logged in gets no room messages, and is not counted by SAY", async () => {
  await using users = await usersFile(PEOPLE);
  await using server = await startTestServer({ users: users.path });
  await using guest = await rawClient(server.port);
  await using alice = await rawClient(server.port, { login: ["alice", "alice-pass-1"] });
  await using chatter = await rawClient(server.port, { login: ["chatter", "chatter-pass"] });
  await alice.line("SAY lobby :secret plans");
  assert.equal(await alice.next(), "OK 1 1");
  assert.equal(await chatter.next(), "MSG lobby alice id 1 secret plans");
  await guest.line("PING");
  assert.equal(await guest.next(), "PONG", "the guest got nothing before its PONG");
});

Deno.test("AUTH with the right password answers OK <user>; the nick is the user name and NICK answers ERR 403", async () => {
  await using users = await usersFile(PEOPLE);
  await using server = await startTestServer({ users: users.path });
  await using c = await rawClient(server.port);
  await c.line("AUTH ALICE alice-pass-1");
  assert.equal(await c.next(), "OK alice", "names ignore case; the nick keeps the file's");
  await c.line("NICK mallory");
  assert.equal(await c.next(), "ERR 403 Cannot change nick: it is fixed to the user name alice");
  await c.line("WHO");
  assert.match(await c.next(), /^WHO \[\{"nick":"alice"/);
  await c.line("AUTH alice alice-pass-1");
  assert.equal(await c.next(), "ERR 400 Cannot log in: already logged in");
});

Deno.test("a second connection of the same user gets the nick alice-2, and the client library learns it", async () => {
  await using users = await usersFile(PEOPLE);
  await using server = await startTestServer({ users: users.path });
  await using first = await connect({ port: server.port });
  await using second = await connect({ port: server.port });
  assert.equal(first.hello.auth_required, true);
  assert.equal(await first.auth("alice", "alice-pass-1"), "alice");
  assert.equal(await second.auth("alice", "alice-pass-1"), "alice-2");
  assert.equal(second.nick, "alice-2");
  assert.deepEqual((await second.who()).map((w) => w.nick).sort(), ["alice", "alice-2"]);
});

Deno.test("a wrong password and an unknown user get the same ERR 401 text", async () => {
  await using users = await usersFile(PEOPLE);
  await using server = await startTestServer({ users: users.path });
  await using c = await rawClient(server.port);
  await c.line("AUTH alice wrong-password");
  const wrongPassword = await c.next();
  await c.line("AUTH nobody alice-pass-1");
  const unknownUser = await c.next();
  assert.equal(wrongPassword, "ERR 401 Cannot log in: wrong user name or password");
  assert.equal(unknownUser, wrongPassword);
  await c.line("AUTH onlyoneword");
  assert.equal(await c.next(), "ERR 400 Usage: AUTH user password");
  await c.line("SAY lobby :still locked");
  assert.match(await c.next(), /^ERR 401 /);
});

Deno.test("the client library's auth() rejects with ServerError 401, and refuses words with spaces before sending", async () => {
  await using users = await usersFile(PEOPLE);
  await using server = await startTestServer({ users: users.path });
  await using c = await connect({ port: server.port });
  await assert.rejects(
    c.auth("alice", "nope-nope"),
    (e: Error) => e instanceof ServerError && e.code === 401,
  );
  await assert.rejects(c.auth("alice", "two words"), TypeError);
  assert.equal(await c.auth("alice", "alice-pass-1"), "alice");
});

Deno.test("chat permission: JOIN, SAY, TELL, WHO, ROOMS allowed with it; ERR 403 naming it without it, and no pushes", async () => {
  await using users = await usersFile(PEOPLE);
  await using server = await startTestServer({ users: users.path });
  await using chatter = await rawClient(server.port, { login: ["chatter", "chatter-pass"] });
  await using reader = await rawClient(server.port, { login: ["reader", "reader-pass"] });
  await using alice = await rawClient(server.port, { login: ["alice", "alice-pass-1"] });
  for (
    const [cmd, reply] of [
      ["JOIN ops", "OK ops"],
      ["SAY ops :hi", "OK 0 1"],
      ["TELL alice :psst", "OK 1"],
      ["ROOMS", "ROOMS"],
      ["WHO", "WHO"],
      ["TIME", "TIME"],
    ]
  ) {
    await chatter.line(cmd!);
    assert.ok((await chatter.next()).startsWith(reply!), cmd);
  }
  assert.equal(await alice.next(), "DM chatter psst");
  for (
    const cmd of [
      "JOIN ops",
      "LEAVE ops",
      "SAY lobby :hi",
      "TELL alice :hi",
      "HISTORY lobby",
      "WHO",
      "ROOMS",
    ]
  ) {
    await reader.line(cmd);
    assert.equal(
      await reader.next(),
      `ERR 403 Cannot run ${cmd.split(" ")[0]}: user reader lacks the chat permission`,
      cmd,
    );
  }
  await reader.line("TIME");
  assert.match(await reader.next(), /^TIME /);
  // Without chat, no lobby messages either.
  await alice.line("SAY lobby :to chatters");
  assert.equal(await alice.next(), "OK 1 1");
  assert.equal(await chatter.next(), "MSG lobby alice id 1 to chatters");
  await reader.line("PING");
  assert.equal(await reader.next(), "PONG");
});

Deno.test("read permission: LIST and GET allowed with it; ERR 403 naming it without it", async () => {
  await using users = await usersFile(PEOPLE);
  await using server = await startTestServer({ users: users.path });
  await Deno.writeTextFile(`${server.files}/notes.txt`, "shared notes");
  await using reader = await connect({ port: server.port });
  await reader.auth("reader", "reader-pass");
  assert.deepEqual((await reader.list()).map((f) => f.name), ["notes.txt"]);
  const chunks: Uint8Array[] = [];
  const head = await reader.get("notes.txt", {
    sink: () => ({ data: (b) => void chunks.push(b.slice()), end() {}, abort() {} }),
  });
  assert.equal(head.size, 12);
  assert.equal(decodeText(chunks[0]!), "shared notes");
  await using chatter = await rawClient(server.port, { login: ["chatter", "chatter-pass"] });
  for (const cmd of ["LIST", "GET notes.txt"]) {
    await chatter.line(cmd);
    assert.equal(
      await chatter.next(),
      `ERR 403 Cannot run ${cmd.split(" ")[0]}: user chatter lacks the read permission`,
    );
  }
});

Deno.test("write permission: PUT and DEL allowed with it; ERR 403 naming it without it, the upload's bytes skipped", async () => {
  await using users = await usersFile(PEOPLE);
  await using server = await startTestServer({ users: users.path });
  await using writer = await connect({ port: server.port });
  await writer.auth("writer", "writer-pass");
  await writer.put("up.txt", encodeText("uploaded"));
  assert.equal(await Deno.readTextFile(`${server.files}/up.txt`), "uploaded");
  await using reader = await rawClient(server.port, { login: ["reader", "reader-pass"] });
  await reader.send("PUT up.txt 5\r\nevil!\r\nDEL up.txt\r\nPING\r\n");
  assert.equal(
    await reader.next(),
    "ERR 403 Cannot run PUT: user reader lacks the write permission",
  );
  assert.equal(
    await reader.next(),
    "ERR 403 Cannot run DEL: user reader lacks the write permission",
  );
  assert.equal(await reader.next(), "PONG");
  assert.equal(await Deno.readTextFile(`${server.files}/up.txt`), "uploaded");
  assert.equal(await writer.del("up.txt"), "up.txt");
  await assert.rejects(Deno.stat(`${server.files}/up.txt`), Deno.errors.NotFound);
  // Writing does not give reading.
  await assert.rejects(writer.list(), (e: Error) => e instanceof ServerError && e.code === 403);
});

Deno.test("token mode: AUTH token opens everything, NICK included; a wrong token answers ERR 401", async () => {
  await using server = await startTestServer({ authToken: "t0ken-for-the-team" });
  await using c = await RawClient.connect(server.port);
  const hello = await c.hello();
  assert.equal(hello.auth_required, true);
  assert.deepEqual(hello.auth_methods, ["token"]);
  await c.line("SAY lobby :hi");
  assert.equal(await c.next(), "ERR 401 Cannot run SAY: log in first with AUTH token");
  await c.line("AUTH t0ken-for-the-tea");
  assert.equal(await c.next(), "ERR 401 Cannot log in: wrong token");
  await c.line("AUTH alice t0ken-for-the-team");
  assert.equal(await c.next(), "ERR 400 Usage: AUTH token");
  await c.line("AUTH t0ken-for-the-team");
  assert.match(await c.next(), /^OK guest-\d+$/);
  for (
    const [cmd, reply] of [["NICK bob", "OK bob"], ["JOIN ops", "OK ops"], ["LIST", "LIST"], [
      "TIME",
      "TIME",
    ]]
  ) {
    await c.line(cmd!);
    assert.ok((await c.next()).startsWith(reply!), cmd);
  }
});

Deno.test("users and token together: HELLO lists both methods and either logs in", async () => {
  await using users = await usersFile(PEOPLE);
  await using server = await startTestServer({ users: users.path, authToken: "shared-secret-42" });
  await using a = await connect({ port: server.port });
  assert.deepEqual(a.hello.auth_methods, ["password", "token"]);
  assert.equal(await a.auth("chatter", "chatter-pass"), "chatter");
  await using b = await connect({ port: server.port });
  assert.match(await b.auth("shared-secret-42"), /^guest-\d+$/);
  await b.setNick("robot");
});

Deno.test("a broken users file stops the server from starting with a message naming the entry", async () => {
  await using users = await usersFile(PEOPLE);
  const bad: [string, RegExp][] = [
    [
      "{not json",
      /Cannot load users file .*users\.json: it is not valid JSON \(line 1, column 2\)/,
    ],
    [
      '{"users": [{"name": "a b", "password": "x", "permissions": []}]}',
      /users\[0\]\.name "a b": user names are 1-24/,
    ],
    [
      '{"users": [{"name": "bob-2", "password": "x", "permissions": []}]}',
      /must not end in -<digits>/,
    ],
    [
      '{"users": [{"name": "bob", "password": "plaintext", "permissions": []}]}',
      /users\[0\] \(bob\)\.password: it is not a hash/,
    ],
    [
      '{"users": [{"name": "bob", "password": "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5", "permissions": ["admin"]}]}',
      /"admin" is not chat, read or write/,
    ],
    ['{"users": [{"name": "bob", "pasword": "x", "permissions": []}]}', /unknown field "pasword"/],
  ];
  for (const [text, message] of bad) {
    await Deno.writeTextFile(users.path, text);
    assert.throws(() => startServer({ port: 0, users: users.path }), message, text);
  }
  assert.throws(
    () => startServer({ port: 0, users: `${users.dir}/missing.json` }),
    /Cannot load users file .*missing\.json: /,
  );
});

Deno.test("switchboard-server hash-password reads a piped password and prints an entry that logs in", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-env",
      "--allow-read",
      `${ROOT}main.ts`,
      "server",
      "hash-password",
      "--user",
      "carol",
      "--permissions",
      "chat,write",
      "--cost",
      "10",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = out.stdin.getWriter();
  await w.write(encodeText("carol-password-9\n"));
  await w.close();
  const result = await out.output();
  assert.equal(result.code, 0, decodeText(result.stderr));
  const line = decodeText(result.stdout).trim();
  assert.match(
    line,
    /^\{ "name": "carol", "password": "\$scrypt\$ln=10,r=8,p=1\$[^"]+", "permissions": \["chat", "write"\] \}$/,
  );
  assert.ok(!line.includes("carol-password-9"));
  await using users = await usersFile([]);
  await Deno.writeTextFile(users.path, `{"users": [${line}]}`);
  await using server = await startTestServer({ users: users.path });
  await using c = await connect({ port: server.port });
  assert.equal(await c.auth("carol", "carol-password-9"), "carol");
});

Deno.test("hash-password refuses a short password, and one with spaces", async () => {
  for (
    const [pw, why] of [["short", /shorter than 8 characters/], [
      "has a space in it",
      /one word/,
    ]] as const
  ) {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-env", "--allow-read", `${ROOT}main.ts`, "server", "hash-password"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = child.stdin.getWriter();
    await w.write(encodeText(pw + "\n"));
    await w.close();
    const r = await child.output();
    assert.equal(r.code, 1);
    assert.match(decodeText(r.stderr), why);
    assert.equal(r.stdout.length, 0);
  }
});

Deno.test({
  name:
    "SIGHUP reloads the users file without dropping connections; a broken file is refused and the old users stay",
  ignore: Deno.build.os === "windows",
  async fn() {
    await using users = await usersFile([["alice", "alice-pass-1", ["chat"]], [
      "bob",
      "bob-pass-12",
      ["chat"],
    ]]);
    await using proc = await startServerProcess(["--users", users.path]);
    await using alice = await rawClient(proc.port, { login: ["alice", "alice-pass-1"] });
    await using bob = await rawClient(proc.port, { login: ["bob", "bob-pass-12"] });
    await alice.line("LIST");
    assert.equal(
      await alice.next(),
      "ERR 403 Cannot run LIST: user alice lacks the read permission",
    );

    // A good file: alice gains read, bob is removed, carol arrives.
    await writeUsers(users.path, [["alice", "alice-pass-1", ["chat", "read"]], [
      "carol",
      "carol-pass-1",
      ["chat"],
    ]]);
    proc.kill("SIGHUP");
    await waitFor(
      () => /users reloaded .*users=2 revoked=1/.test(proc.log()),
      10_000,
      "the reload log line",
    );
    assert.equal(await bob.next(), "BYE access revoked");
    assert.equal(await bob.closed(), true);
    await alice.line("LIST");
    assert.match(await alice.next(), /^LIST \[/, "alice's open connection has her new permission");
    await using carol = await rawClient(proc.port, { login: ["carol", "carol-pass-1"] });
    await using bobAgain = await rawClient(proc.port);
    await bobAgain.line("AUTH bob bob-pass-12");
    assert.equal(await bobAgain.next(), "ERR 401 Cannot log in: wrong user name or password");

    // A broken file: refused with a log line; the users in force stay.
    await Deno.writeTextFile(users.path, '{"users": [ {"name": "alice", ');
    proc.kill("SIGHUP");
    await waitFor(
      () => /users reload refused, the users in force stay .*not valid JSON/.test(proc.log()),
      10_000,
      "the refusal log line",
    );
    await using carol2 = await rawClient(proc.port, { login: ["carol", "carol-pass-1"] });
    await alice.line("SAY lobby :still here");
    assert.equal(await alice.next(), "OK 2 1");
    assert.equal(await carol.next(), "MSG lobby alice id 1 still here");
    assert.equal(await carol2.next(), "MSG lobby alice id 1 still here");
  },
});

Deno.test("the log never holds a password or a token, whatever clients send (text and json logs)", async () => {
  const secrets = {
    password: "Hunter2-correct-horse",
    wrongPassword: "Wrong-battery-staple-77",
    token: "team-token-5f3a9c1d",
    wrongToken: "guessed-token-0000",
  };
  await using users = await usersFile([["dave", secrets.password, ["chat", "read", "write"]]]);
  for (const format of ["text", "json"]) {
    await using proc = await startServerProcess(["--users", users.path, "--log-format", format], {
      env: { SWITCHBOARD_AUTH_TOKEN: secrets.token },
    });
    const tries = [
      `AUTH dave ${secrets.wrongPassword}`,
      `AUTH ${secrets.password} dave`, // a password typed in the user field
      `AUTH ${secrets.wrongToken}`,
      `AUTH dave ${secrets.password} extra`,
    ];
    for (const line of tries) {
      await using c = await rawClient(proc.port);
      await c.line(line);
      assert.match(await c.next(), /^ERR (401|400) /, line);
    }
    await using ok = await rawClient(proc.port, { login: ["dave", secrets.password] });
    await using ok2 = await rawClient(proc.port, { login: [secrets.token] });
    await ok.line("SAY lobby :x");
    assert.equal(await ok.next(), "OK 1 1");
    assert.equal(await ok2.next(), "MSG lobby dave id 1 x");
    await using longLine = await rawClient(proc.port);
    await longLine.line(`AUTH dave ${secrets.password}${"y".repeat(5000)}`);
    await longLine.closed();
    await waitFor(
      () => (proc.log().match(/auth failed/g) ?? []).length >= 3,
      5000,
      "the failure log lines",
    );
    const log = proc.log();
    assert.match(
      log,
      format === "text" ? /auth failed .*user=dave/ : /"event":"auth failed".*"user":"dave"/,
    );
    assert.match(log, /127\.0\.0\.1:\d+/, "failures are logged with the peer address");
    for (const [name, secret] of Object.entries(secrets)) {
      assert.ok(!log.includes(secret), `${name} leaked into the ${format} log`);
    }
  }
});

Deno.test({
  name: "SIGHUP on a server without a users file is ignored with a log line (the server goes on)",
  ignore: Deno.build.os === "windows",
  async fn() {
    await using proc = await startServerProcess();
    proc.kill("SIGHUP");
    await waitFor(
      () => /SIGHUP ignored: no users file to reload/.test(proc.log()),
      10_000,
      "the log line",
    );
    await using c = await rawClient(proc.port);
    await c.line("PING");
    assert.equal(await c.next(), "PONG");
  },
});
