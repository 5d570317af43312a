import assert from "node:assert/strict";
import {
  Authenticator,
  hashPassword,
  LOGGED_IN_VERBS,
  parseUsers,
  PRE_AUTH_VERBS,
  secretProblem,
  secretsEqual,
  userNameProblem,
  verifyPassword,
} from "./auth.ts";

Deno.test("hashPassword() salts every hash, and verifyPassword() accepts only the right password", async () => {
  const a = await hashPassword("correct-horse", { ln: 10 });
  const b = await hashPassword("correct-horse", { ln: 10 });
  assert.notEqual(a, b);
  assert.match(a, /^\$scrypt\$ln=10,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
  assert.equal(await verifyPassword("correct-horse", a), true);
  assert.equal(await verifyPassword("correct-horse", b), true);
  assert.equal(await verifyPassword("correct-horsE", a), false);
  assert.equal(await verifyPassword("", a), false);
  assert.equal(await verifyPassword("correct-horse", "$scrypt$garbage"), false);
  assert.equal(await verifyPassword("correct-horse", a.replace("ln=10", "ln=11")), false);
});

Deno.test("the default hash cost is scrypt N=2^15, r=8, p=1", async () => {
  assert.match(await hashPassword("x-password"), /^\$scrypt\$ln=15,r=8,p=1\$/);
});

Deno.test("secretsEqual() compares secrets of any length", () => {
  assert.equal(secretsEqual("abc", "abc"), true);
  assert.equal(secretsEqual("abc", "abd"), false);
  assert.equal(secretsEqual("abc", "abcd"), false);
  assert.equal(secretsEqual("", "x"), false);
});

Deno.test("userNameProblem() allows nick-like names and refuses -<digits> endings", () => {
  for (const ok of ["alice", "Bob_2", "jean-luc", "a", "x".repeat(24)]) {
    assert.equal(userNameProblem(ok), null, ok);
  }
  for (const bad of ["", "a b", "x".repeat(25), "alice-2", "guest-7", "émile", "a.b"]) {
    assert.notEqual(userNameProblem(bad), null, bad);
  }
});

Deno.test("secretProblem() wants one word of at most 1024 bytes", () => {
  assert.equal(secretProblem("p@ss:w0rd!"), null);
  assert.match(secretProblem("two words")!, /one word/);
  assert.match(secretProblem("tab\there")!, /one word/);
  assert.match(secretProblem("")!, /empty/);
  assert.match(secretProblem("é".repeat(513))!, /longer than 1024 bytes/);
});

const HASH = "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5";

Deno.test("parseUsers() reads users by lower-cased name, with their permissions", () => {
  const users = parseUsers(JSON.stringify({
    users: [
      { name: "Alice", password: HASH, permissions: ["chat", "read", "write"] },
      { name: "bob", password: HASH, permissions: [] },
    ],
  }));
  assert.deepEqual([...users.keys()], ["alice", "bob"]);
  assert.equal(users.get("alice")!.name, "Alice");
  assert.deepEqual([...users.get("alice")!.permissions], ["chat", "read", "write"]);
  assert.equal(users.get("bob")!.permissions.size, 0);
});

Deno.test("parseUsers() refuses duplicates (ignoring case) and never quotes a hash in its errors", () => {
  const entry = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    password: HASH,
    permissions: ["chat"],
    ...extra,
  });
  assert.throws(
    () => parseUsers(JSON.stringify({ users: [entry("bob"), entry("BOB")] })),
    /users\[1\] \(BOB\): the name is there twice/,
  );
  for (
    const text of [
      JSON.stringify({ users: [entry("bob", { permissions: ["chat", "admin"] })] }),
      JSON.stringify({ users: [entry("bob", { extra: HASH })] }),
      JSON.stringify({ users: [entry("bob")], other: 1 }),
      `{"users": [{"name": "bob", "password": "${HASH}" "permissions": []}]}`,
    ]
  ) {
    assert.throws(
      () => parseUsers(text),
      (e: Error) => !e.message.includes("c2FsdHNhbHRzYWx0") && !e.message.includes("a2V5"),
      text,
    );
  }
});

