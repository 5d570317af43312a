/**
 * The one-shot commands of the client command line: `send`, `tell`, `who`, `rooms`, `ping`,
 * `time`; and how pushes print (lines for people, JSON objects), for `listen`, `history` and chat.
 *
 * @module
 */

import { ServerError } from "../lib/protocol/errors.ts";
import { isValidNick, isValidRoom, LOBBY } from "../lib/protocol/limits.ts";
import type { Client, Push, TimeSample } from "../client/mod.ts";
import { CliError, intOption, type ParsedCli, UsageError } from "./args.ts";
import { describeError, openClient } from "./connect.ts";
import { actionOf } from "./slash.ts";
import { clock, formatBytes, formatMs, type makeStyles, printable } from "./term.ts";

/**
 * Connects as the command line says (nick, credentials).
 *
 * @param p The parsed command line.
 * @returns The client.
 */
export function openFromCli(p: ParsedCli): Promise<Client> {
  return openClient(p.target, { nick: p.nick, credentials: p.credentials });
}

/**
 * Checks a room name before it goes to the server.
 *
 * @param room The name.
 * @param command The command, for the message.
 * @throws {UsageError} When it is not 1-64 of `A-Z a-z 0-9 _ - .`.
 */
export function checkRoom(room: string, command: string): void {
  if (!isValidRoom(room)) {
    throw new UsageError(
      `Cannot ${command} room "${room}": a room name is 1-64 of A-Z a-z 0-9 _ - .`,
    );
  }
}

function checkNick(nick: string, command: string): void {
  if (!isValidNick(nick)) {
    throw new UsageError(`Cannot ${command} "${nick}": a nick is 1-32 of A-Z a-z 0-9 _ -`);
  }
}

/**
 * Lines of a readable stream of UTF-8 text, without their line endings (LF or CRLF).
 *
 * @param stream The stream (standard input).
 * @returns The lines.
 */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let nl = rest.indexOf("\n");
    while (nl >= 0) {
      const line = rest.slice(0, nl);
      yield line.endsWith("\r") ? line.slice(0, -1) : line;
      rest = rest.slice(nl + 1);
      nl = rest.indexOf("\n");
    }
  }
  if (rest !== "") yield rest.endsWith("\r") ? rest.slice(0, -1) : rest;
}

/**
 * Prints one value as a line of JSON.
 *
 * @param value The value.
 */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value));
}

/**
 * `send <room> <text|->` and `tell <nick> <text|->`.
 *
 * @param p The parsed command line.
 * @returns The exit code.
 */
export async function runSend(p: ParsedCli): Promise<number> {
  const isTell = p.command === "tell";
  const what = isTell ? "nick" : "room";
  const [to, ...words] = p.positionals;
  if (to === undefined) {
    throw new UsageError(
      `Cannot ${p.command}: no ${what} given. Usage: switchboard ${p.command} <${what}> <text|->`,
    );
  }
  if (isTell) checkNick(to, "send a direct message to");
  else checkRoom(to, "send to");
  if (words.length === 0) {
    throw new UsageError(
      `Cannot ${p.command} to ${to}: no text given. Pass the text, or - to read standard input (one message per line)`,
    );
  }
  const fromStdin = words.length === 1 && words[0] === "-";
  const text = words.join(" ");
  if (!fromStdin && text === "") {
    throw new UsageError(`Cannot ${p.command} to ${to}: the text is empty`);
  }

  await using client = await openFromCli(p);
  if (!isTell && to.toLowerCase() !== LOBBY) {
    try {
      // Quietly: the members see the message, not a stranger joining and leaving around it. A
      // server without quiet joins says 400: join as before.
      await client.join(to, true).catch((e) => {
        if (e instanceof ServerError && e.code === 400) return client.join(to);
        throw e;
      });
    } catch (e) {
      throw describeError(e, p.target, `join room ${to}`);
    }
  }
  const maxPayload = client.hello.max_payload;
  const utf8 = new TextEncoder();
  const sendOne = async (message: string, line: number | null): Promise<void> => {
    const bytes = utf8.encode(message);
    const where = line === null ? "" : ` (line ${line} of standard input)`;
    if (maxPayload > 0 && bytes.length > maxPayload) {
      throw new CliError(
        `Cannot ${p.command} to ${to}${where}: the message is ${
          formatBytes(bytes.length)
        }, over the server's ` +
          `max_payload of ${formatBytes(maxPayload)}. Split it`,
      );
    }
    try {
      if (isTell) {
        await client.tell(to, bytes);
        if (p.json) printJson({ nick: to, delivered: true });
      } else {
        const { recipients, id } = await client.sayWithId(to, bytes);
        if (p.json) printJson({ room: to, recipients, id });
      }
    } catch (e) {
      if (e instanceof ServerError && e.code === 404 && isTell) {
        throw new CliError(
          `Cannot send a direct message to ${to}${where}: nobody has that nick. See switchboard who`,
          1,
          { cause: e },
        );
      }
      throw describeError(
        e,
        p.target,
        `${isTell ? "send a direct message to" : "send to"} ${to}${where}`,
      );
    }
  };
  if (!fromStdin) {
    await sendOne(text, null);
    return 0;
  }
  // Pipelined: up to 64 messages in flight, replies checked in order.
  const inFlight: Promise<void>[] = [];
  let n = 0;
  for await (const line of readLines(Deno.stdin.readable)) {
    n++;
    if (line === "") continue;
    inFlight.push(sendOne(line, n));
    if (inFlight.length >= 64) await inFlight.shift();
  }
  for (const f of inFlight) await f;
  return 0;
}

