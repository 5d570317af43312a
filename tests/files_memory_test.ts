/**
 * Memory stays flat whatever the file size: a 2 GiB download and a 2 GiB upload through a server
 * running as its own process must not grow its resident memory by 64 MiB.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { encodeText, mib } from "./helpers/bytes.ts";
import { writeAll } from "./helpers/raw_client.ts";
import { peakRss, startServerProcess } from "./helpers/servers.ts";
import { sleep } from "./helpers/wait.ts";

const SIZE = 2 * 1024 ** 3;
const CHUNK = 1024 * 1024;
const LIMIT = 64 * 1024 * 1024;

/** Reads from `conn` until `predicate(text so far)` holds; returns the text (small replies only). */
async function readLine(conn: Deno.Conn, deadline: number): Promise<string> {
  const buf = new Uint8Array(4096);
  let text = "";
  while (!text.endsWith("\r\n")) {
    if (Date.now() > deadline) throw new Error(`No reply in time: ${JSON.stringify(text)}`);
    const n = await conn.read(buf.subarray(0, 1));
    if (n === null) throw new Error(`Connection closed: ${JSON.stringify(text)}`);
    text += String.fromCharCode(buf[0]!);
  }
  return text.slice(0, -2);
}

Deno.test({
  name: "a 2 GiB download and a 2 GiB upload grow the server's memory by less than 64 MiB",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const files = await Deno.makeTempDir({ prefix: "sb-memory-" });
    try {
      // A sparse file: 2 GiB of zeros that take no disk space.
      {
        using f = await Deno.open(`${files}/big.bin`, { create: true, write: true });
        await f.truncate(SIZE);
      }
      await using server = await startServerProcess(["--files", files]);
      // Typically 25-40 s on 2 cores; the deadline only stops a hung transfer.
      const deadline = Date.now() + 120_000;
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      try {
        assert.match(await readLine(conn, deadline), /^HELLO /);
        await writeAll(conn, encodeText("PING\r\n"));
        assert.equal(await readLine(conn, deadline), "PONG");
        const base = await server.rss();

        // Download: read and count every byte.
        const zero = new Uint8Array(CHUNK);
        const zeroHash = createHash("sha256");
        for (let i = 0; i < SIZE / CHUNK; i++) zeroHash.update(zero);
        const expectedGet = zeroHash.digest("hex");
        let t = performance.now();
        const peakGet = await peakRss(server.rss, async () => {
          await writeAll(conn, encodeText("GET big.bin\r\n"));
          const head = await readLine(conn, deadline);
          assert.equal(head, `FILE big.bin ${SIZE} ${expectedGet} ${SIZE}`);
          const buf = new Uint8Array(CHUNK);
          let left = SIZE + 2;
          let last = 0;
          while (left > 0) {
            if (Date.now() > deadline) throw new Error(`Download too slow: ${left} bytes left`);
            const n = await conn.read(left < buf.length ? buf.subarray(0, left) : buf);
            if (n === null) throw new Error(`Connection closed with ${left} bytes left`);
            left -= n;
            last = buf[n - 1]!;
          }
          assert.equal(last, 10, "the payload ends with CRLF");
        });

        const getSeconds = (performance.now() - t) / 1000;
        // Upload: 2 GiB generated on the fly, hashed here to check the server's answer.
        const piece = new Uint8Array(CHUNK);
        for (let i = 0; i < CHUNK; i += 65536) crypto.getRandomValues(piece.subarray(i, i + 65536));
        const upHash = createHash("sha256");
        t = performance.now();
        const peakPut = await peakRss(server.rss, async () => {
          await writeAll(conn, encodeText(`PUT up.bin ${SIZE}\r\n`));
          for (let sent = 0; sent < SIZE; sent += CHUNK) {
            if (Date.now() > deadline) throw new Error(`Upload too slow: ${sent} bytes sent`);
            upHash.update(piece);
            await writeAll(conn, piece);
          }
          await writeAll(conn, encodeText("\r\n"));
          assert.equal(await readLine(conn, deadline), `OK ${upHash.digest("hex")}`);
        });
        const putSeconds = (performance.now() - t) / 1000;
        assert.equal((await Deno.stat(`${files}/up.bin`)).size, SIZE);

        console.log(
          `server RSS: base ${mib(base)}, peak during GET ${mib(peakGet)} (${
            getSeconds.toFixed(1)
          } s), ` +
            `during PUT ${mib(peakPut)} (${putSeconds.toFixed(1)} s)`,
        );
        assert.ok(peakGet - base < LIMIT, `GET grew RSS by ${mib(peakGet - base)}`);
        assert.ok(peakPut - base < LIMIT, `PUT grew RSS by ${mib(peakPut - base)}`);
      } finally {
        conn.close();
      }
    } finally {
      await Deno.remove(files, { recursive: true });
    }
  },
});

Deno.test({
  name: "100 downloads that do not read hold a bounded amount of the server's memory",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    const files = await Deno.makeTempDir({ prefix: "sb-memory-" });
    const conns: Deno.Conn[] = [];
    try {
      {
        using f = await Deno.open(`${files}/big.bin`, { create: true, write: true });
        await f.truncate(256 * 1024 * 1024);
      }
      await using server = await startServerProcess(["--files", files]);
      const deadline = Date.now() + 30_000;
      // Hash it once first, so that every download below starts at once.
      const first = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      conns.push(first);
      assert.match(await readLine(first, deadline), /^HELLO /);
      await writeAll(first, encodeText("GET big.bin\r\n"));
      assert.match(await readLine(first, deadline), /^FILE big.bin /);
      const base = await server.rss();
      for (let i = 0; i < 100; i++) {
        const c = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
        conns.push(c);
        assert.match(await readLine(c, deadline), /^HELLO /);
        await writeAll(c, encodeText("GET big.bin\r\n"));
        assert.match(await readLine(c, deadline), /^FILE big.bin /);
      }
      // Let every download fill what it may.
      await sleep(1000);
      const grown = (await server.rss()) - base;
      console.log(`server RSS grew by ${mib(grown)} with 101 stalled downloads`);
      // Without the shared budget each holds a 4 MiB window: over 400 MiB (measured 405 MiB). With
      // the 64 MiB budget pieces shrink as downloads pile up (measured 170 MiB).
      assert.ok(grown < 260 * 1024 * 1024, `RSS grew by ${mib(grown)}`);
    } finally {
      for (const c of conns) c.close();
      await Deno.remove(files, { recursive: true });
    }
  },
});
