/**
 * The typed client API: {@linkcode connect} gives a {@linkcode Client} with a method for every
 * command; replies come back matched to commands in order, pushes as an async iterable.
 *
 * @module
 */

import { decodePath, encodeFrame, encodeLine, encodePath } from "../lib/protocol/encoder.ts";
import { ServerError } from "../lib/protocol/errors.ts";
import type { Frame, StreamStart } from "../lib/protocol/frame.ts";
import { DEFAULT_HOST, DEFAULT_PORT } from "../lib/protocol/limits.ts";
import type { Hello, RoomEntry, WhoEntry } from "../lib/protocol/rows.ts";
import { Connection, type Push, type ReplySink } from "./connection.ts";
import {
  type FileHead,
  getFile,
  type GetOptions,
  putFile,
  type PutOptions,
  type PutSource,
} from "./_payloads.ts";
import { ConnectionClosedError, dial, TlsError } from "./transport.ts";

export { ConnectionClosedError, TlsError };
import type {
  ConnectOptions,
  FileEntry,
  HistoryOptions,
  HistoryPage,
  ListPage,
  ListPageOptions,
  SayResult,
  TimeSample,
} from "./types.ts";
import { historyRequest } from "./_history.ts";
import { firstArg, ownFrame, payloadJson, payloadText } from "./_replies.ts";

export type { FileHead, GetOptions, Push, PutOptions, PutSource, ReplySink };
export type { ConnectOptions, FileEntry, ListPage, ListPageOptions, TimeSample };
export type { HistoryOptions, HistoryPage, SayResult };

const utf8 = new TextEncoder();

/**
 * A connection to a Switchboard server, with a typed method per command. Commands may be issued
 * concurrently: they are pipelined and their replies come back in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startServer } from "../server/mod.ts";
 * import { connect } from "./client.ts";
 * const quiet = { info() {}, warn() {}, error() {} };
 * await using server = startServer({ port: 0, files: await Deno.makeTempDir() }, { log: quiet });
 * await using alice = await connect({ port: server.port, nick: "alice" });
 * await using bob = await connect({ port: server.port, nick: "bob" });
 * await alice.join("ops");
 * await bob.join("ops");
 * const pushes = alice.messages();
 * assert.deepEqual((await pushes.next()).value, { type: "joined", room: "ops", nick: "bob" });
 * assert.equal(await bob.say("ops", "hello"), 1); // queued to one other member
 * const m = (await pushes.next()).value;
 * assert.ok(m?.type === "msg" && m.from === "bob" && m.text === "hello" && m.id === 1);
 * assert.deepEqual(await bob.sayWithId("ops", "again"), { recipients: 1, id: 2 });
 * // The room's log: its epoch, the ids it keeps, and the messages (never as pushes).
 * const log = await alice.history("ops", { limit: 10, after: 1 });
 * assert.deepEqual([log.first, log.last], [1, 2]);
 * assert.deepEqual(log.messages.map((m) => `${m.id} ${m.text}`), ["2 again"]);
 * ```
 */
export class Client implements AsyncDisposable {
  /** What the server said on connect. */
  readonly hello: Hello;
  readonly #conn: Connection;
  #nick: string;

  /**
   * Use {@linkcode connect}.
   *
   * @param connection A greeted connection.
   * @param hello Its `HELLO`.
   */
  constructor(connection: Connection, hello: Hello) {
    this.#conn = connection;
    this.hello = hello;
    this.#nick = hello.nick;
  }

  /** The nick the server knows us by. */
  get nick(): string {
    return this.#nick;
  }

  /** True once the connection is closed. */
  get closed(): boolean {
    return this.#conn.closed;
  }

  /** Pushes dropped because nobody read them in time. */
  get droppedPushes(): number {
    return this.#conn.droppedPushes;
  }

  /**
   * Sends raw bytes of a command and waits for its reply frame.
   *
   * @param bytes The encoded command.
   * @param stream For commands answered with a streamed payload.
   * @returns The reply (its payload copied); an `ERR` reply rejects with {@linkcode ServerError}.
   */
  request(
    bytes: Uint8Array,
    stream?: (start: StreamStart) => ReplySink | Promise<ReplySink>,
  ): Promise<Frame> {
    return stream === undefined
      ? this.#conn.request(bytes, ownFrame)
      : this.#conn.requestStream(bytes, stream);
  }

  /**
   * Writes raw bytes (commands, upload payloads) in order.
   *
   * @param bytes Bytes to send; must not change until the promise settles.
   * @returns Resolves once the bytes were handed to the socket.
   */
  write(bytes: Uint8Array): Promise<void> {
    return this.#conn.write(bytes);
  }

