import assert from "node:assert/strict";
import { LOGGED_IN_VERBS, PRE_AUTH_VERBS } from "./access.ts";
import { Authenticator } from "./authenticator.ts";

const HASH = "$scrypt$ln=10,r=8,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5";

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
        "HISTORY",
        "JOIN",
        "LEAVE",
        "LIST",
        "PING",
        "PONG",
        "PUT",
        "QUIT",
        "RESUME",
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
