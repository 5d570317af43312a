/**
 * The live dashboard served at `GET /`: one self-contained HTML page (inline CSS and script,
 * nothing fetched from elsewhere, so it works from a compiled binary with no network). It listens
 * to `GET /events` (Server-Sent Events, `event: status` every second) and draws connections and
 * the message rate over the last five minutes, the clients, rooms, transfers in flight and the
 * recent disconnects. A `?token=...` in the page's address is passed on to `/events`, since an
 * `EventSource` cannot send an `Authorization` header.
 *
 * @module
 */

const STYLE = `
:root { color-scheme: light dark; --bg: #f6f7f9; --card: #fff; --fg: #1d232b; --dim: #687280;
  --line: #e2e5ea; --accent: #2563eb; --accent2: #059669; --bad: #dc2626; --fill: rgba(37,99,235,.12); }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0f1318; --card: #181d24; --fg: #e3e7ec; --dim: #8b95a3; --line: #2a313b;
    --accent: #60a5fa; --accent2: #34d399; --bad: #f87171; --fill: rgba(96,165,250,.16); }
}
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif;
  background: var(--bg); color: var(--fg); }
header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: baseline;
  padding: .8rem 1rem; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { font-size: 1.1rem; margin: 0; }
header .meta { color: var(--dim); font-size: .85rem; }
#state { margin-left: auto; font-size: .8rem; padding: .1rem .5rem; border-radius: 1rem;
  border: 1px solid var(--line); }
#state.live { color: var(--accent2); } #state.down { color: var(--bad); }
main { display: grid; gap: 1rem; padding: 1rem; grid-template-columns: repeat(2, minmax(0, 1fr)); }
section { background: var(--card); border: 1px solid var(--line); border-radius: .5rem;
  padding: .8rem 1rem; min-width: 0; }
section h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: var(--dim);
  margin: 0 0 .5rem; display: flex; justify-content: space-between; }
.big { font-size: 1.8rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.unit { color: var(--dim); font-size: .9rem; margin-left: .3rem; }
svg.chart { display: block; width: 100%; height: 70px; margin-top: .3rem; }
svg.chart polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; vector-effect: non-scaling-stroke; }
svg.chart path { fill: var(--fill); stroke: none; }
svg.chart line { stroke: var(--line); vector-effect: non-scaling-stroke; }
.axis { display: flex; justify-content: space-between; color: var(--dim); font-size: .75rem; }
.totals { display: grid; grid-template-columns: repeat(auto-fit, minmax(8rem, 1fr)); gap: .3rem 1rem; }
.totals div { display: flex; justify-content: space-between; border-bottom: 1px dotted var(--line); }
.totals span:last-child { font-variant-numeric: tabular-nums; }
.wide { grid-column: 1 / -1; }
.scroll { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: .3rem .5rem .3rem 0; border-bottom: 1px solid var(--line);
  white-space: nowrap; }
th { color: var(--dim); font-weight: 500; font-size: .8rem; }
td.empty { color: var(--dim); font-style: italic; }
.bar { width: 8rem; height: .5rem; background: var(--line); border-radius: .25rem; overflow: hidden;
  display: inline-block; vertical-align: middle; margin-right: .4rem; }
.bar i { display: block; height: 100%; background: var(--accent2); }
.reason { color: var(--bad); }
@media (max-width: 48rem) { main { grid-template-columns: minmax(0, 1fr); } }
@media (max-width: 30rem) { main { padding: .5rem; gap: .5rem; } .big { font-size: 1.5rem; } }
`;

