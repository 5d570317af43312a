/**
 * The three wire protocols the load clients speak, raw: Switchboard (protocols 1 and 2), the NATS text
 * protocol, and Redis RESP3. Each {@linkcode Wire} builds the bytes of the same few operations
 * (handshake, subscribe, publish, ping, time) and makes a {@linkcode Scanner} that counts what the
 * server sends back without allocating per message, so that one load client can keep up with
 * several million deliveries a second.
 *
 * @module
 */

/** The servers the benchmark compares. */
export type Proto = "switchboard" | "nats" | "redis";

/** Every protocol, in the order runs are interleaved. */
export const PROTOS: readonly Proto[] = ["switchboard", "nats", "redis"];

/** Called for each delivered message; the payload is `buf[start, start + length)`, a view. */
export type OnMessage = (buf: Uint8Array, start: number, length: number) => void;

/** Counts what a server sends on one connection. */
export interface Scanner {
  /** Messages delivered (pushes carrying a published payload). */
  msgs: number;
  /** Replies to commands (`OK`, `PONG`, `TIME`, `+OK`, `:n`, errors included). */
  replies: number;
  /** `PONG` replies (the handshake and latency runs wait for these). */
  pongs: number;
  /** Pings the server sent that the client must answer. */
  pings: number;
  /** The last error or goodbye the server sent, or `""`. */
  error: string;
  /**
   * The id of the message being delivered, while {@linkcode onMessage} runs: Switchboard protocol
   * 2 (`MSG room from id <id> N`); -1 for a push without one (protocol 1, the other servers).
   */
  msgId: number;
  /** Called for each delivered message, or `null` to only count. */
  onMessage: OnMessage | null;
  /**
   * Scans whole frames in `buf[start, end)`.
   *
   * @returns Where the first incomplete frame starts (`end` when everything was consumed).
   */
  scan(buf: Uint8Array, start: number, end: number): number;
}

/** The bytes of each operation, in one protocol. */
export interface Wire {
  /** Which server this speaks to. */
  readonly proto: Proto;
  /**
   * Bytes sent right after connecting.
   *
   * @param echo Whether a client receives its own messages (NATS `echo`; others ignore it).
   */
  hello(echo: boolean): Uint8Array;
  /** Subscribes to a subject / channel / room. */
  subscribe(subject: string): Uint8Array;
  /** What a publisher must send before publishing (Switchboard: `JOIN`, others: nothing). */
  prepublish(subject: string): Uint8Array;
  /** Publishes one message. */
  publish(subject: string, payload: Uint8Array): Uint8Array;
  /** A ping that gets a `PONG` reply. */
  ping(): Uint8Array;
  /** Asks the server's time, or `null` when the protocol has no such command. */
  time(): Uint8Array | null;
  /** The answer to a server ping. */
  pong(): Uint8Array;
  /** A fresh scanner for one connection. */
  scanner(): Scanner;
}

const text = new TextEncoder();
const LF = 10;
const CR = 13;

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Repeats `bytes` `count` times in one array. */
export function repeat(bytes: Uint8Array, count: number): Uint8Array {
  const out = new Uint8Array(bytes.length * count);
  for (let i = 0; i < count; i++) out.set(bytes, i * bytes.length);
  return out;
}

/** Parses the decimal number that ends just before `end` (after optional CR trimming). */
function numberBefore(buf: Uint8Array, end: number): number {
  let size = 0;
  let mul = 1;
  for (let i = end - 1; i >= 0; i--) {
    const c = buf[i]!;
    if (c < 48 || c > 57) break;
    size += (c - 48) * mul;
    mul *= 10;
  }
  return size;
}

/** Parses the decimal integer (maybe negative) in `buf[start, end)`. */
function numberIn(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  let sign = 1;
  if (buf[i] === 45) {
    sign = -1;
    i++;
  }
  let n = 0;
  for (; i < end; i++) n = n * 10 + (buf[i]! - 48);
  return sign * n;
}

