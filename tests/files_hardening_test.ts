/**
 * File hardening over real sockets: a FIFO or a Unix socket in the shared folder is refused before
 * anything opens it (and never holds a session), and `LIST` answers in bounded pages whatever the
 * folder's size, with the memory of the server and the PING latency of other clients bounded.
 */

import assert from "node:assert/strict";
import { connect } from "../client/client.ts";
import { decodeText, mib } from "./helpers/bytes.ts";
import { rawClient } from "./helpers/raw_client.ts";
import { captureLog, peakRss, startServerProcess, startTestServer } from "./helpers/servers.ts";
import { sleep, waitFor, within } from "./helpers/wait.ts";

const unix = Deno.build.os !== "windows";

async function mkfifo(path: string): Promise<void> {
  const out = await new Deno.Command("mkfifo", { args: [path] }).output();
  if (!out.success) throw new Error(`mkfifo ${path} failed`);
}

Deno.test({
  name: "GET of a FIFO or a socket file is ERR 400 at once and frees its session (max-clients 3)",
  ignore: !unix,
  fn: async () => {
    const { log, lines } = captureLog();
    await using server = await startTestServer({ maxClients: 3 }, { log });
    await mkfifo(`${server.files}/pipe`);
    using sock = Deno.listen({ transport: "unix", path: `${server.files}/sock` });
    await Deno.writeTextFile(`${server.files}/plain.txt`, "ok");
    for (let round = 0; round < 2; round++) {
      const clients = await Promise.all([0, 1, 2].map(() => rawClient(server.port)));
      for (const c of clients) {
        await c.line("GET pipe");
        assert.equal(
          await c.next(2000),
          'ERR 400 Cannot get "pipe": it is not a regular file',
        );
        await c.line("GET sock");
        assert.equal(await c.next(2000), 'ERR 400 Cannot get "sock": it is not a regular file');
        await c.line("PING");
        assert.equal(await c.next(), "PONG");
      }
      await clients[0]!.line("WHO");
      assert.equal((JSON.parse((await clients[0]!.next()).slice(4)) as unknown[]).length, 3);
      for (const c of clients) await c[Symbol.asyncDispose]();
      // Every session is freed: the next round gets HELLO, not ERR 503 server full.
      await waitFor(
        () => lines.filter((l) => / disconnect /.test(l)).length === 3 * (round + 1),
        5000,
        "a disconnect line for each client",
      );
    }
    // Special files are not listed.
    await using c = await connect({ port: server.port });
    assert.deepEqual((await c.list()).map((e) => e.name), ["plain.txt"]);
    sock.close();
  },
});

Deno.test("LIST pages: LIST <total> <offset> <next> <N>, . for the root, limits clamped, bad arguments", async () => {
  await using server = await startTestServer({ listPage: 2, maxListPage: 3 });
  for (const name of ["a", "b", "c", "d", "e"]) {
    await Deno.writeTextFile(`${server.files}/${name}`, name);
  }
  await using raw = await rawClient(server.port);
  const page = async (cmd: string) => {
    await raw.line(cmd);
    const f = await raw.frame();
    assert.equal(f.verb, "LIST", cmd);
    return [
      ...f.args,
      (JSON.parse(decodeText(f.payload!)) as { name: string }[]).map((e) => e.name),
    ];
  };
  // The old form: the first --list-page entries, the reply line of old servers.
  assert.deepEqual(await page("LIST"), [["a", "b"]]);
  assert.deepEqual(await page("LIST ."), [["a", "b"]]);
  assert.deepEqual(await page("LIST . 0"), ["5", "0", "2", ["a", "b"]]);
  assert.deepEqual(await page("LIST . 2"), ["5", "2", "4", ["c", "d"]]);
  assert.deepEqual(await page("LIST . 4"), ["5", "4", "5", ["e"]]);
  // A limit over --max-list-page is served as it.
  assert.deepEqual(await page("LIST . 1 100"), ["5", "1", "4", ["b", "c", "d"]]);
  assert.deepEqual(await page("LIST . 9"), ["5", "9", "9", []]);
  for (
    const [cmd, reply] of [
      ["LIST . x", 'ERR 400 Cannot list: offset "x" is not a whole number'],
      ["LIST . -1", 'ERR 400 Cannot list: offset "-1" is not a whole number'],
      ["LIST . 0 0", 'ERR 400 Cannot list: limit "0" is not a whole number of at least 1'],
      ["LIST . 0 1 2", "ERR 400 Usage: LIST [dir [offset [limit]]]"],
      ["LIST a 0", 'ERR 400 Cannot list "a": it is a file, not a folder'],
      ["LIST nope 0", 'ERR 404 Cannot list "nope": no such folder'],
    ]
  ) {
    await raw.line(cmd!);
    assert.equal(await raw.next(), reply, cmd);
  }
  // The client pages through.
  await using client = await connect({ port: server.port });
  assert.deepEqual((await client.list()).map((e) => e.name), ["a", "b", "c", "d", "e"]);
  assert.deepEqual(await client.listPage(undefined, { offset: 3 }), {
    entries: (await client.list()).slice(3, 5),
    total: 5,
    offset: 3,
    next: 5,
  });
});

