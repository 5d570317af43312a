/**
 * The load client: one workload against one server, run in its own process so that it never
 * shares an event loop with the server it measures. The same code drives all three servers; only
 * the {@linkcode Wire} differs.
 *
 * Usage: `deno run --allow-net --allow-read --allow-write bench/load.ts '<json spec>'`. It prints
 * `RESULT <json>` on stdout (the idle workload first prints `READY <json>` and holds its
 * connections until a line arrives on stdin).
 *
 * @module
 */

import { fileBlock } from "./files.ts";
import { Histogram, summarize } from "./stats.ts";
import { concat, type Proto, repeat, type Scanner, type Wire, WIRES } from "./wire.ts";

/** What to run. */
export type LoadSpec =
  | {
    workload: "fanout";
    proto: Proto;
    port: number;
    messages: number;
    subscribers: number;
    size: number;
    window: number;
    batch: number;
    deadlineMs: number;
  }
  | {
    workload: "chat";
    proto: Proto;
    port: number;
    clients: number;
    messages: number;
    size: number;
    window: number;
    deadlineMs: number;
  }
  | {
    workload: "latency";
    proto: Proto;
    port: number;
    count: number;
    warmup: number;
    deadlineMs: number;
  }
  | {
    workload: "idle";
    proto: Proto;
    port: number;
    count: number;
    concurrency: number;
    deadlineMs: number;
  }
  | {
    workload: "put";
    proto: "switchboard";
    port: number;
    path: string;
    bytes: number;
    sha256: string;
    deadlineMs: number;
  }
  | {
    workload: "get";
    proto: "switchboard";
    port: number;
    path: string;
    bytes: number;
    sha256: string;
    deadlineMs: number;
  };

/** When the current chunk was read (`performance.now()`): receive time of its messages. */
let readAt = 0;

/** One connection: reads into its own buffer and scans whole frames in place. */
class Link {
  readonly conn: Deno.TcpConn;
  readonly scanner: Scanner;
  buf: Uint8Array;
  view: DataView;
  #fill = 0;

  constructor(conn: Deno.TcpConn, scanner: Scanner, bufSize: number) {
    this.conn = conn;
    this.scanner = scanner;
    this.buf = new Uint8Array(bufSize);
    this.view = new DataView(this.buf.buffer);
  }

  /** Reads once and scans; false at EOF. Throws when the server sent an error. */
  async read(): Promise<boolean> {
    if (this.#fill === this.buf.length) {
      const grown = new Uint8Array(this.buf.length * 2);
      grown.set(this.buf);
      this.buf = grown;
      this.view = new DataView(grown.buffer);
    }
    const n = await this.conn.read(this.buf.subarray(this.#fill));
    if (n === null) return false;
    readAt = performance.now();
    const end = this.#fill + n;
    const used = this.scanner.scan(this.buf, 0, end);
    if (used < end) this.buf.copyWithin(0, used, end);
    this.#fill = end - used;
    if (this.scanner.error !== "") throw new Error(`Server said: ${this.scanner.error}`);
    return true;
  }

  async write(bytes: Uint8Array): Promise<void> {
    for (let off = 0; off < bytes.length;) off += await this.conn.write(bytes.subarray(off));
  }

  /** Reads until `cond()` holds. */
  async until(cond: () => boolean, what: string): Promise<void> {
    while (!cond()) {
      if (!await this.read()) throw new Error(`Connection closed while waiting for ${what}`);
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Closed already.
    }
  }
}

/** Connects, sends the handshake and a ping, and waits for its `PONG`. */
async function open(wire: Wire, port: number, bufSize: number, echo: boolean): Promise<Link> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const link = new Link(conn, wire.scanner(), bufSize);
  await link.write(concat(wire.hello(echo), wire.ping()));
  await link.until(() => link.scanner.pongs >= 1, "the handshake PONG");
  return link;
}

/** Waits for conditions re-checked after every read; fails every wait at once on error. */
class Gate {
  #waiters: { cond: () => boolean; resolve: () => void; reject: (e: Error) => void }[] = [];
  #error: Error | null = null;

