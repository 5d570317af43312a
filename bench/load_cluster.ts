/**
 * The cluster workload's parts of the load client: waiting until a message published on one node
 * reaches every subscriber on another (interest travels between nodes after the subscriber's own
 * reply), and the cross-node latency probe (timestamped messages at a moderate rate).
 *
 * @module
 */

import { deadline, Gate, type Link, open, payloadOf, pump, readAt, syncWith } from "./load_link.ts";
import type { LoadSpec } from "./load_spec.ts";
import { Histogram } from "./stats.ts";
import type { Wire } from "./wire.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Publishes `frame` every 20 ms until every subscriber has received at least one (their pumps must
 * be running), then waits for 100 ms without a delivery so that no warm-up message is counted later.
 *
 * @returns Each subscriber's count of messages when the link was quiet (subtract it afterwards).
 */
export async function awaitInterest(
  pub: Link,
  subs: Link[],
  frame: Uint8Array,
  gate: Gate,
  withinMs = 20_000,
): Promise<number[]> {
  const t0 = performance.now();
  const all = () => subs.every((s) => s.scanner.msgs > 0);
  while (!all()) {
    if (performance.now() - t0 > withinMs) {
      const got = subs.filter((s) => s.scanner.msgs > 0).length;
      throw new Error(
        `A message published on one node reached ${got}/${subs.length} subscribers on the other within ${withinMs} ms`,
      );
    }
    await pub.write(frame);
    await Promise.race([gate.wait(all), sleep(20)]);
  }
  const total = () => subs.reduce((n, s) => n + s.scanner.msgs, 0);
  for (let seen = -1; seen !== total();) {
    seen = total();
    await sleep(100);
  }
  return subs.map((s) => s.scanner.msgs);
}

/** Opens the publisher on `port` and `n` subscribers on `subPort`, each synchronised with its node. */
export async function openFanout(
  wire: Wire,
  port: number,
  subPort: number,
  n: number,
  subject: string,
): Promise<{ pub: Link; subs: Link[] }> {
  const pub = await open(wire, port, 64 * 1024, true);
  await syncWith(wire, pub, wire.prepublish(subject), "the publisher's JOIN");
  const subs: Link[] = [];
  for (let i = 0; i < n; i++) {
    const s = await open(wire, subPort, 256 * 1024, true);
    await syncWith(wire, s, wire.subscribe(subject), "SUBSCRIBE");
    subs.push(s);
  }
  return { pub, subs };
}

/**
 * The latency probe: one publisher on `port` sends a message every `intervalMs` carrying its send
 * time; each subscriber on `subPort` records receive time minus send time (one process, one clock).
 */
export async function probe(
  spec: Extract<LoadSpec, { workload: "probe" }>,
  wire: Wire,
): Promise<Record<string, unknown>> {
  const subject = "probe";
  const { pub, subs } = await openFanout(wire, spec.port, spec.subPort, spec.subscribers, subject);
  const hist = new Histogram();
  let measuring = false;
  for (const s of subs) {
    s.scanner.onMessage = (_buf, start) => {
      if (measuring) hist.record(readAt - s.view.getFloat64(start, true));
    };
  }
  const gate = new Gate();
  const stop = { done: false };
  const timer = deadline(gate, spec.deadlineMs);
  const pumps = [pub, ...subs].map((l) => pump(l, gate, stop));
  const payload = payloadOf(spec.size);
  const stamp = new DataView(payload.buffer);
  const frame = () => {
    stamp.setFloat64(0, performance.now(), true);
    return wire.publish(subject, payload);
  };
  let seconds = 0;
  try {
    const base = await awaitInterest(pub, subs, frame(), gate);
    const want = base.map((b) => b + spec.warmup + spec.count);
    let t0 = 0;
    for (let i = 0; i < spec.warmup + spec.count; i++) {
      if (i === spec.warmup) {
        // Start measuring once the warm-up messages have all arrived.
        await gate.wait(() => subs.every((s, k) => s.scanner.msgs >= base[k]! + spec.warmup));
        measuring = true;
        t0 = performance.now();
      }
      await pub.write(frame());
      await sleep(spec.intervalMs);
    }
    await gate.wait(() => subs.every((s, k) => s.scanner.msgs >= want[k]!));
    seconds = (performance.now() - t0) / 1000;
  } finally {
    clearTimeout(timer);
    stop.done = true;
    for (const l of [pub, ...subs]) l.close();
    await Promise.all(pumps);
  }
  return { latency: hist.summary(), rate: spec.count / seconds };
}
