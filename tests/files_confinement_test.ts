/**
 * Confinement over the wire: every path a client sends goes through the one confinement function;
 * lexical faults are 400, real paths outside the shared folder 403, for every file command.
 */

import assert from "node:assert/strict";
import { connect } from "../client/client.ts";
import { ServerError } from "../lib/protocol/errors.ts";
import { TEMP_PREFIX } from "../server/files/store.ts";
import { decodeText, encodeText } from "./helpers/bytes.ts";
import { tree } from "./helpers/fs.ts";
import { rawClient } from "./helpers/raw_client.ts";
import { startTestServer } from "./helpers/servers.ts";

/**
 * A shared folder with symlinks of every kind, beside an outside folder with a secret:
 * - `out-file` → outside/secret.txt, `out-dir` → outside/ (symlinked folder leading out)
 * - `in-dir` → real/ (symlinked folder staying in), `in-file` → real/inner.txt
 * - `loop-a` ↔ `loop-b`, `dangling` → nowhere, `up` → `..` (relative, leading out)
 */
async function fixture() {
  const base = await Deno.makeTempDir({ prefix: "sb-confine-" });
  const outside = `${base}/outside`;
  const files = `${base}/share`;
  await Deno.mkdir(outside);
  await Deno.writeTextFile(`${outside}/secret.txt`, "secret");
  await Deno.mkdir(`${files}/real`, { recursive: true });
  await Deno.writeTextFile(`${files}/real/inner.txt`, "inner");
  await Deno.writeTextFile(`${files}/plain.txt`, "plain");
  await Deno.symlink(`${outside}/secret.txt`, `${files}/out-file`);
  await Deno.symlink(outside, `${files}/out-dir`);
  await Deno.symlink(`${files}/real`, `${files}/in-dir`);
  await Deno.symlink("real/inner.txt", `${files}/in-file`);
  await Deno.symlink("loop-b", `${files}/loop-a`);
  await Deno.symlink("loop-a", `${files}/loop-b`);
  await Deno.symlink("nowhere", `${files}/dangling`);
  await Deno.symlink("..", `${files}/up`);
  const server = await startTestServer({ files, maxPayload: 65536 });
  const raw = await rawClient(server.port);
  return {
    base,
    files,
    outside,
    server,
    raw,
    /** Sends one command; returns the reply's control line without its byte count, then its payload. */
    async ask(line: string): Promise<string> {
      await raw.line(line);
      const ev = await raw.event();
      if (ev?.type === "stream") {
        // Drain a FILE reply.
        for (let e = await raw.event(); e?.type === "data"; e = await raw.event());
        return `FILE ${ev.args.join(" ")}`;
      }
      if (ev?.type !== "frame") throw new Error(`Unexpected ${ev?.type}`);
      const head = [ev.verb, ...ev.args].join(" ");
      return ev.payload === null ? head : `${head} ${decodeText(ev.payload)}`;
    },
    async [Symbol.asyncDispose]() {
      raw.close();
      await server[Symbol.asyncDispose]();
      await Deno.remove(base, { recursive: true });
    },
  };
}

const LEXICAL: [string, string][] = [
  ["/etc/passwd", "absolute"],
  ["%2Fetc%2Fpasswd", "absolute"],
  ["../outside/secret.txt", '.." segment'],
  ["real/../../outside/secret.txt", '.." segment'],
  ["%2e%2e/outside/secret.txt", '.." segment'],
  ["real/%2E%2E/plain.txt", '.." segment'],
  ["./plain.txt", '." segment'],
  ["real/./inner.txt", '." segment'],
  ["real//inner.txt", "empty segment"],
  ["real/", "empty segment"],
  ["real\\inner.txt", "backslash"],
  ["real%5Cinner.txt", "backslash"],
  ["plain.txt%00.jpg", "NUL"],
  ["a".repeat(1025), "over 1024 bytes"],
  ["%41".repeat(1025), "over 1024 bytes"],
  ["bad%zzescape", "bad percent escape"],
  ["bad%2", "bad percent escape"],
  ["%ff%fe", "not UTF-8"],
];

