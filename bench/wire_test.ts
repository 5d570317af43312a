import assert from "node:assert/strict";
import { lines, NATS, REDIS, type Scanner, SWITCHBOARD, type Wire } from "./wire.ts";
import { Histogram, spread, summarize } from "./stats.ts";

const text = new TextEncoder();

/** Feeds `input` split at `cut` the way the load client does (leftover moved to the front). */
function feed(scanner: Scanner, input: Uint8Array, cuts: number[]): string[] {
  const payloads: string[] = [];
  scanner.onMessage = (buf, start, length) =>
    payloads.push(new TextDecoder().decode(buf.subarray(start, start + length)));
  const buf = new Uint8Array(input.length + 16);
  buf.fill(10); // stale LF bytes past the end must not be mistaken for data
  let fill = 0;
  let from = 0;
  for (const cut of [...cuts, input.length]) {
    buf.set(input.subarray(from, cut), fill);
    const end = fill + cut - from;
    from = cut;
    const used = scanner.scan(buf, 0, end);
    buf.copyWithin(0, used, end);
    fill = end - used;
    buf.fill(10, fill);
  }
  assert.equal(fill, 0, "every byte consumed");
  return payloads;
}

function everySplit(
  wire: Wire,
  input: Uint8Array,
  check: (s: Scanner, payloads: string[]) => void,
): void {
  for (let cut = 0; cut <= input.length; cut++) {
    const s = wire.scanner();
    check(s, feed(s, input, [cut]));
  }
  const s = wire.scanner();
  check(s, feed(s, input, Array.from({ length: input.length }, (_, i) => i)));
}

Deno.test("Switchboard scanner counts MSG payloads, replies and PONGs at every split", () => {
  const input = text.encode(
    'HELLO {"server":"switchboard"}\r\nPONG\r\nOK bench\r\nJOINED bench guest-2\r\n' +
      "MSG bench guest-1 5\r\nhello\r\nOK 10\r\nMSG bench guest-1 4\r\na\nb\n\r\n" +
      "TIME 2026-01-01T00:00:00.000Z 1767225600000\r\nWHO 2\r\n[]\r\nPING\r\n",
  );
  everySplit(SWITCHBOARD, input, (s, payloads) => {
    assert.deepEqual(payloads, ["hello", "a\nb\n"]);
    assert.equal(s.msgs, 2);
    assert.equal(s.pongs, 1);
    assert.equal(s.replies, 5); // PONG, OK bench, OK 10, TIME, WHO
    assert.equal(s.pings, 1);
    assert.equal(s.error, "");
  });
});

Deno.test("Switchboard scanner reads protocol 2: MSG with an id, OK with an id, at every split", () => {
  const input = text.encode(
    'HELLO {"server":"switchboard","proto":2}\r\nPONG\r\nOK bench\r\n' +
      "MSG bench guest-1 id 17 5\r\nhello\r\nOK 10 18\r\nMSG bench id id 9 3\r\nid \r\n" +
      "MSG bench guest-1 4\r\nv1 !\r\nRENAMED guest-1 ann\r\n",
  );
  everySplit(SWITCHBOARD, input, (s, payloads) => {
    assert.deepEqual(payloads, ["hello", "id ", "v1 !"]);
    assert.equal(s.msgs, 3);
    assert.equal(s.replies, 3); // PONG, OK bench, OK 10 18
    assert.equal(s.error, "");
  });
  const s = SWITCHBOARD.scanner();
  const ids: number[] = [];
  s.onMessage = () => ids.push(s.msgId);
  s.scan(input, 0, input.length);
  assert.deepEqual(ids, [17, 9, -1]); // a nick may be "id"; protocol 1 has none
});

Deno.test("Switchboard scanner reports ERR and BYE text", () => {
  const s = SWITCHBOARD.scanner();
  feed(s, text.encode("ERR 403 Cannot say to x: JOIN it first\r\n"), []);
  assert.equal(s.error, "ERR 403 Cannot say to x: JOIN it first");
  const t = SWITCHBOARD.scanner();
  feed(t, text.encode("BYE slow consumer\r\n"), []);
  assert.equal(t.error, "BYE slow consumer");
});

