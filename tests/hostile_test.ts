/**
 * Hostile clients over real sockets. Each case is bounded in count and time, and each checks that
 * two well-behaved clients connected meanwhile keep getting correct answers (PING, TIME, a room
 * message, a lobby message, a DM, LIST, GET) and that no file of the shared folder changed.
 *
 * Random cases print their seed on failure; rerun one with `SWITCHBOARD_HOSTILE_SEED=<seed>`.
 */

import assert from "node:assert/strict";
import { encodeFrame, encodeLine } from "../lib/protocol/encoder.ts";
import type { DecodeEvent } from "../lib/protocol/frame.ts";
import type { ServerConfig } from "../server/config.ts";
import type { StartOptions } from "../server/server.ts";
import { bytes, decodeText, encodeText, prng } from "./helpers/bytes.ts";
import { folderDigest, temporaries } from "./helpers/fs.ts";
import { nextUnskipped, RawClient, rawClient, untilClosed } from "./helpers/raw_client.ts";
import { captureLog, fdCount, startServerProcess, startTestServer } from "./helpers/servers.ts";
import { sleep, waitFor, within } from "./helpers/wait.ts";
import { seededFolder, seedFiles, witnesses } from "./helpers/witnesses.ts";

const seedEnv = Deno.permissions.querySync({ name: "env", variable: "SWITCHBOARD_HOSTILE_SEED" })
    .state === "granted"
  ? Deno.env.get("SWITCHBOARD_HOSTILE_SEED")
  : undefined;

/** A seed for a random case: fixed by the environment, else fresh. */
function newSeed(): number {
  return seedEnv !== undefined ? Number(seedEnv) : (Math.random() * 2 ** 31) | 0;
}

/** A server process sharing a seeded folder, and the two witnesses. */
async function processArena(args: string[] = []) {
  const dir = await seededFolder("sb-hostile-");
  const server = await startServerProcess(["--files", dir.files, ...args]);
  const w = await witnesses(server.port, { files: dir.files, seeded: dir.seeded, clients: "who" });
  return {
    server,
    files: dir.files,
    w,
    async [Symbol.asyncDispose]() {
      await w[Symbol.asyncDispose]();
      await server[Symbol.asyncDispose]();
      await dir[Symbol.asyncDispose]();
    },
  };
}

/** An in-process server with the seeded folder, and the two witnesses. */
async function arena(config: Partial<ServerConfig> = {}, options: StartOptions = {}) {
  const server = await startTestServer(config, options);
  const seeded = await seedFiles(server.files);
  const w = await witnesses(server.port, {
    files: server.files,
    seeded,
    clients: () => server.clients,
  });
  return {
    server,
    w,
    seeded,
    async [Symbol.asyncDispose]() {
      await w[Symbol.asyncDispose]();
      await server[Symbol.asyncDispose]();
    },
  };
}

/** The next reply of a raw client, as text, skipping pushes. */
function reply(c: RawClient, timeoutMs = 5000): Promise<string> {
  return nextUnskipped(c, /^(?:(?:MSG|DM|JOINED|LEFT|PING) |PING$)/, timeoutMs);
}

/** Verbs the server may send. */
const SERVER_VERBS = new Set([
  "HELLO",
  "OK",
  "ERR",
  "PONG",
  "TIME",
  "WHO",
  "ROOMS",
  "LIST",
  "HELP",
  "FILE",
  "MSG",
  "DM",
  "JOINED",
  "LEFT",
  "PING",
  "BYE",
]);
const ERR_CODES = new Set(["400", "401", "403", "404", "409", "413", "429", "500", "503"]);

// ---------------------------------------------------------------------------------------------
// Random garbage