Deno.test("a LIST page ends before its JSON passes a quarter of max_pending; next says where", async () => {
  await using server = await startTestServer({ maxPending: 64 * 1024, maxListPage: 1000 });
  await Deno.mkdir(`${server.files}/long`);
  const names = Array.from(
    { length: 300 },
    (_, i) => `${String(i).padStart(3, "0")}${"é".repeat(100)}`,
  );
  for (const n of names) await Deno.writeTextFile(`${server.files}/long/${n}`, "");
  await using raw = await rawClient(server.port);
  const got: string[] = [];
  for (let offset = 0, pages = 0; offset < 300; pages++) {
    assert.ok(pages < 30);
    await raw.line(`LIST long ${offset} 1000`);
    const f = await raw.frame();
    assert.ok(f.payload!.length <= 16 * 1024, `page of ${f.payload!.length} bytes`);
    const [total, at, next] = f.args.map(Number);
    assert.deepEqual([total, at], [300, offset]);
    const rows = JSON.parse(decodeText(f.payload!)) as { name: string }[];
    assert.equal(next, offset + rows.length);
    assert.ok(rows.length > 0 && rows.length < 300);
    got.push(...rows.map((r) => r.name));
    offset = next!;
  }
  assert.deepEqual(got, names);
  await using client = await connect({ port: server.port });
  assert.equal((await client.list("long")).length, 300);
});

/** A folder of `n` empty files, in the temp folder. */
async function bigFolder(n: number): Promise<string> {
  // Not under /dev/shm: Deno asks for all permissions for any path under /dev.
  const base = await Deno.makeTempDir({ prefix: "sb-big-" });
  await Deno.mkdir(`${base}/big`);
  const names = Array.from({ length: n }, (_, i) => `file-${String(i).padStart(6, "0")}.txt`);
  const out = await new Deno.Command("xargs", {
    args: ["touch"],
    cwd: `${base}/big`,
    stdin: "piped",
  })
    .spawn();
  const w = out.stdin.getWriter();
  await w.write(new TextEncoder().encode(names.join("\n")));
  await w.close();
  if (!(await out.status).success) throw new Error("touch failed");
  return base;
}

Deno.test({
  name:
    "LIST of 100,000 entries: 16 readers and 8 that never read grow the server by < 128 MiB, PING < 50 ms",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const files = await bigFolder(100_000);
    try {
      await using server = await startServerProcess(["--files", files]);
      await using pinger = await rawClient(server.port);
      await pinger.line("PING");
      assert.equal(await pinger.next(), "PONG");
      const base = await server.rss();
      let maxPing = 0;
      let pinging = true;
      const pings = (async () => {
        while (pinging) {
          const t = performance.now();
          await pinger.line("PING");
          assert.equal(await pinger.next(), "PONG");
          maxPing = Math.max(maxPing, performance.now() - t);
          await sleep(10);
        }
      })();
      const readers = await Promise.all(Array.from({ length: 16 }, () => rawClient(server.port)));
      const mute = await Promise.all(
        Array.from({ length: 8 }, () => Deno.connect({ hostname: "127.0.0.1", port: server.port })),
      );
      let bytes = 0;
      const peak = await peakRss(server.rss, async () => {
        for (const m of mute) await m.write(new TextEncoder().encode("LIST big\r\n".repeat(20)));
        await within(
          20_000,
          "16 first pages",
          Promise.all(readers.map(async (r) => {
            await r.line("LIST big 0");
            const f = await r.frame(20_000);
            assert.deepEqual(f.args, ["100000", "0", "1000"]);
            bytes = f.payload!.length;
          })),
        );
        await sleep(500);
      }, 50);
      pinging = false;
      await pings;
      console.log(
        `server RSS: base ${mib(base)}, peak ${mib(peak)}; a page ${bytes} bytes; ` +
          `PING at most ${maxPing.toFixed(1)} ms`,
      );
      assert.ok(peak - base < 128 * 1024 * 1024, `grew by ${mib(peak - base)}`);
      assert.ok(maxPing < 50, `PING took ${maxPing.toFixed(1)} ms`);
      for (const r of readers) await r[Symbol.asyncDispose]();
      for (const m of mute) m.close();
    } finally {
      await Deno.remove(files, { recursive: true });
    }
  },
});
