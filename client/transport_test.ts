import assert from "node:assert/strict";
import { ConnectionClosedError, type Transport, TransportSource, Writer } from "./transport.ts";

/** A transport that records writes, takes at most `max` bytes per write, and can be held. */
function recorder(max = Infinity) {
  const writes: number[][] = [];
  let gate: Promise<void> = Promise.resolve();
  let open = () => {};
  return {
    writes,
    hold() {
      gate = new Promise<void>((r) => open = r);
    },
    release() {
      open();
    },
    async write(bytes: Uint8Array): Promise<number> {
      await gate;
      const n = Math.min(max, bytes.length);
      writes.push([...bytes.subarray(0, n)]);
      return n;
    },
  };
}

Deno.test("Writer coalesces what is queued while a write is in flight into one write", async () => {
  const t = recorder();
  const w = new Writer(t);
  t.hold();
  const first = w.write(new Uint8Array([1]));
  const rest = [w.write(new Uint8Array([2, 3])), w.write(new Uint8Array([4]))];
  t.release();
  await Promise.all([first, ...rest]);
  assert.deepEqual(t.writes, [[1], [2, 3, 4]]);
});

Deno.test("Writer finishes partial writes before the next bytes", async () => {
  const t = recorder(2);
  const w = new Writer(t);
  await Promise.all([w.write(new Uint8Array([1, 2, 3, 4, 5])), w.write(new Uint8Array([6]))]);
  assert.deepEqual(t.writes.flat(), [1, 2, 3, 4, 5, 6]);
  assert.ok(t.writes.every((chunk) => chunk.length <= 2));
});

Deno.test("Writer.exclusive() holds other writes until the section ends, in order", async () => {
  const t = recorder();
  const w = new Writer(t);
  let later!: Promise<void>;
  await w.exclusive(async (write) => {
    await write(new Uint8Array([1]));
    later = w.write(new Uint8Array([9])); // held
    await write(new Uint8Array([2]));
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(t.writes.flat(), [1, 2]);
  });
  await later;
  assert.deepEqual(t.writes.flat(), [1, 2, 9]);
});

Deno.test("Writer.exclusive() sections run one at a time", async () => {
  const t = recorder();
  const w = new Writer(t);
  const order: string[] = [];
  const a = w.exclusive(async (write) => {
    order.push("a start");
    await write(new Uint8Array([1]));
    await new Promise((r) => setTimeout(r, 5));
    order.push("a end");
  });
  const b = w.exclusive(async (write) => {
    order.push("b start");
    await write(new Uint8Array([2]));
  });
  await Promise.all([a, b]);
  assert.deepEqual(order, ["a start", "a end", "b start"]);
});

Deno.test("Writer: a failed write rejects its batch with ConnectionClosedError and reports it", async () => {
  const failures: Error[] = [];
  const w = new Writer({
    write: () => Promise.reject(new Deno.errors.BrokenPipe("broken pipe")),
  }, { onFailure: (e) => failures.push(e) });
  const err = await w.write(new Uint8Array([1])).then(() => null, (e) => e);
  assert.ok(err instanceof ConnectionClosedError);
  assert.equal(err.message, "Cannot send: the connection is closed");
  assert.ok(err.cause instanceof Deno.errors.BrokenPipe);
  assert.deepEqual(failures, [err]);
});

Deno.test("Writer.fail() rejects queued, held and later writes with the first error", async () => {
  const t = recorder();
  const w = new Writer(t);
  t.hold();
  const inFlight = w.write(new Uint8Array([1]));
  const queued = w.write(new Uint8Array([2]));
  const first = new Error("first");
  w.fail(first);
  w.fail(new Error("second"));
  await assert.rejects(queued, (e) => e === first);
  await assert.rejects(w.write(new Uint8Array([3])), (e) => e === first);
  await assert.rejects(w.exclusive(() => Promise.resolve()), (e) => e === first);
  assert.equal(w.failed, first);
  t.release();
  await inFlight;
});

function source(reads: (Uint8Array | Error)[]): Transport {
  return {
    read(buf: Uint8Array): Promise<number | null> {
      const next = reads.shift();
      if (next === undefined) return Promise.resolve(null);
      if (next instanceof Error) return Promise.reject(next);
      buf.set(next);
      return Promise.resolve(next.length);
    },
    write: (bytes) => Promise.resolve(bytes.length),
    close() {},
  };
}

Deno.test("TransportSource spots a TLS record only while sniffing", async () => {
  const record = new Uint8Array([0x16, 0x03, 0x01, 0x00]);
  const sniffing = new TransportSource(source([record]), { sniffTls: true });
  assert.equal(await sniffing.read(new Uint8Array(16)), null);
  assert.ok(sniffing.tlsSeen);

  const stopped = new TransportSource(source([record]), { sniffTls: true });
  stopped.stopSniffing();
  assert.equal(await stopped.read(new Uint8Array(16)), 4);
  assert.ok(!stopped.tlsSeen);
});

Deno.test("TransportSource remembers the error of the read that failed", async () => {
  const reset = new Deno.errors.ConnectionReset("connection reset");
  const s = new TransportSource(source([new Uint8Array([65]), reset]));
  assert.equal(await s.read(new Uint8Array(4)), 1);
  assert.equal(s.failure, undefined);
  await assert.rejects(s.read(new Uint8Array(4)), (e) => e === reset);
  assert.deepEqual(s.failure, { error: reset });
});