/** Pieces of garbage that reach deeper into the protocol than uniform random bytes would. */
const VOCABULARY = [
  "SAY ",
  "TELL ",
  "NICK ",
  "JOIN ",
  "LEAVE ",
  "WHO",
  "ROOMS",
  "TIME",
  "PING",
  "HELP",
  "GET ",
  "LIST ",
  "AUTH ",
  "lobby",
  "witness",
  "bob",
  "small.txt",
  "../",
  "%ff",
  "%2e%2e/",
  " :",
  ":",
  " ",
  "\r\n",
  "\n",
  "\r",
  "0",
  "7",
  "64",
  "4096",
  "99999999999999999999",
  "-1",
];

function garbage(random: () => number): Uint8Array {
  const parts: number[] = [];
  const pieces = 1 + Math.floor(random() * 30);
  for (let i = 0; i < pieces; i++) {
    const kind = random();
    if (kind < 0.45) {
      parts.push(...encodeText(VOCABULARY[Math.floor(random() * VOCABULARY.length)]!));
    } else if (kind < 0.9) {
      const n = Math.floor(random() * 24);
      for (let j = 0; j < n; j++) parts.push(Math.floor(random() * 256));
    } else if (kind < 0.97) {
      parts.push(
        ...[0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xc0, 0xaf].slice(
          0,
          1 + Math.floor(random() * 9),
        ),
      );
    } else {
      parts.push(...new Uint8Array(1 + Math.floor(random() * 6000)).fill(0x41));
    }
  }
  return new Uint8Array(parts);
}

Deno.test("random garbage on 200 connections: only well-formed ERRs, replies and closes; others are served", async () => {
  const seed = newSeed();
  await using a = await arena();
  const random = prng(seed);
  let sent = 0, frames = 0, errs = 0, live = 0;
  const inputs = Array.from({ length: 200 }, () => garbage(random));
  await within(
    60_000,
    `garbage (seed ${seed})`,
    a.w.during(
      "garbage",
      (async () => {
        for (let batch = 0; batch < inputs.length; batch += 25) {
          await Promise.all(
            inputs.slice(batch, batch + 25).map(async (input, k) => {
              const c = await rawClient(a.server.port);
              try {
                // In 1-4 writes, then half-close: the server must read to EOF and close, in any state.
                const cuts = [
                  0,
                  ...Array.from(
                    { length: Math.floor(random() * 4) },
                    () => Math.floor(random() * input.length),
                  ),
                  input.length,
                ]
                  .sort((x, y) => x - y);
                for (let i = 1; i < cuts.length; i++) {
                  await c.send(input.subarray(cuts[i - 1], cuts[i]));
                }
                sent += input.length;
                await c.conn.closeWrite();
                for (const ev of await untilClosed(c, 10_000)) {
                  if (ev.type !== "frame") continue;
                  frames++;
                  assert.ok(
                    SERVER_VERBS.has(ev.verb),
                    `seed ${seed} input ${batch + k}: server sent verb ${ev.verb}`,
                  );
                  if (ev.verb === "ERR") {
                    errs++;
                    assert.ok(ERR_CODES.has(ev.args[0]!), `seed ${seed}: ERR code ${ev.args[0]}`);
                  }
                }
              } finally {
                c.close();
              }
            }),
          );
        }
      })(),
    ).then((r) => live = r.roundTrips),
  );
  console.log(
    `garbage: seed ${seed}, 200 inputs, ${sent} bytes, ${frames} frames back, ${errs} ERR; ` +
      `${live} witness round trips meanwhile`,
  );
  await a.w.check("after random garbage");
});

// ---------------------------------------------------------------------------------------------
// Valid frames, cut anywhere, sent slowly

