/**
 * Property tests of the codec (fast-check): random valid frames survive encode → decode at random
 * chunk splits; random bytes never make the decoder throw, loop, or allocate past its limits; and
 * the small codecs (paths, UTF-8 lengths) round-trip.
 *
 * On a failure fast-check prints the seed and the shrunk counterexample; rerun one with
 * `SWITCHBOARD_FC_SEED=<seed> deno test --allow-env lib/codec_property_test.ts`. Search longer
 * with `SWITCHBOARD_FC_RUNS=50` (fifty times the runs).
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { copyEvent, Decoder, type DecoderOptions } from "./decoder.ts";
import {
  decodePath,
  encodeError,
  encodeFrame,
  encodeLine,
  encodePath,
  encodeTextFrame,
  utf8Length,
} from "./encoder.ts";
import { ProtocolError } from "./errors.ts";
import type { DecodeEvent, PayloadKind } from "./frame.ts";
import { CLIENT_PAYLOADS, SERVER_PAYLOADS } from "./verbs.ts";
import { concat } from "../../tests/helpers/bytes.ts";

const utf8 = new TextEncoder();
function env(name: string): string | undefined {
  return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted"
    ? Deno.env.get(name)
    : undefined;
}
const seedText = env("SWITCHBOARD_FC_SEED");
const runsFactor = Number(env("SWITCHBOARD_FC_RUNS") ?? "1");
/**
 * fast-check parameters: a fixed seed when one is given, else a fresh one (printed on failure);
 * `SWITCHBOARD_FC_RUNS=N` multiplies the number of runs for a longer search.
 */
function params(numRuns: number): fc.Parameters<unknown> {
  const runs = Math.max(1, Math.round(numRuns * runsFactor));
  return seedText === undefined ? { numRuns: runs } : { numRuns: runs, seed: Number(seedText) };
}

// ---------------------------------------------------------------------------------------------
// Feeding the decoder, with every invariant checked on the way

/** A comparable event: payload views copied, the pieces of one stream merged. */
type Normal =
  | { type: "frame"; verb: string; args: string[]; payload: number[] | null; badText: boolean }
  | { type: "stream"; verb: string; args: string[]; size: number; badText: boolean }
  | { type: "data"; bytes: number[] }
  | { type: "end" }
  | { type: "error"; code: number; fatal: boolean; message: string };

function normalize(events: DecodeEvent[]): Normal[] {
  const out: Normal[] = [];
  for (const e of events) {
    switch (e.type) {
      case "frame":
        out.push({
          type: "frame",
          verb: e.verb,
          args: [...e.args],
          payload: e.payload === null ? null : [...e.payload],
          badText: e.badText,
        });
        break;
      case "stream":
        out.push({
          type: "stream",
          verb: e.verb,
          args: [...e.args],
          size: e.size,
          badText: e.badText,
        });
        break;
      case "data": {
        const last = out.at(-1);
        if (last?.type === "data") last.bytes.push(...e.bytes);
        else out.push({ type: "data", bytes: [...e.bytes] });
        break;
      }
      case "end":
        out.push({ type: "end" });
        break;
      case "error":
        out.push({
          type: "error",
          code: e.error.code,
          fatal: e.error.fatal,
          message: e.error.message,
        });
        break;
    }
  }
  return out;
}