  /**
   * Pushes as they arrive (messages, DMs, joins, leaves, renames, `BYE`), until the connection closes.
   * Only one consumer at a time: a second concurrent call throws.
   *
   * @returns An async iterable of pushes.
   */
  messages(): AsyncIterableIterator<Push> {
    return this.#conn.messages();
  }

  /**
   * Sends a command line and returns the reply.
   *
   * @param line The command line without its line ending.
   * @returns The reply frame.
   */
  command(line: string): Promise<Frame> {
    return this.#conn.request(encodeLine(line), ownFrame);
  }

  /**
   * Takes a nick.
   * @param name 1-32 of `A-Z a-z 0-9 _ -`.
   * @returns The nick.
   * @throws {ServerError} 409 when taken, 400 when invalid.
   */
  async setNick(name: string): Promise<string> {
    this.#nick = await this.#conn.request(encodeLine(`NICK ${name}`), firstArg) ?? name;
    return this.#nick;
  }

  /**
   * Joins a room, creating it if needed; quietly (`JOIN room quiet`: no JOINED, no LEFT) if asked.
   * @param room The room.
   * @param quiet Join quietly (servers without it answer ERR 400).
   * @returns The room's display name.
   */
  async join(room: string, quiet = false): Promise<string> {
    const line = encodeLine(quiet ? `JOIN ${room} quiet` : `JOIN ${room}`);
    return await this.#conn.request(line, firstArg) ?? room;
  }

  /**
   * Leaves a room.
   * @param room The room.
   * @returns The room's display name.
   */
  async leave(room: string): Promise<string> {
    return await this.#conn.request(encodeLine(`LEAVE ${room}`), firstArg) ?? room;
  }

  /**
   * Sends a message to a room.
   * @param room The room (joined).
   * @param message Text or bytes.
   * @returns How many other members it was queued to (see {@linkcode Client.sayWithId} for its id).
   */
  async say(room: string, message: string | Uint8Array): Promise<number> {
    return (await this.sayWithId(room, message)).recipients;
  }