const SCRIPT = `
"use strict";
var WINDOW = 300;
var conns = [], rates = [], last = null;
var $ = function (id) { return document.getElementById(id); };

function fmtBytes(n) {
  if (typeof n !== "number") return "-";
  var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + u[i];
}
function fmtNum(n) { return typeof n === "number" ? n.toLocaleString("en-US") : "-"; }
function toTime(v) {
  if (typeof v === "number") return v > 1e11 ? v : v * 1000;
  var t = Date.parse(v);
  return isNaN(t) ? null : t;
}
function fmtAge(v) {
  var t = toTime(v);
  if (t === null) return v === undefined ? "-" : String(v);
  var s = Math.max(0, Math.round((Date.now() - t) / 1000));
  return fmtDuration(s) + " ago";
}
function fmtDuration(s) {
  s = Math.floor(s);
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m " + (s % 60) + "s";
  if (s < 86400) return Math.floor(s / 3600) + "h " + Math.floor((s % 3600) / 60) + "m";
  return Math.floor(s / 86400) + "d " + Math.floor((s % 86400) / 3600) + "h";
}
function push(series, value) {
  series.push(value);
  if (series.length > WINDOW) series.shift();
}

function draw(svgId, series) {
  var svg = $(svgId), w = 300, h = 60, peak = 0;
  for (var i = 0; i < series.length; i++) if (series[i] > peak) peak = series[i];
  var max = Math.max(1, peak);
  // The x axis spans the samples kept, at least a minute and at most WINDOW seconds.
  var span = Math.max(60, series.length), pts = [], off = span - series.length;
  for (var j = 0; j < series.length; j++) {
    pts.push(((off + j) * w / (span - 1)).toFixed(1) + "," + (h - series[j] / max * (h - 4)).toFixed(1));
  }
  var line = pts.join(" ");
  var area = pts.length ? "M" + pts[0].split(",")[0] + "," + h + " L" + line + " L" + pts[pts.length - 1].split(",")[0] + "," + h + " Z" : "";
  svg.innerHTML = '<line x1="0" y1="' + h + '" x2="' + w + '" y2="' + h + '"/><path d="' + area + '"/><polyline points="' + line + '"/>';
  svg.setAttribute("data-points", String(series.length));
  svg.setAttribute("data-max", String(peak));
  svg.setAttribute("data-last", String(series.length ? series[series.length - 1] : 0));
  $(svgId + "-from").textContent = Math.round(span / 60) + " min ago";
  $(svgId + "-max").textContent = "max " + fmtNum(Math.round(max * 10) / 10);
}

function cell(tr, text, cls) {
  var td = document.createElement("td");
  if (text instanceof Node) td.appendChild(text); else td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
}
function fill(id, rows, columns, render, empty) {
  var body = $(id).tBodies[0];
  body.textContent = "";
  if (!rows || rows.length === 0) {
    var tr = body.insertRow(), td = document.createElement("td");
    td.colSpan = columns; td.className = "empty"; td.textContent = empty;
    tr.appendChild(td);
  } else for (var i = 0; i < rows.length; i++) render(body.insertRow(), rows[i]);
  $(id + "-count").textContent = rows ? String(rows.length) : "0";
}
function progress(t) {
  var span = document.createElement("span"), bar = document.createElement("span"), fillEl = document.createElement("i");
  var pct = t.size > 0 ? Math.min(100, t.bytes / t.size * 100) : 0;
  bar.className = "bar"; fillEl.style.width = pct.toFixed(1) + "%"; bar.appendChild(fillEl);
  span.appendChild(bar);
  span.appendChild(document.createTextNode(t.size > 0 ? pct.toFixed(0) + "% of " + fmtBytes(t.size) : fmtBytes(t.bytes)));
  return span;
}

function words(k) {
  return k.replace(/_total$/, "").replace(/([a-z])([A-Z])/g, "$1 $2").replace(/_/g, " ").toLowerCase();
}
// The counters' numbers as [label, value] rows: numbers, and one level of numbers by name
// (disconnects by reason, history); histograms and commands by verb stay in /metrics.
function flatten(c) {
  var rows = [];
  Object.keys(c).forEach(function (k) {
    var v = c[k];
    if (typeof v === "number") rows.push([words(k), v]);
    else if (v && typeof v === "object" && k !== "commands" && !("buckets" in v)) {
      Object.keys(v).forEach(function (j) {
        if (typeof v[j] === "number") rows.push([words(k) + ": " + words(j), v[j]]);
      });
    }
  });
  return rows;
}
function num(c, names) {
  for (var i = 0; i < names.length; i++) if (typeof c[names[i]] === "number") return c[names[i]];
  return null;
}

function render(s) {
  var c = s.counters || {}, now = Date.now();
  var delivered = num(c, ["messagesDelivered", "messages_delivered_total"]) || 0, rate = 0;
  if (last !== null) {
    var dt = (now - last.at) / 1000, dm = delivered - last.delivered;
    rate = dt > 0 && dm > 0 ? dm / dt : 0;
  }
  last = { at: now, delivered: delivered };
  var connections = num(c, ["connections"]);
  if (connections === null) connections = (s.clients || []).length;
  push(conns, connections); push(rates, rate);
  draw("conn-chart", conns); draw("rate-chart", rates);
  $("connections").textContent = fmtNum(connections);
  $("rate").textContent = fmtNum(Math.round(rate * 10) / 10);
  $("node").textContent = s.node ? "node " + s.node : "";
  $("version").textContent = s.version ? "v" + s.version : "";
  $("uptime").textContent = typeof s.uptime_seconds === "number" ? "up " + fmtDuration(s.uptime_seconds) : "";
  var totals = $("totals"); totals.textContent = "";
  flatten(c).forEach(function (kv) {
    var d = document.createElement("div"), a = document.createElement("span"), b = document.createElement("span");
    a.textContent = kv[0];
    b.textContent = /bytes/i.test(kv[0]) ? fmtBytes(kv[1]) : fmtNum(kv[1]);
    d.appendChild(a); d.appendChild(b); totals.appendChild(d);
  });
  fill("clients", s.clients, 5, function (tr, r) {
    cell(tr, r.nick || "(no nick)"); cell(tr, r.address || "-");
    cell(tr, (r.rooms || []).join(", ")); cell(tr, fmtAge(r.since)); cell(tr, fmtBytes(r.queued_bytes));
  }, "nobody connected");
  fill("rooms", s.rooms, 3, function (tr, r) {
    cell(tr, r.room); cell(tr, fmtNum(r.members)); cell(tr, r.last_id === undefined || r.last_id === null ? "-" : String(r.last_id));
  }, "no rooms");
  fill("transfers", s.transfers, 4, function (tr, t) {
    cell(tr, t.nick || "-"); cell(tr, t.direction === "up" || t.direction === "upload" ? "\\u2191 up" : "\\u2193 down");
    cell(tr, t.path); cell(tr, progress(t));
  }, "no transfers in flight");
  fill("disconnects", s.recent_disconnects, 4, function (tr, d) {
    cell(tr, fmtAge(d.at)); cell(tr, d.nick || "-"); cell(tr, d.address || "-"); cell(tr, d.reason || "-", "reason");
  }, "none yet");
}

function setState(text, cls) { var e = $("state"); e.textContent = text; e.className = cls; }

var source = null, retry = null;
function connect() {
  var token = new URLSearchParams(location.search).get("token");
  source = new EventSource("events" + (token ? "?token=" + encodeURIComponent(token) : ""));
  source.addEventListener("open", function () { setState("live", "live"); });
  source.addEventListener("status", function (e) {
    setState("live", "live");
    try { render(JSON.parse(e.data)); } catch (err) { console.error("dashboard: bad status event", err); }
  });
  source.addEventListener("error", function () {
    setState("reconnecting\\u2026", "down");
    // The browser retries by itself unless the answer was not an event stream (a 401, a 503):
    // then it gives up and the page starts over a little later.
    if (source.readyState === EventSource.CLOSED && retry === null) {
      retry = setTimeout(function () { retry = null; connect(); }, 3000);
    }
  });
}
connect();
`;

