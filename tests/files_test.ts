/**
 * Shared files over real sockets: LIST, GET, PUT, DEL through the raw protocol, the client
 * library and its transfer functions.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { connect } from "../client/client.ts";
import { downloadFile, TransferError, uploadFile } from "../client/transfer.ts";
import { ServerError } from "../lib/protocol/errors.ts";
import { TEMP_PREFIX } from "../server/files/store.ts";
import {
  concat,
  decodeText,
  encodeText,
  randomBytes,
  sha256,
  sha256OfFile,
} from "./helpers/bytes.ts";
import { tempDir, tree } from "./helpers/fs.ts";
import { type RawClient, rawClient, writeAll } from "./helpers/raw_client.ts";
import { startTestServer } from "./helpers/servers.ts";
import { waitFor } from "./helpers/wait.ts";

/** Reads a whole `FILE` reply from a raw client: its head and its bytes. */
async function readFile(
  raw: RawClient,
): Promise<{ args: string[]; size: number; bytes: Uint8Array }> {
  const start = await raw.event(20_000);
  if (start?.type !== "stream") {
    throw new Error(
      `Expected FILE, got ${
        start?.type === "frame" ? [start.verb, ...start.args].join(" ") : start?.type
      }`,
    );
  }
  const parts: Uint8Array[] = [];
  for (;;) {
    const ev = await raw.event(20_000);
    if (ev?.type === "data") parts.push(ev.bytes);
    else if (ev?.type === "end") break;
    else throw new Error(`Unexpected ${ev?.type} inside FILE`);
  }
  return { args: start.args, size: start.size, bytes: concat(parts) };
}

/**
 * A TCP proxy that forwards everything from client to server, but from server to client only up
 * to `cutAfter` bytes of the payload of the first `FILE` reply; then it closes both sides (a
 * network drop at an exact byte).
 */
function cutProxy(
  target: number,
  cutAfter: number,
): AsyncDisposable & { port: number; done: Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const client = await listener.accept();
    const server = await Deno.connect({ hostname: "127.0.0.1", port: target });
    const close = () => {
      for (const c of [client, server]) {
        try {
          c.close();
        } catch {
          // Closed.
        }
      }
    };
    const up = (async () => {
      const buf = new Uint8Array(65536);
      try {
        for (let n = await client.read(buf); n !== null; n = await client.read(buf)) {
          await writeAll(server, buf.subarray(0, n));
        }
      } catch {
        // Closed by the cut.
      }
    })();
    const down = (async () => {
      const buf = new Uint8Array(65536);
      // Until the FILE line has passed, the limit is unknown: read byte-exact afterwards.
      let head = "";
      let left = Infinity;
      try {
        while (left > 0) {
          const n = await server.read(
            buf.subarray(0, Math.min(buf.length, left === Infinity ? 1 : left)),
          );
          if (n === null) break;
          await writeAll(client, buf.subarray(0, n));
          if (left === Infinity) {
            head += String.fromCharCode(buf[0]!);
            if (/(^|\n)FILE [^\n]*\n$/.test(head)) left = cutAfter;
          } else left -= n;
        }
      } catch {
        // Closed.
      }
      close();
    })();
    await Promise.all([up, down]);
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    done,
    async [Symbol.asyncDispose]() {
      listener.close();
      await done.catch(() => {});
    },
  };
}

for (const size of [0, 1]) {
  Deno.test(`a ${size}-byte file round-trips through uploadFile and downloadFile`, async () => {
    await using server = await startTestServer();
    await using local = await tempDir("sb-local-");
    await using client = await connect({ port: server.port });
    const bytes = randomBytes(size);
    await Deno.writeFile(`${local.path}/src`, bytes);
    const up = await uploadFile(client, `${local.path}/src`, `tiny/${size}.bin`);
    assert.deepEqual(up, { path: `tiny/${size}.bin`, size, sha256: sha256(bytes), resumedFrom: 0 });
    assert.deepEqual(await Deno.readFile(`${server.files}/tiny/${size}.bin`), bytes);
    const down = await downloadFile(client, `tiny/${size}.bin`, `${local.path}/dst`);
    assert.deepEqual(down, {
      path: `${local.path}/dst`,
      size,
      sha256: sha256(bytes),
      resumedFrom: 0,
    });
    assert.deepEqual(await Deno.readFile(`${local.path}/dst`), bytes);
    assert.deepEqual(await tree(local.path), ["dst", "src"]);
  });
}

Deno.test("a 0-byte file is sent as FILE path 0 sha256 0 and an empty payload", async () => {
  await using server = await startTestServer();
  await Deno.writeFile(`${server.files}/empty`, new Uint8Array(0));
  await using raw = await rawClient(server.port);
  await raw.line("GET empty");
  const f = await readFile(raw);
  assert.deepEqual(f.args, ["empty", "0", sha256(new Uint8Array(0))]);
  assert.equal(f.size, 0);
  await raw.line("PING");
  assert.equal(await raw.next(), "PONG");
});

