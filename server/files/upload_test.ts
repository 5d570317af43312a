import assert from "node:assert/strict";
import { TEMP_PREFIX } from "./paths.ts";
import { codeOf, withRoot } from "./_testing.ts";
import { sha256 } from "../../tests/helpers/bytes.ts";
import { tree } from "../../tests/helpers/fs.ts";

const enc = new TextEncoder();

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
