import assert from "node:assert/strict";
import { copyEvent, decodeAll, Decoder, type DecoderOptions } from "./decoder.ts";
import { ErrorCode, ProtocolError } from "./errors.ts";
import type { DecodeEvent } from "./frame.ts";
import { CLIENT_PAYLOADS, SERVER_PAYLOADS } from "./verbs.ts";
import { bytes, prng } from "../../tests/helpers/bytes.ts";

// ---------------------------------------------------------------------------------------------
// Helpers

const utf8 = new TextEncoder();

/** A comparable event: errors reduced to their code and fatality, data events merged. */
type Normal =
  | { type: "frame"; verb: string; args: string[]; payload: Uint8Array | null; badText: boolean }
  | { type: "stream"; verb: string; args: string[]; size: number; badText: boolean }
  | { type: "data"; bytes: Uint8Array }
  | { type: "end" }
  | { type: "error"; code: number; fatal: boolean };

function frame(
  verb: string,
  args: string[],
  payload: string | number[] | Uint8Array | null = null,
  badText = false,
): Normal {
  return { type: "frame", verb, args, payload: payload === null ? null : bytes(payload), badText };
}

function stream(verb: string, args: string[], size: number, badText = false): Normal {
  return { type: "stream", verb, args, size, badText };
}

function data(...parts: (string | number[] | Uint8Array)[]): Normal {
  return { type: "data", bytes: bytes(...parts) };
}

const end: Normal = { type: "end" };

function fatal(code: number): Normal {
  return { type: "error", code, fatal: true };
}

