/**
 * TLS from the outside: throwaway CA and server certificate made with openssl at test time, real
 * sockets, the client library and a raw plaintext socket.
 */

import assert from "node:assert/strict";
import { connect, ConnectionClosedError, TlsError } from "../client/client.ts";
import { ServerError } from "../lib/protocol/errors.ts";
import { startServer } from "../server/server.ts";
import { makeTestCerts, OPENSSL_MISSING, tlsConfig } from "./helpers/certs.ts";
import { RawClient } from "./helpers/raw_client.ts";
import { startServerProcess, startTestServer } from "./helpers/servers.ts";
import { sleep, waitFor } from "./helpers/wait.ts";
import { decodeText, encodeText } from "./helpers/bytes.ts";

if (OPENSSL_MISSING) console.warn(`tls_test.ts: skipped: ${OPENSSL_MISSING}`);
const ignore = OPENSSL_MISSING !== null;

Deno.test({
  name: "TLS: a client trusting the CA connects, HELLO says tls:true, and commands work",
  ignore,
  async fn() {
    await using certs = await makeTestCerts();
    await using server = await startTestServer(tlsConfig(certs));
    await using alice = await connect({
      port: server.port,
      tls: true,
      caCerts: [certs.caPem],
      nick: "alice",
    });
    await using bob = await connect({
      host: "localhost",
      port: server.port,
      tls: true,
      caCerts: [certs.caPem],
    });
    assert.equal(alice.hello.tls, true);
    assert.equal(alice.hello.auth_required, false);
    assert.equal(await bob.say("lobby", "over TLS"), 1);
    const it = alice.messages()[Symbol.asyncIterator]();
    const m = await it.next();
    assert.deepEqual(m.value, {
      type: "msg",
      room: "lobby",
      from: bob.nick,
      id: 1,
      payload: encodeText("over TLS"),
      text: "over TLS",
    });
  },
});

Deno.test({
  name: "TLS: a client without the CA gets a TlsError saying the certificate does not verify",
  ignore,
  async fn() {
    await using certs = await makeTestCerts();
    await using server = await startTestServer(tlsConfig(certs));
    await assert.rejects(connect({ port: server.port, tls: true, timeout: 5000 }), (e: Error) => {
      assert.ok(e instanceof TlsError, String(e));
      assert.match(
        e.message,
        /^Cannot connect to 127\.0\.0\.1:\d+ over TLS: the server's certificate does not verify \(.*UnknownIssuer.*\); trust its CA with --ca/,
      );
      return true;
    });
  },
});

Deno.test({
  name: "TLS: a client trusting another CA gets the same clear error, never a plaintext fallback",
  ignore,
  async fn() {
    await using certs = await makeTestCerts();
    await using other = await makeTestCerts("Some Other CA");
    await using server = await startTestServer(tlsConfig(certs));
    await assert.rejects(
      connect({ port: server.port, tls: true, caCerts: [other.caPem], timeout: 5000 }),
      (e: Error) => e instanceof TlsError && /certificate does not verify/.test(e.message),
    );
    // The failed handshakes hurt nothing: a good client still connects.
    await using ok = await connect({ port: server.port, tls: true, caCerts: [certs.caPem] });
    assert.equal(await ok.ping() >= 0, true);
  },
});

