/**
 * Login limits under concurrency, over real sockets, with the real scrypt cost (N = 2^15): many
 * wrong `AUTH` at the same moment count against --auth-failures-per-minute before they are
 * checked, and a flood of `AUTH` from one address (or a few) neither checks more than its share
 * nor holds up a correct login from another address.
 *
 * Clients bind their own loopback source address (127.0.0.2, 127.0.0.3...) with node:net's
 * `localAddress`, so the server sees them as different addresses. Each test prints what it
 * measured (`[login_limits] ...`).
 */

import assert from "node:assert/strict";
import net from "node:net";
import { hashPassword } from "../server/auth/passwords.ts";
import type { ServerConfig } from "../server/config.ts";
import { startTestServer } from "./helpers/servers.ts";

const RIGHT = "right-password";

/** A line client over node:net, bound to a loopback source address of its own. */
class LineClient {
  readonly #socket: net.Socket;
  readonly #lines: string[] = [];
  #waiter: (() => void) | null = null;
  #buffer = "";
  #closed = false;

  constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.#buffer += chunk;
      for (let i = this.#buffer.indexOf("\n"); i >= 0; i = this.#buffer.indexOf("\n")) {
        this.#lines.push(this.#buffer.slice(0, i).replace(/\r$/, ""));
        this.#buffer = this.#buffer.slice(i + 1);
      }
      this.#wake();
    });
    const end = () => {
      this.#closed = true;
      this.#wake();
    };
    socket.on("close", end);
    socket.on("error", end);
  }

  /** Connects from `from` and reads `HELLO`. */
  static async open(port: number, from = "127.0.0.1"): Promise<LineClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port, localAddress: from }, () => resolve(s));
      s.once("error", reject);
    });
    const c = new LineClient(socket);
    const hello = await c.next(10_000);
    assert.match(hello ?? "", /^HELLO /, `HELLO from ${from}`);
    return c;
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  send(text: string): void {
    this.#socket.write(text);
  }

  /** The next line, or `null` on close or after `timeoutMs`. */
  async next(timeoutMs = 20_000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length === 0) {
      if (this.#closed || Date.now() >= deadline) return null;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        timer = setTimeout(resolve, deadline - Date.now());
      });
      clearTimeout(timer);
    }
    return this.#lines.shift()!;
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** A users file with one user hashed at the default cost, in a fresh temporary folder. */
async function realCostUsers(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "sb-login-limits-" });
  const path = `${dir}/users.json`;
  const users = [{ name: "erin", password: await hashPassword(RIGHT), permissions: ["chat"] }];
  await Deno.writeTextFile(path, JSON.stringify({ users }));
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Opens `n` clients from `from`, a few at a time. */
async function openMany(port: number, n: number, from = "127.0.0.1"): Promise<LineClient[]> {
  const out: LineClient[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = Math.min(50, n - i);
    out.push(
      ...await Promise.all(Array.from({ length: batch }, () => LineClient.open(port, from))),
    );
  }
  return out;
}

/** Counts each client's replies by their first two words (`ERR 401`, `ERR 429`, `BYE too`...). */
async function tally(clients: LineClient[], replies: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  await Promise.all(clients.map(async (c) => {
    for (let i = 0; i < replies; i++) {
      const line = await c.next();
      const kind = line === null ? "(none)" : line.split(" ").slice(0, 2).join(" ");
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
      if (line === null || line.startsWith("BYE")) break;
    }
  }));
  return counts;
}

function show(counts: Map<string, number>): string {
  return [...counts].sort().map(([k, v]) => `${k} x${v}`).join(", ");
}

/** A server with the real hash cost; the login queues set wide open unless `config` says. */
async function server(users: string, config: Partial<ServerConfig> = {}) {
  return await startTestServer({ users, authFailuresPerMinute: 20, ...config });
}