Deno.test("a 100 MiB random file round-trips with matching sha256 on both sides", async () => {
  await using server = await startTestServer();
  await using local = await tempDir("sb-local-");
  await using client = await connect({ port: server.port });
  const bytes = randomBytes(100 * 1024 * 1024);
  const expected = sha256(bytes);
  await Deno.writeFile(`${local.path}/big`, bytes);
  let progressCalls = 0;
  const up = await uploadFile(client, `${local.path}/big`, "big/file.bin", {
    onProgress: () => progressCalls++,
  });
  assert.equal(up.sha256, expected);
  assert.ok(progressCalls > 10);
  assert.equal(await sha256OfFile(`${server.files}/big/file.bin`), expected);
  let last = { done: 0, total: 0 };
  const down = await downloadFile(client, "big/file.bin", `${local.path}/copy`, {
    onProgress: (p) => last = p,
  });
  assert.equal(down.sha256, expected);
  assert.deepEqual(last, { done: bytes.length, total: bytes.length });
  assert.equal(await sha256OfFile(`${local.path}/copy`), expected);
  assert.deepEqual(await tree(server.files), ["big", "big/file.bin"]);
});

Deno.test("GET with an offset sends the rest, with the whole file's size and sha256", async () => {
  await using server = await startTestServer();
  const bytes = randomBytes(300_000);
  await Deno.writeFile(`${server.files}/f.bin`, bytes);
  await using raw = await rawClient(server.port);
  await raw.line("GET f.bin 123457");
  const f = await readFile(raw);
  assert.deepEqual(f.args, ["f.bin", "300000", sha256(bytes)]);
  assert.equal(f.size, 300_000 - 123_457);
  assert.deepEqual(f.bytes, bytes.subarray(123_457));
  // An offset at the very end is an empty rest, not an error.
  await raw.line("GET f.bin 300000");
  const end = await readFile(raw);
  assert.equal(end.size, 0);
  await raw.line("GET f.bin 300001");
  assert.match(await raw.next(), /^ERR 400 Cannot get "f.bin": offset 300001 is past the end/);
  await raw.line("GET f.bin -1");
  assert.match(await raw.next(), /^ERR 400 /);
  await raw.line("GET f.bin 1e3");
  assert.match(await raw.next(), /^ERR 400 /);
  await raw.line("GET f.bin 1 2");
  assert.equal(await raw.next(), "ERR 400 Usage: GET path [offset]");
});

Deno.test("Client.get() at an offset hands the sink the head and exactly the rest", async () => {
  await using server = await startTestServer();
  const bytes = randomBytes(2_000_000);
  await Deno.writeFile(`${server.files}/f.bin`, bytes);
  await using client = await connect({ port: server.port });
  const got: Uint8Array[] = [];
  const head = await client.get("f.bin", {
    offset: 1_500_000,
    sink: () => ({ data: (b) => void got.push(b.slice()), end() {}, abort() {} }),
  });
  assert.deepEqual(head, {
    path: "f.bin",
    size: 2_000_000,
    sha256: sha256(bytes),
    offset: 1_500_000,
    length: 500_000,
  });
  const joined = new Uint8Array(500_000);
  let at = 0;
  for (const g of got) {
    joined.set(g, at);
    at += g.length;
  }
  assert.deepEqual(joined, bytes.subarray(1_500_000));
});

Deno.test("GET of a folder, a missing file, or a folder's name with a slash is refused", async () => {
  await using server = await startTestServer();
  await Deno.mkdir(`${server.files}/dir`);
  await using raw = await rawClient(server.port);
  await raw.line("GET dir");
  assert.equal(await raw.next(), 'ERR 400 Cannot get "dir": it is a folder');
  await raw.line("GET nope.txt");
  assert.equal(await raw.next(), 'ERR 404 Cannot get "nope.txt": no such file');
  await raw.line("GET");
  assert.equal(await raw.next(), "ERR 400 Usage: GET path [offset]");
});

