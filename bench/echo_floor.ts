/**
 * The floor of any Deno TCP server, to tell the runtime's share of a Switchboard figure from
 * Switchboard's own. It greets like Switchboard (`HELLO`), then:
 * - answers each command line with one reply line: `TIME ...` for `TIME`, `PONG` for anything else
 *   (one read, one write, nothing else);
 * - `GET path`: sends `FILE path size sha256 size`, then the benchmark file's bytes from memory
 *   (no disk), then CRLF;
 * - `PUT path N`: reads the N bytes and hashes them with node:crypto (no disk), then `OK sha256`.
 *
 * Usage: `deno run --allow-net bench/echo_floor.ts PORT [SHA256 BYTES]` (the file's sha256 and size,
 * for `GET`).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { fileBlock } from "./files.ts";

const port = Number(Deno.args[0]);
const fileSha = Deno.args[1] ?? "";
const fileBytes = Number(Deno.args[2] ?? 0);
const enc = new TextEncoder();
const PONG = enc.encode("PONG\r\n");
const listener = Deno.listen({ hostname: "127.0.0.1", port });

async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) {
    off += await conn.write(off === 0 ? bytes : bytes.subarray(off));
  }
}

async function get(conn: Deno.TcpConn): Promise<void> {
  await writeAll(conn, enc.encode(`FILE big.bin ${fileBytes} ${fileSha} ${fileBytes}\r\n`));
  const block = fileBlock();
  for (let sent = 0; sent < fileBytes;) {
    const k = Math.min(block.length, fileBytes - sent);
    await writeAll(conn, k === block.length ? block : block.subarray(0, k));
    sent += k;
  }
  await writeAll(conn, enc.encode("\r\n"));
}

/** Hashes `size` bytes (+ CRLF) that start with `rest`, reading the remainder into `buf`. */
async function put(
  conn: Deno.TcpConn,
  size: number,
  rest: Uint8Array,
  buf: Uint8Array,
): Promise<void> {
  const hash = createHash("sha256");
  let left = size + 2;
  const take = (bytes: Uint8Array) => {
    const payload = Math.min(bytes.length, Math.max(0, left - 2));
    if (payload > 0) hash.update(bytes.subarray(0, payload));
    left -= bytes.length;
  };
  take(rest);
  while (left > 0) {
    const n = await conn.read(buf);
    if (n === null) return;
    take(buf.subarray(0, n));
  }
  await writeAll(conn, enc.encode(`OK ${hash.digest("hex")}\r\n`));
}

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const buf = new Uint8Array(1024 * 1024);
  try {
    await writeAll(conn, enc.encode('HELLO {"server":"echo-floor"}\r\n'));
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      let start = 0;
      for (let i = 0; i < n; i++) {
        if (buf[i] !== 10) continue;
        const first = buf[start];
        if (first === 84) { // TIME
          const now = Date.now();
          await writeAll(conn, enc.encode(`TIME ${new Date(now).toISOString()} ${now}\r\n`));
        } else if (first === 71) await get(conn); // GET
        else if (first === 80 && buf[start + 1] === 85) { // PUT path N
          const words = new TextDecoder().decode(buf.subarray(start, i)).trim().split(" ");
          await put(
            conn,
            Number(words[words.length - 1]),
            buf.slice(i + 1, n),
            new Uint8Array(1024 * 1024),
          );
          i = n;
        } else await writeAll(conn, PONG);
        start = i + 1;
      }
    }
  } catch {
    // The client went away.
  } finally {
    try {
      conn.close();
    } catch {
      // Closed.
    }
  }
}

for await (const conn of listener) void serve(conn);
