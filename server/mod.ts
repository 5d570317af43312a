/**
 * The Switchboard server: `startServer()` and the `switchboard-server` command line.
 *
 * @example
 * ```ts ignore
 * import { startServer } from "./mod.ts";
 * await using server = startServer({ port: 0 });
 * ```
 *
 * @module
 */

export { startServer } from "./server.ts";
export type { Server, StartOptions } from "./server.ts";
export { DEFAULT_CONFIG, parseServerArgs } from "./config.ts";
export type { ServerConfig } from "./config.ts";
export { ChatHub } from "./chat/hub.ts";
export type { ChatHubOptions } from "./chat/hub.ts";
export { MemoryEngine } from "./chat/memory/engine.ts";
export type { Hub } from "./core/hub.ts";
export type { Member } from "./core/member.ts";
export type * from "./core/engine.ts";
export { runServerCli } from "./cli.ts";
