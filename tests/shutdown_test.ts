/**
 * Graceful shutdown of a real server process: on SIGTERM or SIGINT every client gets
 * `BYE shutdown`, the process exits with code 0 within 5 s, and it accepts nobody meanwhile.
 */

import assert from "node:assert/strict";
import { encodeFrame } from "../lib/protocol/encoder.ts";
import { type RawClient, rawClient, untilClosed } from "./helpers/raw_client.ts";
import { startServerProcess } from "./helpers/servers.ts";

const MiB = 1024 * 1024;

/** Reads every frame left until EOF; returns them as text lines. */
async function rest(c: RawClient, timeoutMs = 6000): Promise<string[]> {
  return (await untilClosed(c, timeoutMs)).flatMap((ev) =>
    ev.type === "frame" ? [[ev.verb, ...ev.args].join(" ")] : []
  );
}

/** Resolves with the exit status, or fails if the process is still running after `ms`. */
async function exitWithin(
  status: Promise<Deno.CommandStatus>,
  ms: number,
): Promise<{ code: number; ms: number }> {
  const t0 = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const s = await Promise.race([
    status,
    new Promise<null>((r) => timer = setTimeout(() => r(null), ms)),
  ]);
  clearTimeout(timer);
  if (s === null) throw new Error(`The server did not exit within ${ms} ms`);
  return { code: s.code, ms: Date.now() - t0 };
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`${signal} with clients connected: each gets BYE shutdown, exit code 0 within 5 s`, async () => {
    await using server = await startServerProcess();
    const clients: RawClient[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const c = await rawClient(server.port, { nick: `user${i}` });
        if (i % 2 === 0) {
          await c.line("JOIN ops");
          assert.equal(await c.next(), "OK ops");
        }
        clients.push(c);
      }
      // Drain the JOINED pushes so that what follows the signal is all there is.
      for (const c of clients) {
        await c.line("PING");
        while ((await c.next()) !== "PONG");
      }
      server.kill(signal);
      const exit = exitWithin(server.status, 5000);
      for (const c of clients) assert.deepEqual(await rest(c), ["BYE shutdown"]);
      assert.equal((await exit).code, 0);
      const log = server.log();
      assert.equal(log.match(/disconnect .*reason=shutdown/g)?.length, 20, log);
      assert.match(log, /stopped clients=20/);
    } finally {
      for (const c of clients) c.close();
    }
  });
}

Deno.test("on shutdown, frames queued before BYE shutdown are still delivered", async () => {
  await using server = await startServerProcess();
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using bob = await rawClient(server.port, { nick: "bob" });
  // Alice pipelines commands and the signal comes right after: whatever was answered comes
  // before BYE, and BYE is the last frame.
  await alice.send("PING\r\n".repeat(50));
  await bob.line("SAY lobby :bye all");
  assert.equal(await bob.next(), "OK 1 1");
  server.kill("SIGTERM");
  const got = await rest(alice);
  assert.equal(got.at(-1), "BYE shutdown");
  const before = got.slice(0, -1);
  assert.ok(before.includes("MSG lobby bob id 1"), got.join("\n"));
  assert.ok(before.every((l) => l === "PONG" || l === "MSG lobby bob id 1"), got.join("\n"));
  assert.deepEqual(await rest(bob), ["BYE shutdown"]);
  assert.equal((await exitWithin(server.status, 5000)).code, 0);
});

Deno.test("a client that never reads does not hold up shutdown past 5 s", async () => {
  // Large max_pending and write_deadline: the stalled client is not cut before the signal.
  await using server = await startServerProcess([
    "--max-pending",
    "256MiB",
    "--write-deadline",
    "60s",
  ]);
  await using sender = await rawClient(server.port, { nick: "sender" });
  await using reader = await rawClient(server.port, { nick: "reader" });
  const stalled = await rawClient(server.port, { nick: "stalled" });
  try {
    const payload = new Uint8Array(MiB);
    for (let i = 0; i < 16; i++) {
      await sender.send(encodeFrame("SAY lobby", payload));
      assert.equal(await sender.next(), `OK 2 ${i + 1}`);
    }
    for (let i = 0; i < 16; i++) assert.equal((await reader.frame()).payload!.length, MiB);
    server.kill("SIGTERM");
    const exit = exitWithin(server.status, 5000);
    assert.deepEqual(await rest(sender), ["BYE shutdown"]);
    assert.deepEqual(await rest(reader), ["BYE shutdown"]);
    const { code, ms } = await exit;
    assert.equal(code, 0);
    assert.ok(ms >= 1000, `waited for the stalled client a while (${ms} ms)`);
  } finally {
    stalled.close();
  }
});

Deno.test("once a signal came, the server accepts no new client", async () => {
  await using server = await startServerProcess();
  await using alice = await rawClient(server.port, { nick: "alice" });
  server.kill("SIGTERM");
  // BYE is sent after the listener is closed: from then on a connection is refused.
  assert.deepEqual(await rest(alice), ["BYE shutdown"]);
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: server.port }));
  assert.equal((await exitWithin(server.status, 5000)).code, 0);
});
