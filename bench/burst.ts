/**
 * The burst workload's scenarios and runs: publishers that pipeline faster than subscribers read
 * (bench/load_burst.ts drives them), each scenario on a fresh server, servers interleaved. Every
 * run prints what each receiver got; the result table gets five measures per scenario.
 *
 * @module
 */

import { BATCH, type BurstResult, type ReceiverResult } from "./load_burst.ts";
import type { LoadSpec } from "./load_spec.ts";
import type { Options } from "./options.ts";
import { fmt, NAMES, type Results } from "./results.ts";
import { runLoad } from "./run_load.ts";
import { startServer } from "./servers.ts";
import type { Proto } from "./wire.ts";

const PAYLOAD = 128;
const PAUSE_MS = 150;
const IDLE_MS = 5000;
const DEADLINE_MS = 120_000;

/** One burst scenario. */
export interface Scenario {
  /** Its name in the table. */
  name: string;
  /** What it runs, in words. */
  text: string;
  /** Messages each publisher sends. */
  shares: number[];
  subscribers: number;
  /** Whether the publishers are members of the room (they get each other's messages). */
  membersPublish: boolean;
  /** The last subscriber stops reading for 150 ms after this many messages (0: never). */
  pauseAfter: number;
}

const count = (n: number) => n.toLocaleString("en-US");

/** `total` split over `n` publishers, the first ones getting the remainder. */
function split(total: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0));
}

/**
 * The four scenarios, for `messages` (200,000 in a full run).
 *
 * @param messages Messages of a scenario (the long one sends 5 times as many).
 */
export function scenarios(messages: number): Scenario[] {
  const three = split(messages, 3);
  const pauseAfter = Math.round(messages / 20);
  return [
    {
      name: `1→10, ${count(messages)}`,
      text: `1 publisher -> 10 subscribers, ${count(messages)} messages`,
      shares: [messages],
      subscribers: 10,
      membersPublish: false,
      pauseAfter: 0,
    },
    {
      name: `1→10, ${count(5 * messages)}`,
      text: `1 publisher -> 10 subscribers, ${count(5 * messages)} messages`,
      shares: [5 * messages],
      subscribers: 10,
      membersPublish: false,
      pauseAfter: 0,
    },
    {
      name: `3→5 chat, ${count(messages)}`,
      text: `3 publishers, members of the room, -> 5 subscribers, ${
        count(messages)
      } messages in all (${
        three.map(count).join(" + ")
      }); each publisher also gets the other two's`,
      shares: three,
      subscribers: 5,
      membersPublish: true,
      pauseAfter: 0,
    },
    {
      name: `1→10 pause, ${count(messages)}`,
      text: `1 publisher -> 10 subscribers, ${
        count(messages)
      } messages; sub10 stops reading for ${PAUSE_MS} ms after ${count(pauseAfter)} messages`,
      shares: [messages],
      subscribers: 10,
      membersPublish: false,
      pauseAfter,
    },
  ];
}

/** The receivers whose delivery counts: the subscribers, and the publishers that are members. */
function counted(r: BurstResult): ReceiverResult[] {
  return r.receivers.filter((x) => x.expected > 0);
}

/** The table's measures of one scenario's run. */
export function measures(scenario: Scenario, r: BurstResult): Record<string, number> {
  const receivers = counted(r);
  const least = Math.min(...receivers.map((x) => x.got / x.expected));
  const name = scenario.name;
  return {
    [`${name}: least delivered`]: least * 100,
    [`${name}: connections cut`]: r.receivers.filter((x) => x.cut !== "").length,
    [`${name}: out of order`]: receivers.reduce((n, x) => n + x.outOfOrder, 0),
    [`${name}: publisher rate`]: r.publisherRate,
    [`${name}: longest write stall`]: r.longestStall,
  };
}

/** One receiver in words: `sub3 51,200/200,000 (cut: BYE slow consumer)`. */
function receiverText(x: ReceiverResult): string {
  const notes = [
    ...(x.outOfOrder > 0 ? [`${count(x.outOfOrder)} out of order`] : []),
    ...(x.cut !== "" ? [`cut: ${x.cut}`] : []),
  ];
  const got = x.expected > 0 ? `${count(x.got)}/${count(x.expected)}` : "";
  return [x.name, got, notes.length > 0 ? `(${notes.join(", ")})` : ""].filter((s) => s)
    .join(" ");
}

