/**
 * Helpers of the reliability tests (hostile clients, faults): a shared folder with known files and
 * its digest, two well-behaved "witness" clients that must keep getting correct answers whatever
 * else happens, deadlines, and a seeded random source.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type Client, connect, type Push } from "../client/client.ts";
import { createLogger, type Logger } from "../server/observe/log.ts";
import { waitFor } from "./test_util.ts";

const utf8 = new TextEncoder();

/** The files every reliability test shares, by plain path. */
export function seedContents(): Record<string, Uint8Array> {
  const blob = new Uint8Array(96 * 1024);
  for (let i = 0; i < blob.length; i++) blob[i] = (i * 7919 + (i >> 8)) & 0xff;
  return {
    "small.txt": utf8.encode("hello from the shared folder\n"),
    "docs/readme.md": utf8.encode("# Read me\n\nNothing to see.\n"),
    "bin/blob.bin": blob,
    "my notes.txt": utf8.encode("spaces in the name\n"),
    "é.txt": utf8.encode("non-ASCII name\n"),
  };
}

/**
 * Writes {@linkcode seedContents} into `root`.
 *
 * @param root The shared folder.
 * @returns The contents written, by path.
 */
export async function seedFiles(root: string): Promise<Record<string, Uint8Array>> {
  const files = seedContents();
  for (const [path, bytes] of Object.entries(files)) {
    const full = `${root}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeFile(full, bytes);
  }
  return files;
}

/**
 * Visits everything under `root`, depth first. Folders that vanish meanwhile (the server removes
 * what an unfinished upload created) are skipped.
 */
async function walkFolder(
  root: string,
  visit: (path: string, entry: Deno.DirEntry, full: string) => void | Promise<void>,
): Promise<void> {
  async function walk(dir: string, rel: string): Promise<void> {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound && rel !== "") return;
      throw e;
    }
    for (const e of entries) {
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      await visit(path, e, `${dir}/${e.name}`);
      if (e.isDirectory) await walk(`${dir}/${e.name}`, path);
    }
  }
  await walk(root, "");
}

/**
 * A digest of everything under `root` (hidden files included): one line per entry with its type,
 * size and sha256, sorted. Two equal digests mean nothing was added, removed or changed.
 *
 * @param root The folder.
 * @returns The digest, readable in an assertion message.
 */
export async function folderDigest(root: string): Promise<string> {
  const lines: string[] = [];
  await walkFolder(root, async (path, e, full) => {
    if (e.isDirectory) lines.push(`${path}/ dir`);
    else if (e.isFile) {
      const bytes = await Deno.readFile(full).catch(() => null);
      if (bytes === null) lines.push(`${path} vanished`);
      else {lines.push(
          `${path} ${bytes.length} ${createHash("sha256").update(bytes).digest("hex")}`,
        );}
    } else lines.push(`${path} other`);
  });
  return lines.sort().join("\n");
}

/**
 * Names of temporary upload files anywhere under `root`.
 *
 * @param root The shared folder.
 * @returns Relative paths.
 */
export async function temporaries(root: string): Promise<string[]> {
  const out: string[] = [];
  await walkFolder(root, (path, e) => {
    if (!e.isDirectory && e.name.startsWith(".sb-upload-")) out.push(path);
  });
  return out;
}

/**
 * Runs `promise` with a deadline.
 *
 * @param ms The deadline.
 * @param what What is awaited, for the error.
 * @param promise The work.
 * @returns Its result.
 * @throws {Error} `Timed out after <ms> ms: <what>` when the deadline passes first.
 */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A small seeded PRNG (mulberry32): the same seed gives the same run.
 *
 * @param seed Any integer.
 * @returns A function giving numbers in [0, 1).
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A logger that keeps its lines, for assertions on what the server logged. */
export function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger({ write: (l) => lines.push(l) }), lines };
}

/**
 * Open file descriptors of a process (Linux).
 *
 * @param pid The process.
 * @returns How many.
 */
export async function fdCount(pid: number): Promise<number> {
  // Deno asks for --allow-all to read /proc/<pid>/fd; `ls` may read it with --allow-run.
  const out = await new Deno.Command("ls", {
    args: ["-1", `/proc/${pid}/fd`],
    stdout: "piped",
    stderr: "null",
  })
    .output();
  if (!out.success) throw new Error(`Cannot count open files of ${pid}: ls failed`);
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "").length;
}

/**
 * Downloads a whole file with the client library.
 *
 * @param c The client.
 * @param path The plain path.
 * @returns Its bytes and the sha256 the server announced.
 */
export async function download(
  c: Client,
  path: string,
): Promise<{ bytes: Uint8Array; sha256: string }> {
  const parts: Uint8Array[] = [];
  const head = await c.get(path, {
    sink: () => ({
      data: (b) => void parts.push(b.slice()),
      end() {},
      abort() {},
    }),
  });
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return { bytes, sha256: head.sha256 };
}

/** sha256 of bytes, lower-case hex. */
export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Two well-behaved clients that must keep getting correct answers. */
export interface Witnesses extends AsyncDisposable {
  /** Sends; in rooms `lobby` and `witness`. */
  readonly alice: Client;
  /** Receives; in rooms `lobby` and `witness`. */
  readonly bob: Client;
  /** Every push bob received, in order. */
  readonly inbox: Push[];
  /**
   * Checks that the witnesses are served correctly: PING, TIME, a room message (exactly one
   * recipient), a lobby message and a DM all arrive byte for byte, LIST shows the seeded files,
   * a GET returns the right bytes, and the shared folder's digest is what it was.
   *
   * @param label Names the moment in failure messages.
   * @param extraClients Clients expected on top of those connected when the witnesses came.
   * @param ignoreTemporaries Leave hidden temporary upload files out of the folder comparison.
   */
  check(label: string, extraClients?: number, ignoreTemporaries?: boolean): Promise<void>;
  /**
   * While `work` runs, keeps exchanging messages between the witnesses (a room message that must
   * reach bob, a PING), and fails if one goes wrong or takes over 10 s.
   *
   * @param label Names the moment in failure messages.
   * @param work The hostile work.
   * @returns What `work` resolved to, and how many round trips were made meanwhile.
   */
  during<T>(label: string, work: Promise<T>): Promise<{ result: T; roundTrips: number }>;
}

/** Options of {@linkcode witnesses}. */
export interface WitnessOptions {
  /** The shared folder: its digest is taken now and compared at every check. */
  files: string;
  /** The seeded contents (from {@linkcode seedFiles}). */
  seeded: Record<string, Uint8Array>;
  /**
   * How to count the server's clients: a function (an in-process server's `clients`), or `"who"`
   * to count the entries of `WHO` (a server process). Checks wait for the count at connect time.
   */
  clients?: (() => number) | "who";
}

/**
 * Connects the two witnesses (`alice`, `bob`), joins them to room `witness`, and records the
 * folder digest to compare against.
 *
 * @param port The server's port.
 * @param options See {@linkcode WitnessOptions}.
 * @returns The witnesses; dispose them with `await using`.
 */
export async function witnesses(port: number, options: WitnessOptions): Promise<Witnesses> {
  const alice = await connect({ port, nick: "alice" });
  const bob = await connect({ port, nick: "bob" });
  await alice.join("witness");
  await bob.join("witness");
  const inbox: Push[] = [];
  const reading = (async () => {
    for await (const m of bob.messages()) inbox.push(m);
  })();
  const digest = await folderDigest(options.files);
  const count = options.clients === "who"
    ? async () => (await alice.who()).length
    : options.clients;
  const baseline = await count?.();
  let checks = 0;

  function received(p: (m: Push) => boolean): boolean {
    return inbox.some(p);
  }

  async function check(label: string, extraClients = 0, ignoreTemporaries = false): Promise<void> {
    const tag = `${label} #${++checks}`;
    const work = async () => {
      assert.ok(!alice.closed && !bob.closed, `${tag}: a witness was disconnected`);
      await alice.ping();
      const t = await alice.time();
      assert.match(t.iso, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(
        Math.abs(t.server - Date.now()) < 5000,
        `${tag}: TIME is off by ${t.server - Date.now()} ms`,
      );
      assert.equal(await alice.say("witness", `room ${tag}`), 1, `${tag}: room message recipients`);
      assert.ok(
        (await alice.say("lobby", `lobby ${tag}`)) >= 1,
        `${tag}: lobby message recipients`,
      );
      await alice.tell("bob", `dm ${tag}`);
      await waitFor(
        () =>
          received((m) =>
            m.type === "msg" && m.room === "witness" && m.from === "alice" &&
            m.text === `room ${tag}`
          ) &&
          received((m) =>
            m.type === "msg" && m.room === "lobby" && m.from === "alice" &&
            m.text === `lobby ${tag}`
          ) &&
          received((m) => m.type === "dm" && m.from === "alice" && m.text === `dm ${tag}`),
        5000,
        `${tag}: bob to receive the room message, the lobby message and the DM`,
      );
      const names = (await bob.list()).map((e) => e.name);
      for (const top of new Set(Object.keys(options.seeded).map((p) => p.split("/")[0]!))) {
        assert.ok(names.includes(top), `${tag}: LIST lacks ${top}: ${names.join(", ")}`);
      }
      const got = await download(bob, "small.txt");
      assert.deepEqual(got.bytes, options.seeded["small.txt"], `${tag}: GET small.txt`);
      assert.equal(got.sha256, sha256(got.bytes));
      const now = await folderDigest(options.files);
      const visible = (d: string) =>
        d.split("\n").filter((l) => !/(^|\/)\.sb-upload-/.test(l)).join("\n");
      if (ignoreTemporaries) {
        assert.equal(visible(now), visible(digest), `${tag}: the shared folder changed`);
      } else assert.equal(now, digest, `${tag}: the shared folder changed`);
      if (baseline !== undefined && count !== undefined) {
        const want = baseline + extraClients;
        let now = -1;
        await waitFor(
          async () => (now = await count()) === want,
          10_000,
          `${tag}: the client count back to ${want}`,
        )
          .catch((e) => {
            throw new Error(`${(e as Error).message} (it is ${now})`);
          });
      }
    };
    await within(20_000, `${tag}: witness check`, work());
  }

  async function during<T>(
    label: string,
    work: Promise<T>,
  ): Promise<{ result: T; roundTrips: number }> {
    let done = false;
    const finished = work.finally(() => done = true);
    finished.catch(() => {});
    let roundTrips = 0;
    const talking = (async () => {
      while (!done) {
        const text = `live ${label} ${roundTrips}`;
        await within(
          10_000,
          `${label}: a round trip while under attack`,
          (async () => {
            assert.ok((await alice.say("witness", text)) >= 1, `${label}: room message recipients`);
            await waitFor(
              () => received((m) => m.type === "msg" && m.from === "alice" && m.text === text),
              10_000,
              `${label}: bob to receive "${text}"`,
            );
            await alice.ping();
          })(),
        );
        roundTrips++;
      }
    })();
    const [result] = await Promise.all([finished, talking]);
    return { result, roundTrips };
  }

  return {
    alice,
    bob,
    inbox,
    check,
    during,
    async [Symbol.asyncDispose]() {
      alice.close();
      bob.close();
      await reading;
    },
  };
}
