/**
 * The batches of the hub's fast path (an engine that answers at once): the room messages one or
 * several senders publish to one room in a row, encoded back to back into one buffer and
 * delivered to this node's members (each gets the bytes of the others' runs) and published once
 * to the other nodes.
 *
 * @module
 */

import { FrameBatch } from "../../lib/protocol/encoder.ts";
import type { Broker } from "../core/engine.ts";
import type { Awaitable, Member } from "../core/member.ts";
import type { Observer } from "../core/metrics.ts";
import type { LocalFanout, LocalRoom } from "./local_fanout.ts";

/** Payloads larger than this are not batched (encoded and fanned out on their own). */
export const BATCH_PAYLOAD = 16 * 1024;
/** A batch is delivered once it holds this many bytes. */
export const BATCH_BYTES = 256 * 1024;

/** One sender's frames, back to back, inside a batch. */
export interface Run {
  readonly sender: Member;
  readonly head: Uint8Array;
  /** Members each of its messages reaches (all but the sender, on every node). */
  readonly recipients: Awaitable<number>;
  readonly start: number;
  end: number;
}

/**
 * Messages to one room, in the order they were published (from one sender or several), encoded
 * back to back: every member gets the bytes of the others' runs.
 */
export interface Batch {
  readonly room: LocalRoom;
  /** The room name as the first sender wrote it (the fast path compares it as written). */
  readonly name: string;
  /** Local members that take pushes, counted when the batch started (changes flush first). */
  readonly accepting: number;
  /** Members on other nodes, counted when the batch started. */
  readonly remote: Awaitable<number>;
  readonly frames: FrameBatch;
  readonly runs: Run[];
}

/** A new, empty batch for `room`, its audience counted now. */
export function newBatch(
  room: LocalRoom,
  name: string,
  accepting: number,
  remote: Awaitable<number>,
): Batch {
  return { room, name, accepting, remote, frames: new FrameBatch(), runs: [] };
}

/**
 * Delivers a batch to this node's members (timed by `timer`) and publishes it to the other nodes,
 * whose every member gets it (nobody there sent these); a failure there goes to `onError`.
 */
export function deliverBatch(
  batch: Batch,
  fanout: LocalFanout,
  timer: Observer | null,
  broker: Broker,
  onError: (e: unknown) => void,
): void {
  const bytes = batch.frames.bytes();
  if (timer === null) fanout.deliverRuns(batch.room.key, bytes, batch.runs);
  else {
    const started = performance.now();
    fanout.deliverRuns(batch.room.key, bytes, batch.runs);
    timer.observe(performance.now() - started);
  }
  const sent = broker.publish(batch.room.key, bytes, null);
  if (sent instanceof Promise) sent.catch(onError);
}
