/**
 * Recovery after a reconnect (protocol 2, §1), through the library against real servers over
 * real sockets: a client cut mid-stream ends with exactly the messages sent, in order, once each;
 * a gap longer than the log, and a server restart (a new epoch), give `gap` events; more than one
 * reply of missed messages is paged through; a room joined shows its last messages.
 */

import assert from "node:assert/strict";
import { connect } from "../client/client.ts";
import { type ReconnectEvent, reconnecting, type ReconnectingClient } from "../client/reconnect.ts";
import { startProxy } from "./helpers/proxy.ts";
import { startTestServer } from "./helpers/servers.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const fast = { base: 20, max: 100, jitter: 0 };

/** Reads a reconnecting client's events into a list, and waits for what a test expects. */
function watch(chat: ReconnectingClient) {
  const events: ReconnectEvent[] = [];
  const waiting: { wake: (() => void) | null } = { wake: null };
  void (async () => {
    for await (const ev of chat.events()) {
      events.push(ev);
      waiting.wake?.();
    }
  })();
  return {
    events,
    /** The room messages of `room` so far, as `id text`. */
    messages(room: string): string[] {
      return events.flatMap((e) =>
        e.type === "msg" && e.room === room ? [`${e.id} ${e.text}`] : []
      );
    },
    async until(done: () => boolean, what: string, timeout = 20_000): Promise<void> {
      const deadline = Date.now() + timeout;
      while (!done()) {
        if (Date.now() > deadline) {
          const seen = events.map((e) => e.type === "msg" ? `msg ${e.id}` : JSON.stringify(e));
          throw new Error(`Timed out waiting for ${what}; events:\n${seen.slice(-40).join("\n")}`);
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 100);
          waiting.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        waiting.wake = null;
      }
    },
  };
}

function texts(from: number, to: number, prefix = "m"): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => `${from + i} ${prefix}${from + i}`);
}

Deno.test(
  "a client cut mid-stream reconnects and ends with exactly the messages sent, in order, once each",
  opts,
  async () => {
    await using server = await startTestServer();
    // The first connection is cut after 6000 bytes from the server: in the middle of the stream.
    await using proxy = startProxy(server.port, { downLimit: (i) => i === 0 ? 6000 : undefined });
    await using chat = await reconnecting(() => connect({ port: proxy.port }), {
      nick: "alice",
      rooms: ["ops"],
      backoff: fast,
    });
    const seen = watch(chat);
    await using bob = await connect({ port: server.port, nick: "bob" });
    await bob.join("ops");
    const total = 1500;
    for (let i = 1; i <= total; i += 50) {
      const batch = [];
      for (let j = i; j < i + 50; j++) batch.push(bob.sayWithId("ops", `m${j}`));
      const ids = (await Promise.all(batch)).map((r) => r.id);
      assert.deepEqual(ids, Array.from({ length: 50 }, (_, k) => i + k));
      await new Promise((r) => setTimeout(r, 5));
    }
    await seen.until(() => seen.messages("ops").length >= total, `${total} messages`);
    // A moment for any duplicate still on its way.
    await bob.ping();
    await seen.until(() => seen.events.some((e) => e.type === "missed"), "the recovery");
    assert.deepEqual(seen.messages("ops"), texts(1, total));
    const types = seen.events.map((e) => e.type);
    assert.ok(types.includes("disconnected") && types.includes("reconnected"), types.join());
    assert.ok(proxy.connections.length >= 2, "it came back through the proxy");
    const missed = seen.events.reduce((n, e) => n + (e.type === "missed" ? e.count : 0), 0);
    assert.ok(missed > 0, "some messages came from the log, not live");
    assert.ok(!types.includes("gap"), "nothing was lost");
  },
);

Deno.test(
  "a gap longer than the room's log gives a gap event, then the messages it still has",
  opts,
  async () => {
    await using server = await startTestServer({ historySize: 10 });
    await using proxy = startProxy(server.port);
    await using chat = await reconnecting(() => connect({ port: proxy.port }), {
      nick: "alice",
      rooms: ["ops"],
      backoff: fast,
    });
    const seen = watch(chat);
    await using bob = await connect({ port: server.port, nick: "bob" });
    await bob.join("ops");
    for (let i = 1; i <= 5; i++) await bob.say("ops", `m${i}`);
    await seen.until(() => seen.messages("ops").length === 5, "the first 5 messages");
    // The network dies: 25 messages go nowhere, and the log keeps only the last 10 of them.
    const first = await proxy.connection(0);
    first.hold();
    for (let i = 6; i <= 30; i++) await bob.say("ops", `m${i}`);
    first.close();
    await seen.until(() => seen.messages("ops").length === 15, "the 10 messages the log has");
    const from = seen.events.findIndex((e) => e.type === "reconnected");
    const after = seen.events.slice(from + 1).map((e) => e.type === "msg" ? `msg ${e.id}` : e);
    assert.deepEqual(after, [
      { type: "missed", room: "lobby", count: 0 },
      { type: "gap", room: "ops", expected: 6, first: 21, epochChanged: false },
      { type: "missed", room: "ops", count: 10 },
      ...Array.from({ length: 10 }, (_, i) => `msg ${21 + i}`),
    ]);
    await bob.say("ops", "m31");
    await seen.until(() => seen.messages("ops").length === 16, "the live message after");
    assert.deepEqual(seen.messages("ops"), [...texts(1, 5), ...texts(21, 31)]);
  },
);