Deno.test("valid frames split at random points with random delays get exactly their replies, in order", async () => {
  await using a = await arena();
  for (let round = 0; round < 3; round++) {
    const seed = newSeed();
    const random = prng(seed);
    const c = await rawClient(a.server.port);
    try {
      const nick = `split${round}`;
      // Commands and a check of each reply, in order.
      const script: [Uint8Array, (ev: DecodeEvent[]) => void][] = [];
      const line = (cmd: string, expect: RegExp) =>
        script.push([encodeLine(cmd), ([f]) => {
          assert.ok(f?.type === "frame", `${cmd}: a frame`);
          const head = [f.verb, ...f.args].join(" ");
          assert.match(head, expect, `seed ${seed}: reply to ${cmd}`);
        }]);
      line(`NICK ${nick}`, new RegExp(`^OK ${nick}$`));
      line("JOIN witness", /^OK witness$/);
      const sent: Uint8Array[] = [];
      for (let i = 0; i < 20; i++) {
        const kind = Math.floor(random() * 7);
        if (kind === 0) {
          const p = crypto.getRandomValues(new Uint8Array(Math.floor(random() * 3000)));
          sent.push(p);
          script.push([encodeFrame("SAY witness", p), ([f]) => {
            assert.ok(
              // Two hear it (bob and alice); the witnesses talk in the room too: any id.
              f?.type === "frame" && f.verb === "OK" && f.args.length === 2 &&
                f.args[0] === "2" && /^[1-9]\d*$/.test(f.args[1]!),
              `seed ${seed}: SAY reply`,
            );
          }]);
        } else if (kind === 1) line("TIME", /^TIME \d{4}-\d\d-\d\dT[\d:.]+Z \d+$/);
        else if (kind === 2) line("PING", /^PONG$/);
        else if (kind === 3) line("WHO witness", /^WHO$/);
        else if (kind === 4) line("NOSUCH verb", /^ERR 400 Unknown command/);
        else if (kind === 5) {
          script.push([encodeLine("GET small.txt"), (evs) => {
            assert.equal(evs[0]?.type, "stream", `seed ${seed}: GET reply`);
            const data = evs.filter((e) => e.type === "data").map((e) =>
              decodeText(e.type === "data" ? e.bytes : new Uint8Array())
            );
            assert.equal(data.join(""), decodeText(a.seeded["small.txt"]!));
          }]);
        } else line(`TELL bob :hello ${i}`, /^OK 1$/);
      }
      const all = new Uint8Array(script.reduce((n, [b]) => n + b.length, 0));
      let at = 0;
      for (const [b] of script) {
        all.set(b, at);
        at += b.length;
      }
      const writing = (async () => {
        for (let off = 0; off < all.length;) {
          const n = 1 + Math.floor(random() * 97);
          await c.send(all.subarray(off, Math.min(all.length, off + n)));
          off += n;
          if (random() < 0.3) await sleep(Math.floor(random() * 8));
        }
      })();
      await within(
        20_000,
        `split round ${round} (seed ${seed})`,
        (async () => {
          for (const [, check] of script) {
            let ev = await c.event(10_000);
            while (ev?.type === "frame" && /^(MSG|DM|JOINED|LEFT)$/.test(ev.verb)) {
              ev = await c.event(10_000);
            }
            assert.ok(ev !== null, `seed ${seed}: closed early`);
            const evs = [ev];
            if (ev.type === "stream") {
              for (let e = await c.event(); e !== null; e = await c.event()) {
                evs.push(e);
                if (e.type === "end") break;
              }
            }
            check(evs);
          }
          await writing;
        })(),
      );
      // Bob heard every room message of this round, byte for byte and in order.
      await waitFor(
        () => a.w.inbox.filter((m) => m.type === "msg" && m.from === nick).length === sent.length,
        5000,
        `bob to get ${sent.length} messages of ${nick}`,
      );
      const got = a.w.inbox.filter((m) => m.type === "msg" && m.from === nick);
      got.forEach((m, i) =>
        assert.deepEqual(m.type === "msg" ? m.payload : null, sent[i], `seed ${seed}: message ${i}`)
      );
    } finally {
      c.close();
    }
    await a.w.check(`after split round ${round}`);
  }
});

// ---------------------------------------------------------------------------------------------
// Lines that never end