function lineText(buf: Uint8Array, start: number, lf: number): string {
  const end = lf > start && buf[lf - 1] === CR ? lf - 1 : lf;
  return new TextDecoder().decode(buf.subarray(start, Math.min(end, start + 200)));
}

function startsWith(buf: Uint8Array, at: number, word: Uint8Array): boolean {
  for (let i = 0; i < word.length; i++) if (buf[at + i] !== word[i]) return false;
  return true;
}

const W_MSG = text.encode("MSG ");
const W_PONG = text.encode("PONG");
const W_PING = text.encode("PING");
const W_ERR = text.encode("ERR ");
const W_BYE = text.encode("BYE ");
const W_OK = text.encode("OK");
const W_TIME = text.encode("TIME ");
const W_INFO = text.encode("INFO ");
const W_JOINED = text.encode("JOINED ");
const W_LEFT = text.encode("LEFT ");
const W_RENAMED = text.encode("RENAMED ");
const W_HELLO = text.encode("HELLO ");
const W_PLUS_OK = text.encode("+OK");
const W_MINUS_ERR = text.encode("-ERR");
/** Switchboard pushes and replies that carry a sized payload, besides `MSG`. */
const SB_SIZED = ["DM ", "WHO ", "ROOMS ", "LIST ", "HELP "].map((w) => text.encode(w));

/** The size at the end of the header line that ends at `lf` (before its CR). */
function headerSize(buf: Uint8Array, lf: number): number {
  return numberBefore(buf, buf[lf - 1] === CR ? lf - 1 : lf);
}

/** The counters every scanner keeps, and the step that counts one delivered message. */
abstract class Counts implements Scanner {
  msgs = 0;
  replies = 0;
  pongs = 0;
  pings = 0;
  error = "";
  msgId = -1;
  onMessage: OnMessage | null = null;

  abstract scan(buf: Uint8Array, start: number, end: number): number;

  /**
   * Counts the message of `size` bytes that follows the header line ending at `lf`.
   *
   * @returns Where it ends, or -1 when it is not complete before `end`.
   */
  protected message(buf: Uint8Array, lf: number, size: number, end: number): number {
    const next = lf + 1 + size + 2; // the server always ends payloads with CRLF
    if (next > end) return -1;
    this.msgs++;
    if (this.onMessage !== null) this.onMessage(buf, lf + 1, size);
    return next;
  }
}

/** Scans a text protocol: lines, where `MSG ... <size>` is followed by its payload. */
abstract class LineScanner extends Counts {
  scan(buf: Uint8Array, start: number, end: number): number {
    let pos = start;
    while (pos < end) {
      const lf = buf.indexOf(LF, pos);
      if (lf < 0 || lf >= end) break;
      const next = startsWith(buf, pos, W_MSG)
        ? this.message(buf, lf, this.msgHeader(buf, pos, lf), end)
        : this.line(buf, pos, lf, end);
      if (next < 0) break;
      pos = next;
    }
    return pos;
  }

  /** Reads the `MSG` header line `buf[pos, lf]`; returns the size of its payload (its last word). */
  protected msgHeader(buf: Uint8Array, _pos: number, lf: number): number {
    return headerSize(buf, lf);
  }

  /**
   * Counts any other line, `buf[pos, lf]`.
   *
   * @returns Where the next frame starts, or -1 when this one is not complete before `end`.
   */
  protected abstract line(buf: Uint8Array, pos: number, lf: number, end: number): number;
}

/**
 * Scans Switchboard server frames, of protocol 1 and 2: `MSG room from N` and
 * `MSG room from id <id> N`; `OK <recipients>` and `OK <recipients> <id>` (both just replies).
 */
class SwitchboardScanner extends LineScanner {
  /** Six words (`MSG room from id <id> N`; a nick has no space) carry the id before the size. */
  protected override msgHeader(buf: Uint8Array, pos: number, lf: number): number {
    const stop = buf[lf - 1] === CR ? lf - 1 : lf;
    let spaces = 0;
    let lastSpace = stop;
    for (let i = pos; i < stop; i++) {
      if (buf[i] === 32) {
        spaces++;
        lastSpace = i;
      }
    }
    this.msgId = spaces === 5 ? numberBefore(buf, lastSpace) : -1;
    return numberBefore(buf, stop);
  }

