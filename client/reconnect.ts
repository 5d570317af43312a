/**
 * A client that survives the server going away: {@linkcode reconnecting} connects, takes a nick
 * and joins rooms; when the connection closes it reconnects with backoff, takes the nick back
 * (waiting for a lingering old connection to let go of it), rejoins the rooms and recovers the
 * messages sent meanwhile from the rooms' logs (protocol 2): in order, without duplicates, with a
 * `gap` event when some are gone. Pushes and what happens along the way come out of one
 * {@linkcode ReconnectingClient.events} stream, in order.
 *
 * @module
 */

import { backoff } from "../lib/backoff.ts";
import { ServerError } from "../lib/protocol/errors.ts";
import { LOBBY } from "../lib/protocol/limits.ts";
import type { Client } from "./client.ts";
import type { RoomMessage } from "./connection.ts";
import { ConnectionClosedError } from "./transport.ts";
import type {
  HistoryPage,
  ReconnectEvent,
  ReconnectOptions,
  ReconnectStatus,
  SayResult,
} from "./types.ts";
import { BoundedQueue } from "./_queue.ts";
import { type Gap, recoverRoom, type Recovery, RoomMarks } from "./_recovery.ts";

export type { Gap, ReconnectEvent, ReconnectOptions, ReconnectStatus };

const NOT_CONNECTED = "Cannot send: not connected (reconnecting)";

/** The `BYE` reasons after which a reconnect would only be refused again. */
function isFinalBye(reason: string): boolean {
  return reason === "access revoked" || reason === "too many failed logins";
}

/**
 * Holds a nick and a set of rooms across connections. Use {@linkcode reconnecting}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startServer } from "../server/mod.ts";
 * import { connect } from "./client.ts";
 * import { ReconnectingClient } from "./reconnect.ts";
 * const quiet = { info() {}, warn() {}, error() {} };
 * await using server = startServer({ port: 0, files: await Deno.makeTempDir() }, { log: quiet });
 * await using chat = new ReconnectingClient(() => connect({ port: server.port }), {
 *   nick: "alice",
 *   rooms: ["Ops"],
 * });
 * const client = await chat.start();
 * assert.equal(client.nick, "alice");
 * assert.equal(chat.rooms.get("ops"), "Ops");
 * ```
 */
export class ReconnectingClient implements AsyncDisposable {
  readonly #open: () => Promise<Client>;
  readonly #options: ReconnectOptions;
  #client: Client | null = null;
  #nick: string | undefined;
  readonly #rooms = new Map<string, string>();
  #started = false;
  #stopped = false;
  readonly #stop = new AbortController();
  readonly #events: BoundedQueue<ReconnectEvent>;
  readonly #marks = new RoomMarks();
  /** Rooms being joined: their messages wait here until the log's are handed out. */
  readonly #holding = new Map<string, RoomMessage[]>();

  /**
   * Makes the client; nothing happens before {@linkcode ReconnectingClient.start}.
   *
   * @param open Opens one connection (`connect()`, and logging in where needed).
   * @param options See {@linkcode ReconnectOptions}.
   */
  constructor(open: () => Promise<Client>, options: ReconnectOptions = {}) {
    this.#open = open;
    this.#options = options;
    this.#nick = options.nick;
    this.#events = new BoundedQueue(options.maxBufferedEvents ?? 100_000, "events()");
    const { history = 0, maxMissed = 10_000 } = options;
    if (!Number.isSafeInteger(history) || history < 0 || history > 1000) {
      throw new RangeError(`Cannot follow rooms: history must be 0 to 1000, got ${history}`);
    }
    if (!Number.isSafeInteger(maxMissed) || maxMissed < 1) {
      throw new RangeError(`Cannot follow rooms: maxMissed must be 1 or more, got ${maxMissed}`);
    }
  }

  /** The live connection; null while reconnecting. */
  get client(): Client | null {
    return this.#client;
  }

  /** The nick held (taken back after a reconnect). */
  get nick(): string | undefined {
    return this.#nick;
  }

  /** The rooms held besides lobby, by lower-case name, spelled as the server spells them. */
  get rooms(): ReadonlyMap<string, string> {
    return this.#rooms;
  }

  /** Events dropped because nobody read them in time. */
  get droppedEvents(): number {
    return this.#events.dropped;
  }

