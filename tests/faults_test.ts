/**
 * Faults against a server process: clients killed mid-transfer, the server killed mid-upload and
 * restarted, SIGTERM during transfers, and a shared folder that becomes unwritable. After each,
 * no partial file is visible, temporaries are gone (or swept at the next start), open files
 * return to their baseline, and two well-behaved clients are still served correctly.
 */

import assert from "node:assert/strict";
import { connect } from "../client/client.ts";
import { ServerError } from "../lib/protocol/errors.ts";
import { decodeText, encodeText, sha256 } from "./helpers/bytes.ts";
import { folderDigest, temporaries } from "./helpers/fs.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { fdCount, ROOT, startServerProcess } from "./helpers/servers.ts";
import { waitFor, within } from "./helpers/wait.ts";
import {
  download,
  type SeededFolder,
  seededFolder,
  type Witnesses,
  witnesses,
} from "./helpers/witnesses.ts";

const MiB = 1024 * 1024;
const LINUX = Deno.build.os === "linux";

/** A 48 MiB file whose download cannot fit in socket buffers: it is still running when cut. */
async function writeHuge(files: string): Promise<Uint8Array> {
  const huge = new Uint8Array(48 * MiB);
  for (let i = 0; i < huge.length; i += 4096) huge[i] = (i / 4096) & 0xff;
  await Deno.writeFile(`${files}/huge.bin`, huge);
  return huge;
}

/** A temporary shared folder with the seeded files (and `huge.bin` when asked). */
async function sharedFolder(huge = false): Promise<SeededFolder> {
  const dir = await seededFolder("sb-faults-");
  if (huge) await writeHuge(dir.files);
  return dir;
}

/** The witnesses of a server process serving `dir`, counting its clients with `WHO`. */
function watch(port: number, dir: SeededFolder): Promise<Witnesses> {
  return witnesses(port, { files: dir.files, seeded: dir.seeded, clients: "who" });
}

/** Size of the one temporary upload file in `files`, or -1 when there is none. */
async function tempSize(files: string): Promise<number> {
  const temps = await temporaries(files);
  if (temps.length !== 1) return -1;
  return (await Deno.stat(`${files}/${temps[0]}`).catch(() => ({ size: -1 }))).size;
}

/** Upload bytes: `first` bytes at once, then nothing until `release()`, then the rest. */
function gatedSource(size: number, first: number) {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const piece = new Uint8Array(256 * 1024).fill(0x5a);
  async function* chunks() {
    for (let sent = 0; sent < size; sent += piece.length) {
      if (sent === first) await gate;
      yield piece;
    }
  }
  return { source: { size, chunks: chunks() }, release };
}