Deno.test("200 connections sending one wrong AUTH at the same moment: at most --auth-failures-per-minute + 1 are checked, the rest get ERR 429 at once", async () => {
  await using users = await realCostUsers();
  // Queues wide open, so that only the failed-login budget limits what is checked.
  await using srv = await server(users.path, { authQueuePerAddress: 1000, authQueue: 1000 });
  const clients = await openMany(srv.port, 200);
  try {
    const t0 = performance.now();
    for (const c of clients) c.send("AUTH erin wrong-password\n");
    const counts = await tally(clients, 1);
    const ms = Math.round(performance.now() - t0);
    console.log(`[login_limits] 200 x 1 concurrent wrong AUTH: ${show(counts)} in ${ms} ms`);
    assert.ok((counts.get("ERR 401") ?? 0) <= 21, "checked: at most 20 + 1");
    assert.ok((counts.get("ERR 401") ?? 0) >= 1);
    assert.equal((counts.get("ERR 401") ?? 0) + (counts.get("ERR 429") ?? 0), 200);
  } finally {
    for (const c of clients) c.close();
  }
  // The address is banned now: a new connection is refused instead of HELLO.
  await assert.rejects(LineClient.open(srv.port), /HELLO/);
});

Deno.test("100 connections x 3 pipelined wrong AUTH: at most --auth-failures-per-minute + 1 are checked", async () => {
  await using users = await realCostUsers();
  await using srv = await server(users.path, { authQueuePerAddress: 1000, authQueue: 1000 });
  const clients = await openMany(srv.port, 100);
  try {
    for (const c of clients) c.send("AUTH erin wrong-1\nAUTH erin wrong-2\nAUTH erin wrong-3\n");
    const counts = await tally(clients, 3);
    console.log(`[login_limits] 100 x 3 concurrent wrong AUTH: ${show(counts)}`);
    assert.ok((counts.get("ERR 401") ?? 0) <= 21, "checked: at most 20 + 1");
    assert.ok((counts.get("ERR 401") ?? 0) >= 1);
  } finally {
    for (const c of clients) c.close();
  }
});

Deno.test("with the default queues, 200 concurrent wrong AUTH from one address check one at a time plus --auth-queue-per-address; the rest get ERR 429 naming it", async () => {
  await using users = await realCostUsers();
  await using srv = await server(users.path);
  const clients = await openMany(srv.port, 200);
  try {
    for (const c of clients) c.send("AUTH erin wrong-password\n");
    const lines = await Promise.all(clients.map((c) => c.next()));
    const counts = new Map<string, number>();
    for (const l of lines) {
      const kind = l === null ? "(none)" : l.split(" ").slice(0, 2).join(" ");
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    }
    console.log(`[login_limits] 200 x 1 wrong AUTH, default queues: ${show(counts)}`);
    assert.equal(counts.get("ERR 401"), 9, "1 running + 8 waiting");
    assert.equal(counts.get("ERR 429"), 191);
    assert.ok(lines.includes(
      "ERR 429 Too many logins at once from your address: over --auth-queue-per-address 8 waiting; try again in a moment",
    ));
  } finally {
    for (const c of clients) c.close();
  }
});

/** Sends a correct AUTH from `from` and times its answer. */
async function timedLogin(
  port: number,
  from: string,
): Promise<{ reply: string | null; ms: number }> {
  const c = await LineClient.open(port, from);
  try {
    const t0 = performance.now();
    c.send(`AUTH erin ${RIGHT}\n`);
    const reply = await c.next(15_000);
    return { reply, ms: Math.round(performance.now() - t0) };
  } finally {
    c.close();
  }
}

