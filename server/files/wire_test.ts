import assert from "node:assert/strict";
import { FileError } from "./errors.ts";
import { decodeWirePath, toWireError, WireError } from "./wire.ts";
import { FileStore } from "./store.ts";
import { codeOf, withRoot } from "./_testing.ts";

/** What the file commands do with a path from the wire: decode it once, then resolve it. */
async function resolveWire(store: FileStore, wire: string, action: string) {
  return await store.resolve(decodeWirePath(wire, action), action);
}

async function wireErrorOf(p: Promise<unknown>, sent?: string): Promise<WireError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof FileError) return toWireError(e, sent);
    if (e instanceof WireError) return e;
    throw e;
  }
  throw new Error("expected a FileError");
}

Deno.test("resolve() decodes once and refuses a bad escape with 400", async () => {
  await withRoot(async (_root, store) => {
    assert.equal((await resolveWire(store, "my%20notes.txt", "get")).path, "my notes.txt");
    assert.equal((await resolveWire(store, "%252e%252e", "get")).path, "%2e%2e");
    assert.equal(await codeOf(resolveWire(store, "a%zz", "get")), 400);
    assert.equal(await codeOf(resolveWire(store, "%2e%2e/x", "get")), 400);
    assert.equal(await codeOf(resolveWire(store, "a%00b", "get")), 400);
    // An encoded slash is a slash once decoded.
    assert.deepEqual((await resolveWire(store, "a%2Fb", "get")).segments, ["a", "b"]);
  });
});

Deno.test("decodeWirePath() refuses a bad escape with 400, quoting the path as sent", () => {
  assert.throws(
    () => decodeWirePath("a%zz", "get"),
    (e: unknown) =>
      e instanceof WireError && e.code === 400 &&
      e.message === 'Cannot get "a%zz": bad percent escape or not UTF-8 (write a literal % as %25)',
  );
});

Deno.test("toWireError() gives the ERR code of the kind and shows the path percent-encoded", async () => {
  await withRoot(async (root, store) => {
    await Deno.mkdir(`${root}/full dir`);
    await Deno.writeTextFile(`${root}/full dir/f`, "x");
    const cases: [() => Promise<unknown>, number, string][] = [
      [() => store.open("no such/é.txt"), 404, 'Cannot get "no%20such/%C3%A9.txt": no such file'],
      [() => store.open("a b/../x"), 400, 'Cannot get "a%20b/../x": the path has a ".." segment'],
      [() => store.open(""), 400, "Cannot get: the path is empty"],
      [() => store.open("full dir"), 400, 'Cannot get "full%20dir": it is a folder'],
      [() => store.list("nope"), 404, 'Cannot list "nope": no such folder'],
      [
        () => store.list("full dir/f"),
        400,
        'Cannot list "full%20dir/f": it is a file, not a folder',
      ],
      [() => store.remove("full dir"), 409, 'Cannot delete "full%20dir": the folder is not empty'],
      [
        () => store.beginUpload("full dir", 1),
        409,
        'Cannot upload "full%20dir": a folder has that name',
      ],
      [
        () => store.open("x/.sb-upload-1"),
        403,
        'Cannot get "x/.sb-upload-1": names starting with .sb-upload- are reserved for uploads in progress',
      ],
    ];
    for (const [p, code, text] of cases) {
      const w = await wireErrorOf(p());
      assert.deepEqual([w.code, w.message], [code, text]);
    }
    const root404 = toWireError(
      new FileError("not-found", "list", "no such folder", { path: "", root: true }),
    );
    assert.deepEqual([root404.code, root404.message], [
      404,
      "Cannot list the shared folder: no such folder",
    ]);
    await Deno.remove(root, { recursive: true });
    const missing = await wireErrorOf(store.list());
    assert.deepEqual([missing.code, missing.message], [
      500,
      "Cannot list: the shared folder is missing",
    ]);
  });
});

Deno.test("toWireError() names the path as sent for refusals made before it is decoded", async () => {
  await withRoot(async (root) => {
    const ro = FileStore.create(root, { readOnly: true, maxFileSize: 10 });
    const upload = await wireErrorOf(Promise.resolve().then(() => ro.checkUpload(1)), "a%zz");
    assert.deepEqual([upload.code, upload.message], [
      403,
      'Cannot upload "a%zz": the server is read-only',
    ]);
    const del = await wireErrorOf(Promise.resolve().then(() => ro.checkDelete()), "%41");
    assert.deepEqual([del.code, del.message], [
      403,
      'Cannot delete "%41": the server is read-only',
    ]);
    const small = FileStore.create(root, { maxFileSize: 10 });
    const big = await wireErrorOf(Promise.resolve().then(() => small.checkUpload(11)), "b%20c");
    assert.deepEqual([big.code, big.message], [
      413,
      'Cannot upload "b%20c": 11 bytes is over max_file_size (10 bytes)',
    ]);
    // Called with a plain path, the store names it in its message.
    await assert.rejects(
      ro.beginUpload("a b", 1),
      (e: unknown) =>
        e instanceof FileError && e.kind === "read-only" &&
        e.message === 'Cannot upload "a b": the server is read-only',
    );
  });
});