Deno.test("a control line that never ends is cut at max_line with ERR 413 and BYE, trickled or not", async () => {
  await using a = await arena();
  const max = a.server.config.maxLine;
  await a.w.during(
    "endless lines",
    Promise.all(Array.from({ length: 10 }, async (_, i) => {
      const c = await rawClient(a.server.port);
      try {
        // 7-byte pieces for half of them, 500-byte pieces for the others, never a LF.
        const piece = encodeText(i % 2 === 0 ? "SAY lob" : "x".repeat(500));
        const reading = untilClosed(c, 10_000);
        let written = 0;
        try {
          while (written < max * 3) {
            await c.send(piece);
            written += piece.length;
            if (written % 3500 < piece.length) await sleep(1);
          }
        } catch {
          // The server closed while we were still writing: what the test expects.
        }
        const seen = (await reading).filter((e) => e.type === "frame").map((e) =>
          e.type === "frame" ? [e.verb, ...e.args].join(" ") : ""
        );
        assert.deepEqual(seen, [
          `ERR 413 Cannot read command: line is longer than max_line (${max} bytes)`,
          "BYE protocol error",
        ]);
      } finally {
        c.close();
      }
    })),
  );
  await a.w.check("after endless lines");
});

Deno.test("a half-typed line followed by silence ends in PING, then BYE idle", async () => {
  await using a = await arena({ pingInterval: 200 });
  const c = await rawClient(a.server.port);
  try {
    await c.send("SAY lobby :typing and never finishing");
    const seen = (await within(5000, "BYE idle", untilClosed(c, 5000))).map((e) =>
      e.type === "frame" ? e.verb + (e.args.length ? " " + e.args.join(" ") : "") : e.type
    );
    assert.equal(seen.at(-1), "BYE idle");
    assert.ok(seen.slice(0, -1).every((v) => v === "PING") && seen.length >= 2, seen.join(", "));
  } finally {
    c.close();
  }
  await a.w.check("after a half-typed line");
});

// ---------------------------------------------------------------------------------------------
// Byte counts that lie

Deno.test("byte counts that lie (too short, too long then EOF) deliver nothing and store nothing", async () => {
  await using a = await arena();
  const cases: [name: string, input: Uint8Array, expect: string[]][] = [
    [
      "SAY, count too short",
      bytes("NICK liar1\r\nSAY lobby 5\r\nhello world\r\n"),
      [
        "OK liar1",
        "ERR 400 Cannot read payload: its bytes must be followed by LF; check the byte count",
        "BYE protocol error",
      ],
    ],
    ["SAY, count too long then EOF", bytes("NICK liar2\r\nSAY lobby 100\r\nhello\r\n"), [
      "OK liar2",
    ]],
    ["TELL, count too long then EOF", bytes("NICK liar3\r\nTELL bob 50\r\nhi bob\r\n"), [
      "OK liar3",
    ]],
    [
      "PUT, count too short",
      bytes("NICK liar4\r\nPUT lie1.txt 5\r\nhello world\r\n"),
      [
        "OK liar4",
        "ERR 400 Cannot read payload: its bytes must be followed by LF; check the byte count",
        "BYE protocol error",
      ],
    ],
    [
      "PUT, count too long then EOF",
      bytes("NICK liar5\r\nPUT lie2.txt 100000\r\n", new Uint8Array(5000).fill(0x62)),
      ["OK liar5"],
    ],
    [
      "PUT, count too long with a new folder then EOF",
      bytes("NICK liar6\r\nPUT deep/er/lie3.txt 10\r\nabc"),
      ["OK liar6"],
    ],
    [
      "PUT, count too short by the size of the CRLF",
      bytes("NICK liar7\r\nPUT lie4.txt 3\r\nhello\r\n"),
      [
        "OK liar7",
        "ERR 400 Cannot read payload: its bytes must be followed by LF; check the byte count",
        "BYE protocol error",
      ],
    ],
  ];
  for (const [name, input, expect] of cases) {
    const c = await rawClient(a.server.port);
    try {
      await c.send(input);
      await c.conn.closeWrite();
      const seen = (await within(5000, name, untilClosed(c))).filter((e) => e.type === "frame")
        .map((e) => e.type === "frame" ? [e.verb, ...e.args].join(" ") : "");
      assert.deepEqual(seen, expect, name);
    } finally {
      c.close();
    }
  }
  // A sha256 that lies: the connection goes on, nothing is stored.
  const c = await rawClient(a.server.port);
  try {
    await c.send(bytes(`PUT lie5.txt ${"0".repeat(64)} 5\r\nhello\r\n`));
    assert.match(await reply(c), /^ERR 409 Cannot upload "lie5.txt": sha256 mismatch/);
    await c.line("PING");
    assert.equal(await reply(c), "PONG");
  } finally {
    c.close();
  }
  await waitFor(
    async () => (await temporaries(a.server.files)).length === 0,
    5000,
    "temporary uploads to be removed",
  );
  const liars = a.w.inbox.filter((m) =>
    (m.type === "msg" || m.type === "dm") && m.from.startsWith("liar")
  );
  assert.deepEqual(liars, [], "no message from a liar was delivered");
  await a.w.check("after lying byte counts");
});

