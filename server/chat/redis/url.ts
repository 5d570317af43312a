/**
 * The `--redis` URL: what it may say and what logs may repeat of it (never the password).
 *
 * @module
 */

/** Where `--redis` points, read from its URL. */
export interface RedisTarget {
  /** The URL as given (it may hold a password: never log it). */
  readonly url: string;
  /** `host:port` (what logs and errors may say). */
  readonly where: string;
  /** A Redis Cluster (`--redis-cluster`, or a `redis+cluster://` URL). */
  readonly cluster: boolean;
}

/**
 * Reads a `--redis` URL: `redis://[user:password@]host:port[/db]`, `rediss://` for TLS,
 * `redis+cluster://` or `rediss+cluster://` for a Redis Cluster.
 *
 * @throws {TypeError} When it is not such a URL.
 */
export function parseRedisUrl(url: string, cluster = false): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError("--redis must be a URL like redis://host:6379 (got something else)");
  }
  let scheme = u.protocol.slice(0, -1);
  if (scheme.endsWith("+cluster")) {
    cluster = true;
    scheme = scheme.slice(0, -"+cluster".length);
  }
  if (scheme !== "redis" && scheme !== "rediss") {
    throw new TypeError(`--redis must start with redis:// or rediss:// (got ${scheme}://)`);
  }
  if (u.hostname === "") throw new TypeError("--redis names no host");
  const db = u.pathname.replace(/^\//, "");
  if (db !== "" && !/^\d{1,2}$/.test(db)) {
    throw new TypeError(`--redis database must be a number (got "${db}")`);
  }
  if (cluster && db !== "" && db !== "0") {
    throw new TypeError("a Redis Cluster has only database 0");
  }
  u.protocol = `${scheme}:`;
  return { url: u.href, where: `${u.hostname}:${u.port || "6379"}`, cluster };
}