  /**
   * Connects the first time: takes the nick and joins the rooms. A failure here is not retried.
   *
   * @returns The connection.
   * @throws {ServerError} When the nick is taken (409) or a room cannot be joined.
   * @throws {Error} Whatever `open` threw.
   */
  async start(): Promise<Client> {
    if (this.#started) throw new Error("Cannot start: already started");
    this.#started = true;
    const client = await this.#open();
    try {
      if (this.#nick !== undefined) await client.setNick(this.#nick);
      await this.#announce(client);
      const named = (this.#options.rooms ?? []).map((r) => r.toLowerCase());
      for (const room of this.#options.rooms ?? []) {
        const key = room.toLowerCase();
        if (key !== LOBBY) this.#rooms.set(key, await client.join(room));
      }
      const shown = this.#options.history ?? 0;
      await this.#follow(client, LOBBY, named.includes(LOBBY) ? shown : 0);
      for (const name of this.#rooms.values()) await this.#follow(client, name, shown);
    } catch (e) {
      client.close();
      throw e;
    }
    this.#nick = client.nick;
    this.#client = client;
    void this.#pump(client);
    return client;
  }

  /** `JOIN lobby` when asked to announce; a refusal (503 while a cluster is away) is no failure. */
  async #announce(client: Client): Promise<void> {
    if (this.#options.announce !== true) return;
    try {
      await client.join(LOBBY);
    } catch (e) {
      if (!(e instanceof ServerError)) throw e;
    }
  }

  /**
   * Joins a room and holds it: it is joined again after a reconnect.
   *
   * @param room The room.
   * @returns The room's display name.
   * @throws {ConnectionClosedError} While reconnecting.
   */
  async join(room: string): Promise<string> {
    const client = this.#live();
    const key = room.toLowerCase();
    if (this.#marks.get(key) !== undefined || this.#holding.has(key)) {
      return await client.join(room);
    }
    // Live messages of the room wait until those of its log are out (some may be in both).
    this.#holding.set(key, []);
    try {
      const name = await client.join(room);
      if (key !== LOBBY) this.#rooms.set(key, name);
      await this.#follow(client, name, this.#options.history ?? 0);
      return name;
    } finally {
      const held = this.#holding.get(key) ?? [];
      this.#holding.delete(key);
      for (const m of held) if (this.#marks.accept(m)) this.#emit(m);
    }
  }

  /**
   * Leaves a room and stops holding it (a 404, not in the room, counts as left).
   *
   * @param room The room.
   * @returns The room's display name.
   * @throws {ConnectionClosedError} While reconnecting.
   */
  async leave(room: string): Promise<string> {
    let name = room;
    try {
      name = await this.#live().leave(room);
    } catch (e) {
      if (!(e instanceof ServerError && e.code === 404)) throw e;
    }
    this.#rooms.delete(room.toLowerCase());
    this.#marks.forget(room);
    return name;
  }

  /**
   * Sends a message to a room (its id counts as seen: a recovery does not hand it back).
   *
   * @param room The room (joined).
   * @param message Text or bytes.
   * @returns How many other members it was queued to, and its id in the room.
   * @throws {ConnectionClosedError} While reconnecting.
   */
  async sayWithId(room: string, message: string | Uint8Array): Promise<SayResult> {
    const sent = await this.#live().sayWithId(room, message);
    this.#marks.sent(room, sent.id);
    return sent;
  }

  /**
   * Sends a message to a room, as {@linkcode ReconnectingClient.sayWithId}.
   *
   * @param room The room (joined).
   * @param message Text or bytes.
   * @returns How many other members it was queued to.
   * @throws {ConnectionClosedError} While reconnecting.
   */
  async say(room: string, message: string | Uint8Array): Promise<number> {
    return (await this.sayWithId(room, message)).recipients;
  }

  /**
   * Takes a nick and holds it.
   *
   * @param nick The nick.
   * @returns The nick as the server spells it.
   * @throws {ServerError} 409 when taken, 400 when invalid.
   * @throws {ConnectionClosedError} While reconnecting.
   */
  async setNick(nick: string): Promise<string> {
    const got = await this.#live().setNick(nick);
    this.#nick = got;
    return got;
  }

  /**
   * Pushes and connection changes, in order, until {@linkcode ReconnectingClient.quit} (or a
   * final failure to connect). Only one consumer at a time: a second concurrent call throws.
   *
   * @returns An async iterable of events.
   */
  events(): AsyncIterableIterator<ReconnectEvent> {
    return this.#events.read();
  }

  /** Stops reconnecting, says goodbye and waits for the server to close. */
  async quit(): Promise<void> {
    this.#halt();
    if (this.#client !== null) await this.#client.quit();
  }

  /** Stops reconnecting and closes the connection at once. */
  close(): void {
    this.#halt();
    this.#client?.close();
  }

  /** Quits politely (`await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.quit();
    this.close();
  }

  #halt(): void {
    this.#stopped = true;
    this.#stop.abort();
    if (this.#client === null) this.#end();
  }

  #live(): Client {
    const client = this.#client;
    if (client === null || client.closed) throw new ConnectionClosedError(NOT_CONNECTED);
    return client;
  }

  /** Forwards pushes until the connection closes, then reconnects unless stopped. */
  async #pump(client: Client): Promise<void> {
    let bye = "";
    for await (const m of client.messages()) {
      if (m.type === "bye") bye = m.reason;
      if (m.type === "msg") {
        const held = this.#holding.get(m.room.toLowerCase());
        if (held !== undefined) {
          if (held.length >= (this.#options.maxBufferedEvents ?? 100_000)) held.shift();
          held.push(m);
          continue;
        }
        if (!this.#marks.accept(m)) continue;
      }
      this.#emit(m);
    }
    if (this.#client === client) this.#client = null;
    if (this.#stopped) return this.#end();
    const final = bye !== "" && (this.#options.isFinalBye ?? isFinalBye)(bye);
    this.#emit({ type: "disconnected", reason: bye !== "" ? bye : "connection lost", final });
    if (final || !(await this.#reconnect())) this.#end();
  }

  /** Reconnects with backoff; false when it stopped instead. */
  async #reconnect(): Promise<boolean> {
    const delays = this.#options.backoff ?? { base: 250, max: 10_000 };
    for (let attempt = 0; !this.#stopped; attempt++) {
      const delay = backoff(attempt, delays);
      this.#emit({ type: "retrying", attempt, delay });
      await this.#sleep(delay);
      if (this.#stopped) return false;
      let client: Client;
      try {
        client = await this.#open();
      } catch (error) {
        const final = this.#options.isFatal?.(error) ?? false;
        this.#emit({ type: "connectFailed", attempt, error, final });
        if (final) return false;
        continue;
      }
      if (this.#stopped) {
        client.close();
        return false;
      }
      const rejoined: string[] = [];
      let nickTaken = false;
      try {
        if (this.#nick !== undefined && client.nick.toLowerCase() !== this.#nick.toLowerCase()) {
          try {
            await client.setNick(this.#nick);
          } catch (e) {
            if (!(e instanceof ServerError)) throw e;
            nickTaken = true;
          }
        }
        await this.#announce(client);
        for (const [key, name] of this.#rooms) {
          try {
            this.#rooms.set(key, await client.join(name));
            rejoined.push(name);
          } catch (e) {
            if (!(e instanceof ServerError)) throw e;
            this.#emit({ type: "rejoinFailed", room: name, error: e });
            this.#rooms.delete(key);
            this.#marks.forget(key);
          }
        }
      } catch {
        client.close();
        continue;
      }
      if (this.#stopped) {
        client.close();
        return false;
      }
      this.#client = client;
      this.#emit({ type: "reconnected", nick: client.nick, rejoined });
      // Pushes wait in the connection meanwhile; the pump drops those the logs handed out.
      await this.#recover(client, [LOBBY, ...rejoined]);
      void this.#pump(client);
      if (nickTaken) void this.#takeNickBack(client);
      return true;
    }
    return false;
  }

  /**
   * Starts following a room just joined: its log's epoch and newest id, and its last `shown`
   * messages handed out. A server that cannot answer (protocol 1) leaves the ids to be compared.
   *
   * @throws {Error} When the connection fails (not a `ServerError`).
   */
  async #follow(client: Client, name: string, shown: number): Promise<void> {
    let page: HistoryPage | null = null;
    try {
      page = await client.history(name, { limit: shown });
    } catch (e) {
      if (!(e instanceof ServerError)) throw e;
    }
    const messages = page?.messages ?? [];
    this.#marks.joined(name, page, messages);
    if (messages.length === 0) return;
    this.#emit({ type: "history", room: page!.room, count: messages.length });
    for (const m of messages) this.#emit(m);
  }

  /** After a reconnect: what each room's log holds past what was seen, in order. */
  async #recover(client: Client, rooms: string[]): Promise<void> {
    const read = client.history.bind(client);
    for (const name of rooms) {
      if (this.#stopped || client.closed) return;
      const mark = this.#marks.get(name);
      let found: Recovery;
      try {
        if (mark === undefined) {
          await this.#follow(client, name, 0);
          continue;
        }
        found = await recoverRoom(read, name, mark, this.#options.maxMissed ?? 10_000);
      } catch (e) {
        // A log that cannot be read is not recovered; a lost connection is, after the next one.
        if (e instanceof ServerError) continue;
        return;
      }
      if (found.gap !== null) this.#emit({ type: "gap", room: name, ...found.gap });
      this.#emit({ type: "missed", room: name, count: found.messages.length });
      for (const m of found.messages) this.#emit(m);
    }
  }

  /** After a reconnect: the old connection may linger on the server a while, so retry 409. */
  async #takeNickBack(client: Client): Promise<void> {
    const want = this.#nick;
    if (want === undefined || client.nick.toLowerCase() === want.toLowerCase()) return;
    const attempts = this.#options.nickAttempts ?? 8;
    const delays = this.#options.nickBackoff ?? { base: 500, max: 8000 };
    const current = () => !client.closed && this.#client === client && !this.#stopped;
    for (let attempt = 0; attempt < attempts && current(); attempt++) {
      try {
        await client.setNick(want);
        this.#emit({ type: "nickBack", nick: client.nick });
        return;
      } catch (e) {
        if (!(e instanceof ServerError) || e.code !== 409) {
          if (e instanceof ServerError) this.#emit({ type: "nickRefused", nick: want, error: e });
          return;
        }
        if (attempt === 0) this.#emit({ type: "nickTaken", nick: want });
        await this.#sleep(backoff(attempt, delays));
      }
    }
    if (current()) this.#emit({ type: "nickGaveUp", nick: want, current: client.nick });
  }

  #sleep(ms: number): Promise<void> {
    const signal = this.#stop.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      signal.addEventListener("abort", wake);
    });
  }

  #emit(event: ReconnectEvent): void {
    this.#events.push(event);
  }

  #end(): void {
    this.#events.end();
  }
}

/**
 * Connects with {@linkcode ReconnectingClient.start}: takes the nick, joins the rooms, and from
 * then on reconnects whenever the connection closes, until `quit()`.
 *
 * @param open Opens one connection (`connect()`, and logging in where needed).
 * @param options See {@linkcode ReconnectOptions}.
 * @returns The started client.
 * @throws {ServerError} When the nick is taken (409) or a room cannot be joined.
 * @throws {Error} Whatever `open` threw: the first connection is not retried.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startServer } from "../server/mod.ts";
 * import { connect } from "./client.ts";
 * import { reconnecting } from "./reconnect.ts";
 * const quiet = { info() {}, warn() {}, error() {} };
 * const files = await Deno.makeTempDir();
 * const server = startServer({ port: 0, files }, { log: quiet });
 * const port = server.port;
 * const chat = await reconnecting(() => connect({ port }), { nick: "alice", rooms: ["ops"] });
 * await server.shutdown(100); // the server goes away, and comes back
 * const again = startServer({ port, files }, { log: quiet });
 * const seen: string[] = [];
 * for await (const ev of chat.events()) {
 *   seen.push(ev.type);
 *   if (ev.type === "reconnected") {
 *     assert.equal(ev.nick, "alice");
 *     assert.deepEqual(ev.rejoined, ["ops"]);
 *     break;
 *   }
 * }
 * assert.deepEqual(seen.slice(0, 3), ["bye", "disconnected", "retrying"]);
 * await chat.quit();
 * await again.shutdown(100);
 * ```
 */
export async function reconnecting(
  open: () => Promise<Client>,
  options: ReconnectOptions = {},
): Promise<ReconnectingClient> {
  const client = new ReconnectingClient(open, options);
  await client.start();
  return client;
}
