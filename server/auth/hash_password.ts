/**
 * `switchboard-server hash-password`: reads a password without echo (or one line from a pipe)
 * and prints the users-file entry to paste in, or adds it to the users file itself (`--add`).
 *
 * @module
 */

import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { DEFAULT_SCRYPT, hashPassword, secretProblem } from "./passwords.ts";
import { parseUsers, type Permission, PERMISSIONS, type User, userNameProblem } from "./users.ts";

const USAGE = `switchboard-server hash-password: hash a password for the users file (--users)

Usage:
  switchboard-server hash-password --user NAME --add FILE [--permissions LIST] [--cost LN]
  switchboard-server hash-password [--user NAME] [--permissions LIST] [--cost LN]

Reads the password from the terminal without echo (twice; asked again when it is refused), or
one line from standard input when it is not a terminal. With --add, writes the user into FILE
(created when missing, the user replaced when already there). Without it, prints the entry to
put into the file's "users" array (separate entries with commas), or only the hash without --user.

Options:
  --user NAME          the user name (1-24 of A-Z a-z 0-9 _ -, not ending in -<digits>)
  --add FILE           add the user to this users file (a running server loads it on SIGHUP)
  --permissions LIST   comma-separated among chat, read, write (default: chat,read)
  --cost LN            scrypt cost, log2 of N (default: ${DEFAULT_SCRYPT.ln}; each step doubles time and memory)

Examples:
  switchboard-server hash-password --user alice --permissions chat,read,write --add users.json
  echo "$PASSWORD" | switchboard-server hash-password --user bob --add users.json

Passwords are one word: at least 8 characters, no spaces or control characters.`;

/** Shortest password accepted. */
export const MIN_PASSWORD_CHARS = 8;

const MAX_INPUT = 4096;

/** Times a terminal user is asked again after a refused or mismatched password. */
const TERMINAL_TRIES = 3;

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
  // Echo goes off before the prompt shows: nothing typed after it is echoed.
  stdin.setRaw(true);
  try {
    Deno.stderr.writeSync(enc.encode(prompt));
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
 * The users-file entry of one user, on one line, with nothing after it (no comma).
 *
 * @param name The user name.
 * @param hash The password hash.
 * @param permissions The permissions, in order.
 * @returns `{ "name": ..., "password": ..., "permissions": [...] }`.
 * @example
 * ```ts
 * import { usersEntry } from "./hash_password.ts";
 * const line = usersEntry("alice", "$scrypt$...", ["chat"]);
 * console.assert(JSON.parse(line).permissions[0] === "chat" && line.endsWith("}"));
 * ```
 */
export function usersEntry(name: string, hash: string, permissions: Iterable<string>): string {
  const list = [...permissions].map((p) => JSON.stringify(p)).join(", ");
  return `{ "name": ${JSON.stringify(name)}, "password": ${
    JSON.stringify(hash)
  }, "permissions": [${list}] }`;
}

/** A whole users file, one entry per line. */
function usersFileText(users: Iterable<User>): string {
  const lines = [...users].map((u) => `    ${usersEntry(u.name, u.hash, u.permissions)}`);
  return lines.length === 0
    ? '{\n  "users": []\n}\n'
    : `{\n  "users": [\n${lines.join(",\n")}\n  ]\n}\n`;
}

/** Why a password is refused, or `null`. */
function passwordProblem(password: string): string | null {
  const bad = secretProblem(password);
  if (bad) return bad;
  if ([...password].length < MIN_PASSWORD_CHARS) {
    return `it is shorter than ${MIN_PASSWORD_CHARS} characters`;
  }
  return null;
}

/**
 * Reads the password: once from a pipe; on a terminal twice, asking again (up to 3 times) when it
 * is refused or the two entries differ.
 */
async function readPassword(report: (text: string) => void): Promise<string | null> {
  const fail = (text: string) => {
    report(text);
    return null;
  };
  if (!Deno.stdin.isTerminal()) {
    const password = await readSecret("Password: ");
    if (password === null) return fail("Cannot hash password: no password given");
    const bad = passwordProblem(password);
    if (bad) return fail(`Cannot use this password: ${bad}`);
    return password;
  }
  for (let attempt = 1;; attempt++) {
    const last = attempt === TERMINAL_TRIES;
    const retry = (text: string) => {
      if (last) report(text);
      else console.error(`${text}; try again`);
    };
    const password = await readSecret("Password: ");
    if (password === null) return fail("Cannot hash password: no password given");
    const bad = passwordProblem(password);
    if (bad) retry(`Cannot use this password: ${bad}`);
    else {
      const again = await readSecret("Again: ");
      if (again === null) return fail("Cannot hash password: no password given");
      if (again === password) return password;
      retry("Cannot hash password: the two entries differ");
    }
    if (last) return null;
  }
}

/**
 * Adds or replaces one user in a users file, written to a temporary file and renamed into place
 * (a server reloading it sees the old file or the new one). A new file is readable by its owner
 * only; an existing one keeps its mode.
 *
 * @returns Whether the user was there before.
 * @throws {Error} `Cannot add USER to FILE: reason`, the file untouched.
 */
async function addToUsersFile(path: string, user: User): Promise<boolean> {
  const cannot = (why: string) => new Error(`Cannot add ${user.name} to ${path}: ${why}`);
  let users = new Map<string, User>();
  let mode = 0o600;
  let text: string | null = null;
  try {
    text = await Deno.readTextFile(path);
    mode = (await Deno.stat(path)).mode ?? mode;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw cannot((e as Error).message);
  }
  if (text !== null && text.trim() !== "") {
    try {
      users = parseUsers(text);
    } catch (e) {
      throw cannot(`${(e as Error).message}; fix the file first`);
    }
  }
  const key = user.name.toLowerCase();
  const existed = users.has(key);
  users.set(key, user); // A Map keeps the old entry's place.
  const temp = `${path}.sb-${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeTextFile(temp, usersFileText(users.values()), { mode: mode & 0o777 });
    if (Deno.build.os !== "windows") await Deno.chmod(temp, mode & 0o777);
    await Deno.rename(temp, path);
  } catch (e) {
    await Deno.remove(temp).catch(() => {});
    throw cannot((e as Error).message);
  }
  return existed;
}

/**
 * Runs `hash-password`.
 *
 * @param args Arguments after `hash-password`.
 * @returns The exit code: 0 printed or added, 1 refused or aborted, 2 wrong usage.
 */
export async function runHashPassword(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        user: { type: "string" },
        add: { type: "string" },
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
  if (values.add !== undefined && values.user === undefined) {
    return fail("Cannot add to a users file without a name: give --user NAME with --add FILE");
  }
  if (values.add === "") return fail("Cannot add to a users file: --add needs a file name");
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

  const password = await readPassword((text) => fail(text, 1));
  if (password === null) return 1;
  const hash = await hashPassword(password, { ln });
  if (values.user === undefined) {
    console.log(hash);
    return 0;
  }
  if (values.add === undefined) {
    console.log(usersEntry(values.user, hash, permissions));
    return 0;
  }
  const user: User = {
    name: values.user,
    hash,
    permissions: new Set(permissions as Permission[]),
  };
  let existed;
  try {
    existed = await addToUsersFile(values.add, user);
  } catch (e) {
    return fail((e as Error).message, 1);
  }
  console.error(
    `${existed ? "Replaced" : "Added"} ${values.user} (${
      permissions.join(",") || "no permissions"
    }) in ${values.add}; a running server loads it on SIGHUP (kill -HUP <pid>)`,
  );
  return 0;
}
