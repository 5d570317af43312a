/**
 * `switchboard status` over a real server's HTTP endpoint (`--http 127.0.0.1:0`): the tables,
 * `--json`, the token, and what it says when the endpoint is not there or the address is wrong.
 */

import assert from "node:assert/strict";
import { runCli } from "./helpers/cli.ts";
import { nextUnskipped, rawClient } from "./helpers/raw_client.ts";

const PRESENCE = /^(JOINED|LEFT|QUIT) /;
import { startTestServer } from "./helpers/servers.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function httpOf(server: { httpAddr: Deno.NetAddr | null }): string {
  assert.ok(server.httpAddr !== null, "the server has an HTTP endpoint");
  return `127.0.0.1:${server.httpAddr.port}`;
}

Deno.test(
  "status prints the counters, clients, rooms and disconnects as tables",
  opts,
  async () => {
    await using server = await startTestServer({ http: "127.0.0.1:0" });
    await using alice = await rawClient(server.port, { nick: "alice", room: "dev" });
    await using bob = await rawClient(server.port, { nick: "bob", room: "dev" });
    const carol = await rawClient(server.port, { nick: "carol" });
    await carol.line("QUIT");
    assert.ok(await carol.closed());
    carol.close();
    await alice.line("SAY dev :hello");
    assert.match(await nextUnskipped(alice, PRESENCE), /^OK 1 \d+$/);
    assert.match(await nextUnskipped(bob, PRESENCE), /^MSG dev alice id \d+ hello$/);

    const r = await runCli(["status", "--http", httpOf(server)]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /^switchboard-server \S+, node \S+, up \d+s \(since \d{4}-/);
    assert.match(out, /\nCOUNTERS\n/);
    assert.match(out, /\nconnections +2\n/);
    assert.match(out, /\nmessages_delivered +1\n/);
    assert.match(out, /\ndisconnects quit +1\n/);
    assert.match(out, /\nCLIENTS \(2\)\nNICK +ADDRESS +ROOMS +SINCE +QUEUED\n/);
    assert.match(out, /\nalice +127\.0\.0\.1:\d+ +lobby,dev +\d{4}-\S+ +0 B\n/);
    assert.match(out, /\nROOMS \(2\)\nROOM +MEMBERS +LAST ID\n/);
    assert.match(out, /\ndev +2 +1\n/);
    assert.match(out, /\nTRANSFERS \(0\)\nnone in flight\n/);
    assert.match(
      out,
      /\nRECENT DISCONNECTS \(1\)\nAT +NICK +ADDRESS +REASON\n\S+ +carol +127\.0\.0\.1:\d+ +quit\n$/,
    );
  },
);

Deno.test("status --json prints /api/status on one line", opts, async () => {
  await using server = await startTestServer({ http: "127.0.0.1:0" });
  await using _alice = await rawClient(server.port, { nick: "alice", room: "dev" });
  const r = await runCli(["status", "--json", "--http", `http://${httpOf(server)}/`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim().split("\n").length, 1);
  const status = JSON.parse(r.stdout);
  assert.deepEqual(status.clients.map((c: { nick: string }) => c.nick), ["alice"]);
  assert.equal(status.counters.connections, 1);
  assert.ok(status.rooms.some((room: { room: string }) => room.room === "dev"));
});

Deno.test("status sends --token as a bearer token, and says when one is needed", opts, async () => {
  await using server = await startTestServer({ http: "127.0.0.1:0", httpToken: "s3cret" });
  const none = await runCli(["status", "--http", httpOf(server)]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /Cannot read the status from http:\S+: it needs a token: pass --token/);
  const wrong = await runCli(["status", "--http", httpOf(server), "--token", "nope"]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /the token was refused/);
  const right = await runCli(["status", "--json", "--http", httpOf(server), "--token", "s3cret"]);
  assert.equal(right.code, 0, right.stderr);
  assert.equal(JSON.parse(right.stdout).counters.connections, 0);
});

Deno.test("status without an endpoint, or with a bad --http, says what to do", opts, async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const down = await runCli(["status", "--http", `127.0.0.1:${port}`]);
  assert.equal(down.code, 1);
  assert.match(
    down.stderr,
    /^switchboard: Cannot read the status from http:\/\/127\.0\.0\.1:\d+\/api\/status: .+ \(is the server started with --http\?\)\n$/,
  );
  const bad = await runCli(["status", "--http", "ftp://example.org"]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /Cannot use --http "ftp:\/\/example\.org": only http:\/\/ and https:\/\/ work/,
  );
  const extra = await runCli(["status", "now"]);
  assert.equal(extra.code, 2);
  assert.match(extra.stderr, /Cannot run status: it takes no arguments/);
});
