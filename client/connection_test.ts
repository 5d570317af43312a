import assert from "node:assert/strict";
import { encodeFrame, encodeLine } from "../lib/protocol/encoder.ts";
import { ServerError } from "../lib/protocol/errors.ts";
import { Connection, type Push, type ReplySink } from "./connection.ts";
import { ConnectionClosedError, type Transport } from "./transport.ts";
import { historyRequest } from "./_history.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** A server played by the test: `send()` feeds the client's reads, `written` is what it wrote. */
function fakeServer() {
  const chunks: (Uint8Array | Error | null)[] = [];
  let wake: (() => void) | null = null;
  let closed = false;
  let written = "";
  const transport: Transport = {
    async read(buf: Uint8Array): Promise<number | null> {
      while (chunks.length === 0 && !closed) await new Promise<void>((r) => wake = r);
      const next = chunks.shift();
      if (next === undefined || next === null) return null;
      if (next instanceof Error) throw next;
      buf.set(next);
      return next.length;
    },
    write(bytes: Uint8Array): Promise<number> {
      if (closed) return Promise.reject(new Deno.errors.BadResource("closed"));
      written += text.decode(bytes);
      return Promise.resolve(bytes.length);
    },
    close() {
      closed = true;
      wake?.();
    },
  };
  return {
    transport,
    send(...parts: (Uint8Array | string | Error | null)[]) {
      for (const p of parts) chunks.push(typeof p === "string" ? utf8.encode(p) : p);
      wake?.();
    },
    get written() {
      return written;
    },
    get closed() {
      return closed;
    },
  };
}

async function greeted(options = {}) {
  const server = fakeServer();
  const connection = new Connection(server.transport, { label: "test:1", ...options });
  server.send("HELLO {}\r\n");
  assert.equal((await connection.greet()).verb, "HELLO");
  return { server, connection };
}

Deno.test("replies come back in order to pipelined requests; ERR rejects with ServerError", async () => {
  const { server, connection } = await greeted();
  const first = (r: { args: string[] }) => r.args[0];
  const a = connection.request(encodeLine("JOIN a"), first);
  const b = connection.request(encodeLine("JOIN b!"), first);
  const c = connection.request(encodeLine("JOIN c"), first);
  server.send("OK a\r\nERR 400 Cannot join b!\r\n", "OK c\r\n");
  assert.equal(await a, "a");
  await assert.rejects(b, (e) => e instanceof ServerError && e.code === 400);
  assert.equal(await c, "c");
  assert.equal(server.written, "JOIN a\r\nJOIN b!\r\nJOIN c\r\n");
  connection.close();
});

Deno.test("a reply payload is parsed before the next read reuses the buffer", async () => {
  const { server, connection } = await greeted();
  const who = connection.request(encodeLine("WHO"), (r) => text.decode(r.payload!));
  server.send(encodeFrame("WHO", utf8.encode('[{"nick":"alice"}]')), "X".repeat(64));
  assert.equal(await who, '[{"nick":"alice"}]');
  connection.close();
});

Deno.test("pushes come out of messages(); PING is answered with PONG", async () => {
  const { server, connection } = await greeted();
  const pushes = connection.messages();
  server.send(
    "PING\r\n",
    encodeFrame("MSG lobby bob id 3", utf8.encode("hi")),
    "JOINED ops carol\r\nRENAMED carol carol2\r\n",
  );
  const msg = (await pushes.next()).value as Push;
  assert.deepEqual({ ...msg, payload: [...(msg as { payload: Uint8Array }).payload] }, {
    type: "msg",
    room: "lobby",
    from: "bob",
    id: 3,
    payload: [...utf8.encode("hi")],
    text: "hi",
  });
  assert.deepEqual((await pushes.next()).value, { type: "joined", room: "ops", nick: "carol" });
  assert.deepEqual((await pushes.next()).value, { type: "renamed", old: "carol", nick: "carol2" });
  assert.equal(server.written, "PONG\r\n");
  assert.throws(() => connection.messages(), /another loop is already reading/);
  server.send("BYE shutdown\r\n", null);
  assert.deepEqual((await pushes.next()).value, { type: "bye", reason: "shutdown" });
  assert.equal((await pushes.next()).done, true);
  await connection.done;
  assert.equal(connection.error?.message, "Connection closed by the server");
});

