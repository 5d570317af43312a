/**
 * The file workload: PUT then GET of one big file through a fresh Switchboard server, beside the
 * raw TCP ceiling (the same bytes through a socat or nc pipe over loopback) and the sha256 rate of
 * one core (node:crypto), all measured in the same run.
 *
 * @module
 */

import { createHash } from "node:crypto";
import {
  drain,
  freePort,
  hasCommand,
  killQuietly,
  readProc,
  spawn,
  startServer,
} from "./servers.ts";

const BLOCK = 1024 * 1024;
let block: Uint8Array | null = null;

/**
 * The 1 MiB block every benchmark file is made of (pseudo-random, the same in every process).
 *
 * @returns The block; do not change it.
 */
export function fileBlock(): Uint8Array {
  if (block !== null) return block;
  const b = new Uint8Array(BLOCK);
  const words = new Uint32Array(b.buffer);
  let x = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return block = b;
}

/** A benchmark file on disk and its sha256. */
export interface BenchFile {
  /** Its path. */
  path: string;
  /** Its size. */
  bytes: number;
  /** Lower-case hex sha256 of its bytes. */
  sha256: string;
}

/**
 * Writes a file of `bytes` bytes made of {@linkcode fileBlock} repeated (reused when present).
 *
 * @param dir Where.
 * @param bytes How big.
 * @returns The file and its sha256.
 */
export async function prepareFile(dir: string, bytes: number): Promise<BenchFile> {
  const path = `${dir}/big-${bytes}.bin`;
  const b = fileBlock();
  const hash = createHash("sha256");
  const exists = await Deno.stat(path).then((s) => s.size === bytes, () => false);
  const f = exists ? null : await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    for (let done = 0; done < bytes;) {
      const k = Math.min(b.length, bytes - done);
      const part = k === b.length ? b : b.subarray(0, k);
      hash.update(part);
      if (f) { for (let off = 0; off < part.length;) off += await f.write(part.subarray(off)); }
      done += k;
    }
  } finally {
    f?.close();
  }
  return { path, bytes, sha256: hash.digest("hex") };
}

/**
 * The sha256 rate of one core: hashes `bytes` bytes of the block with node:crypto.
 *
 * @param bytes How much to hash.
 * @returns MB/s (10^6 bytes per second).
 */
export function sha256Rate(bytes: number): Promise<number> {
  const b = fileBlock();
  const hash = createHash("sha256");
  const t0 = performance.now();
  for (let done = 0; done < bytes; done += b.length) hash.update(b);
  hash.digest("hex");
  return Promise.resolve(bytes / ((performance.now() - t0) / 1000) / 1e6);
}

/** socat's copy buffer: its default of 8 KiB makes the pipe syscall-bound (~0.3 GB/s here). */
const PIPE_BUFFER = 1024 * 1024;

/**
 * The raw TCP ceiling: the file's bytes through `socat` (or `nc`) from one process to another
 * over loopback, receiver writing to /dev/null, both with 1 MiB buffers (`socat -b`).
 *
 * @param file The file.
 * @returns MB/s.
 */
