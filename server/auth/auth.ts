/**
 * Authentication: the users file (scrypt password hashes and permissions), the shared-token
 * mode, what a session may do before and after `AUTH`, and the `AUTH` command itself.
 *
 * Secrets never reach a log line: the `AUTH` handler logs the peer address, the outcome, and a
 * user name only when that name is a real user (a password typed into the user field is never
 * logged).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { ErrorCode } from "../../lib/protocol/errors.ts";
import type { Frame } from "../../lib/protocol/frame.ts";
import { type Permission, PERMISSIONS, verbsOf } from "../../lib/protocol/verbs.ts";
import { peerHost } from "./abuse_guard.ts";
import type { Access } from "../core/access.ts";
import type { CommandContext, Handler } from "../core/handler.ts";
import type { Hub } from "../core/hub.ts";
import type { Logger } from "../core/logger.ts";
import type { Member } from "../core/member.ts";
import type { Metrics } from "../core/metrics.ts";
import type { AbuseGuard } from "./abuse_guard.ts";

export type { Permission };
export { PERMISSIONS };

/** The verbs each permission allows (from the verb table). */
export const PERMISSION_VERBS: Readonly<Record<Permission, readonly string[]>> = {
  chat: verbsOf("chat"),
  read: verbsOf("read"),
  write: verbsOf("write"),
};

/** Verbs that work before `AUTH` succeeds. */
export const PRE_AUTH_VERBS: ReadonlySet<string> = new Set(verbsOf("anyone"));

/** Verbs every logged-in user may run, whatever its permissions. */
export const LOGGED_IN_VERBS: ReadonlySet<string> = new Set([
  ...PRE_AUTH_VERBS,
  ...verbsOf("login"),
]);

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
// deno-lint-ignore no-control-regex
const NOT_ONE_WORD = /[\s\x00-\x1f\x7f]/;
/** Longest password accepted, in UTF-8 bytes. */
export const MAX_PASSWORD_BYTES = 1024;

/**
 * Checks a user name: 1-24 of `A-Z a-z 0-9 _ -`, not ending in `-<digits>` (that form is kept for
 * guests, `guest-7`, and for a user's second connection, `alice-2`).
 *
 * @param name The candidate.
 * @returns Why it is refused, or `null` when it is fine.
 * @example
 * ```ts
 * import { userNameProblem } from "./auth.ts";
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
 * Checks a password or token: one word (no spaces or control characters), at most 1024 bytes.
 *
 * @param secret The candidate.
 * @returns Why it is refused, or `null` when it is fine.
 */
export function secretProblem(secret: string): string | null {
  if (secret === "") return "it is empty";
  if (NOT_ONE_WORD.test(secret)) return "it must be one word, without spaces or control characters";
  if (new TextEncoder().encode(secret).length > MAX_PASSWORD_BYTES) {
    return `it is longer than ${MAX_PASSWORD_BYTES} bytes`;
  }
  return null;
}

// ---------------------------------------------------------------------------------------------
// scrypt hashes in PHC string form: $scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<key> (base64, no =)

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

// At most two scrypt runs at once: each takes tens of MiB and a core.
const MAX_RUNNING = 2;
let running = 0;
const waiting: (() => void)[] = [];