  wait(cond: () => boolean): Promise<void> {
    if (this.#error !== null) return Promise.reject(this.#error);
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ cond, resolve, reject }));
  }

  check(): void {
    if (this.#waiters.length === 0) return;
    const keep = [];
    for (const w of this.#waiters) {
      if (w.cond()) w.resolve();
      else keep.push(w);
    }
    this.#waiters = keep;
  }

  fail(e: Error): void {
    this.#error ??= e;
    for (const w of this.#waiters) w.reject(this.#error);
    this.#waiters = [];
  }
}

/** Reads a link until stopped, calling `after` after every read; failures go to the gate. */
async function pump(
  link: Link,
  gate: Gate,
  stop: { done: boolean },
  after?: () => void,
): Promise<void> {
  try {
    while (!stop.done) {
      if (!await link.read()) {
        if (!stop.done) gate.fail(new Error("Server closed a connection during the run"));
        return;
      }
      after?.();
      gate.check();
    }
  } catch (e) {
    if (!stop.done) gate.fail(e as Error);
  }
}

function deadline(gate: Gate, ms: number): ReturnType<typeof setTimeout> {
  return setTimeout(() => gate.fail(new Error(`Run did not finish within ${ms} ms`)), ms);
}

function payloadOf(size: number): Uint8Array {
  const p = new Uint8Array(size);
  for (let i = 0; i < size; i++) p[i] = 97 + (i % 26);
  return p;
}

/** 1 publisher, N subscribers of one subject; the publisher keeps at most `window` messages ahead. */
async function fanout(
  wire: Wire,
  spec: Extract<LoadSpec, { workload: "fanout" }>,
): Promise<Record<string, unknown>> {
  const subject = "bench";
  const pub = await open(wire, spec.port, 64 * 1024, true);
  await syncWith(wire, pub, wire.prepublish(subject), "the publisher's JOIN");
  const subs: Link[] = [];
  for (let i = 0; i < spec.subscribers; i++) {
    const s = await open(wire, spec.port, 256 * 1024, true);
    await syncWith(wire, s, wire.subscribe(subject), "SUBSCRIBE");
    subs.push(s);
  }
  const frame = wire.publish(subject, payloadOf(spec.size));
  const block = repeat(frame, spec.batch);
  const gate = new Gate();
  const stop = { done: false };
  const timer = deadline(gate, spec.deadlineMs);
  const pumps = [pub, ...subs].map((l) => pump(l, gate, stop));
  function least(): number {
    let m = Infinity;
    for (const s of subs) if (s.scanner.msgs < m) m = s.scanner.msgs;
    return m;
  }
  let sent = 0;
  const t0 = performance.now();
  try {
    while (sent < spec.messages) {
      if (sent - least() > spec.window) await gate.wait(() => sent - least() <= spec.window / 2);
      const k = Math.min(spec.batch, spec.messages - sent);
      await pub.write(k === spec.batch ? block : block.subarray(0, k * frame.length));
      sent += k;
    }
    await gate.wait(() => least() >= spec.messages);
  } finally {
    clearTimeout(timer);
  }
  const seconds = (performance.now() - t0) / 1000;
  stop.done = true;
  for (const l of [pub, ...subs]) l.close();
  await Promise.all(pumps);
  const delivered = subs.reduce((n, s) => n + s.scanner.msgs, 0);
  return { delivered, seconds, rate: delivered / seconds, bytes: delivered * frame.length };
}

async function syncWith(wire: Wire, link: Link, bytes: Uint8Array, what: string): Promise<void> {
  const want = link.scanner.pongs + 1;
  await link.write(concat(bytes, wire.ping()));
  await link.until(() => link.scanner.pongs >= want, what);
}

/**
 * N clients all subscribed to `lobby`, each publishing M messages, each keeping at most `window`
 * of its own messages not yet delivered to everyone. Payloads carry the sender and the send time.
 */
async function chat(
  wire: Wire,
  spec: Extract<LoadSpec, { workload: "chat" }>,
): Promise<Record<string, unknown>> {
  const subject = "lobby";
  const n = spec.clients;
  const others = n - 1;
  const links: Link[] = [];
  for (let c = 0; c < n; c++) {
    const link = await open(wire, spec.port, 64 * 1024, false);
    await syncWith(
      wire,
      link,
      concat(wire.subscribe(subject), wire.prepublish(subject)),
      "SUBSCRIBE",
    );
    links.push(link);
  }
  const deliveredFrom = new Float64Array(n);
  const sent = new Float64Array(n);
  const waiting: ((() => void) | null)[] = new Array(n).fill(null);
  const hist = new Histogram();
  const low = (spec.window / 2) * others;
  let total = 0;
  let selfEcho = 0;
  const want = n * spec.messages * others;
  const gate = new Gate();
  const stop = { done: false };
  for (let c = 0; c < n; c++) {
    const link = links[c]!;
    link.scanner.onMessage = (buf, start) => {
      const from = buf[start]! | (buf[start + 1]! << 8);
      if (from === c) {
        selfEcho++; // Redis has no "no echo": the sender's own copy is not counted
        return;
      }
      total++;
      hist.record(readAt - link.view.getFloat64(start + 2, true));
      const d = ++deliveredFrom[from]!;
      const wake = waiting[from];
      if (wake !== null && wake !== undefined && sent[from]! * others - d <= low) {
        waiting[from] = null;
        wake();
      }
    };
  }
  const timer = deadline(gate, spec.deadlineMs);
  const pumps = links.map((l) => pump(l, gate, stop));
  const failed = new Promise<never>((_, reject) => void gate.wait(() => false).catch(reject));
  failed.catch(() => {});

  async function sender(c: number): Promise<void> {
    const link = links[c]!;
    const payload = payloadOf(spec.size);
    payload[0] = c & 0xff;
    payload[1] = c >> 8;
    const frame = wire.publish(subject, payload);
    const at = frame.length - 2 - spec.size; // every wire ends a payload with CRLF
    const block = repeat(frame, spec.window);
    const view = new DataView(block.buffer);
    while (sent[c]! < spec.messages) {
      if (sent[c]! * others - deliveredFrom[c]! > low) {
        await Promise.race([new Promise<void>((resolve) => waiting[c] = resolve), failed]);
      }
      const inFlight = Math.ceil((sent[c]! * others - deliveredFrom[c]!) / others);
      const k = Math.min(spec.window - inFlight, spec.messages - sent[c]!);
      const now = performance.now();
      for (let i = 0; i < k; i++) view.setFloat64(i * frame.length + at + 2, now, true);
      sent[c]! += k;
      await link.write(k === spec.window ? block : block.subarray(0, k * frame.length));
    }
  }

  const t0 = performance.now();
  try {
    await Promise.race([Promise.all(links.map((_, c) => sender(c))), failed]);
    await gate.wait(() => total >= want);
  } finally {
    clearTimeout(timer);
  }
  const seconds = (performance.now() - t0) / 1000;
  stop.done = true;
  for (const l of links) l.close();
  await Promise.all(pumps);
  return {
    delivered: total,
    seconds,
    rate: total / seconds,
    selfEcho,
    latency: hist.summary(),
  };
}

/** Sequential round trips: PING (every server) and TIME (where the protocol has one). */
async function latency(
  wire: Wire,
  spec: Extract<LoadSpec, { workload: "latency" }>,
): Promise<Record<string, unknown>> {
  const link = await open(wire, spec.port, 64 * 1024, true);
  const out: Record<string, unknown> = {};
  const started = performance.now();
  for (const op of ["ping", "time"] as const) {
    const bytes = op === "ping" ? wire.ping() : wire.time();
    if (bytes === null) continue;
    const samples = new Float64Array(spec.count);
    for (let i = -spec.warmup; i < spec.count; i++) {
      if (performance.now() - started > spec.deadlineMs) {
        throw new Error(`Run did not finish within ${spec.deadlineMs} ms`);
      }
      const want = link.scanner.replies + 1;
      const t = performance.now();
      await link.write(bytes);
      while (link.scanner.replies < want) {
        if (!await link.read()) throw new Error("Server closed the connection");
      }
      if (i >= 0) samples[i] = performance.now() - t;
    }
    out[op] = summarize(samples);
  }
  link.close();
  return out;
}

/** Opens `count` connections (each completes its handshake), reports, holds them until told. */
async function idle(
  wire: Wire,
  spec: Extract<LoadSpec, { workload: "idle" }>,
): Promise<Record<string, unknown>> {
  const links: Link[] = [];
  let next = 0;
  const t0 = performance.now();
  async function worker(): Promise<void> {
    while (next < spec.count) {
      next++;
      if (performance.now() - t0 > spec.deadlineMs) {
        throw new Error(`Connecting took over ${spec.deadlineMs} ms`);
      }
      links.push(await open(wire, spec.port, 2048, true));
    }
  }
  try {
    await Promise.all(Array.from({ length: spec.concurrency }, worker));
  } catch (e) {
    for (const l of links) l.close();
    throw new Error(
      `Cannot open ${spec.count} connections (opened ${links.length}): ${(e as Error).message}`,
    );
  }
  const seconds = (performance.now() - t0) / 1000;
  const result = { connected: links.length, seconds, rate: links.length / seconds };
  console.log(`READY ${JSON.stringify(result)}`);
  // Hold the connections until the orchestrator has measured the server.
  const buf = new Uint8Array(64);
  await Deno.stdin.read(buf);
  for (const l of links) l.close();
  return result;
}

/** Reads one CRLF-terminated line from a link's connection, keeping what follows in `rest`. */
async function readLine(
  conn: Deno.TcpConn,
  buf: Uint8Array,
): Promise<{ line: string; rest: Uint8Array }> {
  let fill = 0;
  for (;;) {
    const n = await conn.read(buf.subarray(fill));
    if (n === null) throw new Error("Server closed the connection before replying");
    fill += n;
    const lf = buf.subarray(0, fill).indexOf(10);
    if (lf >= 0) {
      const line = new TextDecoder().decode(buf.subarray(0, lf)).replace(/\r$/, "");
      return { line, rest: buf.slice(lf + 1, fill) };
    }
    if (fill === buf.length) throw new Error("Reply line too long");
  }
}

/** Connects raw (no scanner) and reads `HELLO`. */
async function openRaw(port: number, buf: Uint8Array): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const hello = await readLine(conn, buf);
  if (!hello.line.startsWith("HELLO ")) {
    throw new Error(`Expected HELLO, got ${hello.line.slice(0, 80)}`);
  }
  return conn;
}

