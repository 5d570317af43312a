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
export { LocalHub } from "./chat/hub.ts";
export type { Hub, Member } from "./chat/hub.ts";
export { runServerCli } from "./cli.ts";
