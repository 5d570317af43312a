/**
 * The CLI against servers that speak TLS or require authentication: `--tls`, `--ca`,
 * `sbs://` URLs, `--user` with `SWITCHBOARD_PASSWORD`, `--token` / `SWITCHBOARD_TOKEN`, and
 * the messages when something is missing or wrong.
 */

import assert from "node:assert/strict";
import { makeTestCerts, OPENSSL_MISSING, tlsConfig } from "./helpers/certs.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";
import { startTestServer } from "./helpers/servers.ts";
import { usersFile } from "./helpers/users.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
if (OPENSSL_MISSING !== null) {
  console.log(`cli_auth_tls_test: TLS tests skipped: ${OPENSSL_MISSING}`);
}

Deno.test({
  name:
    "over TLS the CLI works with --ca or sbs:// and SWITCHBOARD_CA, and says what to do without them",
  ignore: OPENSSL_MISSING !== null,
  ...opts,
  async fn() {
    await using certs = await makeTestCerts();
    await using server = await startTestServer(tlsConfig(certs));
    const port = String(server.port);

    const withCa = await runCli([
      "rooms",
      "--json",
      "--host",
      "localhost",
      "--port",
      port,
      "--ca",
      certs.caFile,
    ]);
    assert.equal(withCa.code, 0, withCa.stderr);
    assert.deepEqual(JSON.parse(withCa.stdout), [{ room: "lobby", members: 1 }]);

    const byUrl = await runCli(["time", "--json"], {
      env: { SWITCHBOARD_URL: `sbs://127.0.0.1:${port}`, SWITCHBOARD_CA: certs.caFile },
    });
    assert.equal(byUrl.code, 0, byUrl.stderr);
    assert.ok(Math.abs(JSON.parse(byUrl.stdout).offset_ms) < 1000);

    // Without the private CA the certificate does not verify: exit 1, and the way out.
    const noCa = await runCli(["rooms", "--tls", "--port", port]);
    assert.equal(noCa.code, 1);
    assert.match(
      noCa.stderr,
      /Cannot connect to 127\.0\.0\.1:\d+ over TLS: the server's certificate does not verify/,
    );
    assert.match(noCa.stderr, /--ca FILE/);

    // A CA file that is not there, or not a certificate: wrong usage.
    const missing = await runCli(["rooms", "--port", port, "--ca", `${certs.dir}/nope.pem`]);
    assert.equal(missing.code, 2);
    assert.match(
      missing.stderr,
      /Cannot read the CA certificate ".*nope\.pem": no such file\. Check the path given to --ca/,
    );
    const notPem = await runCli(["rooms", "--port", port, "--ca", certs.keyFile]);
    assert.equal(notPem.code, 2);
    assert.match(notPem.stderr, /it holds no PEM certificate/);

    // A listener and a sender over TLS.
    await using listener = spawnCli([
      "listen",
      "--count",
      "1",
      "--port",
      port,
      "--ca",
      certs.caFile,
    ]);
    await listener.waitFor(/Listening on lobby/, { stream: "stderr" });
    const sent = await runCli([
      "send",
      "lobby",
      "over tls",
      "--port",
      port,
      "--ca",
      certs.caFile,
      "--nick",
      "sec",
    ]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(await listener.exit(), 0);
    assert.match(listener.stdout, /\[lobby\] <sec> over tls$/m);
  },
});

Deno.test({
  name: "--tls against a plaintext server says the server does not speak TLS",
  ignore: OPENSSL_MISSING !== null,
  ...opts,
  async fn() {
    await using server = await startTestServer();
    const r = await runCli(["rooms", "--tls", "--port", String(server.port)]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /over TLS: the server does not speak TLS .*drop --tls, or use sb:\/\//);
  },
});

Deno.test(
  "a token server: SWITCHBOARD_TOKEN or --token logs in; none or a wrong one says what to do",
  opts,
  async () => {
    await using server = await startTestServer({ authToken: "tok-3f9a8c" });
    const port = String(server.port);
    const none = await runCli(["rooms", "--port", port]);
    assert.equal(none.code, 2);
    assert.match(
      none.stderr,
      /Cannot log in to 127\.0\.0\.1:\d+: the server requires authentication\. It takes a token: set SWITCHBOARD_TOKEN/,
    );
    const fromEnv = await runCli(["rooms", "--json", "--port", port], {
      env: { SWITCHBOARD_TOKEN: "tok-3f9a8c" },
    });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    const fromFlag = await runCli([
      "send",
      "lobby",
      "hi",
      "--port",
      port,
      "--token",
      "tok-3f9a8c",
      "--nick",
      "tk",
    ]);
    assert.equal(fromFlag.code, 0, fromFlag.stderr);
    const wrong = await runCli(["rooms", "--port", port], { env: { SWITCHBOARD_TOKEN: "nope" } });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /Cannot log in to 127\.0\.0\.1:\d+: .*\. Check the token/);
    const userInstead = await runCli(["rooms", "--port", port, "--user", "alice"], {
      env: { SWITCHBOARD_PASSWORD: "x" },
    });
    assert.equal(userInstead.code, 2);
    assert.match(
      userInstead.stderr,
      /Cannot log in to .* with a password: the server does not take one/,
    );
  },
);

Deno.test(
  "a users server: --user with SWITCHBOARD_PASSWORD logs in; no password off a terminal says how",
  opts,
  async () => {
    await using users = await usersFile([["alice", "alice-pass-1", ["chat", "read", "write"]]]);
    await using server = await startTestServer({ users: users.path });
    const port = String(server.port);
    const ok = await runCli(["who", "--json", "--port", port, "--user", "alice"], {
      env: { SWITCHBOARD_PASSWORD: "alice-pass-1" },
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout)[0].nick, "alice");
    const viaEnv = await runCli(["rooms", "--port", port], {
      env: { SWITCHBOARD_USER: "alice", SWITCHBOARD_PASSWORD: "alice-pass-1" },
    });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const bad = await runCli(["rooms", "--port", port, "--user", "alice"], {
      env: { SWITCHBOARD_PASSWORD: "wrong-pass" },
    });
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /Cannot log in to 127\.0\.0\.1:\d+ as alice: .*\. Check the user name and password/,
    );
    // The server's "Cannot log in: " is not said a second time.
    assert.equal(bad.stderr.match(/Cannot log in/g)?.length, 1, bad.stderr);
    assert.match(bad.stderr, /as alice: wrong user name or password\. Check/);
    // stdin is not a terminal: no prompt, a clear way out.
    const noPassword = await runCli(["rooms", "--port", port, "--user", "alice"]);
    assert.equal(noPassword.code, 2);
    assert.match(
      noPassword.stderr,
      /Cannot log in to 127\.0\.0\.1:\d+ as alice: no password\. Set SWITCHBOARD_PASSWORD, or run on a terminal/,
    );
    // chat logs in the same way, and keeps the user's nick.
    await using chat = spawnCli(["chat", "--port", port, "--user", "alice"], {
      env: { SWITCHBOARD_PASSWORD: "alice-pass-1" },
    });
    await chat.waitFor(/Connected to 127\.0\.0\.1:\d+ as alice; talking in lobby/);
    await chat.write("/quit\n");
    assert.equal(await chat.exit(), 0, chat.stderr);
  },
);
