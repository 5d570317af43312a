/**
 * Resumable uploads and create-only uploads over real sockets: `PUT ... resume` cut at a random
 * byte keeps its prefix (hidden), `RESUME` says how much, `PUT ... from=` sends the rest and the
 * result is byte-identical and verified; kept uploads expire, stay under their quota, and two
 * clients resuming the same upload cannot both append to it; `PUT ... new` never replaces a file.
 */

import assert from "node:assert/strict";
import { bytes, prng, randomBytes, sha256 } from "./helpers/bytes.ts";
import { temporaries, tree } from "./helpers/fs.ts";
import { type RawClient, rawClient } from "./helpers/raw_client.ts";
import { startTestServer } from "./helpers/servers.ts";
import { waitFor } from "./helpers/wait.ts";

const EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** Sends a PUT line and the first `cut` bytes of `data`, then closes the socket. */
async function cutUpload(port: number, line: string, data: Uint8Array, cut: number) {
  const c = await rawClient(port);
  await c.send(`${line} ${data.length}\r\n`);
  await c.send(data.subarray(0, cut));
  c.close();
}

async function reply(c: RawClient): Promise<string> {
  return await c.next(10_000);
}

Deno.test("PUT resume cut at a random byte keeps its prefix; RESUME and PUT from= finish it byte-identical", async () => {
  await using server = await startTestServer();
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const sha = sha256(data);
  const cut = 1 + Math.floor(prng(Date.now())() * (data.length - 2));
  await cutUpload(server.port, `PUT docs/big.bin ${sha} resume`, data, cut);
  // The prefix is kept: hidden from LIST, unreachable by name.
  await waitFor(async () => (await temporaries(server.files)).some((t) => /\.k\./.test(t)));
  await using c = await rawClient(server.port);
  await c.line("LIST docs");
  assert.equal(new TextDecoder().decode((await c.frame()).payload!), "[]");
  await c.line(`RESUME docs/big.bin ${data.length} ${sha}`);
  const [ok, have, prefix] = (await reply(c)).split(" ");
  assert.equal(ok, "OK");
  const kept = Number(have);
  assert.ok(kept > 0 && kept <= cut, `kept ${kept} of ${cut}`);
  assert.equal(prefix, sha256(data.subarray(0, kept)));
  await c.send(`PUT docs/big.bin ${sha} from=${kept} ${data.length - kept}\r\n`);
  await c.send(data.subarray(kept));
  await c.send("\r\n");
  assert.equal(await reply(c), `OK ${sha}`);
  assert.equal(sha256(await Deno.readFile(`${server.files}/docs/big.bin`)), sha);
  assert.deepEqual(await temporaries(server.files), []);
  // Nothing is kept any more.
  await c.line(`RESUME docs/big.bin ${data.length} ${sha}`);
  assert.equal(await reply(c), `OK 0 ${EMPTY}`);
});

Deno.test("a PUT without resume that is cut leaves nothing; one without a sha256 resumes by size", async () => {
  await using server = await startTestServer();
  const data = randomBytes(600_000);
  await cutUpload(server.port, "PUT plain.bin", data, 300_000);
  await waitFor(async () => (await temporaries(server.files)).length === 0);
  await cutUpload(server.port, "PUT nosha.bin resume", data, 300_000);
  await waitFor(async () => (await temporaries(server.files)).length === 1);
  await using c = await rawClient(server.port);
  await c.line(`RESUME nosha.bin ${data.length} ${sha256(data)}`);
  const [, have, prefix] = (await reply(c)).split(" ");
  assert.equal(prefix, sha256(data.subarray(0, Number(have))));
  await c.send(`PUT nosha.bin from=${have} ${data.length - Number(have)}\r\n`);
  await c.send(bytes(data.subarray(Number(have)), "\r\n"));
  assert.equal(await reply(c), `OK ${sha256(data)}`);
  assert.deepEqual(await tree(server.files), ["nosha.bin"]);
});

Deno.test("RESUME and PUT options refuse what they cannot do, and the connection goes on", async () => {
  await using server = await startTestServer();
  await using c = await rawClient(server.port);
  await c.line("RESUME a.txt");
  assert.equal(await reply(c), "ERR 400 Usage: RESUME path size [sha256]");
  await c.line("RESUME a.txt 12x");
  assert.equal(await reply(c), 'ERR 400 Cannot resume: size "12x" is not a whole number of bytes');
  await c.line("RESUME a.txt 5 abc");
  assert.equal(await reply(c), "ERR 400 Cannot resume: the sha256 must be 64 hex digits");
  await c.line("RESUME ../a 5");
  assert.equal(await reply(c), 'ERR 400 Cannot upload "../a": the path has a ".." segment');
  await c.line(`RESUME a.txt ${2 * 1024 ** 4}`);
  assert.match(await reply(c), /^ERR 413 Cannot upload "a.txt": .* over max_file_size/);
  await c.line("RESUME a.txt 5");
  assert.equal(await reply(c), `OK 0 ${EMPTY}`);
  // from= with nothing kept: 409, the bytes are skipped.
  await c.send("PUT a.txt from=3 2\r\nhi\r\n");
  assert.equal(
    await reply(c),
    'ERR 409 Cannot upload "a.txt": the server keeps no part of it to resume; send RESUME, then PUT from the offset it gives',
  );
  await c.send("PUT a.txt resume bogus 2\r\nhi\r\n");
  assert.equal(await reply(c), "ERR 400 Usage: PUT path N, or PUT path sha256 N");
  await c.send("PUT a.txt new new 2\r\nhi\r\n");
  assert.equal(await reply(c), "ERR 400 Usage: PUT path N, or PUT path sha256 N");
  await c.send("PUT a.txt from=-1 2\r\nhi\r\n");
  assert.equal(await reply(c), "ERR 400 Cannot upload: the sha256 must be 64 hex digits");
  // A kept upload of another size: 409 naming what is kept.
  await cutUpload(server.port, "PUT b.bin resume", new Uint8Array(1000), 400);
  await waitFor(async () => (await temporaries(server.files)).length === 1);
  await c.send("PUT b.bin from=300 700\r\n");
  await c.send(bytes(new Uint8Array(700), "\r\n"));
  assert.equal(
    await reply(c),
    'ERR 409 Cannot upload "b.bin": the server keeps 400 bytes of it, not 300; send RESUME, then PUT from the offset it gives',
  );
  await c.line("PING");
  assert.equal(await reply(c), "PONG");
  assert.equal((await temporaries(server.files)).length, 1, "the kept upload stays");
});