Deno.test({
  name:
    "TLS: a certificate for another name does not verify (connecting by a name it does not list)",
  ignore,
  async fn() {
    await using certs = await makeTestCerts();
    // 127.0.0.2 is loopback too on Linux; the certificate lists only localhost and 127.0.0.1.
    let server;
    try {
      server = await startTestServer({
        host: "127.0.0.2",
        tlsCert: certs.certFile,
        tlsKey: certs.keyFile,
      });
    } catch (e) {
      console.warn(`skipped: cannot bind 127.0.0.2 here (${(e as Error).name})`);
      return;
    }
    await using _ = server;
    await assert.rejects(
      connect({
        host: "127.0.0.2",
        port: server.port,
        tls: true,
        caCerts: [certs.caPem],
        timeout: 5000,
      }),
      (e: Error) =>
        e instanceof TlsError &&
        /does not verify \(.*not valid for name "127\.0\.0\.2"/.test(e.message),
    );
  },
});

Deno.test({
  name: "TLS: plaintext to the TLS port fails cleanly, and TLS clients go on being served",
  ignore,
  async fn() {
    await using certs = await makeTestCerts();
    await using server = await startTestServer(tlsConfig(certs));
    await using tlsBefore = await connect({ port: server.port, tls: true, caCerts: [certs.caPem] });
    // A raw plaintext client: its command is never read as one, the server closes it.
    await using raw = await RawClient.connect(server.port);
    await raw.send("NICK mallory\r\nSAY lobby :plaintext\r\n");
    const buf = new Uint8Array(256);
    let got = 0;
    for (;;) {
      const n = await raw.conn.read(buf.subarray(got)).catch(() => null);
      if (n === null) break;
      got += n;
    }
    assert.ok(
      !decodeText(buf.subarray(0, got)).includes("HELLO"),
      "no HELLO in plaintext",
    );
    // The library, waiting for a HELLO that a TLS server never sends first, says what to do.
    await assert.rejects(
      connect({ port: server.port, timeout: 500 }),
      (e: Error) =>
        e instanceof ConnectionClosedError &&
        /no HELLO within 500 ms \(a TLS server waits in silence: use --tls/.test(e.message),
    );
    // Other clients did not notice anything, and new ones connect.
    assert.equal(await tlsBefore.say("lobby", "still here"), 0);
    await using tlsAfter = await connect({ port: server.port, tls: true, caCerts: [certs.caPem] });
    assert.equal(await tlsAfter.say("lobby", "hi"), 1);
    assert.equal(server.clients, 2);
  },
});

Deno.test({
  name:
    "TLS: the client speaking TLS to a plaintext server gets a TlsError, not a plaintext session",
  async fn() {
    await using server = await startTestServer();
    await assert.rejects(
      connect({ port: server.port, tls: true, timeout: 5000 }),
      (e: Error) => e instanceof TlsError && /the server does not speak TLS/.test(e.message),
    );
    await waitFor(() => server.clients === 0, 5000, "the plaintext server to drop the TLS client");
  },
});

Deno.test({
  name: "TLS: a connection that never finishes the handshake is closed after --login-timeout",
  ignore,
  async fn() {
    await using certs = await makeTestCerts();
    await using server = await startTestServer({
      ...tlsConfig(certs),
      loginTimeout: 300,
    });
    await using raw = await RawClient.connect(server.port);
    const t0 = Date.now();
    assert.equal(await raw.closed(5000), true);
    assert.ok(Date.now() - t0 >= 250, "not closed before the timeout");
    assert.equal(server.clients, 0);
  },
});

Deno.test({
  name: "TLS: half-open handshakes count toward --max-clients and refuse the next with ERR 503",
  ignore,
  async fn() {
    await using certs = await makeTestCerts();
    await using server = await startTestServer({
      ...tlsConfig(certs),
      maxClients: 2,
    });
    await using a = await RawClient.connect(server.port);
    await using b = await RawClient.connect(server.port);
    await sleep(100);
    await assert.rejects(
      connect({ port: server.port, tls: true, caCerts: [certs.caPem] }),
      (e: Error) => e instanceof ServerError && e.code === 503,
    );
    a.close();
    b.close();
    await sleep(200);
    await using ok = await connect({ port: server.port, tls: true, caCerts: [certs.caPem] });
    assert.equal(ok.hello.tls, true);
  },
});

Deno.test({
  name:
    "TLS: missing or unreadable certificate files stop the server from starting, naming the flag",
  ignore,
  async fn() {
    await using certs = await makeTestCerts();
    assert.throws(
      () => startServer({ port: 0, tlsCert: `${certs.dir}/nope.pem`, tlsKey: certs.keyFile }),
      /^Error: Cannot start TLS: cannot read --tls-cert .*nope\.pem/,
    );
    assert.throws(
      () => startServer({ port: 0, tlsCert: certs.certFile, tlsKey: certs.certFile }),
      /Cannot start TLS: --tls-key .* holds no PEM private key/,
    );
    assert.throws(
      () => startServer({ port: 0, tlsCert: certs.certFile }),
      /--tls-cert and --tls-key: give both, or neither/,
    );
    await using other = await makeTestCerts("Some Other CA");
    assert.throws(
      () => startServer({ port: 0, tlsCert: certs.certFile, tlsKey: other.keyFile }),
      /Cannot start TLS: .*server\.pem and .*server\.key are not a matching certificate and key/,
    );
  },
});

Deno.test({
  name: "TLS: switchboard-server --tls-cert --tls-key logs tls=true and serves TLS",
  ignore,
  async fn() {
    await using certs = await makeTestCerts();
    await using proc = await startServerProcess([
      "--tls-cert",
      certs.certFile,
      "--tls-key",
      certs.keyFile,
    ]);
    assert.match(proc.log(), /listening .*tls=true/);
    await using c = await connect({ port: proc.port, tls: true, caCerts: [certs.caPem] });
    assert.equal(c.hello.tls, true);
  },
});

Deno.test({
  name: "TLS: 16 MiB of messages cross the TLS layer intact, and QUIT ends cleanly with OK bye",
  ignore,
  async fn() {
    await using certs = await makeTestCerts();
    await using server = await startTestServer(tlsConfig(certs));
    const alice = await connect({ port: server.port, tls: true, caCerts: [certs.caPem] });
    await using bob = await connect({ port: server.port, tls: true, caCerts: [certs.caPem] });
    const payload = new Uint8Array(512 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
    const sends = Array.from({ length: 32 }, () => bob.say("lobby", payload));
    let got = 0;
    for await (const m of alice.messages()) {
      assert.equal(m.type, "msg");
      if (m.type === "msg") assert.deepEqual(m.payload, payload);
      if (++got === 32) break;
    }
    assert.deepEqual(await Promise.all(sends), Array(32).fill(1));
    assert.equal((await alice.command("QUIT")).args.join(" "), "bye");
    await alice.done;
    await waitFor(() => server.clients === 1, 5000, "alice to be gone");
  },
});