Deno.test("every lexical path fault is ERR 400 for GET, PUT, DEL and LIST, and touches nothing", async () => {
  await using f = await fixture();
  const before = await tree(f.files);
  for (const [path, why] of LEXICAL) {
    for (const cmd of [`GET ${path}`, `DEL ${path}`, `LIST ${path}`]) {
      const reply = await f.ask(cmd);
      assert.match(reply, /^ERR 400 Cannot \w+/, cmd);
      assert.ok(reply.includes(why), `${cmd}: ${reply}`);
    }
    await f.raw.send(`PUT ${path} 5\r\nhello\r\n`);
    const reply = await f.raw.next();
    assert.match(reply, /^ERR 400 Cannot upload/, `PUT ${path}`);
    assert.ok(reply.includes(why), `PUT ${path}: ${reply}`);
  }
  assert.equal(await f.ask("PING"), "PONG");
  assert.deepEqual(await tree(f.files), before);
  assert.equal(await Deno.readTextFile(`${f.outside}/secret.txt`), "secret");
});

Deno.test("a path of exactly 1024 bytes is accepted", async () => {
  await using f = await fixture();
  // Five segments of 204 bytes and four slashes: 1024 bytes, each name within file system limits.
  const path = Array.from({ length: 5 }, (_, i) => String(i).repeat(204)).join("/");
  assert.equal(path.length, 1024);
  await f.raw.send(`PUT ${path} 2\r\nok\r\n`);
  assert.match(await f.raw.next(), /^OK [0-9a-f]{64}$/);
  assert.match(await f.ask(`GET ${path}`), /^FILE /);
});

Deno.test("a symlink to a file outside the root is 403 for GET, PUT and DEL, and missing from LIST", async () => {
  await using f = await fixture();
  assert.match(
    await f.ask("GET out-file"),
    /^ERR 403 Cannot get "out-file": it leads outside the shared folder/,
  );
  assert.match(await f.ask("DEL out-file"), /^ERR 403 /);
  await f.raw.send("PUT out-file 6\r\nhacked\r\n");
  assert.match(await f.raw.next(), /^ERR 403 /);
  assert.equal(await Deno.readTextFile(`${f.outside}/secret.txt`), "secret");
  await using client = await connect({ port: f.server.port });
  const names = (await client.list()).map((e) => e.name);
  assert.deepEqual(names, ["in-dir", "in-file", "plain.txt", "real"]);
});

Deno.test("a symlinked folder leading outside is 403 for every command under it, nothing is created there", async () => {
  await using f = await fixture();
  assert.match(await f.ask("GET out-dir/secret.txt"), /^ERR 403 /);
  assert.match(await f.ask("LIST out-dir"), /^ERR 403 /);
  assert.match(await f.ask("DEL out-dir/secret.txt"), /^ERR 403 /);
  assert.match(await f.ask("GET up/outside/secret.txt"), /^ERR 403 /);
  assert.match(await f.ask("LIST up"), /^ERR 403 /);
  for (
    const path of ["out-dir/new.txt", "out-dir/deep/new.txt", "up/escape.txt", "up/outside/x.txt"]
  ) {
    await f.raw.send(`PUT ${path} 5\r\nhello\r\n`);
    assert.match(
      await f.raw.next(),
      /^ERR 403 Cannot upload .*: it leads outside the shared folder/,
      path,
    );
  }
  assert.deepEqual(await tree(f.outside), ["secret.txt"]);
  assert.deepEqual(
    (await tree(f.base)).filter((n) => !n.startsWith("share") && !n.startsWith("outside")),
    [],
  );
  // DEL of the link itself is refused too: it is not part of the share.
  assert.match(await f.ask("DEL out-dir"), /^ERR 403 /);
});

