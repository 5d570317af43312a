/**
 * `switchboard-server hash-password --add FILE`, run as a real process with exactly the
 * permissions baked into the compiled server: it creates and edits the users file so that it
 * always loads, refuses a broken one with the position, and on a real terminal (a pty from
 * util-linux `script`) asks again after a short or mismatched password, echoing nothing.
 */

import assert from "node:assert/strict";
import { serverPermissions } from "../.ci/compile.ts";
import { verifyPassword } from "../server/auth/passwords.ts";
import { loadUsersSync } from "../server/auth/users.ts";
import { spawnProgram } from "./helpers/cli.ts";
import { ROOT } from "./helpers/servers.ts";

const SERVER_RUN = ["run", "--no-prompt", ...serverPermissions(), `${ROOT}main.ts`, "server"];

async function hashPassword(
  args: string[],
  stdin: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  await using p = spawnProgram(Deno.execPath(), [...SERVER_RUN, "hash-password", ...args]);
  await p.write(stdin);
  await p.closeStdin();
  const code = await p.exit(30_000);
  return { code, stdout: p.stdout, stderr: p.stderr };
}

Deno.test("hash-password --add creates the users file, adds and replaces users, and the file loads", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sb-hash-" });
  try {
    const file = `${dir}/secure/users.json`;
    const cost = ["--cost", "10"];
    let r = await hashPassword(
      ["--user", "alice", "--permissions", "chat,read,write", "--add", file, ...cost],
      "alice-pass-1\n",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^Added alice \(chat,read,write\) in .*users\.json; .*SIGHUP/);
    if (Deno.build.os !== "windows") assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    r = await hashPassword(["--user", "bob", "--add", file, ...cost], "bob-pass-12\n");
    assert.equal(r.code, 0, r.stderr);
    r = await hashPassword(["--user", "Alice", "--add", file, ...cost], "alice-pass-2\n");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^Replaced Alice \(chat,read\)/);

    const users = loadUsersSync(file);
    assert.deepEqual([...users.values()].map((u) => u.name), ["Alice", "bob"]);
    assert.deepEqual([...users.get("alice")!.permissions], ["chat", "read"]);
    assert.ok(await verifyPassword("alice-pass-2", users.get("alice")!.hash));
    assert.ok(await verifyPassword("bob-pass-12", users.get("bob")!.hash));
    const text = await Deno.readTextFile(file);
    assert.ok(!text.includes("pass-"), "no password in the file");
    assert.equal(text.split("\n").length, 7, text); // {, "users": [, two entries, ], }, "".
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hash-password --add refuses a broken users file with the position, leaving it as it was", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sb-hash-" });
  try {
    const file = `${dir}/users.json`;
    const broken =
      '{\n  "users": [\n    { "name": "a", "password": "x", "permissions": [] },\n  ]\n}\n';
    await Deno.writeTextFile(file, broken);
    const r = await hashPassword(["--user", "bob", "--add", file, "--cost", "10"], "bob-pass-12\n");
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /Cannot add bob to .*users\.json: it is not valid JSON \(line 4, column 3\): a comma before \]/,
    );
    assert.equal(await Deno.readTextFile(file), broken);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["users.json"]);
    const usage = await hashPassword(["--add", file], "");
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /give --user NAME with --add FILE/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Whether util-linux `script` can give a child a pseudo-terminal here. */
function hasScript(): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    return new Deno.Command("script", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const pty = hasScript();
if (!pty) console.log("hash_password_test: terminal test skipped: util-linux script is missing");

Deno.test({
  name:
    "hash-password on a terminal asks again after a short and a mismatched password, without echo",
  ignore: !pty,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "sb-hash-" });
    try {
      const file = `${dir}/users.json`;
      const quote = (a: string) => `'${a.replaceAll("'", `'\\''`)}'`;
      const command = [Deno.execPath(), ...SERVER_RUN, "hash-password", "--user", "dave"]
        .concat(["--cost", "10", "--add", file]).map(quote).join(" ");
      await using p = spawnProgram("script", ["-qfec", command, "/dev/null"]);
      let from = 0;
      const answer = async (prompt: RegExp, text: string) => {
        const m = await p.waitFor(prompt, { from, timeout: 20_000 });
        from += m.index + m[0].length;
        await p.write(`${text}\r`);
      };
      await answer(/Password: /, "short");
      await answer(/shorter than 8 characters; try again\s+Password: /, "dave-pass-1");
      await answer(/Again: /, "dave-pass-2");
      await answer(/the two entries differ; try again\s+Password: /, "dave-pass-3");
      await answer(/Again: /, "dave-pass-3");
      await p.waitFor(/Added dave/, { from, timeout: 20_000 });
      assert.equal(await p.exit(20_000), 0, p.stdout);
      assert.ok(!/dave-pass|: short/.test(p.stdout), `echoed: ${p.stdout}`);
      const users = loadUsersSync(file);
      assert.ok(await verifyPassword("dave-pass-3", users.get("dave")!.hash));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