async function derive(
  password: string,
  params: Omit<ScryptParams, "key">,
  length: number,
): Promise<Uint8Array> {
  if (running >= MAX_RUNNING) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await new Promise<Uint8Array>((resolve, reject) => {
      const N = 2 ** params.ln;
      scrypt(
        password,
        params.salt,
        length,
        { N, r: params.r, p: params.p, maxmem: 256 * N * params.r + 1024 * 1024 },
        (err, key) => err ? reject(err) : resolve(key),
      );
    });
  } finally {
    running--;
    waiting.shift()?.();
  }
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
 * @example
 * ```ts
 * import { hashPassword, verifyPassword } from "./auth.ts";
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
 */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

// ---------------------------------------------------------------------------------------------
// The users file

/**
 * Parses and checks a users file:
 * `{"users": [{"name": "alice", "password": "$scrypt$...", "permissions": ["chat", "read"]}]}`.
 *
 * @param text The file's text.
 * @returns The users by lower-cased name.
 * @throws {Error} Naming the entry and field at fault, never quoting a hash.
 */
export function parseUsers(text: string): Map<string, User> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    // The engine's message may quote the file (hashes): give only where it broke.
    const at = /position (\d+)/.exec((e as Error).message);
    if (!at) throw new Error("it is not valid JSON");
    const before = text.slice(0, Number(at[1]));
    const line = before.split("\n").length;
    throw new Error(
      `it is not valid JSON (line ${line}, column ${before.length - before.lastIndexOf("\n")})`,
    );
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
    const badHash = parseHash(password);
    if (typeof badHash === "string") throw new Error(`${who}.password: ${badHash}`);
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

/** Synchronous {@linkcode loadUsers}, for server start. */
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

// ---------------------------------------------------------------------------------------------
// Access: what a session may do

const verbCache = new Map<string, ReadonlySet<string>>();

function verbsFor(permissions: ReadonlySet<Permission>, nick: boolean): ReadonlySet<string> {
  const key = PERMISSIONS.filter((p) => permissions.has(p)).join(",") + (nick ? "+nick" : "");
  let verbs = verbCache.get(key);
  if (verbs === undefined) {
    const set = new Set(LOGGED_IN_VERBS);
    for (const p of permissions) for (const v of PERMISSION_VERBS[p]) set.add(v);
    if (!nick) set.delete("NICK");
    verbs = set;
    verbCache.set(key, verbs);
  }
  return verbs;
}

function permissionOf(verb: string): Permission | undefined {
  return PERMISSIONS.find((p) => PERMISSION_VERBS[p].includes(verb));
}

/** Options of {@linkcode Authenticator}. */
export interface AuthenticatorOptions {
  /** The users file; `AUTH user password` works when set. */
  usersFile?: string;
  /** The shared token; `AUTH token` works when set. */
  token?: string;
}

/**
 * The server's accounts: checks `AUTH` and hands out the {@linkcode Access} of sessions.
 *
 * @example
 * ```ts
 * import { Authenticator } from "./auth.ts";
 * const auth = new Authenticator({ token: "s3cret-token" });
 * console.assert(auth.checkToken("s3cret-token") && !auth.checkToken("guess"));
 * console.assert(auth.guest.verbs!.has("AUTH") && !auth.guest.verbs!.has("SAY"));
 * ```
 */
export class Authenticator {
  /** The users file, or `null`. */
  readonly usersFile: string | null;
  readonly #token: string | null;
  #users: Map<string, User>;
  #dummy: string;
  /** Access of a connection that has not logged in yet. */
  readonly guest: Access;
  /** Access after `AUTH token`: everything. */
  readonly tokenAccess: Access = {
    verbs: null,
    pushes: true,
    loggedIn: true,
    deny: () => [ErrorCode.Forbidden, ""],
  };

  /**
   * Loads the users file (synchronously: it runs once, at server start).
   *
   * @param options See {@linkcode AuthenticatorOptions}.
   * @throws {Error} When the users file cannot be loaded, or neither a file nor a token is given.
   */
  constructor(options: AuthenticatorOptions) {
    this.usersFile = options.usersFile || null;
    this.#token = options.token || null;
    if (this.usersFile === null && this.#token === null) {
      throw new Error("Cannot enable authentication: no users file and no token");
    }
    this.#users = this.usersFile === null ? new Map() : loadUsersSync(this.usersFile);
    this.#dummy = dummyHash(this.#users);
    const how = this.methods.map((m) => m === "password" ? "AUTH user password" : "AUTH token")
      .join(" or ");
    this.guest = {
      verbs: PRE_AUTH_VERBS,
      pushes: false,
      loggedIn: false,
      deny: (verb) => [ErrorCode.Unauthorized, `Cannot run ${verb}: log in first with ${how}`],
    };
  }

  /** How clients may log in (`HELLO` `auth_methods`). */
  get methods(): ("password" | "token")[] {
    const m: ("password" | "token")[] = [];
    if (this.usersFile !== null) m.push("password");
    if (this.#token !== null) m.push("token");
    return m;
  }

  /** Number of users loaded. */
  get userCount(): number {
    return this.#users.size;
  }

  /**
   * Looks up a user by name, ignoring case.
   *
   * @param name The user name.
   * @returns The user, or `undefined`.
   */
  user(name: string): User | undefined {
    return this.#users.get(name.toLowerCase());
  }

  /**
   * Checks a user name and password. An unknown user costs the same scrypt run as a known one.
   *
   * @param name The user name given.
   * @param password The password given.
   * @returns The user, or `null` (the same for a wrong name and a wrong password).
   */
  async checkPassword(name: string, password: string): Promise<User | null> {
    const user = this.#users.get(name.toLowerCase());
    const ok = await verifyPassword(password, user?.hash ?? this.#dummy);
    return ok && user !== undefined ? user : null;
  }

  /**
   * Checks a token in constant time.
   *
   * @param token The token given.
   * @returns `true` when it is the server's token.
   */
  checkToken(token: string): boolean {
    return this.#token !== null && secretsEqual(token, this.#token);
  }

  /**
   * What a logged-in user may do.
   *
   * @param user The user.
   * @returns Its access.
   */
  accessOf(user: User): Access {
    const verbs = verbsFor(user.permissions, false);
    const name = user.name;
    return {
      verbs,
      pushes: user.permissions.has("chat"),
      loggedIn: true,
      deny(verb) {
        if (verb === "NICK") {
          return [ErrorCode.Forbidden, `Cannot change nick: it is fixed to the user name ${name}`];
        }
        const p = permissionOf(verb);
        return [
          ErrorCode.Forbidden,
          p
            ? `Cannot run ${verb}: user ${name} lacks the ${p} permission`
            : `Cannot run ${verb}: not allowed for user ${name}`,
        ];
      },
    };
  }

  /**
   * Reloads the users file. On any error the users in force stay.
   *
   * @returns The number of users now loaded.
   * @throws {Error} `Cannot load users file PATH: reason`.
   */
  async reload(): Promise<number> {
    if (this.usersFile === null) {
      throw new Error("Cannot reload users: the server has no users file");
    }
    const users = await loadUsers(this.usersFile);
    this.#users = users;
    this.#dummy = dummyHash(users);
    return users.size;
  }
}

/** A hash no password matches, with the cost of the first user's, so unknown users take as long. */
function dummyHash(users: Map<string, User>): string {
  const first = users.values().next().value;
  const params = first ? parseHash(first.hash) : null;
  const { ln, r, p } = params && typeof params !== "string" ? params : DEFAULT_SCRYPT;
  return `$scrypt$ln=${ln},r=${r},p=${p}$${b64(randomBytes(SALT_BYTES))}$${
    b64(randomBytes(KEY_BYTES))
  }`;
}

// ---------------------------------------------------------------------------------------------
// The AUTH command

/** What the `AUTH` command needs. */
export interface AuthCommandOptions {
  /** The accounts or token. */
  auth: Authenticator;
  /** Per-address failed-login limits. */
  guard: AbuseGuard;
  /** The hub (the nick becomes the user name). */
  hub: Hub;
  /** Where logins are logged. */
  log: Logger;
  /** Failed logins on one connection before `BYE too many failed logins`. */
  maxAuthFailures: number;
  /** How long an address is refused, ms (for the log line). */
  authBan: number;
  /** Where failed logins are counted. */
  metrics?: Pick<Metrics, "authFailures">;
}

/**
 * Makes the `AUTH` handler of a server with accounts or a token.
 *
 * It replies `OK <nick>` on success (the user name with accounts, `name-2` for a second
 * connection of the same user); `ERR 401` for a wrong user name, password or token (one answer
 * for all); `ERR 429` while the peer's address is refused; and after `max_auth_failures` failures
 * on one connection, `BYE too many failed logins`.
 *
 * @param options See {@linkcode AuthCommandOptions}.
 * @returns The handler.
 */
export function createAuthHandler(options: AuthCommandOptions): Handler {
  const { auth, guard, hub, log, maxAuthFailures, authBan } = options;
  const metrics = options.metrics ?? { authFailures: 0 };
  const failures = new WeakMap<Member, number>();

  return async function authCommand(s: CommandContext, f: Frame): Promise<void> {
    if (s.access?.loggedIn) {
      return s.replyError(ErrorCode.BadRequest, "Cannot log in: already logged in");
    }
    const methods = auth.methods;
    const usage = methods.map((m) => m === "password" ? "AUTH user password" : "AUTH token").join(
      " or ",
    );
    const byPassword = f.args.length === 2 && methods.includes("password");
    const byToken = f.args.length === 1 && methods.includes("token");
    if (!byPassword && !byToken) return s.replyError(ErrorCode.BadRequest, `Usage: ${usage}`);
    const host = peerHost(s.peer);
    const banned = guard.bannedFor(host, Date.now());
    if (banned > 0) return s.replyError(ErrorCode.TooMany, guard.banMessage(banned));

    const name = f.args[0]!;
    const user = byPassword ? await auth.checkPassword(name, f.args[1]!) : null;
    const ok = byPassword ? user !== null : auth.checkToken(name);
    if (s.ending) return;
    if (!ok) {
      metrics.authFailures++;
      const n = (failures.get(s.member) ?? 0) + 1;
      failures.set(s.member, n);
      const nowBanned = guard.authFailed(host, Date.now());
      // Only a name that is a real user is logged: anything else may be a password typed in the
      // wrong field.
      const known = byPassword && auth.user(name) !== undefined ? auth.user(name)!.name : undefined;
      log.warn("auth failed", {
        peer: s.peer,
        method: byPassword ? "password" : "token",
        user: known,
        failures: n,
      });
      if (nowBanned) {
        log.warn("address refused", {
          peer: s.peer,
          reason: "too many failed logins",
          for_s: Math.round(authBan / 1000),
        });
      }
      s.replyError(
        ErrorCode.Unauthorized,
        byPassword ? "Cannot log in: wrong user name or password" : "Cannot log in: wrong token",
      );
      if (n >= maxAuthFailures) s.end("too many failed logins");
      return;
    }
    failures.delete(s.member);
    if (user === null) {
      s.logIn(null, auth.tokenAccess);
      log.info("auth", { peer: s.peer, method: "token", nick: s.nick });
      return s.replyLine(`OK ${s.nick}`);
    }
    // The nick is the user name; a second connection of the same user is name-2, and so on.
    let nick = user.name;
    for (let i = 2; !(await hub.rename(s.member, nick)); i++) {
      if (i > 10_000) {
        return s.replyError(
          ErrorCode.Conflict,
          `Cannot log in as ${user.name}: too many connections`,
        );
      }
      nick = `${user.name}-${i}`;
    }
    s.logIn(user.name, auth.accessOf(user));
    log.info("auth", { peer: s.peer, method: "password", user: user.name, nick });
    s.replyLine(`OK ${nick}`);
  };
}
