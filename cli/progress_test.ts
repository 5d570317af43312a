import assert from "node:assert/strict";
import { ProgressBar, renderProgress } from "./progress.ts";
import { formatBytes, formatEta, makeStyles, nickColorIndex } from "./term.ts";

Deno.test("renderProgress shows percentage, bytes, rate and ETA within the width", () => {
  const line = renderProgress({
    label: "big.iso",
    done: 1.5 * 1024 ** 3,
    total: 3 * 1024 ** 3,
    rate: 100 * 1024 ** 2,
  }, 100);
  assert.match(line, /^big\.iso {2} 50% \[=+> +\] 1\.5 GiB \/ 3\.0 GiB {2}100 MiB\/s {2}ETA 0:15$/);
  assert.ok([...line].length <= 99, `${[...line].length}`);
  for (const cols of [20, 40, 60, 80, 200]) {
    const l = renderProgress({
      label: "a/very/long/path/to/some/file.tar.gz",
      done: 10,
      total: 1000,
      rate: NaN,
    }, cols);
    assert.ok([...l].length <= cols - 1, `${cols}: ${l}`);
  }
  const narrow = renderProgress({ label: "f", done: 5, total: 10, rate: NaN }, 40);
  assert.match(narrow, /^f {2} 50% 5 B \/ 10 B {2}--\/s {2}ETA --:--$/);
  const done = renderProgress({ label: "f", done: 10, total: 10, rate: 5 }, 80);
  assert.match(done, /100% \[=+\] 10 B \/ 10 B {2}5 B\/s {2}done$/);
  const empty = renderProgress({ label: "empty", done: 0, total: 0, rate: NaN }, 80);
  assert.match(empty, /100%/);
});

Deno.test("ProgressBar measures the rate over recent samples and draws nothing when disabled", () => {
  let t = 0;
  const bar = new ProgressBar("x", { enabled: false, now: () => t });
  bar.update({ done: 0, total: 1000 });
  assert.ok(Number.isNaN(bar.rate));
  t = 1000;
  bar.update({ done: 100, total: 1000 });
  assert.equal(bar.rate, 100);
  t = 5000;
  bar.update({ done: 900, total: 1000 });
  // The first samples fell out of the two-second window: 800 bytes in the last 4 s.
  assert.equal(bar.rate, 200);
  bar.finish();
  bar.clear();
});

Deno.test("terminal helpers format sizes and durations, and colour a nick the same in any case", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1023), "1023 B");
  assert.equal(formatBytes(1024), "1.0 KiB");
  assert.equal(formatBytes(150 * 1024 ** 2), "150 MiB");
  assert.equal(formatEta(59), "0:59");
  assert.equal(formatEta(3661), "1:01:01");
  assert.equal(formatEta(NaN), "--:--");
  assert.equal(nickColorIndex("Alice"), nickColorIndex("aLiCe"));
  const on = makeStyles(true);
  const off = makeStyles(false);
  assert.equal(off.nick("bob"), "bob");
  // deno-lint-ignore no-control-regex
  assert.match(on.nick("bob"), /^\x1b\[[0-9;]+mbob\x1b\[39m$/);
  assert.equal(on.nick("bob"), on.nick("bob"));
  // Different nicks spread over the palette.
  const colors = new Set(
    ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"].map(nickColorIndex),
  );
  assert.ok(colors.size >= 4, `${colors.size}`);
});
