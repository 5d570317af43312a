/**
 * The metrics sink's snapshot in the Prometheus text format 0.0.4: names prefixed `switchboard_`,
 * base units (seconds, bytes), `_total` on counters, no nick or room names as labels (the only
 * labels are a verb of the verb table or `unknown`, and a disconnect reason).
 *
 * @module
 */

import type { LogStats } from "../core/engine.ts";
import type { HistogramSnapshot, MetricsSnapshot } from "./metrics.ts";

/** The `Content-Type` of {@linkcode renderMetrics}' text. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** What {@linkcode renderMetrics} shows beyond the sink's counters. */
export interface MetricsExtra {
  /** What the room logs hold (left out when the engine does not tell). */
  history: LogStats | null;
  /** Seconds since the server started. */
  uptimeSeconds: number;
  /** Dashboard clients following `/events` now. */
  eventClients: number;
}

/** The reason of a cut for a client that did not read its messages. */
export const SLOW_CONSUMER = "slow consumer";

/**
 * Renders the metrics.
 *
 * @param m The sink's snapshot.
 * @param extra See {@linkcode MetricsExtra}.
 * @returns The exposition text, one metric family after another.
 * @example
 * ```ts
 * import { MetricsSink } from "./metrics.ts";
 * import { renderMetrics } from "./prometheus.ts";
 * const text = renderMetrics(new MetricsSink().snapshot(), {
 *   history: null,
 *   uptimeSeconds: 1,
 *   eventClients: 0,
 * });
 * console.assert(text.includes("switchboard_connections 0\n"));
 * ```
 */
export function renderMetrics(m: MetricsSnapshot, extra: MetricsExtra): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string) => {
    out.push(`# HELP switchboard_${name} ${help}`, `# TYPE switchboard_${name} ${type}`);
  };
  const one = (name: string, type: "counter" | "gauge", help: string, value: number) => {
    family(name, type, help);
    out.push(`switchboard_${name} ${num(value)}`);
  };
  const labelled = (
    name: string,
    help: string,
    label: string,
    values: Record<string, number>,
  ) => {
    family(name, "counter", help);
    for (const [k, v] of Object.entries(values).sort(([a], [b]) => a < b ? -1 : 1)) {
      out.push(`switchboard_${name}{${label}="${escapeLabel(k)}"} ${num(v)}`);
    }
  };
  one("uptime_seconds", "gauge", "Seconds since the server started.", extra.uptimeSeconds);
  one("connections", "gauge", "Clients connected now.", m.connections);
  one("connects_total", "counter", "Clients that connected.", m.connects);
  labelled("disconnects_total", "Clients gone, by reason.", "reason", m.disconnects);
  one(
    "slow_consumer_cuts_total",
    "counter",
    "Clients cut because they did not read what was queued to them.",
    m.disconnects[SLOW_CONSUMER] ?? 0,
  );
  labelled(
    "commands_total",
    "Commands received, by verb (verbs of the protocol, or unknown).",
    "verb",
    m.commands,
  );
  one("messages_published_total", "counter", "Room messages accepted (SAY).", m.messagesIn);
  one(
    "messages_delivered_total",
    "counter",
    "Room and direct messages queued to recipients (one per recipient).",
    m.messagesDelivered,
  );
  one("bytes_in_total", "counter", "Bytes read from clients.", m.bytesIn);
  one("bytes_out_total", "counter", "Bytes written to clients.", m.bytesOut);
  one("file_bytes_in_total", "counter", "File bytes received by PUT.", m.fileBytesIn);
  one("file_bytes_out_total", "counter", "File bytes sent by GET.", m.fileBytesOut);
  one(
    "publisher_stalls_total",
    "counter",
    "Reads of a publisher held back while a member it fed was behind (flow control).",
    m.stalls,
  );
  one(
    "publisher_stall_seconds_total",
    "counter",
    "Seconds publishers were held back, in total.",
    m.stallTime / 1000,
  );
  one("auth_failures_total", "counter", "Failed logins.", m.authFailures);
  one("rate_limited_total", "counter", "Commands refused by --cmd-rate.", m.rateLimited);
  one("engine_errors_total", "counter", "Engine calls that failed.", m.engineErrors);
  one(
    "protocol_errors_total",
    "counter",
    "Framing errors (the connection ends).",
    m.protocolErrors,
  );
  one("command_errors_total", "counter", "Handler failures (ERR 500).", m.errors);
  if (extra.history !== null) {
    one("history_rooms", "gauge", "Rooms with a log.", extra.history.rooms);
    one("history_messages", "gauge", "Messages the room logs keep.", extra.history.messages);
    one("history_bytes", "gauge", "Bytes the room logs keep.", extra.history.bytes);
  }
  one("http_event_clients", "gauge", "Clients following /events now.", extra.eventClients);
  histogram(
    out,
    "command_latency_seconds",
    "Seconds from a command's dispatch to its reply (sampled: one command in 64).",
    m.commandLatency,
  );
  histogram(
    out,
    "fanout_seconds",
    "Seconds to deliver one batch of room messages to this node's members.",
    m.fanoutTime,
  );
  return out.join("\n") + "\n";
}

function histogram(out: string[], name: string, help: string, h: HistogramSnapshot): void {
  out.push(`# HELP switchboard_${name} ${help}`, `# TYPE switchboard_${name} histogram`);
  h.bounds.forEach((bound, i) => {
    out.push(`switchboard_${name}_bucket{le="${num(bound)}"} ${num(h.buckets[i]!)}`);
  });
  out.push(`switchboard_${name}_bucket{le="+Inf"} ${num(h.count)}`);
  out.push(`switchboard_${name}_sum ${num(h.sum)}`);
  out.push(`switchboard_${name}_count ${num(h.count)}`);
}

function num(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

function escapeLabel(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}
