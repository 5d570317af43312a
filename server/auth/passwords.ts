/**
 * Passwords and secrets: scrypt hashes in PHC string form, verified in constant time, with at most
 * two scrypt runs at once; constant-time comparison of tokens; and the rules a password or token
 * must follow.
 *
 * Hashes look like `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<key>` (base64, no `=`).
 *
 * @module
 */

import { Slots } from "../../lib/slots.ts";
import { Buffer } from "node:buffer";
import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";

// deno-lint-ignore no-control-regex
const NOT_ONE_WORD = /[\s\x00-\x1f\x7f]/;
/** Longest password accepted, in UTF-8 bytes. */
export const MAX_PASSWORD_BYTES = 1024;

/**
 * Checks a password or token: one word (no spaces or control characters), at most 1024 bytes.
 *
 * @param secret The candidate.
 * @returns Why it is refused, or `null` when it is fine.
 * @example
 * ```ts
 * import { secretProblem } from "./passwords.ts";
 * console.assert(secretProblem("p@ss:w0rd!") === null);
 * console.assert(secretProblem("two words") !== null);
 * ```
 */
export function secretProblem(secret: string): string | null {
  if (secret === "") return "it is empty";
  if (NOT_ONE_WORD.test(secret)) return "it must be one word, without spaces or control characters";
  if (new TextEncoder().encode(secret).length > MAX_PASSWORD_BYTES) {
    return `it is longer than ${MAX_PASSWORD_BYTES} bytes`;
  }
  return null;
}

/** Cost of new hashes: N = 2^15, r = 8, p = 1 (32 MiB, about 0.2 s on one core). */
export const DEFAULT_SCRYPT = { ln: 15, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
const SALT_BYTES = 16;
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;

interface ScryptParams {
  ln: number;
  r: number;
  p: number;
  salt: Uint8Array;
  key: Uint8Array;
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("base64").replace(/=+$/, "");
}

function parseHash(hash: string): ScryptParams | string {
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/
    .exec(hash);
  if (!m) {
    return 'it is not a hash from "switchboard-server hash-password" ($scrypt$ln=..,r=..,p=..$salt$key)';
  }
  const [ln, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (ln < 1 || ln > 22 || r < 1 || p < 1 || p > 16) {
    return "its scrypt parameters are out of range";
  }
  if (128 * r * 2 ** ln > MAX_SCRYPT_MEMORY) return "its scrypt parameters need more than 256 MiB";
  const salt = Buffer.from(m[4]!, "base64");
  const key = Buffer.from(m[5]!, "base64");
  if (salt.length < 8) return "its salt is shorter than 8 bytes";
  if (key.length < 16 || key.length > 64) return "its key is not 16-64 bytes";
  return { ln, r, p, salt, key };
}

/**
 * Checks that a stored hash is one {@linkcode verifyPassword} can use.
 *
 * @param hash The candidate, as a users file holds it.
 * @returns Why it is refused (never quoting the hash), or `null` when it is fine.
 * @example
 * ```ts
 * import { hashProblem } from "./passwords.ts";
 * console.assert(hashProblem("$scrypt$garbage") !== null);
 * ```
 */
export function hashProblem(hash: string): string | null {
  const params = parseHash(hash);
  return typeof params === "string" ? params : null;
}

/**
 * A hash no password matches, with the cost of `like` (or {@linkcode DEFAULT_SCRYPT}), so that
 * checking a password against it takes as long as against `like`.
 *
 * @param like A real hash whose cost to copy, if any.
 * @returns The hash.
 * @example
 * ```ts
 * import { dummyHash } from "./passwords.ts";
 * console.assert(dummyHash().startsWith("$scrypt$ln=15,r=8,p=1$"));
 * ```
 */
export function dummyHash(like?: string): string {
  const params = like === undefined ? null : parseHash(like);
  const { ln, r, p } = params && typeof params !== "string" ? params : DEFAULT_SCRYPT;
  return `$scrypt$ln=${ln},r=${r},p=${p}$${b64(randomBytes(SALT_BYTES))}$${
    b64(randomBytes(KEY_BYTES))
  }`;
}

/** Most scrypt runs at once in the process: each takes tens of MiB and a core. */
export const MAX_SCRYPT_RUNS = 2;
const scrypts = new Slots(MAX_SCRYPT_RUNS);

async function derive(
  password: string,
  params: Omit<ScryptParams, "key">,
  length: number,
): Promise<Uint8Array> {
  return await scrypts.run(() =>
    new Promise<Uint8Array>((resolve, reject) => {
      const N = 2 ** params.ln;
      scrypt(
        password,
        params.salt,
        length,
        { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + 1024 * 1024 },
        (err, key) => err ? reject(err) : resolve(key),
      );
    })
  );
}

/** Options of {@linkcode hashPassword}. */
export interface HashOptions {
  /**
   * log2 of scrypt's N (cost); tests use small values to run fast.
   * @default {15}
   */
  ln?: number;
}

/**
 * Hashes a password with scrypt and a fresh random salt.
 *
 * @param password The password.
 * @param options See {@linkcode HashOptions}.
 * @returns The hash, as the users file holds it.
 * @throws {RangeError} When `ln` is not 1-20.
 * @example
 * ```ts
 * import { hashPassword, verifyPassword } from "./passwords.ts";
 * const hash = await hashPassword("correct-horse", { ln: 10 });
 * console.assert(hash.startsWith("$scrypt$ln=10,r=8,p=1$"));
 * console.assert(await verifyPassword("correct-horse", hash));
 * ```
 */
export async function hashPassword(password: string, options: HashOptions = {}): Promise<string> {
  const ln = options.ln ?? DEFAULT_SCRYPT.ln;
  const { r, p } = DEFAULT_SCRYPT;
  if (!Number.isInteger(ln) || ln < 1 || ln > 20) {
    throw new RangeError(`Cannot hash password: ln must be 1-20, got ${ln}`);
  }
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, { ln, r, p, salt }, KEY_BYTES);
  return `$scrypt$ln=${ln},r=${r},p=${p}$${b64(salt)}$${b64(key)}`;
}

/**
 * Checks a password against a hash, comparing in constant time.
 *
 * @param password The password given.
 * @param hash The stored hash.
 * @returns `true` when they match; `false` too when the hash is malformed.
 */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const params = parseHash(hash);
  if (typeof params === "string") return false;
  const key = await derive(password, params, params.key.length);
  return timingSafeEqual(key, params.key);
}

/**
 * Compares two secrets in constant time, whatever their lengths (both are hashed first).
 *
 * @param given What the client sent.
 * @param expected The configured secret.
 * @returns `true` when equal.
 * @example
 * ```ts
 * import { secretsEqual } from "./passwords.ts";
 * console.assert(secretsEqual("abc", "abc") && !secretsEqual("abc", "abcd"));
 * ```
 */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}