/** Starts `deno run` on a script of client code (the client library is importable as CLIENT). */
async function spawnClient(code: string, args: string[]) {
  const path = await Deno.makeTempFile({ prefix: "sb-fault-client-", suffix: ".ts" });
  await Deno.writeTextFile(
    path,
    code.replaceAll("CLIENT", JSON.stringify(`${ROOT}client/client.ts`)),
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", path, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  return {
    child,
    /** Waits for a line the child prints. */
    async waitLine(line: string, ms = 15_000): Promise<void> {
      await within(
        ms,
        `the client to print ${line}`,
        (async () => {
          while (!buffered.split("\n").includes(line)) {
            const { value, done } = await lines.read();
            if (done) throw new Error(`The client exited before printing ${line}`);
            buffered += value;
          }
        })(),
      );
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Exited.
      }
      await child.status;
      await lines.cancel().catch(() => {});
      await Deno.remove(path);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Clients killed mid-transfer

Deno.test({
  name:
    "a client killed with SIGKILL mid-PUT leaves no file, no temporary, no folder and no open file",
  ignore: !LINUX,
  async fn() {
    await using dir = await sharedFolder();
    await using server = await startServerProcess(["--files", dir.files]);
    await using w = await watch(server.port, dir);
    const fds = await fdCount(server.pid);
    await using doomed = await spawnClient(
      `import { connect } from CLIENT;
      const c = await connect({ port: Number(Deno.args[0]), nick: "doomed" });
      const piece = new Uint8Array(256 * 1024).fill(0x5a);
      async function* chunks() {
        for (let sent = 0; sent < 64 * 1024 * 1024; sent += piece.length) {
          if (sent === 8 * 1024 * 1024) {
            console.log("halfway");
            await new Promise(() => {});
          }
          yield piece;
        }
      }
      await c.put("new/killed.bin", { size: 64 * 1024 * 1024, chunks: chunks() });`,
      [String(server.port)],
    );
    await doomed.waitLine("halfway");
    await waitFor(
      async () => (await tempSize(dir.files).catch(() => -1)) >= 4 * MiB,
      10_000,
      "the server to store 4 MiB",
    );
    assert.ok(
      (await w.alice.list()).every((e) => !e.name.startsWith(".sb-upload-")),
      "LIST never shows a temporary",
    );
    doomed.child.kill("SIGKILL");
    assert.equal((await doomed.child.status).signal, "SIGKILL");
    await waitFor(
      async () => (await temporaries(dir.files)).length === 0,
      10_000,
      "the temporary to be removed",
    );
    await assert.rejects(
      Deno.stat(`${dir.files}/new`),
      Deno.errors.NotFound,
      "the folder the upload created is gone",
    );
    await waitFor(
      async () => (await fdCount(server.pid)) <= fds,
      10_000,
      "the server's open files back to baseline",
    );
    await w.check("after a client was killed mid-PUT");
    await waitFor(
      () => /disconnect .*nick=doomed reason="eof during upload"/.test(server.log()),
      5000,
      "the disconnect to be logged",
    );
  },
});

Deno.test({
  name: "a client killed with SIGKILL mid-GET frees its file and connection; the file is intact",
  ignore: !LINUX,
  async fn() {
    await using dir = await sharedFolder(true);
    await using server = await startServerProcess(["--files", dir.files]);
    await using w = await watch(server.port, dir);
    const fds = await fdCount(server.pid);
    await using doomed = await spawnClient(
      `import { connect } from CLIENT;
      const c = await connect({ port: Number(Deno.args[0]), nick: "doomed" });
      let got = 0;
      await c.get("huge.bin", {
        sink: () => ({
          async data(b) {
            got += b.length;
            if (got >= 1024 * 1024) {
              console.log("reading");
              await new Promise(() => {});
            }
          },
          end() {},
          abort() {},
        }),
      });`,
      [String(server.port)],
    );
    await doomed.waitLine("reading");
    assert.ok((await fdCount(server.pid)) > fds, "the download holds a file and a socket open");
    doomed.child.kill("SIGKILL");
    await doomed.child.status;
    await waitFor(
      async () => (await fdCount(server.pid)) <= fds,
      10_000,
      "the server's open files back to baseline",
    );
    await w.check("after a client was killed mid-GET");
    const again = await download(w.bob, "huge.bin");
    assert.equal(again.bytes.length, 48 * MiB);
    assert.equal(sha256(again.bytes), again.sha256, "a later download is whole");
  },
});

// ---------------------------------------------------------------------------------------------
// The server killed and restarted

Deno.test({
  name:
    "the server killed with SIGKILL mid-PUT shows no partial file, and its restart sweeps the temporary",
  ignore: !LINUX,
  async fn() {
    await using dir = await sharedFolder();
    const first = await startServerProcess(["--files", dir.files]);
    {
      await using _ = first;
      const up = await connect({ port: first.port, nick: "uploader" });
      const { source, release } = gatedSource(32 * MiB, 4 * MiB);
      const putting = up.put("partial.bin", source);
      putting.catch(() => {});
      try {
        await waitFor(
          async () => (await tempSize(dir.files).catch(() => -1)) >= 4 * MiB,
          10_000,
          "4 MiB stored",
        );
        const reader = await connect({ port: first.port });
        try {
          assert.deepEqual(
            (await reader.list()).map((e) => e.name).filter((n) =>
              n.includes("partial") || n.startsWith(".")
            ),
            [],
          );
          await assert.rejects(
            reader.get("partial.bin", { sink: () => ({ data() {}, end() {}, abort() {} }) }),
            (e) => e instanceof ServerError && e.code === 404,
          );
        } finally {
          reader.close();
        }
        first.kill("SIGKILL");
        assert.equal((await first.status).signal, "SIGKILL");
      } finally {
        release();
        await assert.rejects(putting);
        up.close();
      }
    }
    // What the crash left: the temporary, never the file.
    await assert.rejects(Deno.stat(`${dir.files}/partial.bin`), Deno.errors.NotFound);
    const left = await temporaries(dir.files);
    assert.equal(left.length, 1, "the crash left its temporary");

    await using second = await startServerProcess(["--files", dir.files]);
    await waitFor(
      async () => (await temporaries(dir.files)).length === 0,
      10_000,
      "the start-up sweep",
    );
    await waitFor(
      () => /swept temporary uploads .*removed=1/.test(second.log()),
      5000,
      "the sweep's log line",
    );
    await using w = await watch(second.port, dir);
    await w.check("after a restart");
    const sink = () => ({ data() {}, end() {}, abort() {} });
    await assert.rejects(
      w.bob.get("partial.bin", { sink }),
      (e) => e instanceof ServerError && e.code === 404,
    );
    await assert.rejects(
      w.bob.get(left[0]!, { sink }),
      (e) => e instanceof ServerError && e.code === 403,
    );
    // The same upload, whole this time.
    const whole = new Uint8Array(5 * MiB).fill(7);
    assert.equal(await w.alice.put("partial.bin", whole, { sha256: sha256(whole) }), sha256(whole));
    assert.equal(sha256((await download(w.bob, "partial.bin")).bytes), sha256(whole));
  },
});

Deno.test({
  name: "SIGTERM during an upload and a download: BYE shutdown, exit 0 within 5 s, no partial file",
  ignore: !LINUX,
  async fn() {
    await using dir = await sharedFolder(true);
    const before = await folderDigest(dir.files);
    await using server = await startServerProcess(["--files", dir.files]);
    const chat = await connect({ port: server.port, nick: "chatter" });
    const pushes: string[] = [];
    const reading = (async () => {
      for await (const m of chat.messages()) if (m.type === "bye") pushes.push(m.reason);
    })();
    const up = await connect({ port: server.port, nick: "uploader" });
    const { source, release } = gatedSource(32 * MiB, 4 * MiB);
    const putting = up.put("up/term.bin", source);
    putting.catch(() => {});
    // A download that is running: the head and a little of the bytes read, then no more reading.
    const down = await RawClient.connect(server.port);
    try {
      await down.hello();
      await down.line("GET huge.bin");
      const head = await down.event();
      assert.ok(head?.type === "stream" && head.size === 48 * MiB);
      await down.event();
      await waitFor(
        async () => (await tempSize(dir.files).catch(() => -1)) >= 4 * MiB,
        10_000,
        "4 MiB stored",
      );

      const t0 = Date.now();
      server.kill("SIGTERM");
      const status = await within(10_000, "the server to exit", server.status);
      const elapsed = Date.now() - t0;
      assert.equal(status.code, 0, server.log());
      assert.ok(elapsed < 5000, `exited after ${elapsed} ms`);
      console.log(`SIGTERM to exit 0: ${elapsed} ms`);
      await reading;
      assert.deepEqual(pushes, ["shutdown"]);
      assert.match(server.log(), /INFO +stopped/);
    } finally {
      release();
      await assert.rejects(putting);
      up.close();
      chat.close();
      down.close();
    }
    assert.deepEqual(await temporaries(dir.files), []);
    assert.equal(
      await folderDigest(dir.files),
      before,
      "no partial file, no folder left by the upload",
    );
  },
});

// ---------------------------------------------------------------------------------------------
// A shared folder that becomes unwritable

/**
 * How to run a server for which `chmod` makes a folder unwritable. As root, permission bits do not
 * apply (CAP_DAC_OVERRIDE), so the server runs in a new user namespace (`unshare --user`): it keeps
 * uid 0 on the files but loses its capabilities over them, so the owner's bits apply as for any
 * user. When that is not possible the test is skipped, saying why.
 */
async function unwritableSetup(): Promise<{ wrap: string[] } | { skip: string }> {
  if (!LINUX) return { skip: "the unwritable-folder test runs on Linux only" };
  if (Deno.uid() !== 0) return { wrap: [] };
  const probe = await Deno.makeTempDir({ prefix: "sb-probe-" });
  try {
    await Deno.chmod(probe, 0o555);
    const out = await new Deno.Command("unshare", {
      args: ["--user", "sh", "-c", `touch '${probe}/x' 2>/dev/null && echo wrote || echo denied`],
      stdout: "piped",
      stderr: "null",
    }).output().catch(() => null);
    const said = out === null ? "" : decodeText(out.stdout).trim();
    if (said === "denied") return { wrap: ["unshare", "--user"] };
    return {
      skip: "running as root, where chmod cannot make a folder unwritable, and `unshare --user` " +
        `(to drop root's override) ${
          out === null ? "is missing" : `did not help (${said || "failed"})`
        }`,
    };
  } finally {
    await Deno.chmod(probe, 0o755);
    await Deno.remove(probe, { recursive: true });
  }
}

const unwritable = await unwritableSetup();
if ("skip" in unwritable) {
  console.warn(`faults_test: skipping the unwritable-folder test: ${unwritable.skip}`);
}

/** Sets the mode of the shared folder and every folder under it. */
async function chmodFolders(root: string, mode: number): Promise<void> {
  for await (const e of Deno.readDir(root)) {
    if (e.isDirectory) await chmodFolders(`${root}/${e.name}`, mode);
  }
  await Deno.chmod(root, mode);
}

Deno.test({
  name: "a shared folder that becomes unwritable: PUT and DEL answer ERR 500, chat and reads go on",
  ignore: "skip" in unwritable,
  async fn() {
    if ("skip" in unwritable) return;
    await using dir = await sharedFolder();
    await using server = await startServerProcess(["--files", dir.files], {
      wrap: unwritable.wrap,
    });
    await using w = await watch(server.port, dir);
    const hello = encodeText("hello");
    assert.equal(await w.alice.put("before.txt", hello), sha256(hello), "writable at first");
    await w.alice.del("before.txt");

    await chmodFolders(dir.files, 0o555);
    const up = await connect({ port: server.port, nick: "uploader" });
    try {
      const refused = async (what: string, p: Promise<unknown>, text: RegExp) => {
        const e = await p.then(() => null, (e) => e);
        assert.ok(e instanceof ServerError, `${what}: ${e}`);
        assert.equal(e.code, 500, `${what}: ${e.message}`);
        assert.match(e.message, text, what);
      };
      await refused(
        "PUT of a new file",
        w.alice.put("new.txt", hello),
        /^500 Cannot upload "new.txt": the shared folder is not writable: permission denied on the server$/,
      );
      await refused(
        "PUT over a file",
        w.alice.put("small.txt", hello),
        /^500 Cannot upload "small.txt": the shared folder is not writable: permission denied/,
      );
      await refused(
        "PUT into a new folder",
        w.alice.put("docs/sub/x.txt", hello),
        /^500 Cannot upload "docs\/sub\/x.txt": cannot create its folder: permission denied/,
      );
      await refused(
        "DEL",
        w.alice.del("small.txt"),
        /^500 Cannot delete "small.txt": permission denied on the server$/,
      );
      // Chat, LIST and GET go on; nothing changed.
      await w.check("while the folder is unwritable", 1);
      assert.equal(
        (await download(w.bob, "bin/blob.bin")).bytes.length,
        dir.seeded["bin/blob.bin"]!.length,
      );
      assert.match(
        server.log(),
        /ERROR file error .*Cannot upload \\"new.txt\\": the shared folder is not writable/,
      );

      // An upload that began while the folder was writable and ends after: refused at the rename.
      await chmodFolders(dir.files, 0o755);
      const { source, release } = gatedSource(2 * MiB, MiB);
      const running = up.put("running.bin", source);
      running.catch(() => {});
      await waitFor(
        async () => (await tempSize(dir.files).catch(() => -1)) >= MiB,
        10_000,
        "1 MiB stored",
      );
      await chmodFolders(dir.files, 0o555);
      release();
      await refused(
        "PUT that was running",
        running,
        /^500 Cannot upload "running.bin": permission denied on the server$/,
      );
      // Its temporary cannot be removed from an unwritable folder: hidden, swept at the next start.
      await w.check("after an upload failed at its rename", 1, true);
    } finally {
      up.close();
      await chmodFolders(dir.files, 0o755);
    }
    // Once writable again, uploads work.
    assert.ok((await w.alice.list()).every((e) => !e.name.startsWith(".")));
    assert.equal(await w.alice.put("after.txt", hello), sha256(hello), "writable again");
    await w.alice.del("after.txt");
  },
});
