/**
 * The soak: a server process and, for `--minutes N`, 200 well-behaved clients with a mixed
 * workload (room and lobby messages, DMs, TIME, WHO/ROOMS, JOIN/LEAVE, small PUT and GET), plus a
 * stream of short-lived connections that come and go. Every 10 s it prints messages sent,
 * received and lost, errors, and the server's RSS.
 *
 * It fails (exit 1) when a message is lost while no client was cut, when any error happens
 * (an unexpected ERR, a corrupt, duplicated or reordered message, a bad file), when the server's
 * memory keeps growing after warm-up (see {@linkcode leakVerdict}), or when its open files do not
 * go back to their baseline once the clients are gone.
 *
 * Usage: `deno task soak [--minutes N] [--clients N] [--every SECONDS] [--seed N]
 * [--server-v8-flags FLAGS]` (`--server-v8-flags=--trace-gc` shows the server's heap after each
 * collection in its log, printed at the end).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type Client, connect, type Push } from "../client/client.ts";
import { ServerError } from "../lib/protocol/errors.ts";
import { decodeText, encodeText, mib, prng, sha256 } from "./helpers/bytes.ts";
import { fdCount, rssOf, startServerProcess } from "./helpers/servers.ts";
import { sleep } from "./helpers/wait.ts";
import { download, seedFiles } from "./helpers/witnesses.ts";
import { startNodes } from "./helpers/soak_nodes.ts";

const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Options

const { values } = parseArgs({
  args: Deno.args,
  options: {
    minutes: { type: "string", default: "5" },
    clients: { type: "string", default: "200" },
    every: { type: "string", default: "10" },
    seed: { type: "string" },
    "server-v8-flags": { type: "string" },
    nodes: { type: "string", default: "1" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(
    "Usage: deno task soak [--minutes N (default 5)] [--clients N (default 200)] " +
      "[--every SECONDS (default 10)] [--seed N] [--server-v8-flags FLAGS (e.g. --trace-gc)] " +
      "[--nodes N (default 1; more: N servers on one redis-server, clients spread over them)]",
  );
  Deno.exit(0);
}
const MINUTES = Number(values.minutes);
const CLIENTS = Number(values.clients);
const EVERY = Number(values.every) * 1000;
const NODES = Number(values.nodes);
const SEED = values.seed !== undefined ? Number(values.seed) : (Math.random() * 2 ** 31) | 0;
if (!(MINUTES > 0) || !Number.isInteger(CLIENTS) || CLIENTS < 2 || !(EVERY > 0)) {
  console.error("soak: --minutes must be > 0, --clients >= 2, --every > 0");
  Deno.exit(2);
}
if (!Number.isInteger(NODES) || NODES < 1 || NODES > 8) {
  console.error("soak: --nodes must be 1 to 8");
  Deno.exit(2);
}
const DURATION = MINUTES * 60_000;
const ROOMS = 20;
const LOBBY_OTHERS = CLIENTS - 1;

// ---------------------------------------------------------------------------------------------
// Counters

const stats = {
  roomSays: 0,
  lobbySays: 0,
  dms: 0,
  /** Deliveries the server said it queued to the soak's own clients (`OK n`, lobby: the others). */
  expected: 0,
  /** Deliveries the soak's own clients received, checked byte for byte. */
  received: 0,
  /**
   * With several nodes: room messages said while a JOIN or LEAVE of that room was in flight,
   * and their deliveries, left out of `expected` and `received` (see `uncertain` below).
   */
  uncertainMessages: 0,
  uncertainDeliveries: 0,
  times: 0,
  whos: 0,
  joins: 0,
  puts: 0,
  gets: 0,
  putBytes: 0,
  getBytes: 0,
  churned: 0,
  errors: 0,
  cut: 0,
};
const errorSamples: string[] = [];

// With several nodes, `OK <recipients>` counts the members of other nodes as those nodes last
// reported them (docs/PROTOCOL.md): a member joining on another node while a message is said may
// get it uncounted, one leaving may be counted and not get it. Such messages are told apart: a
// room's JOIN/LEAVE in flight (and each one started or ended) marks the messages said meanwhile
// as uncertain, and neither their count nor their deliveries enter the loss check. Everything
// else is counted exactly, as with one node.
const changing = new Map<string, { inFlight: number; version: number }>();
/** Deliveries counted for room messages whose `OK` has not come yet, by `sender:seq`. */
const early = new Map<string, number>();
/** Room messages left out of the loss check, by `sender:seq`. */
const uncertain = new Set<string>();