  protected line(buf: Uint8Array, pos: number, lf: number, end: number): number {
    let sized = false;
    for (const w of SB_SIZED) if (startsWith(buf, pos, w)) sized = true;
    if (sized) {
      const next = lf + 1 + headerSize(buf, lf) + 2;
      if (next > end) return -1;
      if (!startsWith(buf, pos, SB_SIZED[0]!)) this.replies++; // DM is a push
      return next;
    }
    if (startsWith(buf, pos, W_PONG)) {
      this.pongs++;
      this.replies++;
    } else if (startsWith(buf, pos, W_OK) || startsWith(buf, pos, W_TIME)) {
      this.replies++;
    } else if (startsWith(buf, pos, W_ERR)) {
      this.replies++;
      this.error = lineText(buf, pos, lf);
    } else if (startsWith(buf, pos, W_BYE)) {
      this.error = lineText(buf, pos, lf);
    } else if (startsWith(buf, pos, W_PING)) {
      this.pings++;
    } else if (
      !startsWith(buf, pos, W_HELLO) && !startsWith(buf, pos, W_JOINED) &&
      !startsWith(buf, pos, W_LEFT) && !startsWith(buf, pos, W_RENAMED)
    ) {
      this.error = `unexpected: ${lineText(buf, pos, lf)}`;
    }
    return lf + 1;
  }
}

/** Scans NATS server operations. */
class NatsScanner extends LineScanner {
  protected line(buf: Uint8Array, pos: number, lf: number): number {
    if (startsWith(buf, pos, W_PONG)) {
      this.pongs++;
      this.replies++;
    } else if (startsWith(buf, pos, W_PING)) {
      this.pings++;
    } else if (startsWith(buf, pos, W_PLUS_OK)) {
      this.replies++;
    } else if (startsWith(buf, pos, W_MINUS_ERR)) {
      this.replies++;
      this.error = lineText(buf, pos, lf);
    } else if (!startsWith(buf, pos, W_INFO)) {
      this.error = `unexpected: ${lineText(buf, pos, lf)}`;
    }
    return lf + 1;
  }
}

const W_MESSAGE = text.encode("$7\r\nmessage\r\n");
const W_PLUS_PONG = text.encode("+PONG\r\n");

/**
 * Skips one RESP value at `pos`.
 *
 * @returns The position after it, or -1 when it is not complete in `buf[pos, end)`.
 */
function skipResp(buf: Uint8Array, pos: number, end: number): number {
  if (pos >= end) return -1;
  const lf = buf.indexOf(LF, pos);
  if (lf < 0 || lf >= end) return -1;
  const type = buf[pos];
  switch (type) {
    case 36: // $ bulk string
    case 61: // = verbatim string
    case 33: { // ! bulk error
      const n = numberIn(buf, pos + 1, lf - 1);
      if (n < 0) return lf + 1;
      const next = lf + 1 + n + 2;
      return next > end ? -1 : next;
    }
    case 42: // * array
    case 62: // > push
    case 126: // ~ set
    case 37: // % map
    case 124: { // | attribute
      let n = numberIn(buf, pos + 1, lf - 1);
      if (type === 37 || type === 124) n *= 2;
      let at = lf + 1;
      for (let i = 0; i < n; i++) {
        at = skipResp(buf, at, end);
        if (at < 0) return -1;
      }
      // An attribute is followed by the value it describes.
      return type === 124 ? skipResp(buf, at, end) : at;
    }
    default: // + - : _ , # ( simple lines
      return lf + 1;
  }
}

