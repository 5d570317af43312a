/**
 * The greeting every connection gets first: `HELLO <json>`.
 *
 * @module
 */

import { encodeLine } from "../../lib/protocol/encoder.ts";
import { PROTOCOL_VERSION } from "../../lib/protocol/limits.ts";
import type { Hello } from "../../lib/protocol/rows.ts";
import { VERSION } from "../../lib/version.ts";
import type { ServerConfig } from "../config.ts";

/**
 * Encodes the `HELLO` line.
 *
 * @param config The server's limits it announces.
 * @param nick The client's guest nick.
 * @param extra Fields of the server's set-up (`tls`, `auth_required`, `auth_methods`).
 * @returns The line, CRLF included.
 */
export function helloLine(
  config: Pick<ServerConfig, "maxPayload" | "maxLine" | "maxFileSize">,
  nick: string,
  extra: Record<string, unknown>,
): Uint8Array {
  const hello: Hello = {
    server: "switchboard",
    version: VERSION,
    proto: PROTOCOL_VERSION,
    nick,
    max_payload: config.maxPayload,
    max_line: config.maxLine,
    max_file_size: config.maxFileSize,
    auth_required: false,
    tls: false,
    ...extra,
  };
  return encodeLine(`HELLO ${JSON.stringify(hello)}`);
}