Deno.test("a symlinked folder staying inside works for every command, and writes land in the real folder", async () => {
  await using f = await fixture();
  assert.match(await f.ask("GET in-dir/inner.txt"), /^FILE in-dir\/inner.txt 5 /);
  assert.match(await f.ask("GET in-file"), /^FILE in-file 5 /);
  assert.match(await f.ask("LIST in-dir"), /^LIST \[\{"name":"inner.txt"/);
  await f.raw.send("PUT in-dir/new.txt 3\r\nnew\r\n");
  assert.match(await f.raw.next(), /^OK /);
  assert.equal(await Deno.readTextFile(`${f.files}/real/new.txt`), "new");
  // Writing through a link to a file updates the file it points to; the link stays.
  await f.raw.send("PUT in-file 7\r\nupdated\r\n");
  assert.match(await f.raw.next(), /^OK /);
  assert.equal(await Deno.readTextFile(`${f.files}/real/inner.txt`), "updated");
  assert.ok((await Deno.lstat(`${f.files}/in-file`)).isSymlink);
  // DEL of a link removes the link, never what it points to.
  assert.equal(await f.ask("DEL in-dir"), "OK in-dir");
  assert.ok((await Deno.stat(`${f.files}/real/new.txt`)).isFile);
});

Deno.test("symlink loops are 403 and dangling symlinks are 404, both missing from LIST", async () => {
  await using f = await fixture();
  assert.match(await f.ask("GET loop-a"), /^ERR 403 Cannot get "loop-a": symlink loop/);
  assert.match(await f.ask("LIST loop-b"), /^ERR 403 /);
  assert.match(await f.ask("GET dangling"), /^ERR 404 /);
  assert.match(await f.ask("GET loop-a/x"), /^ERR 403 /);
  const listing = await f.ask("LIST");
  assert.match(listing, /"name":"plain.txt"/);
  for (const hidden of ["loop-a", "loop-b", "dangling", "out-file", "out-dir", "up"]) {
    assert.ok(!listing.includes(`"${hidden}"`), `${hidden} in ${listing}`);
  }
});

Deno.test("names reserved for uploads in progress are 403 for every command, and never listed", async () => {
  await using f = await fixture();
  await Deno.writeTextFile(`${f.files}/real/${TEMP_PREFIX}1234`, "partial");
  for (
    const cmd of [
      `GET real/${TEMP_PREFIX}1234`,
      `DEL real/${TEMP_PREFIX}1234`,
      `LIST ${TEMP_PREFIX}x`,
    ]
  ) {
    assert.match(await f.ask(cmd), /^ERR 403 .*reserved for uploads in progress/, cmd);
  }
  await f.raw.send(`PUT real/${TEMP_PREFIX}1234 3\r\nnew\r\n`);
  assert.match(await f.raw.next(), /^ERR 403 /);
  assert.equal(await Deno.readTextFile(`${f.files}/real/${TEMP_PREFIX}1234`), "partial");
  assert.ok(!(await f.ask("LIST real")).includes(TEMP_PREFIX));
});

Deno.test("the client library percent-encodes what it sends: names with spaces, % and non-ASCII stay names", async () => {
  await using f = await fixture();
  await using client = await connect({ port: f.server.port });
  const name = "dir with space/100%25 ü ✓.txt";
  assert.match(await client.put(name, encodeText("x")), /^[0-9a-f]{64}$/);
  assert.equal(await Deno.readTextFile(`${f.files}/${name}`), "x");
  assert.deepEqual((await client.list("dir with space")).map((e) => e.name), ["100%25 ü ✓.txt"]);
  // "../" spelled by a library user is still a path, and still refused.
  await assert.rejects(
    client.list("../outside"),
    (e) => e instanceof ServerError && e.code === 400,
  );
  await assert.rejects(client.del("out-file"), (e) => e instanceof ServerError && e.code === 403);
  assert.equal(await client.del(name), name);
});
