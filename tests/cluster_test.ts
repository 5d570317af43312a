/**
 * Several server processes on one real `redis-server` are one service, seen from raw clients:
 * nick uniqueness, rooms, SAY counts, ids, TELL, WHO, HISTORY and RENAMED across nodes; then
 * the faults: a node killed, Redis killed and started again, a node started while Redis is down.
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodeFrame } from "../lib/protocol/encoder.ts";
import { HAVE_REDIS, REDIS_SKIP, RedisProcess } from "./helpers/redis.ts";
import { type RawClient, rawClient } from "./helpers/raw_client.ts";
import { startProxy } from "./helpers/proxy.ts";
import { peakRss, type ServerProcess, startServerProcess } from "./helpers/servers.ts";
import { waitFor } from "./helpers/wait.ts";

const NODE_TIMEOUT_MS = 2000;

function test(name: string, fn: () => Promise<void>): void {
  Deno.test({
    name: `cluster: ${name}${REDIS_SKIP}`,
    ignore: !HAVE_REDIS,
    sanitizeOps: false,
    sanitizeResources: false,
    fn,
  });
}

async function nodes(
  redis: RedisProcess,
  n: number,
  more: string[] = [],
): Promise<ServerProcess[]> {
  return await Promise.all(
    Array.from(
      { length: n },
      () =>
        startServerProcess([
          "--redis",
          redis.url,
          "--node-timeout",
          `${NODE_TIMEOUT_MS}ms`,
          ...more,
        ]),
    ),
  );
}

async function stop(servers: ServerProcess[]): Promise<void> {
  for (const s of servers) await s[Symbol.asyncDispose]();
}

/** The next frame that is not a JOINED/LEFT push. */
async function reply(c: RawClient): Promise<string> {
  for (;;) {
    const f = await c.next();
    if (!/^(JOINED|LEFT) /.test(f)) return f;
  }
}

/** alice on the first node and bob on the second, both in `ops`, alice told bob joined. */
async function pair(servers: ServerProcess[]): Promise<[RawClient, RawClient]> {
  const a = await rawClient(servers[0]!.port, { nick: "alice", room: "ops" });
  const b = await rawClient(servers[1]!.port, { nick: "bob", room: "ops" });
  await until(a, /^JOINED ops bob$/);
  return [a, b];
}

/** Waits for a frame matching `re`, skipping others. */
async function until(c: RawClient, re: RegExp, ms = 5000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error(`no frame matching ${re} in ${ms} ms`);
    const f = await c.next(left);
    if (re.test(f)) return f;
  }
}

/** `from` says in ops again and again until a message reaches `to` on the other node. */
async function crossesAgain(
  from: RawClient,
  nick: string,
  to: RawClient,
  ms: number,
): Promise<void> {
  let n = 0;
  await waitFor(
    async () => {
      await from.line(`SAY ops :try ${++n}`);
      assert.match(await reply(from), /^OK \d+ \d+$|^ERR 503 /);
      try {
        return new RegExp(`^MSG ops ${nick} id \\d+ try \\d+$`).test(await until(to, /^MSG /, 300));
      } catch {
        return false;
      }
    },
    ms,
    "a message to cross nodes again",
  );
}