export async function rawPipe(file: BenchFile): Promise<number> {
  const port = freePort();
  const socat = await hasCommand("socat");
  const receiver = pipeEnd(
    socat,
    [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr`, "OPEN:/dev/null"],
    ['exec nc -l 127.0.0.1 "$1" > /dev/null', "sh", String(port)],
  );
  try {
    // Wait until the receiver listens (without connecting to it: it accepts one connection).
    const deadline = Date.now() + 10_000;
    const hex = port.toString(16).toUpperCase().padStart(4, "0");
    while (
      !(await readProc("/proc/net/tcp")).includes(`0100007F:${hex} 00000000:0000 0A`)
    ) {
      if (Date.now() > deadline) {
        throw new Error(`Receiver did not listen on ${port}: ${receiver.log.text()}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const t0 = performance.now();
    const sender = pipeEnd(
      socat,
      [`OPEN:${file.path},rdonly`, `TCP:127.0.0.1:${port}`],
      ['exec nc -N 127.0.0.1 "$1" < "$2"', "sh", String(port), file.path],
    );
    const [s, r] = await Promise.all([sender.child.status, receiver.child.status]);
    const seconds = (performance.now() - t0) / 1000;
    if (!s.success || !r.success) {
      throw new Error(`Raw pipe failed: ${sender.log.text()} ${receiver.log.text()}`);
    }
    return file.bytes / seconds / 1e6;
  } finally {
    killQuietly(receiver.child);
  }
}

/**
 * Spawns one end of the raw pipe: `socat -u -b 1MiB FROM TO`, or without socat an `nc` script run
 * by `sh -c`. Its stdout is drained and dropped, its stderr kept for errors.
 */
function pipeEnd(
  socat: boolean,
  [from, to]: [string, string],
  nc: string[],
): { child: Deno.ChildProcess; log: ReturnType<typeof drain> } {
  const child = spawn(
    socat ? ["socat", "-u", "-b", String(PIPE_BUFFER), from, to] : ["sh", "-c", ...nc],
  );
  const log = drain(child.stderr);
  void drain(child.stdout);
  return { child, log };
}

/**
 * The disk's durable write rate: the file copied with `dd ... conv=fsync` (read from the page
 * cache, written, synced) into `dir`, as a PUT must before it answers. The copy is removed.
 *
 * @param file The file.
 * @param dir A folder on the same file system as the server's shared folder.
 * @returns MB/s.
 */
export async function diskRate(file: BenchFile, dir: string): Promise<number> {
  const target = `${dir}/disk-copy.bin`;
  try {
    const t0 = performance.now();
    const r = await new Deno.Command("dd", {
      args: [`if=${file.path}`, `of=${target}`, "bs=1M", "conv=fsync", "status=none"],
      stdout: "null",
      stderr: "piped",
    }).output();
    const seconds = (performance.now() - t0) / 1000;
    if (!r.success) throw new Error(`dd failed: ${new TextDecoder().decode(r.stderr).trim()}`);
    return file.bytes / seconds / 1e6;
  } finally {
    await Deno.remove(target).catch(() => {});
  }
}

/** MB/s of one PUT and one GET. */
export interface FilesResult {
  /** Upload rate, MB/s (until `OK sha256`: hashed, synced, renamed). */
  put: number;
  /** Upload rate until the last byte was sent, MB/s (before the server's sync and rename). */
  putSent: number;
  /** The same PUT to bench/echo_floor.ts: a bare Deno server that only hashes (no disk). */
  floorPut: number;
  /** The same GET from bench/echo_floor.ts: a bare Deno server sending from memory (no disk). */
  floorGet: number;
  /** Download rate, MB/s (until the last byte). */
  get: number;
  /** `downloadFile` of the client library to a file on disk, verified and synced, MB/s. */
  clientGet: number;
  /** `uploadFile` of the client library from the file on disk, until the server's OK, MB/s. */
  clientPut: number;
  /** Another client's PING round trips while GETs run back to back: p50 and p99, ms. */
  pingDuring: { p50: number; p99: number; count: number };
}

/** Runs a load spec in a load client process (bench/main.ts provides it). */
export type LoadRunner = (
  spec: Record<string, unknown>,
  timeoutMs: number,
  onReady?: () => Promise<void>,
) => Promise<Record<string, unknown>>;

/**
 * PINGs of one client while another downloads at full speed: both load clients connect, then
 * start together; the PINGs run from 200 ms to 2.2 s into GETs that go on back to back for 2.5 s.
 */
async function pingDuringDownload(
  common: Record<string, unknown>,
  runLoad: LoadRunner,
  timeout: number,
): Promise<{ p50: number; p99: number; count: number }> {
  let arrived = 0;
  let release!: () => void;
  const together = new Promise<void>((r) => release = r);
  const onReady = () => {
    if (++arrived === 2) release();
    return together;
  };
  const [, pinged] = await Promise.all([
    runLoad(
      { workload: "downloading", ...common, untilMs: 2500, deadlineMs: timeout },
      2 * timeout + 10_000,
      onReady,
    ),
    runLoad(
      {
        workload: "pings",
        proto: "switchboard",
        port: common.port,
        delayMs: 200,
        durationMs: 2000,
      },
      2 * timeout + 10_000,
      onReady,
    ),
  ]);
  return pinged as { p50: number; p99: number; count: number };
}

/**
 * Starts a fresh Switchboard server on an empty folder, PUTs the file, then GETs it back.
 *
 * @param file The file (its bytes are {@linkcode fileBlock} repeated, as the load client sends).
 * @param profileDir Where the server writes a CPU profile, if anywhere.
 * @param runLoad Runs the load client.
 * @returns MB/s of each.
 */
export async function filesRun(
  file: BenchFile,
  profileDir: string | undefined,
  runLoad: LoadRunner,
): Promise<FilesResult> {
  const server = await startServer("switchboard", { maxClients: 100, profileDir });
  try {
    const common = {
      proto: "switchboard",
      port: server.port,
      path: "big.bin",
      bytes: file.bytes,
      sha256: file.sha256,
    };
    const timeout = 60_000 + file.bytes / 50_000; // at least 50 MB/s, or the run fails
    const put = await runLoad(
      { workload: "put", ...common, deadlineMs: timeout },
      timeout + 10_000,
    );
    const get = await runLoad(
      { workload: "get", ...common, deadlineMs: timeout },
      timeout + 10_000,
    );
    // As a user's `switchboard get` and `put` move it: verified, from and to a file on disk.
    const dir = file.path.slice(0, file.path.lastIndexOf("/"));
    const clientGet = await runLoad(
      { workload: "clientGet", ...common, dir, deadlineMs: timeout },
      timeout + 10_000,
    );
    const clientPut = await runLoad(
      { workload: "clientPut", ...common, path: "up.bin", local: file.path, deadlineMs: timeout },
      timeout + 10_000,
    );
    const pingDuring = await pingDuringDownload(common, runLoad, timeout);
    const floor = await startServer("switchboard", {
      maxClients: 100,
      echoFloor: true,
      floorFile: file,
    });
    try {
      const floorPut = await runLoad({
        workload: "put",
        ...common,
        port: floor.port,
        deadlineMs: timeout,
      }, timeout + 10_000);
      const floorGet = await runLoad({
        workload: "get",
        ...common,
        port: floor.port,
        deadlineMs: timeout,
      }, timeout + 10_000);
      return {
        put: put.rate as number,
        putSent: file.bytes / (put.sent as number) / 1e6,
        get: get.rate as number,
        floorPut: floorPut.rate as number,
        floorGet: floorGet.rate as number,
        clientGet: clientGet.rate as number,
        clientPut: clientPut.rate as number,
        pingDuring,
      };
    } finally {
      await floor.stop();
    }
  } finally {
    await server.stop();
  }
}