function roomState(room: string): { inFlight: number; version: number } {
  let st = changing.get(room);
  if (st === undefined) changing.set(room, st = { inFlight: 0, version: 0 });
  return st;
}

function error(what: string): void {
  stats.errors++;
  if (errorSamples.length < 20) {
    errorSamples.push(`${((Date.now() - t0) / 1000).toFixed(1)}s ${what}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Messages: `sender:seq:length:` then filler derived from the sequence number, so a receiver
// checks every byte without any shared state.

function messageBytes(sender: string, seq: number, length: number): Uint8Array {
  const head = encodeText(`${sender}:${seq}:${length}:`);
  const out = new Uint8Array(head.length + length);
  out.set(head);
  for (let i = 0; i < length; i++) out[head.length + i] = 0x61 + ((seq + i) % 26);
  return out;
}

/** Checks a message; returns its sender and sequence number, or null (and counts an error). */
function checkMessage(payload: Uint8Array, from: string): { sender: string; seq: number } | null {
  const firstColons = decodeText(payload.subarray(0, 64)).split(":");
  const [sender, seqText, lengthText] = firstColons;
  const seq = Number(seqText), length = Number(lengthText);
  if (sender !== from || !Number.isInteger(seq) || !Number.isInteger(length)) {
    error(`corrupt message from ${from}: ${decodeText(payload.subarray(0, 40))}`);
    return null;
  }
  const start = encodeText(`${sender}:${seq}:${length}:`).length;
  if (payload.length !== start + length) {
    error(`message ${sender}:${seq} has ${payload.length - start} bytes, not ${length}`);
    return null;
  }
  for (let i = 0; i < length; i++) {
    if (payload[start + i] !== 0x61 + ((seq + i) % 26)) {
      error(`message ${sender}:${seq} corrupt at byte ${i}`);
      return null;
    }
  }
  return { sender, seq };
}

// ---------------------------------------------------------------------------------------------
// One soak client

interface Soaker {
  readonly nick: string;
  readonly client: Client;
  readonly random: () => number;
  readonly home: string[];
  readonly extra: Set<string>;
  /** Highest sequence number received from each sender (per-sender order check). */
  readonly lastSeq: Map<string, number>;
  /** Own files: path → sha256. */
  readonly files: Map<string, string>;
  seq: number;
  cut: boolean;
}

const nicks: string[] = [];
const shared: Record<string, string> = {};

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

async function receive(s: Soaker): Promise<void> {
  for await (const m of s.client.messages()) onPush(s, m);
  // The connection ended: by us at the end, or a cut.
  if (!stopping) {
    s.cut = true;
    stats.cut++;
    error(`${s.nick} was disconnected`);
  }
}

function onPush(s: Soaker, m: Push): void {
  if (m.type === "bye") {
    if (!stopping) error(`${s.nick} got BYE ${m.reason}`);
    return;
  }
  if (m.type !== "msg" && m.type !== "dm") return;
  if (!m.from.startsWith("soak-")) return; // a short-lived client
  const id = checkMessage(m.payload, m.from);
  if (id === null) return;
  const last = s.lastSeq.get(id.sender) ?? -1;
  if (id.seq <= last) {
    error(`${s.nick} got ${id.sender}:${id.seq} after ${last} (duplicate or reordered)`);
  }
  s.lastSeq.set(id.sender, id.seq);
  const key = `${id.sender}:${id.seq}`;
  if (uncertain.has(key)) {
    stats.uncertainDeliveries++;
    return;
  }
  stats.received++;
  const before = early.get(key);
  if (before !== undefined) early.set(key, before + 1);
}

async function step(s: Soaker): Promise<void> {
  const r = s.random();
  const c = s.client;
  if (r < 0.30) {
    const room = pick(s.random, [...s.home, ...s.extra]);
    const key = `${s.nick}:${s.seq}`;
    const st = roomState(room);
    const version = st.version;
    if (NODES > 1) early.set(key, 0);
    const n = await c.say(room, messageBytes(s.nick, s.seq++, Math.floor(s.random() * 2000)));
    stats.roomSays++;
    const got = early.get(key) ?? 0;
    early.delete(key);
    if (NODES > 1 && (st.inFlight > 0 || st.version !== version)) {
      uncertain.add(key);
      stats.uncertainMessages++;
      stats.received -= got;
      stats.uncertainDeliveries += got;
    } else stats.expected += n;
  } else if (r < 0.33) {
    const n = await c.say("lobby", messageBytes(s.nick, s.seq++, Math.floor(s.random() * 500)));
    stats.lobbySays++;
    // Everyone else of the soak is always in lobby; n also counts short-lived clients.
    if (n < LOBBY_OTHERS) error(`lobby message queued to ${n} clients, fewer than ${LOBBY_OTHERS}`);
    stats.expected += LOBBY_OTHERS;
  } else if (r < 0.53) {
    let to = pick(s.random, nicks);
    if (to === s.nick) to = nicks[(nicks.indexOf(to) + 1) % nicks.length]!;
    await c.tell(to, messageBytes(s.nick, s.seq++, Math.floor(s.random() * 1000)));
    stats.dms++;
    stats.expected += 1;
  } else if (r < 0.68) {
    const t = await c.time();
    if (Math.abs(t.server - Date.now()) > 10_000) {
      error(`TIME is off by ${t.server - Date.now()} ms`);
    }
    stats.times++;
  } else if (r < 0.73) {
    if (s.random() < 0.5) {
      const who = await c.who(pick(s.random, s.home));
      if (!who.some((e) => e.nick === s.nick)) error(`${s.nick} missing from WHO of its room`);
    } else {
      const rooms = await c.rooms();
      if (!rooms.some((e) => e.room === "lobby" && e.members >= CLIENTS)) {
        error("ROOMS: lobby too small");
      }
    }
    stats.whos++;
  } else if (r < 0.78) {
    const room = `r${Math.floor(s.random() * ROOMS)}`;
    if (s.home.includes(room)) return;
    const st = roomState(room);
    st.inFlight++;
    st.version++;
    try {
      if (s.extra.has(room)) {
        s.extra.delete(room);
        await c.leave(room);
      } else {
        await c.join(room);
        s.extra.add(room);
      }
    } finally {
      st.inFlight--;
      st.version++;
    }
    stats.joins++;
  } else if (r < 0.88) {
    const path = `soak/${s.nick}/f${Math.floor(s.random() * 4)}.bin`;
    const bytes = crypto.getRandomValues(new Uint8Array(1 + Math.floor(s.random() * 32 * 1024)));
    const sum = sha256(bytes);
    const got = await c.put(path, bytes, { sha256: sum });
    if (got !== sum) error(`PUT ${path}: server sha256 ${got}, sent ${sum}`);
    s.files.set(path, sum);
    stats.puts++;
    stats.putBytes += bytes.length;
  } else {
    const own = [...s.files.keys()];
    const path = own.length > 0 && s.random() < 0.6
      ? pick(s.random, own)
      : pick(s.random, Object.keys(shared));
    const want = s.files.get(path) ?? shared[path]!;
    const got = await download(c, path);
    const sum = sha256(got.bytes);
    if (sum !== want || got.sha256 !== want) {
      error(`GET ${path}: sha256 ${sum}, server said ${got.sha256}, want ${want}`);
    }
    stats.gets++;
    stats.getBytes += got.bytes.length;
  }
}

async function run(s: Soaker): Promise<void> {
  while (!stopping && !s.cut) {
    await sleep(200 + s.random() * 1600);
    if (stopping || s.cut) return;
    try {
      await step(s);
    } catch (e) {
      if (s.cut || s.client.closed) return;
      error(`${s.nick}: ${e instanceof ServerError ? `ERR ${e.message}` : String(e)}`);
    }
  }
}

/** Short-lived clients: connect, a command or two, then quit politely or just vanish. */
async function churn(random: () => number): Promise<void> {
  while (!stopping) {
    try {
      const c = await connect({ port: ports[Math.floor(random() * ports.length)]! });
      try {
        if (random() < 0.5) await c.time();
        else await c.who("lobby");
        if (random() < 0.5) await c.quit();
      } finally {
        c.close();
      }
      stats.churned++;
    } catch (e) {
      if (!stopping) error(`short-lived client: ${String(e)}`);
    }
    await sleep(50 + random() * 150);
  }
}

// ---------------------------------------------------------------------------------------------
// Memory

interface Sample {
  at: number;
  rss: number;
}

interface HeapSample {
  at: number;
  /** Live JavaScript heap right after a full collection (V8's Mark-Compact), bytes. */
  live: number;
}

/** Splits samples taken after `from` into the middle and last thirds of the time after it. */
function thirds<T extends { at: number }>(samples: T[], from: number, to: number): [T[], T[]] {
  const span = to - from;
  return [
    samples.filter((s) => s.at - from >= span / 3 && s.at - from < (2 * span) / 3),
    samples.filter((s) => s.at - from >= (2 * span) / 3),
  ];
}

/**
 * The leak criteria. The first third of the run is warm-up and ignored; the middle third is
 * compared with the last.
 *
 * - The live JavaScript heap after full collections (from the server's `--trace-gc`): the lowest
 *   of the last third may not be above the lowest of the middle third by more than
 *   max(2 MiB, 10%) (a third without a full collection takes the last one before it). A leak of
 *   objects raises this floor whatever the garbage on top of it.
 * - RSS, which also holds buffers outside the heap and memory the allocator keeps: the highest of
 *   the last third may not be above the highest of the middle third by more than
 *   max(64 MiB, 25%). RSS keeps rising for two to three minutes before it levels off as V8 and
 *   the allocator reach their working size, in steps (measured over 5 minutes: 61 MiB at start,
 *   100 MiB at 30 s, 145 MiB at 41 s, 168 MiB at 140 s, 188-189 MiB from 241 s to the end), so in
 *   a 60-second run this bound only catches gross growth; longer runs judge by the heap floor.
 * - Open files (checked separately): the server's count goes back to its baseline once the
 *   clients are gone.
 */
function leakVerdict(
  samples: Sample[],
  heap: HeapSample[],
  from: number,
  to: number,
): { ok: boolean; lines: string[] } {
  const lines: string[] = [];
  let ok = true;
  // Full collections are rare when little survives: a third without one takes the last before it.
  const span = to - from;
  const window = (start: number, end: number) => {
    const inside = heap.filter((h) => h.at >= start && h.at < end);
    const before = heap.filter((h) => h.at < start).at(-1);
    return inside.length > 0 ? inside : before === undefined ? [] : [before];
  };
  const midHeap = window(from + span / 3, from + (2 * span) / 3);
  const lastHeap = window(from + (2 * span) / 3, Infinity);
  if (midHeap.length === 0 || lastHeap.length === 0 || lastHeap.at(-1) === midHeap.at(-1)) {
    lines.push(
      `live heap: no full collection after warm-up to judge by (${heap.length} in the run)`,
    );
  } else {
    const mid = Math.min(...midHeap.map((s) => s.live));
    const last = Math.min(...lastHeap.map((s) => s.live));
    const allowed = Math.max(2 * MiB, 0.1 * mid);
    const pass = last - mid <= allowed;
    ok &&= pass;
    lines.push(
      `live heap after full GC: lowest in middle third ${mib(mid)}, in last third ${mib(last)} ` +
        `(growth ${mib(last - mid)}, allowed ${mib(allowed)}) ${pass ? "ok" : "LEAK"}`,
    );
  }
  const [midRss, lastRss] = thirds(samples, from, to);
  if (midRss.length === 0 || lastRss.length === 0) lines.push("RSS: too few samples to judge");
  else {
    const mid = Math.max(...midRss.map((s) => s.rss));
    const last = Math.max(...lastRss.map((s) => s.rss));
    const allowed = Math.max(64 * MiB, 0.25 * mid);
    const pass = last - mid <= allowed;
    ok &&= pass;
    lines.push(
      `RSS: highest in middle third ${mib(mid)}, in last third ${mib(last)} (growth ${
        mib(last - mid)
      }, allowed ${mib(allowed)}; trend after warm-up ${
        (slopePerMinute([...midRss, ...lastRss]) / MiB).toFixed(1)
      } MiB/min) ${pass ? "ok" : "LEAK"}`,
    );
  }
  return { ok, lines };
}

/** Full collections in the server's `--trace-gc` output: process uptime and live heap after. */
function parseGcTrace(log: string, spawnedAt: number): HeapSample[] {
  const out: HeapSample[] = [];
  const re =
    /\]\s+(\d+) ms: (?:Incremental )?Mark-Compact[^\n]*? [\d.]+ \([\d.]+\) -> ([\d.]+) \(/g;
  for (const m of log.matchAll(re)) {
    out.push({ at: spawnedAt + Number(m[1]), live: Number(m[2]) * 1024 * 1024 });
  }
  return out;
}

function slopePerMinute(samples: Sample[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const mx = samples.reduce((a, s) => a + s.at, 0) / n;
  const my = samples.reduce((a, s) => a + s.rss, 0) / n;
  let num = 0, den = 0;
  for (const s of samples) {
    num += (s.at - mx) * (s.rss - my);
    den += (s.at - mx) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60_000;
}

// ---------------------------------------------------------------------------------------------
// Main

let stopping = false;
let port = 0;
/** Every server's port (clients are spread over them). */
let ports: number[] = [];
const t0 = Date.now();

const files = await Deno.makeTempDir({ prefix: "sb-soak-" });
const seeded = await seedFiles(files);
for (const [path, bytes] of Object.entries(seeded)) shared[path] = sha256(bytes);
// --trace-gc: the live heap after each full collection is the leak criterion (see leakVerdict).
const v8Flags = values["server-v8-flags"];
const spawnedAt = Date.now();
// More than one node: a redis-server, and the other nodes (the first is `server`, measured below).
const cluster = NODES > 1 ? await startNodes(NODES - 1, files, CLIENTS + 100) : null;
const server = await startServerProcess(
  ["--files", files, "--max-clients", String(CLIENTS + 100), ...(cluster?.args ?? [])],
  {
    script: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      `--v8-flags=--trace-gc${v8Flags === undefined ? "" : `,${v8Flags}`}`,
      new URL("../main.ts", import.meta.url).pathname,
      "server",
    ],
  },
);
port = server.port;
ports = [port, ...(cluster?.servers.map((s) => s.port) ?? [])];
console.log(
  `soak: ${CLIENTS} clients for ${MINUTES} min against server pid ${server.pid} on port ${port} ` +
    (NODES > 1
      ? `and ${NODES - 1} more nodes on one redis-server (ports ${ports.join(", ")}) `
      : "") +
    `(seed ${SEED}; rerun with deno task soak --minutes ${MINUTES} --seed ${SEED})`,
);

// With Redis, the baseline counts its two connections (command, pub/sub): wait for them first.
for (const until = Date.now() + 10_000; NODES > 1 && Date.now() < until;) {
  if (server.log().includes("redis available")) break;
  await sleep(50);
}
const fdsStart = await fdCount(server.pid);
const base = prng(SEED);
const soakers: Soaker[] = [];
for (let i = 0; i < CLIENTS; i++) nicks.push(`soak-${i}`);
for (let i = 0; i < CLIENTS; i += 20) {
  const batch = await Promise.all(
    nicks.slice(i, i + 20).map(async (nick) => {
      const client = await connect({ port: ports[nicks.indexOf(nick) % ports.length]!, nick });
      const random = prng((base() * 2 ** 31) | 0);
      const home = [`r${Math.floor(random() * ROOMS)}`];
      const second = `r${Math.floor(random() * ROOMS)}`;
      if (!home.includes(second)) home.push(second);
      for (const room of home) await client.join(room);
      const s: Soaker = {
        nick,
        client,
        random,
        home,
        extra: new Set(),
        lastSeq: new Map(),
        files: new Map(),
        seq: 0,
        cut: false,
      };
      return s;
    }),
  );
  soakers.push(...batch);
}
const receivers = soakers.map((s) => receive(s));
const rssStart = await rssOf(server.pid);
const samples: Sample[] = [{ at: Date.now(), rss: rssStart }];
console.log(
  `soak: all connected in ${((Date.now() - t0) / 1000).toFixed(1)} s; server RSS ${mib(rssStart)}`,
);

const started = Date.now();
const workers = soakers.map((s) => run(s));
const churners = [churn(prng((base() * 2 ** 31) | 0)), churn(prng((base() * 2 ** 31) | 0))];

function report(): void {
  const secs = Math.round((Date.now() - started) / 1000);
  const sent = stats.roomSays + stats.lobbySays + stats.dms;
  console.log(
    `[${
      String(secs).padStart(4)
    }s] sent ${sent} (room ${stats.roomSays}, lobby ${stats.lobbySays}, dm ${stats.dms}) | ` +
      `deliveries expected ${stats.expected} received ${stats.received} in flight ${
        stats.expected - stats.received
      } | ` +
      `errors ${stats.errors} cut ${stats.cut} | time ${stats.times} who ${stats.whos} join/leave ${stats.joins} ` +
      `put ${stats.puts} get ${stats.gets} | short-lived ${stats.churned} | server RSS ${
        mib(samples.at(-1)!.rss)
      }`,
  );
}

let nextReport = started + EVERY;
while (Date.now() - started < DURATION) {
  await sleep(Math.min(1000, DURATION - (Date.now() - started)));
  try {
    samples.push({ at: Date.now(), rss: await rssOf(server.pid) });
  } catch (e) {
    error(`cannot read the server's RSS: ${String(e)}`);
    break;
  }
  if (Date.now() >= nextReport) {
    report();
    nextReport += EVERY;
  }
}

// Stop the workload, then let every delivery in flight arrive.
const stoppedAt = Date.now();
stopping = true;
await Promise.all([...workers, ...churners]);
const drainUntil = Date.now() + 15_000;
while (stats.received < stats.expected && Date.now() < drainUntil) await sleep(100);
const lost = stats.expected - stats.received;
const rssEnd = await rssOf(server.pid);
samples.push({ at: Date.now(), rss: rssEnd });
report();
for (const s of soakers) s.client.close();
await Promise.all(receivers);
// Every socket and file the clients used is closed again.
let fdsEnd = await fdCount(server.pid);
for (const until = Date.now() + 10_000; fdsEnd > fdsStart && Date.now() < until;) {
  await sleep(200);
  fdsEnd = await fdCount(server.pid);
}
const serverAlive = await Promise.race([
  server.status.then(() => false),
  sleep(0).then(() => true),
]);
const serverLog = server.log();
const othersAlive = cluster === null ? true : await cluster.alive();
await server[Symbol.asyncDispose]();
await cluster?.[Symbol.asyncDispose]();
await Deno.remove(files, { recursive: true });

const heap = parseGcTrace(serverLog, spawnedAt);
const leak = leakVerdict(samples, heap, started, stoppedAt);
const sent = stats.roomSays + stats.lobbySays + stats.dms;
console.log("soak: summary");
console.log(
  `  messages sent ${sent} (room ${stats.roomSays}, lobby ${stats.lobbySays}, dm ${stats.dms})`,
);
console.log(`  deliveries expected ${stats.expected}, received ${stats.received}, lost ${lost}`);
if (NODES > 1) {
  console.log(
    `  left out of the count (said during a JOIN/LEAVE of their room): ${stats.uncertainMessages} ` +
      `messages, ${stats.uncertainDeliveries} deliveries`,
  );
}
console.log(
  `  other: TIME ${stats.times}, WHO/ROOMS ${stats.whos}, JOIN/LEAVE ${stats.joins}, PUT ${stats.puts} (${
    mib(stats.putBytes)
  }), ` +
    `GET ${stats.gets} (${mib(stats.getBytes)}), short-lived connections ${stats.churned}`,
);
console.log(`  errors ${stats.errors}, clients cut ${stats.cut}`);
for (const e of errorSamples) console.log(`    ${e}`);
console.log(`  server RSS at start ${mib(rssStart)}, at end ${mib(rssEnd)}`);
console.log(`  server open files: ${fdsStart} before the clients came, ${fdsEnd} after they left`);
for (const line of leak.lines) console.log(`  leak check: ${line}`);

const failures: string[] = [];
if (!serverAlive) failures.push("the server exited during the soak");
if (!othersAlive) failures.push("another node exited during the soak");
if (lost !== 0 && stats.cut === 0) failures.push(`${lost} deliveries lost while no client was cut`);
if (stats.errors > 0) failures.push(`${stats.errors} errors`);
if (!leak.ok) failures.push("memory kept growing after warm-up (leak)");
if (fdsEnd > fdsStart) {
  failures.push(`${fdsEnd - fdsStart} open files more than before the clients came`);
}
if (failures.length > 0 || v8Flags !== undefined) {
  const path = await Deno.makeTempFile({ prefix: "sb-soak-server-", suffix: ".log" });
  await Deno.writeTextFile(path, serverLog);
  console.log(`  the server's log: ${path}`);
}
if (failures.length > 0) {
  console.log(`soak: FAILED: ${failures.join("; ")}`);
  Deno.exit(1);
}
console.log("soak: passed");
