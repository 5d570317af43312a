/**
 * The message workloads of the load client, the same code for all three servers (only the
 * {@linkcode Wire} differs): fan-out, chat, sequential round trips and idle connections.
 *
 * @module
 */

import { deadline, Gate, type Link, open, payloadOf, pump, readAt, syncWith } from "./load_link.ts";
import process from "node:process";
import { awaitInterest, openFanout } from "./load_cluster.ts";
import type { LoadSpec } from "./load_spec.ts";
import { Histogram, summarize } from "./stats.ts";
import { concat, repeat, type Wire } from "./wire.ts";

/** 1 publisher, N subscribers of one subject; the publisher keeps at most `window` messages ahead. */
export async function fanout(
  spec: Extract<LoadSpec, { workload: "fanout" }>,
  wire: Wire,
): Promise<Record<string, unknown>> {
  const subject = "bench";
  const subPort = spec.subPort ?? spec.port;
  const { pub, subs } = await openFanout(wire, spec.port, subPort, spec.subscribers, subject);
  const frame = wire.publish(subject, payloadOf(spec.size));
  const block = repeat(frame, spec.batch);
  const gate = new Gate();
  const stop = { done: false };
  const timer = deadline(gate, spec.deadlineMs);
  const pumps = [pub, ...subs].map((l) => pump(l, gate, stop));
  // Across nodes, interest reaches the publisher's node later than the subscriber's reply: wait
  // until a message gets through to everyone, then count from there.
  let base = subs.map(() => 0);
  function least(): number {
    let m = Infinity;
    for (let i = 0; i < subs.length; i++) {
      const got = subs[i]!.scanner.msgs - base[i]!;
      if (got < m) m = got;
    }
    return m;
  }
  let sent = 0;
  let t0 = performance.now();
  let cpu0 = process.cpuUsage();
  try {
    if (subPort !== spec.port) {
      base = await awaitInterest(pub, subs, frame, gate);
      t0 = performance.now();
      cpu0 = process.cpuUsage();
    }
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
  const cpu = process.cpuUsage(cpu0);
  stop.done = true;
  for (const l of [pub, ...subs]) l.close();
  await Promise.all(pumps);
  const delivered = subs.reduce((n, s, i) => n + s.scanner.msgs - base[i]!, 0);
  return {
    delivered,
    seconds,
    rate: delivered / seconds,
    bytes: delivered * frame.length,
    clientCpu: (cpu.user + cpu.system) / 1e6,
  };
}

/**
 * N clients all subscribed to `lobby`, each publishing M messages, each keeping at most `window`
 * of its own messages not yet delivered to everyone. Payloads carry the sender and the send time.
 */
export async function chat(
  spec: Extract<LoadSpec, { workload: "chat" }>,
  wire: Wire,
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
export async function latency(
  spec: Extract<LoadSpec, { workload: "latency" }>,
  wire: Wire,
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
export async function idle(
  spec: Extract<LoadSpec, { workload: "idle" }>,
  wire: Wire,
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
