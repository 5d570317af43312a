import assert from "node:assert/strict";
import { FileError } from "./errors.ts";
import { checkPath, isUnder } from "./paths.ts";
import { FILE_ERROR_CODES } from "./wire.ts";
import { codeOf, withRoot } from "./_testing.ts";

const LEXICAL: [string, number, string][] = [
  ["", 400, "empty"],
  ["/etc/passwd", 400, "absolute"],
  ["../x", 400, '".." segment'],
  ["a/../../x", 400, '".." segment'],
  ["a/..", 400, '".." segment'],
  ["./a", 400, '"." segment'],
  ["a/./b", 400, '"." segment'],
  ["a//b", 400, "empty segment"],
  ["a/", 400, "empty segment"],
  ["a\\b", 400, "backslash"],
  ["..\\x", 400, "backslash"],
  ["a\0b", 400, "NUL"],
  ["x".repeat(1025), 400, "over 1024 bytes"],
  ["é".repeat(513), 400, "over 1024 bytes"],
  [".sb-upload-1234", 403, "reserved"],
  ["dir/.sb-upload-x/y", 403, "reserved"],
  [".SB-Upload-1234", 403, "reserved"],
];

for (const [path, code, why] of LEXICAL) {
  Deno.test(`checkPath() refuses ${JSON.stringify(path.slice(0, 24))} with ${code} (${why})`, () => {
    try {
      checkPath(path, "get");
    } catch (e) {
      assert.ok(e instanceof FileError);
      assert.equal(FILE_ERROR_CODES[e.kind], code);
      assert.equal(e.kind, code === 400 ? "bad-path" : "reserved");
      assert.match(e.message, /^Cannot get/);
      assert.ok(e.message.includes(why), e.message);
      return;
    }
    assert.fail("accepted");
  });
}

Deno.test("checkPath() accepts ordinary relative paths, dots inside names, and 1024 bytes", () => {
  assert.deepEqual(checkPath("a", "get"), ["a"]);
  assert.deepEqual(checkPath("docs/my notes.txt", "get"), ["docs", "my notes.txt"]);
  assert.deepEqual(checkPath("..a/b..", "get"), ["..a", "b.."]);
  assert.deepEqual(checkPath(".hidden/...", "get"), [".hidden", "..."]);
  assert.deepEqual(checkPath("%2e%2e", "get"), ["%2e%2e"]); // already decoded: a literal name
  assert.equal(checkPath("x".repeat(1024), "get").length, 1);
  assert.deepEqual(checkPath("", "list", true), []);
});

Deno.test("isUnder() is true for the root and its descendants only", () => {
  assert.ok(isUnder("/srv/share", "/srv/share"));
  assert.ok(isUnder("/srv/share", "/srv/share/a"));
  assert.ok(!isUnder("/srv/share", "/srv/shared"));
  assert.ok(!isUnder("/srv/share", "/srv"));
  assert.ok(isUnder("/", "/etc"));
});

Deno.test("resolve() refuses symlinks that lead outside with 403, follows those that stay inside", async () => {
  await withRoot(async (root, store) => {
    const outside = `${root}/../outside`;
    await Deno.mkdir(outside);
    await Deno.writeTextFile(`${outside}/secret`, "s");
    await Deno.mkdir(`${root}/real`);
    await Deno.writeTextFile(`${root}/real/f`, "f");
    await Deno.symlink(`${outside}/secret`, `${root}/out-file`);
    await Deno.symlink(outside, `${root}/out-dir`);
    await Deno.symlink(`${root}/real`, `${root}/in-dir`);
    await Deno.symlink("loop-b", `${root}/loop-a`);
    await Deno.symlink("loop-a", `${root}/loop-b`);
    assert.equal(await codeOf(store.resolve("out-file", "get")), 403);
    assert.equal(await codeOf(store.resolve("out-dir/secret", "get")), 403);
    assert.equal(await codeOf(store.resolve("out-dir/new/deeper", "upload")), 403);
    assert.equal(await codeOf(store.resolve("loop-a", "get")), 403);
    const inside = await store.resolve("in-dir/f", "get");
    assert.equal(inside.real, `${store.rootReal}/real/f`);
    assert.ok(inside.exists);
    const missing = await store.resolve("in-dir/new/x", "upload");
    assert.equal(missing.exists, false);
    assert.equal(missing.real, `${store.rootReal}/real/new/x`);
  });
});
