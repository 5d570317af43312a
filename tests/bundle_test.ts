/**
 * The program must not depend on its source tree (which is what breaks a compiled binary):
 * `deno bundle` of the entry point into a temporary folder, then the bundle, run with
 * `deno run --no-config` and exactly the permissions baked into the executables from ANOTHER
 * working directory, serves as `switchboard-server` and talks to itself as `switchboard`, and
 * two bundled servers on one real redis-server are one service.
 *
 * main.ts is the one entry point of both executables (`main.ts server`, `main.ts client`, the role
 * baked in as the first argument by .ci/compile.ts); the bundle is run the same way.
 */

import assert from "node:assert/strict";
import { clientPermissions, serverPermissions } from "../.ci/compile.ts";
import { VERSION } from "../lib/version.ts";
import { spawnDeno } from "./helpers/cli.ts";
import { rawClient } from "./helpers/raw_client.ts";
import { HAVE_REDIS, REDIS_SKIP, RedisProcess } from "./helpers/redis.ts";
import { ROOT, startServerProcess } from "./helpers/servers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

async function bundle(outDir: string): Promise<string> {
  const out = `${outDir}/switchboard.js`;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--platform", "deno", "--output", out, `${ROOT}main.ts`],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.ok(r.success, `deno bundle failed:\n${dec.decode(r.stderr)}${dec.decode(r.stdout)}`);
  return out;
}

Deno.test(
  "the bundled program serves and talks to itself from another working directory",
  opts,
  async () => {
    const outDir = await Deno.makeTempDir({ prefix: "sb-bundle-" });
    const elsewhere = await Deno.makeTempDir({ prefix: "sb-cwd-" });
    try {
      const js = await bundle(outDir);
      const text = await Deno.readTextFile(js);
      // Self-contained: the only imports left are Node built-ins, and deno.json's version is inlined.
      const imports = [
        ...text.matchAll(
          /(?:^|\n)\s*import\s[^;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g,
        ),
      ]
        .map((m) => m[1] ?? m[2]!);
      // One exception, named: node-redis's optional `digest()` helper (never called here) loads
      // `@node-rs/xxhash` lazily inside a try/catch; nothing else may be left outside.
      const optional = new Set(["@node-rs/xxhash"]);
      assert.deepEqual(
        imports.filter((s) => !s.startsWith("node:") && !optional.has(s)),
        [],
        "imports outside node: built-ins",
      );
      assert.equal(imports.filter((s) => optional.has(s)).length, 1, "the optional one, once");
      assert.ok(!text.includes(ROOT), "the bundle names the source folder");
      assert.ok(text.includes(JSON.stringify(VERSION)), "the version is inlined");

      const serverRun = ["run", "--no-config", "--no-prompt", ...serverPermissions(), js, "server"];
      const clientRun = ["run", "--no-config", "--no-prompt", ...clientPermissions(), js, "client"];

      // --version of both roles, as the executables print it.
      for (const run of [serverRun, clientRun]) {
        await using p = spawnDeno([...run, "--version"], { cwd: elsewhere });
        await p.closeStdin();
        assert.equal(await p.exit(), 0, p.stderr);
        assert.equal(p.stdout, `${VERSION}\n`);
      }

      await using server = await startServerProcess([], { script: serverRun, cwd: elsewhere });
      const at = ["--port", String(server.port)];

      // A listener and a sender, both bundled clients: the message goes through the bundled server.
      await using listener = spawnDeno([
        ...clientRun,
        "listen",
        "ops",
        "--json",
        "--count",
        "1",
        ...at,
      ], { cwd: elsewhere });
      await listener.waitFor(/Listening on ops/, { stream: "stderr" });
      await using sender = spawnDeno(
        [...clientRun, "send", "ops", "-", "--nick", "bundled", ...at],
        { cwd: elsewhere },
      );
      await sender.write("from the bundle\n");
      await sender.closeStdin();
      assert.equal(await sender.exit(), 0, sender.stderr);
      assert.equal(await listener.exit(), 0, listener.stderr);
      const objects = listener.stdout.trim().split("\n").map((l) => JSON.parse(l));
      // A one-shot send joins quietly (JOIN ops quiet): the listener sees the message, no JOINED.
      assert.deepEqual(objects.map((o) => o.type), ["msg"]);
      const m = objects.find((o) => o.type === "msg");
      assert.deepEqual([m.type, m.room, m.from, m.text], [
        "msg",
        "ops",
        "bundled",
        "from the bundle",
      ]);

      // time: the bundled server's clock, seen by the bundled client.
      await using time = spawnDeno([...clientRun, "time", "--json", "--samples", "3", ...at], {
        cwd: elsewhere,
      });
      await time.closeStdin();
      assert.equal(await time.exit(), 0, time.stderr);
      assert.ok(Math.abs(JSON.parse(time.stdout).offset_ms) < 1000);

      // With --redis the bundle loads node-redis: two bundled servers on one redis-server are one
      // service (a message said on one reaches a member on the other, counted in its OK).
      if (HAVE_REDIS) {
        await using redis = await RedisProcess.start();
        const onRedis = ["--redis", redis.url];
        await using a = await startServerProcess(onRedis, { script: serverRun, cwd: elsewhere });
        await using b = await startServerProcess(onRedis, { script: serverRun, cwd: elsewhere });
        await using alice = await rawClient(a.port, { nick: "alice" });
        await using bob = await rawClient(b.port, { nick: "bob" });
        await bob.line("JOIN ops");
        assert.equal(await bob.next(), "OK ops");
        await alice.line("JOIN ops");
        assert.equal(await alice.next(), "OK ops");
        await alice.line("SAY ops :through redis");
        assert.equal(await alice.next(), "OK 1 1");
        assert.equal(await bob.next(), "JOINED ops alice");
        assert.equal(await bob.next(), "MSG ops alice id 1 through redis");
      } else console.log(`the bundle on Redis${REDIS_SKIP}`);

      // The server wrote nothing into the working directory it was started from (it was told --files).
      assert.deepEqual([...Deno.readDirSync(elsewhere)], []);
    } finally {
      await Deno.remove(outDir, { recursive: true }).catch(() => {});
      await Deno.remove(elsewhere, { recursive: true }).catch(() => {});
    }
  },
);
