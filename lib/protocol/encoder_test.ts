import assert from "node:assert/strict";
import { copyEvent, decodeAll, Decoder } from "./decoder.ts";
import {
  decodePath,
  encodeError,
  encodeFrame,
  encodeLine,
  encodePath,
  encodeTextFrame,
  FrameBatch,
  utf8Length,
} from "./encoder.ts";
import type { DecodeEvent } from "./frame.ts";
import { CLIENT_PAYLOADS, SERVER_PAYLOADS } from "./verbs.ts";
import { prng } from "../../tests/helpers/bytes.ts";

const utf8 = new TextEncoder();
const text = new TextDecoder();

function randomInt(random: () => number, below: number): number {
  return Math.floor(random() * below);
}

function randomBytes(random: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = randomInt(random, 256);
  return out;
}

/** A random string of UTF-16 units: ASCII, Latin, CJK, emoji, and lone or paired surrogates. */
function randomString(random: () => number, length: number, wellFormed = false): string {
  let out = "";
  while (out.length < length) {
    const pick = randomInt(random, 9);
    if (pick <= 2) out += String.fromCharCode(randomInt(random, 0x80));
    else if (pick === 3) out += String.fromCharCode(0x80 + randomInt(random, 0x780));
    else if (pick === 4) out += String.fromCharCode(0x800 + randomInt(random, 0xd000 - 0x800));
    else if (pick === 5) out += String.fromCharCode(0xe000 + randomInt(random, 0x2000));
    else if (pick === 6) out += String.fromCodePoint(0x10000 + randomInt(random, 0x100000));
    else if (pick === 7) out += ["😀", "👍🏽", "🇫🇷", "é", "€", "\u{10FFFF}"][randomInt(random, 6)];
    else if (!wellFormed) out += String.fromCharCode(0xd800 + randomInt(random, 0x800));
  }
  return out;
}