// ---------------------------------------------------------------------------------------------
// Invalid UTF-8

Deno.test("invalid UTF-8 in verbs, nicks, rooms, payloads and paths answers ERR 400 and the connection goes on", async () => {
  await using a = await arena();
  const inputs: [string, Uint8Array][] = [
    ["verb", bytes([0xff, 0xfe], " lobby :x\r\n")],
    ["verb with a bad byte inside", bytes("S", [0xc3, 0x28], "Y lobby :x\r\n")],
    // Not a payload verb once it is not UTF-8: its payload is read as a command of its own.
    ["payload verb", bytes("S", [0xff], "Y lobby 3\r\nabc\r\n")],
    ["nick", bytes("NICK ", [0xc3, 0x28], "\r\n")],
    ["nick, overlong encoding", bytes("NICK ", [0xc0, 0xaf], "\r\n")],
    ["nick, surrogate", bytes("NICK ", [0xed, 0xa0, 0x80], "\r\n")],
    ["nick, past U+10FFFF", bytes("NICK ", [0xf4, 0x90, 0x80, 0x80], "\r\n")],
    ["room", bytes("JOIN ", [0xe2, 0x82], "\r\n")],
    ["SAY room", bytes("SAY ", [0xe2, 0x82], " :hi\r\n")],
    ["inline payload", bytes("SAY lobby :caf", [0xe9], "\r\n")],
    ["TELL nick", bytes("TELL ", [0xff], " :hi\r\n")],
    ["TELL nick, sized", bytes("TELL ", [0xff], " 2\r\nhi\r\n")],
    ["GET path", bytes("GET ", [0xff], ".txt\r\n")],
    ["GET path, escaped", bytes("GET %ff.txt\r\n")],
    ["GET path, escaped overlong slash", bytes("GET %c0%af\r\n")],
    ["GET path, escaped surrogate", bytes("GET %ed%a0%80\r\n")],
    ["GET path, truncated escape", bytes("GET a%2\r\n")],
    ["GET path, escaped dot-dot", bytes("GET %2e%2e/%2e%2e/etc/passwd\r\n")],
    ["GET path, escaped slashes", bytes("GET ..%2f..%2fetc%2fpasswd\r\n")],
    ["LIST path", bytes("LIST ", [0xfe], "\r\n")],
    ["DEL path", bytes("DEL %ff\r\n")],
    ["DEL path, raw", bytes("DEL small", [0xff], ".txt\r\n")],
    ["PUT path", bytes("PUT ", [0xff], " 3\r\nabc\r\n")],
    ["PUT path, escaped", bytes("PUT %ff 3\r\nabc\r\n")],
    ["PUT path, escaped NUL", bytes("PUT a%00b 3\r\nabc\r\n")],
    ["PUT over a seeded file, bad escape", bytes("PUT small%zz.txt 3\r\nabc\r\n")],
  ];
  const c = await rawClient(a.server.port);
  try {
    for (const [name, input] of inputs) {
      await c.send(input);
      assert.match(await reply(c), /^ERR 400 /, name);
      if (name === "payload verb") {
        assert.match(await reply(c), /^ERR 400 Unknown command "ABC"/, name);
      }
      await c.line("PING");
      assert.equal(await reply(c), "PONG", `${name}: the connection goes on`);
    }
  } finally {
    c.close();
  }
  console.log(`invalid UTF-8: ${inputs.length} inputs`);
  await a.w.check("after invalid UTF-8");
});