Deno.test("downloadFile resumes after the connection is cut at a random byte, and verifies the whole", async () => {
  await using server = await startTestServer();
  await using local = await tempDir("sb-local-");
  const bytes = randomBytes(6 * 1024 * 1024 + 12345);
  await Deno.writeFile(`${server.files}/movie.bin`, bytes);
  const cutAt = 1 + Math.floor(Math.random() * (bytes.length - 2));
  {
    await using proxy = cutProxy(server.port, cutAt);
    const client = await connect({ port: proxy.port });
    const err = await downloadFile(client, "movie.bin", `${local.path}/movie.bin`).then(
      () => null,
      (e) => e,
    );
    client.close();
    assert.ok(err instanceof TransferError, String(err));
    assert.equal(err.reason, "connection");
    assert.match(err.message, /run again to resume/);
  }
  const partial = await Deno.readFile(`${local.path}/movie.bin.part`);
  assert.equal(
    partial.length,
    cutAt,
    `the .part holds exactly the bytes before the cut at ${cutAt}`,
  );
  assert.deepEqual(partial, bytes.subarray(0, cutAt));
  await assert.rejects(Deno.stat(`${local.path}/movie.bin`), Deno.errors.NotFound);

  await using client = await connect({ port: server.port });
  const progress: number[] = [];
  const r = await downloadFile(client, "movie.bin", `${local.path}/movie.bin`, {
    onProgress: (p) => progress.push(p.done),
  });
  assert.equal(r.resumedFrom, cutAt);
  assert.equal(progress[0], cutAt);
  assert.equal(r.sha256, sha256(bytes));
  assert.deepEqual(await Deno.readFile(`${local.path}/movie.bin`), bytes);
  assert.deepEqual(await tree(local.path), ["movie.bin"]);
});

Deno.test("downloadFile deletes a corrupt .part and says so, leaving nothing at the target", async () => {
  await using server = await startTestServer();
  await using local = await tempDir("sb-local-");
  const bytes = randomBytes(100_000);
  await Deno.writeFile(`${server.files}/f.bin`, bytes);
  const corrupt = bytes.slice(0, 40_000);
  corrupt[100] = corrupt[100]! ^ 0xff;
  await Deno.writeFile(`${local.path}/f.bin.part`, corrupt);
  await using client = await connect({ port: server.port });
  const err = await downloadFile(client, "f.bin", `${local.path}/f.bin`).then(() => null, (e) => e);
  assert.ok(err instanceof TransferError);
  assert.equal(err.reason, "mismatch");
  assert.match(err.message, /sha256 mismatch .* the partial file was deleted/);
  assert.deepEqual(await tree(local.path), []);
  // The next run starts over and succeeds.
  const r = await downloadFile(client, "f.bin", `${local.path}/f.bin`);
  assert.equal(r.resumedFrom, 0);
  assert.deepEqual(await Deno.readFile(`${local.path}/f.bin`), bytes);
});

Deno.test("downloadFile starts over when the .part is longer than the file on the server", async () => {
  await using server = await startTestServer();
  await using local = await tempDir("sb-local-");
  const bytes = randomBytes(1000);
  await Deno.writeFile(`${server.files}/f.bin`, bytes);
  await Deno.writeFile(`${local.path}/f.bin.part`, randomBytes(5000));
  await using client = await connect({ port: server.port });
  const r = await downloadFile(client, "f.bin", `${local.path}/f.bin`);
  assert.equal(r.resumedFrom, 0);
  assert.deepEqual(await Deno.readFile(`${local.path}/f.bin`), bytes);
  assert.deepEqual(await tree(local.path), ["f.bin"]);
});

Deno.test("downloadFile with resume: false ignores an existing .part", async () => {
  await using server = await startTestServer();
  await using local = await tempDir("sb-local-");
  const bytes = randomBytes(1000);
  await Deno.writeFile(`${server.files}/f.bin`, bytes);
  await Deno.writeFile(`${local.path}/f.bin.part`, randomBytes(500));
  await using client = await connect({ port: server.port });
  const r = await downloadFile(client, "f.bin", `${local.path}/f.bin`, { resume: false });
  assert.equal(r.resumedFrom, 0);
  assert.deepEqual(await Deno.readFile(`${local.path}/f.bin`), bytes);
});

Deno.test("downloadFile of a missing file rejects with the server's 404", async () => {
  await using server = await startTestServer();
  await using local = await tempDir("sb-local-");
  await using client = await connect({ port: server.port });
  const err = await downloadFile(client, "nope", `${local.path}/nope`).then(() => null, (e) => e);
  assert.ok(err instanceof ServerError);
  assert.equal(err.code, 404);
});

Deno.test("an aborted downloadFile keeps its .part for a resume", async () => {
  await using server = await startTestServer();
  await using local = await tempDir("sb-local-");
  const bytes = randomBytes(8 * 1024 * 1024);
  await Deno.writeFile(`${server.files}/f.bin`, bytes);
  const client = await connect({ port: server.port });
  const ac = new AbortController();
  const err = await downloadFile(client, "f.bin", `${local.path}/f.bin`, {
    signal: ac.signal,
    onProgress: (p) => p.done > 1024 * 1024 && ac.abort(),
  }).then(() => null, (e) => e);
  assert.ok(err instanceof TransferError);
  assert.equal(err.reason, "aborted");
  const kept = (await Deno.stat(`${local.path}/f.bin.part`)).size;
  assert.ok(kept > 0 && kept < bytes.length);
  await using again = await connect({ port: server.port });
  const r = await downloadFile(again, "f.bin", `${local.path}/f.bin`);
  assert.equal(r.resumedFrom, kept);
  assert.deepEqual(await Deno.readFile(`${local.path}/f.bin`), bytes);
});