test("three nodes are one service: nicks, rooms, SAY counts, TELL, WHO, HISTORY, RENAMED", async () => {
  await using redis = await RedisProcess.start();
  const servers = await nodes(redis, 3);
  try {
    const [a, b, c] = await Promise.all(servers.map((s) => rawClient(s.port)));
    // Two clients race for one nick on two nodes: exactly one wins.
    await Promise.all([a!.line("NICK alice"), b!.line("NICK Alice")]);
    const race = [await reply(a!), await reply(b!)];
    assert.equal(race.filter((r) => r.startsWith("OK ")).length, 1, race.join(" | "));
    assert.equal(race.filter((r) => r.startsWith("ERR 409")).length, 1, race.join(" | "));
    const winner = race[0]!.startsWith("OK") ? a! : b!;
    const loser = winner === a ? b! : a!;
    await winner.line("NICK alice");
    assert.equal(await reply(winner), "OK alice");
    await loser.line("NICK bob");
    assert.equal(await reply(loser), "OK bob");
    await c!.line("NICK carol");
    assert.equal(await reply(c!), "OK carol");
    for (const x of [a!, b!, c!]) {
      await x.line("JOIN ops");
      assert.equal(await reply(x), "OK ops");
    }
    // SAY reaches the members on every node, and OK counts them all.
    await winner.line("SAY ops :hello everyone");
    assert.match(await reply(winner), /^OK 2 1$/);
    for (const x of [loser, c!]) {
      assert.equal(await until(x, /^MSG /), "MSG ops alice id 1 hello everyone");
    }
    // TELL across nodes.
    await c!.line("TELL alice :psst");
    assert.match(await reply(c!), /^OK\b/);
    assert.equal(await until(winner, /^DM /), "DM carol psst");
    // WHO and ROOMS list everybody, from any node.
    await loser.line("WHO");
    const who = JSON.parse((await reply(loser)).replace(/^WHO (\d+ )?/, "")) as { nick: string }[];
    assert.deepEqual(who.map((w) => w.nick).sort(), ["alice", "bob", "carol"]);
    await c!.line("ROOMS");
    const rooms = JSON.parse((await reply(c!)).replace(/^ROOMS (\d+ )?/, ""));
    assert.deepEqual(rooms, [{ room: "lobby", members: 3 }, { room: "ops", members: 3 }]);
    // HISTORY is shared.
    await c!.line("HISTORY ops");
    assert.match(await reply(c!), /^HISTORY ops \S+ 1 1 1$/);
    assert.equal(await c!.next(), "MSG ops alice id 1 hello everyone");
    // RENAMED reaches the room's members on the other nodes.
    await loser.line("NICK bobby");
    assert.equal(await reply(loser), "OK bobby");
    assert.equal(await until(winner, /^RENAMED /), "RENAMED bob bobby");
    assert.equal(await until(c!, /^RENAMED /), "RENAMED bob bobby");
    for (const x of [a!, b!, c!]) x.close();
  } finally {
    await stop(servers);
  }
});

test("ids stay contiguous across nodes under concurrent publishers", async () => {
  await using redis = await RedisProcess.start();
  const servers = await nodes(redis, 3);
  try {
    const listener = await rawClient(servers[0]!.port, { room: "ids" });
    const pubs: RawClient[] = [];
    for (const s of servers) pubs.push(await rawClient(s.port, { room: "ids" }));
    const per = 200;
    await Promise.all(pubs.map((p, i) => {
      let text = "";
      for (let k = 0; k < per; k++) text += `SAY ids :p${i}-${k}\r\n`;
      return p.send(text);
    }));
    const seen: number[] = [];
    while (seen.length < per * pubs.length) {
      const m = await until(listener, /^MSG ids /);
      seen.push(Number(/ id (\d+) /.exec(m)![1]));
    }
    assert.deepEqual(seen, Array.from({ length: per * pubs.length }, (_, i) => i + 1));
    for (const p of pubs) {
      let last = 0;
      for (let k = 0; k < per; k++) {
        const ok = await until(p, /^OK \d+ \d+$/);
        const id = Number(ok.split(" ")[2]);
        assert.ok(id > last, `a publisher's ids rise: ${id} after ${last}`);
        last = id;
      }
    }
    for (const x of [listener, ...pubs]) x.close();
  } finally {
    await stop(servers);
  }
});

test("a killed node: the others push LEFT for its clients within --node-timeout + 2 s, nicks free", async () => {
  await using redis = await RedisProcess.start();
  const servers = await nodes(redis, 2);
  try {
    const [a, b] = await pair(servers);
    servers[1]!.kill("SIGKILL");
    await servers[1]!.status;
    const t0 = Date.now();
    assert.equal(await until(a, /^LEFT /, NODE_TIMEOUT_MS + 4000), "LEFT ops bob");
    assert.ok(Date.now() - t0 <= NODE_TIMEOUT_MS + 2000, `LEFT after ${Date.now() - t0} ms`);
    await a.line("NICK bob");
    assert.equal(await reply(a), "OK bob", "the dead node's nick is free");
    a.close();
    b.close();
  } finally {
    await stop(servers);
  }
});

test("Redis killed and started again: ERR 503 in between, then the same clients chat on", async () => {
  await using redis = await RedisProcess.start();
  const servers = await nodes(redis, 2);
  try {
    const [a, b] = await pair(servers);
    await redis.kill();
    await waitFor(
      async () => {
        await a.line("SAY ops :anyone?");
        return /^ERR 503 cluster unavailable: /.test(await reply(a));
      },
      5000,
      "ERR 503 while Redis is down",
    );
    await a.line("PING");
    assert.equal(await reply(a), "PONG", "PING keeps working");
    await redis.restart();
    // The nodes restore their members: same nicks, same rooms, no reconnect.
    await waitFor(
      async () => {
        await a.line("SAY ops :back");
        return /^OK 1 \d+$/.test(await reply(a));
      },
      10_000,
      "SAY to reach bob again",
    );
    assert.match(await until(b, /^MSG ops alice/), /^MSG ops alice id \d+ back$/);
    // More than one "back" may have reached bob (the tries before OK counted him): skip them.
    await b.line("WHO ops");
    const who = JSON.parse((await until(b, /^WHO /)).replace(/^WHO (\d+ )?/, "")) as {
      nick: string;
    }[];
    assert.deepEqual(who.map((w) => w.nick).sort(), ["alice", "bob"]);
    await b.line("NICK alice");
    assert.match(await until(b, /^(OK|ERR) /), /^ERR 409 /, "alice's nick is hers again");
    a.close();
    b.close();
  } finally {
    await stop(servers);
  }
});

