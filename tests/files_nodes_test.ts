/**
 * Server processes and the shared folder: a server SIGKILLed mid-upload leaves a resumable upload
 * that the next process adopts, so `put` resumes to a byte-identical file; two servers sharing one
 * folder never sweep each other's uploads, and one adopts the other's once it is gone.
 */

import assert from "node:assert/strict";
import { randomBytes, sha256, sha256OfFile } from "./helpers/bytes.ts";
import { addressArgs, runCli, spawnCli } from "./helpers/cli.ts";
import { temporaries } from "./helpers/fs.ts";
import { rawClient } from "./helpers/raw_client.ts";
import { startServerProcess } from "./helpers/servers.ts";
import { waitFor } from "./helpers/wait.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };

Deno.test(
  "a server SIGKILLed mid-upload and restarted: put resumes to a byte-identical verified file",
  opts,
  async () => {
    const files = await Deno.makeTempDir({ prefix: "sb-nodes-" });
    const work = await Deno.makeTempDir({ prefix: "sb-nodes-work-" });
    try {
      const data = randomBytes(8 * 1024 * 1024);
      await Deno.writeFile(`${work}/big.bin`, data);
      {
        await using first = await startServerProcess(["--files", files]);
        await using cli = spawnCli(["put", `${work}/big.bin`, ...addressArgs(first.port)]);
        const at = 1024 * 1024 + Math.floor(Math.random() * 4 * 1024 * 1024);
        await waitFor(
          async () => {
            const t = await temporaries(files);
            return t.length === 1 && (await Deno.stat(`${files}/${t[0]}`)).size >= at;
          },
          20_000,
          "the upload to reach a random byte",
        );
        first.kill("SIGKILL");
        await first.status;
        await cli.exit();
      }
      assert.match(
        (await temporaries(files))[0]!,
        /\.u\./,
        "a resumable upload in progress was left",
      );
      await using second = await startServerProcess(["--files", files]);
      await waitFor(
        async () => (await temporaries(files)).some((t) => t.includes(".k.")),
        10_000,
        "the new server to adopt the upload",
      );
      const r = await runCli(["put", `${work}/big.bin`, "--json", ...addressArgs(second.port)]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(JSON.parse(r.stdout).resumed_from > 1024 * 1024, r.stdout);
      assert.equal(await sha256OfFile(`${files}/big.bin`), sha256(data));
      assert.deepEqual(await temporaries(files), []);
    } finally {
      await Deno.remove(files, { recursive: true });
      await Deno.remove(work, { recursive: true });
    }
  },
);

Deno.test(
  "two server processes sharing one folder do not sweep each other's uploads",
  opts,
  async () => {
    const files = await Deno.makeTempDir({ prefix: "sb-nodes-" });
    const past = new Date(Date.now() - 3600_000);
    try {
      await using a = await startServerProcess(["--files", files, "--upload-resume-ttl", "2h"]);
      // Node A: one plain upload stalled mid-payload, and one kept (cut) upload, both made to look
      // old, as a crash's leftovers would.
      const stalled = await rawClient(a.port);
      await stalled.send("PUT a/stalled.bin 1000000\r\n");
      await stalled.send(new Uint8Array(300_000));
      const cut = await rawClient(a.port);
      await cut.send("PUT a/kept.bin resume 1000000\r\n");
      await cut.send(new Uint8Array(400_000));
      cut.close();
      await waitFor(async () => (await temporaries(files)).length === 2);
      await waitFor(async () => (await temporaries(files)).some((t) => t.includes(".k.")));
      const mine = (await temporaries(files)).sort();
      for (const t of mine) await Deno.utime(`${files}/${t}`, past, past);
      // Node B starts on the same folder: its start-up sweep leaves A's files alone.
      await using b = await startServerProcess(["--files", files, "--upload-resume-ttl", "2s"]);
      await using probe = await rawClient(b.port);
      await probe.line("PING");
      assert.equal(await probe.next(), "PONG");
      await new Promise((r) => setTimeout(r, 1500)); // B's sweep and a few upkeep rounds.
      assert.deepEqual((await temporaries(files)).sort(), mine, b.log());
      // A's stalled upload still completes.
      await stalled.send(new Uint8Array(700_000));
      await stalled.send("\r\n");
      assert.match(await stalled.next(10_000), /^OK [0-9a-f]{64}$/);
      stalled.close();
      // Once A is gone, B adopts A's kept upload (under its own name) and can resume it.
      a.kill("SIGKILL");
      await a.status;
      await waitFor(
        async () => {
          await probe.line("RESUME a/kept.bin 1000000");
          return /^OK 400000 /.test(await probe.next());
        },
        10_000,
        "B to adopt A's kept upload",
      );
      assert.equal((await temporaries(files)).length, 1);
    } finally {
      await Deno.remove(files, { recursive: true });
    }
  },
);