Deno.test("PUT new creates a file, and refuses to replace one (409) leaving it untouched", async () => {
  await using server = await startTestServer();
  await using c = await rawClient(server.port);
  await c.send("PUT n/a.txt new 3\r\none\r\n");
  assert.equal(await reply(c), `OK ${sha256(bytes("one"))}`);
  await c.send("PUT n/a.txt new 3\r\ntwo\r\n");
  assert.equal(
    await reply(c),
    'ERR 409 Cannot upload "n/a.txt": a file has that name (the upload was sent with new: nothing replaced)',
  );
  assert.equal(await Deno.readTextFile(`${server.files}/n/a.txt`), "one");
  // The file appears while the upload is in flight: refused at commit, atomically.
  await c.send("PUT n/b.txt new 6\r\nhal");
  await waitFor(async () => (await temporaries(server.files)).length === 1);
  await Deno.writeTextFile(`${server.files}/n/b.txt`, "theirs");
  await c.send("f!\r\n");
  assert.match(await reply(c), /^ERR 409 Cannot upload "n\/b.txt": a file has that name/);
  assert.equal(await Deno.readTextFile(`${server.files}/n/b.txt`), "theirs");
  assert.deepEqual(await temporaries(server.files), []);
  // Without new, a file is replaced as before.
  await c.send("PUT n/b.txt 4\r\nmine\r\n");
  assert.equal(await reply(c), `OK ${sha256(bytes("mine"))}`);
});

Deno.test("an expired kept upload is swept", async () => {
  await using server = await startTestServer({ uploadResumeTtl: 600 });
  await cutUpload(server.port, "PUT old.bin resume", new Uint8Array(1_000_000), 500_000);
  await waitFor(async () => (await temporaries(server.files)).length === 1);
  await waitFor(async () => (await temporaries(server.files)).length === 0, 5000, "the expiry");
  await using c = await rawClient(server.port);
  await c.line("RESUME old.bin 1000000");
  assert.equal(await reply(c), `OK 0 ${EMPTY}`);
});

Deno.test("kept uploads stay under --upload-resume-space: the oldest goes first", async () => {
  await using server = await startTestServer({ uploadResumeSpace: 1_000_000 });
  // Two kept uploads of 600 KB do not fit in 1 MB: the older one goes.
  await cutUpload(server.port, "PUT q1.bin resume", new Uint8Array(900_000), 600_000);
  await waitFor(async () => (await temporaries(server.files)).length === 1);
  await cutUpload(server.port, "PUT q2.bin resume", new Uint8Array(900_000), 600_000);
  await using c = await rawClient(server.port);
  await waitFor(
    async () => {
      await c.line("RESUME q2.bin 900000");
      return /^OK [1-9][0-9]* /.test(await reply(c));
    },
    5000,
    "q2 to be kept",
  );
  await c.line("RESUME q1.bin 900000");
  assert.equal(await reply(c), `OK 0 ${EMPTY}`);
  assert.equal((await temporaries(server.files)).length, 1);
});

Deno.test("two clients resuming the same upload: one appends, the other is refused, the file is intact", async () => {
  await using server = await startTestServer();
  const data = randomBytes(2 * 1024 * 1024);
  const sha = sha256(data);
  await cutUpload(server.port, `PUT same.bin ${sha} resume`, data, 1024 * 1024);
  await waitFor(async () => (await temporaries(server.files)).some((t) => /\.k\./.test(t)));
  await using a = await rawClient(server.port);
  await using b = await rawClient(server.port);
  await a.line(`RESUME same.bin ${data.length} ${sha}`);
  await b.line(`RESUME same.bin ${data.length} ${sha}`);
  const have = Number((await reply(a)).split(" ")[1]);
  assert.equal(Number((await reply(b)).split(" ")[1]), have);
  const rest = data.subarray(have);
  // Both start to send the rest at once; only one claims the kept bytes.
  await a.send(`PUT same.bin ${sha} from=${have} ${rest.length}\r\n`);
  await b.send(`PUT same.bin ${sha} from=${have} ${rest.length}\r\n`);
  await Promise.all([a.send(bytes(rest, "\r\n")), b.send(bytes(rest, "\r\n"))]);
  const answers = [await reply(a), await reply(b)].sort().reverse();
  assert.equal(answers[0], `OK ${sha}`);
  assert.match(
    answers[1]!,
    /^ERR 409 Cannot upload "same.bin": (another upload resumed it|the server keeps no part)/,
  );
  assert.equal(sha256(await Deno.readFile(`${server.files}/same.bin`)), sha);
  assert.deepEqual(await temporaries(server.files), []);
});
