import assert from "node:assert/strict";
import { FileChangedError, HashCache, hashFile, versionOf } from "./hash_cache.ts";
import { sha256 } from "../../tests/helpers/bytes.ts";

async function tempFile(bytes: Uint8Array): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "sb-hash-" });
  await Deno.writeFile(path, bytes);
  return path;
}

Deno.test("hashFile() hashes a file in chunks smaller than the file", async () => {
  const bytes = crypto.getRandomValues(new Uint8Array(50_000));
  const path = await tempFile(bytes);
  try {
    using file = await Deno.open(path);
    assert.equal(await hashFile(file, bytes.length, 4096), sha256(bytes));
    // From the start again, whatever the position was.
    assert.equal(await hashFile(file, bytes.length, 7), sha256(bytes));
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("hashFile() of an empty file is the sha256 of nothing", async () => {
  const path = await tempFile(new Uint8Array(0));
  try {
    using file = await Deno.open(path);
    assert.equal(await hashFile(file, 0), sha256(new Uint8Array(0)));
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("hashFile() rejects a file that is shorter than the size it was stat'ed with", async () => {
  const path = await tempFile(new Uint8Array(10));
  try {
    using file = await Deno.open(path);
    await assert.rejects(hashFile(file, 20), FileChangedError);
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("HashCache hashes a version once and serves it from the cache after", async () => {
  const bytes = new TextEncoder().encode("hello");
  const path = await tempFile(bytes);
  try {
    const cache = new HashCache();
    using file = await Deno.open(path);
    const version = versionOf(await file.stat());
    assert.equal(cache.get(path, version), undefined);
    assert.equal(await cache.hash(path, version, file), sha256(bytes));
    assert.equal(cache.get(path, version), sha256(bytes));
    // A cached hash does not read the file: a closed handle proves it.
    const closed = await Deno.open(path);
    closed.close();
    assert.equal(await cache.hash(path, version, closed), sha256(bytes));
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("HashCache forgets a hash when the size, mtime or inode changes", () => {
  const cache = new HashCache();
  const v = { size: 5, mtime: 1000, ino: 7, dev: 1 };
  cache.set("/f", v, "a".repeat(64));
  assert.equal(cache.get("/f", { ...v, size: 6 }), undefined);
  cache.set("/f", v, "a".repeat(64));
  assert.equal(cache.get("/f", { ...v, mtime: 1001 }), undefined);
  cache.set("/f", v, "a".repeat(64));
  assert.equal(cache.get("/f", { ...v, ino: 8 }), undefined);
  cache.set("/f", v, "a".repeat(64));
  assert.equal(cache.get("/f", v), "a".repeat(64));
});

Deno.test("HashCache shares one computation among readers of the same version", async () => {
  const bytes = crypto.getRandomValues(new Uint8Array(65_536));
  const path = await tempFile(bytes);
  try {
    const cache = new HashCache({ chunkSize: 1024 });
    using a = await Deno.open(path);
    const closed = await Deno.open(path);
    closed.close();
    const version = versionOf(await a.stat());
    // The second reader's handle is closed: it can only succeed by sharing the first computation.
    const [x, y] = await Promise.all([
      cache.hash(path, version, a),
      cache.hash(path, version, closed),
    ]);
    assert.equal(x, sha256(bytes));
    assert.equal(y, sha256(bytes));
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("HashCache keeps at most maxEntries files, dropping the least recently used", () => {
  const cache = new HashCache({ maxEntries: 2 });
  const v = { size: 1, mtime: 1, ino: null, dev: null };
  cache.set("/a", v, "a");
  cache.set("/b", v, "b");
  assert.equal(cache.get("/a", v), "a"); // /a is now the most recent
  cache.set("/c", v, "c");
  assert.equal(cache.size, 2);
  assert.equal(cache.get("/b", v), undefined);
  assert.equal(cache.get("/a", v), "a");
  assert.equal(cache.get("/c", v), "c");
});

Deno.test("HashCache refuses a maxEntries below 1", () => {
  assert.throws(() => new HashCache({ maxEntries: 0 }), RangeError);
});

Deno.test("HashCache hashes at most maxConcurrent files at once; the others wait their turn", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sb-hash-" });
  try {
    const cache = new HashCache({ maxConcurrent: 1, chunkSize: 1024 });
    const files: Deno.FsFile[] = [];
    const versions: ReturnType<typeof versionOf>[] = [];
    for (let i = 0; i < 3; i++) {
      await Deno.writeTextFile(`${dir}/${i}`, `file ${i}`.repeat(1000));
      const f = await Deno.open(`${dir}/${i}`);
      files.push(f);
      versions.push(versionOf(await f.stat()));
    }
    // All three asked for in the same tick, so the first cannot finish before the others queue.
    const jobs = files.map((f, i) => cache.hash(`${dir}/${i}`, versions[i]!, f));
    // The second and third wait: closing their handles before their turn makes them fail, while the
    // first, already running, succeeds.
    files[1]!.close();
    files[2]!.close();
    const results = await Promise.allSettled(jobs);
    assert.equal(results[0]!.status, "fulfilled");
    assert.equal(results[1]!.status, "rejected");
    assert.equal(results[2]!.status, "rejected");
    files[0]!.close();
    // The slots were given back: a new file hashes.
    await Deno.writeTextFile(`${dir}/3`, "x");
    using f = await Deno.open(`${dir}/3`);
    assert.equal(
      await cache.hash(`${dir}/3`, versionOf(await f.stat()), f),
      sha256(new TextEncoder().encode("x")),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