Deno.test("a streamed reply goes through the sink, piece by piece", async () => {
  const { server, connection } = await greeted();
  const got: string[] = [];
  let ended = false;
  const sink: ReplySink = {
    data: (b) => void got.push(text.decode(b)),
    end: () => void (ended = true),
    abort: () => {},
  };
  const head = connection.requestStream(encodeLine("GET a.txt"), () => sink);
  server.send("FILE a.txt 5 abc 5\r\nhel", "lo\n");
  assert.equal((await head).verb, "FILE");
  while (!ended) await new Promise((r) => setTimeout(r, 1));
  assert.equal(got.join(""), "hello");
  connection.close();
});

Deno.test("a failed read closes the connection as lost, and pending requests reject", async () => {
  const { server, connection } = await greeted();
  const pending = connection.request(encodeLine("ROOMS"), (r) => r);
  server.send(new Deno.errors.ConnectionReset("connection reset by peer"));
  await assert.rejects(
    pending,
    (e) =>
      e instanceof ConnectionClosedError &&
      e.message === "Connection lost: connection reset by peer",
  );
  await assert.rejects(connection.request(encodeLine("ROOMS"), (r) => r), ConnectionClosedError);
  assert.ok(server.closed);
});

Deno.test("a malformed frame from the server closes the connection with a protocol error", async () => {
  const { server, connection } = await greeted({ maxPayload: 8 });
  const pending = connection.request(encodeLine("WHO"), (r) => r);
  server.send("WHO 100\r\n");
  await assert.rejects(pending, /^ConnectionClosedError: Protocol error from server: /);
});

