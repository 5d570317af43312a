import assert from "node:assert/strict";
import { frames } from "./frames.ts";

/** A source that hands out the given chunks, one per read, then ends. */
function chunks(...parts: string[]) {
  const bytes = parts.map((p) => new TextEncoder().encode(p));
  return {
    read(buf: Uint8Array): Promise<number | null> {
      const next = bytes.shift();
      if (next === undefined) return Promise.resolve(null);
      buf.set(next);
      return Promise.resolve(next.length);
    },
  };
}

Deno.test("frames() says it is drained before every read, also after a read that ended mid-frame", async () => {
  const log: string[] = [];
  const stream = frames(chunks("PING\r\nPI", "NG\r\nWHO\r\n", "TIME"), {
    minRead: 64,
    onRead: (n) => log.push(`read ${n}`),
    onDrained: () => void log.push("drained"),
  });
  for await (const ev of stream) if (ev.type === "frame") log.push(ev.verb);
  assert.deepEqual(log, [
    "drained",
    "read 8",
    "PING",
    "drained",
    "read 9",
    "PING",
    "WHO",
    "drained",
    "read 4",
    "drained",
  ]);
  assert.equal(stream.ended, "eof");
});

Deno.test("frames() hands out payloads as views that stay valid until the loop asks for more", async () => {
  const got: string[] = [];
  for await (const ev of frames(chunks("SAY a :one\r\nSAY b 3\r\ntwo\r\n", "SAY c :three\r\n"))) {
    if (ev.type === "frame" && ev.payload !== null) got.push(new TextDecoder().decode(ev.payload));
  }
  assert.deepEqual(got, ["one", "two", "three"]);
});

Deno.test("frames() ends on a read that throws, and stops reading when the loop breaks", async () => {
  let reads = 0;
  const failing = {
    read(): Promise<number | null> {
      reads++;
      return Promise.reject(new Error("reset"));
    },
  };
  const stream = frames(failing);
  for await (const _ of stream) assert.fail("no events");
  assert.equal(stream.ended, "eof");
  assert.equal(reads, 1);
  const endless = frames(chunks("PING\r\nPING\r\nPING\r\n"));
  for await (const _ of endless) break;
  assert.equal(endless.ended, "stopped");
});

Deno.test("frames().take() hands out the rest of a read's events without a read, then undefined", async () => {
  const stream = frames(chunks("PING\r\nWHO\r\nTIME\r\n", "QUIT\r\n"), { minRead: 64 });
  const rounds: string[][] = [];
  for await (const first of stream) {
    const verbs: string[] = [];
    for (let ev = first as ReturnType<typeof stream.take>; ev !== undefined; ev = stream.take()) {
      if (ev.type === "frame") verbs.push(ev.verb);
    }
    rounds.push(verbs);
  }
  assert.deepEqual(rounds, [["PING", "WHO", "TIME"], ["QUIT"]]);
  assert.equal(stream.take(), undefined, "nothing after the end");
});
