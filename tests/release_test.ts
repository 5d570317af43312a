/**
 * The release path, as far as it can be checked without GitHub: shellcheck passes on every shell
 * script of the repository, the release workflow validates (when action-validator is on PATH:
 * `npm install -g @action-validator/cli`), and the workflow, install.sh and .ci/compile.ts agree
 * on the targets and the archive names.
 */

import assert from "node:assert/strict";
import { TARGETS } from "../.ci/compile.ts";
import { decodeText } from "./helpers/bytes.ts";
import { ROOT } from "./helpers/servers.ts";

function available(tool: string, args = ["--version"]): boolean {
  try {
    return new Deno.Command(tool, { args, stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** The repository's files (tracked, and new ones not ignored), relative to the root. */
function repositoryFiles(): string[] {
  const out = new Deno.Command("git", {
    args: ["ls-files", "--cached", "--others", "--exclude-standard", "-z"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  return decodeText(out.stdout).split("\0").filter((f) => f !== "");
}

/** Shell scripts: a .sh name, or a #! line naming sh, bash or dash. */
function shellScripts(): string[] {
  return repositoryFiles().filter((f) => {
    if (f.endsWith(".sh")) return true;
    let head: string;
    try {
      const file = Deno.openSync(`${ROOT}${f}`);
      const buf = new Uint8Array(64);
      const n = file.readSync(buf) ?? 0;
      file.close();
      head = decodeText(buf.subarray(0, n));
    } catch {
      return false; // Deleted, or not a file.
    }
    return /^#!\s*\S*\b(env\s+)?(ba|da)?sh\b/.test(head);
  });
}

const shellcheck = available("shellcheck") && available("git");
if (!shellcheck) console.log("release_test: shellcheck test skipped: shellcheck or git is missing");

Deno.test({
  name: "shellcheck passes on every shell script of the repository",
  ignore: !shellcheck,
  async fn() {
    const scripts = shellScripts();
    for (const must of ["install.sh", ".ci/run", "bench/setup.sh"]) {
      assert.ok(scripts.includes(must), `${must} is found: ${scripts.join(" ")}`);
    }
    const out = await new Deno.Command("shellcheck", {
      args: ["--format", "gcc", ...scripts],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, decodeText(out.stdout) + decodeText(out.stderr));
  },
});

const validator = available("action-validator", ["--help"]);
if (!validator) {
  console.log("release_test: workflow validation skipped: action-validator is not on PATH");
}

Deno.test({
  name: "the release workflow validates against the GitHub Actions schema",
  ignore: !validator,
  async fn() {
    const out = await new Deno.Command("action-validator", {
      args: [`${ROOT}.github/workflows/release.yml`],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, decodeText(out.stdout) + decodeText(out.stderr));
  },
});

Deno.test("the release workflow verifies every compile target on its own runner, with README's Deno, named as install.sh expects", async () => {
  const workflow = await Deno.readTextFile(`${ROOT}.github/workflows/release.yml`);
  const install = await Deno.readTextFile(`${ROOT}install.sh`);
  for (const target of TARGETS) {
    assert.match(workflow, new RegExp(`runner: \\S+, target: ${target} \\}`), target);
    if (!target.includes("windows")) assert.ok(install.includes(target), target);
  }
  assert.match(workflow, /deno task compile:all/);
  assert.match(workflow, /tar -czf "release\/switchboard-\$target\.tar\.gz"/);
  assert.match(install, /^ASSET=switchboard-\$TARGET\.tar\.gz$/m);
  assert.match(workflow, /sha256sum switchboard-\* install\.sh > SHA256SUMS/);
  assert.match(workflow, /deno-version: \$\{\{ env\.DENO_VERSION \}\}/);
  // The Deno the release is built with is the one README's set-up pins.
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const pinned = /npx -y deno@(\d+\.\d+\.\d+) task serve/.exec(readme)?.[1];
  assert.ok(pinned, "README's set-up pins a Deno version");
  assert.ok(workflow.includes(`DENO_VERSION: ${pinned}\n`), `the workflow builds with ${pinned}`);
});
