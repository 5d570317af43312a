import assert from "node:assert/strict";
import { checkPath, describeIoError, FileError, FileStore, isUnder, TEMP_PREFIX } from "./store.ts";
import { sha256 } from "../../tests/helpers/bytes.ts";
import { tree } from "../../tests/helpers/fs.ts";

const enc = new TextEncoder();

async function withRoot(fn: (root: string, store: FileStore) => Promise<void>): Promise<void> {
  const base = await Deno.makeTempDir({ prefix: "sb-store-" });
  try {
    await fn(`${base}/share`, FileStore.create(`${base}/share`));
  } finally {
    await Deno.remove(base, { recursive: true });
  }
}

async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FileError) return e.code;
    throw e;
  }
  throw new Error("expected a FileError");
}

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
      assert.equal(e.code, code);
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

Deno.test("describeIoError() names the problem without the server's paths", () => {
  const denied = new Deno.errors.PermissionDenied(
    "Permission denied (os error 13): open '/srv/share/x'",
  );
  assert.equal(describeIoError(denied), "permission denied on the server");
  const full = Object.assign(new Error("No space left on device (os error 28): write '/srv/x'"), {
    code: "ENOSPC",
  });
  assert.equal(describeIoError(full), "no space left on the server's disk");
  assert.equal(
    describeIoError(new Error("Something odd (os error 99): '/secret/path'")),
    "something odd",
  );
});

Deno.test("FileStore.create() makes the shared folder and its parents", async () => {
  await withRoot(async (root) => {
    assert.ok((await Deno.stat(root)).isDirectory);
    FileStore.create(`${root}/deeper/still`);
    assert.ok((await Deno.stat(`${root}/deeper/still`)).isDirectory);
  });
});

Deno.test("FileStore.create() refuses a path that is a file", async () => {
  await withRoot(async (root) => {
    await Deno.writeTextFile(`${root}/f`, "x");
    assert.throws(() => FileStore.create(`${root}/f`), /Cannot share folder/);
  });
});