/** Cuts `bytes` at the given positions (any numbers: taken modulo the length, sorted). */
function cut(bytes: Uint8Array, positions: number[]): Uint8Array[] {
  const at = [...new Set(positions.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of at) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  out.push(bytes.subarray(from));
  return out;
}

/** The largest `new Uint8Array(n)` seen while {@linkcode spyAllocations} runs. */
let largestAllocation = 0;

/**
 * Runs `fn` with the global `Uint8Array` replaced by a subclass that records the largest buffer
 * allocated by length (the decoder allocates with `new Uint8Array(n)` and `.slice()` of its own
 * buffers). `fn` is synchronous, so nothing else runs meanwhile.
 */
function spyAllocations<T>(fn: () => T): T {
  const Original = globalThis.Uint8Array;
  class Counting extends Original {
    // deno-lint-ignore no-explicit-any
    constructor(...args: any[]) {
      // deno-lint-ignore no-explicit-any
      super(...(args as [any]));
      if (typeof args[0] === "number" && args[0] > largestAllocation) largestAllocation = args[0];
    }
  }
  globalThis.Uint8Array = Counting as Uint8ArrayConstructor;
  try {
    return fn();
  } finally {
    globalThis.Uint8Array = Original;
  }
}

interface FeedReport {
  events: Normal[];
  /** Most `next()` calls that returned an event for one pushed chunk, minus the chunk's length. */
  worstEventsOverBytes: number;
  /** Largest `decoder.buffered` once a chunk was drained. */
  maxBuffered: number;
  /** Largest buffer the decoder allocated. */
  largestAllocation: number;
}

/**
 * Feeds chunks the way a connection does (push, `next()` until `undefined`), copying the events of
 * a chunk only right before the next push (every chunk lands in one read buffer that the next
 * chunk overwrites), so payload views must stay valid exactly that long. Checks
 * on the way: nothing throws, an error event is a fatal `ProtocolError` that kills the decoder,
 * data only comes between `stream` and `end`, and the bytes of a stream add up to its size.
 */
function feed(chunks: Uint8Array[], options: DecoderOptions): FeedReport {
  const decoder = new Decoder(options);
  const raw: DecodeEvent[] = [];
  let worst = -Infinity;
  let maxBuffered = 0;
  let streamLeft: number | null = null;
  let dead = false;
  // Like a connection, every chunk arrives in the same read buffer, overwritten by the next read.
  const shared = new Uint8Array(Math.max(0, ...chunks.map((c) => c.length)));
  largestAllocation = 0;
  spyAllocations(() => {
    for (const piece of chunks) {
      // Copy the views of the previous chunk now: they had to survive every next() since.
      for (let i = 0; i < raw.length; i++) raw[i] = copyEvent(raw[i]!);
      shared.fill(0xaa);
      shared.set(piece);
      const chunk = shared.subarray(0, piece.length);
      decoder.push(chunk);
      let count = 0;
      for (let ev = decoder.next(); ev !== undefined; ev = decoder.next()) {
        count++;
        // Bounded work: every event consumes at least one byte of the chunk.
        assert.ok(
          count <= chunk.length + 1,
          `more events than bytes in a chunk of ${chunk.length}`,
        );
        assert.ok(!dead, "an event came after a fatal error");
        switch (ev.type) {
          case "error":
            assert.ok(ev.error instanceof ProtocolError, "an error event carries a ProtocolError");
            assert.ok(ev.error.fatal, "decoder errors are fatal");
            assert.ok([400, 413].includes(ev.error.code), `error code ${ev.error.code}`);
            assert.match(ev.error.message, /^Cannot /);
            assert.ok(decoder.dead, "the decoder is dead after a fatal error");
            dead = true;
            break;
          case "frame":
            assert.equal(streamLeft, null, "a frame in the middle of a stream");
            // A sized payload is bounded by max_payload; an inline one is part of its line.
            if (ev.payload !== null) {
              const max = Math.max(options.maxPayload ?? Infinity, options.maxLine ?? Infinity);
              assert.ok(ev.payload.length <= max, "payload past max_payload and max_line");
            }
            break;
          case "stream":
            assert.equal(streamLeft, null, "a stream in the middle of a stream");
            assert.ok(ev.size <= (options.maxStream ?? Number.MAX_SAFE_INTEGER), "stream past max");
            streamLeft = ev.size;
            break;
          case "data":
            assert.ok(streamLeft !== null && ev.bytes.length > 0, "data outside a stream");
            streamLeft -= ev.bytes.length;
            assert.ok(streamLeft >= 0, "more data than the stream's size");
            break;
          case "end":
            assert.equal(streamLeft, 0, "a stream ended before its size");
            streamLeft = null;
            break;
        }
        raw.push(ev);
      }
      worst = Math.max(worst, count - chunk.length);
      // A dead decoder holds only the chunk just given (until the next push).
      if (!dead) maxBuffered = Math.max(maxBuffered, decoder.buffered);
      if (dead) assert.equal(decoder.next(), undefined, "a dead decoder yields nothing");
    }
  });
  for (let i = 0; i < raw.length; i++) raw[i] = copyEvent(raw[i]!);
  return { events: normalize(raw), worstEventsOverBytes: worst, maxBuffered, largestAllocation };
}

// ---------------------------------------------------------------------------------------------
// Random valid frames

/** Characters of arguments: anything but space, CR and LF (controls, NUL, non-ASCII included). */
const argChar = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(..."abcXYZ019_-.%/:#") },
  { weight: 1, arbitrary: fc.constantFrom("\0", "\t", "\x01", "\x7f", "é", "ß", "€", "😀", "中") },
);
const token = fc.array(argChar, { minLength: 1, maxLength: 10 }).map((a) => a.join(""));
/** An argument that cannot be read as the start of an inline payload. */
const plainToken = token.filter((t) => !t.startsWith(":"));
/** Verbs without a payload, in any case. */
const lineVerb = fc.oneof(
  fc.constantFrom("NICK", "JOIN", "LEAVE", "WHO", "ROOMS", "TIME", "PING", "QUIT", "GET", "LIST"),
  fc.array(fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ019_é"), {
    minLength: 1,
    maxLength: 8,
  }).map((a) => a.join("")),
).map((v) => (v.length % 2 === 0 ? v.toLowerCase() : v)).filter((v) =>
  !CLIENT_PAYLOADS.has(v.toUpperCase())
);
/** Inline text: any string without CR or LF, non-ASCII included. */
const inlineText = fc.string({ unit: "grapheme", maxLength: 40 }).filter((t) => !/[\r\n]/.test(t));
const payload = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 200, maxLength: 3000 }) },
);

