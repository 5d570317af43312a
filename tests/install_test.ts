/**
 * install.sh against a real local file server (`Deno.serve` on 127.0.0.1, port 0) that plays the
 * GitHub release: it installs an archive whose sha256 matches SHA256SUMS, replaces an older
 * install, and refuses, installing and running nothing, when the checksum is wrong or missing.
 * The script runs under `sh` (dash on Debian), as its users run it.
 */

import assert from "node:assert/strict";
import { hostTarget } from "../.ci/compile.ts";
import { decodeText } from "./helpers/bytes.ts";
import { ROOT } from "./helpers/servers.ts";

const SUPPORTED = Deno.build.os === "linux" || Deno.build.os === "darwin";

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A release folder: this machine's archive of two fake executables, and SHA256SUMS. */
async function makeRelease(
  dir: string,
  version: string,
  marker: string,
): Promise<Uint8Array<ArrayBuffer>> {
  const stage = await Deno.makeTempDir({ prefix: "sb-stage-" });
  try {
    for (const exe of ["switchboard-server", "switchboard"]) {
      // Running it leaves a marker, so the tests can tell whether it ever ran.
      await Deno.writeTextFile(
        `${stage}/${exe}`,
        `#!/bin/sh\necho ran >> '${marker}'\necho ${version}\n`,
        { mode: 0o755 },
      );
    }
    const archive = `${dir}/switchboard-${hostTarget()}.tar.gz`;
    const tar = await new Deno.Command("tar", {
      args: ["-czf", archive, "-C", stage, "switchboard-server", "switchboard"],
    }).output();
    assert.ok(tar.success, decodeText(tar.stderr));
    return await Deno.readFile(archive);
  } finally {
    await Deno.remove(stage, { recursive: true });
  }
}

/** Serves a folder on 127.0.0.1, noting each path asked for. */
function serveFolder(
  dir: string,
): { server: Deno.HttpServer<Deno.NetAddr>; url: string; asked: string[] } {
  const asked: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const name = new URL(req.url).pathname.slice(1);
    asked.push(name);
    try {
      return new Response(await Deno.readFile(`${dir}/${name.replaceAll("/", "")}`));
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return { server, url: `http://127.0.0.1:${server.addr.port}`, asked };
}

async function runInstall(baseUrl: string, tmp: string, args: string[]) {
  const out = await new Deno.Command("sh", {
    args: [`${ROOT}install.sh`, ...args],
    env: { SWITCHBOARD_BASE_URL: baseUrl, TMPDIR: tmp, SWITCHBOARD_VERSION: "" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  return { code: out.code, stdout: decodeText(out.stdout), stderr: decodeText(out.stderr) };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** A folder for one test: the release, the script's TMPDIR, the prefix, the marker. */
async function scratch() {
  const root = await Deno.makeTempDir({ prefix: "sb-install-" });
  for (const d of ["release", "tmp"]) await Deno.mkdir(`${root}/${d}`);
  return {
    release: `${root}/release`,
    tmp: `${root}/tmp`,
    prefix: `${root}/prefix`,
    marker: `${root}/ran`,
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

const asset = `switchboard-${hostTarget()}.tar.gz`;

Deno.test({
  name:
    "install.sh installs the archive whose sha256 SHA256SUMS lists, and replaces an old install",
  ignore: !SUPPORTED,
  async fn() {
    await using s = await scratch();
    const { server, url } = serveFolder(s.release);
    await using _http = server;
    for (const version of ["0.0.9-test", "0.1.0-test"]) {
      const bytes = await makeRelease(s.release, version, s.marker);
      await Deno.writeTextFile(
        `${s.release}/SHA256SUMS`,
        `${"0".repeat(64)}  switchboard-x86_64-pc-windows-msvc.zip\n${await sha256Hex(
          bytes,
        )}  ${asset}\n`,
      );
      const r = await runInstall(url, s.tmp, ["--prefix", s.prefix]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`installed .* ${version} \\(${hostTarget()}\\) in `));
      for (const exe of ["switchboard-server", "switchboard"]) {
        const st = await Deno.stat(`${s.prefix}/bin/${exe}`);
        assert.equal(st.mode! & 0o777, 0o755);
        const v = await new Deno.Command(`${s.prefix}/bin/${exe}`, { args: ["--version"] })
          .output();
        assert.equal(decodeText(v.stdout), `${version}\n`);
      }
      assert.deepEqual([...Deno.readDirSync(s.tmp)], [], "its temporary folder is removed");
      assert.deepEqual(
        [...Deno.readDirSync(`${s.prefix}/bin`)].map((e) => e.name).sort(),
        ["switchboard", "switchboard-server"],
      );
    }
  },
});

Deno.test({
  name:
    "install.sh refuses an archive whose sha256 is not the one listed, or not listed, and runs nothing",
  ignore: !SUPPORTED,
  async fn() {
    await using s = await scratch();
    const { server, url, asked } = serveFolder(s.release);
    await using _http = server;
    const bytes = await makeRelease(s.release, "6.6.6", s.marker);
    const actual = await sha256Hex(bytes);
    // The hash of other bytes: what a tampered or truncated download looks like.
    const wrong = await sha256Hex(bytes.subarray(0, bytes.length - 1));
    const cases: [string, RegExp][] = [
      [
        `${wrong}  ${asset}\n`,
        new RegExp(
          `Refusing to install: the sha256 of ${asset} is ${actual}, but SHA256SUMS says ${wrong}`,
        ),
      ],
      [`${actual}  switchboard-other.tar.gz\n`, /Refusing to install: SHA256SUMS has no line for/],
      ["", /Refusing to install: SHA256SUMS has no line for/],
    ];
    for (const [sums, why] of cases) {
      asked.length = 0;
      await Deno.writeTextFile(`${s.release}/SHA256SUMS`, sums);
      const r = await runInstall(url, s.tmp, ["--prefix", s.prefix]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, why);
      assert.deepEqual(asked, ["SHA256SUMS", asset]);
      assert.equal(await exists(s.prefix), false, "nothing installed");
      assert.equal(await exists(s.marker), false, "nothing it downloaded ran");
      assert.deepEqual([...Deno.readDirSync(s.tmp)], [], "its temporary folder is removed");
    }
    await Deno.remove(`${s.release}/${asset}`);
    await Deno.writeTextFile(`${s.release}/SHA256SUMS`, `${actual}  ${asset}\n`);
    const missing = await runInstall(url, s.tmp, ["--prefix", s.prefix]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, new RegExp(`Cannot download ${url}/${asset}`));
    const bad = await runInstall(url, s.tmp, ["--target", "x86_64-pc-windows-msvc"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /Cannot install x86_64-pc-windows-msvc: .*Linux and macOS/);
  },
});
