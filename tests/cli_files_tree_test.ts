/**
 * The file commands end to end through the real CLI and a real server: `--force` both ways,
 * `put`/`get` resumed after a cut at a random byte, and whole folders with `put -r`, `get -r`,
 * `rm -r` (1,000 small files and a few large ones, identical hashes, resumed after a cut).
 */

import assert from "node:assert/strict";
import { randomBytes, sha256, sha256OfFile } from "./helpers/bytes.ts";
import { addressArgs, runCli, spawnCli } from "./helpers/cli.ts";
import { temporaries } from "./helpers/fs.ts";
import { startProxy } from "./helpers/proxy.ts";
import { startTestServer } from "./helpers/servers.ts";
import { waitFor } from "./helpers/wait.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

/** The sha256 of every file under `root`, by relative path. */
async function hashes(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, rel: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory) await walk(`${dir}/${e.name}`, path);
      else if (e.isFile && !e.name.startsWith(".sb-upload-")) {
        out[path] = await sha256OfFile(`${dir}/${e.name}`);
      }
    }
  };
  await walk(root, "");
  return out;
}

Deno.test(
  "--force rules both ways: get never replaces a local file, put never a remote one, without it",
  opts,
  async () => {
    await using server = await startTestServer();
    const work = await Deno.makeTempDir({ prefix: "sb-force-" });
    try {
      await Deno.writeTextFile(`${work}/a.txt`, "mine");
      await Deno.writeTextFile(`${server.files}/a.txt`, "theirs");
      const put = await runCli(["put", `${work}/a.txt`, ...addressArgs(server.port)]);
      assert.equal(put.code, 1);
      assert.match(put.stderr, /Cannot upload .*a\.txt: a\.txt exists on the server\. Use --force/);
      assert.equal(await Deno.readTextFile(`${server.files}/a.txt`), "theirs");
      const get = await runCli(["get", "a.txt", `${work}/a.txt`, ...addressArgs(server.port)]);
      assert.equal(get.code, 1);
      assert.match(get.stderr, /Cannot download a\.txt: .*a\.txt exists already\. Use --force/);
      assert.equal(await Deno.readTextFile(`${work}/a.txt`), "mine");
      assert.equal(await Deno.stat(`${work}/a.txt.part`).catch(() => null), null);
      const forcedPut = await runCli([
        "put",
        `${work}/a.txt`,
        "--force",
        ...addressArgs(server.port),
      ]);
      assert.equal(forcedPut.code, 0, forcedPut.stderr);
      assert.equal(await Deno.readTextFile(`${server.files}/a.txt`), "mine");
      await Deno.writeTextFile(`${server.files}/a.txt`, "theirs again");
      const forcedGet = await runCli([
        "get",
        "a.txt",
        `${work}/a.txt`,
        "-f",
        ...addressArgs(server.port),
      ]);
      assert.equal(forcedGet.code, 0, forcedGet.stderr);
      assert.equal(await Deno.readTextFile(`${work}/a.txt`), "theirs again");
      // Folders: a different file on the other side stops the whole run before a byte moves.
      await Deno.mkdir(`${work}/d`);
      await Deno.writeTextFile(`${work}/d/x.txt`, "local x");
      await Deno.writeTextFile(`${work}/d/y.txt`, "local y");
      await Deno.mkdir(`${server.files}/d`);
      await Deno.writeTextFile(`${server.files}/d/x.txt`, "remote x");
      const putTree = await runCli(["put", "-r", `${work}/d`, "d", ...addressArgs(server.port)]);
      assert.equal(putTree.code, 1);
      assert.match(
        putTree.stderr,
        /1 file exists on the server with other content \(x\.txt\)\. Use --force/,
      );
      assert.equal(await Deno.stat(`${server.files}/d/y.txt`).catch(() => null), null);
      const getTree = await runCli(["get", "-r", "d", `${work}/d`, ...addressArgs(server.port)]);
      assert.equal(getTree.code, 1);
      assert.match(getTree.stderr, /1 file exists here with other content \(x\.txt\)/);
      assert.equal(await Deno.readTextFile(`${work}/d/x.txt`), "local x");
      const forcedTree = await runCli([
        "put",
        "-r",
        `${work}/d`,
        "d",
        "--force",
        ...addressArgs(server.port),
      ]);
      assert.equal(forcedTree.code, 0, forcedTree.stderr);
      assert.equal(await Deno.readTextFile(`${server.files}/d/x.txt`), "local x");
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
);

for (const how of ["client killed", "socket cut"] as const) {
  Deno.test(
    `put resumes after the ${how} at a random byte: byte-identical, only the rest sent`,
    opts,
    async () => {
      await using server = await startTestServer();
      const work = await Deno.makeTempDir({ prefix: "sb-put-resume-" });
      try {
        const data = randomBytes(6 * 1024 * 1024);
        await Deno.writeFile(`${work}/big.bin`, data);
        const stall = 512 * 1024 + Math.floor(Math.random() * (data.length - 1024 * 1024));
        await using proxy = startProxy(server.port, { upLimit: () => stall, atLimit: "stall" });
        await using cli = spawnCli(["put", `${work}/big.bin`, ...addressArgs(proxy.port)]);
        await waitFor(
          () => proxy.connections[0]?.up === stall,
          10_000,
          "the proxy to reach the stall",
        );
        if (how === "client killed") cli.kill("SIGKILL");
        proxy.connections[0]!.close();
        await cli.exit();
        await waitFor(async () => (await temporaries(server.files)).some((t) => t.includes(".k.")));
        const again = await runCli([
          "put",
          `${work}/big.bin`,
          "--json",
          ...addressArgs(server.port),
        ]);
        assert.equal(again.code, 0, again.stderr);
        const r = JSON.parse(again.stdout);
        assert.equal(r.sha256, sha256(data));
        assert.ok(
          r.resumed_from > 0 && r.resumed_from <= stall,
          `resumed at ${r.resumed_from} of ${stall}`,
        );
        assert.equal(await sha256OfFile(`${server.files}/big.bin`), sha256(data));
        assert.deepEqual(await temporaries(server.files), []);
      } finally {
        await Deno.remove(work, { recursive: true });
      }
    },
  );
}

Deno.test(
  "a folder of 1,000 small files and a few large ones round-trips through put -r / get -r, and resumes after a cut",
  opts,
  async () => {
    await using server = await startTestServer();
    const work = await Deno.makeTempDir({ prefix: "sb-tree-" });
    try {
      const src = `${work}/src`;
      for (let i = 0; i < 1000; i++) {
        const dir = `${src}/d${i % 10}/e${i % 3}`;
        await Deno.mkdir(dir, { recursive: true });
        await Deno.writeFile(`${dir}/f${i}.txt`, randomBytes(i % 50));
      }
      for (let i = 0; i < 3; i++) {
        await Deno.writeFile(
          `${src}/large${i}.bin`,
          randomBytes(3 * 1024 * 1024),
        );
      }
      // A symlink leading out of the tree is not followed; one inside is.
      await Deno.symlink("/etc", `${src}/outside`);
      await Deno.symlink("large0.bin", `${src}/inside.bin`);
      const want = await hashes(src);
      want["inside.bin"] = want["large0.bin"]!;
      // A first run cut during the large files.
      const stall = 2 * 1024 * 1024 + Math.floor(Math.random() * 4 * 1024 * 1024);
      await using proxy = startProxy(server.port, { upLimit: () => stall, atLimit: "stall" });
      await using cut = spawnCli(["put", "-r", src, "tree", ...addressArgs(proxy.port)]);
      await waitFor(
        () => (proxy.connections[0]?.up ?? 0) >= stall,
        60_000,
        "the first run to stall",
      );
      cut.kill("SIGKILL");
      proxy.connections[0]!.close();
      await cut.exit();
      const put = await runCli(["put", "-r", src, "tree", "--json", ...addressArgs(server.port)]);
      assert.equal(put.code, 0, put.stderr);
      const r = JSON.parse(put.stdout);
      assert.equal(r.files, 1004);
      assert.ok(r.skipped > 0, `skipped ${r.skipped}`);
      assert.equal(r.resumed, 1, "the cut file resumed");
      assert.deepEqual(await hashes(`${server.files}/tree`), want);
      assert.equal(await Deno.stat(`${server.files}/tree/outside`).catch(() => null), null);
      // And back, cut too, then resumed.
      await using proxyDown = startProxy(server.port, {
        downLimit: () => 1024 * 1024 + Math.floor(Math.random() * 4 * 1024 * 1024),
        atLimit: "cut",
      });
      const first = await runCli([
        "get",
        "-r",
        "tree",
        `${work}/back`,
        ...addressArgs(proxyDown.port),
      ]);
      assert.equal(first.code, 1, "the first download was cut");
      const get = await runCli([
        "get",
        "-r",
        "tree",
        `${work}/back`,
        "--json",
        ...addressArgs(server.port),
      ]);
      assert.equal(get.code, 0, get.stderr);
      const g = JSON.parse(get.stdout);
      assert.equal(g.files, 1004);
      assert.deepEqual(await hashes(`${work}/back`), want);
      // rm -r: refused off a terminal without --yes, then everything goes.
      const no = await runCli(["rm", "-r", "tree", ...addressArgs(server.port)]);
      assert.equal(no.code, 2);
      assert.match(no.stderr, /without confirmation: add --yes/);
      const rm = await runCli(["rm", "-r", "tree", "--yes", "--json", ...addressArgs(server.port)]);
      assert.equal(rm.code, 0, rm.stderr);
      assert.equal(await Deno.stat(`${server.files}/tree`).catch(() => null), null);
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
);