// ---------------------------------------------------------------------------------------------
// Pipelining

Deno.test("10,000 commands pipelined in one write are all answered, in order", async () => {
  await using a = await arena();
  const c = await rawClient(a.server.port);
  try {
    const N = 10_000;
    const lines: string[] = [];
    for (let i = 0; i < N; i++) {
      switch (i % 5) {
        case 0:
          lines.push("PING");
          break;
        case 1:
          lines.push("TIME");
          break;
        case 2:
          lines.push(`SAY lobby :pipelined ${i}`);
          break;
        case 3:
          lines.push(`ECHO ${i}`);
          break;
        default:
          lines.push(`JOIN r${i % 20}`);
      }
    }
    await c.send(lines.join("\r\n") + "\r\n");
    await within(
      30_000,
      "10,000 replies",
      a.w.during(
        "10,000 pipelined",
        (async () => {
          for (let i = 0; i < N; i++) {
            const r = await reply(c, 10_000);
            switch (i % 5) {
              case 0:
                assert.equal(r, "PONG", `reply ${i}`);
                break;
              case 1:
                assert.match(r, /^TIME \S+Z \d+$/, `reply ${i}`);
                break;
              case 2:
                // Alice and bob hear it; the only lobby messages here, so ids 1, 2, 3 ...
                assert.equal(r, `OK 2 ${(i - 2) / 5 + 1}`, `reply ${i}`);
                break;
              case 3:
                assert.equal(
                  r,
                  'ERR 400 Unknown command "ECHO": send HELP for the list',
                  `reply ${i}`,
                );
                break;
              default:
                assert.equal(r, `OK r${i % 20}`, `reply ${i}`);
            }
          }
        })(),
      ),
    );
    // Bob heard the 2,000 lobby messages, in order.
    const expected = lines.filter((l) => l.startsWith("SAY")).map((l) =>
      l.slice("SAY lobby :".length)
    );
    await waitFor(
      () =>
        a.w.inbox.filter((m) => m.type === "msg" && m.text.startsWith("pipelined")).length ===
          expected.length,
      10_000,
      "bob to hear 2,000 messages",
    );
    assert.deepEqual(
      a.w.inbox.filter((m) => m.type === "msg" && m.text.startsWith("pipelined")).map((m) =>
        m.type === "msg" ? m.text : ""
      ),
      expected,
    );
  } finally {
    c.close();
  }
  await a.w.check("after 10,000 pipelined commands");
});

// ---------------------------------------------------------------------------------------------
// Connect-and-vanish storms