Deno.test("PUT with a wrong sha256 answers 409 and leaves nothing (the old version stays)", async () => {
  await using server = await startTestServer();
  await Deno.writeTextFile(`${server.files}/f.txt`, "old");
  await using raw = await rawClient(server.port);
  const body = randomBytes(50_000);
  await raw.send(`PUT f.txt ${"ab".repeat(32)} ${body.length}\r\n`);
  await raw.send(body);
  await raw.send("\r\n");
  assert.match(await raw.next(), /^ERR 409 Cannot upload "f.txt": sha256 mismatch \(announced a?b/);
  await raw.send(`PUT new/g.txt ${"0".repeat(64)} 3\r\nabc\r\n`);
  assert.match(await raw.next(), /^ERR 409 /);
  assert.deepEqual(await tree(server.files), ["f.txt"]);
  assert.equal(await Deno.readTextFile(`${server.files}/f.txt`), "old");
  // The right sha256, in upper case, is accepted.
  await raw.send(`PUT f.txt ${sha256(body).toUpperCase()} ${body.length}\r\n`);
  await raw.send(body);
  await raw.send("\r\n");
  assert.equal(await raw.next(), `OK ${sha256(body)}`);
});

Deno.test("Client.put() with a known sha256 is checked by the server", async () => {
  await using server = await startTestServer();
  await using client = await connect({ port: server.port });
  const body = encodeText("hello");
  await assert.rejects(
    client.put("x.txt", body, { sha256: "1".repeat(64) }),
    (e) => e instanceof ServerError && e.code === 409,
  );
  assert.equal(await client.put("x.txt", body, { sha256: sha256(body) }), sha256(body));
  assert.deepEqual(await tree(server.files), ["x.txt"]);
});

Deno.test("an interrupted PUT (client gone mid-payload) leaves nothing, and the old version stays", async () => {
  await using server = await startTestServer();
  await Deno.writeTextFile(`${server.files}/f.bin`, "old");
  const raw = await rawClient(server.port);
  await raw.send(`PUT f.bin 10000000\r\n`);
  await raw.send(randomBytes(3_000_000));
  // Wait until the upload is under way on the server (its temporary file exists), then vanish.
  await waitFor(
    async () => (await tree(server.files)).some((n) => n.startsWith(TEMP_PREFIX)),
    5000,
    "temp file",
  );
  raw.close();
  await waitFor(
    async () => (await tree(server.files)).length === 1,
    5000,
    "the temporary file to go",
  );
  assert.deepEqual(await tree(server.files), ["f.bin"]);
  assert.equal(await Deno.readTextFile(`${server.files}/f.bin`), "old");
  // Folders created for an upload that never completes go too.
  const raw3 = await rawClient(server.port);
  await raw3.send(`PUT new/deeper/h.bin 1000\r\n`);
  await raw3.send(randomBytes(10));
  await waitFor(
    async () => (await tree(server.files)).some((n) => n.includes(TEMP_PREFIX)),
    5000,
    "temp file",
  );
  raw3.close();
  await waitFor(async () => (await tree(server.files)).length === 1, 5000, "the folders to go");
  // The same with a payload whose end never comes: all N bytes but no line ending.
  const raw2 = await rawClient(server.port);
  await raw2.send(`PUT g.bin 5\r\nhello`);
  await waitFor(
    async () => (await tree(server.files)).some((n) => n.startsWith(TEMP_PREFIX)),
    5000,
    "temp file",
  );
  raw2.close();
  await waitFor(
    async () => (await tree(server.files)).length === 1,
    5000,
    "the temporary file to go",
  );
});

Deno.test("uploadFile closes the connection instead of finishing when the file changed meanwhile", async () => {
  await using server = await startTestServer();
  await using local = await tempDir("sb-local-");
  await Deno.writeFile(`${local.path}/src`, randomBytes(4 * 1024 * 1024));
  const client = await connect({ port: server.port });
  let touched = false;
  const err = await uploadFile(client, `${local.path}/src`, "dst", {
    onProgress: (p) => {
      if (!touched && p.done > 0) {
        touched = true;
        const f = Deno.openSync(`${local.path}/src`, { append: true });
        f.writeSync(encodeText("more"));
        f.close();
      }
    },
  }).then(() => null, (e) => e);
  assert.ok(err instanceof TransferError, String(err));
  assert.equal(err.reason, "changed");
  assert.ok(client.closed);
  await waitFor(async () => (await tree(server.files)).length === 0, 5000, "nothing on the server");
});

Deno.test("--read-only: PUT and DEL answer 403, LIST and GET work, refused bytes are skipped", async () => {
  await using server = await startTestServer({ readOnly: true, maxPayload: 65536 });
  await Deno.writeTextFile(`${server.files}/f.txt`, "hi");
  await using raw = await rawClient(server.port);
  await raw.send("PUT g.txt 5\r\nhello\r\n");
  assert.equal(await raw.next(), 'ERR 403 Cannot upload "g.txt": the server is read-only');
  await raw.line("DEL f.txt");
  assert.equal(await raw.next(), 'ERR 403 Cannot delete "f.txt": the server is read-only');
  await raw.line("LIST");
  assert.match(await raw.next(), /^LIST \[\{"name":"f.txt","type":"file","size":2,/);
  await raw.line("GET f.txt");
  assert.deepEqual(decodeText((await readFile(raw)).bytes), "hi");
  assert.deepEqual(await tree(server.files), ["f.txt"]);
  // Past max_payload the refused bytes are not skipped: ERR, BYE, close.
  await raw.send("PUT big.bin 1000000\r\n");
  assert.equal(await raw.next(), 'ERR 403 Cannot upload "big.bin": the server is read-only');
  assert.equal(await raw.next(), "BYE refused upload");
  assert.ok(await raw.closed());
});

Deno.test("PUT past max_file_size is refused before any byte is written: skipped when small", async () => {
  await using server = await startTestServer({ maxFileSize: 1000, maxPayload: 65536 });
  await using raw = await rawClient(server.port);
  await raw.send(`PUT a/b.bin 2000\r\n`);
  assert.equal(
    await raw.next(),
    'ERR 413 Cannot upload "a/b.bin": 2000 bytes is over max_file_size (1000 bytes)',
  );
  await raw.send(randomBytes(2000));
  await raw.send("\r\nPING\r\n");
  assert.equal(await raw.next(), "PONG");
  assert.deepEqual(await tree(server.files), []);
  await raw.send(`PUT a/b.bin 1000\r\n`);
  await raw.send(randomBytes(1000));
  await raw.send("\r\n");
  assert.match(await raw.next(), /^OK [0-9a-f]{64}$/);
});

Deno.test("PUT past max_file_size and max_payload is refused, then the connection closes", async () => {
  await using server = await startTestServer({ maxFileSize: 1000, maxPayload: 65536 });
  await using raw = await rawClient(server.port);
  await raw.send(`PUT b.bin 100000\r\n`);
  assert.equal(
    await raw.next(),
    'ERR 413 Cannot upload "b.bin": 100000 bytes is over max_file_size (1000 bytes)',
  );
  assert.equal(await raw.next(), "BYE refused upload");
  assert.ok(await raw.closed());
  assert.deepEqual(await tree(server.files), []);
  // The client library reports the refusal, not just the closed socket.
  await using client = await connect({ port: server.port });
  const err = await client.put("c.bin", new Uint8Array(200_000)).then(() => null, (e) => e);
  assert.ok(err instanceof ServerError, String(err));
  assert.equal(err.code, 413);
});

Deno.test("a GET and a PUT of the same path at once: the reader gets the old file or the new one, whole", async () => {
  await using server = await startTestServer();
  const old = randomBytes(24 * 1024 * 1024);
  const next = randomBytes(24 * 1024 * 1024 + 7);
  await Deno.writeFile(`${server.files}/f.bin`, old);
  // A reader that has the head and a little of the old file, then stops reading for a while.
  const slow = await rawClient(server.port);
  await slow.line("GET f.bin");
  const start = await slow.event();
  assert.equal(start?.type, "stream");
  // Meanwhile, a whole new version goes in.
  await using writer = await connect({ port: server.port });
  assert.equal(await writer.put("f.bin", next), sha256(next));
  // A reader that starts now sees the new one...
  await using fresh = await rawClient(server.port);
  await fresh.line("GET f.bin");
  const f = await readFile(fresh);
  assert.equal(f.args[2], sha256(next));
  assert.equal(sha256(f.bytes), sha256(next));
  // ...and the slow reader still gets the old one, every byte, with the old sha256.
  if (start?.type !== "stream") return;
  assert.equal(start.args[2], sha256(old));
  const hash = createHash("sha256");
  let got = 0;
  for (;;) {
    const ev = await slow.event(20_000);
    if (ev?.type === "data") {
      hash.update(ev.bytes);
      got += ev.bytes.length;
    } else break;
  }
  slow.close();
  assert.equal(got, old.length);
  assert.equal(hash.digest("hex"), sha256(old));
  // A PUT in progress is invisible to GET: the old version is served until it completes.
  const raw = await rawClient(server.port);
  await raw.send(`PUT f.bin 1000\r\n`);
  await raw.send(randomBytes(500));
  await using reader = await rawClient(server.port);
  await reader.line("GET f.bin");
  assert.equal(sha256((await readFile(reader)).bytes), sha256(next));
  raw.close();
});

Deno.test("LIST of a folder with 10,000 files answers in pages that cover it in order and are correct", async () => {
  await using server = await startTestServer();
  const dir = `${server.files}/many`;
  await Deno.mkdir(dir);
  const expected = new Map<string, number>();
  for (let i = 0; i < 10_000; i++) {
    const name = `file-${String(i).padStart(5, "0")}${i % 7 === 0 ? " with space é" : ""}.txt`;
    const body = "x".repeat(i % 13);
    Deno.writeTextFileSync(`${dir}/${name}`, body);
    expected.set(name, body.length);
  }
  await Deno.mkdir(`${dir}/sub`);
  await Deno.writeTextFile(`${dir}/${TEMP_PREFIX}leftover`, "partial");
  await using raw = await rawClient(server.port);
  type Row = { name: string; type: string; size: number; mtime: number };
  // Without an offset: the first page (--list-page, 1000), in the reply form of old servers.
  await raw.line("LIST many");
  const first = await raw.frame(20_000);
  assert.equal(first.verb, "LIST");
  assert.deepEqual(first.args, []);
  assert.equal((JSON.parse(decodeText(first.payload!)) as Row[]).length, 1000);
  // With an offset: `LIST <total> <offset> <next> <N>`, page after page.
  const rows: Row[] = [];
  for (let offset = 0; offset < 10_001;) {
    await raw.line(`LIST many ${offset}`);
    const frame = await raw.frame(20_000);
    assert.equal(frame.verb, "LIST");
    const [total, at, next] = frame.args.map(Number);
    assert.deepEqual([total, at], [10_001, offset]);
    const page = JSON.parse(decodeText(frame.payload!)) as Row[];
    assert.equal(next, Math.min(offset + 1000, 10_001));
    rows.push(...page);
    offset = next!;
  }
  assert.equal(rows.length, 10_001);
  const files = rows.filter((r) => r.type === "file");
  assert.equal(files.length, 10_000);
  for (const r of files) assert.equal(r.size, expected.get(r.name), r.name);
  assert.deepEqual(rows.filter((r) => r.type === "dir").map((r) => [r.name, r.size]), [["sub", 0]]);
  assert.deepEqual(rows.map((r) => r.name), [...rows.map((r) => r.name)].sort());
  // The next command is answered right after: one frame, nothing else.
  await raw.line("PING");
  assert.equal(await raw.next(), "PONG");
  await using client = await connect({ port: server.port });
  assert.equal((await client.list("many")).length, 10_001);
});

Deno.test("LIST: the root, a subfolder, a file, a missing folder, percent-encoded names", async () => {
  await using server = await startTestServer();
  await Deno.mkdir(`${server.files}/my docs`);
  await Deno.writeTextFile(`${server.files}/my docs/100% é.txt`, "abc");
  await using client = await connect({ port: server.port });
  assert.deepEqual((await client.list()).map((e) => [e.name, e.type, e.size]), [[
    "my docs",
    "dir",
    0,
  ]]);
  assert.deepEqual((await client.list("my docs")).map((e) => [e.name, e.type, e.size]), [[
    "100% é.txt",
    "file",
    3,
  ]]);
  await assert.rejects(
    client.list("my docs/100% é.txt"),
    (e) => e instanceof ServerError && e.code === 400,
  );
  await assert.rejects(client.list("nope"), (e) => e instanceof ServerError && e.code === 404);
  await using raw = await rawClient(server.port);
  await raw.line("LIST my%20docs");
  assert.match(await raw.next(), /^LIST \[\{"name":"100% é.txt"/);
  await raw.line("LIST a b");
  assert.equal(await raw.next(), 'ERR 400 Cannot list: offset "b" is not a whole number');
  await raw.line("GET my%20docs/100%25%20%C3%A9.txt");
  const f = await readFile(raw);
  assert.equal(f.args[0], "my%20docs/100%25%20%C3%A9.txt");
  assert.equal(decodeText(f.bytes), "abc");
});

Deno.test("DEL removes a file or an empty folder; 409 for a full folder, 404 when missing", async () => {
  await using server = await startTestServer();
  await Deno.mkdir(`${server.files}/full/empty`, { recursive: true });
  await Deno.writeTextFile(`${server.files}/full/a b.txt`, "x");
  await using raw = await rawClient(server.port);
  await raw.line("DEL full");
  assert.equal(await raw.next(), 'ERR 409 Cannot delete "full": the folder is not empty');
  await raw.line("DEL full/a%20b.txt");
  assert.equal(await raw.next(), "OK full/a%20b.txt");
  await raw.line("DEL full/a%20b.txt");
  assert.equal(await raw.next(), 'ERR 404 Cannot delete "full/a%20b.txt": no such file or folder');
  await using client = await connect({ port: server.port });
  assert.equal(await client.del("full/empty"), "full/empty");
  assert.equal(await client.del("full"), "full");
  assert.deepEqual(await tree(server.files), []);
  await raw.line("DEL");
  assert.equal(await raw.next(), "ERR 400 Usage: DEL path");
});

Deno.test("PUT onto a folder's name, or under a file, answers 409 and leaves nothing", async () => {
  await using server = await startTestServer();
  await Deno.mkdir(`${server.files}/dir`);
  await Deno.writeTextFile(`${server.files}/file`, "x");
  await using raw = await rawClient(server.port);
  await raw.send("PUT dir 1\r\nx\r\n");
  assert.equal(await raw.next(), 'ERR 409 Cannot upload "dir": a folder has that name');
  await raw.send("PUT file/x 1\r\nx\r\n");
  assert.match(await raw.next(), /^ERR 409 Cannot upload "file\/x": /);
  await raw.send("PUT a b c 1\r\nx\r\n");
  assert.equal(await raw.next(), "ERR 400 Usage: PUT path N, or PUT path sha256 N");
  // Without a byte count PUT is not an upload at all.
  await raw.send("PUT x\r\n");
  assert.equal(await raw.next(), "ERR 400 Usage: PUT path N, or PUT path sha256 N");
  await raw.send("PUT x nothex 1\r\nx\r\n");
  assert.equal(await raw.next(), "ERR 400 Cannot upload: the sha256 must be 64 hex digits");
  assert.deepEqual(await tree(server.files), ["dir", "file"]);
});

Deno.test("temporary uploads left by a crash are swept at start-up; other files stay", async () => {
  const files = await Deno.makeTempDir({ prefix: "sb-sweep-" });
  try {
    await Deno.mkdir(`${files}/a/b`, { recursive: true });
    await Deno.writeTextFile(`${files}/${TEMP_PREFIX}0123`, "partial");
    await Deno.writeTextFile(`${files}/a/b/${TEMP_PREFIX}4567`, "partial");
    await Deno.writeTextFile(`${files}/a/keep.txt`, "keep");
    await Deno.writeTextFile(`${files}/.hidden`, "keep");
    // Left by an earlier run: older than this server.
    const past = new Date(Date.now() - 3600_000);
    for (const t of [`${TEMP_PREFIX}0123`, `a/b/${TEMP_PREFIX}4567`]) {
      await Deno.utime(`${files}/${t}`, past, past);
    }
    await using _server = await startTestServer({ files });
    await waitFor(
      async () => !(await tree(files)).some((n) => n.includes(TEMP_PREFIX)),
      5000,
      "the sweep",
    );
    assert.deepEqual(await tree(files), [".hidden", "a", "a/b", "a/keep.txt"]);
  } finally {
    await Deno.remove(files, { recursive: true });
  }
});

Deno.test("the shared folder is created at start-up when missing", async () => {
  const base = await Deno.makeTempDir({ prefix: "sb-create-" });
  try {
    await using server = await startTestServer({ files: `${base}/not/yet` });
    assert.ok((await Deno.stat(`${base}/not/yet`)).isDirectory);
    await using client = await connect({ port: server.port });
    assert.deepEqual(await client.list(), []);
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

async function makeUnwritable(dir: string): Promise<(() => Promise<void>) | null> {
  if (Deno.uid() !== 0) {
    await Deno.chmod(dir, 0o555);
    return () => Deno.chmod(dir, 0o755);
  }
  // root ignores permission bits: the immutable attribute stops it.
  const set = await new Deno.Command("chattr", { args: ["+i", dir], stderr: "null" }).output()
    .catch(() => null);
  if (!set?.success) return null;
  return async () => void await new Deno.Command("chattr", { args: ["-i", dir] }).output();
}

Deno.test({
  name:
    "an unwritable shared folder answers ERR 500 naming the problem, and the server keeps serving",
  ignore: Deno.build.os === "windows",
  fn: async () => {
    await using server = await startTestServer();
    await Deno.writeTextFile(`${server.files}/f.txt`, "hi");
    const restore = await makeUnwritable(server.files);
    if (restore === null) {
      console.warn("skipped: cannot make a folder unwritable here (root without chattr)");
      return;
    }
    try {
      await using raw = await rawClient(server.port);
      await raw.send("PUT g.txt 5\r\nhello\r\n");
      assert.equal(
        await raw.next(),
        'ERR 500 Cannot upload "g.txt": the shared folder is not writable: permission denied on the server',
      );
      await raw.line("DEL f.txt");
      assert.equal(
        await raw.next(),
        'ERR 500 Cannot delete "f.txt": permission denied on the server',
      );
      await raw.send("PUT sub/g.txt 5\r\nhello\r\n");
      assert.match(
        await raw.next(),
        /^ERR 500 Cannot upload "sub\/g.txt": cannot create its folder: permission denied/,
      );
      await raw.line("GET f.txt");
      assert.equal(decodeText((await readFile(raw)).bytes), "hi");
      await raw.line("PING");
      assert.equal(await raw.next(), "PONG");
    } finally {
      await restore();
    }
    assert.deepEqual(await tree(server.files), ["f.txt"]);
  },
});

Deno.test("chat on other connections keeps flowing while a large download and upload run", async () => {
  await using server = await startTestServer();
  await Deno.writeFile(`${server.files}/big.bin`, randomBytes(64 * 1024 * 1024));
  // A downloader that reads nothing: its GET fills its socket and waits.
  const stuck = await rawClient(server.port);
  await stuck.line("GET big.bin");
  // An uploader that sends half of its payload and then pauses.
  const uploader = await rawClient(server.port);
  await uploader.send("PUT up.bin 10000000\r\n");
  await uploader.send(randomBytes(5_000_000));
  await using alice = await connect({ port: server.port, nick: "alice" });
  await using bob = await connect({ port: server.port, nick: "bob" });
  const inbox = bob.messages();
  for (let i = 0; i < 20; i++) {
    await alice.say("lobby", `message ${i}`);
    const m = await inbox.next();
    assert.equal(m.value?.type === "msg" && m.value.text, `message ${i}`);
  }
  // And a downloader that does read gets its whole file meanwhile.
  await using reader = await connect({ port: server.port });
  const hash = createHash("sha256");
  const head = await reader.get("big.bin", {
    sink: () => ({ data: (b) => void hash.update(b), end() {}, abort() {} }),
  });
  assert.equal(hash.digest("hex"), head.sha256);
  stuck.close();
  uploader.close();
});

Deno.test("a client's other commands wait while its upload payload is written, then get their replies", async () => {
  await using server = await startTestServer();
  await using client = await connect({ port: server.port, nick: "carol" });
  const body = randomBytes(8 * 1024 * 1024);
  const [stored, pong, listing, other] = await Promise.all([
    client.put("a.bin", body),
    client.ping(),
    client.list(),
    client.put("b.bin", encodeText("second")),
  ]);
  assert.equal(stored, sha256(body));
  assert.ok(pong >= 0);
  assert.ok(Array.isArray(listing));
  assert.equal(other, sha256(encodeText("second")));
  assert.deepEqual(await Deno.readFile(`${server.files}/a.bin`), body);
  assert.equal(await Deno.readTextFile(`${server.files}/b.bin`), "second");
});

Deno.test("uploadFile with hashFirst sends the sha256 on the PUT line and stores the file", async () => {
  await using server = await startTestServer();
  await using local = await tempDir("sb-local-");
  const bytes = randomBytes(3 * 1024 * 1024 + 5);
  await Deno.writeFile(`${local.path}/src`, bytes);
  await using client = await connect({ port: server.port });
  const r = await uploadFile(client, `${local.path}/src`, "x/y.bin", { hashFirst: true });
  assert.equal(r.sha256, sha256(bytes));
  assert.deepEqual(await Deno.readFile(`${server.files}/x/y.bin`), bytes);
  const wrong = await uploadFile(client, `${local.path}/src`, "x/z.bin", { sha256: "f".repeat(64) })
    .then(
      () => null,
      (e) => e,
    );
  assert.ok(wrong instanceof ServerError && wrong.code === 409);
  assert.deepEqual(await tree(server.files), ["x", "x/y.bin"]);
});

Deno.test("GET announces the sha256 of the current content after a file is rewritten in place", async () => {
  await using server = await startTestServer();
  const bytes = randomBytes(1000);
  await Deno.writeFile(`${server.files}/f.bin`, bytes);
  await using raw = await rawClient(server.port);
  await raw.line("GET f.bin");
  assert.equal((await readFile(raw)).args[2], sha256(bytes));
  // Rewritten in place by someone else with a new mtime: the new content's hash is served.
  const changed = randomBytes(1000);
  await Deno.writeFile(`${server.files}/f.bin`, changed);
  await Deno.utime(`${server.files}/f.bin`, new Date(), new Date(Date.now() + 5000));
  await raw.line("GET f.bin");
  const f = await readFile(raw);
  assert.equal(f.args[2], sha256(changed));
  assert.equal(sha256(f.bytes), sha256(changed));
});

Deno.test("a shared folder removed while the server runs answers ERR 500 until it is back", async () => {
  await using server = await startTestServer();
  await Deno.remove(server.files, { recursive: true });
  try {
    await using raw = await rawClient(server.port);
    await raw.line("LIST");
    assert.equal(await raw.next(), "ERR 500 Cannot list: the shared folder is missing");
    await raw.line("GET a/b.txt");
    assert.equal(await raw.next(), 'ERR 500 Cannot get "a/b.txt": the shared folder is missing');
    await raw.send("PUT a.txt 1\r\nx\r\n");
    assert.equal(await raw.next(), 'ERR 500 Cannot upload "a.txt": the shared folder is missing');
    await raw.line("PING");
    assert.equal(await raw.next(), "PONG");
    await Deno.mkdir(server.files);
    await raw.send("PUT a.txt 1\r\nx\r\n");
    assert.match(await raw.next(), /^OK /);
  } finally {
    await Deno.mkdir(server.files, { recursive: true });
  }
});