test("a node started while Redis is down says so in HELLO, and joins when Redis comes", async () => {
  await using redis = await RedisProcess.start();
  await redis.kill();
  const servers = await nodes(redis, 1);
  try {
    const { RawClient } = await import("./helpers/raw_client.ts");
    const c = await RawClient.connect(servers[0]!.port);
    const hello = await c.hello();
    assert.equal(hello.cluster, true);
    assert.match(String(hello.cluster_unavailable), /redis/);
    await c.line("JOIN ops");
    assert.match(await reply(c), /^ERR 503 cluster unavailable: /);
    assert.match(servers[0]!.log(), /redis unavailable/);
    await redis.restart();
    await waitFor(
      async () => {
        await c.line("JOIN ops");
        return (await reply(c)) === "OK ops";
      },
      10_000,
      "JOIN once Redis is up",
    );
    await c.line("WHO");
    assert.match(await reply(c), /"rooms":\["lobby","ops"\]/);
    assert.match(servers[0]!.log(), /redis available/);
    c.close();
  } finally {
    await stop(servers);
  }
});

test("/healthz answers 503 while Redis is down and 200 once it is back", async () => {
  await using redis = await RedisProcess.start();
  const [server] = await nodes(redis, 1, ["--http", "127.0.0.1:0"]);
  try {
    const m = /"?http"?[=:]"?127\.0\.0\.1:(\d+)/.exec(server!.log());
    assert.ok(m, `the log names the HTTP address:\n${server!.log()}`);
    const url = `http://127.0.0.1:${m[1]}/healthz`;
    const status = async () => {
      const r = await fetch(url);
      const body = await r.text();
      return { code: r.status, body };
    };
    await waitFor(async () => (await status()).code === 200, 5000, "healthz 200");
    await redis.kill();
    await waitFor(async () => (await status()).code === 503, 5000, "healthz 503");
    assert.match((await status()).body, /redis/);
    await redis.restart();
    await waitFor(async () => (await status()).code === 200, 10_000, "healthz 200 again");
  } finally {
    await stop([server!]);
  }
});

test("on a 3-master Redis Cluster: two nodes, rooms on every shard, SAY and HISTORY across", async () => {
  const { RedisCluster } = await import("./helpers/redis.ts");
  await using cluster = await RedisCluster.start(3);
  const servers = await Promise.all(
    [0, 1].map(() =>
      startServerProcess(["--redis", cluster.url, "--redis-cluster", "--node-timeout", "2s"])
    ),
  );
  try {
    const a = await rawClient(servers[0]!.port, { nick: "alice" });
    const b = await rawClient(servers[1]!.port, { nick: "bob" });
    // Rooms whose keys hash to different shards.
    const rooms = ["r1", "r2", "r3", "r4", "r5", "r6"];
    for (const room of rooms) {
      await a.line(`JOIN ${room}`);
      assert.equal(await reply(a), `OK ${room}`);
      await b.line(`JOIN ${room}`);
      assert.equal(await reply(b), `OK ${room}`);
    }
    for (const room of rooms) {
      await a.line(`SAY ${room} :in ${room}`);
      assert.equal(await reply(a), "OK 1 1");
      assert.equal(await until(b, /^MSG /), `MSG ${room} alice id 1 in ${room}`);
    }
    await b.line("HISTORY r4");
    assert.match(await reply(b), /^HISTORY r4 \S+ 1 1 1$/);
    assert.equal(await b.next(), "MSG r4 alice id 1 in r4");
    a.close();
    b.close();
  } finally {
    await stop(servers);
  }
});

test("a pub/sub connection Redis closes is made again: pushes keep crossing nodes", async () => {
  await using redis = await RedisProcess.start();
  const servers = await nodes(redis, 2);
  try {
    const [a, b] = await pair(servers);
    await redis.cli("CLIENT", "KILL", "TYPE", "pubsub");
    await crossesAgain(a, "alice", b, 10_000);
    a.close();
    b.close();
  } finally {
    await stop(servers);
  }
});

