/**
 * The users file: accounts with an scrypt password hash and permissions, checked entry by entry
 * with errors that name the entry and field at fault and never quote a hash.
 *
 * @module
 */

import { type Permission, PERMISSIONS } from "../../lib/protocol/verbs.ts";
import { jsonSyntaxError } from "./json_errors.ts";
import { hashProblem } from "./passwords.ts";

export type { Permission };
export { PERMISSIONS };

/** One account of the users file. */
export interface User {
  /** The user name, as written in the file (the nick it gets). */
  readonly name: string;
  /** The password hash (`$scrypt$ln=15,r=8,p=1$salt$key`). */
  readonly hash: string;
  /** What it may do. */
  readonly permissions: ReadonlySet<Permission>;
}

const USER_NAME = /^[A-Za-z0-9_-]{1,24}$/;

/**
 * Checks a user name: 1-24 of `A-Z a-z 0-9 _ -`, not ending in `-<digits>` (that form is kept for
 * guests, `guest-7`, and for a user's second connection, `alice-2`).
 *
 * @param name The candidate.
 * @returns Why it is refused, or `null` when it is fine.
 * @example
 * ```ts
 * import { userNameProblem } from "./users.ts";
 * console.assert(userNameProblem("alice") === null);
 * console.assert(userNameProblem("alice-2") !== null);
 * ```
 */
export function userNameProblem(name: string): string | null {
  if (!USER_NAME.test(name)) return "user names are 1-24 of A-Z a-z 0-9 _ -";
  if (/-[0-9]+$/.test(name)) {
    return "a user name must not end in -<digits> (kept for guests and second connections)";
  }
  return null;
}

/**
 * Parses and checks a users file:
 * `{"users": [{"name": "alice", "password": "$scrypt$...", "permissions": ["chat", "read"]}]}`.
 *
 * @param text The file's text.
 * @returns The users by lower-cased name.
 * @throws {Error} Naming the entry and field at fault, never quoting a hash.
 * @example
 * ```ts
 * import { parseUsers } from "./users.ts";
 * const users = parseUsers('{"users": []}');
 * console.assert(users.size === 0);
 * ```
 */
export function parseUsers(text: string): Map<string, User> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // The engine's message may quote the file (hashes) and lacks a position for some faults
    // (a trailing comma): give only where it broke and why, from our own scan.
    const at = jsonSyntaxError(text);
    if (!at) throw new Error("it is not valid JSON");
    throw new Error(`it is not valid JSON (line ${at.line}, column ${at.column}): ${at.reason}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new Error('it must be an object {"users": [...]}');
  }
  for (const k of Object.keys(data)) {
    if (k !== "users") throw new Error(`unknown field "${k.slice(0, 40)}" (only "users")`);
  }
  const list = (data as { users?: unknown }).users;
  if (!Array.isArray(list)) throw new Error('"users" must be an array');
  const users = new Map<string, User>();
  list.forEach((entry: unknown, i: number) => {
    const at = `users[${i}]`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new Error(`${at} must be an object`);
    }
    for (const k of Object.keys(entry)) {
      if (k !== "name" && k !== "password" && k !== "permissions") {
        throw new Error(`${at}: unknown field "${k.slice(0, 40)}" (name, password, permissions)`);
      }
    }
    const { name, password, permissions } = entry as Record<string, unknown>;
    if (typeof name !== "string") throw new Error(`${at}.name must be a string`);
    const bad = userNameProblem(name);
    if (bad) throw new Error(`${at}.name "${name.slice(0, 40)}": ${bad}`);
    const who = `${at} (${name})`;
    if (users.has(name.toLowerCase())) {
      throw new Error(`${who}: the name is there twice (names ignore case)`);
    }
    if (typeof password !== "string") throw new Error(`${who}.password must be a string`);
    const badHash = hashProblem(password);
    if (badHash !== null) throw new Error(`${who}.password: ${badHash}`);
    if (!Array.isArray(permissions)) {
      throw new Error(`${who}.permissions must be an array of chat, read, write`);
    }
    const perms = new Set<Permission>();
    for (const p of permissions) {
      if (!PERMISSIONS.includes(p)) {
        throw new Error(
          `${who}.permissions: ${JSON.stringify(p).slice(0, 40)} is not chat, read or write`,
        );
      }
      perms.add(p);
    }
    users.set(name.toLowerCase(), { name, hash: password, permissions: perms });
  });
  return users;
}

/**
 * Reads and checks a users file.
 *
 * @param path The file.
 * @returns The users by lower-cased name.
 * @throws {Error} `Cannot load users file PATH: reason`.
 */
export async function loadUsers(path: string): Promise<Map<string, User>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`Cannot load users file ${path}: ${(e as Error).message}`);
  }
  return parseUsersOf(path, text);
}

/**
 * Synchronous {@linkcode loadUsers}, for server start.
 *
 * @param path The file.
 * @returns The users by lower-cased name.
 * @throws {Error} `Cannot load users file PATH: reason`.
 */
export function loadUsersSync(path: string): Map<string, User> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new Error(`Cannot load users file ${path}: ${(e as Error).message}`);
  }
  return parseUsersOf(path, text);
}

function parseUsersOf(path: string, text: string): Map<string, User> {
  try {
    return parseUsers(text);
  } catch (e) {
    throw new Error(`Cannot load users file ${path}: ${(e as Error).message}`);
  }
}