/** One frame a client may send, as the server's decoder must see it. */
type Spec =
  | { kind: "line"; verb: string; args: string[] }
  | { kind: "sized"; verb: string; args: string[]; payload: Uint8Array; zeros: number }
  | { kind: "inline"; verb: string; args: string[]; text: string }
  | { kind: "stream"; verb: string; args: string[]; payload: Uint8Array; zeros: number }
  | { kind: "blank"; spaces: number };

const payloadVerb = fc.constantFrom("SAY", "say", "Tell", "TELL");
const spec: fc.Arbitrary<Spec> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("line" as const),
      verb: lineVerb,
      args: fc.array(token, { maxLength: 4 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("sized" as const),
      verb: payloadVerb,
      args: fc.array(plainToken, { minLength: 1, maxLength: 3 }),
      payload,
      zeros: fc.nat(2),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("inline" as const),
      verb: payloadVerb,
      args: fc.array(plainToken, { maxLength: 2 }),
      text: inlineText,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("stream" as const),
      verb: fc.constantFrom("PUT", "put"),
      args: fc.array(token, { minLength: 1, maxLength: 2 }),
      payload,
      zeros: fc.nat(2),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("blank" as const), spaces: fc.nat(3) }) },
);

/** How a frame is typed: spaces before the verb and between arguments, CRLF or LF. */
const layout = fc.record({
  lead: fc.nat(2),
  gap: fc.integer({ min: 1, max: 3 }),
  crlf: fc.boolean(),
});
type Layout = { lead: number; gap: number; crlf: boolean };