Deno.test("greet() says when the server closed, spoke TLS, or sent no frame first", async () => {
  const cases: [(string | null | Uint8Array)[], RegExp][] = [
    [[null], /^Cannot connect to test:1: closed before HELLO$/],
    [[new Uint8Array([0x15, 0x03, 0x03, 0, 2])], /: the server speaks TLS \(use --tls/],
    [["FILE a.txt 5 abc 5\r\n"], /: bad greeting$/],
  ];
  for (const [reads, expected] of cases) {
    const server = fakeServer();
    const connection = new Connection(server.transport, { label: "test:1" });
    server.send(...reads);
    await assert.rejects(connection.greet(), (e) => {
      assert.ok(e instanceof ConnectionClosedError);
      assert.match(e.message, expected);
      return true;
    });
    assert.ok(server.closed);
  }
});

Deno.test("greet() gives up after timeout, with the TLS hint on a plain transport", async () => {
  const server = fakeServer();
  const connection = new Connection(server.transport, { label: "test:1", timeout: 20 });
  await assert.rejects(
    connection.greet(),
    /^ConnectionClosedError: Cannot connect to test:1: no HELLO within 20 ms \(a TLS server waits/,
  );
  await connection.done;
});

Deno.test("exclusive() keeps other writes out of an upload's payload", async () => {
  const { server, connection } = await greeted();
  let ping!: Promise<unknown>;
  const reply = await connection.exclusive(async (section) => {
    const ok = section.request(encodeLine("PUT a.txt 2"), (r) => r.args[0]);
    ping = connection.request(encodeLine("PING"), (r) => r.verb);
    await section.write(utf8.encode("hi"));
    await section.write(utf8.encode("\r\n"));
    return { ok };
  });
  server.send("OK sha\r\nOK\r\n");
  assert.equal(await reply.ok, "sha");
  assert.equal(await ping, "OK");
  assert.equal(server.written, "PUT a.txt 2\r\nhi\r\nPING\r\n");
  connection.close();
});

/** `MSG` frames as a protocol 2 server writes them. */
function msgFrames(room: string, from: string, ids: number[]): Uint8Array[] {
  return ids.map((id) => encodeFrame(`MSG ${room} ${from} id ${id}`, utf8.encode(`m${id}`)));
}

function historyOf(connection: Connection, room: string, limit: number) {
  const { bytes, reply } = historyRequest(room, { limit });
  return connection.requestWithFrames(bytes, reply);
}

Deno.test("a HISTORY reply's MSG frames belong to the reply; pushes around it stay pushes", async () => {
  const { server, connection } = await greeted();
  const pushes = connection.messages();
  const page = historyOf(connection, "ops", 3);
  const after = connection.request(encodeLine("PING"), (r) => r.verb);
  // A push before the reply, the reply split at every chunk, then a push and the next reply.
  const reply = [
    ...msgFrames("ops", "bob", [9]),
    utf8.encode("HISTORY Ops ep-1 5 8 2\r\n"),
    ...msgFrames("Ops", "bob", [7, 8]),
    ...msgFrames("ops", "bob", [10]),
    utf8.encode("OK\r\n"),
  ];
  const bytes = new Uint8Array(reply.reduce((n, r) => n + r.length, 0));
  reply.reduce((at, r) => (bytes.set(r, at), at + r.length), 0);
  server.send(...Array.from(bytes, (b) => new Uint8Array([b])));
  const got = await page;
  assert.deepEqual(
    { ...got, messages: got.messages.map((m) => `${m.id} ${m.from} ${m.text}`) },
    { room: "Ops", epoch: "ep-1", first: 5, last: 8, messages: ["7 bob m7", "8 bob m8"] },
  );
  assert.equal(await after, "OK");
  const ids = [(await pushes.next()).value, (await pushes.next()).value].map((p) =>
    p?.type === "msg" ? p.id : -1
  );
  assert.deepEqual(ids, [9, 10]);
  assert.equal(server.written, "HISTORY ops 3\r\nPING\r\n");
  connection.close();
});

Deno.test("an empty HISTORY reply resolves at once; an ERR reply rejects", async () => {
  const { server, connection } = await greeted();
  const empty = historyOf(connection, "ops", 0);
  const missing = historyOf(connection, "nope", 5);
  server.send("HISTORY ops abc 0 0 0\r\nERR 404 Cannot read nope: no such room\r\n");
  assert.deepEqual(await empty, { room: "ops", epoch: "abc", first: 0, last: 0, messages: [] });
  await assert.rejects(missing, (e) => e instanceof ServerError && e.code === 404);
  assert.ok(!connection.closed);
  connection.close();
});

Deno.test("a HISTORY reply with more frames than asked for, or another frame among them, closes", async () => {
  for (
    const [head, frames, expected] of [
      ["HISTORY ops e 1 9 4\r\n", [], /4 messages, 3 asked for/],
      ["HISTORY ops e 1 9 2\r\n", ["JOINED ops bob\r\n"], /JOINED among the MSG frames/],
      ["HISTORY ops e 1 9 x\r\n", [], /the count "x" is not a count/],
    ] as const
  ) {
    const { server, connection } = await greeted();
    const page = historyOf(connection, "ops", 3);
    server.send(head, ...frames);
    await assert.rejects(page, (e) => {
      assert.ok(e instanceof ConnectionClosedError);
      assert.match(e.message, /^Protocol error from server: /);
      assert.match(e.message, expected);
      return true;
    });
    await connection.done;
  }
});

Deno.test("a HISTORY reply past maxPayload in all, or out of order, rejects; the connection goes on", async () => {
  const { server, connection } = await greeted({ maxPayload: 5 });
  const big = historyOf(connection, "ops", 3);
  const backwards = historyOf(connection, "ops", 3);
  const next = connection.request(encodeLine("PING"), (r) => r.verb);
  server.send(
    "HISTORY ops e 1 3 3\r\n",
    ...msgFrames("ops", "bob", [1, 2, 3]), // 6 bytes of payload in all
    "HISTORY ops e 1 3 2\r\n",
    ...msgFrames("ops", "bob", [2, 1]),
    "OK\r\n",
  );
  await assert.rejects(big, /RangeError: .*6 bytes, over maxPayload 5/);
  await assert.rejects(backwards, /id 1 out of order/);
  assert.equal(await next, "OK");
  connection.close();
});