test("a publisher pipelining 200 SAYs of 1 MiB holds about max_pending / 8 of them in flight, not 200 MiB", async () => {
  await using redis = await RedisProcess.start();
  // --history-size 0: the room's log keeps nothing, so what the server holds is what is in flight.
  const [server] = await nodes(redis, 1, ["--history-size", "0", "--max-payload", "1MiB"]);
  try {
    const c = await rawClient(server!.port);
    const MiB = 1024 * 1024, COUNT = 200;
    const payload = new Uint8Array(MiB).fill(120);
    const one = encodeFrame("SAY lobby", payload);
    const base = await server!.rss();
    const peak = await peakRss(server!.rss, async () => {
      const reading = (async () => {
        for (let i = 1; i <= COUNT; i++) assert.equal(await c.next(60_000), `OK 0 ${i}`);
      })();
      for (let i = 0; i < COUNT; i++) await c.send(one);
      await reading;
    }, 50);
    console.log(`RSS growth while 200 MiB were said: ${((peak - base) / MiB).toFixed(1)} MiB`);
    // In flight: at most 1 MiB of payloads and one more (the 1,024-command bound alone would let
    // all 200 in); what the Redis client and the collector keep around them is the slack.
    assert.ok(peak - base < 48 * MiB, `grew by ${((peak - base) / MiB).toFixed(1)} MiB`);
    c.close();
  } finally {
    await stop([server!]);
  }
});

test("Redis stalled (SIGSTOP): 100 clients pipelining 3,000 SAYs each hold at most --max-inflight of them each, then every one is answered in order", async () => {
  await using redis = await RedisProcess.start();
  // The default --node-timeout (15 s): the stall below is shorter, so the node keeps waiting for
  // Redis instead of answering ERR 503.
  const server = await startServerProcess(["--redis", redis.url, "--max-inflight", "1024"]);
  const MiB = 1024 * 1024, CLIENTS = 100, EACH = 3000;
  const clients: RawClient[] = [];
  try {
    for (let i = 0; i < CLIENTS; i++) clients.push(await rawClient(server.port));
    const base = await server.rss();
    Deno.kill(redis.pid, "SIGSTOP");
    let resumed = false;
    try {
      const says = new TextEncoder().encode("SAY lobby :hello there\r\n".repeat(EACH));
      for (const c of clients) await c.send(says);
      await new Promise((r) => setTimeout(r, 1500));
      const grown = (await server.rss()) - base;
      console.log(`RSS growth with Redis stopped: ${(grown / MiB).toFixed(1)} MiB`);
      // About 1.7 KiB a command in flight (docs/LIMITS.md): 1,024 of each client's 3,000, not
      // all of them (all would be over 500 MiB).
      assert.ok(grown < CLIENTS * 1024 * 2048, `grew by ${(grown / MiB).toFixed(1)} MiB`);
      Deno.kill(redis.pid, "SIGCONT");
      resumed = true;
    } finally {
      if (!resumed) Deno.kill(redis.pid, "SIGCONT");
    }
    // Back: one client's answers come, all of them, ids in order (others' messages between).
    const one = clients[0]!;
    let last = 0;
    for (let got = 0; got < EACH;) {
      const f = await one.next(30_000);
      if (f.startsWith("MSG ")) continue;
      const m = /^OK \d+ (\d+)$/.exec(f);
      assert.ok(m, f);
      assert.ok(Number(m[1]) > last, `ids grow: ${m[1]} after ${last}`);
      last = Number(m[1]);
      got++;
    }
  } finally {
    for (const c of clients) c.close();
    await stop([server]);
  }
});

test("a pub/sub connection that goes silent (its bytes black-holed, the socket open) is noticed by the probe and made again", async () => {
  await using redis = await RedisProcess.start();
  // Node A reaches Redis through a proxy: its first connection carries commands, its second the
  // subscriptions (link.ts connects them in that order).
  await using proxy = startProxy(redis.port);
  const viaProxy = `redis://127.0.0.1:${proxy.port}`;
  const a = await startServerProcess([
    "--redis",
    viaProxy,
    "--node-timeout",
    `${NODE_TIMEOUT_MS}ms`,
  ]);
  const [b] = await nodes(redis, 1);
  try {
    const [alice, bob] = await pair([a, b!]);
    const sub = await proxy.connection(1);
    sub.hold(); // what Redis sends node A's subscriber is lost; nothing tells node A
    const start = Date.now();
    await crossesAgain(bob, "bob", alice, 4 * NODE_TIMEOUT_MS);
    console.log(
      `node A heard the room again ${Date.now() - start} ms after its subscriber went silent`,
    );
    assert.ok(proxy.connections.length > 2, "node A connected again");
    assert.match(a.log(), /pub\/sub connection silent \(probe lost\)/, "the probe told");
    alice.close();
    bob.close();
  } finally {
    await stop([a, b!]);
  }
});
