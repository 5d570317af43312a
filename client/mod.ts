/**
 * The Switchboard client library.
 *
 * - {@linkcode connect} gives a {@linkcode Client}: a typed method for every command, pipelined,
 *   with pushes (messages, DMs, joins, leaves, renames) from
 *   `for await (const m of client.messages())`.
 * - {@linkcode reconnecting} gives a {@linkcode ReconnectingClient}, which reconnects with
 *   backoff when the server goes away, takes its nick back, rejoins its rooms and recovers the
 *   messages sent meanwhile from the rooms' logs (in order, once each; a `gap` event when some
 *   are gone).
 * - `Client.history()` reads a room's log; `Client.sayWithId()` tells a message's id.
 * - {@linkcode downloadFile} and {@linkcode uploadFile} move whole files, streamed, verified
 *   with sha256, downloads resumable.
 * - Underneath: {@linkcode dial} and {@linkcode Transport} (TCP or TLS, one coalescing
 *   {@linkcode Writer}), and {@linkcode Connection} (replies in order, pushes, streamed payloads).
 *
 * Refusals by the server reject with {@linkcode ServerError} (its `code` is the `ERR` code); a
 * lost connection with {@linkcode ConnectionClosedError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startServer } from "../server/mod.ts";
 * import { connect, ServerError } from "./mod.ts";
 * const quiet = { info() {}, warn() {}, error() {} };
 * await using server = startServer({ port: 0, files: await Deno.makeTempDir() }, { log: quiet });
 * await using alice = await connect({ port: server.port, nick: "alice" });
 * await using bob = await connect({ port: server.port, nick: "bob" });
 * const pushes = alice.messages();
 * await bob.tell("alice", "lunch?");
 * const dm = (await pushes.next()).value;
 * assert.ok(dm?.type === "dm" && dm.from === "bob" && dm.text === "lunch?");
 * await assert.rejects(bob.setNick("alice"), (e) => e instanceof ServerError && e.code === 409);
 * ```
 *
 * @module
 */

export * from "./client.ts";
export * from "./connection.ts";
export * from "./reconnect.ts";
export * from "./transfer.ts";
export * from "./folders.ts";
export * from "./transport.ts";
export { ServerError } from "../lib/protocol/errors.ts";
export type { Hello, ListEntry, RoomEntry, WhoEntry } from "../lib/protocol/rows.ts";
export type { Frame, StreamStart } from "../lib/protocol/frame.ts";
export type { ByteSource } from "../lib/protocol/frames.ts";
export type { BackoffOptions } from "../lib/backoff.ts";
