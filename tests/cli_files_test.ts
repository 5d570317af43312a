/**
 * The file commands of the CLI as subprocesses against a real server: `put`, `ls`, `get`, `rm`,
 * their JSON results, refusals, and resuming a download after a cut at a random byte, a killed
 * CLI, and Ctrl-C.
 */

import assert from "node:assert/strict";
import { randomBytes, sha256 } from "./helpers/bytes.ts";
import { addressArgs, runCli, spawnCli } from "./helpers/cli.ts";
import { sizeOf } from "./helpers/fs.ts";
import { startProxy } from "./helpers/proxy.ts";
import { startTestServer } from "./helpers/servers.ts";
import { sleep, waitFor } from "./helpers/wait.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "put, ls, get and rm through the CLI round-trip a file and its sha256",
  opts,
  async () => {
    await using server = await startTestServer();
    const work = await Deno.makeTempDir({ prefix: "sb-cli-files-" });
    try {
      const data = randomBytes(1024 * 1024 + 17);
      await Deno.writeFile(`${work}/report v1.bin`, data);

      const put = await runCli([
        "put",
        `${work}/report v1.bin`,
        "docs/2024/",
        "--json",
        ...addressArgs(server.port),
      ]);
      assert.equal(put.code, 0, put.stderr);
      assert.deepEqual(JSON.parse(put.stdout), {
        path: "docs/2024/report v1.bin",
        local: `${work}/report v1.bin`,
        size: data.length,
        sha256: sha256(data),
        resumed_from: 0,
      });
      // Not a terminal: no progress bar, nothing on stderr.
      assert.equal(put.stderr, "");
      assert.deepEqual(await Deno.readFile(`${server.files}/docs/2024/report v1.bin`), data);

      const ls = await runCli(["ls", "docs/2024", "--json", ...addressArgs(server.port)]);
      assert.equal(ls.code, 0, ls.stderr);
      const [entry] = JSON.parse(ls.stdout);
      assert.deepEqual([entry.name, entry.type, entry.size], [
        "report v1.bin",
        "file",
        data.length,
      ]);
      const lsText = await runCli(["ls", ...addressArgs(server.port)]);
      assert.match(
        lsText.stdout,
        /^SIZE\s+MODIFIED\s+NAME\n\s*-\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+docs\/\n$/,
      );

      const get = await runCli([
        "get",
        "docs/2024/report v1.bin",
        `${work}/copy.bin`,
        ...addressArgs(server.port),
      ]);
      assert.equal(get.code, 0, get.stderr);
      assert.match(
        get.stdout,
        new RegExp(
          `^Downloaded docs/2024/report v1\\.bin to .*copy\\.bin \\(1\\.0 MiB; sha256 ${
            sha256(data)
          } verified\\)\\n$`,
        ),
      );
      assert.equal(get.stderr, "");
      assert.deepEqual(await Deno.readFile(`${work}/copy.bin`), data);
      assert.equal(await sizeOf(`${work}/copy.bin.part`), null);

      // Into a folder, with the remote name; in the working directory by default. The source
      // file is there with that name already: --force replaces it (without it get refuses).
      const intoDir = await runCli([
        "get",
        "docs/2024/report v1.bin",
        work,
        "--json",
        "--force",
        ...addressArgs(server.port),
      ]);
      assert.equal(intoDir.code, 0, intoDir.stderr);
      assert.equal(JSON.parse(intoDir.stdout).local, `${work}/report v1.bin`);
      const here = await runCli([
        "get",
        "docs/2024/report v1.bin",
        "--json",
        "--force",
        ...addressArgs(server.port),
      ], {
        cwd: work,
      });
      assert.equal(JSON.parse(here.stdout).local, "report v1.bin");

      const rmFolder = await runCli(["rm", "docs/2024", ...addressArgs(server.port)]);
      assert.equal(rmFolder.code, 1);
      assert.match(rmFolder.stderr, /not empty \(409\)/);
      const rm = await runCli(["rm", "docs/2024/report v1.bin", ...addressArgs(server.port)]);
      assert.equal(rm.code, 0, rm.stderr);
      assert.equal(rm.stdout, "Deleted docs/2024/report v1.bin\n");
      const rmJson = await runCli(["rm", "docs/2024", "--json", ...addressArgs(server.port)]);
      assert.deepEqual(JSON.parse(rmJson.stdout), { path: "docs/2024", deleted: true });
      const empty = await runCli(["ls", "docs", "--json", ...addressArgs(server.port)]);
      assert.deepEqual(JSON.parse(empty.stdout), []);
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
);

Deno.test("file command mistakes and refusals exit 1 or 2 and say what to do", opts, async () => {
  await using server = await startTestServer();
  await using readOnly = await startTestServer({ readOnly: true });
  const work = await Deno.makeTempDir({ prefix: "sb-cli-files-" });
  try {
    await Deno.writeTextFile(`${work}/a.txt`, "a");
    const cases: [string[], number, RegExp][] = [
      [
        ["get", "missing.txt", `${work}/x`, ...addressArgs(server.port)],
        1,
        /no such file .*\(404\)\. See switchboard ls/,
      ],
      [
        ["get", "../etc/passwd", `${work}/x`, ...addressArgs(server.port)],
        1,
        /\(400\)\. Paths are relative/,
      ],
      [["ls", "nowhere", ...addressArgs(server.port)], 1, /\(404\)\. See switchboard ls/],
      [["rm", "missing.txt", ...addressArgs(server.port)], 1, /\(404\)/],
      [
        ["put", `${work}/nope.txt`, ...addressArgs(server.port)],
        2,
        /Cannot upload .*nope\.txt: no such file/,
      ],
      [["put", work, ...addressArgs(server.port)], 2, /Cannot upload .*: it is not a file/],
      [["get", ...addressArgs(server.port)], 2, /Cannot download: no path given/],
      [
        ["put", `${work}/a.txt`, ...addressArgs(readOnly.port)],
        1,
        // The server's reason, said once (no generic hint repeating it).
        /^switchboard: Cannot upload "a\.txt": the server is read-only \(403\)\n$/,
      ],
    ];
    for (const [args, code, re] of cases) {
      const r = await runCli(args);
      assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, re, args.join(" "));
    }
    // Nothing half-downloaded was left behind by the refusals.
    assert.deepEqual([...Deno.readDirSync(work)].map((e) => e.name), ["a.txt"]);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});

/** A 4 MiB random file on the server, and a folder to download into. */
async function bigFile(
  files: string,
): Promise<{ data: Uint8Array; work: string } & AsyncDisposable> {
  const data = randomBytes(4 * 1024 * 1024);
  await Deno.writeFile(`${files}/big.bin`, data);
  const work = await Deno.makeTempDir({ prefix: "sb-cli-resume-" });
  return {
    data,
    work,
    async [Symbol.asyncDispose]() {
      await Deno.remove(work, { recursive: true }).catch(() => {});
    },
  };
}

/** Runs `get big.bin` straight to the server and checks it resumed from the `.part` and verified. */
async function resumeAndCheck(
  port: number,
  work: string,
  data: Uint8Array,
  minPart = 1,
): Promise<void> {
  const part = await sizeOf(`${work}/big.bin.part`);
  assert.ok(part !== null && part >= minPart && part < data.length, `.part holds ${part} bytes`);
  const again = await runCli(["get", "big.bin", `${work}/big.bin`, "--json", ...addressArgs(port)]);
  assert.equal(again.code, 0, again.stderr);
  const r = JSON.parse(again.stdout);
  assert.equal(r.resumed_from, part);
  assert.equal(r.size, data.length);
  assert.equal(r.sha256, sha256(data));
  assert.equal(sha256(await Deno.readFile(`${work}/big.bin`)), sha256(data));
  assert.equal(await sizeOf(`${work}/big.bin.part`), null);
}

Deno.test(
  "get resumes from the .part after the connection is cut at a random byte",
  opts,
  async () => {
    await using server = await startTestServer();
    await using f = await bigFile(server.files);
    const cut = 64 * 1024 + Math.floor(Math.random() * (f.data.length - 128 * 1024));
    await using proxy = startProxy(server.port, {
      downLimit: (i) => i === 0 ? cut : undefined,
      atLimit: "cut",
    });
    const first = await runCli(["get", "big.bin", `${f.work}/big.bin`, ...addressArgs(proxy.port)]);
    assert.equal(first.code, 1, `cut at ${cut}: ${first.stdout}${first.stderr}`);
    assert.match(
      first.stderr,
      /Cannot download big\.bin: the connection was lost after \d+ of 4194304 bytes; run again to resume/,
    );
    assert.equal(proxy.connections[0]!.down, cut);
    assert.ok((await sizeOf(`${f.work}/big.bin.part`))! <= cut);
    await resumeAndCheck(server.port, f.work, f.data);
  },
);

Deno.test("get resumes after the CLI is killed mid-download, and after Ctrl-C", opts, async () => {
  await using server = await startTestServer();
  await using f = await bigFile(server.files);
  for (const signal of ["SIGKILL", "SIGINT"] as const) {
    const stall = 64 * 1024 + Math.floor(Math.random() * (f.data.length - 128 * 1024));
    await using proxy = startProxy(server.port, { downLimit: () => stall, atLimit: "stall" });
    await using cli = spawnCli(["get", "big.bin", `${f.work}/big.bin`, ...addressArgs(proxy.port)]);
    // The proxy passed `stall` bytes and holds the rest; wait until the CLI wrote what it got.
    await waitFor(
      () => proxy.connections[0]?.down === stall,
      10_000,
      "the proxy to reach the stall",
    );
    let last = -1;
    await waitFor(
      async () => {
        const now = await sizeOf(`${f.work}/big.bin.part`);
        // Downloads write behind in pieces of up to 1 MiB: a stall before the first piece is
        // complete leaves an empty .part, which is a valid place to resume from too.
        const steady = now !== null && now === last;
        last = now ?? -1;
        if (!steady) await sleep(100);
        return steady;
      },
      10_000,
      "the .part file to stop growing",
    );
    cli.kill(signal);
    const code = await cli.exit();
    if (signal === "SIGINT") {
      assert.equal(code, 130, cli.stderr);
      assert.match(
        cli.stderr,
        /Cannot download big\.bin: interrupted; \d+ bytes kept in .*big\.bin\.part for a resume\. Run the same command again to resume/,
      );
      // The count said is the size of the .part on disk.
      const kept = Number(/interrupted; (\d+) bytes kept/.exec(cli.stderr)![1]);
      assert.equal(kept, await sizeOf(`${f.work}/big.bin.part`), cli.stderr);
    } else {
      assert.notEqual(code, 0);
    }
    // Ctrl-C writes out what arrived so far; SIGKILL loses what was still in the 1 MiB
    // write-behind buffer. Either way the .part is a prefix to resume from (possibly empty).
    await resumeAndCheck(server.port, f.work, f.data, 0);
    await Deno.remove(`${f.work}/big.bin`);
  }
});

Deno.test("get --no-resume throws away a .part and starts over", opts, async () => {
  await using server = await startTestServer();
  await using f = await bigFile(server.files);
  // A .part with wrong bytes: resuming would fail the sha256 check, --no-resume must not use it.
  await Deno.writeFile(`${f.work}/big.bin.part`, new Uint8Array(1000).fill(7));
  const r = await runCli([
    "get",
    "big.bin",
    `${f.work}/big.bin`,
    "--no-resume",
    "--json",
    ...addressArgs(server.port),
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).resumed_from, 0);
  assert.equal(sha256(await Deno.readFile(`${f.work}/big.bin`)), sha256(f.data));
  // And resuming from such a .part is caught by the sha256 check, keeping nothing corrupt.
  await Deno.writeFile(`${f.work}/big.bin.part`, new Uint8Array(1000).fill(7));
  await Deno.remove(`${f.work}/big.bin`);
  const bad = await runCli(["get", "big.bin", `${f.work}/big.bin`, ...addressArgs(server.port)]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /sha256 mismatch/);
  assert.equal(await sizeOf(`${f.work}/big.bin`), null);
  assert.equal(await sizeOf(`${f.work}/big.bin.part`), null);
});

Deno.test(
  "Ctrl-C before a resumed download gets its first byte says the .part's size as kept",
  opts,
  async () => {
    await using server = await startTestServer();
    await using f = await bigFile(server.files);
    await Deno.writeFile(`${f.work}/big.bin.part`, f.data.subarray(0, 1000));
    // The GET never reaches the server: nothing of this run arrives, the 1000 bytes stay.
    await using proxy = startProxy(server.port, { upLimit: () => 1, atLimit: "stall" });
    await using cli = spawnCli(["get", "big.bin", `${f.work}/big.bin`, ...addressArgs(proxy.port)]);
    await waitFor(() => proxy.connections[0]?.up === 1, 10_000, "the GET to be held");
    cli.kill("SIGINT");
    assert.equal(await cli.exit(), 130, cli.stderr);
    assert.match(cli.stderr, /interrupted; 1000 bytes kept in .*big\.bin\.part for a resume/);
    assert.equal(await sizeOf(`${f.work}/big.bin.part`), 1000);
  },
);

Deno.test(
  "Ctrl-C during put --no-resume stops the upload and the server keeps nothing",
  opts,
  async () => {
    await using server = await startTestServer();
    const work = await Deno.makeTempDir({ prefix: "sb-cli-put-" });
    try {
      const data = randomBytes(4 * 1024 * 1024);
      await Deno.writeFile(`${work}/big.bin`, data);
      const stall = 64 * 1024 + Math.floor(Math.random() * (data.length - 128 * 1024));
      await using proxy = startProxy(server.port, { upLimit: () => stall, atLimit: "stall" });
      await using cli = spawnCli([
        "put",
        `${work}/big.bin`,
        "--no-resume",
        ...addressArgs(proxy.port),
      ]);
      await waitFor(
        () => proxy.connections[0]?.up === stall,
        10_000,
        "the proxy to reach the stall",
      );
      cli.kill("SIGINT");
      assert.equal(await cli.exit(), 130, cli.stderr);
      assert.match(cli.stderr, /Cannot upload .*big\.bin: interrupted; nothing was stored/);
      // The server drops the half upload once the connection is gone: nothing in LIST, nothing on disk.
      proxy.connections[0]!.close();
      await waitFor(
        () => [...Deno.readDirSync(server.files)].length === 0,
        10_000,
        "the temporary upload to go",
      );
      const ls = await runCli(["ls", "--json", ...addressArgs(server.port)]);
      assert.deepEqual(JSON.parse(ls.stdout), []);
      // And the same upload straight to the server works.
      const put = await runCli(["put", `${work}/big.bin`, "--json", ...addressArgs(server.port)]);
      assert.equal(put.code, 0, put.stderr);
      assert.equal(JSON.parse(put.stdout).sha256, sha256(data));
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
);