Deno.test("2,000 connections opened and dropped: the server's clients and open files return to baseline", async () => {
  await using a = await processArena();
  const fdsBefore = await fdCount(a.server.pid);
  const random = prng(newSeed());
  let done = 0;
  let live = 0;
  await within(
    60_000,
    "2,000 connections",
    a.w.during(
      "storm",
      (async () => {
        for (let wave = 0; wave < 10; wave++) {
          await Promise.all(Array.from({ length: 200 }, async (_, i) => {
            const conn = await Deno.connect({ hostname: "127.0.0.1", port: a.server.port });
            try {
              switch ((wave * 200 + i) % 5) {
                case 0: // connect and vanish
                  break;
                case 1: // read a little of HELLO
                  await conn.read(new Uint8Array(8));
                  break;
                case 2: // a payload half sent
                  await conn.write(encodeText("SAY lobby 100\r\nhalf"));
                  break;
                case 3: // an upload half sent
                  await conn.write(encodeText(`PUT storm/f${wave}-${i}.bin 100000\r\n`));
                  await conn.write(new Uint8Array(Math.floor(random() * 4000)));
                  await sleep(Math.floor(random() * 20));
                  break;
                default: // commands, never read
                  await conn.write(
                    encodeText(
                      `NICK storm${wave}x${i}\r\nJOIN storm\r\nSAY storm :bye\r\nWHO\r\n`,
                    ),
                  );
              }
            } catch {
              // The server may close first (never here, but a reset is fine too).
            } finally {
              conn.close();
              done++;
            }
          }));
        }
      })(),
    ).then((r) => live = r.roundTrips),
  );
  assert.equal(done, 2000);
  console.log(`storm: 2,000 connections; ${live} witness round trips meanwhile`);
  await waitFor(
    async () => (await a.w.alice.who()).length === 2,
    15_000,
    "the server's clients back to 2",
  );
  let fds = 0;
  await waitFor(
    async () => (fds = await fdCount(a.server.pid)) <= fdsBefore,
    10_000,
    "open files back to baseline",
  )
    .catch((e) => {
      throw new Error(`${(e as Error).message}: ${fds} open, ${fdsBefore} before`);
    });
  await a.w.check("after 2,000 vanishing connections");
});

// ---------------------------------------------------------------------------------------------
// Half-open connections

Deno.test("half-open connections (mid-payload, mid-upload, silent) are dropped as idle and leave nothing", async () => {
  const { log, lines } = captureLog();
  await using a = await arena({ pingInterval: 400 }, { log });
  const digest = await folderDigest(a.server.files);
  const conns: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 30; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: a.server.port });
      conns.push(conn);
      if (i % 3 === 0) await conn.write(encodeText("SAY lobby 100\r\nten bytes."));
      else if (i % 3 === 1) {
        await conn.write(encodeText(`PUT half/h${i}.bin 100000\r\n`));
        await conn.write(new Uint8Array(3000));
      }
      // i % 3 === 2: says nothing at all. None of them reads or writes again.
    }
    await waitFor(
      async () => (await temporaries(a.server.files)).length === 10,
      5000,
      "10 uploads in progress",
    );
    await within(
      10_000,
      "half-open connections dropped",
      a.w.during(
        "half-open",
        waitFor(() => a.server.clients === 2, 10_000, "half-open connections to be dropped"),
      ),
    );
    assert.equal(
      lines.filter((l) => / disconnect .*reason=idle/.test(l)).length,
      30,
      lines.join("\n"),
    );
    assert.equal(lines.filter((l) => /reason=eof during upload/.test(l)).length, 0);
    await waitFor(
      async () => (await temporaries(a.server.files)).length === 0,
      5000,
      "temporaries removed",
    );
    assert.equal(await folderDigest(a.server.files), digest);
  } finally {
    for (const c of conns) c.close();
  }
  await a.w.check("after half-open connections");
});

// ---------------------------------------------------------------------------------------------
// A reader of one byte per second