/** Encodes a spec as a client would send it; returns the bytes, the line length and the events. */
function encodeSpec(s: Spec, l: Layout): { bytes: Uint8Array; line: number; expected: Normal[] } {
  const eol = l.crlf ? "\r\n" : "\n";
  const words = (verb: string, args: string[]) =>
    " ".repeat(l.lead) + [verb, ...args].join(" ".repeat(l.gap));
  let head: string;
  let body: Uint8Array | null = null;
  let expected: Normal[];
  switch (s.kind) {
    case "blank":
      head = " ".repeat(s.spaces);
      expected = [];
      break;
    case "line":
      head = words(s.verb, s.args);
      expected = [{
        type: "frame",
        verb: s.verb.toUpperCase(),
        args: s.args,
        payload: null,
        badText: false,
      }];
      break;
    case "inline":
      head = words(s.verb, s.args) + " :" + s.text;
      expected = [{
        type: "frame",
        verb: s.verb.toUpperCase(),
        args: s.args,
        payload: [...utf8.encode(s.text)],
        badText: false,
      }];
      break;
    case "sized":
    case "stream": {
      head = words(s.verb, [...s.args, "0".repeat(s.zeros) + s.payload.length]);
      body = s.payload;
      const verb = s.verb.toUpperCase();
      expected = s.kind === "sized"
        ? [{ type: "frame", verb, args: s.args, payload: [...s.payload], badText: false }]
        : [
          { type: "stream", verb, args: s.args, size: s.payload.length, badText: false },
          ...(s.payload.length > 0 ? [{ type: "data" as const, bytes: [...s.payload] }] : []),
          { type: "end" },
        ];
      break;
    }
  }
  const headBytes = utf8.encode(head + eol);
  const parts: Uint8Array[] = [headBytes];
  if (body !== null) parts.push(body, utf8.encode(eol));
  return { bytes: concat(parts), line: headBytes.length - eol.length, expected };
}

Deno.test("random valid client frames decode to themselves at random chunk splits", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(spec, layout), { minLength: 1, maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      fc.nat(3),
      fc.nat(3),
      (frames, cuts, lineSlack, payloadSlack) => {
        const encoded = frames.map(([s, l]) => encodeSpec(s, l));
        const bytes = concat(encoded.map((e) => e.bytes));
        const expected = encoded.flatMap((e) => e.expected);
        // Limits just above what the frames need: the exact boundary is hit often.
        const maxLine = Math.max(0, ...encoded.map((e) => e.line)) + lineSlack;
        const maxPayload = Math.max(
          0,
          ...frames.map(([s]) => (s.kind === "sized" ? s.payload.length : 0)),
        ) + payloadSlack;
        const options = { maxLine, maxPayload };
        assert.deepEqual(feed(cut(bytes, cuts), options).events, expected);
        // One byte at a time too, for short inputs.
        if (bytes.length <= 400) {
          const bytewise = Array.from({ length: bytes.length }, (_, i) => bytes.subarray(i, i + 1));
          assert.deepEqual(feed(bytewise, options).events, expected);
        }
      },
    ),
    params(300),
  );
});