/** Scans Redis RESP3 replies and pushes. */
class RedisScanner extends Counts {
  scan(buf: Uint8Array, start: number, end: number): number {
    let pos = start;
    while (pos < end) {
      const type = buf[pos];
      // Fast path: `>3\r\n$7\r\nmessage\r\n$<n>\r\n<channel>\r\n$<n>\r\n<payload>\r\n`.
      if (
        (type === 62 || type === 42) && buf[pos + 1] === 51 && buf[pos + 2] === CR &&
        startsWith(buf, pos + 4, W_MESSAGE)
      ) {
        const channel = pos + 4 + W_MESSAGE.length;
        const afterChannel = skipResp(buf, channel, end);
        if (afterChannel < 0) break;
        const lf = buf.indexOf(LF, afterChannel);
        if (lf < 0 || lf >= end) break;
        const next = this.message(buf, lf, numberIn(buf, afterChannel + 1, lf - 1), end);
        if (next < 0) break;
        pos = next;
        continue;
      }
      const next = skipResp(buf, pos, end);
      if (next < 0) break;
      if (type === 62) {
        // Another push (subscribe confirmation): not a reply.
      } else if (startsWith(buf, pos, W_PLUS_PONG)) {
        this.pongs++;
        this.replies++;
      } else if (type === 45 || type === 33) {
        this.replies++;
        this.error = lineText(buf, pos, buf.indexOf(LF, pos));
      } else {
        this.replies++;
      }
      pos = next;
    }
    return pos;
  }
}

function line(s: string): Uint8Array {
  return text.encode(s + "\r\n");
}

/** Switchboard: what the load clients send is the same in protocols 1 and 2. */
export const SWITCHBOARD: Wire = {
  proto: "switchboard",
  hello: () => new Uint8Array(0), // the server speaks first (HELLO); the client sends nothing
  subscribe: (subject) => line(`JOIN ${subject}`),
  prepublish: (subject) => line(`JOIN ${subject}`),
  publish: (subject, payload) =>
    concat(line(`SAY ${subject} ${payload.length}`), payload, line("")),
  ping: () => line("PING"),
  time: () => line("TIME"),
  pong: () => line("PONG"),
  scanner: () => new SwitchboardScanner(),
};

/** The NATS text protocol. */
export const NATS: Wire = {
  proto: "nats",
  hello: (echo) =>
    line(
      `CONNECT ${
        JSON.stringify({
          verbose: false,
          pedantic: false,
          echo,
          lang: "deno-bench",
          version: "1",
          protocol: 0,
        })
      }`,
    ),
  subscribe: (subject) => line(`SUB ${subject} 1`),
  prepublish: () => new Uint8Array(0),
  publish: (subject, payload) =>
    concat(line(`PUB ${subject} ${payload.length}`), payload, line("")),
  ping: () => line("PING"),
  time: () => null,
  pong: () => line("PONG"),
  scanner: () => new NatsScanner(),
};

function resp(...args: (string | Uint8Array)[]): Uint8Array {
  const parts: Uint8Array[] = [line(`*${args.length}`)];
  for (const a of args) {
    const bytes = typeof a === "string" ? text.encode(a) : a;
    parts.push(line(`$${bytes.length}`), bytes, line(""));
  }
  return concat(...parts);
}

/** Redis RESP3 (`HELLO 3`, so that one connection may publish while subscribed). */
export const REDIS: Wire = {
  proto: "redis",
  hello: () => resp("HELLO", "3"),
  subscribe: (subject) => resp("SUBSCRIBE", subject),
  prepublish: () => new Uint8Array(0),
  publish: (subject, payload) => resp("PUBLISH", subject, payload),
  ping: () => resp("PING"),
  time: () => resp("TIME"),
  pong: () => resp("PING"), // Redis does not ping clients; never used
  scanner: () => new RedisScanner(),
};

/** The wire of each server. */
export const WIRES: Readonly<Record<Proto, Wire>> = {
  switchboard: SWITCHBOARD,
  nats: NATS,
  redis: REDIS,
};

/** Lines of text as bytes, for tests: `"a", "b"` gives `a\r\nb\r\n`. */
export function lines(...texts: string[]): Uint8Array {
  return text.encode(texts.map((t) => t + "\r\n").join(""));
}
