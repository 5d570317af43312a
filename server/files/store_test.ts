import assert from "node:assert/strict";
import { FileStore, TEMP_PREFIX } from "./store.ts";
import { codeOf, withRoot } from "./_testing.ts";
import { sha256 } from "../../tests/helpers/bytes.ts";
import { tree } from "../../tests/helpers/fs.ts";

const enc = new TextEncoder();

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

Deno.test("an upload creates missing parent folders", async () => {
  await withRoot(async (root, store) => {
    const upload = await store.beginUpload("a/b/c.txt", 1);
    await upload.write(enc.encode("x"));
    await upload.commit();
    assert.equal(await Deno.readTextFile(`${root}/a/b/c.txt`), "x");
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