  /**
   * Sends a message to a room, and tells its id there (`OK <recipients> <id>`).
   * @param room The room (joined).
   * @param message Text or bytes.
   * @returns How many other members it was queued to, and its id in the room.
   */
  sayWithId(room: string, message: string | Uint8Array): Promise<SayResult> {
    const bytes = typeof message === "string" ? utf8.encode(message) : message;
    return this.#conn.request(encodeFrame(`SAY ${room}`, bytes), (r): SayResult => ({
      recipients: Number(r.args[0]),
      id: Number(r.args[1] ?? 0),
    }));
  }

  /**
   * Reads a room's log: `HISTORY room limit [after id]`. Its messages come in the reply, never as
   * pushes.
   * @param room A room joined now or before on this connection.
   * @param options How many, and where to start (the newest `limit` without `after`).
   * @returns The log's epoch, its oldest and newest ids, and the messages, oldest first.
   * @throws {RangeError} When `limit` or `after` is out of range (nothing is sent).
   * @throws {ServerError} 404 no such room, 403 not a member (and never joined it here).
   */
  async history(room: string, options: HistoryOptions = {}): Promise<HistoryPage> {
    const { bytes, reply } = historyRequest(room, options);
    return await this.#conn.requestWithFrames(bytes, reply);
  }

  /**
   * Sends a direct message.
   * @param nick The recipient.
   * @param message Text or bytes.
   */
  async tell(nick: string, message: string | Uint8Array): Promise<void> {
    const bytes = typeof message === "string" ? utf8.encode(message) : message;
    await this.#conn.request(encodeFrame(`TELL ${nick}`, bytes), firstArg);
  }

  /**
   * Lists who is online, or in a room.
   * @param room A room, or everybody.
   * @returns One entry per client.
   */
  who(room?: string): Promise<WhoEntry[]> {
    const line = room === undefined ? "WHO" : `WHO ${room}`;
    return this.#conn.request(encodeLine(line), payloadJson) as Promise<WhoEntry[]>;
  }

  /**
   * Lists rooms and their member counts.
   * @returns One entry per room.
   */
  rooms(): Promise<RoomEntry[]> {
    return this.#conn.request(encodeLine("ROOMS"), payloadJson) as Promise<RoomEntry[]>;
  }

  /**
   * Asks the server's time, with the round trip and the clock offset estimate.
   * @returns One sample.
   */
  async time(): Promise<TimeSample> {
    const t0 = performance.now();
    const local0 = Date.now();
    const r = await this.command("TIME");
    const rtt = performance.now() - t0;
    const server = Number(r.args[1]);
    return { iso: r.args[0] ?? "", server, rtt, offset: server - (local0 + rtt / 2) };
  }

  /**
   * Measures one round trip with `PING`.
   * @returns Milliseconds.
   */
  async ping(): Promise<number> {
    const t0 = performance.now();
    await this.command("PING");
    return performance.now() - t0;
  }

  /**
   * The server's command summary.
   * @returns Plain text.
   */
  help(): Promise<string> {
    return this.#conn.request(encodeLine("HELP"), payloadText);
  }

  /**
   * Lists a whole shared folder, page after page (see {@linkcode Client.listPage}).
   *
   * @param dir The folder, plain (not percent-encoded); the shared root when left out.
   * @returns Its files and folders, sorted by name.
   * @throws {ServerError} 404 missing, 400 a file or a bad path, 403 outside the shared folder.
   */
  async list(dir?: string): Promise<FileEntry[]> {
    const entries: FileEntry[] = [];
    const seen = new Set<string>();
    for (let offset = 0;;) {
      let page: ListPage;
      try {
        page = await this.listPage(dir, { offset });
      } catch (e) {
        // A server before paging knows only `LIST [dir]`, and answers it whole.
        if (offset > 0 || !(e instanceof ServerError) || !/ Usage: LIST \[dir\]$/.test(e.message)) {
          throw e;
        }
        const line = dir === undefined || dir === "" ? "LIST" : `LIST ${encodePath(dir)}`;
        return await this.#conn.request(encodeLine(line), payloadJson) as FileEntry[];
      }
      // A folder that changes between pages may shift a name across a page boundary.
      for (const e of page.entries) {
        if (!seen.has(e.name)) {
          seen.add(e.name);
          entries.push(e);
        }
      }
      if (page.next >= page.total || page.next <= offset) return entries;
      offset = page.next;
    }
  }

  /**
   * One page of a shared folder's listing: `LIST dir offset [limit]`.
   *
   * @param dir The folder, plain (not percent-encoded); the shared root when left out.
   * @param options Where the page starts and how many entries it may cover.
   * @returns The page: its rows, the folder's total and where the next page starts.
   * @throws {ServerError} As {@linkcode Client.list}; 400 for an old server that cannot page.
   */
  listPage(dir?: string, options: ListPageOptions = {}): Promise<ListPage> {
    const at = dir === undefined || dir === "" ? "." : encodePath(dir);
    const limit = options.limit === undefined ? "" : ` ${options.limit}`;
    return this.#conn.request(
      encodeLine(`LIST ${at} ${options.offset ?? 0}${limit}`),
      (r): ListPage => ({
        entries: payloadJson(r) as FileEntry[],
        total: Number(r.args[0]),
        offset: Number(r.args[1]),
        next: Number(r.args[2]),
      }),
    );
  }

  /**
   * Deletes a shared file, or an empty folder.
   *
   * @param path The path, plain.
   * @returns The path deleted.
   * @throws {ServerError} 404 missing, 409 a folder that is not empty, 403 read-only or outside.
   */
  async del(path: string): Promise<string> {
    const deleted = await this.#conn.request(encodeLine(`DEL ${encodePath(path)}`), firstArg);
    return decodePath(deleted ?? "") ?? path;
  }

  /**
   * Downloads a file (low level): `GET path [offset]`; the bytes go to the sink that
   * `options.sink` returns once the head arrives. Memory stays flat: pieces are views handed out
   * as they arrive, and reading waits while the sink's `data()` promise is pending.
   *
   * @param path The path, plain.
   * @param options The offset and the sink.
   * @returns The head, once every byte went through the sink and its `end()` resolved.
   * @throws {ServerError} 404, 400 (a folder, offset past the end), 403.
   * @throws {ConnectionClosedError} When the connection is lost mid-way (the sink's `abort` is
   *   called first).
   */
  get(path: string, options: GetOptions): Promise<FileHead> {
    return getFile(this.#conn, path, options);
  }

  /**
   * Uploads a file (low level): `PUT path [sha256] N`, then the bytes, then waits for `OK sha256`.
   * While the payload is written, other commands of this client wait (their bytes would land
   * inside the payload); uploads on one client run one at a time.
   *
   * @param path The target path, plain.
   * @param data The bytes, or a {@linkcode PutSource} to stream them.
   * @param options See {@linkcode PutOptions}.
   * @returns The sha256 the server computed over what it received (lower-case hex).
   * @throws {ServerError} 409 sha256 mismatch, 413 past max_file_size, 403 read-only or outside,
   *   400 bad path.
   * @throws {ConnectionClosedError} When the connection is lost, or was closed because the source
   *   failed or did not yield exactly `size` bytes (the source's error is the `cause`).
   */
  put(path: string, data: Uint8Array | PutSource, options: PutOptions = {}): Promise<string> {
    return putFile(this.#conn, path, data, options);
  }

  /**
   * Logs in: `AUTH user password` on a server with accounts, or `AUTH token` on a server with a
   * shared token (`hello.auth_required` says whether one is needed, `hello.auth_methods` which).
   * User names, passwords and tokens are one word each: no spaces or control characters.
   *
   * @param userOrToken The user name, or the token when `password` is left out.
   * @param password The user's password.
   * @returns The nick the server gave: the user name with accounts (`alice-2` for a second
   *   connection of the same user), the current nick with a token.
   * @throws {TypeError} When a word is empty or has spaces or control characters (nothing sent).
   * @throws {ServerError} 401 when refused (the same answer for a wrong user and a wrong
   *   password), 429 when the address is refused for a while, 400 when the server has no accounts.
   */
  async auth(userOrToken: string, password?: string): Promise<string> {
    const words = password === undefined ? [userOrToken] : [userOrToken, password];
    for (const w of words) {
      // deno-lint-ignore no-control-regex
      if (w === "" || /[\s\x00-\x1f\x7f]/.test(w)) {
        throw new TypeError(
          "Cannot log in: user names, passwords and tokens are one word without spaces",
        );
      }
    }
    const nick = await this.#conn.request(encodeLine(`AUTH ${words.join(" ")}`), firstArg);
    this.#nick = nick ?? this.#nick;
    return this.#nick;
  }

  /** Says goodbye and waits for the server to close. */
  async quit(): Promise<void> {
    if (this.#conn.closed) return;
    try {
      await this.command("QUIT");
    } catch {
      // Closed on the way: the goal.
    }
    await this.#conn.done;
  }

  /** Closes the connection at once; pending commands reject. */
  close(): void {
    this.#conn.close();
  }

  /** Resolves when the connection has closed. */
  get done(): Promise<void> {
    return this.#conn.done;
  }

  /** Quits politely (`await using`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.quit();
    this.close();
  }
}

/**
 * Connects to a server and reads its `HELLO`.
 *
 * @param options See {@linkcode ConnectOptions}.
 * @returns The connected client.
 * @throws {ServerError} 503 when the server is full, 429 when the address is refused.
 * @throws {TlsError} With `tls`, when the certificate does not verify or the server does not speak TLS.
 * @throws {Deno.errors.ConnectionRefused} When nothing listens there.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startServer } from "../server/mod.ts";
 * import { connect } from "./client.ts";
 * const quiet = { info() {}, warn() {}, error() {} };
 * await using server = startServer({ port: 0, files: await Deno.makeTempDir() }, { log: quiet });
 * await using client = await connect({ port: server.port, nick: "alice" });
 * assert.equal(client.nick, "alice");
 * assert.equal(client.hello.proto, 2);
 * assert.deepEqual((await client.who()).map((w) => w.nick), ["alice"]);
 * ```
 */
export async function connect(options: ConnectOptions = {}): Promise<Client> {
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  const timeout = options.timeout ?? 10_000;
  const signal = AbortSignal.timeout(timeout);
  const { tls, caCerts } = options;
  const transport = await dial({ host, port, tls, caCerts, timeout, signal });
  const where = `Cannot connect to ${host}:${port}`;
  const connection = new Connection(transport, {
    label: `${host}:${port}`,
    tls,
    timeout,
    signal,
    maxPayload: options.maxPayload,
    maxBufferedPushes: options.maxBufferedPushes,
  });
  const first = await connection.greet();
  if (first.verb === "ERR") {
    connection.close();
    throw new ServerError(Number(first.args[0]) || 503, first.args.slice(1).join(" "));
  }
  if (first.verb !== "HELLO") {
    connection.close();
    throw new ConnectionClosedError(`${where}: not a Switchboard server`);
  }
  let hello: Hello;
  try {
    hello = JSON.parse(first.args.join(" "));
  } catch {
    connection.close();
    throw new ConnectionClosedError(`${where}: unreadable HELLO`);
  }
  const client = new Client(connection, hello);
  if (options.nick !== undefined) {
    try {
      await client.setNick(options.nick);
    } catch (e) {
      client.close();
      throw e;
    }
  }
  return client;
}
