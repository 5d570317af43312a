/**
 * `deno compile` of both executables (.ci/compile.ts, what `deno task compile` runs), then the
 * executables, started from another working directory, serve and talk to each other.
 *
 * `deno compile` needs Deno's runtime binary `denort`: from `DENORT_BIN`, from Deno's cache, or
 * downloaded from dl.deno.land. When none of these works (machines without internet), this test
 * is skipped with a line saying why; tests/bundle_test.ts covers the same ground on every run.
 *
 * What runs everywhere: a build whose base binary is `deno` itself (`DENORT_BIN=$(which deno)`)
 * is caught by its `--version` and fails, and a failed build leaves no file and no empty folder.
 */

import assert from "node:assert/strict";
import { hostTarget } from "../.ci/compile.ts";
import { VERSION } from "../lib/version.ts";
import { spawnProgram } from "./helpers/cli.ts";
import { ROOT } from "./helpers/servers.ts";
import { decodeText } from "./helpers/bytes.ts";

async function denoDir(): Promise<string | null> {
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return JSON.parse(decodeText(out.stdout)).denoDir ?? null;
  } catch {
    return null;
  }
}

/** Whether a program answers `--version` as deno does (denort does not). */
async function isDeno(program: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(program, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(10_000),
    }).output();
    return /^deno \d/.test(decodeText(out.stdout));
  } catch {
    return false;
  }
}

/** Whether `deno compile` can get `denort` here, and if not, why. */
async function denortAvailability(): Promise<{ ok: boolean; why: string }> {
  const fromEnv = Deno.env.get("DENORT_BIN");
  if (fromEnv !== undefined && fromEnv !== "") {
    try {
      await Deno.stat(fromEnv);
    } catch {
      return { ok: false, why: `DENORT_BIN is set to ${fromEnv}, which does not exist` };
    }
    if (await isDeno(fromEnv)) {
      return { ok: false, why: `DENORT_BIN=${fromEnv} is deno itself, not denort` };
    }
    return { ok: true, why: `DENORT_BIN=${fromEnv}` };
  }
  const zip = `denort-${hostTarget()}.zip`;
  const dir = await denoDir();
  if (dir !== null) {
    try {
      await Deno.stat(`${dir}/dl/release/v${Deno.version.deno}/${zip}`);
      return { ok: true, why: "denort is in Deno's cache" };
    } catch {
      // Not cached: try the download.
    }
  }
  const url = `https://dl.deno.land/release/v${Deno.version.deno}/${zip}`;
  try {
    const r = await fetch(url, { method: "HEAD", signal: AbortSignal.timeout(5000) });
    await r.body?.cancel();
    if (r.ok) return { ok: true, why: `${url} is reachable` };
    return { ok: false, why: `${url} answered ${r.status}` };
  } catch (e) {
    return {
      ok: false,
      why: `denort cannot be downloaded (${url}: ${
        (e as Error).message
      }) and DENORT_BIN is not set`,
    };
  }
}

const availability = await denortAvailability();
if (!availability.ok) console.log(`compile_test: skipped: ${availability.why}`);

Deno.test({
  name:
    "deno compile builds both executables, which print the version, serve and talk from another folder",
  ignore: !availability.ok,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const out = await Deno.makeTempDir({ prefix: "sb-dist-" });
    const elsewhere = await Deno.makeTempDir({ prefix: "sb-cwd-" });
    const files = await Deno.makeTempDir({ prefix: "sb-files-" });
    try {
      const built = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--allow-run",
          "--allow-read",
          "--allow-write",
          `${ROOT}.ci/compile.ts`,
          "--out",
          out,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      assert.ok(
        built.success,
        `compile failed:\n${dec.decode(built.stdout)}${dec.decode(built.stderr)}`,
      );
      const exe = Deno.build.os === "windows" ? ".exe" : "";
      const serverBin = `${out}/switchboard-server${exe}`;
      const clientBin = `${out}/switchboard${exe}`;

      for (const bin of [serverBin, clientBin]) {
        await using p = spawnProgram(bin, ["--version"], { cwd: elsewhere });
        await p.closeStdin();
        assert.equal(await p.exit(), 0, p.stderr);
        assert.equal(p.stdout, `${VERSION}\n`);
      }

      await using server = spawnProgram(serverBin, [
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--files",
        files,
      ], {
        cwd: elsewhere,
      });
      // The log goes to stderr: "... INFO  listening addr=127.0.0.1:40123 ...".
      const listening = await server.waitFor(/listening addr=\S*:(\d+)/, {
        stream: "stderr",
        timeout: 20_000,
      });
      const port = Number(listening[1]);
      const at = ["--port", String(port)];
      await using listener = spawnProgram(clientBin, ["listen", "--json", "--count", "1", ...at], {
        cwd: elsewhere,
      });
      await listener.waitFor(/Listening on lobby/, { stream: "stderr" });
      await using sender = spawnProgram(clientBin, [
        "send",
        "lobby",
        "compiled",
        "--nick",
        "bin",
        ...at,
      ], { cwd: elsewhere });
      await sender.closeStdin();
      assert.equal(await sender.exit(), 0, sender.stderr);
      assert.equal(await listener.exit(), 0, listener.stderr);
      const m = JSON.parse(listener.stdout.trim());
      assert.deepEqual([m.type, m.from, m.text], ["msg", "bin", "compiled"]);
      await using time = spawnProgram(clientBin, ["time", "--json", ...at], { cwd: elsewhere });
      await time.closeStdin();
      assert.equal(await time.exit(), 0, time.stderr);
      assert.ok(Math.abs(JSON.parse(time.stdout).offset_ms) < 1000);
    } finally {
      for (const d of [out, elsewhere, files]) {
        await Deno.remove(d, { recursive: true }).catch(() => {});
      }
    }
  },
});

/** Runs .ci/compile.ts with these arguments and DENORT_BIN. */
async function compile(args: string[], denort: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-run", "--allow-read", "--allow-write", `${ROOT}.ci/compile.ts`, ...args],
    env: { DENORT_BIN: denort },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: decodeText(out.stdout), stderr: decodeText(out.stderr) };
}

Deno.test("compile fails when the result is not ours (DENORT_BIN naming deno) and deletes it", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "sb-dist-" });
  try {
    const out = `${tmp}/dist`;
    const r = await compile(["--out", out], Deno.execPath());
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /built/);
    const exe = Deno.build.os === "windows" ? ".exe" : "";
    for (const name of ["switchboard-server", "switchboard"]) {
      assert.ok(
        r.stderr.includes(
          `Cannot compile ${out}/${name}${exe}: it is not Switchboard: \`${out}/${name}${exe} --version\` printed "deno ${Deno.version.deno}`,
        ),
        r.stderr,
      );
    }
    assert.match(r.stderr, /DENORT_BIN must name denort, Deno's runtime binary, not deno/);
    assert.deepEqual([...Deno.readDirSync(tmp)], [], "no file and no empty dist/ left");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("a failed compile leaves no empty dist/<target>/ folder and keeps folders it did not make", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "sb-dist-" });
  try {
    await Deno.mkdir(`${tmp}/dist/keep`, { recursive: true });
    const r = await compile(
      ["--out", `${tmp}/dist`, "--target", hostTarget()],
      `${tmp}/no-such-denort`,
    );
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /DENORT_BIN names .*no-such-denort, which does not exist/);
    const left = [...Deno.readDirSync(`${tmp}/dist`)].map((e) => e.name);
    assert.deepEqual(left, ["keep"]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