Deno.test("a guest may only run AUTH, HELP, PING, PONG, QUIT; others get 401 saying how to log in", () => {
  const auth = new Authenticator({ token: "tok-tok-tok" });
  assert.deepEqual([...auth.guest.verbs!].sort(), ["AUTH", "HELP", "PING", "PONG", "QUIT"]);
  assert.equal(auth.guest.loggedIn, false);
  assert.equal(auth.guest.pushes, false);
  assert.deepEqual(auth.guest.deny("SAY"), [401, "Cannot run SAY: log in first with AUTH token"]);
  assert.deepEqual(auth.methods, ["token"]);
  assert.equal(auth.tokenAccess.verbs, null, "a token opens everything");
  assert.ok(
    PRE_AUTH_VERBS.has("QUIT") && LOGGED_IN_VERBS.has("TIME") && !PRE_AUTH_VERBS.has("TIME"),
  );
});

Deno.test("accessOf() maps permissions to verbs; NICK is never allowed with accounts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/u.json`,
      JSON.stringify({
        users: [
          { name: "all", password: HASH, permissions: ["chat", "read", "write"] },
          { name: "none", password: HASH, permissions: [] },
        ],
      }),
    );
    const auth = new Authenticator({ usersFile: `${dir}/u.json` });
    const all = auth.accessOf(auth.user("ALL")!);
    assert.deepEqual(
      [...all.verbs!].sort(),
      [
        "AUTH",
        "DEL",
        "GET",
        "HELP",
        "JOIN",
        "LEAVE",
        "LIST",
        "PING",
        "PONG",
        "PUT",
        "QUIT",
        "ROOMS",
        "SAY",
        "TELL",
        "TIME",
        "WHO",
      ],
    );
    assert.equal(all.pushes, true);
    assert.deepEqual(all.deny("NICK"), [
      403,
      "Cannot change nick: it is fixed to the user name all",
    ]);
    const none = auth.accessOf(auth.user("none")!);
    assert.deepEqual([...none.verbs!].sort(), ["AUTH", "HELP", "PING", "PONG", "QUIT", "TIME"]);
    assert.equal(none.pushes, false);
    assert.deepEqual(none.deny("GET"), [
      403,
      "Cannot run GET: user none lacks the read permission",
    ]);
    assert.deepEqual(none.deny("FROB"), [403, "Cannot run FROB: not allowed for user none"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("checkPassword() gives null for a wrong password and for an unknown user alike; reload() keeps users on error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/u.json`;
    const hash = await hashPassword("pa55word-x", { ln: 10 });
    await Deno.writeTextFile(
      path,
      JSON.stringify({ users: [{ name: "kim", password: hash, permissions: ["chat"] }] }),
    );
    const auth = new Authenticator({ usersFile: path });
    assert.equal((await auth.checkPassword("KIM", "pa55word-x"))?.name, "kim");
    assert.equal(await auth.checkPassword("kim", "wrong"), null);
    assert.equal(await auth.checkPassword("nobody", "pa55word-x"), null);
    await Deno.writeTextFile(path, "{broken");
    await assert.rejects(auth.reload(), /Cannot load users file .*u\.json: it is not valid JSON/);
    assert.equal(
      (await auth.checkPassword("kim", "pa55word-x"))?.name,
      "kim",
      "the old users stay",
    );
    await Deno.writeTextFile(path, JSON.stringify({ users: [] }));
    assert.equal(await auth.reload(), 0);
    assert.equal(await auth.checkPassword("kim", "pa55word-x"), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Authenticator needs a users file or a token", () => {
  assert.throws(
    () => new Authenticator({}),
    /Cannot enable authentication: no users file and no token/,
  );
});
