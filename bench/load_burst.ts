/**
 * The burst workload of the load client: publishers write as fast as their sockets take bytes (no
 * window but TCP's: they never wait for a reply or a delivery), subscribers read as fast as they
 * can, and the server's flow control decides what happens. Each payload carries its publisher and
 * a sequence number, so that every receiver checks that it got every message of every publisher,
 * in order.
 *
 * A run never fails for what the server does: a connection closed by the server (or a
 * `BYE slow consumer`) is reported as a cut, and the run ends when every receiver has everything
 * or was cut, when no message arrived for `idleMs`, or at `deadlineMs`.
 *
 * @module
 */

import { type Link, open, payloadOf, syncWith } from "./load_link.ts";
import type { LoadSpec } from "./load_spec.ts";
import { repeat, type Wire } from "./wire.ts";

/** What the burst workload runs. */
export type BurstSpec = Extract<LoadSpec, { workload: "burst" }>;

/** What one receiving connection (a subscriber, or a publisher that is a member) got. */
export interface ReceiverResult {
  /** `sub1`..., or `pub1`... for a publisher that is a member of the room. */
  name: string;
  /** Messages it should get (from every publisher but itself). */
  expected: number;
  /** Messages it got (its own echo excluded). */
  got: number;
  /** Messages whose sequence number was not the next one of their publisher (gaps, reorders). */
  outOfOrder: number;
  /** Why the connection ended before the run did (`""`: it was not cut). */
  cut: string;
}

/** The answer of a burst run. */
export interface BurstResult {
  receivers: ReceiverResult[];
  /** Messages each publisher wrote (less than its share when the run ended first). */
  sent: number[];
  /** Messages the publishers wrote per second, from the first write to the last one's end. */
  publisherRate: number;
  /** The longest single socket write of a publisher that accepted no byte, in ms. */
  longestStall: number;
  /** Why the run ended. */
  ended: string;
  /** From the first write to the last delivery, seconds. */
  seconds: number;
  /** Copies of their own messages the publishers got back (Redis has no "no echo"). */
  selfEcho: number;
}

const SUBJECT = "burst";
/** Messages per write of a publisher. */
export const BATCH = 256;
/** Where a payload carries its publisher (2 bytes) and its sequence number (4 bytes, LE). */
const SEQ_AT = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One reading connection and what it counted. */
class Receiver {
  readonly result: ReceiverResult;
  /** The next sequence number expected of each publisher. */
  readonly #next: Uint32Array;
  /** Pause once for `pauseMs` after this many messages (0: never). */
  #pauseAfter: number;

