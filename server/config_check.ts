/**
 * The checks of a configuration against itself (values the option table cannot judge alone), and
 * the `--http` address rules they need.
 *
 * @module
 */

import { parseRedisUrl } from "./chat/redis/url.ts";
import type { ServerConfig } from "./config.ts";

/**
 * Checks the values of a configuration against each other.
 *
 * @param config The configuration.
 * @throws {RangeError} Naming the option at fault.
 */
export function validateConfig(config: ServerConfig): void {
  if (config.maxLine < 64) throw new RangeError("--max-line: must be at least 64 bytes");
  if (config.maxClients < 1) throw new RangeError("--max-clients: must be at least 1");
  if (config.maxHashes < 1) throw new RangeError("--max-hashes: must be at least 1");
  if (config.listPage < 1) throw new RangeError("--list-page: must be at least 1");
  if (config.maxListPage < config.listPage) {
    throw new RangeError(`--max-list-page: must be at least --list-page (${config.listPage})`);
  }
  if (config.fileTimeout !== 0 && config.fileTimeout < 10) {
    throw new RangeError("--file-timeout: must be 0 (none) or at least 10ms");
  }
  if (config.downloadMemory < 1024 * 1024) {
    throw new RangeError("--download-memory: must be at least 1MiB");
  }
  if (config.uploadMemory < 1024 * 1024) {
    throw new RangeError("--upload-memory: must be at least 1MiB");
  }
  if (config.maxPending < 64 * 1024) throw new RangeError("--max-pending: must be at least 64KiB");
  if (config.tlsHandshakeTimeout < 10) {
    throw new RangeError("--tls-handshake-timeout: must be at least 10ms");
  }
  if (config.lineTimeout < 10) throw new RangeError("--line-timeout: must be at least 10ms");
  if (config.maxInflight < 1) throw new RangeError("--max-inflight: must be at least 1");
  if (config.pingInterval < 10) throw new RangeError("--ping-interval: must be at least 10ms");
  if (config.writeDeadline < 10) throw new RangeError("--write-deadline: must be at least 10ms");
  if (config.maxStall > 1000) throw new RangeError("--max-stall: must be at most 1s");
  if (config.historySize < 0) throw new RangeError("--history-size: must be 0 or more");
  if (config.lobbyNotices < 0) throw new RangeError("--lobby-notices: must be 0 or more");
  if (config.historyTtl < 1000) throw new RangeError("--history-ttl: must be at least 1s");
  if (config.nodeTimeout < 1000) throw new RangeError("--node-timeout: must be at least 1s");
  if (config.redis !== "") parseRedisUrl(config.redis, config.redisCluster);
  if (config.redisPrefix.length > 64 || /[{}\s]/.test(config.redisPrefix)) {
    throw new RangeError("--redis-prefix: at most 64 characters, no braces or spaces");
  }
  if (config.maxHistoryReply < 1) throw new RangeError("--max-history-reply: must be at least 1");
  if (config.historyMemory < 1024 * 1024) {
    throw new RangeError("--history-memory: must be at least 1MiB");
  }
  if ((config.tlsCert === "") !== (config.tlsKey === "")) {
    throw new RangeError("--tls-cert and --tls-key: give both, or neither");
  }
  // deno-lint-ignore no-control-regex
  if (config.authToken !== "" && /[\s\x00-\x1f\x7f]/.test(config.authToken)) {
    throw new RangeError("--auth-token: must be one word, without spaces or control characters");
  }
  if (config.maxAuthFailures < 1) throw new RangeError("--max-auth-failures: must be at least 1");
  if (config.authFailuresPerMinute < 1) {
    throw new RangeError("--auth-failures-per-minute: must be at least 1");
  }
  if (config.authHashesPerAddress < 1) {
    throw new RangeError("--auth-hashes-per-address: must be at least 1");
  }
  if (config.authQueuePerAddress > config.authQueue) {
    throw new RangeError("--auth-queue-per-address: must be at most --auth-queue");
  }
  if (config.loginTimeout < 10) throw new RangeError("--login-timeout: must be at least 10ms");
  // deno-lint-ignore no-control-regex
  if (config.httpToken !== "" && /[\s\x00-\x1f\x7f]/.test(config.httpToken)) {
    throw new RangeError("--http-token: must be one word, without spaces or control characters");
  }
  if (config.http !== "") {
    const { hostname } = parseHttpAddr(config.http);
    if (!isLoopback(hostname) && config.httpToken === "") {
      throw new RangeError(
        `--http: binding to ${hostname}, not a loopback address, requires --http-token`,
      );
    }
  }
}

/**
 * Reads the `--http` address.
 *
 * @param addr `host:port` (`[::1]:7374` for IPv6).
 * @returns The host name (without brackets) and the port.
 * @throws {RangeError} When it is not `host:port` with a port 0-65535.
 * @example
 * ```ts
 * import { parseHttpAddr } from "./config_check.ts";
 * console.assert(parseHttpAddr("[::1]:7374").hostname === "::1");
 * ```
 */
export function parseHttpAddr(addr: string): { hostname: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:\[\]]+)):([0-9]{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new RangeError(`--http: "${addr}" is not host:port (e.g. 127.0.0.1:7374)`);
  }
  return { hostname: m[1] ?? m[2]!, port };
}

/**
 * Whether a host name only reaches this machine.
 *
 * @param hostname An address or `localhost`.
 * @returns `true` for `localhost`, `127.0.0.0/8` and `::1`.
 */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) ||
    h === "::ffff:127.0.0.1";
}
