import assert from "node:assert/strict";
import { ServerError } from "../lib/protocol/errors.ts";
import type { Client } from "./client.ts";
import type { Push } from "./connection.ts";
import { type ReconnectEvent, ReconnectingClient, type ReconnectOptions } from "./reconnect.ts";
import { BoundedQueue } from "./_queue.ts";

/** A server's view of nicks and rooms, and fake connections to it. */
class World {
  /** Nicks in use, lower-case. */
  readonly nicks = new Set<string>();
  /** Rooms that refuse a join. */
  readonly refused = new Set<string>();
  /** Connects that fail before the next one succeeds. */
  failures = 0;
  readonly clients: FakeClient[] = [];
  #guests = 0;

  readonly open = (): Promise<Client> => {
    if (this.failures > 0) {
      this.failures--;
      return Promise.reject(new Deno.errors.ConnectionRefused("connection refused"));
    }
    const c = new FakeClient(this, `guest-${++this.#guests}`);
    this.clients.push(c);
    return Promise.resolve(c as unknown as Client);
  };

  get last(): FakeClient {
    return this.clients.at(-1)!;
  }
}

class FakeClient {
  readonly #world: World;
  readonly #pushes = new BoundedQueue<Push>(100, "messages()");
  nick: string;
  closed = false;

  constructor(world: World, nick: string) {
    this.#world = world;
    this.nick = nick;
    world.nicks.add(nick);
  }

  setNick(nick: string): Promise<string> {
    if (this.closed) return Promise.reject(new Error("closed"));
    const key = nick.toLowerCase();
    if (this.#world.nicks.has(key) && key !== this.nick.toLowerCase()) {
      return Promise.reject(new ServerError(409, "Cannot take nick: in use"));
    }
    this.#world.nicks.delete(this.nick.toLowerCase());
    this.#world.nicks.add(key);
    this.nick = nick;
    return Promise.resolve(nick);
  }

  join(room: string): Promise<string> {
    if (this.#world.refused.has(room.toLowerCase())) {
      return Promise.reject(new ServerError(403, "Cannot join: forbidden"));
    }
    return Promise.resolve(room.toUpperCase() === room ? room : room.toLowerCase());
  }

  leave(room: string): Promise<string> {
    return Promise.resolve(room);
  }

  /** A protocol 1 server: no room logs (tests/client_recovery_test.ts has the real ones). */
  history(): Promise<never> {
    if (this.closed) return Promise.reject(new Error("closed"));
    return Promise.reject(new ServerError(400, "Unknown command HISTORY"));
  }

  messages(): AsyncIterableIterator<Push> {
    return this.#pushes.read();
  }

  push(p: Push): void {
    this.#pushes.push(p);
  }

  /** The network drops: the server still holds the nick until `release()`. */
  drop(bye?: string): void {
    if (bye !== undefined) this.#pushes.push({ type: "bye", reason: bye });
    this.closed = true;
    this.#pushes.end();
  }

  release(): void {
    this.#world.nicks.delete(this.nick.toLowerCase());
  }

  close(): void {
    this.drop();
    this.release();
  }

  quit(): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}

const fast: ReconnectOptions = {
  backoff: { base: 1, max: 2, jitter: 0 },
  nickBackoff: { base: 1, max: 2, jitter: 0 },
};

/** Reads events until one of `type` (returned with those before it). */
async function until(
  it: AsyncIterator<ReconnectEvent>,
  type: ReconnectEvent["type"],
): Promise<ReconnectEvent[]> {
  const seen: ReconnectEvent[] = [];
  for (;;) {
    const r = await it.next();
    if (r.done) throw new Error(`events() ended before ${type}: ${JSON.stringify(seen)}`);
    seen.push(r.value);
    if (r.value.type === type) return seen;
  }
}

Deno.test("start() takes the nick and joins the rooms; a refusal closes and rejects", async () => {
  const world = new World();
  const chat = new ReconnectingClient(world.open, {
    ...fast,
    nick: "alice",
    rooms: ["Ops", "lobby"],
  });
  const client = await chat.start();
  assert.equal(client.nick, "alice");
  assert.equal(chat.nick, "alice");
  assert.deepEqual([...chat.rooms], [["ops", "ops"]]);
  await assert.rejects(chat.start(), /already started/);
  chat.close();

  world.refused.add("secret");
  const refused = new ReconnectingClient(world.open, { ...fast, rooms: ["secret"] });
  await assert.rejects(refused.start(), (e) => e instanceof ServerError && e.code === 403);
  assert.ok(world.last.closed);
});

Deno.test("without a nick it holds the one the server gave the first connection", async () => {
  const world = new World();
  const chat = new ReconnectingClient(world.open, fast);
  await chat.start();
  assert.equal(chat.nick, "guest-1");
  const events = chat.events();
  world.last.close();
  const seen = await until(events, "reconnected");
  assert.deepEqual(seen.at(-1), { type: "reconnected", nick: "guest-1", rejoined: [] });
  chat.close();
});