/**
 * One push as a JSON object for `listen --json` (and `history --json`).
 *
 * @param m The push.
 * @param now When it arrived.
 * @returns The object: `{"type":"msg","room":..,"from":..,"id":..,"text":..,"time":..}` and so on.
 */
export function pushJson(m: Exclude<Push, { type: "bye" }>, now: Date): Record<string, unknown> {
  const time = now.toISOString();
  switch (m.type) {
    case "msg":
      return { type: "msg", room: m.room, from: m.from, id: m.id, text: m.text, time };
    case "dm":
      return { type: "dm", from: m.from, text: m.text, time };
    case "renamed":
      return { type: "renamed", old: m.old, nick: m.nick, time };
    default:
      return { type: m.type, room: m.room, nick: m.nick, time };
  }
}

/**
 * One push as a line for people: `12:01:02 [lobby] <bob> hi`; an action (`/me waves`) as
 * `12:01:02 [lobby] * bob waves`.
 *
 * @param m The push.
 * @param now When it arrived.
 * @param s The styles.
 * @returns The line.
 */
export function formatPush(m: Push, now: Date, s: ReturnType<typeof makeStyles>): string {
  const t = s.dim(clock(now));
  switch (m.type) {
    case "msg": {
      const action = actionOf(m.text);
      if (action !== null) {
        return `${t} ${s.cyan(`[${m.room}]`)} * ${s.nick(m.from)} ${printable(action)}`;
      }
      return `${t} ${s.cyan(`[${m.room}]`)} <${s.nick(m.from)}> ${printable(m.text)}`;
    }
    case "dm":
      return `${t} *${s.nick(m.from)}* ${printable(m.text)}`;
    case "joined":
      return `${t} ${s.dim("--")} ${s.nick(m.nick)} joined ${s.cyan(m.room)}`;
    case "left":
      return `${t} ${s.dim("--")} ${s.nick(m.nick)} left ${s.cyan(m.room)}`;
    case "renamed":
      return `${t} ${s.dim("--")} ${s.nick(m.old)} is now known as ${s.nick(m.nick)}`;
    case "bye":
      return `${t} ${s.dim("--")} the server says goodbye: ${printable(m.reason)}`;
  }
}

/**
 * `for N` for people: how long ago a unix-ms time was.
 *
 * @param since Unix milliseconds.
 * @param now Unix milliseconds.
 * @returns `12s`, `5m`, `3h`, `2d`.
 */
export function ago(since: number, now: number = Date.now()): string {
  const s = Math.max(0, Math.round((now - since) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/**
 * Rows as aligned columns.
 *
 * @param rows The rows, the first one the header.
 * @returns The table text.
 */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => widths[i] = Math.max(widths[i] ?? 0, [...c].length));
  return rows.map((r) => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i]!)).join("  "))
    .join("\n");
}

/**
 * `who [room]`.
 *
 * @param p The parsed command line.
 * @returns The exit code.
 */
export async function runWho(p: ParsedCli): Promise<number> {
  const room = p.positionals[0];
  if (p.positionals.length > 1) throw new UsageError("Cannot run who: it takes at most one room");
  if (room !== undefined) checkRoom(room, "list who is in");
  await using client = await openFromCli(p);
  let entries;
  try {
    entries = await client.who(room);
  } catch (e) {
    throw describeError(
      e,
      p.target,
      room === undefined ? "list who is online" : `list who is in ${room}`,
    );
  }
  entries.sort((a, b) => a.nick.toLowerCase().localeCompare(b.nick.toLowerCase()));
  if (p.json) {
    printJson(entries);
    return 0;
  }
  const now = Date.now();
  console.log(
    table([
      ["NICK", "ONLINE", "ROOMS"],
      ...entries.map((e) => [e.nick, ago(e.since, now), e.rooms.join(" ")]),
    ]),
  );
  return 0;
}

/**
 * `rooms`.
 *
 * @param p The parsed command line.
 * @returns The exit code.
 */
export async function runRooms(p: ParsedCli): Promise<number> {
  if (p.positionals.length > 0) throw new UsageError("Cannot run rooms: it takes no arguments");
  await using client = await openFromCli(p);
  let rooms;
  try {
    rooms = await client.rooms();
  } catch (e) {
    throw describeError(e, p.target, "list rooms");
  }
  rooms.sort((a, b) => a.room.toLowerCase().localeCompare(b.room.toLowerCase()));
  if (p.json) printJson(rooms);
  else console.log(table([["ROOM", "MEMBERS"], ...rooms.map((r) => [r.room, String(r.members)])]));
  return 0;
}