/** `PUT path N` + N bytes (a 1 MiB block repeated) from memory; time until `OK sha256`. */
async function put(spec: Extract<LoadSpec, { workload: "put" }>): Promise<Record<string, unknown>> {
  const buf = new Uint8Array(64 * 1024);
  const conn = await openRaw(spec.port, buf);
  const block = fileBlock();
  const t0 = performance.now();
  const w = async (bytes: Uint8Array) => {
    for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
  };
  await w(new TextEncoder().encode(`PUT ${spec.path} ${spec.bytes}\r\n`));
  // Read the reply concurrently: a refusal comes at once, before the bytes.
  const reply = readLine(conn, buf);
  let failed: string | null = null;
  reply.then((r) => failed = r.line, () => {});
  for (let sent = 0; sent < spec.bytes;) {
    if (failed !== null) throw new Error(`Server refused the upload: ${failed}`);
    if (performance.now() - t0 > spec.deadlineMs) {
      throw new Error(`Upload took over ${spec.deadlineMs} ms`);
    }
    const k = Math.min(block.length, spec.bytes - sent);
    await w(k === block.length ? block : block.subarray(0, k));
    sent += k;
  }
  await w(new TextEncoder().encode("\r\n"));
  const sent = (performance.now() - t0) / 1000;
  const { line } = await reply;
  const seconds = (performance.now() - t0) / 1000;
  conn.close();
  if (line !== `OK ${spec.sha256}`) {
    throw new Error(`Expected OK ${spec.sha256.slice(0, 12)}..., got ${line.slice(0, 100)}`);
  }
  // `sent`: the last byte went into the socket (the server lags by what the socket buffers hold);
  // the rest is the server's sync and rename.
  return { bytes: spec.bytes, seconds, sent, rate: spec.bytes / seconds / 1e6 };
}