Deno.test("under a flood of 300 concurrent wrong AUTH from one address, a correct AUTH from another address logs in quickly", async () => {
  await using users = await realCostUsers();
  // No bans: the flood stays a flood for the whole test.
  await using srv = await server(users.path, { authFailuresPerMinute: 1_000_000 });
  const flood = await openMany(srv.port, 300);
  try {
    for (const c of flood) c.send("AUTH erin wrong-password\n");
    const floodDone = tally(flood, 1);
    await new Promise((r) => setTimeout(r, 200));
    const other = await timedLogin(srv.port, "127.0.0.2");
    const same = await timedLogin(srv.port, "127.0.0.1");
    const counts = await floodDone;
    console.log(
      `[login_limits] 300 wrong AUTH from 127.0.0.1: ${show(counts)}; correct AUTH sent 0.2 s in ` +
        `from 127.0.0.2: ${JSON.stringify(other.reply)} after ${other.ms} ms; ` +
        `then from 127.0.0.1: ${JSON.stringify(same.reply)} after ${same.ms} ms`,
    );
    assert.equal(other.reply, "OK erin");
    // Generous: the point is that it is far from the 10 s login timeout (it was 9.8 s).
    assert.ok(other.ms < 3000, `the correct login took ${other.ms} ms`);
    // On the flooding address itself a login is answered at once too, never left to time out.
    assert.match(same.reply ?? "", /^(OK erin|ERR 429 )/);
    assert.ok(same.ms < 3000, `the login from the flooding address took ${same.ms} ms`);
  } finally {
    for (const c of flood) c.close();
  }
});

Deno.test("under a flood from ten addresses filling --auth-queue, a correct AUTH from an eleventh logs in quickly", async () => {
  await using users = await realCostUsers();
  await using srv = await server(users.path, { authFailuresPerMinute: 1_000_000 });
  const flood: LineClient[] = [];
  try {
    for (let a = 1; a <= 10; a++) flood.push(...await openMany(srv.port, 20, `127.0.1.${a}`));
    for (const c of flood) c.send("AUTH erin wrong-password\n");
    const floodDone = Promise.all(flood.map((c) => c.next()));
    await new Promise((r) => setTimeout(r, 200));
    const other = await timedLogin(srv.port, "127.0.2.1");
    const lines = await floodDone;
    const busy = lines.filter((l) => l?.startsWith("ERR 429 Too many logins waiting")).length;
    const checked = lines.filter((l) => l?.startsWith("ERR 401")).length;
    console.log(
      `[login_limits] 10 addresses x 20 wrong AUTH: ERR 401 x${checked}, ` +
        `ERR 429 (--auth-queue) x${busy}, ERR 429 (others) x${200 - checked - busy}; ` +
        `correct AUTH from an 11th address 0.2 s in: ${
          JSON.stringify(other.reply)
        } after ${other.ms} ms`,
    );
    assert.ok(busy > 0, "the total queue was full");
    assert.ok(checked <= 60, `checked ${checked} of 200`);
    assert.equal(other.reply, "OK erin");
    assert.ok(other.ms < 3000, `the correct login took ${other.ms} ms`);
  } finally {
    for (const c of flood) c.close();
  }
});

Deno.test("the login queue options are validated and shown in --help", async () => {
  const { optionsHelp, parseServerArgs } = await import("../server/config.ts");
  const help = optionsHelp();
  assert.match(
    help,
    /--auth-hashes-per-address N .*\(default: 1; env SWITCHBOARD_AUTH_HASHES_PER_ADDRESS\)/,
  );
  assert.match(
    help,
    /--auth-queue-per-address N .*\(default: 8; env SWITCHBOARD_AUTH_QUEUE_PER_ADDRESS\)/,
  );
  assert.match(help, /--auth-queue N .*\(default: 32; env SWITCHBOARD_AUTH_QUEUE\)/);
  assert.throws(() => parseServerArgs(["--auth-hashes-per-address", "0"]), /at least 1/);
  assert.throws(
    () => parseServerArgs(["--auth-queue-per-address", "9", "--auth-queue", "8"]),
    /--auth-queue-per-address: must be at most --auth-queue/,
  );
  const env = (name: string) => name === "SWITCHBOARD_AUTH_QUEUE" ? "0" : undefined;
  assert.equal(parseServerArgs(["--auth-queue-per-address", "0"], env).config.authQueue, 0);
});