/** The dashboard page, served as `text/html` at `GET /`. */
export const DASHBOARD_HTML: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>Switchboard</title>
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>Switchboard</h1>
  <span class="meta" id="node"></span><span class="meta" id="version"></span><span class="meta" id="uptime"></span>
  <span id="state" class="down">connecting\u2026</span>
</header>
<main>
  <section>
    <h2><span>Connections</span><span id="conn-chart-max"></span></h2>
    <div class="big" id="connections">-</div>
    <svg class="chart" id="conn-chart" viewBox="0 0 300 60" preserveAspectRatio="none" role="img" aria-label="connections over the last 5 minutes"></svg>
    <div class="axis"><span id="conn-chart-from"></span><span>now</span></div>
  </section>
  <section>
    <h2><span>Messages delivered</span><span id="rate-chart-max"></span></h2>
    <div class="big"><span id="rate">-</span><span class="unit">msg/s</span></div>
    <svg class="chart" id="rate-chart" viewBox="0 0 300 60" preserveAspectRatio="none" role="img" aria-label="message rate over the last 5 minutes"></svg>
    <div class="axis"><span id="rate-chart-from"></span><span>now</span></div>
  </section>
  <section class="wide"><h2><span>Totals</span></h2><div class="totals" id="totals"></div></section>
  <section class="wide"><h2><span>Clients</span><span id="clients-count">0</span></h2><div class="scroll">
    <table id="clients"><thead><tr><th>Nick</th><th>Address</th><th>Rooms</th><th>Since</th><th>Queued</th></tr></thead><tbody></tbody></table>
  </div></section>
  <section><h2><span>Rooms</span><span id="rooms-count">0</span></h2><div class="scroll">
    <table id="rooms"><thead><tr><th>Room</th><th>Members</th><th>Last id</th></tr></thead><tbody></tbody></table>
  </div></section>
  <section><h2><span>Transfers</span><span id="transfers-count">0</span></h2><div class="scroll">
    <table id="transfers"><thead><tr><th>Nick</th><th>Way</th><th>Path</th><th>Progress</th></tr></thead><tbody></tbody></table>
  </div></section>
  <section class="wide"><h2><span>Recent disconnects</span><span id="disconnects-count">0</span></h2><div class="scroll">
    <table id="disconnects"><thead><tr><th>When</th><th>Nick</th><th>Address</th><th>Reason</th></tr></thead><tbody></tbody></table>
  </div></section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