Deno.test(
  "more missed messages than one HISTORY reply holds are read page after page",
  opts,
  async () => {
    await using server = await startTestServer({ historySize: 5000, maxHistoryReply: 1000 });
    await using proxy = startProxy(server.port);
    await using chat = await reconnecting(() => connect({ port: proxy.port }), {
      rooms: ["ops"],
      backoff: fast,
    });
    const seen = watch(chat);
    await using bob = await connect({ port: server.port, nick: "bob" });
    await bob.join("ops");
    await bob.say("ops", "m1");
    await seen.until(() => seen.messages("ops").length === 1, "the first message");
    const first = await proxy.connection(0);
    first.hold();
    const sent = [];
    for (let i = 2; i <= 2501; i++) sent.push(bob.say("ops", `m${i}`));
    await Promise.all(sent);
    first.close();
    await seen.until(() => seen.events.some((e) => e.type === "missed" && e.room === "ops"), "ops");
    assert.deepEqual(
      seen.events.filter((e) => e.type === "missed" || e.type === "gap"),
      [{ type: "missed", room: "lobby", count: 0 }, { type: "missed", room: "ops", count: 2500 }],
    );
    await bob.say("ops", "m2502");
    await seen.until(() => seen.messages("ops").length === 2502, "all of them");
    assert.deepEqual(seen.messages("ops"), texts(1, 2502));
  },
);

Deno.test(
  "after a server restart the epoch changed: a gap, then what the new log holds",
  opts,
  async () => {
    let server = await startTestServer();
    const { port, files } = server;
    // Reconnects wait for the test to let them through.
    let gate: Promise<void> = Promise.resolve();
    let open!: () => void;
    const chat = await reconnecting(async () => {
      await gate;
      return await connect({ port });
    }, { nick: "alice", rooms: ["ops"], backoff: fast });
    try {
      const seen = watch(chat);
      const bob = await connect({ port, nick: "bob" });
      await bob.join("ops");
      await bob.say("ops", "m1");
      await bob.say("ops", "m2");
      await seen.until(() => seen.messages("ops").length === 2, "the first 2 messages");
      gate = new Promise((resolve) => open = resolve);
      await server.shutdown(500);
      bob.close();
      server = await startTestServer({ port, files });
      await using carol = await connect({ port, nick: "carol" });
      await carol.join("ops");
      for (const t of ["n1", "n2", "n3"]) await carol.say("ops", t);
      open();
      await seen.until(() => seen.messages("ops").length === 5, "the new log's 3 messages");
      const gaps = seen.events.filter((e) => e.type === "gap");
      assert.deepEqual(gaps, [
        { type: "gap", room: "lobby", expected: 1, first: 1, epochChanged: true },
        { type: "gap", room: "ops", expected: 3, first: 1, epochChanged: true },
      ]);
      assert.deepEqual(seen.messages("ops"), ["1 m1", "2 m2", "1 n1", "2 n2", "3 n3"]);
    } finally {
      await chat.quit();
      await server[Symbol.asyncDispose]();
      await Deno.remove(files, { recursive: true }).catch(() => {});
    }
  },
);

Deno.test(
  "a room joined shows its last messages first, then the live ones, none twice",
  opts,
  async () => {
    await using server = await startTestServer();
    await using bob = await connect({ port: server.port, nick: "bob" });
    await bob.join("ops");
    await bob.join("dev");
    for (let i = 1; i <= 8; i++) await bob.say("ops", `m${i}`);
    for (let i = 1; i <= 2; i++) await bob.say("dev", `d${i}`);
    await using chat = await reconnecting(() => connect({ port: server.port }), {
      rooms: ["ops"],
      history: 5,
    });
    const seen = watch(chat);
    await bob.say("ops", "m9");
    await seen.until(() => seen.messages("ops").length === 6, "5 earlier and 1 live");
    assert.deepEqual(seen.events.slice(0, 6).map((e) => e.type === "msg" ? e.id : e), [
      { type: "history", room: "ops", count: 5 },
      4,
      5,
      6,
      7,
      8,
    ]);
    assert.deepEqual(seen.messages("ops"), texts(4, 9));
    // A room joined later: its log first, and messages said while joining come once, after it.
    const joining = chat.join("dev");
    const said = bob.say("dev", "d3");
    await Promise.all([joining, said]);
    await bob.say("dev", "d4");
    await seen.until(() => seen.messages("dev").length === 4, "dev's messages");
    assert.deepEqual(seen.messages("dev"), texts(1, 4, "d"));
    assert.ok(seen.events.some((e) => e.type === "history" && e.room === "dev"));
    // Our own messages are not handed back after a reconnect.
    assert.equal((await chat.sayWithId("ops", "mine")).id, 10);
  },
);