Deno.test("random server frames built by the encoder decode to themselves at random splits", () => {
  const room = fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/);
  const nick = fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/);
  const frameArb = fc.oneof(
    fc.tuple(room, nick, payload).map(([r, n, p]) => ({
      bytes: encodeFrame(`MSG ${r} ${n}`, p),
      expected: [{
        type: "frame",
        verb: "MSG",
        args: [r, n],
        payload: [...p],
        badText: false,
      }] as Normal[],
    })),
    fc.tuple(nick, payload).map(([n, p]) => ({
      bytes: encodeFrame(`DM ${n}`, p),
      expected: [{
        type: "frame",
        verb: "DM",
        args: [n],
        payload: [...p],
        badText: false,
      }] as Normal[],
    })),
    fc.string({ unit: "grapheme", maxLength: 200 }).map((t) => ({
      bytes: encodeTextFrame("WHO", t),
      expected: [{
        type: "frame",
        verb: "WHO",
        args: [],
        payload: [...utf8.encode(t)],
        badText: false,
      }] as Normal[],
    })),
    fc.tuple(fc.integer({ min: 400, max: 599 }), inlineText).map(([c, t]) => ({
      bytes: encodeError(c, t),
      expected: [{
        type: "frame",
        verb: "ERR",
        args: [String(c), ...t.split(" ").filter((w) => w !== "")],
        payload: null,
        badText: false,
      }] as Normal[],
    })),
    fc.tuple(fc.string({ unit: "grapheme", minLength: 1, maxLength: 20 }), payload).map(
      ([path, p]) => {
        const wire = encodePath(path);
        const head = `FILE ${wire} ${p.length} ${"ab".repeat(32)}`;
        return {
          bytes: concat([encodeLine(`${head} ${p.length}`), p, utf8.encode("\r\n")]),
          expected: [
            {
              type: "stream",
              verb: "FILE",
              args: [wire, String(p.length), "ab".repeat(32)],
              size: p.length,
              badText: false,
            },
            ...(p.length > 0 ? [{ type: "data" as const, bytes: [...p] }] : []),
            { type: "end" },
          ] as Normal[],
        };
      },
    ),
    fc.constantFrom("PONG", "OK 3", "PING", "BYE slow consumer", "JOINED ops bob").map((t) => ({
      bytes: encodeLine(t),
      expected: [{
        type: "frame",
        verb: t.split(" ")[0]!,
        args: t.split(" ").slice(1),
        payload: null,
        badText: false,
      }] as Normal[],
    })),
  );
  fc.assert(
    fc.property(
      fc.array(frameArb, { minLength: 1, maxLength: 10 }),
      fc.array(fc.nat(), { maxLength: 20 }),
      (frames, cuts) => {
        const bytes = concat(frames.map((f) => f.bytes));
        const options = { payloads: SERVER_PAYLOADS, maxLine: 4096, maxPayload: 1 << 20 };
        assert.deepEqual(feed(cut(bytes, cuts), options).events, frames.flatMap((f) => f.expected));
      },
    ),
    params(300),
  );
});

// ---------------------------------------------------------------------------------------------
// Random bytes

/** Pieces that steer random input into the decoder's interesting states. */
const hostilePiece = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      "SAY ",
      "say ",
      "TELL ",
      "PUT ",
      "MSG ",
      "FILE ",
      "WHO ",
      "lobby ",
      " :",
      ":",
      " ",
      "  ",
      "\r\n",
      "\n",
      "\r",
      "\r\r\n",
      "0",
      "1",
      "5",
      "17",
      "255",
      "000000000000003",
      "999999999999999",
      "9999999999999999",
      "123456789012345678901234567890",
      "-1",
      "1e3",
      "0x10",
      "\xff",
      "\u00e9",
    ).map((s) => (s === "\xff" ? new Uint8Array([0xff, 0xfe]) : utf8.encode(s))),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      [0xc3, 0x28],
      [0xed, 0xa0, 0x80],
      [0xc0, 0xaf],
      [0xf4, 0x90, 0x80, 0x80],
      [0x00],
      [0xe2, 0x82],
    ).map((b) => new Uint8Array(b)),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 600 }).map((n) => new Uint8Array(n).fill(0x61)),
  },
);
const hostileBytes = fc.array(hostilePiece, { maxLength: 40 }).map(concat);
const limits = fc.record({
  maxLine: fc.integer({ min: 0, max: 300 }),
  maxPayload: fc.integer({ min: 0, max: 400 }),
  maxStream: fc.integer({ min: 0, max: 600 }),
  server: fc.boolean(),
});

function optionsOf(
  l: { maxLine: number; maxPayload: number; maxStream: number; server: boolean },
): DecoderOptions {
  const payloads: ReadonlyMap<string, PayloadKind> = l.server ? SERVER_PAYLOADS : CLIENT_PAYLOADS;
  return { maxLine: l.maxLine, maxPayload: l.maxPayload, maxStream: l.maxStream, payloads };
}

