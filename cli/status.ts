/**
 * `switchboard status [--http URL] [--token T] [--json]`: a server's status from its HTTP
 * endpoint (`GET /api/status`, the server's `--http`), printed as tables for people without a
 * browser, or as the JSON itself.
 *
 * @module
 */

import { CliError, type ParsedCli, UsageError } from "./args.ts";
import { table } from "./commands.ts";
import { formatBytes, printable } from "./term.ts";

/** Where `status` looks when `--http` is not given. */
export const DEFAULT_STATUS_URL = "http://127.0.0.1:7374";

/** How long `status` waits for the answer (milliseconds). */
const TIMEOUT = 10_000;

/** The parts of `GET /api/status` that `status` prints (others are passed through by --json). */
interface Status {
  uptime_seconds?: number;
  version?: string;
  node?: string;
  started_at?: string;
  counters?: Record<string, unknown>;
  clients?: {
    nick?: string;
    address?: string;
    rooms?: string[];
    since?: string;
    queued_bytes?: number;
  }[];
  rooms?: { room?: string; members?: number; last_id?: number | null }[];
  transfers?: { nick?: string; path?: string; direction?: string; bytes?: number; size?: number }[];
  recent_disconnects?: { nick?: string; address?: string; reason?: string; at?: string }[];
}

/**
 * The status address of an `--http` value: `host:port` or a URL, with `/api/status` added.
 *
 * @param text `--http` as given (`127.0.0.1:7374`, `http://host:7374`, `https://host/sb/`).
 * @returns The URL of `/api/status`.
 * @throws {UsageError} When it is not an http(s) address.
 * @example
 * ```ts
 * import { statusUrl } from "./status.ts";
 * console.assert(statusUrl("127.0.0.1:7374").href === "http://127.0.0.1:7374/api/status");
 * console.assert(statusUrl("https://ops.example.org/sb/").href === "https://ops.example.org/sb/api/status");
 * ```
 */
export function statusUrl(text: string): URL {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let base: URL;
  try {
    base = new URL(withScheme);
  } catch {
    throw new UsageError(`Cannot use --http "${text}": not host:port or an http(s) URL`, "status");
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new UsageError(`Cannot use --http "${text}": only http:// and https:// work`, "status");
  }
  const path = base.pathname.endsWith("/") ? base.pathname : `${base.pathname}/`;
  return new URL(`${path}api/status`, base);
}

/**
 * `status`: fetches `/api/status` and prints it.
 *
 * @param p The parsed command line.
 * @returns The exit code.
 * @throws {UsageError} On arguments or a bad `--http`.
 * @throws {CliError} When the endpoint cannot be reached or refuses.
 */
export async function runStatus(p: ParsedCli): Promise<number> {
  if (p.positionals.length > 0) {
    throw new UsageError("Cannot run status: it takes no arguments (see --http)", "status");
  }
  const http = p.values.http;
  const url = statusUrl(typeof http === "string" ? http : DEFAULT_STATUS_URL);
  const token = typeof p.values.token === "string" ? p.values.token : undefined;
  const where = url.href;
  let response: Response;
  try {
    response = await fetch(url, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(TIMEOUT),
    });
  } catch (e) {
    const why = e instanceof DOMException && e.name === "TimeoutError"
      ? `no answer within ${TIMEOUT / 1000} s`
      : (e as Error).message.replace(/^error sending request[^:]*: /i, "");
    throw new CliError(
      `Cannot read the status from ${where}: ${why} (is the server started with --http?)`,
      1,
      { cause: e },
    );
  }
  const body = await response.text();
  if (response.status === 401) {
    throw new CliError(
      `Cannot read the status from ${where}: ${
        token === undefined ? "it needs a token: pass --token" : "the token was refused"
      } (the server's --http-token)`,
    );
  }
  if (!response.ok) {
    throw new CliError(
      `Cannot read the status from ${where}: HTTP ${response.status} ${
        printable(body.trim().slice(0, 200))
      }`,
    );
  }
  let status: Status;
  try {
    status = JSON.parse(body);
  } catch {
    throw new CliError(`Cannot read the status from ${where}: the answer is not JSON`);
  }
  if (p.json) console.log(JSON.stringify(status));
  else console.log(formatStatus(status));
  return 0;
}

/**
 * The status as text: a heading line, the counters, then clients, rooms, transfers and recent
 * disconnects as tables.
 *
 * @param s The JSON of `/api/status`.
 * @returns The text (no final newline).
 */
export function formatStatus(s: Status): string {
  const cell = (v: unknown): string => v === undefined || v === null ? "-" : printable(String(v));
  const up = typeof s.uptime_seconds === "number" ? `up ${duration(s.uptime_seconds)}` : "";
  const head = [`switchboard-server ${cell(s.version)}`, `node ${cell(s.node)}`, up]
    .filter((x) => x !== "").join(", ");
  const out = [head + (s.started_at ? ` (since ${cell(s.started_at)})` : "")];

  const counters = counterRows(s.counters ?? {});
  out.push("", "COUNTERS", table(counters.map(([k, v]) => [k, v])));

  const clients = s.clients ?? [];
  out.push("", `CLIENTS (${clients.length})`);
  out.push(
    clients.length === 0 ? "nobody connected" : table([
      ["NICK", "ADDRESS", "ROOMS", "SINCE", "QUEUED"],
      ...clients.map((c) => [
        cell(c.nick),
        cell(c.address),
        cell((c.rooms ?? []).join(",")),
        cell(c.since),
        typeof c.queued_bytes === "number" ? formatBytes(c.queued_bytes) : "-",
      ]),
    ]),
  );

  const rooms = s.rooms ?? [];
  out.push("", `ROOMS (${rooms.length})`);
  out.push(
    rooms.length === 0 ? "no rooms" : table([
      ["ROOM", "MEMBERS", "LAST ID"],
      ...rooms.map((r) => [cell(r.room), cell(r.members), cell(r.last_id)]),
    ]),
  );

  const transfers = s.transfers ?? [];
  out.push("", `TRANSFERS (${transfers.length})`);
  out.push(
    transfers.length === 0 ? "none in flight" : table([
      ["NICK", "WAY", "PATH", "DONE"],
      ...transfers.map((t) => [
        cell(t.nick),
        cell(t.direction),
        cell(t.path),
        `${formatBytes(t.bytes ?? 0)} of ${formatBytes(t.size ?? 0)}`,
      ]),
    ]),
  );

  const gone = s.recent_disconnects ?? [];
  out.push("", `RECENT DISCONNECTS (${gone.length})`);
  out.push(
    gone.length === 0 ? "none" : table([
      ["AT", "NICK", "ADDRESS", "REASON"],
      ...gone.map((d) => [cell(d.at), cell(d.nick), cell(d.address), cell(d.reason)]),
    ]),
  );
  return out.join("\n");
}

/** Numbers of the counters, and one level of numbers by name (disconnects by reason, history). */
function counterRows(counters: Record<string, unknown>): [string, string][] {
  const rows: [string, string][] = [];
  const show = (name: string, v: number) =>
    rows.push([name, /bytes/i.test(name) ? formatBytes(v) : String(v)]);
  for (const [k, v] of Object.entries(counters)) {
    if (typeof v === "number") show(words(k), v);
    else if (v !== null && typeof v === "object" && k !== "commands" && !("buckets" in v)) {
      for (const [j, n] of Object.entries(v)) {
        if (typeof n === "number") show(`${words(k)} ${j}`, n);
      }
    }
  }
  return rows;
}

function words(key: string): string {
  return key.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

function duration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}