  constructor(
    readonly link: Link,
    name: string,
    expected: number,
    publishers: number,
    /** The publisher this connection is (its own echo is skipped), or -1. */
    readonly self: number,
    pauseAfter: number,
    readonly counts: { selfEcho: number; lastDelivery: number },
  ) {
    this.result = { name, expected, got: 0, outOfOrder: 0, cut: "" };
    this.#next = new Uint32Array(publishers);
    this.#pauseAfter = pauseAfter;
    link.scanner.onMessage = (buf, start) => {
      const from = buf[start]! | (buf[start + 1]! << 8);
      if (from === self) {
        counts.selfEcho++;
        return;
      }
      const seq = link.view.getUint32(start + SEQ_AT, true);
      if (seq !== this.#next[from]) this.result.outOfOrder++;
      this.#next[from] = seq + 1;
      this.result.got++;
    };
  }

  get done(): boolean {
    return this.result.cut !== "" || this.result.got >= this.result.expected;
  }

  /** Reads until stopped or cut; pauses once when told to. */
  async run(stop: { done: boolean }, pauseMs: number): Promise<void> {
    try {
      while (!stop.done) {
        const before = this.link.scanner.msgs;
        if (!await this.link.read()) {
          if (!stop.done) this.result.cut = "closed by the server";
          return;
        }
        if (this.link.scanner.msgs !== before) this.counts.lastDelivery = performance.now();
        if (this.#pauseAfter > 0 && this.result.got >= this.#pauseAfter) {
          this.#pauseAfter = 0;
          await sleep(pauseMs);
        }
      }
    } catch (e) {
      if (!stop.done) this.result.cut = this.link.scanner.error || (e as Error).message;
    }
  }
}

/** Writes `bytes`, keeping in `stall.ms` the longest single write that accepted no byte. */
async function timedWrite(
  conn: Deno.TcpConn,
  bytes: Uint8Array,
  stall: { ms: number },
): Promise<void> {
  for (let off = 0; off < bytes.length;) {
    const t = performance.now();
    off += await conn.write(bytes.subarray(off));
    const ms = performance.now() - t;
    if (ms > stall.ms) stall.ms = ms;
  }
}

/** Publisher `index` writes `count` numbered messages, `BATCH` per write, as fast as it can. */
async function publish(
  wire: Wire,
  link: Link,
  index: number,
  count: number,
  size: number,
  progress: { sent: number[]; finishedAt: number; stall: { ms: number } },
  stop: { done: boolean },
): Promise<void> {
  const payload = payloadOf(size);
  payload[0] = index & 0xff;
  payload[1] = index >> 8;
  const frame = wire.publish(SUBJECT, payload);
  const at = frame.length - 2 - size + SEQ_AT; // every wire ends a payload with CRLF
  const block = repeat(frame, BATCH);
  const view = new DataView(block.buffer);
  let seq = 0;
  try {
    while (seq < count && !stop.done) {
      const k = Math.min(BATCH, count - seq);
      for (let i = 0; i < k; i++) view.setUint32(i * frame.length + at, seq + i, true);
      await timedWrite(link.conn, block.subarray(0, k * frame.length), progress.stall);
      seq += k;
      progress.sent[index] = seq;
    }
  } catch {
    // The server closed it (its reader reports the cut) or the run ended.
  }
  progress.finishedAt = Math.max(progress.finishedAt, performance.now());
}

/**
 * Publishers → subscribers of one room, publishers writing without a window.
 *
 * @param spec What to run.
 * @param wire The protocol.
 * @returns What every receiver got, the publishers' rate and longest stall.
 */
export async function burst(spec: BurstSpec, wire: Wire): Promise<BurstResult> {
  const publishers = spec.shares.length;
  const total = spec.shares.reduce((a, b) => a + b, 0);
  const counts = { selfEcho: 0, lastDelivery: 0 };
  const receivers: Receiver[] = [];
  const pubLinks: Link[] = [];
  for (let p = 0; p < publishers; p++) {
    // A member publisher subscribes (Switchboard: JOIN); the others only do what publishing needs.
    const link = await open(wire, spec.port, 256 * 1024, false);
    const join = spec.membersPublish ? wire.subscribe(SUBJECT) : wire.prepublish(SUBJECT);
    await syncWith(wire, link, join, "the publisher's JOIN");
    pubLinks.push(link);
    // Every publisher is read (replies, and the others' messages when it is a member).
    const expected = spec.membersPublish ? total - spec.shares[p]! : 0;
    receivers.push(new Receiver(link, `pub${p + 1}`, expected, publishers, p, 0, counts));
  }
  for (let i = 0; i < spec.subscribers; i++) {
    const link = await open(wire, spec.port, 256 * 1024, true);
    await syncWith(wire, link, wire.subscribe(SUBJECT), "SUBSCRIBE");
    const pauseAfter = i === spec.subscribers - 1 ? spec.pauseAfter : 0;
    receivers.push(new Receiver(link, `sub${i + 1}`, total, publishers, -1, pauseAfter, counts));
  }

  const stop = { done: false };
  const progress = { sent: spec.shares.map(() => 0), finishedAt: 0, stall: { ms: 0 } };
  const t0 = performance.now();
  counts.lastDelivery = t0;
  const reading = receivers.map((r) => r.run(stop, spec.pauseMs));
  const writing = pubLinks.map((link, p) =>
    publish(wire, link, p, spec.shares[p]!, spec.size, progress, stop)
  );
  const ended = await new Promise<string>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      let reason = "";
      if (receivers.every((r) => r.done)) {
        reason = receivers.some((r) => r.result.cut !== "")
          ? "every receiver complete or cut"
          : "complete";
      } else if (now - counts.lastDelivery > spec.idleMs) {
        reason = `no delivery for ${spec.idleMs / 1000} s`;
      } else if (now - t0 > spec.deadlineMs) reason = `deadline (${spec.deadlineMs / 1000} s)`;
      if (reason !== "") {
        clearInterval(tick);
        resolve(reason);
      }
    }, 10);
  });
  stop.done = true;
  for (const r of receivers) r.link.close();
  await Promise.all([...reading, ...writing]);
  const sent = progress.sent.reduce((a, b) => a + b, 0);
  return {
    receivers: receivers.map((r) => r.result),
    sent: progress.sent,
    publisherRate: sent / ((progress.finishedAt - t0) / 1000),
    longestStall: progress.stall.ms,
    ended,
    seconds: (counts.lastDelivery - t0) / 1000,
    selfEcho: counts.selfEcho,
  };
}
