import assert from "node:assert/strict";
import { Authenticator } from "./authenticator.ts";
import { hashPassword } from "./passwords.ts";

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