Deno.test("random bytes never throw, never loop, and never buffer or allocate past the limits", () => {
  fc.assert(
    fc.property(hostileBytes, fc.array(fc.nat(), { maxLength: 30 }), limits, (bytes, cuts, l) => {
      const options = optionsOf(l);
      const report = feed(cut(bytes, cuts), options);
      assert.ok(report.worstEventsOverBytes <= 1, "more events than bytes pushed");
      // What stays buffered between chunks is at most a partial line (its CR may follow).
      assert.ok(
        report.maxBuffered <= l.maxLine + 1,
        `buffered ${report.maxBuffered} > max_line + 1`,
      );
      const bound = Math.max(l.maxLine + 2, l.maxPayload);
      assert.ok(
        report.largestAllocation <= bound,
        `allocated ${report.largestAllocation} bytes, bound ${bound}`,
      );
    }),
    params(1000),
  );
});

Deno.test("random bytes decode to the same events whatever the chunk splits", () => {
  fc.assert(
    fc.property(hostileBytes, fc.array(fc.nat(), { maxLength: 30 }), limits, (bytes, cuts, l) => {
      const options = optionsOf(l);
      assert.deepEqual(feed(cut(bytes, cuts), options).events, feed([bytes], options).events);
    }),
    params(500),
  );
});

Deno.test("a byte count past the limit is refused from the control line alone, before any payload byte", () => {
  fc.assert(
    fc.property(
      fc.constantFrom("SAY lobby", "TELL bob", "PUT a.txt"),
      fc.integer({ min: 0, max: 1 << 20 }),
      fc.integer({ min: 1, max: 1 << 30 }),
      fc.boolean(),
      (head, limit, over, huge) => {
        const count = huge ? "9".repeat(16 + (over % 40)) : String(limit + over);
        const options = { maxPayload: limit, maxStream: limit };
        const report = feed([utf8.encode(`${head} ${count}\r\n`)], options);
        assert.equal(report.events.length, 1);
        const [e] = report.events;
        assert.ok(e?.type === "error" && e.code === 413 && e.fatal, JSON.stringify(e));
        assert.ok(report.largestAllocation < 64, `allocated ${report.largestAllocation} bytes`);
      },
    ),
    params(300),
  );
});

Deno.test("a decoder dead after a fatal error stays dead whatever comes next", () => {
  fc.assert(
    fc.property(hostileBytes, limits, (more, l) => {
      const d = new Decoder({ ...optionsOf(l), maxLine: 64, payloads: CLIENT_PAYLOADS });
      d.push(utf8.encode(`SAY lobby -1\r\n`));
      const first = d.next();
      assert.ok(first?.type === "error" && first.error.code === 400);
      d.push(more);
      assert.equal(d.next(), undefined);
      assert.ok(d.dead);
    }),
    params(200),
  );
});

// ---------------------------------------------------------------------------------------------
// Small codecs

Deno.test("encodePath then decodePath gives the path back, and the wire form is plain ASCII", () => {
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), (path) => {
      const wire = encodePath(path);
      // deno-lint-ignore no-control-regex
      assert.ok(!/[\x00-\x20\x7f-\uffff]/.test(wire), `wire form ${JSON.stringify(wire)}`);
      assert.ok(!/%(?![0-9A-F]{2})/.test(wire), "every % starts an escape");
      assert.equal(decodePath(wire), path);
    }),
    params(500),
  );
});

Deno.test("decodePath never throws: any text gives a string or null", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.constantFrom("%", "%2", "%zz", "%ff", "%C3", "%A9", "%00", "/", "a"),
          fc.string({ maxLength: 4 }),
        ),
        {
          maxLength: 20,
        },
      ).map((a) => a.join("")),
      (text) => {
        const out = decodePath(text);
        assert.ok(out === null || typeof out === "string");
        if (out !== null) assert.equal(decodePath(encodePath(out)), out);
      },
    ),
    params(500),
  );
});

Deno.test("utf8Length counts what TextEncoder writes, lone surrogates included", () => {
  fc.assert(
    fc.property(
      fc.string({ unit: "binary", maxLength: 50 }),
      fc.array(fc.integer({ min: 0xd800, max: 0xdfff }), { maxLength: 3 }),
      (s, lone) => {
        const text = s + String.fromCharCode(...lone) + s;
        assert.equal(utf8Length(text), utf8.encode(text).length);
      },
    ),
    params(500),
  );
});
