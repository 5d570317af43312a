/** The HTTP endpoint (`--http`) over real sockets: every path, the token rule, shutdown. */

import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import { encodeFrame } from "../lib/protocol/encoder.ts";
import {
  DEFAULT_CONFIG,
  parseServerArgs,
  type ServerConfig,
  validateConfig,
} from "../server/config.ts";
import type { StatusReport } from "../server/observe/http.ts";
import { type RawClient, rawClient } from "./helpers/raw_client.ts";
import { startTestServer } from "./helpers/servers.ts";
import { waitFor } from "./helpers/wait.ts";

const MiB = 1024 * 1024;

interface Family {
  name: string;
  help: string;
  type: string;
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }[];
}

function base(server: { httpAddr: Deno.NetAddr | null }): string {
  assert.ok(server.httpAddr !== null, "the HTTP endpoint is on");
  return `http://127.0.0.1:${server.httpAddr.port}`;
}

async function get(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.text(), headers: res.headers };
}

async function scrape(url: string): Promise<Map<string, Family>> {
  const res = await get(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
  const families = parsePrometheus(res.body) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

function value(families: Map<string, Family>, name: string, labels?: Record<string, string>) {
  const family = families.get(name);
  assert.ok(family, `${name} is exposed`);
  const sample = family.metrics.find((m) =>
    labels === undefined || Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)
  );
  assert.ok(sample, `${name} ${JSON.stringify(labels)} has a sample`);
  return Number(sample.value);
}

function config(over: Partial<ServerConfig>): ServerConfig {
  return { ...DEFAULT_CONFIG, ...over };
}

Deno.test("--http on a non-loopback address without --http-token is refused, naming the option", () => {
  assert.throws(() => validateConfig(config({ http: "0.0.0.0:7374" })), RangeError);
  assert.throws(
    () => parseServerArgs(["--http", "0.0.0.0:7374"]),
    (e: Error) =>
      e instanceof RangeError && /--http/.test(e.message) && /--http-token/.test(e.message),
  );
  assert.throws(() => validateConfig(config({ http: "[::]:7374" })), /--http-token/);
  assert.throws(() => validateConfig(config({ http: "192.168.1.5:80" })), /--http-token/);
  validateConfig(config({ http: "0.0.0.0:7374", httpToken: "s3cret" }));
  validateConfig(config({ http: "127.0.0.1:7374" }));
  validateConfig(config({ http: "localhost:0" }));
  validateConfig(config({ http: "[::1]:7374" }));
  assert.throws(() => validateConfig(config({ http: "127.0.0.1" })), /--http: "127.0.0.1" is not/);
  assert.throws(() => validateConfig(config({ http: "127.0.0.1:70000" })), /--http/);
  assert.throws(
    () => validateConfig(config({ http: "127.0.0.1:1", httpToken: "a b" })),
    /--http-token/,
  );
  assert.equal(parseServerArgs([]).config.http, "");
  const env = (name: string) =>
    ({ SWITCHBOARD_HTTP: "127.0.0.1:9000" } as Record<string, string>)[name];
  assert.equal(parseServerArgs([], env).config.http, "127.0.0.1:9000");
});

Deno.test("without --http there is no HTTP endpoint", async () => {
  await using server = await startTestServer();
  assert.equal(server.httpAddr, null);
});

Deno.test("GET /healthz is ok, / is the dashboard with its CSP, other paths 404, other methods 405", async () => {
  await using server = await startTestServer({ http: "127.0.0.1:0" });
  const url = base(server);
  const health = await get(`${url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(health.body, "ok\n");
  const page = await get(`${url}/`);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(
    page.headers.get("content-security-policy"),
    "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'",
  );
  assert.match(page.body, /^<!doctype html>/i);
  assert.equal((await get(`${url}/nope`)).status, 404);
  assert.equal((await get(`${url}/metrics`, { method: "POST", body: "x" })).status, 405);
  assert.equal((await get(`${url}/healthz`, { method: "DELETE" })).status, 405);
});

Deno.test("GET /metrics parses as Prometheus text and counts real traffic", async () => {
  await using server = await startTestServer({ http: "127.0.0.1:0" });
  const url = base(server);
  await using alice = await rawClient(server.port, { nick: "alice" });
  await using bob = await rawClient(server.port, { nick: "bob" });
  for (let i = 1; i <= 3; i++) {
    await alice.send(encodeFrame("SAY lobby", new TextEncoder().encode(`hello ${i}`)));
    assert.equal(await alice.next(), `OK 1 ${i}`);
    assert.equal((await bob.frame()).verb, "MSG");
  }
  // 64 commands in a row: at least one has its latency sampled.
  await alice.send("PING\r\n".repeat(64));
  for (let i = 0; i < 64; i++) assert.equal(await alice.next(), "PONG");
  await alice.line("FROB");
  assert.match(await alice.next(), /^ERR 400/);

  const m = await scrape(url);
  for (const [name, family] of m) {
    assert.match(name, /^switchboard_/);
    assert.ok(family.help.length > 0, `${name} has HELP`);
    if (family.type === "COUNTER") assert.match(name, /_total$/);
    for (const sample of family.metrics) {
      assert.ok(!Object.values(sample.labels ?? {}).some((v) => /alice|bob|lobby/.test(v)));
    }
  }
  assert.equal(value(m, "switchboard_connections"), 2);
  assert.equal(m.get("switchboard_connections")!.type, "GAUGE");
  assert.equal(value(m, "switchboard_connects_total"), 2);
  assert.equal(value(m, "switchboard_messages_published_total"), 3);
  assert.equal(value(m, "switchboard_messages_delivered_total"), 3);
  assert.equal(value(m, "switchboard_commands_total", { verb: "SAY" }), 3);
  assert.equal(value(m, "switchboard_commands_total", { verb: "PING" }), 64);
  assert.equal(value(m, "switchboard_commands_total", { verb: "unknown" }), 1);
  assert.ok(value(m, "switchboard_bytes_in_total") > 0);
  assert.ok(value(m, "switchboard_bytes_out_total") > 0);
  assert.equal(value(m, "switchboard_history_messages"), 3);
  assert.ok(value(m, "switchboard_history_bytes") > 0);
  for (
    const name of [
      "slow_consumer_cuts_total",
      "publisher_stalls_total",
      "publisher_stall_seconds_total",
      "file_bytes_in_total",
      "file_bytes_out_total",
      "auth_failures_total",
      "rate_limited_total",
      "engine_errors_total",
      "protocol_errors_total",
    ]
  ) assert.equal(value(m, `switchboard_${name}`), 0, name);
  const latency = m.get("switchboard_command_latency_seconds")!;
  assert.equal(latency.type, "HISTOGRAM");
  assert.match(latency.help, /sampled/);
  assert.ok(Number(latency.metrics[0]!.count) >= 1);
  assert.equal(latency.metrics[0]!.buckets!["+Inf"], latency.metrics[0]!.count);
  const fanout = m.get("switchboard_fanout_seconds")!;
  assert.equal(fanout.type, "HISTOGRAM");
  assert.ok(Number(fanout.metrics[0]!.count) >= 3, "every batch delivered is timed");

  bob.close();
  await waitFor(() => server.clients === 1, 5000, "bob to be gone");
  const after = await scrape(url);
  assert.equal(value(after, "switchboard_connections"), 1);
  assert.equal(value(after, "switchboard_disconnects_total", { reason: "eof" }), 1);
});

Deno.test("GET /api/status lists clients, rooms with their last id, limits and recent disconnects", async () => {
  await using server = await startTestServer({ http: "127.0.0.1:0" });
  const url = base(server);
  await using alice = await rawClient(server.port, { nick: "alice", room: "ops" });
  const carol = await rawClient(server.port, { nick: "carol" });
  for (let i = 1; i <= 2; i++) {
    await alice.send(encodeFrame("SAY ops", new TextEncoder().encode("x")));
    assert.equal(await alice.next(), `OK 0 ${i}`);
  }
  await carol.line("QUIT");
  assert.equal(await carol.next(), "OK bye");
  carol.close();
  await waitFor(() => server.clients === 1, 5000, "carol to be gone");
  const res = await get(`${url}/api/status`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^application\/json/);
  const s = JSON.parse(res.body) as StatusReport;
  assert.equal(s.node, server.node);
  assert.equal(typeof s.version, "string");
  assert.ok(s.uptime_seconds >= 0);
  assert.ok(!Number.isNaN(Date.parse(s.started_at)));
  assert.equal(s.limits.max_payload, server.config.maxPayload);
  assert.equal(s.limits.max_clients, server.config.maxClients);
  assert.equal(s.clients.length, 1);
  const [client] = s.clients;
  assert.equal(client!.nick, "alice");
  assert.match(client!.address, /^127\.0\.0\.1:\d+$/);
  assert.deepEqual(client!.rooms, ["lobby", "ops"]);
  assert.equal(client!.queued_bytes, 0);
  assert.ok(!Number.isNaN(Date.parse(client!.since)));
  assert.deepEqual(s.rooms.find((r) => r.room === "ops"), { room: "ops", members: 1, last_id: 2 });
  assert.equal(s.counters.messagesIn, 2);
  assert.equal(s.counters.commands.SAY, 2);
  assert.deepEqual(s.transfers, []);
  assert.equal(s.recent_disconnects.length, 1);
  assert.equal(s.recent_disconnects[0]!.nick, "carol");
  assert.equal(s.recent_disconnects[0]!.reason, "quit");
});

Deno.test("with --http-token, every path but /healthz wants the bearer token", async () => {
  await using server = await startTestServer({ http: "127.0.0.1:0", httpToken: "s3cret" });
  const url = base(server);
  for (const path of ["/", "/metrics", "/api/status", "/events", "/nope"]) {
    const none = await get(`${url}${path}`);
    assert.equal(none.status, 401, `${path} without a token`);
    assert.match(none.headers.get("www-authenticate")!, /^Bearer/);
    const wrong = await get(`${url}${path}`, { headers: { authorization: "Bearer s3crex" } });
    assert.equal(wrong.status, 401, `${path} with a wrong token`);
    const short = await get(`${url}${path}`, { headers: { authorization: "Bearer s3" } });
    assert.equal(short.status, 401, `${path} with a prefix of the token`);
  }
  const headers = { authorization: "Bearer s3cret" };
  assert.equal((await get(`${url}/metrics`, { headers })).status, 200);
  assert.equal((await get(`${url}/api/status`, { headers })).status, 200);
  assert.equal((await get(`${url}/`, { headers })).status, 200);
  assert.equal((await get(`${url}/nope`, { headers })).status, 404);
  const health = await get(`${url}/healthz`);
  assert.equal(health.status, 200);
  assert.equal(health.body, "ok\n");
  // The dashboard (a browser's EventSource sends no headers) may carry it as ?token=.
  assert.equal((await get(`${url}/?token=s3cret`)).status, 200);
  assert.equal((await get(`${url}/?token=s3crex`)).status, 401);
  assert.equal((await get(`${url}/?token=`)).status, 401);
  assert.equal((await get(`${url}/metrics?token=s3cret`)).status, 401, "not for the others");
  assert.equal((await get(`${url}/api/status?token=s3cret`)).status, 401);
  const controller = new AbortController();
  const events = await fetch(`${url}/events?token=s3cret`, { signal: controller.signal });
  assert.equal(events.status, 200);
  assert.match(events.headers.get("content-type")!, /^text\/event-stream/);
  controller.abort();
  await events.body?.cancel().catch(() => {});
});

Deno.test("/healthz turns 503 shutting down once shutdown begins, and the endpoint stops after", async () => {
  // A client that never reads holds the shutdown up for its grace period.
  const server = await startTestServer({
    http: "127.0.0.1:0",
    maxPending: 256 * MiB,
    writeDeadline: 60_000,
  });
  const url = base(server);
  let stalled: RawClient | null = null;
  try {
    await using sender = await rawClient(server.port, { nick: "sender" });
    stalled = await rawClient(server.port, { nick: "stalled" });
    const payload = new Uint8Array(MiB);
    for (let i = 0; i < 16; i++) {
      await sender.send(encodeFrame("SAY lobby", payload));
      assert.equal(await sender.next(), `OK 1 ${i + 1}`);
    }
    assert.equal((await get(`${url}/healthz`)).status, 200);
    const stopped = server.shutdown(5000);
    const health = await get(`${url}/healthz`);
    assert.equal(health.status, 503);
    assert.equal(health.body, "shutting down\n");
    stalled.close();
    stalled = null;
    await stopped;
    await assert.rejects(fetch(`${url}/healthz`));
  } finally {
    stalled?.close();
    await server[Symbol.asyncDispose]();
  }
});

/** Reads `/events` messages as they come. */
class EventReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next message's event name and parsed data, or `null` at the end of the stream. */
  async next(timeoutMs: number): Promise<{ event: string; data: StatusReport } | null> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#buffer.includes("\n\n")) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const read = await Promise.race([
        this.#reader.read(),
        new Promise<"timeout">((r) =>
          timer = setTimeout(() => r("timeout"), deadline - Date.now())
        ),
      ]);
      clearTimeout(timer);
      if (read === "timeout") throw new Error(`No event within ${timeoutMs} ms`);
      if (read.done) return null;
      this.#buffer += read.value;
    }
    const end = this.#buffer.indexOf("\n\n");
    const message = this.#buffer.slice(0, end);
    this.#buffer = this.#buffer.slice(end + 2);
    const event = /^event: (.*)$/m.exec(message)?.[1] ?? "";
    const data = /^data: (.*)$/m.exec(message)?.[1] ?? "null";
    return { event, data: JSON.parse(data) };
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

Deno.test("GET /events sends the status at once and every second; counts follow clients", async () => {
  await using server = await startTestServer({ http: "127.0.0.1:0" });
  const url = base(server);
  const res = await fetch(`${url}/events`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
  const events = new EventReader(res.body!);
  try {
    const first = await events.next(2000);
    assert.equal(first!.event, "status");
    assert.equal(first!.data.clients.length, 0);
    await using _alice = await rawClient(server.port, { nick: "alice" });
    const second = await events.next(2000);
    assert.equal(second!.event, "status");
    assert.equal(second!.data.counters.connections, 1);
    assert.equal(second!.data.clients[0]!.nick, "alice");
    const m = await scrape(url);
    assert.equal(value(m, "switchboard_http_event_clients"), 1);
  } finally {
    await events.cancel();
  }
  await waitFor(
    async () => {
      return value(await scrape(url), "switchboard_http_event_clients") === 0;
    },
    5000,
    "the event client to be forgotten",
  );
});

Deno.test("at most 32 /events clients at once (503 beyond), and shutdown ends their streams", async () => {
  const server = await startTestServer({ http: "127.0.0.1:0" });
  const url = base(server);
  const readers: EventReader[] = [];
  try {
    for (let i = 0; i < 32; i++) {
      const res = await fetch(`${url}/events`);
      assert.equal(res.status, 200);
      readers.push(new EventReader(res.body!));
    }
    const refused = await get(`${url}/events`);
    assert.equal(refused.status, 503);
    for (const r of readers) assert.equal((await r.next(2000))!.event, "status");
    const started = performance.now();
    await server.shutdown(500);
    for (const r of readers) {
      // What was already sent may still be read; then the stream ends.
      while (await r.next(2000) !== null) { /* drain */ }
    }
    assert.ok(performance.now() - started < 3000, "the streams do not hold the shutdown up");
  } finally {
    await Promise.all(readers.map((r) => r.cancel().catch(() => {})));
    await server[Symbol.asyncDispose]();
  }
});

Deno.test("/api/status lists a transfer in flight with its progress, and forgets it once done", async () => {
  await using server = await startTestServer({ http: "127.0.0.1:0" });
  const url = base(server);
  await using up = await rawClient(server.port, { nick: "uploader" });
  const status = async () => JSON.parse((await get(`${url}/api/status`)).body) as StatusReport;
  await up.send("PUT big.bin 100000\r\n");
  await up.send(new Uint8Array(40_000).fill(7));
  await waitFor(async () => (await status()).transfers.some((t) => t.bytes === 40_000), 5000);
  assert.deepEqual((await status()).transfers, [
    { nick: "uploader", path: "big.bin", direction: "up", bytes: 40_000, size: 100_000 },
  ]);
  await up.send(new Uint8Array(60_000).fill(7));
  await up.send("\r\n");
  assert.match(await up.next(), /^OK /);
  assert.deepEqual((await status()).transfers, []);
});
