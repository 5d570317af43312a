/**
 * Many clients at once against a server process: 500 clients each send one lobby message and
 * every client hears every other one (500 x 499 deliveries).
 */

import assert from "node:assert/strict";
import { Decoder } from "../lib/protocol/decoder.ts";
import type { Frame } from "../lib/protocol/frame.ts";
import { SERVER_PAYLOADS } from "../lib/protocol/verbs.ts";
import { startServerProcess } from "./test_util.ts";

const CLIENTS = 500;
const utf8 = new TextEncoder();
const text = new TextDecoder();

/** A bare-bones client: a connection and a decoder, frames handed to a callback. */
class Peer {
  readonly conn: Deno.TcpConn;
  readonly #decoder = new Decoder({ payloads: SERVER_PAYLOADS });
  readonly #buf = new Uint8Array(64 * 1024);

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
  }

  /** Reads frames until `onFrame` returns true; throws on EOF or a decode error. */
  async readUntil(onFrame: (f: Frame) => boolean): Promise<void> {
    for (;;) {
      const n = await this.conn.read(this.#buf);
      if (n === null) throw new Error("Connection closed by server");
      this.#decoder.push(this.#buf.subarray(0, n));
      let done = false;
      for (let ev = this.#decoder.next(); ev !== undefined; ev = this.#decoder.next()) {
        if (ev.type !== "frame") throw new Error(`Unexpected ${ev.type} event`);
        if (onFrame(ev)) done = true;
      }
      if (done) return;
    }
  }

  async write(s: string): Promise<void> {
    const bytes = utf8.encode(s);
    for (let off = 0; off < bytes.length;) off += await this.conn.write(bytes.subarray(off));
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // Closed.
    }
  }
}

/** Fails after `ms` unless `p` settles first. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

Deno.test({
  name: "500 clients at once each send one lobby message and everybody hears all of them",
  async fn() {
    await using server = await startServerProcess();
    const peers: Peer[] = [];
    try {
      // Connect everybody (in batches, so the listen backlog is never the question) and read HELLO.
      await within(
        (async () => {
          for (let i = 0; i < CLIENTS; i += 100) {
            const batch = await Promise.all(
              Array.from(
                { length: Math.min(100, CLIENTS - i) },
                () => Deno.connect({ hostname: "127.0.0.1", port: server.port }),
              ),
            );
            const joined = batch.map((c) => new Peer(c));
            await Promise.all(joined.map((p) => p.readUntil((f) => f.verb === "HELLO")));
            peers.push(...joined);
          }
        })(),
        20_000,
        "500 connections",
      );
      assert.equal(peers.length, CLIENTS);

      // Everybody sends at once, and everybody reads until it has its reply and 499 messages.
      const heard = peers.map(() => new Set<number>());
      const replies: string[] = new Array(CLIENTS).fill("");
      const reading = peers.map((p, i) =>
        p.readUntil((f) => {
          if (f.verb === "MSG") {
            assert.equal(f.args[0], "lobby");
            heard[i]!.add(Number(text.decode(f.payload!).slice(1)));
          } else replies[i] = [f.verb, ...f.args].join(" ");
          return replies[i] !== "" && heard[i]!.size === CLIENTS - 1;
        })
      );
      await within(
        Promise.all([...peers.map((p, i) => p.write(`SAY lobby :m${i}\r\n`)), ...reading]),
        30_000,
        "500 x 499 deliveries",
      );

      let deliveries = 0;
      for (let i = 0; i < CLIENTS; i++) {
        assert.equal(replies[i], `OK ${CLIENTS - 1}`, `client ${i}'s reply`);
        assert.ok(!heard[i]!.has(i), `client ${i} does not hear itself`);
        deliveries += heard[i]!.size;
      }
      assert.equal(deliveries, CLIENTS * (CLIENTS - 1));
    } finally {
      for (const p of peers) p.close();
    }
  },
});
