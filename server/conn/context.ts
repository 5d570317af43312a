/**
 * What the server hands every session: the connection's shape, the commands, and the shared
 * parts (configuration, hub, logger, metrics).
 *
 * @module
 */

import type { Congestion } from "./congestion.ts";
import type { ServerConfig } from "../config.ts";
import type { Access } from "../core/access.ts";
import type { Handler, StreamHandler } from "../core/handler.ts";
import type { Hub } from "../core/hub.ts";
import type { Logger } from "../core/logger.ts";
import type { Metrics } from "../core/metrics.ts";

/** The part of a connection a session needs (a `Deno.Conn` or a TLS connection). */
export interface SessionConn {
  read(buf: Uint8Array): Promise<number | null>;
  write(buf: Uint8Array): Promise<number>;
  close(): void;
}

/** A command as the session runs it: its handler, and whether later commands may overlap it. */
export interface Command {
  readonly handler: Handler;
  readonly overlap: boolean;
  /** Its counter in the metrics sink. */
  readonly counter: { value: number };
}

/** What sessions share: configuration, hub, logger, commands (`S`: the session type). */
export interface SessionContext<S = unknown> {
  readonly config: ServerConfig;
  readonly hub: Hub;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** The node's id, for member ids unique across processes. */
  readonly node: string;
  readonly commands: ReadonlyMap<string, Command>;
  readonly streams: ReadonlyMap<string, StreamHandler>;
  /** Extra `HELLO` fields (`tls`, `auth_required`). */
  readonly hello: Record<string, unknown>;
  /** What a session may do before it logs in; `null` when the server requires no login. */
  readonly guest: Access | null;
  /** Members behind their high-water mark, for the publishers that fed them (flow control). */
  readonly congestion: Congestion;
  /** Called when a session ends. */
  onClose(session: S): void;
}