/**
 * `ping [--count N]`.
 *
 * @param p The parsed command line.
 * @returns The exit code.
 */
export async function runPing(p: ParsedCli): Promise<number> {
  if (p.positionals.length > 0) {
    throw new UsageError("Cannot run ping: it takes no arguments (see --count)");
  }
  const count = intOption(p, "count", 4, 10_000);
  await using client = await openFromCli(p);
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    let rtt: number;
    try {
      rtt = await sampleRoundTrip(client, i, () => client.ping());
    } catch (e) {
      throw describeError(e, p.target, `ping ${p.target.label}`);
    }
    samples.push(rtt);
    if (!p.json) console.log(`PONG from ${p.target.label}: seq=${i + 1} time=${formatMs(rtt)}`);
  }
  const min = Math.min(...samples);
  const max = Math.max(...samples);
  const avg = samples.reduce((a, b) => a + b, 0) / samples.length;
  if (p.json) {
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    printJson({
      server: p.target.label,
      samples_ms: samples.map(r3),
      min_ms: r3(min),
      avg_ms: r3(avg),
      max_ms: r3(max),
    });
  } else {
    console.log(
      `${count} sample${count === 1 ? "" : "s"}: min ${formatMs(min)}, avg ${formatMs(avg)}, max ${
        formatMs(max)
      }`,
    );
  }
  return 0;
}

/** Milliseconds between two round-trip samples, for `ping` and `time` alike. */
export const SAMPLE_GAP_MS = 10;

/**
 * Takes one round-trip sample the way `ping` and `time` both do, so that they agree on what a
 * round trip is: before the first sample one `PING` that is not counted (the first exchange of
 * a connection pays for warming up both ends), and {@linkcode SAMPLE_GAP_MS} between samples.
 *
 * @param client The client.
 * @param index The sample's number, from 0.
 * @param sample Takes the sample.
 * @returns What `sample` returned.
 */
export async function sampleRoundTrip<T>(
  client: Client,
  index: number,
  sample: () => Promise<T>,
): Promise<T> {
  if (index === 0) await client.ping();
  else await new Promise((r) => setTimeout(r, SAMPLE_GAP_MS));
  return await sample();
}

/** The samples of `time`: the best one (smallest round trip) and every round trip. */
export interface TimeSamples {
  /** The sample with the smallest round trip. */
  best: TimeSample;
  /** Every round trip, in milliseconds, in order. */
  rtts: number[];
}

/**
 * Takes `samples` TIME samples and keeps the one with the smallest round trip.
 *
 * @param client The client.
 * @param samples How many.
 * @returns The best sample, and every round trip.
 */
export async function bestTimeSample(client: Client, samples: number): Promise<TimeSamples> {
  let best: TimeSample | undefined;
  const rtts: number[] = [];
  for (let i = 0; i < samples; i++) {
    const s = await sampleRoundTrip(client, i, () => client.time());
    rtts.push(s.rtt);
    if (best === undefined || s.rtt < best.rtt) best = s;
  }
  return { best: best!, rtts };
}

/**
 * The clock offset as a sentence: `+1.20 ms (this clock is behind the server)`.
 *
 * @param sample The sample.
 * @returns The text.
 */
export function describeOffset(sample: TimeSample): string {
  const sign = sample.offset >= 0 ? "+" : "-";
  const side = Math.abs(sample.offset) < 0.0005
    ? "in step with the server"
    : sample.offset > 0
    ? "this clock is behind the server"
    : "this clock is ahead of the server";
  // The server's clock has whole milliseconds, and the reply came somewhere inside the round trip.
  const error = sample.rtt / 2 + 0.5;
  return `${sign}${formatMs(Math.abs(sample.offset))} (${side}; ±${formatMs(error)})`;
}

/**
 * `time [--samples N]`.
 *
 * @param p The parsed command line.
 * @returns The exit code.
 */
export async function runTime(p: ParsedCli): Promise<number> {
  if (p.positionals.length > 0) {
    throw new UsageError("Cannot run time: it takes no arguments (see --samples)");
  }
  const samples = intOption(p, "samples", 8, 10_000);
  await using client = await openFromCli(p);
  let taken: TimeSamples;
  try {
    taken = await bestTimeSample(client, samples);
  } catch (e) {
    throw describeError(e, p.target, `ask ${p.target.label} the time`);
  }
  const { best, rtts } = taken;
  const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
  const max = Math.max(...rtts);
  if (p.json) {
    const r3 = (x: number) => Math.round(x * 1000) / 1000;
    printJson({
      server: p.target.label,
      server_time: best.iso,
      server_ms: best.server,
      rtt_ms: r3(best.rtt),
      avg_rtt_ms: r3(avg),
      max_rtt_ms: r3(max),
      offset_ms: r3(best.offset),
      samples,
    });
    return 0;
  }
  console.log(table([
    ["server time", best.iso],
    [
      "round trip",
      `${formatMs(best.rtt)} (best of ${samples}; avg ${formatMs(avg)}, max ${formatMs(max)})`,
    ],
    ["clock offset", describeOffset(best)],
  ]));
  return 0;
}
