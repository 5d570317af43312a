/**
 * The file workloads of the load client: Switchboard's `PUT` and `GET`, spoken raw (no scanner)
 * on one connection, the file's bytes sent from memory.
 *
 * @module
 */

import { fileBlock } from "./files.ts";
import type { LoadSpec } from "./load_spec.ts";

/** Reads one CRLF-terminated line from a link's connection, keeping what follows in `rest`. */
export async function readLine(
  conn: Deno.TcpConn,
  buf: Uint8Array,
): Promise<{ line: string; rest: Uint8Array }> {
  let fill = 0;
  for (;;) {
    const n = await conn.read(buf.subarray(fill));
    if (n === null) throw new Error("Server closed the connection before replying");
    fill += n;
    const lf = buf.subarray(0, fill).indexOf(10);
    if (lf >= 0) {
      const line = new TextDecoder().decode(buf.subarray(0, lf)).replace(/\r$/, "");
      return { line, rest: buf.slice(lf + 1, fill) };
    }
    if (fill === buf.length) throw new Error("Reply line too long");
  }
}

/** Connects raw (no scanner) and reads `HELLO`. */
async function openRaw(port: number, buf: Uint8Array): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const hello = await readLine(conn, buf);
  if (!hello.line.startsWith("HELLO ")) {
    throw new Error(`Expected HELLO, got ${hello.line.slice(0, 80)}`);
  }
  return conn;
}

/** `PUT path N` + N bytes (a 1 MiB block repeated) from memory; time until `OK sha256`. */
export async function put(
  spec: Extract<LoadSpec, { workload: "put" }>,
): Promise<Record<string, unknown>> {
  const buf = new Uint8Array(64 * 1024);
  const conn = await openRaw(spec.port, buf);
  const block = fileBlock();
  const t0 = performance.now();
  const w = async (bytes: Uint8Array) => {
    for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
  };
  await w(new TextEncoder().encode(`PUT ${spec.path} ${spec.bytes}\r\n`));
  // Read the reply concurrently: a refusal comes at once, before the bytes.
  const reply = readLine(conn, buf);
  let failed: string | null = null;
  reply.then((r) => failed = r.line, () => {});
  for (let sent = 0; sent < spec.bytes;) {
    if (failed !== null) throw new Error(`Server refused the upload: ${failed}`);
    if (performance.now() - t0 > spec.deadlineMs) {
      throw new Error(`Upload took over ${spec.deadlineMs} ms`);
    }
    const k = Math.min(block.length, spec.bytes - sent);
    await w(k === block.length ? block : block.subarray(0, k));
    sent += k;
  }
  await w(new TextEncoder().encode("\r\n"));
  const sent = (performance.now() - t0) / 1000;
  const { line } = await reply;
  const seconds = (performance.now() - t0) / 1000;
  conn.close();
  if (line !== `OK ${spec.sha256}`) {
    throw new Error(`Expected OK ${spec.sha256.slice(0, 12)}..., got ${line.slice(0, 100)}`);
  }
  // `sent`: the last byte went into the socket (the server lags by what the socket buffers hold);
  // the rest is the server's sync and rename.
  return { bytes: spec.bytes, seconds, sent, rate: spec.bytes / seconds / 1e6 };
}

/** `GET path`: time until the last byte of the `FILE` reply. */
export async function get(
  spec: Extract<LoadSpec, { workload: "get" }>,
): Promise<Record<string, unknown>> {
  const buf = new Uint8Array(1024 * 1024);
  const conn = await openRaw(spec.port, buf);
  const t0 = performance.now();
  await conn.write(new TextEncoder().encode(`GET ${spec.path}\r\n`));
  const { line, rest } = await readLine(conn, buf);
  const parts = line.split(" ");
  if (parts[0] !== "FILE" || parts.length < 5) {
    throw new Error(`Expected FILE, got ${line.slice(0, 100)}`);
  }
  const size = Number(parts[parts.length - 1]);
  if (size !== spec.bytes) {
    throw new Error(`Expected ${spec.bytes} bytes, the server announced ${size}`);
  }
  if (parts[3] !== spec.sha256) {
    throw new Error(`Expected sha256 ${spec.sha256}, the server announced ${parts[3]}`);
  }
  let got = rest.length;
  const want = size + 2; // the payload, then CRLF
  while (got < want) {
    if (performance.now() - t0 > spec.deadlineMs) {
      throw new Error(`Download took over ${spec.deadlineMs} ms`);
    }
    const n = await conn.read(buf);
    if (n === null) throw new Error(`Server closed the connection after ${got} of ${want} bytes`);
    got += n;
  }
  const seconds = (performance.now() - t0) / 1000;
  conn.close();
  return { bytes: size, seconds, rate: size / seconds / 1e6 };
}