/** Makes events comparable: plain objects, `data` pieces of one stream concatenated. */
function normalize(events: DecodeEvent[]): Normal[] {
  const out: Normal[] = [];
  for (const e of events) {
    switch (e.type) {
      case "frame":
        out.push({
          type: "frame",
          verb: e.verb,
          args: [...e.args],
          payload: e.payload === null ? null : e.payload.slice(),
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
        assert.ok(e.bytes.length > 0, "a data event carries at least one byte");
        const last = out.at(-1);
        if (last?.type === "data") out[out.length - 1] = data(last.bytes, e.bytes);
        else out.push(data(e.bytes));
        break;
      }
      case "end":
        out.push(end);
        break;
      case "error":
        assert.ok(e.error instanceof ProtocolError, "an error event carries a ProtocolError");
        out.push({ type: "error", code: e.error.code, fatal: e.error.fatal });
        break;
    }
  }
  return out;
}

interface FeedOptions {
  /** Copy every piece into one shared buffer, then scribble over it after the piece is drained. */
  reuse?: boolean;
}

/** Feeds chunks the way a connection does: push, call next() until undefined, repeat. */
function feed(
  chunks: Uint8Array[],
  options: DecoderOptions = {},
  feedOptions: FeedOptions = {},
): DecodeEvent[] {
  const decoder = new Decoder(options);
  const events: DecodeEvent[] = [];
  const shared = new Uint8Array(
    feedOptions.reuse ? Math.max(0, ...chunks.map((c) => c.length)) : 0,
  );
  for (const chunk of chunks) {
    let piece = chunk;
    if (feedOptions.reuse) {
      shared.set(chunk);
      piece = shared.subarray(0, chunk.length);
    }
    decoder.push(piece);
    for (let e = decoder.next(); e !== undefined; e = decoder.next()) events.push(copyEvent(e));
    if (feedOptions.reuse) shared.fill(0xaa);
  }
  return events;
}

/** Cuts `input` at the given sorted positions. */
function cut(input: Uint8Array, positions: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let from = 0;
  for (const at of positions) {
    out.push(input.subarray(from, at));
    from = at;
  }
  out.push(input.subarray(from));
  return out;
}

function randomCuts(length: number, random: () => number): number[] {
  const count = Math.floor(random() * Math.min(length, 12)) + 1;
  const set = new Set<number>();
  for (let i = 0; i < count; i++) set.add(Math.floor(random() * (length + 1)));
  return [...set].sort((a, b) => a - b);
}

/** Every way the brief asks a decoder to be fed, each named for the failure message. */
function* splits(input: Uint8Array, seed: number): Generator<[string, Uint8Array[]]> {
  yield ["whole", [input]];
  yield ["one byte at a time", cut(input, Array.from({ length: input.length }, (_, i) => i + 1))];
  for (let i = 0; i <= input.length; i++) yield [`split at ${i}`, cut(input, [i])];
  const random = prng(seed);
  for (let i = 0; i < 200; i++) {
    const positions = randomCuts(input.length, random);
    yield [`random split ${i} at ${positions.join(",")}`, cut(input, positions)];
  }
}

/** Asserts that every way of feeding `input`, fresh or into a reused buffer, gives `expected`. */
function assertAllSplits(
  input: Uint8Array,
  expected: Normal[],
  options: DecoderOptions = {},
  seed = 1,
): void {
  for (const [how, chunks] of splits(input, seed)) {
    for (const reuse of [false, true]) {
      let events: DecodeEvent[];
      try {
        events = feed(chunks, options, { reuse });
      } catch (error) {
        throw new Error(`Decoder threw when fed ${how}${reuse ? " (reused buffer)" : ""}`, {
          cause: error,
        });
      }
      assert.deepEqual(
        normalize(events),
        expected,
        `fed ${how}${reuse ? " (reused buffer)" : ""}`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Valid input: the same frames at every split

interface Case {
  name: string;
  input: Uint8Array;
  expected: Normal[];
  options?: DecoderOptions;
}

const SHA = "a".repeat(64);
const WHO_JSON = '[{"nick":"a","rooms":["lobby"],"since":1}]';
const BINARY = [0, 10, 13, 10, 255, 254, 13, 13, 10, 0x80, 0x3a, 0x20];

const VALID: Case[] = [
  {
    name: "a plain line ending in LF",
    input: bytes("PING\n"),
    expected: [frame("PING", [])],
  },
  {
    name: "a plain line ending in CRLF",
    input: bytes("PING\r\n"),
    expected: [frame("PING", [])],
  },
  {
    name: "lines mixing LF and CRLF",
    input: bytes("NICK alice\r\nJOIN ops\nWHO ops\r\nROOMS\n"),
    expected: [
      frame("NICK", ["alice"]),
      frame("JOIN", ["ops"]),
      frame("WHO", ["ops"]),
      frame("ROOMS", []),
    ],
  },
  {
    name: "leading, multiple and trailing spaces",
    input: bytes("   JOIN    ops  \r\n  GET  a.txt   100 \n"),
    expected: [frame("JOIN", ["ops"]), frame("GET", ["a.txt", "100"])],
  },
  {
    name: "empty and blank lines, which it ignores",
    input: bytes("\n\r\n\n   \n \r\nPING\n\n\r\nPING\r\n\r\n"),
    expected: [frame("PING", []), frame("PING", [])],
  },
  {
    name: "lowercase and mixed-case verbs, upper-casing them",
    input: bytes("ping\nNiCk Bob\nsay lobby :hi\nput a.txt 1\nx\n"),
    expected: [
      frame("PING", []),
      frame("NICK", ["Bob"]),
      frame("SAY", ["lobby"], "hi"),
      stream("PUT", ["a.txt"], 1),
      data("x"),
      end,
    ],
  },
  {
    name: "UTF-8 arguments",
    input: bytes("NICK héllo\nJOIN 日本語\n"),
    expected: [frame("NICK", ["héllo"]), frame("JOIN", ["日本語"])],
  },
  {
    name: "a sized SAY ending in LF",
    input: bytes("SAY lobby 5\nhello\n"),
    expected: [frame("SAY", ["lobby"], "hello")],
  },
  {
    name: "a sized SAY ending in CRLF",
    input: bytes("SAY lobby 5\r\nhello\r\n"),
    expected: [frame("SAY", ["lobby"], "hello")],
  },
  {
    name: "a sized SAY of 0 bytes",
    input: bytes("SAY lobby 0\r\n\r\nSAY lobby 0\n\nPING\n"),
    expected: [frame("SAY", ["lobby"], ""), frame("SAY", ["lobby"], ""), frame("PING", [])],
  },
  {
    name: "a sized SAY whose payload holds LF, CR, NUL and non-UTF-8 bytes",
    input: bytes(`SAY lobby ${BINARY.length}\r\n`, BINARY, "\r\nPING\n"),
    expected: [frame("SAY", ["lobby"], BINARY), frame("PING", [])],
  },
  {
    name: "a sized payload that ends in CR, then CRLF",
    input: bytes("SAY lobby 1\r\n\r\r\n"),
    expected: [frame("SAY", ["lobby"], [13])],
  },
  {
    name: "a sized payload that looks like control lines",
    input: bytes("SAY lobby 14\nPING\nSAY x 99\n\nPING\n"),
    expected: [frame("SAY", ["lobby"], "PING\nSAY x 99\n"), frame("PING", [])],
  },
  {
    name: "a byte count with leading zeros",
    input: bytes("SAY lobby 005\nhello\n"),
    expected: [frame("SAY", ["lobby"], "hello")],
  },
  {
    name: "a sized TELL",
    input: bytes("TELL bob 3\r\nhey\r\n"),
    expected: [frame("TELL", ["bob"], "hey")],
  },
  {
    name: "an inline SAY with spaces and colons in its text",
    input: bytes("SAY lobby :hello world: a:b :c  d \r\n"),
    expected: [frame("SAY", ["lobby"], "hello world: a:b :c  d ")],
  },
  {
    name: "an inline SAY after several spaces, keeping the text's own spaces",
    input: bytes("SAY   lobby    :  two spaces\n"),
    expected: [frame("SAY", ["lobby"], "  two spaces")],
  },
  {
    name: "an inline SAY with empty text",
    input: bytes("SAY lobby :\n"),
    expected: [frame("SAY", ["lobby"], "")],
  },
  {
    name: "an inline SAY with UTF-8 text",
    input: bytes("SAY lobby :héllo 😀 日本\n"),
    expected: [frame("SAY", ["lobby"], "héllo 😀 日本")],
  },
  {
    name: "an inline SAY whose text looks like a byte count",
    input: bytes("SAY lobby :5\nPING\n"),
    expected: [frame("SAY", ["lobby"], "5"), frame("PING", [])],
  },
  {
    name: "an inline TELL",
    input: bytes("TELL Bob :are you there? yes: no\n"),
    expected: [frame("TELL", ["Bob"], "are you there? yes: no")],
  },
  {
    name: "SAY with no payload, as a frame with a null payload",
    input: bytes("SAY lobby\nSAY\nPING\n"),
    expected: [frame("SAY", ["lobby"]), frame("SAY", []), frame("PING", [])],
  },
  {
    name: "verbs without payloads whatever their last argument looks like",
    input: bytes("JOIN lobby 5\nNICK :bob\nGET a.txt 3\nPING\n"),
    expected: [
      frame("JOIN", ["lobby", "5"]),
      frame("NICK", [":bob"]),
      frame("GET", ["a.txt", "3"]),
      frame("PING", []),
    ],
  },
  {
    name: "a streamed PUT",
    input: bytes("PUT my%20notes.txt 11\r\nhello world\r\nPING\n"),
    expected: [stream("PUT", ["my%20notes.txt"], 11), data("hello world"), end, frame("PING", [])],
  },
  {
    name: "a streamed PUT with a sha256",
    input: bytes(`PUT a.bin ${SHA} 3\nabc\n`),
    expected: [stream("PUT", ["a.bin", SHA], 3), data("abc"), end],
  },
  {
    name: "a streamed PUT of 0 bytes",
    input: bytes("PUT empty 0\r\n\r\nPUT empty 0\n\n"),
    expected: [stream("PUT", ["empty"], 0), end, stream("PUT", ["empty"], 0), end],
  },
  {
    name: "a streamed PUT of binary bytes with LF and CR inside",
    input: bytes(`PUT b.bin ${BINARY.length}\n`, BINARY, "\r\n", `PUT c.bin 2\n`, [13, 10], "\n"),
    expected: [
      stream("PUT", ["b.bin"], BINARY.length),
      data(BINARY),
      end,
      stream("PUT", ["c.bin"], 2),
      data([13, 10]),
      end,
    ],
  },
  {
    name: "frames of every kind back to back",
    input: bytes(
      "NICK alice\r\n",
      "SAY lobby :hi all\r\n",
      "SAY lobby 2\r\nok\r\n",
      "PUT f 4\r\n",
      [0, 1, 2, 3],
      "\r\n",
      "TELL bob :x\n",
      "\n",
      "QUIT\r\n",
    ),
    expected: [
      frame("NICK", ["alice"]),
      frame("SAY", ["lobby"], "hi all"),
      frame("SAY", ["lobby"], "ok"),
      stream("PUT", ["f"], 4),
      data([0, 1, 2, 3]),
      end,
      frame("TELL", ["bob"], "x"),
      frame("QUIT", []),
    ],
  },
  {
    name: "server frames with SERVER_PAYLOADS: HELLO, OK, MSG, DM, WHO, ROOMS, LIST, HELP",
    options: { payloads: SERVER_PAYLOADS },
    input: bytes(
      'HELLO {"server":"switchboard","proto":1,"nick":"guest-7"}\r\n',
      "OK 3\r\n",
      "MSG lobby alice 5\r\nhello\r\n",
      "DM bob 3\r\n",
      [0, 10, 13],
      "\r\n",
      `WHO ${WHO_JSON.length}\r\n${WHO_JSON}\r\n`,
      "ROOMS 2\r\n[]\r\n",
      "LIST 0\r\n\r\n",
      "HELP 12\r\nPING\r\nQUIT\r\n\r\n",
      "PING\r\n",
    ),
    expected: [
      frame("HELLO", ['{"server":"switchboard","proto":1,"nick":"guest-7"}']),
      frame("OK", ["3"]),
      frame("MSG", ["lobby", "alice"], "hello"),
      frame("DM", ["bob"], [0, 10, 13]),
      frame("WHO", [], WHO_JSON),
      frame("ROOMS", [], "[]"),
      frame("LIST", [], ""),
      frame("HELP", [], "PING\r\nQUIT\r\n"),
      frame("PING", []),
    ],
  },
  {
    name: "a streamed FILE with SERVER_PAYLOADS",
    options: { payloads: SERVER_PAYLOADS },
    input: bytes(`FILE a%20b.bin 12 ${SHA} 6\r\n`, [1, 10, 13, 10, 0, 255], "\r\nOK a%20b.bin\r\n"),
    expected: [
      stream("FILE", ["a%20b.bin", "12", SHA], 6),
      data([1, 10, 13, 10, 0, 255]),
      end,
      frame("OK", ["a%20b.bin"]),
    ],
  },
  {
    name: "client verbs as plain lines with SERVER_PAYLOADS",
    options: { payloads: SERVER_PAYLOADS },
    input: bytes("SAY lobby 5\r\nPUT a 1\r\n"),
    expected: [frame("SAY", ["lobby", "5"]), frame("PUT", ["a", "1"])],
  },
  {
    name: "a line of exactly maxLine bytes, with LF and with CRLF",
    options: { maxLine: 16 },
    input: bytes("NICK abcdefghijk\nNICK abcdefghijk\r\nSAY :abcdefghijk\n"),
    expected: [
      frame("NICK", ["abcdefghijk"]),
      frame("NICK", ["abcdefghijk"]),
      frame("SAY", [], "abcdefghijk"),
    ],
  },
  {
    name: "a payload of exactly maxPayload bytes",
    options: { maxPayload: 8 },
    input: bytes("SAY lobby 8\n12345678\nSAY lobby :123456789\n"),
    // The inline form is bounded by maxLine, not maxPayload.
    expected: [frame("SAY", ["lobby"], "12345678"), frame("SAY", ["lobby"], "123456789")],
  },
  {
    name: "a stream of exactly maxStream bytes",
    options: { maxStream: 8 },
    input: bytes("PUT a 8\n12345678\n"),
    expected: [stream("PUT", ["a"], 8), data("12345678"), end],
  },
];

for (const [i, c] of VALID.entries()) {
  Deno.test(`Decoder decodes ${c.name} the same at every split`, () => {
    assertAllSplits(c.input, c.expected, c.options, 1000 + i);
  });
}

// ---------------------------------------------------------------------------------------------
// Invalid UTF-8: a frame flagged badText, never an error

const BAD_TEXT: Case[] = [
  {
    name: "a verb that is not UTF-8",
    input: bytes([0xff, 0x41], " x\nPING\n"),
    expected: [frame("\uFFFDA", ["x"], null, true), frame("PING", [])],
  },
  {
    name: "an argument that is not UTF-8",
    input: bytes("JOIN ", [0xc3, 0x28], "\nPING\n"),
    expected: [frame("JOIN", ["\uFFFD("], null, true), frame("PING", [])],
  },
  {
    name: "a truncated multi-byte character in an argument",
    input: bytes("NICK ab", [0xe6, 0x97], "\r\n"),
    expected: [frame("NICK", ["ab\uFFFD"], null, true)],
  },
  {
    name: "a sized SAY whose room is not UTF-8",
    input: bytes("SAY ", [0xfe], " 2\nhi\n"),
    expected: [frame("SAY", ["\uFFFD"], "hi", true)],
  },
  {
    name: "an inline SAY whose text is not UTF-8",
    input: bytes("SAY lobby :a", [0xff], "b\n"),
    expected: [frame("SAY", ["lobby"], bytes("a", [0xff], "b"), true)],
  },
  {
    name: "an inline SAY whose room is not UTF-8",
    input: bytes("SAY ", [0x80], " :hi\n"),
    expected: [frame("SAY", ["\uFFFD"], "hi", true)],
  },
  {
    name: "a PUT whose path is not UTF-8",
    input: bytes("PUT ", [0xed, 0xa0, 0x80], " 1\nx\n"),
    expected: [stream("PUT", ["\uFFFD\uFFFD\uFFFD"], 1, true), data("x"), end],
  },
];

for (const [i, c] of BAD_TEXT.entries()) {
  Deno.test(`Decoder flags ${c.name} with badText and goes on`, () => {
    assertAllSplits(c.input, c.expected, c.options, 2000 + i);
  });
}

// ---------------------------------------------------------------------------------------------
// Malformed input: a typed error event, and nothing after a fatal one

const MAX_LINE = 16;
const LONG = "NICK abcdefghijkl"; // maxLine + 1 bytes

const MALFORMED: Case[] = [
  {
    name: "a line of maxLine + 1 bytes ending in LF",
    options: { maxLine: MAX_LINE },
    input: bytes("PING\n", LONG, "\nPING\n"),
    expected: [frame("PING", []), fatal(ErrorCode.TooLarge)],
  },
  {
    name: "a line of maxLine + 1 bytes ending in CRLF",
    options: { maxLine: MAX_LINE },
    input: bytes(LONG, "\r\nPING\n"),
    expected: [fatal(ErrorCode.TooLarge)],
  },
  {
    name: "a line of maxLine bytes and two CRs",
    options: { maxLine: MAX_LINE },
    input: bytes("NICK abcdefghijk\r\r\n"),
    expected: [fatal(ErrorCode.TooLarge)],
  },
  {
    name: "a line of maxLine + 2 bytes with no final LF",
    options: { maxLine: MAX_LINE },
    input: bytes("PING\r\n", LONG, "x"),
    expected: [frame("PING", []), fatal(ErrorCode.TooLarge)],
  },
  {
    name: "a long line of spaces only",
    options: { maxLine: MAX_LINE },
    input: bytes(" ".repeat(40), "\n"),
    expected: [fatal(ErrorCode.TooLarge)],
  },
  {
    name: "an inline SAY longer than maxLine",
    options: { maxLine: MAX_LINE },
    input: bytes("SAY lobby :hello world\n"),
    expected: [fatal(ErrorCode.TooLarge)],
  },
  {
    name: "a negative byte count",
    input: bytes("SAY lobby -5\nhello\n"),
    expected: [fatal(ErrorCode.BadRequest)],
  },
  {
    name: "a byte count with a plus sign",
    input: bytes("SAY lobby +5\n"),
    expected: [fatal(ErrorCode.BadRequest)],
  },
  {
    name: "a PUT in the inline form",
    input: bytes("PUT a.txt :hello\n"),
    expected: [fatal(ErrorCode.BadRequest)],
  },
  {
    name: "a PUT with a byte count that is not a number",
    input: bytes("PUT a.txt big\n"),
    expected: [fatal(ErrorCode.BadRequest)],
  },
  {
    name: "a MSG with a byte count that is not a number, with SERVER_PAYLOADS",
    options: { payloads: SERVER_PAYLOADS },
    input: bytes("MSG lobby alice x\r\n"),
    expected: [fatal(ErrorCode.BadRequest)],
  },
  {
    name: "a byte count past maxPayload",
    options: { maxPayload: 8 },
    input: bytes("SAY lobby 9\n123456789\n"),
    expected: [fatal(ErrorCode.TooLarge)],
  },
  {
    name: "a byte count past the default max_payload",
    input: bytes("PING\nSAY lobby 1048577\n"),
    expected: [frame("PING", []), fatal(ErrorCode.TooLarge)],
  },
  {
    name: "a huge byte count",
    input: bytes("SAY lobby 99999999999999999999999999999999999999\n"),
    expected: [fatal(ErrorCode.TooLarge)],
  },
  {
    name: "a byte count of 400 digits",
    input: bytes(`TELL bob ${"9".repeat(400)}\n`),
    expected: [fatal(ErrorCode.TooLarge)],
  },
  {
    name: "a PUT past maxStream",
    options: { maxStream: 8 },
    input: bytes("PUT a 9\n123456789\n"),
    expected: [fatal(ErrorCode.TooLarge)],
  },
  {
    name: "a PUT with a huge byte count",
    input: bytes(`PUT a ${"1".repeat(30)}\n`),
    expected: [fatal(ErrorCode.TooLarge)],
  },
  {
    name: "a sized payload not followed by LF",
    input: bytes("SAY lobby 3\nhelloX\nPING\n"),
    expected: [fatal(ErrorCode.BadRequest)],
  },
  {
    name: "a sized payload followed by CR then not LF",
    input: bytes("SAY lobby 5\nhello\rX\n"),
    expected: [fatal(ErrorCode.BadRequest)],
  },
  {
    name: "a sized payload followed by two CRs",
    input: bytes("PING\nSAY lobby 5\r\nhello\r\r\nPING\n"),
    expected: [frame("PING", []), fatal(ErrorCode.BadRequest)],
  },
  {
    name: "a sized payload of 0 bytes followed by a control line",
    input: bytes("SAY lobby 0\nPING\n"),
    expected: [fatal(ErrorCode.BadRequest)],
  },
  {
    name: "a streamed payload not followed by LF",
    input: bytes("PUT a 3\nabcd\n"),
    expected: [stream("PUT", ["a"], 3), data("abc"), fatal(ErrorCode.BadRequest)],
  },
  {
    name: "a streamed payload followed by CR then not LF",
    input: bytes("PUT a 3\r\nabc\r\r\n"),
    expected: [stream("PUT", ["a"], 3), data("abc"), fatal(ErrorCode.BadRequest)],
  },
  {
    name: "a FILE payload not followed by LF, with SERVER_PAYLOADS",
    options: { payloads: SERVER_PAYLOADS },
    input: bytes(`FILE a 2 ${SHA} 2\r\nabc\r\n`),
    expected: [stream("FILE", ["a", "2", SHA], 2), data("ab"), fatal(ErrorCode.BadRequest)],
  },
];

for (const [i, c] of MALFORMED.entries()) {
  Deno.test(`Decoder rejects ${c.name} with a fatal error at every split`, () => {
    assertAllSplits(c.input, c.expected, c.options, 3000 + i);
  });
}

/**
 * Protocol 2: a text verb whose last argument is not a number at all (a character other than
 * digits and one leading sign) announced no payload, so framing holds: the frame comes as a plain
 * line (the server answers it ERR 400 and goes on).
 */
const WORDS_FOR_A_COUNT: Case[] = [
  {
    name: "a word (SAY lobby hello)",
    input: bytes("SAY lobby hello\nPING\n"),
    expected: [frame("SAY", ["lobby", "hello"]), frame("PING", [])],
  },
  {
    name: "a TELL typed without its colon",
    input: bytes("PING\nTELL bob hi there\nPING\n"),
    expected: [frame("PING", []), frame("TELL", ["bob", "hi", "there"]), frame("PING", [])],
  },
  {
    name: "a count with a decimal point (1.5)",
    input: bytes("TELL bob 1.5\n"),
    expected: [frame("TELL", ["bob", "1.5"])],
  },
  {
    name: "a count in exponent form (1e3)",
    input: bytes("SAY lobby 1e3\n"),
    expected: [frame("SAY", ["lobby", "1e3"])],
  },
  {
    name: "a count in hex (0x10)",
    input: bytes("SAY lobby 0x10\n"),
    expected: [frame("SAY", ["lobby", "0x10"])],
  },
  {
    name: "a count of full-width digits",
    input: bytes("SAY lobby ５\n"),
    expected: [frame("SAY", ["lobby", "５"])],
  },
];

for (const [i, c] of WORDS_FOR_A_COUNT.entries()) {
  Deno.test(`Decoder reads ${c.name} as a plain line, framing kept, at every split`, () => {
    assertAllSplits(c.input, c.expected, c.options, 5000 + i);
  });
}

Deno.test("Decoder reports the code, fatality and a message in each ProtocolError", () => {
  const cases: [string, DecoderOptions, number][] = [
    ["SAY lobby +1\n", {}, 400],
    ["SAY lobby 9\n", { maxPayload: 8 }, 413],
    [`${"A".repeat(20)}\n`, { maxLine: 8 }, 413],
    ["SAY lobby 1\nab\n", {}, 400],
  ];
  for (const [input, options, code] of cases) {
    const events = decodeAll(utf8.encode(input), options);
    assert.equal(events.length, 1, input);
    const event = events[0]!;
    assert.equal(event.type, "error", input);
    if (event.type !== "error") continue;
    assert.ok(event.error instanceof ProtocolError);
    assert.ok(event.error instanceof Error);
    assert.equal(event.error.name, "ProtocolError");
    assert.equal(event.error.code, code, input);
    assert.equal(event.error.fatal, true, input);
    assert.ok(event.error.message.startsWith("Cannot "), event.error.message);
    assert.ok(!event.error.message.includes("\n"), event.error.message);
  }
});

Deno.test("Decoder keeps error messages short for a huge byte count", () => {
  const events = decodeAll(utf8.encode(`SAY lobby ${"9".repeat(5000)}\n`), { maxLine: 8000 });
  const event = events[0]!;
  assert.equal(event.type, "error");
  if (event.type === "error") assert.ok(event.error.message.length < 200, event.error.message);
});

Deno.test("Decoder returns undefined forever after a fatal error and push does not throw", () => {
  const decoder = new Decoder({ maxLine: 8 });
  decoder.push(utf8.encode("PING\nTHIS LINE IS FAR TOO LONG\nPING\n"));
  assert.equal(decoder.next()?.type, "frame");
  const error = decoder.next();
  assert.equal(error?.type, "error");
  assert.equal(decoder.dead, true);
  for (let i = 0; i < 5; i++) assert.equal(decoder.next(), undefined);
  for (const more of ["PING\n", "SAY lobby 2\nhi\n", "", "\n\n", "x"]) {
    decoder.push(utf8.encode(more));
    assert.equal(decoder.next(), undefined);
    assert.equal(decoder.next(), undefined);
  }
  assert.equal(decoder.dead, true);
});

Deno.test("Decoder stays alive after a non-fatal SAY with no payload", () => {
  const decoder = new Decoder();
  decoder.push(utf8.encode("SAY lobby\n"));
  const event = decoder.next();
  assert.deepEqual(normalize([event!]), [frame("SAY", ["lobby"])]);
  assert.equal(decoder.next(), undefined);
  assert.equal(decoder.dead, false);
  decoder.push(utf8.encode("SAY lobby :ok\n"));
  assert.deepEqual(normalize([decoder.next()!]), [frame("SAY", ["lobby"], "ok")]);
});

// ---------------------------------------------------------------------------------------------
// Bounds: checked before buffering

Deno.test("Decoder waits on a line of maxLine + 1 bytes with no LF, which may end in CR", () => {
  const decoder = new Decoder({ maxLine: MAX_LINE });
  decoder.push(utf8.encode(LONG));
  assert.equal(decoder.next(), undefined);
  assert.equal(decoder.dead, false);
  decoder.push(utf8.encode("\n"));
  const event = decoder.next();
  assert.equal(event?.type === "error" && event.error.code, ErrorCode.TooLarge);
});

Deno.test("Decoder fails a never-ending line as soon as it passes maxLine + 1 bytes", () => {
  for (const maxLine of [0, 1, 7, 16, 100]) {
    const decoder = new Decoder({ maxLine });
    for (let sent = 1; sent <= maxLine + 2; sent++) {
      decoder.push(Uint8Array.of(0x41));
      const event = decoder.next();
      if (sent <= maxLine + 1) {
        assert.equal(event, undefined, `maxLine ${maxLine}, ${sent} bytes`);
        assert.ok(decoder.buffered <= maxLine + 1, `buffered ${decoder.buffered}`);
      } else {
        assert.equal(event?.type, "error", `maxLine ${maxLine}, ${sent} bytes`);
        if (event?.type === "error") {
          assert.equal(event.error.code, ErrorCode.TooLarge);
          assert.equal(event.error.fatal, true);
        }
        assert.equal(decoder.buffered, 0);
      }
    }
  }
});

Deno.test("Decoder fails a never-ending line fed in chunks at the chunk that passes maxLine + 1", () => {
  const maxLine = 100;
  for (const size of [1, 3, 10, 33, 50, 101, 102, 1000]) {
    const decoder = new Decoder({ maxLine });
    const chunk = new Uint8Array(size).fill(0x61);
    let sent = 0;
    for (;;) {
      decoder.push(chunk);
      sent += size;
      const event = decoder.next();
      if (sent <= maxLine + 1) {
        assert.equal(event, undefined);
        assert.ok(decoder.buffered <= maxLine + 1);
        continue;
      }
      assert.equal(event?.type, "error", `chunks of ${size}, ${sent} bytes sent`);
      break;
    }
  }
});

Deno.test("Decoder fed a never-ending 10 MB line in 64 KiB chunks errors out on the first chunk", () => {
  const decoder = new Decoder();
  const chunk = new Uint8Array(64 * 1024).fill(0x78);
  const total = 10 * 1024 * 1024;
  let failedAt = -1;
  for (let sent = 0, i = 0; sent < total; sent += chunk.length, i++) {
    decoder.push(chunk);
    assert.ok(decoder.buffered <= 64 * 1024 + 4097);
    for (let e = decoder.next(); e !== undefined; e = decoder.next()) {
      assert.equal(failedAt, -1, "only one event");
      assert.equal(e.type, "error");
      if (e.type === "error") {
        assert.equal(e.error.code, ErrorCode.TooLarge);
        assert.equal(e.error.fatal, true);
      }
      failedAt = i;
    }
    if (!decoder.dead) assert.ok(decoder.buffered <= 4097, `buffered ${decoder.buffered}`);
  }
  assert.equal(failedAt, 0);
  assert.equal(decoder.dead, true);
});

Deno.test("Decoder fed a never-ending line in 1000-byte chunks buffers at most maxLine + 1 bytes", () => {
  const decoder = new Decoder();
  const chunk = new Uint8Array(1000).fill(0x78);
  let failedAt = -1;
  for (let i = 0; i < 10_000 && failedAt < 0; i++) {
    decoder.push(chunk);
    const event = decoder.next();
    if (event !== undefined) {
      assert.equal(event.type, "error");
      failedAt = i;
    }
    assert.ok(decoder.buffered <= 4097, `buffered ${decoder.buffered}`);
  }
  // 4 chunks are 4000 bytes, at most 4096 + a CR; the 5th passes the bound.
  assert.equal(failedAt, 4);
});

Deno.test("Decoder rejects a 10 MB line that arrives whole with its LF", () => {
  const input = new Uint8Array(10 * 1024 * 1024 + 1).fill(0x78);
  input[input.length - 1] = 10;
  assert.deepEqual(normalize(feed([input])), [fatal(ErrorCode.TooLarge)]);
});

Deno.test("Decoder rejects a byte count past max_payload before any payload arrives", () => {
  const decoder = new Decoder({ maxPayload: 1024 });
  decoder.push(utf8.encode("SAY lobby 1025\n"));
  const event = decoder.next();
  assert.equal(event?.type === "error" && event.error.code, ErrorCode.TooLarge);
  assert.equal(decoder.dead, true);
});

Deno.test("Decoder accepts a line of exactly maxLine bytes fed one byte at a time", () => {
  const line = "NICK " + "b".repeat(4091); // 4096 bytes
  for (const ending of ["\n", "\r\n"]) {
    const events = feed(cut(utf8.encode(line + ending), [...Array(4097).keys()].slice(1)));
    assert.deepEqual(normalize(events), [frame("NICK", ["b".repeat(4091)])]);
  }
});

// ---------------------------------------------------------------------------------------------
// Views and reused buffers

Deno.test("Decoder keeps a payload spanning chunks intact when the read buffer is reused", () => {
  const payload = new Uint8Array(300);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) & 0xff;
  const input = bytes("SAY lobby 300\r\n", payload, "\r\nSAY lobby :after\r\n");
  const buffer = new Uint8Array(64);
  const decoder = new Decoder();
  const events: DecodeEvent[] = [];
  for (let at = 0; at < input.length; at += buffer.length) {
    const piece = input.subarray(at, at + buffer.length);
    buffer.fill(0);
    buffer.set(piece);
    decoder.push(buffer.subarray(0, piece.length));
    for (let e = decoder.next(); e !== undefined; e = decoder.next()) events.push(copyEvent(e));
    buffer.fill(0xee); // the next read overwrites the buffer
  }
  assert.deepEqual(normalize(events), [
    frame("SAY", ["lobby"], payload),
    frame("SAY", ["lobby"], "after"),
  ]);
});

Deno.test("Decoder keeps a whole payload whose LF is in the next, reused chunk", () => {
  const buffer = new Uint8Array(32);
  const decoder = new Decoder();
  const events: DecodeEvent[] = [];
  for (const piece of ["SAY lobby 5\r\nhello", "\r", "\nPING\r\n"]) {
    const written = utf8.encodeInto(piece, buffer).written;
    decoder.push(buffer.subarray(0, written));
    for (let e = decoder.next(); e !== undefined; e = decoder.next()) events.push(copyEvent(e));
    buffer.fill(0x21);
  }
  assert.deepEqual(normalize(events), [frame("SAY", ["lobby"], "hello"), frame("PING", [])]);
});

Deno.test("Decoder keeps a control line spanning chunks intact when the read buffer is reused", () => {
  const buffer = new Uint8Array(4);
  const decoder = new Decoder();
  const events: DecodeEvent[] = [];
  const input = utf8.encode("NICK héllo-wörld\r\nSAY lobby :a b c\r\n");
  for (let at = 0; at < input.length; at += 4) {
    const piece = input.subarray(at, at + 4);
    buffer.set(piece);
    decoder.push(buffer.subarray(0, piece.length));
    for (let e = decoder.next(); e !== undefined; e = decoder.next()) events.push(copyEvent(e));
    buffer.fill(0);
  }
  assert.deepEqual(normalize(events), [
    frame("NICK", ["héllo-wörld"]),
    frame("SAY", ["lobby"], "a b c"),
  ]);
});

Deno.test("Decoder hands out a payload inside one chunk as a view, not a copy", () => {
  const input = utf8.encode("SAY lobby 5\nhello\nPUT a 3\nabc\n");
  const decoder = new Decoder();
  decoder.push(input);
  const say = decoder.next();
  assert.equal(say?.type, "frame");
  if (say?.type === "frame") {
    assert.equal(say.payload?.buffer, input.buffer);
    assert.equal(say.payload?.byteOffset, 12);
  }
  assert.equal(decoder.next()?.type, "stream");
  const chunk = decoder.next();
  assert.equal(chunk?.type, "data");
  if (chunk?.type === "data") assert.equal(chunk.bytes.buffer, input.buffer);
  assert.equal(decoder.next()?.type, "end");
  assert.equal(decoder.next(), undefined);
});

Deno.test("Decoder hands out stream data as pieces no larger than each chunk", () => {
  const decoder = new Decoder();
  const sizes: number[] = [];
  for (const piece of ["PUT a 10\nabc", "defg", "hij\n"]) {
    decoder.push(utf8.encode(piece));
    for (let e = decoder.next(); e !== undefined; e = decoder.next()) {
      if (e.type === "data") sizes.push(e.bytes.length);
    }
  }
  assert.deepEqual(sizes, [3, 4, 3]);
});

Deno.test("copyEvent copies payloads and stream data out of the chunk", () => {
  const input = utf8.encode("SAY lobby 2\nhi\nPUT a 2\nyo\n");
  const decoder = new Decoder();
  decoder.push(input);
  const copies: DecodeEvent[] = [];
  for (let e = decoder.next(); e !== undefined; e = decoder.next()) copies.push(copyEvent(e));
  input.fill(0);
  assert.deepEqual(normalize(copies), [
    frame("SAY", ["lobby"], "hi"),
    stream("PUT", ["a"], 2),
    data("yo"),
    end,
  ]);
});

// ---------------------------------------------------------------------------------------------
// API contract

Deno.test("Decoder.push throws when the previous chunk was not used up", () => {
  const decoder = new Decoder();
  decoder.push(utf8.encode("PING\nPING\n"));
  assert.equal(decoder.next()?.type, "frame");
  assert.throws(() => decoder.push(utf8.encode("PING\n")), Error);
});

Deno.test("Decoder accepts empty chunks anywhere", () => {
  const empty = new Uint8Array(0);
  const events = feed([empty, utf8.encode("SAY lobby 2\n"), empty, utf8.encode("hi"), empty]);
  assert.deepEqual(normalize(events), []);
  const more = feed([empty, utf8.encode("SAY lobby 2\n"), empty, utf8.encode("hi\n"), empty]);
  assert.deepEqual(normalize(more), [frame("SAY", ["lobby"], "hi")]);
});

Deno.test("Decoder rejects limits that are negative, fractional or not finite", () => {
  for (const bad of [-1, 1.5, NaN, Infinity]) {
    assert.throws(() => new Decoder({ maxLine: bad }), RangeError);
    assert.throws(() => new Decoder({ maxPayload: bad }), RangeError);
    assert.throws(() => new Decoder({ maxStream: bad }), RangeError);
  }
  new Decoder({ maxLine: 0, maxPayload: 0, maxStream: 0 });
});

Deno.test("Decoder uses CLIENT_PAYLOADS by default", () => {
  assert.deepEqual(
    normalize(decodeAll(utf8.encode("SAY lobby :a\nMSG lobby bob 1\n"))),
    normalize(decodeAll(utf8.encode("SAY lobby :a\nMSG lobby bob 1\n"), {
      payloads: CLIENT_PAYLOADS,
    })),
  );
  assert.deepEqual(normalize(decodeAll(utf8.encode("MSG lobby bob 1\n"))), [
    frame("MSG", ["lobby", "bob", "1"]),
  ]);
});

Deno.test("decodeAll returns events whose bytes outlive the input", () => {
  const input = utf8.encode("SAY lobby 3\nabc\nPUT p 2\nxy\n");
  const events = decodeAll(input);
  input.fill(0);
  assert.deepEqual(normalize(events), [
    frame("SAY", ["lobby"], "abc"),
    stream("PUT", ["p"], 2),
    data("xy"),
    end,
  ]);
});

// ---------------------------------------------------------------------------------------------
// Fuzz: random protocol-ish input never throws and never depends on how it is split

const TOKENS = [
  "SAY",
  "say",
  "TELL",
  "PUT",
  "PING",
  "MSG",
  "WHO",
  "FILE",
  "lobby",
  " ",
  " ",
  "  ",
  ":",
  " :",
  "\n",
  "\n",
  "\r\n",
  "\r",
  "0",
  "1",
  "3",
  "12",
  "99999999999999999",
  "x",
  "é",
  "\u{1F600}",
];

function randomInput(random: () => number): Uint8Array {
  const parts: (string | number[])[] = [];
  const count = Math.floor(random() * 24);
  for (let i = 0; i < count; i++) {
    if (random() < 0.1) parts.push([Math.floor(random() * 256)]);
    else parts.push(TOKENS[Math.floor(random() * TOKENS.length)]!);
  }
  return bytes(...parts);
}

for (const payloads of [CLIENT_PAYLOADS, SERVER_PAYLOADS]) {
  const side = payloads === CLIENT_PAYLOADS ? "CLIENT_PAYLOADS" : "SERVER_PAYLOADS";
  Deno.test(`Decoder never throws and ignores splits on random input with ${side}`, () => {
    const random = prng(payloads === CLIENT_PAYLOADS ? 42 : 43);
    const options: DecoderOptions = { maxLine: 24, maxPayload: 16, maxStream: 20, payloads };
    for (let n = 0; n < 400; n++) {
      const input = randomInput(random);
      const expected = normalize(feed([input], options));
      // At most one error, and it is the last event.
      const errors = expected.filter((e) => e.type === "error");
      assert.ok(errors.length <= 1);
      if (errors.length === 1) assert.equal(expected.at(-1)?.type, "error");
      for (let k = 0; k < 20; k++) {
        const chunks = cut(input, randomCuts(input.length, random));
        assert.deepEqual(normalize(feed(chunks, options, { reuse: k % 2 === 1 })), expected);
      }
    }
  });
}