Deno.test("NATS scanner counts MSG payloads, PONGs and server PINGs at every split", () => {
  const input = text.encode(
    'INFO {"server_id":"x"}\r\nPONG\r\nMSG bench 1 5\r\nhello\r\nPING\r\nMSG bench 1 reply.to 3\r\n\r\n\n\r\n+OK\r\n',
  );
  everySplit(NATS, input, (s, payloads) => {
    assert.deepEqual(payloads, ["hello", "\r\n\n"]);
    assert.equal(s.msgs, 2);
    assert.equal(s.pongs, 1);
    assert.equal(s.replies, 2);
    assert.equal(s.pings, 1);
    assert.equal(s.error, "");
  });
});

Deno.test("Redis scanner counts pushed messages and replies of RESP3 at every split", () => {
  const input = text.encode(
    "%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n" + // HELLO 3
      "+PONG\r\n>3\r\n$9\r\nsubscribe\r\n$5\r\nbench\r\n:1\r\n" +
      ">3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$5\r\nhello\r\n:10\r\n" +
      "*2\r\n$10\r\n1700000000\r\n$6\r\n123456\r\n" + // TIME
      ">3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$4\r\n\r\n\r\n\r\n$-1\r\n",
  );
  everySplit(REDIS, input, (s, payloads) => {
    assert.deepEqual(payloads, ["hello", "\r\n\r\n"]);
    assert.equal(s.msgs, 2);
    assert.equal(s.pongs, 1);
    assert.equal(s.replies, 5); // HELLO map, PONG, :10, TIME array, null bulk
    assert.equal(s.error, "");
  });
});

Deno.test("Redis scanner reports an error reply", () => {
  const s = REDIS.scanner();
  feed(s, text.encode("-ERR unknown command\r\n"), []);
  assert.equal(s.error, "-ERR unknown command");
  assert.equal(s.replies, 1);
});

Deno.test("publish frames of every wire end their payload with CRLF", () => {
  const payload = text.encode("xyz");
  for (const wire of [SWITCHBOARD, NATS, REDIS]) {
    const frame = wire.publish("lobby", payload);
    const tail = new TextDecoder().decode(frame.subarray(frame.length - 5));
    assert.equal(tail, "xyz\r\n", wire.proto);
  }
  assert.deepEqual(SWITCHBOARD.publish("lobby", payload), lines("SAY lobby 3", "xyz"));
  assert.deepEqual(NATS.publish("lobby", payload), lines("PUB lobby 3", "xyz"));
  assert.deepEqual(
    REDIS.publish("lobby", payload),
    lines("*3", "$7", "PUBLISH", "$5", "lobby", "$3", "xyz"),
  );
});

Deno.test("summarize gives nearest-rank percentiles", () => {
  const s = summarize(Float64Array.from({ length: 1000 }, (_, i) => 1000 - i));
  assert.equal(s.p50, 500);
  assert.equal(s.p99, 990);
  assert.equal(s.p999, 999);
  assert.equal(s.max, 1000);
});

Deno.test("Histogram percentiles stay within 0.1% plus 1 µs of the exact ones", () => {
  const h = new Histogram();
  const values: number[] = [];
  for (let i = 0; i < 20000; i++) {
    const v = ((i * 7919) % 20000) / 100; // 0 to 200 ms
    values.push(v);
    h.record(v);
  }
  const exact = summarize(Float64Array.from(values));
  const got = h.summary();
  for (const k of ["p50", "p99", "p999"] as const) {
    assert.ok(
      Math.abs(got[k] - exact[k]) <= exact[k] * 0.001 + 0.001,
      `${k}: ${got[k]} vs ${exact[k]}`,
    );
  }
  assert.equal(got.count, 20000);
});

Deno.test("spread ignores failed runs", () => {
  assert.deepEqual(spread([4, NaN, 2]), { median: 3, min: 2, max: 4, n: 2 });
  assert.equal(spread([NaN]).n, 0);
});