Deno.test("resolve() decodes once and refuses a bad escape with 400", async () => {
  await withRoot(async (_root, store) => {
    assert.equal((await store.resolve("my%20notes.txt", "get")).path, "my notes.txt");
    assert.equal((await store.resolve("%252e%252e", "get")).path, "%2e%2e");
    assert.equal(await codeOf(store.resolve("a%zz", "get")), 400);
    assert.equal(await codeOf(store.resolve("%2e%2e/x", "get")), 400);
    assert.equal(await codeOf(store.resolve("a%00b", "get")), 400);
    // An encoded slash is a slash once decoded.
    assert.deepEqual((await store.resolve("a%2Fb", "get")).segments, ["a", "b"]);
  });
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

Deno.test("an upload is invisible until commit, then replaces the old version atomically", async () => {
  await withRoot(async (root, store) => {
    await Deno.writeTextFile(`${root}/f.txt`, "old");
    const upload = await store.beginUpload("f.txt", 3);
    await upload.write(enc.encode("new"));
    assert.equal(await Deno.readTextFile(`${root}/f.txt`), "old");
    assert.deepEqual((await store.list()).map((e) => e.name), ["f.txt"]);
    assert.equal((await tree(root)).filter((n) => n.startsWith(TEMP_PREFIX)).length, 1);
    assert.equal(await upload.commit(), sha256(enc.encode("new")));
    assert.equal(await Deno.readTextFile(`${root}/f.txt`), "new");
    assert.deepEqual(await tree(root), ["f.txt"]);
  });
});

Deno.test("an upload creates missing parent folders", async () => {
  await withRoot(async (root, store) => {
    const upload = await store.beginUpload("a/b/c.txt", 1);
    await upload.write(enc.encode("x"));
    await upload.commit();
    assert.equal(await Deno.readTextFile(`${root}/a/b/c.txt`), "x");
  });
});

Deno.test("an upload with the wrong sha256 fails with 409 and leaves the old version", async () => {
  await withRoot(async (root, store) => {
    await Deno.writeTextFile(`${root}/f.txt`, "old");
    const upload = await store.beginUpload("f.txt", 3, "0".repeat(64));
    await upload.write(enc.encode("new"));
    assert.equal(await codeOf(upload.commit()), 409);
    assert.deepEqual(await tree(root), ["f.txt"]);
    assert.equal(await Deno.readTextFile(`${root}/f.txt`), "old");
  });
});

Deno.test("an aborted upload leaves nothing behind", async () => {
  await withRoot(async (root, store) => {
    const upload = await store.beginUpload("f.txt", 10);
    await upload.write(enc.encode("12345"));
    await upload.abort();
    await upload.abort(); // idempotent
    assert.deepEqual(await tree(root), []);
    assert.equal(store.activeUploads, 0);
  });
});

Deno.test("uploads are refused: read-only 403, past max_file_size 413, onto a folder or under a file 409", async () => {
  await withRoot(async (root) => {
    await Deno.mkdir(`${root}/dir`);
    await Deno.writeTextFile(`${root}/file`, "x");
    const ro = FileStore.create(root, { readOnly: true });
    assert.equal(await codeOf(ro.beginUpload("x", 1)), 403);
    assert.equal(await codeOf(ro.remove("file")), 403);
    const small = FileStore.create(root, { maxFileSize: 10 });
    assert.equal(await codeOf(small.beginUpload("x", 11)), 413);
    const store = FileStore.create(root);
    assert.equal(await codeOf(store.beginUpload("dir", 1)), 409);
    assert.equal(await codeOf(store.beginUpload("file/x", 1)), 409);
    assert.deepEqual(await tree(root), ["dir", "file"]);
  });
});

Deno.test("list() leaves out temporaries, symlinks leading outside or nowhere, and sorts by name", async () => {
  await withRoot(async (root, store) => {
    await Deno.mkdir(`${root}/../outside`);
    await Deno.writeTextFile(`${root}/b.txt`, "bb");
    await Deno.mkdir(`${root}/a`);
    await Deno.writeTextFile(`${root}/${TEMP_PREFIX}abc`, "partial");
    await Deno.symlink(`${root}/../outside`, `${root}/out`);
    await Deno.symlink(`${root}/nowhere`, `${root}/dangling`);
    await Deno.symlink(`${root}/b.txt`, `${root}/c-link`);
    const rows = await store.list();
    assert.deepEqual(rows.map((r) => [r.name, r.type, r.size]), [["a", "dir", 0], [
      "b.txt",
      "file",
      2,
    ], [
      "c-link",
      "file",
      2,
    ]]);
    assert.ok(rows.every((r) => Number.isInteger(r.mtime) && r.mtime > 0));
  });
});

Deno.test("remove() deletes files, links (not their targets) and empty folders; 409 for a full one", async () => {
  await withRoot(async (root, store) => {
    await Deno.mkdir(`${root}/full`);
    await Deno.writeTextFile(`${root}/full/f`, "x");
    await Deno.mkdir(`${root}/empty`);
    await Deno.symlink(`${root}/full`, `${root}/link`);
    assert.equal(await store.remove("link"), "link");
    assert.ok((await Deno.stat(`${root}/full/f`)).isFile);
    assert.equal(await codeOf(store.remove("full")), 409);
    assert.equal(await store.remove("empty"), "empty");
    assert.equal(await store.remove("full/f"), "full/f");
    assert.equal(await codeOf(store.remove("full/f")), 404);
    assert.deepEqual(await tree(root), ["full"]);
  });
});

Deno.test("sweep() removes old temporaries anywhere, but not those of uploads in progress", async () => {
  await withRoot(async (root, store) => {
    const past = new Date(Date.now() - 3600_000);
    await Deno.mkdir(`${root}/d/e`, { recursive: true });
    for (const name of [`${TEMP_PREFIX}1`, `d/e/${TEMP_PREFIX}2`]) {
      await Deno.writeTextFile(`${root}/${name}`, "x");
      await Deno.utime(`${root}/${name}`, past, past);
    }
    await Deno.writeTextFile(`${root}/d/keep.txt`, "x");
    await Deno.utime(`${root}/d/keep.txt`, past, past);
    // An upload of this process, even with an old mtime, is not swept.
    const running = await store.beginUpload("d/new.txt", 1);
    await Deno.utime(running.temp, past, past);
    // A temporary written after the sweep began (another process's fresh upload) is not swept.
    const fresh = `${root}/d/${TEMP_PREFIX}fresh`;
    await Deno.writeTextFile(fresh, "x");
    await Deno.utime(fresh, new Date(Date.now() + 60_000), new Date(Date.now() + 60_000));
    assert.equal(await store.sweep(), 2);
    const left = await tree(root);
    assert.deepEqual(left.filter((n) => !n.includes(TEMP_PREFIX)), ["d", "d/e", "d/keep.txt"]);
    assert.equal(left.filter((n) => n.includes(TEMP_PREFIX)).length, 2);
    await running.write(enc.encode("y"));
    await running.commit();
    assert.equal(await Deno.readTextFile(`${root}/d/new.txt`), "y");
    assert.ok((await Deno.stat(fresh)).isFile);
  });
});

Deno.test("uploads past the buffer budget write straight to disk, and the budget is given back", async () => {
  await withRoot(async (root) => {
    const store = FileStore.create(root, { bufferBudget: 2 * 256 * 1024 });
    const big = crypto.getRandomValues(new Uint8Array(65536));
    const a = await store.beginUpload("a.bin", 4 * 65536);
    assert.equal(store.bufferedBytes, 2 * 256 * 1024);
    const b = await store.beginUpload("b.bin", 4 * 65536); // no room left: direct writes
    assert.equal(store.bufferedBytes, 2 * 256 * 1024);
    for (let i = 0; i < 4; i++) {
      await a.write(big);
      await b.write(big);
    }
    // Direct writes are on disk as soon as write() resolves; buffered ones may still wait.
    assert.equal((await Deno.stat(b.temp)).size, 4 * 65536);
    const whole = new Uint8Array(4 * 65536);
    for (let i = 0; i < 4; i++) whole.set(big, i * 65536);
    assert.equal(await a.commit(), sha256(whole));
    assert.equal(await b.commit(), sha256(whole));
    assert.deepEqual(await Deno.readFile(`${root}/a.bin`), whole);
    assert.deepEqual(await Deno.readFile(`${root}/b.bin`), whole);
    assert.equal(store.bufferedBytes, 0);
    const c = await store.beginUpload("c.bin", 10);
    assert.equal(store.bufferedBytes, 20); // a small file takes small buffers
    await c.abort();
    assert.equal(store.bufferedBytes, 0);
  });
});