Deno.test("a client reading one byte per second does not slow the others and is cut as a slow consumer", async () => {
  const { log, lines } = captureLog();
  await using a = await arena({ maxPending: 64 * 1024, writeDeadline: 1500 }, { log });
  await a.w.bob.join("flood");
  const slow = await Deno.connect({ hostname: "127.0.0.1", port: a.server.port });
  const slowSince = Date.now();
  let reading = true;
  const got: number[] = [];
  const reader = (async () => {
    const one = new Uint8Array(1);
    while (reading) {
      const n = await slow.read(one).catch(() => null);
      if (n === null) return;
      got.push(one[0]!);
      await sleep(1000);
    }
  })();
  try {
    await slow.write(encodeText("NICK slow\r\nJOIN flood\r\n"));
    await waitFor(
      async () => (await a.w.bob.who("flood")).length === 2,
      5000,
      "slow to join flood",
    );
    // A few small messages fit in the socket buffers: a slow reader is not cut for those.
    await a.w.alice.join("flood");
    for (let i = 0; i < 5; i++) assert.equal(await a.w.alice.say("flood", `small ${i}`), 2);
    await sleep(2500);
    assert.equal(a.server.clients, 3, "the slow reader is still connected");
    await a.w.check("while a slow reader is connected", 1);
    // A flood: 16 KiB messages until the slow reader is cut; bob gets every one.
    const big = new Uint8Array(16 * 1024);
    let sent = 0;
    await within(
      30_000,
      "the slow reader to be cut",
      (async () => {
        for (;;) {
          big[0] = sent & 0xff;
          const recipients = await a.w.alice.say("flood", big);
          sent++;
          if (recipients === 1) break; // only bob: slow is gone
          assert.equal(recipients, 2);
          assert.ok(sent < 4000, "4,000 messages of 16 KiB and the slow reader is still there");
        }
      })(),
    );
    await waitFor(
      () =>
        a.w.inbox.filter((m) =>
          m.type === "msg" && m.room === "flood" && m.payload.length === big.length
        ).length === sent,
      10_000,
      `bob to get all ${sent} big messages`,
    );
    const bigOnes = a.w.inbox.filter((m) =>
      m.type === "msg" && m.room === "flood" && m.payload.length === big.length
    );
    bigOnes.forEach((m, i) =>
      assert.equal(m.type === "msg" && m.payload[0], i & 0xff, `message ${i}`)
    );
    assert.ok(
      lines.some((l) => / disconnect .*nick=slow .*reason="slow consumer"/.test(l)),
      lines.filter((l) => l.includes("slow")).join("\n"),
    );
    const seconds = (Date.now() - slowSince) / 1000;
    assert.ok(
      got.length >= 2 && got.length <= seconds + 1,
      `it read ${got.length} bytes in ${seconds} s`,
    );
    assert.equal(decodeText(new Uint8Array(got.slice(0, 2))), "HE");
  } finally {
    reading = false;
    slow.close();
    await reader;
  }
  await a.w.check("after the slow reader was cut");
});

// ---------------------------------------------------------------------------------------------
// Connecting while the lobby is busy

Deno.test("HELLO is the first frame even when lobby messages fly while clients connect", async () => {
  await using a = await processArena();
  let talking = true;
  // Ten clients send lobby messages, five at a time, as fast as the server answers them.
  const talkers = await Promise.all(Array.from({ length: 10 }, () => rawClient(a.server.port)));
  const chatter = talkers.map(async (t, k) => {
    try {
      // Ten talkers share the lobby's ids: each one's own ids only grow.
      let lastId = 0;
      for (let i = 0; talking; i++) {
        await t.send(`SAY lobby :busy ${k} ${i}\r\n`.repeat(5));
        for (let n = 0; n < 5; n++) {
          const r = await reply(t);
          const m = /^OK \d+ ([1-9]\d*)$/.exec(r);
          assert.ok(m, r);
          assert.ok(Number(m[1]) > lastId, `${r} after id ${lastId}`);
          lastId = Number(m[1]);
        }
      }
    } finally {
      t.close();
    }
  });
  const firsts: string[] = [];
  try {
    for (let wave = 0; wave < 10; wave++) {
      await Promise.all(Array.from({ length: 30 }, async () => {
        const c = await RawClient.connect(a.server.port);
        try {
          const f = await c.frame(10_000);
          firsts.push(f.verb);
        } finally {
          c.close();
        }
      }));
    }
  } finally {
    talking = false;
    await Promise.all(chatter);
  }
  assert.equal(firsts.length, 300);
  assert.deepEqual(firsts.filter((v) => v !== "HELLO"), [], "frames that came before HELLO");
  await a.w.check("after connecting to a busy lobby");
});
