/**
 * Byte-level helpers of the decoder: words, digits and verbs read straight from bytes, without
 * building strings where it can be helped. Private to lib/protocol/.
 *
 * @module
 */

import { VERBS } from "./verbs.ts";

const SPACE = 32;
const COLON = 58;
const strictText = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const looseText = new TextDecoder("utf-8", { ignoreBOM: true });

export function findInline(line: Uint8Array, from: number, end: number): number {
  for (let i = from; i + 1 < end; i++) {
    if (line[i] === SPACE && line[i + 1] === COLON) return i;
  }
  return -1;
}

/** Longest word decoded without `TextDecoder` (a loop is faster for short ones). */
const ASCII_FAST = 32;

// The last word decoded: room names repeat from one message to the next.
const lastWord = new Uint8Array(ASCII_FAST);
let lastLength = -1;
let lastText = "";

/** `line[start, end)` as a string when it is short and all ASCII, else `null` (use TextDecoder). */
export function asciiText(line: Uint8Array, start: number, end: number): string | null {
  const n = end - start;
  if (n > ASCII_FAST) return null;
  if (n === lastLength) {
    let k = 0;
    while (k < n && line[start + k] === lastWord[k]) k++;
    if (k === n) return lastText;
  }
  let text = "";
  for (let i = start; i < end; i++) {
    const c = line[i]!;
    if (c > 0x7f) return null;
    text += String.fromCharCode(c);
  }
  for (let k = 0; k < n; k++) lastWord[k] = line[start + k]!;
  lastLength = n;
  lastText = text;
  return text;
}

/** The space-separated words of `line[start, end)` when each is short ASCII, else `null`. */
export function asciiArgs(line: Uint8Array, start: number, end: number): string[] | null {
  const out: string[] = [];
  let i = start;
  while (i < end) {
    if (line[i] === SPACE) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < end && line[j] !== SPACE) j++;
    const word = asciiText(line, i, j);
    if (word === null) return null;
    out.push(word);
    i = j;
  }
  return out;
}

/** The value of the decimal digits `line[start, end)` (at most 15 of them). */
export function digitsValue(line: Uint8Array, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) n = n * 10 + (line[i]! - 48);
  return n;
}

/** Every verb of the protocol (both directions), by {@linkcode verbKey}. */
const VERB_KEYS = new Map<number, string>();
for (const { verb } of VERBS) {
  VERB_KEYS.set(verbKey(new TextEncoder().encode(verb), 0, verb.length), verb);
}

/** A number naming a word of 1-6 ASCII letters, case-insensitively; -1 for anything else. */
export function verbKey(line: Uint8Array, start: number, end: number): number {
  if (end - start > 6) return -1;
  let key = 0;
  for (let i = start; i < end; i++) {
    let c = line[i]!;
    if (c >= 97 && c <= 122) c -= 32;
    else if (c < 65 || c > 90) return -1;
    key = key * 32 + (c - 64);
  }
  return key;
}

/** A known verb, upper-cased, without building a string; `null` when it is not one. */
export function knownVerb(line: Uint8Array, start: number, end: number): string | null {
  const key = verbKey(line, start, end);
  return key < 0 ? null : VERB_KEYS.get(key) ?? null;
}

export function isDigits(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

export function decodeText(bytes: Uint8Array): { text: string; bad: boolean } {
  try {
    return { text: strictText.decode(bytes), bad: false };
  } catch {
    return { text: looseText.decode(bytes), bad: true };
  }
}

export function splitArgs(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(" ")) if (part !== "") out.push(part);
  return out;
}
