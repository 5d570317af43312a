/**
 * Connections that never finish anything do not hold slots (issue 16, item 5): a TLS handshake
 * has a deadline of its own, and a control line must end within --line-timeout of its first byte.
 */

import assert from "node:assert/strict";
import { connect } from "../client/client.ts";
import { makeTestCerts, OPENSSL_MISSING, tlsConfig } from "./helpers/certs.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { captureLog, startTestServer } from "./helpers/servers.ts";
import { sleep, waitFor } from "./helpers/wait.ts";
import { encodeText } from "./helpers/bytes.ts";

Deno.test({
  name:
    "sockets stalled inside a TLS ClientHello are closed after --tls-handshake-timeout and a real client gets in",
  ignore: OPENSSL_MISSING !== null,
  async fn() {
    await using certs = await makeTestCerts();
    const { log, lines } = captureLog();
    await using server = await startTestServer(
      { ...tlsConfig(certs), maxClients: 3, tlsHandshakeTimeout: 300 },
      { log },
    );
    // Five bytes of a TLS record header, then nothing: three of them fill --max-clients 3.
    const stalled: Deno.Conn[] = [];
    for (let i = 0; i < 3; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      await conn.write(new Uint8Array([0x16, 0x03, 0x01, 0x00, 0x05]));
      stalled.push(conn);
    }
    const t0 = Date.now();
    try {
      await waitFor(
        () => lines.filter((l) => l.includes("tls handshake failed")).length === 3,
        5000,
        "the three stalled handshakes to be given up",
      );
      const took = Date.now() - t0;
      assert.ok(took >= 250, `not before the deadline (${took} ms)`);
      assert.ok(took < 3000, `within the deadline and a sweep (${took} ms), not --login-timeout`);
      assert.ok(lines.some((l) => l.includes("no TLS handshake within 300 ms")), lines.join("\n"));
      await using c = await connect({ port: server.port, tls: true, caCerts: [certs.caPem] });
      assert.equal(await c.ping() >= 0, true);
    } finally {
      for (const conn of stalled) conn.close();
    }
  },
});

Deno.test("a control line trickled one byte at a time is cut after --line-timeout with BYE line timeout", async () => {
  const { log, lines } = captureLog();
  await using server = await startTestServer({ lineTimeout: 300 }, { log });
  await using slow = await RawClient.connect(server.port);
  await slow.hello();
  await slow.send("SAY lob");
  const t0 = Date.now();
  // One byte every 50 ms: every byte is a sign of life, but the line never ends.
  const trickle = (async () => {
    for (let i = 0; i < 40; i++) {
      await sleep(50);
      try {
        await slow.send("b");
      } catch {
        return;
      }
    }
  })();
  assert.equal(await slow.next(), "BYE line timeout");
  const took = Date.now() - t0;
  assert.ok(took >= 280 && took < 1500, `cut after the deadline, not long after (${took} ms)`);
  assert.equal(await slow.closed(), true);
  await trickle;
  await waitFor(() => server.clients === 0, 2000, "the slot to be free");
  assert.ok(lines.some((l) => /WARN\s+line timeout/.test(l)), lines.join("\n"));
  assert.ok(lines.some((l) => l.includes('reason="line timeout"')), lines.join("\n"));
});

Deno.test("a line typed slowly but ended within --line-timeout is answered, and the clock restarts per line", async () => {
  await using server = await startTestServer({ lineTimeout: 400 });
  await using c = await RawClient.connect(server.port);
  await c.hello();
  for (let round = 0; round < 3; round++) {
    for (const ch of "PIN") {
      await c.send(ch);
      await sleep(60);
    }
    await c.send("G\r\n");
    assert.equal(await c.next(), "PONG", `round ${round}`);
  }
  await c.send(encodeText("PING\r\n"));
  assert.equal(await c.next(), "PONG");
});
