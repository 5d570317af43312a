/**
 * Many clients at once against a server process: 500 clients each send one lobby message and
 * every client hears every other one (500 x 499 deliveries); 4,000 idle clients and what each costs.
 */

import assert from "node:assert/strict";
import type { Frame } from "../lib/protocol/frame.ts";
import { decodeText } from "./helpers/bytes.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { startServerProcess } from "./helpers/servers.ts";
import { within } from "./helpers/wait.ts";

const CLIENTS = 500;

/**
 * Reads frames until `onFrame` returns true; throws on EOF or a stream event. A frame may take up
 * to a minute: the deadlines around the whole reads (20 s, 30 s) are what bound them.
 */
async function readUntil(c: RawClient, onFrame: (f: Frame) => boolean): Promise<void> {
  while (!onFrame(await c.frame(60_000)));
}

Deno.test({
  name: "500 clients at once each send one lobby message and everybody hears all of them",
  async fn() {
    await using server = await startServerProcess();
    const peers: RawClient[] = [];
    try {
      // Connect everybody (in batches, so the listen backlog is never the question) and read HELLO.
      await within(
        20_000,
        "500 connections",
        (async () => {
          for (let i = 0; i < CLIENTS; i += 100) {
            const joined = await Promise.all(
              Array.from(
                { length: Math.min(100, CLIENTS - i) },
                () => RawClient.connect(server.port),
              ),
            );
            await Promise.all(joined.map((p) => readUntil(p, (f) => f.verb === "HELLO")));
            peers.push(...joined);
          }
        })(),
      );
      assert.equal(peers.length, CLIENTS);

      // Everybody sends at once, and everybody reads until it has its reply and 499 messages.
      const heard = peers.map(() => new Set<number>());
      const replies: string[] = new Array(CLIENTS).fill("");
      // The lobby's id of each client's message, as the MSG frames carry it.
      const idOf = new Map<number, string>();
      const reading = peers.map((p, i) =>
        readUntil(p, (f) => {
          if (f.verb === "MSG") {
            assert.equal(f.args[0], "lobby");
            assert.equal(f.args[2], "id");
            assert.equal(f.args.length, 4);
            const from = Number(decodeText(f.payload!).slice(1));
            heard[i]!.add(from);
            const id = idOf.get(from) ?? f.args[3]!;
            idOf.set(from, id);
            assert.equal(f.args[3], id, `the id of m${from}, the same for everybody`);
          } else replies[i] = [f.verb, ...f.args].join(" ");
          return replies[i] !== "" && heard[i]!.size === CLIENTS - 1;
        })
      );
      await within(
        30_000,
        "500 x 499 deliveries",
        Promise.all([...peers.map((p, i) => p.send(`SAY lobby :m${i}\r\n`)), ...reading]),
      );

      let deliveries = 0;
      for (let i = 0; i < CLIENTS; i++) {
        assert.equal(replies[i], `OK ${CLIENTS - 1} ${idOf.get(i)}`, `client ${i}'s reply`);
        assert.ok(!heard[i]!.has(i), `client ${i} does not hear itself`);
        deliveries += heard[i]!.size;
      }
      assert.equal(deliveries, CLIENTS * (CLIENTS - 1));
      // The 500 messages took the lobby's ids 1 to 500, each once.
      assert.deepEqual(
        [...idOf.values()].map(Number).sort((a, b) => a - b),
        Array.from({ length: CLIENTS }, (_, i) => i + 1),
      );
    } finally {
      for (const p of peers) p.close();
    }
  },
});

Deno.test("4,000 idle clients cost the server at most 17 KiB of RSS each (read buffers start small, no closures per stream)", async () => {
  await using server = await startServerProcess(["--max-clients", "5000"]);
  const COUNT = 4000;
  const conns: Deno.TcpConn[] = [];
  try {
    // A first batch warms the server up (its code, its pools), then the rest is measured.
    const open = async (n: number) => {
      for (let i = 0; i < n; i += 200) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(200, n - i) }, async () => {
            const c = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
            const hello = new Uint8Array(1024);
            assert.ok((await c.read(hello))! > 0, "HELLO");
            return c;
          }),
        );
        conns.push(...batch);
      }
    };
    await open(200);
    const base = await server.rss();
    await open(COUNT);
    await new Promise((r) => setTimeout(r, 500));
    const each = ((await server.rss()) - base) / COUNT;
    console.log(`server RSS per idle connection: ${(each / 1024).toFixed(1)} KiB`);
    // 16.2-16.3 KiB measured here (the bench, at 10,000 connections, says 14.2); 18.3 before the
    // reply stream lost its closures and the read buffer started at 256 B.
    assert.ok(each < 17 * 1024, `${(each / 1024).toFixed(1)} KiB per idle connection`);
  } finally {
    for (const c of conns) c.close();
  }
});
