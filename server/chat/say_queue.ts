/**
 * Room messages for an engine that publishes them itself ({@linkcode EngineNode.say}, Redis):
 * the messages one sender publishes to one room in a row (one read chunk) go to the engine in
 * one call when the hub flushes, so a fast publisher pays one round trip per chunk, not one per
 * message; the engine answers the first id and the room's audience, and each message's promise
 * settles with its own id.
 *
 * @module
 */

import { type EngineNode, MAX_SAY_MESSAGES, type Said } from "../core/engine.ts";
import type { Published } from "../core/hub.ts";
import type { Member } from "../core/member.ts";

/** One sender's messages to one room, waiting for the flush. */
interface Run {
  readonly room: string;
  readonly sender: Member;
  readonly head: string;
  readonly lengths: number[];
  bytes: Uint8Array;
  used: number;
  readonly waiters: { resolve(p: Published): void; reject(e: unknown): void }[];
}

/** A run is sent once it holds this many payload bytes. */
const RUN_BYTES = 256 * 1024;

/** The queue of one hub. */
export class SayQueue {
  readonly #say: NonNullable<EngineNode["say"]>;
  readonly #wrap: (e: unknown) => unknown;
  readonly #here: (room: string, except: Member) => number;
  #runs: Run[] = [];
  #armed = false;

  /**
   * @param say The engine's `say`.
   * @param wrap Turns the engine's rejection into what the publisher gets (`ERR 503`).
   */
  constructor(
    say: NonNullable<EngineNode["say"]>,
    here: (room: string, except: Member) => number,
    wrap: (e: unknown) => unknown,
  ) {
    this.#say = say;
    this.#here = here;
    this.#wrap = wrap;
  }

  /**
   * Queues a message (its payload is copied).
   *
   * @param room The room's key.
   * @param sender Who sends it.
   * @param head `MSG <room> <nick>`.
   * @param payload The text.
   * @returns Its id and the members it reaches, once the engine has it.
   */
  push(room: string, sender: Member, head: string, payload: Uint8Array): Promise<Published> {
    let run = this.#runs[this.#runs.length - 1];
    if (
      run === undefined || run.room !== room || run.sender !== sender || run.head !== head ||
      run.used + payload.length > RUN_BYTES || run.lengths.length >= MAX_SAY_MESSAGES
    ) {
      run = {
        room,
        sender,
        head,
        lengths: [],
        bytes: new Uint8Array(Math.max(4096, payload.length)),
        used: 0,
        waiters: [],
      };
      this.#runs.push(run);
      this.#arm();
    }
    if (run.used + payload.length > run.bytes.length) {
      const grown = new Uint8Array(Math.max(run.bytes.length * 2, run.used + payload.length));
      grown.set(run.bytes.subarray(0, run.used));
      run.bytes = grown;
    }
    run.bytes.set(payload, run.used);
    run.used += payload.length;
    run.lengths.push(payload.length);
    const r = run;
    return new Promise((resolve, reject) => r.waiters.push({ resolve, reject }));
  }

  /** Sends every queued run to the engine, in order. */
  flush(): void {
    if (this.#runs.length === 0) return;
    const runs = this.#runs;
    this.#runs = [];
    for (const run of runs) {
      const here = this.#here(run.room, run.sender);
      const settle = (said: Said) => {
        const recipients = here + said.remote;
        run.waiters.forEach((w, i) => w.resolve({ recipients, id: said.first + i }));
      };
      const fail = (e: unknown) => {
        const error = this.#wrap(e);
        for (const w of run.waiters) w.reject(error);
      };
      let sent: Promise<Said>;
      try {
        sent = this.#say(run.room, {
          head: run.head,
          sender: run.sender.id,
          lengths: run.lengths,
          payloads: run.bytes.subarray(0, run.used),
        });
      } catch (e) {
        fail(e);
        continue;
      }
      sent.then(settle, fail);
    }
  }

  // A fallback for callers that never flush (a session flushes at the end of each read).
  #arm(): void {
    if (this.#armed) return;
    this.#armed = true;
    setTimeout(() => {
      this.#armed = false;
      this.flush();
    }, 0);
  }
}
