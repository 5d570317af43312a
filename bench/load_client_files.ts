/**
 * The file workloads of the load client that use the client library, as a user's `switchboard get`
 * and `put` do (verified, to and from a file on disk), and the PING round trips of another client
 * while one downloads at full speed.
 *
 * @module
 */

import { connect, downloadFile, uploadFile } from "../client/mod.ts";
import { get, readLine } from "./load_files.ts";
import type { LoadSpec } from "./load_spec.ts";
import { summarize } from "./stats.ts";

/** Prints `READY` and waits for the orchestrator's line (all processes start together). */
async function ready(): Promise<void> {
  console.log(`READY {}`);
  await Deno.stdin.read(new Uint8Array(64));
}

/** `downloadFile` to a new file in `spec.dir`: verified (sha256), synced; the file is removed. */
export async function clientGet(
  spec: Extract<LoadSpec, { workload: "clientGet" }>,
): Promise<Record<string, unknown>> {
  await using client = await connect({ port: spec.port });
  const local = `${spec.dir}/client-get-${crypto.randomUUID()}.bin`;
  try {
    const t0 = performance.now();
    const r = await downloadFile(client, spec.path, local);
    const seconds = (performance.now() - t0) / 1000;
    if (r.sha256 !== spec.sha256 || r.size !== spec.bytes) {
      throw new Error(`Downloaded ${r.size} bytes hashing to ${r.sha256}, not the file`);
    }
    return { bytes: r.size, seconds, rate: r.size / seconds / 1e6 };
  } finally {
    await Deno.remove(local).catch(() => {});
  }
}

/** `uploadFile` of `spec.local` to `spec.path`: until the server's `OK` matches the local hash. */
export async function clientPut(
  spec: Extract<LoadSpec, { workload: "clientPut" }>,
): Promise<Record<string, unknown>> {
  await using client = await connect({ port: spec.port });
  const t0 = performance.now();
  const r = await uploadFile(client, spec.local, spec.path, { resume: false });
  const seconds = (performance.now() - t0) / 1000;
  if (r.sha256 !== spec.sha256 || r.size !== spec.bytes) {
    throw new Error(`Uploaded ${r.size} bytes hashing to ${r.sha256}, not the file`);
  }
  return { bytes: r.size, seconds, rate: r.size / seconds / 1e6 };
}

/** Raw `GET`s one after the other, from `go` until `spec.untilMs` have passed. */
export async function downloading(
  spec: Extract<LoadSpec, { workload: "downloading" }>,
): Promise<Record<string, unknown>> {
  await ready();
  const t0 = performance.now();
  let gets = 0;
  let bytes = 0;
  do {
    const r = await get({ ...spec, workload: "get" });
    gets++;
    bytes += r.bytes as number;
  } while (performance.now() - t0 < spec.untilMs);
  const seconds = (performance.now() - t0) / 1000;
  return { gets, seconds, rate: bytes / seconds / 1e6 };
}

/** Sequential `PING`s on one connection for `spec.durationMs`, from `spec.delayMs` after `go`. */
export async function pings(
  spec: Extract<LoadSpec, { workload: "pings" }>,
): Promise<Record<string, unknown>> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: spec.port });
  conn.setNoDelay(true);
  const buf = new Uint8Array(4096);
  // One reply at a time on this connection: nothing follows a line but the next reply.
  const line = async () => (await readLine(conn, buf)).line;
  try {
    if (!(await line()).startsWith("HELLO ")) throw new Error("Expected HELLO");
    await ready();
    await new Promise((r) => setTimeout(r, spec.delayMs));
    const ping = new TextEncoder().encode("PING\r\n");
    const samples: number[] = [];
    const t0 = performance.now();
    while (performance.now() - t0 < spec.durationMs) {
      const sent = performance.now();
      await conn.write(ping);
      const reply = await line();
      if (reply !== "PONG") throw new Error(`Expected PONG, got ${reply.slice(0, 80)}`);
      samples.push(performance.now() - sent);
      await new Promise((r) => setTimeout(r, 1)); // about 500 a second, as a person's client
    }
    const s = summarize(Float64Array.from(samples));
    return { count: s.count, p50: s.p50, p99: s.p99, max: s.max };
  } finally {
    conn.close();
  }
}