/**
 * One run in words: who got what (every receiver when one missed something), the cuts, order,
 * the publishers and why the run ended.
 */
export function summary(r: BurstResult): string {
  const receivers = counted(r);
  const clean = receivers.every((x) => x.got === x.expected && x.outOfOrder === 0);
  const subs = receivers.filter((x) => x.name.startsWith("sub"));
  const pubs = receivers.filter((x) => x.name.startsWith("pub"));
  const got = clean
    ? [
      `all ${subs.length} subscribers got ${count(subs[0]!.expected)}/${
        count(subs[0]!.expected)
      } in order`,
      ...(pubs.length > 0 ? [`publishers got the others' ${count(pubs[0]!.expected)}`] : []),
    ].join(", ")
    : `least ${Math.min(...receivers.map((x) => (x.got / x.expected) * 100)).toFixed(1)}%: ${
      receivers.map(receiverText).join(", ")
    }`;
  const cut = r.receivers.filter((x) => x.cut !== "");
  const cutPubs = cut.filter((x) => x.expected === 0).map(receiverText);
  const sent = r.sent.reduce((a, b) => a + b, 0);
  const echo = r.selfEcho > 0 ? `, ${count(r.selfEcho)} own echoes skipped` : "";
  return `${got}; ${cut.length} cut${cutPubs.length > 0 ? ` (${cutPubs.join(", ")})` : ""}; ` +
    `published ${count(sent)} at ${fmt(r.publisherRate, "")} msgs/s, longest write stall ${
      fmt(r.longestStall, "ms")
    }; ended: ${r.ended}${echo}`;
}

/** One scenario against one fresh server. */
async function runScenario(proto: Proto, scenario: Scenario): Promise<BurstResult> {
  const server = await startServer(proto, { maxClients: 100 });
  try {
    const spec: LoadSpec = {
      workload: "burst",
      proto,
      port: server.port,
      shares: scenario.shares,
      subscribers: scenario.subscribers,
      membersPublish: scenario.membersPublish,
      size: PAYLOAD,
      pauseAfter: scenario.pauseAfter,
      pauseMs: PAUSE_MS,
      idleMs: IDLE_MS,
      deadlineMs: DEADLINE_MS,
    };
    return await runLoad(spec, DEADLINE_MS + 30_000) as unknown as BurstResult;
  } finally {
    await server.stop();
  }
}

/**
 * Runs every burst scenario `opts.runs` times against each chosen server, interleaved, printing
 * the scenarios once and a line a run.
 *
 * @param opts The options.
 * @param results Where the numbers go.
 */
export async function burstRuns(opts: Options, results: Results): Promise<void> {
  const all = scenarios(opts.scale.burstMessages);
  console.log(
    `burst: ${PAYLOAD} B payloads; publishers write ${BATCH} messages per write as fast as their ` +
      `sockets take them (no window, no waiting for replies); "longest write stall" is the longest ` +
      `single socket write of a publisher that accepted no byte; a run ends when every receiver ` +
      `has everything or was cut, or after ${IDLE_MS / 1000} s without a delivery.`,
  );
  for (const [i, scenario] of all.entries()) {
    console.log(`burst ${i + 1}: ${scenario.text}`);
    for (let run = 1; run <= opts.runs; run++) {
      for (const proto of opts.servers) {
        const t = performance.now();
        const head = `burst ${i + 1}  run ${run}/${opts.runs}  ${NAMES[proto].padEnd(12)}`;
        try {
          const r = await runScenario(proto, scenario);
          results.add("burst", proto, measures(scenario, r));
          console.log(`${head}  ${summary(r)}  (${((performance.now() - t) / 1000).toFixed(1)} s)`);
        } catch (e) {
          results.failures.push(
            `burst ${scenario.name} run ${run} ${NAMES[proto]}: ${(e as Error).message}`,
          );
          console.error(`${head}  FAILED: ${(e as Error).message}`);
        }
      }
    }
  }
}
