/**
 * `switchboard-server hash-password`: reads a password without echo (or one line from a pipe)
 * and prints the users-file entry to paste in.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { DEFAULT_SCRYPT, hashPassword, secretProblem } from "./passwords.ts";
import { type Permission, PERMISSIONS, userNameProblem } from "./users.ts";

const USAGE = `switchboard-server hash-password: hash a password for the users file (--users)

Usage:
  switchboard-server hash-password [--user NAME] [--permissions LIST] [--cost LN]

Reads the password from the terminal without echo (twice), or one line from standard input
when it is not a terminal. Prints the users-file entry to paste into the "users" array, or only
the hash without --user.

Options:
  --user NAME          the user name (1-24 of A-Z a-z 0-9 _ -, not ending in -<digits>)
  --permissions LIST   comma-separated among chat, read, write (default: chat,read)
  --cost LN            scrypt cost, log2 of N (default: ${DEFAULT_SCRYPT.ln}; each step doubles time and memory)

Passwords are one word: at least 8 characters, no spaces or control characters.`;

/** Shortest password accepted. */
export const MIN_PASSWORD_CHARS = 8;

const MAX_INPUT = 4096;

/**
 * Reads one line from standard input: without echo on a terminal, else from the pipe.
 *
 * @param prompt Shown on standard error (terminal only).
 * @returns The line, or `null` when the user gave up (Ctrl-C, Ctrl-D, end of input).
 */
export async function readSecret(prompt: string): Promise<string | null> {
  const stdin = Deno.stdin;
  const bytes: number[] = [];
  const buf = new Uint8Array(256);
  if (!stdin.isTerminal()) {
    for (;;) {
      const n = await stdin.read(buf);
      if (n === null) break;
      const nl = buf.subarray(0, n).indexOf(10);
      bytes.push(...buf.subarray(0, nl < 0 ? n : nl));
      if (nl >= 0 || bytes.length > MAX_INPUT) break;
    }
    if (bytes.length === 0) return null;
    if (bytes[bytes.length - 1] === 13) bytes.pop();
    return new TextDecoder().decode(new Uint8Array(bytes));
  }
  const enc = new TextEncoder();
  Deno.stderr.writeSync(enc.encode(prompt));
  stdin.setRaw(true);
  try {
    for (;;) {
      const n = await stdin.read(buf);
      if (n === null) return null;
      for (const b of buf.subarray(0, n)) {
        if (b === 13 || b === 10) return new TextDecoder().decode(new Uint8Array(bytes));
        if (b === 3 || (b === 4 && bytes.length === 0)) return null;
        if (b === 127 || b === 8) {
          // Drop one whole UTF-8 character.
          while (bytes.length > 0 && (bytes[bytes.length - 1]! & 0xc0) === 0x80) bytes.pop();
          bytes.pop();
        } else if (b >= 32 || b === 9) {
          if (bytes.length < MAX_INPUT) bytes.push(b);
        }
      }
    }
  } finally {
    stdin.setRaw(false);
    Deno.stderr.writeSync(enc.encode("\n"));
  }
}

/**
 * Runs `hash-password`.
 *
 * @param args Arguments after `hash-password`.
 * @returns The exit code: 0 printed, 1 refused or aborted, 2 wrong usage.
 */
export async function runHashPassword(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        user: { type: "string" },
        permissions: { type: "string", default: "chat,read" },
        cost: { type: "string", default: String(DEFAULT_SCRYPT.ln) },
        help: { type: "boolean" },
      },
      strict: true,
    }).values;
  } catch (e) {
    console.error(
      `switchboard-server hash-password: ${(e as Error).message.replace(/\. To specify.*$/s, "")}`,
    );
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const fail = (text: string, code = 2) => {
    console.error(`switchboard-server hash-password: ${text}`);
    return code;
  };
  if (values.user !== undefined) {
    const bad = userNameProblem(values.user);
    if (bad) return fail(`Cannot use user name "${values.user}": ${bad}`);
  }
  const permissions = values.permissions.split(",").map((p) => p.trim()).filter((p) => p !== "");
  for (const p of permissions) {
    if (!PERMISSIONS.includes(p as Permission)) {
      return fail(`Cannot use permission "${p}": it is not chat, read or write`);
    }
  }
  const ln = Number(values.cost);
  if (!Number.isInteger(ln) || ln < 10 || ln > 20) {
    return fail(`Cannot use --cost ${values.cost}: it must be 10-20`);
  }

  const password = await readSecret("Password: ");
  if (password === null) return fail("Cannot hash password: no password given", 1);
  const bad = secretProblem(password);
  if (bad) return fail(`Cannot use this password: ${bad}`, 1);
  if ([...password].length < MIN_PASSWORD_CHARS) {
    return fail(`Cannot use this password: it is shorter than ${MIN_PASSWORD_CHARS} characters`, 1);
  }
  if (Deno.stdin.isTerminal()) {
    const again = await readSecret("Again: ");
    if (again !== password) return fail("Cannot hash password: the two entries differ", 1);
  }
  const hash = await hashPassword(password, { ln });
  if (values.user === undefined) console.log(hash);
  else {
    const list = permissions.map((p) => JSON.stringify(p)).join(", ");
    console.log(
      `{ "name": ${JSON.stringify(values.user)}, "password": ${
        JSON.stringify(hash)
      }, "permissions": [${list}] },`,
    );
  }
  return 0;
}
