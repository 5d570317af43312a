/**
 * Helpers of the reliability tests (hostile clients, faults): a shared folder with known files,
 * and two well-behaved "witness" clients that must keep getting correct answers whatever else
 * happens.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Client, connect, type Push } from "../../client/client.ts";
import { concat, encodeText, sha256 } from "./bytes.ts";
import { folderDigest, writeFiles } from "./fs.ts";
import { waitFor, within } from "./wait.ts";

/** The files every reliability test shares, by plain path. */
export function seedContents(): Record<string, Uint8Array> {
  const blob = new Uint8Array(96 * 1024);
  for (let i = 0; i < blob.length; i++) blob[i] = (i * 7919 + (i >> 8)) & 0xff;
  return {
    "small.txt": encodeText("hello from the shared folder\n"),
    "docs/readme.md": encodeText("# Read me\n\nNothing to see.\n"),
    "bin/blob.bin": blob,
    "my notes.txt": encodeText("spaces in the name\n"),
    "é.txt": encodeText("non-ASCII name\n"),
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
  await writeFiles(root, files);
  return files;
}

/** A temporary shared folder holding {@linkcode seedContents}. */
export interface SeededFolder extends AsyncDisposable {
  /** The folder. */
  files: string;
  /** What was written into it, by path. */
  seeded: Record<string, Uint8Array>;
}

/**
 * Makes a temporary folder and seeds it. Dispose makes it writable again, then removes it.
 *
 * @param prefix Starts the folder's name.
 * @returns The folder; dispose it with `await using`.
 */
export async function seededFolder(prefix = "sb-seeded-"): Promise<SeededFolder> {
  const files = await Deno.makeTempDir({ prefix });
  const seeded = await seedFiles(files);
  return {
    files,
    seeded,
    async [Symbol.asyncDispose]() {
      await Deno.chmod(files, 0o755).catch(() => {});
      await Deno.remove(files, { recursive: true });
    },
  };
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
  return { bytes: concat(parts), sha256: head.sha256 };
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