function frames(events: DecodeEvent[]): unknown[] {
  const out: unknown[] = [];
  for (const e of events) {
    if (e.type === "frame") {
      out.push({ verb: e.verb, args: e.args, payload: e.payload && [...e.payload] });
    } else if (e.type === "data") {
      const last = out.at(-1) as { data?: number[] } | undefined;
      if (last?.data) last.data.push(...e.bytes);
      else out.push({ data: [...e.bytes] });
    } else if (e.type === "error") {
      out.push({ error: e.error.code });
    } else out.push({ type: e.type });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// utf8Length

Deno.test("utf8Length counts ASCII, 2-, 3- and 4-byte characters", () => {
  const cases: [string, number][] = [
    ["", 0],
    ["a", 1],
    ["hello", 5],
    ["\x7f", 1],
    ["\x80", 2],
    ["é", 2],
    ["\u07ff", 2],
    ["\u0800", 3],
    ["€", 3],
    ["日本語", 9],
    ["\uffff", 3],
    ["😀", 4],
    ["\u{10FFFF}", 4],
    ["héllo 😀", 11],
    ["👍🏽", 8],
  ];
  for (const [input, length] of cases) {
    assert.equal(utf8Length(input), length, JSON.stringify(input));
    assert.equal(utf8Length(input), utf8.encode(input).length, JSON.stringify(input));
  }
});

Deno.test("utf8Length counts a lone surrogate as the 3 bytes of U+FFFD", () => {
  for (
    const input of [
      "\ud800",
      "\udbff",
      "\udc00",
      "\udfff",
      "a\ud800",
      "\ud800a",
      "\udc00\ud800",
      "\ud800\ud800\udc00",
      "😀\ud83d",
      "\ude00😀",
    ]
  ) {
    assert.equal(utf8Length(input), utf8.encode(input).length, JSON.stringify(input));
  }
});

Deno.test("utf8Length agrees with TextEncoder on 2000 random strings", () => {
  const random = prng(7);
  for (let i = 0; i < 2000; i++) {
    const input = randomString(random, randomInt(random, 40));
    assert.equal(utf8Length(input), utf8.encode(input).length, JSON.stringify(input));
  }
});

// ---------------------------------------------------------------------------------------------
// encodeLine, encodeFrame, encodeTextFrame

Deno.test("encodeLine writes the text then CRLF", () => {
  assert.deepEqual(encodeLine("PONG"), utf8.encode("PONG\r\n"));
  assert.deepEqual(encodeLine(""), utf8.encode("\r\n"));
  assert.deepEqual(encodeLine("OK héllo 😀"), utf8.encode("OK héllo 😀\r\n"));
});

Deno.test("encodeLine matches TextEncoder on random strings, lone surrogates included", () => {
  const random = prng(8);
  for (let i = 0; i < 500; i++) {
    const line = randomString(random, randomInt(random, 30)).replace(/[\r\n]/g, "");
    const out = encodeLine(line);
    assert.deepEqual(out, utf8.encode(line + "\r\n"), JSON.stringify(line));
  }
});

Deno.test("encodeFrame writes the head, the byte count, the payload and CRLF", () => {
  assert.equal(text.decode(encodeFrame("SAY lobby", utf8.encode("hi"))), "SAY lobby 2\r\nhi\r\n");
  assert.equal(
    text.decode(encodeFrame("MSG lobby bob", new Uint8Array(0))),
    "MSG lobby bob 0\r\n\r\n",
  );
  assert.deepEqual(
    encodeFrame("DM é", Uint8Array.of(0, 10, 13, 255)),
    Uint8Array.of(...utf8.encode("DM é 4\r\n"), 0, 10, 13, 255, 13, 10),
  );
});

Deno.test("encodeFrame counts bytes, not characters, of a UTF-8 payload", () => {
  const out = encodeTextFrame("MSG lobby alice", "héllo 😀");
  assert.equal(text.decode(out), "MSG lobby alice 11\r\nhéllo 😀\r\n");
});

Deno.test("encodeTextFrame writes a JSON reply", () => {
  assert.equal(text.decode(encodeTextFrame("WHO", "[]")), "WHO 2\r\n[]\r\n");
  assert.equal(text.decode(encodeTextFrame("HELP", "")), "HELP 0\r\n\r\n");
});

Deno.test("encodeFrame round-trips through Decoder with SERVER_PAYLOADS", () => {
  const random = prng(9);
  const heads: [string, string, string[]][] = [
    ["MSG lobby alice", "MSG", ["lobby", "alice"]],
    ["DM bob", "DM", ["bob"]],
    ["WHO", "WHO", []],
    ["ROOMS", "ROOMS", []],
    ["LIST", "LIST", []],
    ["HELP", "HELP", []],
    ["MSG héllo wörld", "MSG", ["héllo", "wörld"]],
  ];
  for (let i = 0; i < 300; i++) {
    const [head, verb, args] = heads[i % heads.length]!;
    const payload = randomBytes(random, randomInt(random, i % 10 === 0 ? 5000 : 64));
    const wire = encodeFrame(head, payload);
    const expected = [{ verb, args, payload: [...payload] }];
    assert.deepEqual(frames(decodeAll(wire, { payloads: SERVER_PAYLOADS })), expected, head);
    // And in random pieces, with another frame after it.
    const decoder = new Decoder({ payloads: SERVER_PAYLOADS });
    const input = Uint8Array.of(...wire, ...encodeLine("PING"));
    const events: DecodeEvent[] = [];
    for (let at = 0; at < input.length;) {
      const size = 1 + randomInt(random, 40);
      decoder.push(input.subarray(at, at + size));
      at += size;
      for (let e = decoder.next(); e !== undefined; e = decoder.next()) events.push(copyEvent(e));
    }
    assert.deepEqual(frames(events), [...expected, { verb: "PING", args: [], payload: null }]);
  }
});

Deno.test("encodeFrame of a FILE reply round-trips as a stream", () => {
  const payload = randomBytes(prng(10), 1000);
  const sha = "0".repeat(64);
  const path = encodePath("my notes/ünï.bin");
  const wire = encodeFrame(`FILE ${path} 5000 ${sha}`, payload);
  const events = decodeAll(wire, { payloads: SERVER_PAYLOADS });
  assert.deepEqual(frames(events), [{ type: "stream" }, { data: [...payload] }, { type: "end" }]);
  const start = events[0]!;
  assert.ok(start.type === "stream");
  assert.deepEqual(start.args, [path, "5000", sha]);
  assert.equal(start.size, 1000);
  assert.equal(decodePath(start.args[0]!), "my notes/ünï.bin");
});

Deno.test("encodeFrame of client commands round-trips through Decoder with CLIENT_PAYLOADS", () => {
  const random = prng(11);
  for (let i = 0; i < 100; i++) {
    const payload = randomBytes(random, randomInt(random, 200));
    const say = decodeAll(encodeFrame("SAY lobby", payload), { payloads: CLIENT_PAYLOADS });
    assert.deepEqual(frames(say), [{ verb: "SAY", args: ["lobby"], payload: [...payload] }]);
    const put = decodeAll(encodeFrame("PUT a%20b", payload), { payloads: CLIENT_PAYLOADS });
    assert.deepEqual(
      frames(put),
      payload.length === 0
        ? [{ type: "stream" }, { type: "end" }]
        : [{ type: "stream" }, { data: [...payload] }, { type: "end" }],
    );
  }
});

// ---------------------------------------------------------------------------------------------
// encodeError

Deno.test("encodeError writes ERR, the code and the text", () => {
  assert.equal(text.decode(encodeError(404, "No such room: ops")), "ERR 404 No such room: ops\r\n");
});

Deno.test("encodeError turns line breaks in the text into single spaces", () => {
  assert.equal(text.decode(encodeError(400, "a\nb\r\nc\rd\n\n\ne")), "ERR 400 a b c d e\r\n");
  assert.equal(text.decode(encodeError(500, "\r\n")), "ERR 500  \r\n");
});

Deno.test("encodeError never lets a random text break the line", () => {
  const random = prng(12);
  for (let i = 0; i < 500; i++) {
    let message = "";
    for (let k = randomInt(random, 20); k > 0; k--) {
      message += ["\n", "\r", "\r\n", "x", " ", "é", ":"][randomInt(random, 7)];
    }
    const out = encodeError(413, message);
    assert.equal(out.indexOf(10), out.length - 1, JSON.stringify(message));
    assert.equal(out.indexOf(13), out.length - 2, JSON.stringify(message));
    const events = decodeAll(out, { payloads: SERVER_PAYLOADS });
    assert.equal(events.length, 1);
    assert.ok(events[0]!.type === "frame" && events[0]!.verb === "ERR");
  }
});

// ---------------------------------------------------------------------------------------------
// encodePath and decodePath

Deno.test("encodePath escapes space, percent, control characters and non-ASCII", () => {
  assert.equal(encodePath("a b/é%.txt"), "a%20b/%C3%A9%25.txt");
  assert.equal(encodePath("my notes.txt"), "my%20notes.txt");
  assert.equal(encodePath("\t\n\r\0\x1f\x7f"), "%09%0A%0D%00%1F%7F");
  assert.equal(encodePath("😀"), "%F0%9F%98%80");
  assert.equal(encodePath(""), "");
});

Deno.test("encodePath leaves every other printable ASCII character as it is", () => {
  for (let c = 0x21; c < 0x7f; c++) {
    if (c === 0x25) continue;
    const char = String.fromCharCode(c);
    assert.equal(encodePath(char), char);
  }
});

Deno.test("encodePath output is printable ASCII with no spaces", () => {
  const random = prng(13);
  for (let i = 0; i < 500; i++) {
    const out = encodePath(randomString(random, randomInt(random, 30)));
    assert.match(out, /^[\x21-\x7e]*$/);
  }
});

Deno.test("decodePath decodes escapes in either case", () => {
  assert.equal(decodePath("my%20notes.txt"), "my notes.txt");
  assert.equal(decodePath("a%20b/%C3%A9%25.txt"), "a b/é%.txt");
  assert.equal(decodePath("%c3%a9"), "é");
  assert.equal(decodePath("%F0%9F%98%80"), "😀");
  assert.equal(decodePath("plain/path.txt"), "plain/path.txt");
  assert.equal(decodePath(""), "");
});

Deno.test("decodePath decodes only once", () => {
  assert.equal(decodePath("%2520"), "%20");
  assert.equal(decodePath("%252e%252e"), "%2e%2e");
});

Deno.test("decodePath keeps literal non-ASCII characters beside escapes", () => {
  assert.equal(decodePath("é%20😀"), "é 😀");
  assert.equal(decodePath("日本/%41😀x"), "日本/A😀x");
  assert.equal(decodePath("👍🏽%2F"), "👍🏽/");
});

Deno.test("decodePath returns null for a bad escape", () => {
  for (
    const bad of ["%", "%2", "a%", "%zz", "%g0", "%0g", "a%2x", "%%", "100%", "%%41", "% 20", "%+1"]
  ) {
    assert.equal(decodePath(bad), null, bad);
  }
});

Deno.test("decodePath returns null for escapes that are not UTF-8", () => {
  for (
    const bad of [
      "%FF",
      "%80",
      "%C3",
      "a%C3b",
      "%C3%28",
      "%E6%97",
      "%ED%A0%80", // a UTF-16 surrogate
      "%C0%AF", // overlong
      "%E0%80%AF", // overlong
      "%F4%90%80%80", // past U+10FFFF
      "%F8%88%80%80%80",
    ]
  ) {
    assert.equal(decodePath(bad), null, bad);
  }
});

Deno.test("decodePath(encodePath(path)) gives back every well-formed path", () => {
  const random = prng(14);
  for (let i = 0; i < 2000; i++) {
    const path = randomString(random, randomInt(random, 40), true);
    assert.equal(decodePath(encodePath(path)), path, JSON.stringify(path));
  }
  for (const path of ["", "%", "%25", "a b", "..", "a/b/c", "\0", "100%/x y/😀 é"]) {
    assert.equal(decodePath(encodePath(path)), path, JSON.stringify(path));
  }
});

Deno.test("encodePath(decodePath(text)) gives back a canonically encoded path", () => {
  for (const wire of ["a%20b", "%C3%A9", "%25", "x/y.txt", "%F0%9F%98%80"]) {
    assert.equal(encodePath(decodePath(wire)!), wire);
  }
  assert.equal(encodePath(decodePath("%c3%a9")!), "%C3%A9");
  assert.equal(encodePath(decodePath("%41")!), "A");
});

Deno.test("FrameBatch.append with an id writes MSG room from id N <size>, for ids and sizes of every length", () => {
  const head = FrameBatch.head("MSG ops ann");
  for (const id of [0, 1, 9, 10, 99, 100, 12_345, 999_999, 2 ** 31 - 1, 2 ** 31 + 5, 2 ** 45]) {
    for (const size of [0, 1, 10, 1000]) {
      const batch = new FrameBatch();
      const payload = new Uint8Array(size).fill(120);
      batch.append(head, payload, id);
      assert.deepEqual(
        batch.bytes(),
        encodeFrame(`MSG ops ann id ${id}`, payload),
        `${id} ${size}`,
      );
      assert.deepEqual(batch.last(), batch.bytes());
      assert.deepEqual(batch.buffer.subarray(batch.lastStart, batch.length), batch.bytes());
    }
  }
});