Deno.test("a final BYE (access revoked) ends the events with no reconnect attempt", async () => {
  const world = new World();
  const chat = new ReconnectingClient(world.open, { ...fast, nick: "alice" });
  await chat.start();
  const opened = world.clients.length;
  const events = chat.events();
  world.last.push({ type: "bye", reason: "access revoked" });
  world.last.close();
  const seen: string[] = [];
  for await (const e of events) {
    seen.push(e.type === "disconnected" ? `disconnected ${e.reason} final=${e.final}` : e.type);
  }
  assert.deepEqual(seen, ["bye", "disconnected access revoked final=true"]);
  assert.equal(world.clients.length, opened, "no connection was opened again");
});

Deno.test("after the server goes away it reconnects with backoff, retakes the nick, rejoins", async () => {
  const world = new World();
  const chat = new ReconnectingClient(world.open, { ...fast, nick: "alice", rooms: ["ops"] });
  await chat.start();
  await chat.join("Dev");
  const events = chat.events();
  world.last.push({ type: "joined", room: "ops", nick: "bob" });
  world.failures = 2;
  world.last.push({ type: "bye", reason: "shutdown" });
  world.last.close();
  const seen = await until(events, "reconnected");
  assert.deepEqual(seen.map((e) => e.type), [
    "joined",
    "bye",
    "disconnected",
    "retrying",
    "connectFailed",
    "retrying",
    "connectFailed",
    "retrying",
    "reconnected",
  ]);
  assert.deepEqual(seen[2], { type: "disconnected", reason: "shutdown", final: false });
  assert.deepEqual(
    seen.filter((e) => e.type === "retrying").map((e) => e.type === "retrying" && e.attempt),
    [0, 1, 2],
  );
  const failed = seen[4]!;
  assert.ok(failed.type === "connectFailed" && !failed.final);
  assert.ok(failed.error instanceof Deno.errors.ConnectionRefused);
  assert.deepEqual(seen.at(-1), { type: "reconnected", nick: "alice", rejoined: ["ops", "dev"] });
  assert.equal(chat.client?.nick, "alice");
  chat.close();
});

Deno.test("a drop without BYE is a lost connection; a room refused again is no longer held", async () => {
  const world = new World();
  const chat = new ReconnectingClient(world.open, { ...fast, nick: "alice", rooms: ["ops", "a"] });
  await chat.start();
  const events = chat.events();
  world.refused.add("ops");
  world.last.close();
  const seen = await until(events, "reconnected");
  assert.deepEqual(seen[0], { type: "disconnected", reason: "connection lost", final: false });
  const refused = seen.find((e) => e.type === "rejoinFailed");
  assert.ok(refused?.type === "rejoinFailed" && refused.room === "ops");
  assert.equal(refused.error.code, 403);
  assert.deepEqual(seen.at(-1), { type: "reconnected", nick: "alice", rejoined: ["a"] });
  assert.deepEqual([...chat.rooms.keys()], ["a"]);
  chat.close();
});

Deno.test("a nick the old connection still holds is retried, and taken back once free", async () => {
  const world = new World();
  const chat = new ReconnectingClient(world.open, { ...fast, nick: "alice" });
  await chat.start();
  const events = chat.events();
  const old = world.last;
  old.drop(); // the server has not noticed: alice is still taken
  const seen = await until(events, "nickTaken");
  assert.deepEqual(seen.at(-2), { type: "reconnected", nick: "guest-2", rejoined: [] });
  assert.deepEqual(seen.at(-1), { type: "nickTaken", nick: "alice" });
  old.release();
  assert.deepEqual((await until(events, "nickBack")).at(-1), { type: "nickBack", nick: "alice" });
  assert.equal(chat.client?.nick, "alice");
  chat.close();
});

Deno.test("a nick still in use after nickAttempts is given up, and the chat goes on", async () => {
  const world = new World();
  const chat = new ReconnectingClient(world.open, { ...fast, nick: "alice", nickAttempts: 3 });
  await chat.start();
  const events = chat.events();
  world.last.drop();
  const seen = await until(events, "nickGaveUp");
  assert.equal(seen.filter((e) => e.type === "nickTaken").length, 1);
  assert.deepEqual(seen.at(-1), { type: "nickGaveUp", nick: "alice", current: "guest-2" });
  assert.equal(chat.nick, "alice");
  chat.close();
});

Deno.test("a final failure stops reconnecting and ends the events", async () => {
  const world = new World();
  const chat = new ReconnectingClient(world.open, {
    ...fast,
    isFatal: (e) => e instanceof Deno.errors.ConnectionRefused,
  });
  await chat.start();
  const events = chat.events();
  world.failures = 1;
  world.last.close();
  const seen: string[] = [];
  for await (const ev of events) seen.push(ev.type);
  assert.deepEqual(seen, ["disconnected", "retrying", "connectFailed"]);
  assert.equal(chat.client, null);
  await assert.rejects(chat.join("ops"), /not connected/);
});

Deno.test("quit() while waiting to reconnect stops at once", async () => {
  const world = new World();
  const chat = new ReconnectingClient(world.open, {
    backoff: { base: 60_000, max: 60_000, jitter: 0 },
  });
  await chat.start();
  const events = chat.events();
  world.last.close();
  assert.deepEqual((await until(events, "retrying")).at(-1), {
    type: "retrying",
    attempt: 0,
    delay: 60_000,
  });
  await chat.quit();
  assert.equal((await events.next()).done, true);
  assert.equal(world.clients.length, 1);
});
