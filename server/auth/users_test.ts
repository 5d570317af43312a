import assert from "node:assert/strict";
import { loadUsers, loadUsersSync, parseUsers, userNameProblem } from "./users.ts";

Deno.test("userNameProblem() allows nick-like names and refuses -<digits> endings", () => {
  for (const ok of ["alice", "Bob_2", "jean-luc", "a", "x".repeat(24)]) {
    assert.equal(userNameProblem(ok), null, ok);
  }
  for (const bad of ["", "a b", "x".repeat(25), "alice-2", "guest-7", "émile", "a.b"]) {
    assert.notEqual(userNameProblem(bad), null, bad);
  }
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

Deno.test("loadUsersSync() and loadUsers() give the line and column of every JSON error, hashes unquoted", async () => {
  const entry = `{ "name": "alice", "password": "${HASH}", "permissions": ["chat"] }`;
  const dir = await Deno.makeTempDir({ prefix: "sb-users-" });
  try {
    const path = `${dir}/users.json`;
    const cases: [string, RegExp][] = [
      // A pasted entry with its trailing comma: JSON.parse gives no position for this one.
      [`{\n  "users": [\n    ${entry},\n  ]\n}\n`, /\(line 4, column 3\): a comma before \]/],
      [
        `{\n  "users": [\n    ${entry}\n    ${entry}\n  ]\n}\n`,
        /\(line 4, column 5\): a missing ,/,
      ],
      [`{"users": [${entry}`, /\(line 1, column \d+\): the text ends before the closing \]/],
    ];
    for (const [text, want] of cases) {
      await Deno.writeTextFile(path, text);
      for (const load of [() => loadUsersSync(path), () => loadUsers(path)]) {
        const e = await Promise.resolve().then(load).then(() => null, (e: Error) => e);
        assert.ok(e, text);
        assert.match(e.message, /^Cannot load users file .*users\.json: it is not valid JSON /);
        assert.match(e.message, want);
        assert.ok(!e.message.includes("c2FsdHNhbHRzYWx0") && !e.message.includes("a2V5"));
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