/** `GET path`: time until the last byte of the `FILE` reply. */
async function get(spec: Extract<LoadSpec, { workload: "get" }>): Promise<Record<string, unknown>> {
  const buf = new Uint8Array(1024 * 1024);
  const conn = await openRaw(spec.port, buf);
  const t0 = performance.now();
  await conn.write(new TextEncoder().encode(`GET ${spec.path}\r\n`));
  const { line, rest } = await readLine(conn, buf);
  const parts = line.split(" ");
  if (parts[0] !== "FILE" || parts.length < 5) {
    throw new Error(`Expected FILE, got ${line.slice(0, 100)}`);
  }
  const size = Number(parts[parts.length - 1]);
  if (size !== spec.bytes) {
    throw new Error(`Expected ${spec.bytes} bytes, the server announced ${size}`);
  }
  if (parts[3] !== spec.sha256) {
    throw new Error(`Expected sha256 ${spec.sha256}, the server announced ${parts[3]}`);
  }
  let got = rest.length;
  const want = size + 2; // the payload, then CRLF
  while (got < want) {
    if (performance.now() - t0 > spec.deadlineMs) {
      throw new Error(`Download took over ${spec.deadlineMs} ms`);
    }
    const n = await conn.read(buf);
    if (n === null) throw new Error(`Server closed the connection after ${got} of ${want} bytes`);
    got += n;
  }
  const seconds = (performance.now() - t0) / 1000;
  conn.close();
  return { bytes: size, seconds, rate: size / seconds / 1e6 };
}

async function main(): Promise<void> {
  const spec = JSON.parse(Deno.args[0] ?? "{}") as LoadSpec;
  const wire = WIRES[spec.proto];
  let result: Record<string, unknown>;
  switch (spec.workload) {
    case "fanout":
      result = await fanout(wire, spec);
      break;
    case "chat":
      result = await chat(wire, spec);
      break;
    case "latency":
      result = await latency(wire, spec);
      break;
    case "idle":
      result = await idle(wire, spec);
      break;
    case "put":
      result = await put(spec);
      break;
    case "get":
      result = await get(spec);
      break;
    default:
      throw new Error(`Unknown workload ${(spec as { workload: string }).workload}`);
  }
  console.log(`RESULT ${JSON.stringify(result)}`);
}

if (import.meta.main) {
  try {
    await main();
    Deno.exit(0);
  } catch (e) {
    console.log(`FAILED ${JSON.stringify(String((e as Error).message ?? e))}`);
    Deno.exit(1);
  }
}
